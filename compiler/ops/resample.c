/* ops/resample.c: emitters of pad, upsample (nearest), avg_pool and concat,
 * forward and backward side by side (runtime/kernels/resample.h). None saves
 * anything; none reads forward values in backward.
 * Legend: B batch, C channels, H, W input, Ho, Wo output.
 */
#include "../emit_ops.h"

static const ir_shape *in_shape(emit_ctx *e, const ir_node *n, int k) { return &e->g->m->tensors[n->in[k]].shape; }
static const ir_shape *out_shape(emit_ctx *e, const ir_node *n) { return &e->g->m->tensors[n->out[0]].shape; }

/* ---- pad ---- */

static void pad_decl(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *x = in_shape(e, n, 0);
    cw_line(e->decl, "static const vq_pad_shape %s = {.B = 0, .C = %lld, .H = %lld, .W = %lld, .top = %lld, "
                     ".bottom = %lld, .left = %lld, .right = %lld, .value = (float)%.9g};",
            sym, (long long)x->d[1], (long long)x->d[2], (long long)x->d[3], (long long)cg_attr_int(n, "top"),
            (long long)cg_attr_int(n, "bottom"), (long long)cg_attr_int(n, "left"), (long long)cg_attr_int(n, "right"),
            cg_attr_float(n, "value"));
}

static void pad_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    cw_line(e->w, "vq_pad_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    cw_line(e->w, "vq_pad_forward(%s, %s, &s);", e_act(e, n->out[0]), e_act(e, n->in[0]));
}

static void pad_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    if (e->g->gval[n->in[0]] < 0) return;
    cw_line(e->w, "vq_pad_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    cw_line(e->w, "vq_pad_backward(%s, %s, &s);", e_grad(e, n->in[0]), e_grad(e, u->out));
}

const cg_op_emit cg_emit_pad = {NULL, NULL, pad_decl, pad_fwd, pad_bwd, 0};

/* ---- upsample (nearest, integer scale) ---- */

static void up_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *x = in_shape(e, n, 0);
    cw_line(e->w, "vq_upsample_nearest_forward(%s, %s, B, %lld, %lld, %lld, %lld);", e_act(e, n->out[0]),
            e_act(e, n->in[0]), (long long)x->d[1], (long long)x->d[2], (long long)x->d[3],
            (long long)cg_attr_int(n, "scale"));
}

static void up_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    if (e->g->gval[n->in[0]] < 0) return;
    const ir_shape *x = in_shape(e, n, 0);
    cw_line(e->w, "vq_upsample_nearest_backward(%s, %s, B, %lld, %lld, %lld, %lld);", e_grad(e, n->in[0]),
            e_grad(e, u->out), (long long)x->d[1], (long long)x->d[2], (long long)x->d[3],
            (long long)cg_attr_int(n, "scale"));
}

const cg_op_emit cg_emit_upsample = {NULL, NULL, NULL, up_fwd, up_bwd, 0};

/* ---- avg_pool (no padding) ---- */

static const char *pool_args(emit_ctx *e, const ir_node *n)
{
    const ir_shape *x = in_shape(e, n, 0), *y = out_shape(e, n);
    return e_fmt(e, "B, %lld, %lld, %lld, %lld, %lld, %lld, %lld", (long long)x->d[1], (long long)x->d[2],
                 (long long)x->d[3], (long long)cg_attr_int(n, "kernel"), (long long)cg_attr_int(n, "stride"),
                 (long long)y->d[2], (long long)y->d[3]);
}

static void pool_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    cw_line(e->w, "vq_avg_pool_forward(%s, %s, %s);", e_act(e, n->out[0]), e_act(e, n->in[0]), pool_args(e, n));
}

static void pool_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    if (e->g->gval[n->in[0]] < 0) return;
    cw_line(e->w, "vq_avg_pool_backward(%s, %s, %s);", e_grad(e, n->in[0]), e_grad(e, u->out), pool_args(e, n));
}

const cg_op_emit cg_emit_avg_pool = {NULL, NULL, NULL, pool_fwd, pool_bwd, 0};

/* ---- concat along channels; backward is the split ---- */

static void concat_lists(emit_ctx *e, const ir_node *n, int grad)
{
    char cs[256] = "", xs[1024] = "";
    size_t a = 0, b = 0;
    for (int k = 0; k < n->n_in; k++) {
        a += (size_t)snprintf(cs + a, sizeof cs - a, "%s%lld", k ? ", " : "", (long long)in_shape(e, n, k)->d[1]);
        b += (size_t)snprintf(xs + b, sizeof xs - b, "%s%s", k ? ", " : "",
                              grad ? e_grad(e, n->in[k]) : e_act(e, n->in[k]));
    }
    cw_line(e->w, "static const int Cs[%d] = {%s};", n->n_in, cs);
    cw_line(e->w, "%s xs[%d] = {%s};", grad ? "float *const" : "const float *const", n->n_in, xs);
}

static void concat_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *y = out_shape(e, n);
    concat_lists(e, n, 0);
    cw_line(e->w, "vq_concat_channels_forward(%s, xs, Cs, %d, B, %lld);", e_act(e, n->out[0]), n->n_in,
            (long long)(y->d[2] * y->d[3]));
}

static void concat_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *y = out_shape(e, n);
    concat_lists(e, n, 1);
    cw_line(e->w, "vq_concat_channels_backward(xs, %s, Cs, %d, B, %lld);", e_grad(e, u->out), n->n_in,
            (long long)(y->d[2] * y->d[3]));
}

const cg_op_emit cg_emit_concat = {NULL, NULL, NULL, concat_fwd, concat_bwd, 0};
