/* fuzz_safetensors.c: the safetensors reader (safetensors.c, json.c) and the
 * checkpoint conventions on top (checkpoint.c), on arbitrary bytes.
 *
 * Beyond "no crash, no leak, no UB", it checks what docs/runtime-checkpoint.md
 * promises about every file vq_st_open_mem accepts:
 *   - the header length fits the input and the tensors' byte ranges tile the
 *     data buffer exactly; each range holds numel * dtype size bytes; ndim <= 8;
 *   - every tensor is found by name, its data (when loadable) is aligned to its
 *     element size and readable to the last byte, and vq_st_read copies it back
 *     unchanged under its own shape;
 *   - vq_st_check_names accepts the file's own names; metadata look-ups return
 *     the stored values; vq_ckpt_info_get either parses or fails with a message;
 * and on rejection: a message naming the input, an empty vq_st_file, and
 * vq_st_close safe to call (twice). Not here: the writer (it takes no outside input). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "fuzz_util.h"
#include "safetensors.h"
#include "vq_common.h"

#define LABEL "fuzz.safetensors"
/* vq_st_read copies at most this many bytes per tensor (a valid file can
 * describe a big tensor only by holding its bytes, so this is rarely hit). */
#define READ_CAP (1u << 20)

static int by_range(const void *a, const void *b)
{
    const vq_st_tensor *x = *(const vq_st_tensor *const *)a, *y = *(const vq_st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static void check_tiling(const vq_st_file *f, uint64_t data_len)
{
    const vq_st_tensor **order = malloc((f->n_tensors + 1) * sizeof *order);
    FUZZ_CHECK(order);
    for (size_t i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, f->n_tensors, sizeof *order, by_range);
    uint64_t at = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        FUZZ_CHECK(order[i]->begin == at);
        FUZZ_CHECK(order[i]->end >= order[i]->begin);
        at = order[i]->end;
    }
    FUZZ_CHECK(at == data_len);
    free(order);
}

static void check_tensor(const vq_st_file *f, const vq_st_tensor *t)
{
    FUZZ_CHECK(t->name && t->name[0]);
    FUZZ_CHECK(vq_st_find(f, t->name) == t);
    FUZZ_CHECK(t->ndim >= 0 && t->ndim <= VQ_ST_MAX_DIMS);
    uint64_t numel = 1;
    for (int d = 0; d < t->ndim; d++) {
        FUZZ_CHECK(t->shape[d] >= 0);
        numel *= (uint64_t)t->shape[d]; /* cannot overflow: the reader checked the byte size */
    }
    FUZZ_CHECK(numel == t->numel);
    size_t es = vq_dtype_size(t->dtype);
    FUZZ_CHECK(es > 0 && t->end - t->begin == numel * es);

    const int64_t *shape = NULL;
    int ndim = -1;
    const void *data = vq_st_get(f, t->name, &shape, &ndim);
    if (t->dtype > VQ_DT_I64) { FUZZ_CHECK(!data); return; } /* validated but not loadable */
    if (numel == 0) return;
    FUZZ_CHECK(data && ndim == t->ndim);
    /* In memory F16/BF16 are F32 and I32/I64 stay: 4 or 8 bytes per element. */
    size_t mem_es = t->dtype == VQ_DT_I64 ? 8 : 4;
    FUZZ_CHECK((uintptr_t)data % mem_es == 0);
    fuzz_touch(data, numel * mem_es);
    if (numel * mem_es > READ_CAP) return;
    vq_dtype want = t->dtype == VQ_DT_I64 ? VQ_DT_I64 : t->dtype == VQ_DT_I32 ? VQ_DT_I32 : VQ_DT_F32;
    void *copy = malloc(numel * mem_es);
    FUZZ_CHECK(copy);
    FUZZ_CHECK(vq_st_read(f, t->name, want, copy, shape, ndim) == 0);
    FUZZ_CHECK(memcmp(copy, data, numel * mem_es) == 0);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vq_st_file f;
    vq_clear_error();
    if (vq_st_open_mem(&f, data, size, LABEL) != 0) {
        FUZZ_CHECK(strstr(vq_last_error(), LABEL) != NULL);
        FUZZ_CHECK(f.n_tensors == 0 && f.tensors == NULL && f.block == NULL && f.label == NULL);
        vq_st_close(&f);
        return 0;
    }
    FUZZ_CHECK(size >= 8);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | data[i];
    FUZZ_CHECK(n <= size - 8);
    check_tiling(&f, size - 8 - n);

    const char **names = malloc((f.n_tensors + 1) * sizeof *names);
    FUZZ_CHECK(names);
    for (size_t i = 0; i < f.n_tensors; i++) {
        check_tensor(&f, &f.tensors[i]);
        names[i] = f.tensors[i].name;
    }
    FUZZ_CHECK(vq_st_check_names(&f, names, f.n_tensors, 0) == 0);
    free(names);
    FUZZ_CHECK(vq_st_find(&f, "") == NULL);

    for (size_t i = 0; i < f.n_meta; i++) {
        const char *v = vq_st_meta_get(&f, f.meta_keys[i]);
        FUZZ_CHECK(v && strcmp(v, f.meta_values[i]) == 0);
    }
    vq_ckpt_info info;
    vq_clear_error();
    if (vq_ckpt_info_get(&f, &info) != 0) FUZZ_CHECK(strcmp(vq_last_error(), "no error") != 0);

    vq_st_close(&f);
    vq_st_close(&f);
    return 0;
}
