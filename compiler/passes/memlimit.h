/* memlimit.h: the memory a generated model will need to train, from the plan
 * (codegen.h), and the compiler's refusal of a plan over a limit.
 *
 * At the model's training batch B (train { batch }), the bytes are:
 *   arena     memplan's activation arena: arena_per_image * B + arena_fixed floats
 *   scratch   the largest conv column band or attention matrix: an upper-bound
 *             estimate of what the generated create() sizes at run time
 *   slabs     params + grads (n_param_floats each) + buffers (n_buffer_floats)
 *   optimizer Adam/AdamW moments 2 x params, SGD momentum 1 x params (an upper
 *             bound: the optimizers' ranges partition the params slab)
 * Not counted: the data loader's few batches of images, the driver's own small
 * buffers, and the C library's overhead.
 *
 *     cg_memory mem;
 *     cg_memory_plan(&mem, &g);          // after cg_build
 *     if (pass_memlimit(&g, limit)) ...  // error reported through g->d
 */
#ifndef VQC_PASSES_MEMLIMIT_H
#define VQC_PASSES_MEMLIMIT_H

#include <stdint.h>
#include <stdio.h>

#include "../codegen.h"

typedef struct cg_memory {
    int64_t batch;                 /* B: the training batch the plan is sized for */
    double arena, naive;           /* bytes: planned arena, and every value in its own buffer */
    double scratch;                /* bytes, estimate */
    double slabs;                  /* bytes: params + grads + buffers */
    double optim;                  /* bytes: optimizer state */
    const char *optim_kind;        /* the kind that sized it ("adam"), or NULL */
    double total;                  /* arena + scratch + slabs + optim */
} cg_memory;

void cg_memory_plan(cg_memory *out, const cg *g);

/* 0 when the plan fits limit bytes (0: no limit); else reports an error at
 * the training batch's setting, with the planned bytes, the limit and how to
 * lower the batch, and returns 1. */
int pass_memlimit(const cg *g, uint64_t limit);

/* The lines `vqc --summary` prints about memory at the training batch. */
void cg_memory_print(FILE *out, const cg_memory *mem);

/* "512M", "16G", "1.5G", "4096", "2GiB" (K, M, G, T are powers of 1024; a
 * trailing B or iB is allowed; case does not matter) into *bytes. 0 on
 * success, -1 when s is not such a size or overflows. */
int cg_parse_size(const char *s, uint64_t *bytes);
/* The machine's physical memory (sysconf), or 0 when unknown. */
uint64_t cg_physical_memory(void);

#endif
