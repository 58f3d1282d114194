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
    if (n->op == IR_OP_QUANTIZE && strcmp(m->codebooks[n->codebook].update, "gradient") == 0) return 1;
    return 0;
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
    /* the objective's terms (GAN terms: a later issue adds them here) */
    g->n_terms = 0;
    snprintf(g->term_names[g->n_terms++], 64, "rec");
    for (int c = 0; c < m->n_codebooks && g->n_terms < 16; c++) {
        if (m->n_codebooks == 1) snprintf(g->term_names[g->n_terms++], 64, "q_loss");
        else snprintf(g->term_names[g->n_terms++], 64, "q_loss.%s", m->codebooks[c].name);
    }

    /* which tensors need a gradient: downstream of a trainable parameter */
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
        g->gval[u->out] = v;
        if (u->how != FU_GN_SWISH && u->how != FU_CHAIN) g->gval[n->out[0]] = v;
        if (u->res_node >= 0) g->gval[cg_node(g, u->res_node)->out[0]] = v;
    }

    /* the schedule and the values each step touches (keep adds backward's reads of forward values) */
    for (int i = 0; i < m->n_nodes; i++) {
        unit *u = &g->units[i];
        if (u->absorbed || u->how == FU_IDENTITY) continue;
        int s = add_step(g, ST_FWD, i);
        if (s < 0) return 1;
        int ins[CG_MAX_IN];
        int nin = unit_inputs(g, u, ins);
        for (int k = 0; k < nin; k++) use(g, s, g->tval[ins[k]]);
        use(g, s, g->tval[u->out]);
        if (u->out2 >= 0) use(g, s, g->tval[u->out2]);
        for (int k = 0; k < u->n_saved; k++) use(g, s, u->saved[k]);
    }
    int rv = g->tval[g->recon_t];
    int s = add_step(g, ST_LOSS_FWD, -1);
    use(g, s, rv);
    use(g, s, g->x_val);
    s = add_step(g, ST_LOSS_BWD, -1);
    use(g, s, rv);
    use(g, s, g->x_val);
    use(g, s, g->gval[g->recon_t]);
    for (int i = m->n_nodes - 1; i >= 0; i--) {
        unit *u = &g->units[i];
        if (u->absorbed || u->how == FU_IDENTITY || !u->has_bwd) continue;
        s = add_step(g, ST_BWD, i);
        if (s < 0) return 1;
        int ins[CG_MAX_IN];
        int nin = unit_inputs(g, u, ins);
        for (int k = 0; k < nin; k++) use(g, s, g->gval[ins[k]]);
        use(g, s, g->gval[u->out]);
        for (int k = 0; k < u->n_saved; k++) use(g, s, u->saved[k]);
    }
    if (g->gval[g->recon_t] < 0) {
        diag_error(g->d, m->graphs[IR_DECODER].loc, "the reconstruction does not depend on any trainable parameter");
        return 1;
    }
    return 0;
}
