/* ops/attention.c: emitter of attention(q, k, v), taming's AttnBlock core
 * (runtime/kernels/attention.h), forward and backward side by side.
 * Saved: the probabilities (B, N, N); backward also reads q, k, v.
 * Legend: B batch, C channels, N = H*W positions.
 */
#include "../emit_ops.h"

static int64_t positions(const cg *g, const ir_node *n)
{
    const ir_shape *s = &g->m->tensors[n->in[0]].shape;
    return s->d[2] * s->d[3];
}

static void attn_plan(cg *g, unit *u)
{
    const ir_node *n = cg_node(g, u->node);
    int64_t N = positions(g, n);
    u->saved[u->n_saved++] = cg_new_val(g, PV_SAVED, N * N, 0, -1, "%s.probs (B, %lld, %lld)",
                                        n->path ? n->path : "attention", (long long)N, (long long)N);
}

static int attn_reads(const cg *g, const unit *u, int *vals)
{
    const ir_node *n = cg_node(g, u->node);
    for (int k = 0; k < 3; k++) vals[k] = g->tval[n->in[k]];
    return 3;
}

static void attn_decl(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    int64_t N = positions(e->g, cg_node(e->g, u->node));
    cw_line(e->setup, "if (vq_attention_scratch_floats(%lld) > *scratch) *scratch = vq_attention_scratch_floats(%lld);",
            (long long)N, (long long)N);
}

static void attn_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    cw_line(e->w, "vq_attention_forward(%s, %s, %s, %s, %s, B, %lld, %lld);", e_act(e, n->out[0]),
            e_val(e, u->saved[0]), e_act(e, n->in[0]), e_act(e, n->in[1]), e_act(e, n->in[2]),
            (long long)e->g->m->tensors[n->in[0]].shape.d[1], (long long)positions(e->g, n));
}

static void attn_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    cw_line(e->w, "vq_attention_backward(%s, %s, %s, %s, %s, %s, %s, %s, B, %lld, %lld, S);", e_grad(e, n->in[0]),
            e_grad(e, n->in[1]), e_grad(e, n->in[2]), e_grad(e, u->out), e_act(e, n->in[0]), e_act(e, n->in[1]),
            e_act(e, n->in[2]), e_val(e, u->saved[0]), (long long)e->g->m->tensors[n->in[0]].shape.d[1],
            (long long)positions(e->g, n));
}

const cg_op_emit cg_emit_attention = {attn_plan, attn_reads, attn_decl, attn_fwd, attn_bwd, 0};
