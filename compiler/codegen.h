/* codegen.h: the training plan that the passes build and the C emitter reads,
 * and the entry points of code generation (vqc -o DIR, vqc --dump=plan).
 *
 * Pipeline (one file each, in this order):
 *   passes/fuse.c     groups IR nodes into units: group_norm+swish, an
 *                     activation and/or residual add folded into the op that
 *                     produces its input (an in-place epilogue), chains of
 *                     elementwise ops (one loop, backward recomputes), and
 *                     identities (dropout p=0, reshape) that alias their input
 *   autodiff.c        which tensors need gradients, their buffers (aliased
 *                     through fusions and identities), the loss steps and the
 *                     backward schedule (units in reverse)
 *   passes/keep.c     the forward values each backward step reads: only these
 *                     live past the forward pass
 *   passes/recompute.c large group_norm(+swish) outputs are rebuilt in backward
 *                     instead of kept (g->recompute_min)
 *   passes/memplan.c  liveness over the whole schedule, offsets in one arena
 *   emit_<part>.c           writes <model>.h, <model>.c, main.c, Makefile; the per-op
 *                     emitters live in ops/<family>.c (forward and backward together)
 *
 * Values ("pv"): every buffer of the activation arena: activations, their
 * gradients, tensors saved for backward (group_norm statistics, dropout masks,
 * attention probabilities) and quantizer indices. A value is either per image
 * (per_image floats; B of them for a batch of B) or fixed-size.
 * Legend: B batch (run time, <= max_b fixed at create), MB = max_b.
 */
#ifndef VQC_CODEGEN_H
#define VQC_CODEGEN_H

#include <stdio.h>

#include "cwriter.h"
#include "diag.h"
#include "ir.h"

typedef enum pv_kind { PV_ACT, PV_GRAD, PV_SAVED, PV_INDEX } pv_kind;

typedef struct pv {
    char name[96];             /* "%12 encoder.conv_in", "d%12", "encoder.norm1.mean" */
    pv_kind kind;
    int64_t per_image;         /* floats (or int32s) per image; 0 for a fixed-size value */
    int64_t fixed;             /* floats when per_image == 0 */
    int tensor;                /* IR tensor (PV_ACT, PV_GRAD, PV_INDEX), else -1 */
    int first, last;           /* steps of the schedule that touch it (liveness) */
    int pinned;                /* read after the schedule (recon, indices, EMA input): lives to the end */
    int64_t offset;            /* memplan: per-image floats (x MB at run time), or floats into the fixed part */
    int segment;               /* 0: autoencoder; 1: discriminator (its own region: it runs between the
                                * autoencoder's forward and backward, whose kept values must survive) */
    int recomputed;            /* a forward value's copy that backward rebuilds (passes/recompute.c) */
} pv;

typedef enum unit_fusion { FU_NONE, FU_GN_SWISH, FU_CHAIN, FU_IDENTITY } unit_fusion;

#define UNIT_MAX_FUSED 16
#define STEP_MAX_USES 48
#define CG_MAX_IN 12               /* inputs of a unit: the node's (ops.h OP_MAX_IN) + a residual */

/* One emitted unit: an IR node plus the nodes fused into it. */
typedef struct unit {
    int node;                  /* the main IR node */
    unit_fusion how;
    int n_fused;
    int fused[UNIT_MAX_FUSED]; /* absorbed nodes, in forward order (chain members after the first, swish, add, act) */
    int res_tensor;            /* epilogue: residual added in place to the output, or -1 */
    int res_node;              /* the absorbed add node, or -1 */
    int act_node;              /* epilogue: activation applied in place after the residual, or -1 */
    int out;                   /* the unit's final output tensor (a fused op's result) */
    int out2;                  /* second output (quantize indices), or -1 */
    int saved[4];              /* op-specific saved values (mean, rstd, mask, probs), -1 */
    int n_saved;
    int has_bwd;               /* backward runs: some input or parameter needs a gradient */
    int absorbed;              /* 1 for IR nodes that are part of another unit (index by node) */
} unit;

/* ST_DISC_LOSS: the discriminator's loss on its logits (reads them, writes their gradient);
 * the discriminator's ST_FWD / ST_BWD steps follow the autoencoder's, from disc_step0 on.
 * ST_RECOMPUTE: a unit's forward run again in backward, into g->rval of its output. */
typedef enum step_kind { ST_FWD, ST_LOSS_FWD, ST_LOSS_BWD, ST_BWD, ST_DISC_LOSS, ST_RECOMPUTE } step_kind;

typedef struct step {
    step_kind kind;
    int unit;                  /* ST_FWD, ST_BWD */
    int n_use;
    int use[STEP_MAX_USES];    /* values read or written (liveness) */
} step;

typedef struct cg {
    const ir_model *m;
    diag_sink *d;
    const char *model_file;    /* basename of the .vq, for block comments */

    /* the graphs that train: encoder then decoder nodes, then the discriminator's */
    int n_units;
    unit *units;               /* one per IR node; absorbed ones have absorbed = 1 */
    int *tval;                 /* (n_tensors) value of each tensor, or -1 (fused away / not computed) */
    int *gval;                 /* (n_tensors) value of its gradient, or -1 */
    int *rval;                 /* (n_tensors) value backward reads instead of tval (recomputed), or -1 */
    int *needs_grad;           /* (n_tensors) */
    int *n_consumers;          /* (n_tensors) */

    int n_vals, cap_vals;
    pv *vals;
    int n_steps, cap_steps;
    step *steps;

    int x_val;                 /* the image input */
    int n_terms;               /* loss terms after "total": "rec", "q_loss"[.name] per codebook */
    char term_names[16][64];
    int recon_t;               /* decoder output tensor */

    /* the adversarial part (taming's VQLPIPSWithDiscriminator), when the model has a discriminator */
    int has_disc;
    int disc_in_t, disc_out_t; /* the discriminator's input image and logits tensors */
    int disc_in_val;           /* its input value (x or x_hat is copied in) */
    int disc_step0;            /* first step of the discriminator's part of the schedule */
    int adapt_node;            /* the conv2d producing x_hat whose weight is adaptive_weight_layer, or -1 */
    int adapt_param;           /* that weight's param id, or -1 */
    int n_fused_gn_swish, n_fused_epilogue, n_fused_chain, n_identity; /* for --dump=plan */

    int64_t *param_off;        /* (n_params) floats into the params slab (trainable) or the buffers slab */
    int64_t n_param_floats, n_buffer_floats;

    int64_t recompute_min;     /* recompute pass: group_norm outputs of >= this many floats per image
                                * are rebuilt in backward; < 0: never (vqc --recompute) */
    int n_recomputed;
    int64_t arena_per_image;   /* memplan result: floats per image of the arena */
    int64_t arena_fixed;       /* floats of fixed-size values */
    int64_t naive_per_image, naive_fixed;  /* every value in its own buffer */
} cg;

/* Builds the plan: fuse, autodiff, keep, recompute, memplan. 0 on success; errors
 * (an op the generator does not handle yet) are reported through d.
 * recompute_min: see cg.recompute_min (CG_RECOMPUTE_AUTO: vqc's default). */
#define CG_RECOMPUTE_AUTO ((int64_t)1 << 21)   /* 2 Mi floats (8 MiB) per image */
int cg_build(cg *g, const ir_model *m, diag_sink *d, int64_t recompute_min);
void cg_free(cg *g);

/* vqc --dump=plan: units, fusions, kept values, the arena layout and
 * planned bytes against the naive sum, at the model's training batch. */
void cg_dump_plan(FILE *out, const cg *g);

typedef struct codegen_opts {
    const char *out_dir;
    const char *command_line;  /* as typed, for the provenance comment */
    const char *source_path;   /* the .vq as given */
    const char *vqc_path;      /* argv[0] resolved; the runtime is found next to it */
    unsigned long long max_memory; /* bytes the plan may need to train (passes/memlimit.h); 0: no limit */
    long long recompute_min;   /* cg.recompute_min */
} codegen_opts;

/* vqc MODEL.vq -o DIR: writes DIR/<model>.h, <model>.c, main.c, Makefile. */
int cg_generate(const ir_model *m, const codegen_opts *o, diag_sink *d);

/* --- helpers shared by passes and emitters ------------------------------- */
int cg_new_val(cg *g, pv_kind kind, int64_t per_image, int64_t fixed, int tensor, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
int64_t cg_tensor_per_image(const cg *g, int t);     /* numel without B */
const ir_node *cg_node(const cg *g, int node);
int64_t cg_attr_int(const ir_node *n, const char *name);
double cg_attr_float(const ir_node *n, const char *name);
const char *cg_attr_str(const ir_node *n, const char *name);
int cg_is_elementwise(ir_op op);
/* Parameter p is named by optimizer section os's `params` (a name prefix ending at a dot). */
int cg_param_in_optimizer(const ir_model *m, const ir_section *os, int p);                     /* unary, shape-preserving, no state */

#endif
