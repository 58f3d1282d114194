/* autodiff.c: reverse-mode differentiation of the fused training plan (see
 * autodiff.h): gradient requirements, gradient values and the schedule.
 * The per-op backward math is in the op emitters (ops/<family>.c), next to the
 * forward it differentiates; this file decides only what flows where.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"
#include "emit_ops.h"

static int add_step(cg *g, step_kind kind, int unit)
{
    if (g->n_steps == g->cap_steps) {
        int cap = g->cap_steps ? 2 * g->cap_steps : 256;
        step *s = realloc(g->steps, (size_t)cap * sizeof *s);
        if (!s) return -1;
        g->steps = s;
        g->cap_steps = cap;
    }
    step *s = &g->steps[g->n_steps];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->unit = unit;
    return g->n_steps++;
}

static void use(cg *g, int s, int v)
{
    if (v < 0) return;
    step *st = &g->steps[s];
    for (int i = 0; i < st->n_use; i++)
        if (st->use[i] == v) return;
    if (st->n_use < STEP_MAX_USES) st->use[st->n_use++] = v;
}

/* The inputs a unit reads from outside itself: the main node's, the residual. */
static int unit_inputs(const cg *g, const unit *u, int *ins)
{
    const ir_node *n = cg_node(g, u->node);
    int k = 0;
    for (int i = 0; i < n->n_in; i++) ins[k++] = n->in[i];
    if (u->res_tensor >= 0) ins[k++] = u->res_tensor;
    return k;
}

static int unit_has_trainable(const cg *g, const unit *u)
{
    const ir_model *m = g->m;
    const ir_node *n = cg_node(g, u->node);
    for (int i = 0; i < n->n_param; i++)
        if (m->params[n->param[i]].role == IR_TRAINABLE) return 1;
    if (n->op == IR_OP_QUANTIZE) /* the table (update = gradient), the lookup_dim projections */
        for (int i = 0; i < m->codebooks[n->codebook].n_param; i++)
            if (m->params[m->codebooks[n->codebook].param[i]].role == IR_TRAINABLE) return 1;
    return 0;
}

/* Forward steps, the loss and backward steps of the autoencoder (disc 0) or
 * of the discriminator (disc 1). */
static int schedule_graphs(cg *g, int disc)
{
    const ir_model *m = g->m;
    for (int i = 0; i < m->n_nodes; i++) {
        unit *u = &g->units[i];
        if (u->absorbed || u->how == FU_IDENTITY || (cg_node(g, i)->graph == IR_DISCRIMINATOR) != disc) continue;
        int s = add_step(g, ST_FWD, i);
        if (s < 0) return 1;
        int ins[CG_MAX_IN];
        int nin = unit_inputs(g, u, ins);
        for (int k = 0; k < nin; k++) use(g, s, g->tval[ins[k]]);
        use(g, s, g->tval[u->out]);
        if (u->out2 >= 0) use(g, s, g->tval[u->out2]);
        for (int k = 0; k < u->n_saved; k++) use(g, s, u->saved[k]);
    }
    int s;
    if (disc) {
        if ((s = add_step(g, ST_DISC_LOSS, -1)) < 0) return 1;
        use(g, s, g->tval[g->disc_out_t]);
        use(g, s, g->gval[g->disc_out_t]);
    } else {
        int rv = g->tval[g->recon_t];
        if ((s = add_step(g, ST_LOSS_FWD, -1)) < 0) return 1;
        use(g, s, rv);
        use(g, s, g->x_val);
        if ((s = add_step(g, ST_LOSS_BWD, -1)) < 0) return 1;
        use(g, s, rv);
        use(g, s, g->x_val);
        use(g, s, g->gval[g->recon_t]);
    }
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        unit *u = &g->units[i];
        if (u->absorbed || u->how == FU_IDENTITY || !u->has_bwd) continue;
        if ((cg_node(g, i)->graph == IR_DISCRIMINATOR) != disc) continue;
        if ((s = add_step(g, ST_BWD, i)) < 0) return 1;
        int ins[CG_MAX_IN];
        int nin = unit_inputs(g, u, ins);
        for (int k = 0; k < nin; k++) use(g, s, g->gval[ins[k]]);
        use(g, s, g->gval[u->out]);
        for (int k = 0; k < u->n_saved; k++) use(g, s, u->saved[k]);
    }
    return 0;
}

/* taming's adaptive weight needs the gradients of nll and of g_loss with
 * respect to the last decoder layer's weight L, separately. When L is the
 * weight of the conv2d that produces x_hat (taming: decoder.conv_out), each is
 * one weight-gradient of that conv from the loss's gradient at x_hat, so no
 * second backward pass is needed. Other layers are refused. */
static int find_adaptive_layer(cg *g)
{
    const ir_model *m = g->m;
    g->adapt_node = g->adapt_param = -1;
    const ir_setting *aw = ir_setting_find(&m->loss, "adaptive_weight_layer");
    const char *want = aw && aw->v.kind == IR_V_STRING ? aw->v.s : NULL;
    int prod = m->tensors[g->recon_t].producer;
    const ir_node *n = prod >= 0 ? cg_node(g, prod) : NULL;
    int w = n && n->op == IR_OP_CONV2D ? e_node_param(g, n, "weight") : -1;
    if (w >= 0 && (!want || strcmp(m->params[w].name, want) == 0) && g->units[prod].res_tensor < 0 &&
        g->units[prod].act_node < 0) {
        g->adapt_node = prod;
        g->adapt_param = w;
        return 0;
    }
    src_loc at = aw ? aw->loc : m->loss.loc;
    if (want)
        diag_error(g->d, at, "adaptive_weight_layer '%s' must be the weight of the conv2d that produces the "
                             "reconstruction (%s), the only layer whose two gradients vqc computes without a "
                             "second backward pass", want, w >= 0 ? m->params[w].name : "no conv2d there");
    else
        diag_error(g->d, at, "the adversarial loss needs adaptive_weight_layer: the reconstruction is not made by "
                             "a conv2d whose weight could serve");
    return 1;
}

int autodiff_loss_terms(const cg *g, const char **names, int max)
{
    int k = 0;
    for (int i = 0; i < g->n_terms && k < max; i++) names[k++] = g->term_names[i];
    return k;
}

int autodiff(cg *g)
{
    const ir_model *m = g->m;
    /* the objective's terms, in loss_values() order after "total" (emit.c's LOSS_* indices) */
    g->n_terms = 0;
    snprintf(g->term_names[g->n_terms++], 64, "rec");
    for (int c = 0; c < m->n_codebooks && g->n_terms < 8; c++) {
        if (m->n_codebooks == 1) snprintf(g->term_names[g->n_terms++], 64, "q_loss");
        else snprintf(g->term_names[g->n_terms++], 64, "q_loss.%s", m->codebooks[c].name);
    }
    if (ir_get_float(&m->loss, "perceptual_weight", 0.0) > 0.0) snprintf(g->term_names[g->n_terms++], 64, "p_loss");
    if (g->has_disc) {
        static const char *const gan[] = {"nll", "g_loss", "d_weight", "disc_factor", "d_loss", "logits_real",
                                          "logits_fake"};
        for (size_t k = 0; k < sizeof gan / sizeof gan[0]; k++) snprintf(g->term_names[g->n_terms++], 64, "%s", gan[k]);
    }
    if (g->has_disc && find_adaptive_layer(g)) return 1;

    /* which tensors need a gradient: downstream of a trainable parameter, and the
     * discriminator's input (the adversarial term's gradient reaches x_hat through it) */
    if (g->has_disc) g->needs_grad[g->disc_in_t] = 1;
    for (int i = 0; i < m->n_nodes; i++) {
        unit *u = &g->units[i];
        if (u->absorbed) continue;
        int ins[CG_MAX_IN];
        int nin = unit_inputs(g, u, ins), req = unit_has_trainable(g, u), in_req = 0;
        for (int k = 0; k < nin; k++) in_req |= g->needs_grad[ins[k]];
        req |= in_req;
        u->has_bwd = req;
        const ir_node *n = cg_node(g, i);
        if (m->tensors[n->out[0]].dtype == IR_F32) g->needs_grad[n->out[0]] = req;
        for (int k = 0; k < u->n_fused; k++) g->needs_grad[cg_node(g, u->fused[k])->out[0]] = req;
    }
    /* gradient values, aliased like the forward ones */
    for (int i = 0; i < m->n_nodes; i++) {
        unit *u = &g->units[i];
        if (u->absorbed || !g->needs_grad[u->out]) continue;
        const ir_node *n = cg_node(g, i);
        if (u->how == FU_IDENTITY) {
            g->gval[u->out] = g->gval[n->in[0]];
            continue;
        }
        int v = cg_new_val(g, PV_GRAD, cg_tensor_per_image(g, u->out), 0, u->out, "d%%%d", u->out);
        g->vals[v].segment = n->graph == IR_DISCRIMINATOR;
        g->gval[u->out] = v;
        if (u->how != FU_GN_SWISH && u->how != FU_CHAIN) g->gval[n->out[0]] = v;
        if (u->res_node >= 0) g->gval[cg_node(g, u->res_node)->out[0]] = v;
    }

    if (g->has_disc) {
        int v = cg_new_val(g, PV_GRAD, cg_tensor_per_image(g, g->disc_in_t), 0, g->disc_in_t,
                           "d%%%d discriminator input", g->disc_in_t);
        g->vals[v].segment = 1;
        g->gval[g->disc_in_t] = v;
    }

    /* the schedule and the values each step touches (keep adds backward's reads of forward values):
     * the autoencoder's forward, loss, backward; then the discriminator's forward, loss, backward */
    if (schedule_graphs(g, 0)) return 1;
    if (g->has_disc) {
        g->disc_step0 = g->n_steps;
        if (schedule_graphs(g, 1)) return 1;
    }
    if (g->gval[g->recon_t] < 0) {
        diag_error(g->d, m->graphs[IR_DECODER].loc, "the reconstruction does not depend on any trainable parameter");
        return 1;
    }
    return 0;
}
