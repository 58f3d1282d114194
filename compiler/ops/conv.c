/* ops/conv.c: emitters of conv2d and conv_transpose2d, forward and backward
 * side by side. Both call the runtime kernels (runtime/kernels/conv2d.h,
 * conv_transpose2d.h) with a static shape struct whose B is set per call.
 * Forward saves nothing: backward weight reads the input x again.
 * Legend: B batch, Ci/Co channels, H, W input, Ho, Wo output, k kernel.
 */
#include "../emit_ops.h"
#include "../emit_profile.h"

static int reads_input(const cg *g, const unit *u, int *vals)
{
    vals[0] = g->tval[cg_node(g, u->node)->in[0]];
    return 1;
}

static void scratch_setup(emit_ctx *e, const char *type, const char *fn, const char *sym, const char *path)
{
    cw_begin(e->setup);
    cw_line(e->setup, "%s s = %s;", type, sym);
    cw_line(e->setup, "s.B = max_b;");
    cw_line(e->setup, "if (%s_check(&s)) return vq_fail_context(VQ_ERR_ARG, \"%s\");", fn, path);
    cw_line(e->setup, "if (%s_scratch_floats(&s) > *scratch) *scratch = %s_scratch_floats(&s);", fn, fn);
    cw_close(e->setup, "");
}

/* ---- conv2d: y (B, Co, Ho, Wo) = conv(x (B, Ci, H, W), w (Co, Ci, k, k)) + b ---- */

static void conv2d_decl(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *x = &e->g->m->tensors[n->in[0]].shape, *y = &e->g->m->tensors[n->out[0]].shape;
    const ir_attr *pad = ir_attr_find(n, "padding");
    int64_t k = cg_attr_int(n, "kernel"), st = cg_attr_int(n, "stride");
    cw_line(e->decl, "static const vq_conv2d_shape %s = {.B = 0, .Ci = %lld, .H = %lld, .W = %lld, .Co = %lld, "
                     ".kh = %lld, .kw = %lld, .stride_h = %lld, .stride_w = %lld, .pad_top = %lld, .pad_bottom = %lld, "
                     ".pad_left = %lld, .pad_right = %lld, .Ho = %lld, .Wo = %lld, .bias = %d};",
            sym, (long long)x->d[1], (long long)x->d[2], (long long)x->d[3], (long long)y->d[1], (long long)k,
            (long long)k, (long long)st, (long long)st, (long long)pad->v.ints[0], (long long)pad->v.ints[1],
            (long long)pad->v.ints[2], (long long)pad->v.ints[3], (long long)y->d[2], (long long)y->d[3],
            (int)cg_attr_int(n, "bias"));
    scratch_setup(e, "vq_conv2d_shape", "vq_conv2d", sym, n->path ? n->path : "conv2d");
}

static void conv2d_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    cw_line(e->w, "vq_conv2d_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    cw_line(e->w, "vq_conv2d_forward(%s, %s, %s, %s, &s, S);", e_act(e, n->out[0]), e_act(e, n->in[0]),
            e_param(e, e_node_param(e->g, n, "weight")), e_param(e, e_node_param(e->g, n, "bias")));
}

static void conv2d_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    int w = e_node_param(e->g, n, "weight"), b = e_node_param(e->g, n, "bias");
    cw_line(e->w, "vq_conv2d_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    if (!e->no_param_grads)
        cw_line(e->w, "vq_conv2d_backward_weight(%s, %s, %s, %s, &s, S);", e_dparam(e, w), e_dparam(e, b),
                e_grad(e, n->out[0]), e_act(e, n->in[0]));
    prof_emit_weight_grad(e, u);   /* bench: the backward-weight call has its own row */
    if (e->g->gval[n->in[0]] >= 0)   /* the first writer of dx overwrites it (no memset before) */
        cw_line(e->w, "vq_conv2d_backward_data%s(%s, %s, %s, &s, S);", e->dx_first ? "_set" : "",
                e_grad(e, n->in[0]), e_grad(e, n->out[0]), e_param(e, w));
}

const cg_op_emit cg_emit_conv2d = {NULL, reads_input, conv2d_decl, conv2d_fwd, conv2d_bwd, 1};

/* ---- conv_transpose2d: y (B, Co, Ho, Wo), w (Ci, Co, k, k) (PyTorch's layout) ---- */

static void convt_decl(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *x = &e->g->m->tensors[n->in[0]].shape, *y = &e->g->m->tensors[n->out[0]].shape;
    int64_t k = cg_attr_int(n, "kernel"), st = cg_attr_int(n, "stride"), p = cg_attr_int(n, "padding");
    int64_t op = cg_attr_int(n, "output_padding");
    cw_line(e->decl, "static const vq_conv_transpose2d_shape %s = {.B = 0, .Ci = %lld, .H = %lld, .W = %lld, "
                     ".Co = %lld, .kh = %lld, .kw = %lld, .stride_h = %lld, .stride_w = %lld, .pad_h = %lld, "
                     ".pad_w = %lld, .out_pad_h = %lld, .out_pad_w = %lld, .Ho = %lld, .Wo = %lld, .bias = %d};",
            sym, (long long)x->d[1], (long long)x->d[2], (long long)x->d[3], (long long)y->d[1], (long long)k,
            (long long)k, (long long)st, (long long)st, (long long)p, (long long)p, (long long)op, (long long)op,
            (long long)y->d[2], (long long)y->d[3], (int)cg_attr_int(n, "bias"));
    scratch_setup(e, "vq_conv_transpose2d_shape", "vq_conv_transpose2d", sym, n->path ? n->path : "conv_transpose2d");
}

static void convt_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    cw_line(e->w, "vq_conv_transpose2d_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    cw_line(e->w, "vq_conv_transpose2d_forward(%s, %s, %s, %s, &s, S);", e_act(e, n->out[0]), e_act(e, n->in[0]),
            e_param(e, e_node_param(e->g, n, "weight")), e_param(e, e_node_param(e->g, n, "bias")));
}

static void convt_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    int w = e_node_param(e->g, n, "weight"), b = e_node_param(e->g, n, "bias");
    cw_line(e->w, "vq_conv_transpose2d_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    if (!e->no_param_grads)
        cw_line(e->w, "vq_conv_transpose2d_backward_weight(%s, %s, %s, %s, &s, S);", e_dparam(e, w), e_dparam(e, b),
                e_grad(e, n->out[0]), e_act(e, n->in[0]));
    prof_emit_weight_grad(e, u);
    if (e->g->gval[n->in[0]] >= 0)
        cw_line(e->w, "vq_conv_transpose2d_backward_data(%s, %s, %s, &s, S);", e_grad(e, n->in[0]),
                e_grad(e, n->out[0]), e_param(e, w));
}

const cg_op_emit cg_emit_conv_transpose2d = {NULL, reads_input, convt_decl, convt_fwd, convt_bwd, 0};
