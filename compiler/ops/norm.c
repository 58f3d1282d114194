/* ops/norm.c: emitters of group_norm (alone or fused with a following swish)
 * and batch_norm, forward and backward side by side (runtime/kernels/norm.h).
 * Saved for backward: group_norm mean, rstd (B, G); batch_norm mean, invstd (C)
 * of the batch; both backwards also read the input x.
 * Legend: B batch, C channels, G groups.
 */
#include <string.h>

#include "../emit_ops.h"

static int reads_input(const cg *g, const unit *u, int *vals)
{
    vals[0] = g->tval[cg_node(g, u->node)->in[0]];
    return 1;
}

/* ---- group_norm (+ swish) ---- */

static void gn_plan(cg *g, unit *u)
{
    const ir_node *n = cg_node(g, u->node);
    int64_t G = cg_attr_int(n, "groups");
    const char *p = n->path ? n->path : "group_norm";
    u->saved[u->n_saved++] = cg_new_val(g, PV_SAVED, G, 0, -1, "%s.mean (B, %lld)", p, (long long)G);
    u->saved[u->n_saved++] = cg_new_val(g, PV_SAVED, G, 0, -1, "%s.rstd (B, %lld)", p, (long long)G);
}

static void gn_decl(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *x = &e->g->m->tensors[n->in[0]].shape;
    cw_line(e->decl, "static const vq_group_norm_shape %s = {.B = 0, .C = %lld, .H = %lld, .W = %lld, .G = %lld, "
                     ".eps = (float)%.9g, .affine = %d};",
            sym, (long long)x->d[1], (long long)x->d[2], (long long)x->d[3], (long long)cg_attr_int(n, "groups"),
            cg_attr_float(n, "eps"), (int)cg_attr_int(n, "affine"));
    cw_begin(e->setup);
    cw_line(e->setup, "vq_group_norm_shape s = %s;", sym);
    cw_line(e->setup, "s.B = max_b;");
    cw_line(e->setup, "if (vq_group_norm_check(&s)) return vq_fail_context(VQ_ERR_ARG, \"%s\");",
            n->path ? n->path : "group_norm");
    if (e->g->gval[n->in[0]] < 0)   /* backward writes an unused dx into the scratch */
        cw_line(e->setup, "if ((size_t)max_b * %lld > *scratch) *scratch = (size_t)max_b * %lld;",
                (long long)cg_tensor_per_image(e->g, n->in[0]), (long long)cg_tensor_per_image(e->g, n->in[0]));
    cw_close(e->setup, "");
}

static void gn_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    cw_line(e->w, "vq_group_norm_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    cw_line(e->w, "vq_group_norm%s_forward(%s, %s, %s, %s, %s, %s, &s);", u->how == FU_GN_SWISH ? "_swish" : "",
            e_act(e, u->how == FU_GN_SWISH ? u->out : n->out[0]), e_val(e, u->saved[0]), e_val(e, u->saved[1]),
            e_act(e, n->in[0]), e_param(e, e_node_param(e->g, n, "weight")), e_param(e, e_node_param(e->g, n, "bias")));
}

static void gn_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    int w = e_node_param(e->g, n, "weight"), b = e_node_param(e->g, n, "bias");
    const char *dx = e_grad(e, n->in[0]);
    cw_line(e->w, "vq_group_norm_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    if (e->g->gval[n->in[0]] < 0) {
        /* the kernel always produces dx; the input needs none, so it goes to the scratch */
        dx = "S";
    }
    if (u->how == FU_GN_SWISH)
        cw_line(e->w, "vq_group_norm_swish_backward(%s, %s, %s, %s, %s, %s, %s, %s, %s, &s);", dx, e_dparam(e, w),
                e_dparam(e, b), e_grad(e, u->out), e_act(e, n->in[0]), e_val(e, u->saved[0]), e_val(e, u->saved[1]),
                e_param(e, w), e_param(e, b));
    else
        cw_line(e->w, "vq_group_norm_backward(%s, %s, %s, %s, %s, %s, %s, %s, &s);", dx, e_dparam(e, w),
                e_dparam(e, b), e_grad(e, u->out), e_act(e, n->in[0]), e_val(e, u->saved[0]), e_val(e, u->saved[1]),
                e_param(e, w));
}

const cg_op_emit cg_emit_group_norm = {gn_plan, reads_input, gn_decl, gn_fwd, gn_bwd, 0};

/* ---- batch_norm: training uses the batch statistics and updates the running ones ---- */

static void bn_plan(cg *g, unit *u)
{
    const ir_node *n = cg_node(g, u->node);
    int64_t C = g->m->tensors[n->in[0]].shape.d[1];
    const char *p = n->path ? n->path : "batch_norm";
    u->saved[u->n_saved++] = cg_new_val(g, PV_SAVED, 0, C, -1, "%s.mean (%lld)", p, (long long)C);
    u->saved[u->n_saved++] = cg_new_val(g, PV_SAVED, 0, C, -1, "%s.invstd (%lld)", p, (long long)C);
}

static void bn_decl(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *x = &e->g->m->tensors[n->in[0]].shape;
    cw_line(e->decl, "static const vq_batch_norm_shape %s = {.B = 0, .C = %lld, .H = %lld, .W = %lld, "
                     ".eps = (float)%.9g, .momentum = (float)%.9g, .affine = %d};",
            sym, (long long)x->d[1], (long long)x->d[2], (long long)x->d[3], cg_attr_float(n, "eps"),
            cg_attr_float(n, "momentum"), (int)cg_attr_int(n, "affine"));
    cw_begin(e->setup);
    cw_line(e->setup, "vq_batch_norm_shape s = %s;", sym);
    cw_line(e->setup, "s.B = max_b;");
    cw_line(e->setup, "if (vq_batch_norm_check(&s)) return vq_fail_context(VQ_ERR_ARG, \"%s\");",
            n->path ? n->path : "batch_norm");
    if (e->g->gval[n->in[0]] < 0)   /* backward writes an unused dx into the scratch */
        cw_line(e->setup, "if ((size_t)max_b * %lld > *scratch) *scratch = (size_t)max_b * %lld;",
                (long long)cg_tensor_per_image(e->g, n->in[0]), (long long)cg_tensor_per_image(e->g, n->in[0]));
    cw_close(e->setup, "");
}

static void bn_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    int w = e_node_param(e->g, n, "weight"), b = e_node_param(e->g, n, "bias");
    int rm = e_node_param(e->g, n, "running_mean"), rv = e_node_param(e->g, n, "running_var");
    int nbt = e_node_param(e->g, n, "num_batches_tracked");
    cw_line(e->w, "vq_batch_norm_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    cw_open(e->w, "if (mode == VQ_MODE_TRAIN)");
    cw_line(e->w, "vq_batch_norm_forward_train(%s, %s, %s, %s, %s, NULL, %s, %s, %s, &s);", e_act(e, n->out[0]),
            e_val(e, u->saved[0]), e_val(e, u->saved[1]), e_param(e, rm), e_param(e, rv), e_act(e, n->in[0]),
            e_param(e, w), e_param(e, b));
    /* num_batches_tracked (int64 in PyTorch) is kept as a float in the buffers slab */
    if (nbt >= 0) cw_line(e->w, "%s[0] += 1.0f;", e_param(e, nbt));
    cw_close(e->w, " else {");
    e->w->depth++;
    cw_line(e->w, "vq_batch_norm_forward_eval(%s, %s, %s, %s, %s, %s, &s);", e_act(e, n->out[0]), e_act(e, n->in[0]),
            e_param(e, rm), e_param(e, rv), e_param(e, w), e_param(e, b));
    cw_close(e->w, "");
}

static void bn_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    int w = e_node_param(e->g, n, "weight"), b = e_node_param(e->g, n, "bias");
    cw_line(e->w, "vq_batch_norm_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    cw_line(e->w, "vq_batch_norm_backward(%s, %s, %s, %s, %s, %s, %s, %s, &s);",
            e->g->gval[n->in[0]] >= 0 ? e_grad(e, n->in[0]) : "S", e_dparam(e, w), e_dparam(e, b), e_grad(e, u->out),
            e_act(e, n->in[0]), e_val(e, u->saved[0]), e_val(e, u->saved[1]), e_param(e, w));
}

const cg_op_emit cg_emit_batch_norm = {bn_plan, reads_input, bn_decl, bn_fwd, bn_bwd, 0};
