/* ops/quantize.c: emitter of quantize (runtime/quantizer.h), forward and
 * backward side by side. The vq_codebook lives in the model struct (m->cb[c]);
 * its embedding is copied from the params/buffers slab before each forward
 * (cb_pull) and back after the codebook changes itself (k-means init, EMA,
 * restart: cb_push), because the runtime codebook owns its array.
 * Forward keeps only the indices (B, H, W); backward reads z and the indices
 * and adds codebook_weight * d(q_loss) plus the straight-through gradient.
 * With lookup_dim the projections P_in (d, D), b_in, P_out (D, d), b_out are
 * the codebook's last four parameters (sema.c): pulled like the table, their
 * gradients written by vq_quantize_backward straight into the gradient slab
 * (nn.Linear layout on both sides, so no copy).
 * Legend: B batch, D code dim, d lookup dim (= D without projection), H, W code map, K codes.
 */
#include <string.h>

#include "../emit_ops.h"

static int q_reads(const cg *g, const unit *u, int *vals)
{
    vals[0] = g->tval[cg_node(g, u->node)->in[0]];
    vals[1] = g->tval[u->out2];
    return 2;
}

static void q_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *z = &e->g->m->tensors[n->in[0]].shape;
    int c = n->codebook;
    const ir_codebook *icb = &e->g->m->codebooks[c];
    if (icb->lookup_dim)
        cw_line(e->w, "vq_codebook *cb = &m->cb[%d];  /* %s: K = %lld, D = %lld, lookup in d = %lld */", c, icb->name,
                (long long)icb->entries, (long long)icb->dim, (long long)icb->lookup_dim);
    else
        cw_line(e->w, "vq_codebook *cb = &m->cb[%d];  /* %s: K = %lld, D = %lld */", c, icb->name,
                (long long)icb->entries, (long long)icb->dim);
    cw_line(e->w, "const int H = %lld, W = %lld;", (long long)z->d[2], (long long)z->d[3]);
    cw_open(e->w, "if (m->kmeans_pending[%d] && mode == VQ_MODE_TRAIN)", c);
    cw_line(e->w, "int rc = vq_codebook_init(cb, rng, %s, B, H, W);", e_act(e, n->in[0]));
    cw_line(e->w, "if (rc) return rc;");
    cw_line(e->w, "cb_push(m, %d);", c);
    cw_line(e->w, "m->kmeans_pending[%d] = 0;", c);
    cw_close(e->w, "");
    cw_line(e->w, "int rc = vq_quantize_forward((int32_t *)%s, %s, &m->loss[LOSS_Q + %d], %s, cb, B, H, W);",
            e_act(e, u->out2), e_act(e, u->out), c, e_act(e, n->in[0]));
    cw_line(e->w, "if (rc) return rc;");
}

static void q_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    const ir_shape *z = &e->g->m->tensors[n->in[0]].shape;
    const ir_codebook *cb = &e->g->m->codebooks[n->codebook];
    int c = n->codebook, grad = strcmp(cb->update, "gradient") == 0, ros = strcmp(cb->naming, "rosinality") == 0;
    const long long d = (long long)(cb->lookup_dim ? cb->lookup_dim : cb->dim);
    cw_line(e->w, "const int H = %lld, W = %lld;", (long long)z->d[2], (long long)z->d[3]);
    cw_line(e->w, "vq_codebook_grads gr;");
    cw_line(e->w, "memset(&gr, 0, sizeof gr);");
    if (grad && !ros) {
        cw_line(e->w, "gr.dembed = %s;  /* (K, %s), the slab's layout */", e_dparam(e, cb->param[0]), cb->lookup_dim ? "d" : "D");
    } else if (grad) {
        cw_line(e->w, "gr.dembed = m->cb_dtmp[%d];  /* (K, %s); the slab holds (%s, K) */", c, cb->lookup_dim ? "d" : "D",
                cb->lookup_dim ? "d" : "D");
        cw_line(e->w, "memset(gr.dembed, 0, sizeof(float) * %lld);", (long long)cb->entries * d);
    }
    if (cb->lookup_dim) {
        const int *pp = cb->param + cb->n_param - 4;   /* proj_in.weight, .bias, proj_out.weight, .bias */
        cw_line(e->w, "gr.dproj_in_w = %s;   /* (d, D) */", e_dparam(e, pp[0]));
        cw_line(e->w, "gr.dproj_in_b = %s;   /* (d) */", e_dparam(e, pp[1]));
        cw_line(e->w, "gr.dproj_out_w = %s;  /* (D, d) */", e_dparam(e, pp[2]));
        cw_line(e->w, "gr.dproj_out_b = %s;  /* (D) */", e_dparam(e, pp[3]));
    }
    cw_line(e->w, "int rc = vq_quantize_backward(&gr, %s, %s, %s, (const int32_t *)%s, &m->cb[%d], B, H, W, "
                  "(float)CODEBOOK_WEIGHT);",
            e->g->gval[n->in[0]] >= 0 ? e_grad(e, n->in[0]) : "S", e_grad(e, u->out), e_act(e, n->in[0]),
            e_act(e, u->out2), c);
    cw_line(e->w, "if (rc) return rc;");
    if (grad && ros) {
        cw_line(e->w, "float *dst = %s;", e_dparam(e, cb->param[0]));
        cw_line(e->w, "for (int k = 0; k < %lld; k++)", (long long)cb->entries);
        cw_line(e->w, "    for (int d = 0; d < %lld; d++) dst[(size_t)d * %lld + k] += gr.dembed[(size_t)k * %lld + d];",
                d, (long long)cb->entries, d);
    }
}

const cg_op_emit cg_emit_quantize = {NULL, q_reads, NULL, q_fwd, q_bwd, 0};
