/* ops/actnorm.c: emitter of act_norm (taming's ActNorm, Glow's activation
 * normalization), forward and backward side by side (runtime/kernels/actnorm.h).
 *
 *   forward   TRAIN and initialized == 0: loc, scale <- -mean, 1/(std + 1e-6) of
 *             this batch (per channel, unbiased std), initialized <- 1; then, in
 *             every mode, y = scale * (x + loc)
 *   backward  dx += scale*dy, dloc += sum dy*scale, dscale += sum dy*(x + loc)
 * The init writes trainable parameters from inside the forward, as PyTorch's
 * module does; they then train like any other (the discriminator's optimizer).
 * `initialized` is a float 0/1 in the buffers slab (a uint8 in the state_dict).
 * Saved: nothing; backward reads the input x. A following leaky_relu is fused as
 * an in-place epilogue by the fuse pass, as after batch_norm.
 * Legend: B batch, C channels.
 */
#include "../emit_ops.h"

static int an_reads(const cg *g, const unit *u, int *vals)
{
    vals[0] = g->tval[cg_node(g, u->node)->in[0]];
    return 1;
}

static void an_decl(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *x = &e->g->m->tensors[n->in[0]].shape;
    cw_line(e->decl, "static const vq_actnorm_shape %s = {.B = 0, .C = %lld, .H = %lld, .W = %lld};", sym,
            (long long)x->d[1], (long long)x->d[2], (long long)x->d[3]);
    cw_begin(e->setup);
    cw_line(e->setup, "vq_actnorm_shape s = %s;", sym);
    cw_line(e->setup, "s.B = max_b;");
    cw_line(e->setup, "if (vq_actnorm_check(&s)) return vq_fail_context(VQ_ERR_ARG, \"%s\");",
            n->path ? n->path : "act_norm");
    cw_close(e->setup, "");
}

static void an_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    int loc = e_node_param(e->g, n, "loc"), scale = e_node_param(e->g, n, "scale");
    int init = e_node_param(e->g, n, "initialized");
    cw_line(e->w, "vq_actnorm_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    cw_line(e->w, "/* the data-dependent init, on the first TRAIN batch only (initialized 0 -> 1) */");
    cw_open(e->w, "if (mode == VQ_MODE_TRAIN && %s[0] == 0.0f)", e_param(e, init));
    cw_line(e->w, "vq_actnorm_init(%s, %s, %s, &s);", e_param(e, loc), e_param(e, scale), e_act(e, n->in[0]));
    cw_line(e->w, "%s[0] = 1.0f;", e_param(e, init));
    cw_close(e->w, "");
    cw_line(e->w, "vq_actnorm_forward(%s, %s, %s, %s, &s);", e_act(e, n->out[0]), e_act(e, n->in[0]),
            e_param(e, loc), e_param(e, scale));
}

static void an_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    const ir_node *n = cg_node(e->g, u->node);
    int loc = e_node_param(e->g, n, "loc"), scale = e_node_param(e->g, n, "scale");
    cw_line(e->w, "vq_actnorm_shape s = %s;", sym);
    cw_line(e->w, "s.B = B;");
    cw_line(e->w, "vq_actnorm_backward(%s, %s, %s, %s, %s, %s, %s, &s);",
            e->g->gval[n->in[0]] >= 0 ? e_grad(e, n->in[0]) : "NULL", e_dparam(e, loc), e_dparam(e, scale),
            e_grad(e, u->out), e_act(e, n->in[0]), e_param(e, loc), e_param(e, scale));
}

const cg_op_emit cg_emit_act_norm = {NULL, an_reads, an_decl, an_fwd, an_bwd, 0};
