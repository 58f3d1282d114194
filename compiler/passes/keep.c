/* keep.c: the `keep` pass (keep-for-backward analysis). Each op's emitter
 * says which forward values its backward reads (conv: its input x; group_norm:
 * x plus the saved mean/rstd; an elementwise chain: only its input; attention:
 * q, k, v and the probabilities; quantize: z and the indices). An in-place
 * epilogue activation adds the unit's output (the derivative is taken from it).
 * Adding those reads to the backward steps extends exactly those values'
 * lifetimes; every other forward value dies in the forward pass and memplan
 * reuses its memory. Values read after the schedule (the reconstruction,
 * indices, and the quantizer inputs that the EMA update and dead-code restart
 * read in after_step) are pinned to the end.
 */
#include <string.h>

#include "../emit_ops.h"
#include "passes.h"

static void use(cg *g, int s, int v)
{
    if (v < 0) return;
    step *st = &g->steps[s];
    for (int i = 0; i < st->n_use; i++)
        if (st->use[i] == v) return;
    if (st->n_use < STEP_MAX_USES) st->use[st->n_use++] = v;
}

int pass_keep(cg *g)
{
    const ir_model *m = g->m;
    for (int s = 0; s < g->n_steps; s++) {
        step *st = &g->steps[s];
        if (st->kind != ST_BWD) continue;
        const unit *u = &g->units[st->unit];
        const ir_node *n = cg_node(g, u->node);
        int reads[16];
        int k = cg_emitter(n->op)->bwd_reads ? cg_emitter(n->op)->bwd_reads(g, u, reads) : 0;
        for (int i = 0; i < k; i++) use(g, s, reads[i]);
        if (u->act_node >= 0) use(g, s, g->tval[u->out]);
    }
    g->vals[g->tval[g->recon_t]].pinned = 1;
    g->vals[g->x_val].pinned = 1;   /* the caller's image stays readable (loss, eval) */
    for (int i = 0; i < m->n_nodes; i++) {
        const unit *u = &g->units[i];
        if (u->absorbed || cg_node(g, i)->op != IR_OP_QUANTIZE) continue;
        g->vals[g->tval[u->out2]].pinned = 1;
        const ir_codebook *cb = &m->codebooks[cg_node(g, i)->codebook];
        if (strcmp(cb->update, "ema") == 0 || cb->restart_after > 0 || cb->restart_threshold > 0)
            g->vals[g->tval[cg_node(g, i)->in[0]]].pinned = 1;
    }
    return 0;
}
