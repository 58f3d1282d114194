/* emit_ops.h: the code generator's side of the op table: for every ir_op (the
 * ids of ops.def), what its forward saves, what its backward reads, and the
 * emitters of its forward and backward C. One file per op family under
 * compiler/ops/ keeps an op's forward and backward emitters side by side.
 *
 * A NULL fwd means the generator does not handle the op yet; cg_build reports
 * it at the op's .vq location.
 */
#ifndef VQC_EMIT_OPS_H
#define VQC_EMIT_OPS_H

#include "codegen.h"

/* What an emitter writes into: the body of forward()/backward(), the file-scope
 * declarations (shape structs), and the create-time checks + scratch sizing. */
typedef struct emit_ctx {
    cg *g;
    cwriter *w;                /* function body being written */
    cwriter *decl;             /* file scope */
    cwriter *setup;            /* inside plan_scratch(max_b, &scratch): checks, scratch = max(...) */
    char ring[32][160];        /* expression strings (e_* helpers) */
    int ring_i;
    int no_param_grads;        /* 1 while emitting a backward that only propagates to the input
                                * (the generator's pass through the discriminator): no dW, no dbias */
    int in_backward;           /* 1 while emitting the backward schedule: e_act gives the recomputed
                                * copy of a tensor where there is one (g->rval) */
    int dx_first;              /* 1 while emitting a backward whose in[0] gradient is written here for
                                * the first time and was not zeroed: the emitter must overwrite it
                                * (only for ops with overwrite_dx set) */
} emit_ctx;

typedef struct cg_op_emit {
    /* Declares the values forward saves for backward (u->saved), may be NULL. */
    void (*plan)(cg *g, unit *u);
    /* Forward values the backward of u reads besides its saved ones; returns the count. */
    int (*bwd_reads)(const cg *g, const unit *u, int *vals);
    /* File-scope declarations and create-time checks; may be NULL. sym: a unique C name for this unit. */
    void (*decl)(emit_ctx *e, const unit *u, const char *sym);
    void (*fwd)(emit_ctx *e, const unit *u, const char *sym);
    void (*bwd)(emit_ctx *e, const unit *u, const char *sym);
    /* 1: bwd can write in[0]'s gradient instead of adding to it (honours e->dx_first), so the
     * gradient's first writer skips the memset and the read of zeros. */
    int overwrite_dx;
} cg_op_emit;

const cg_op_emit *cg_emitter(ir_op op);  /* never NULL; fwd NULL: not handled */

/* Families (compiler/ops/<family>.c). */
extern const cg_op_emit cg_emit_conv2d, cg_emit_conv_transpose2d;
extern const cg_op_emit cg_emit_group_norm, cg_emit_batch_norm;
extern const cg_op_emit cg_emit_elementwise, cg_emit_add, cg_emit_dropout, cg_emit_identity;
extern const cg_op_emit cg_emit_pad, cg_emit_upsample, cg_emit_avg_pool, cg_emit_concat;
extern const cg_op_emit cg_emit_attention, cg_emit_quantize;
extern const cg_op_emit cg_emit_act_norm;
extern const cg_op_emit cg_emit_matmul, cg_emit_softmax, cg_emit_transpose;   /* ops/matrix.c */

/* Expressions for emitters (strings valid for the next 32 calls). */
const char *e_val(emit_ctx *e, int v);           /* float pointer of a value: "(A + (size_t)1024 * MB)" */
const char *e_act(emit_ctx *e, int tensor);      /* the value of a tensor */
const char *e_grad(emit_ctx *e, int tensor);     /* its gradient, or "NULL" */
const char *e_param(emit_ctx *e, int param);     /* "(P + 96)" or "(BU + 8)" */
const char *e_dparam(emit_ctx *e, int param);    /* "(G + 96)", or "NULL" for buffers */
const char *e_numel(emit_ctx *e, int tensor);    /* "((size_t)B * 1024)" */
const char *e_fmt(emit_ctx *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "/ * (B, 32, 16, 16) * /" style shape text of a tensor, without the comment marks */
const char *e_shape(emit_ctx *e, int tensor);
/* The param id of `suffix` ("weight", "bias") among node n's params, or -1. */
int e_node_param(const cg *g, const ir_node *n, const char *suffix);

/* Elementwise scalar math shared by chains and epilogues (ops/elementwise.c):
 * y = f(x) and f'(x, y) for relu, leaky_relu, sigmoid, tanh, swish/silu, scale. */
const char *elem_fwd_expr(emit_ctx *e, const ir_node *n, const char *x);
const char *elem_deriv_expr(emit_ctx *e, const ir_node *n, const char *x, const char *y);
/* The derivative can be computed from y alone (in-place epilogue activation). */
int elem_deriv_from_y(const ir_node *n);

#endif
