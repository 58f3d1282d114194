/* recompute.c: the `recompute` pass (runs after keep, before memplan).
 *
 * Why: a ResnetBlock keeps four full-resolution maps for backward (its input,
 * swish(GN1(x)), conv1's output, swish(GN2(h))). The two group_norm+swish
 * outputs are read by backward only as the inputs of the following convs'
 * weight gradients, and they are cheap to rebuild from values backward keeps
 * anyway (the group_norm input x and its saved mean/rstd). For vqgan_f16 at
 * 256x256 each is 32 MiB per image; rebuilding them instead of keeping them
 * cuts the activation arena by a third for one extra normalize pass each.
 *
 * What: for every autoencoder group_norm unit (alone or fused with swish,
 * without an epilogue) whose output has at least g->recompute_min
 * floats per image and is read by some backward step, a second value v' of
 * the same size is made; an ST_RECOMPUTE step, inserted just before the first
 * backward step that reads the output, re-runs the unit's forward into v'
 * (bitwise the same numbers: same kernel, same inputs), and every backward
 * step reads v' instead. The original value now dies with its last forward
 * reader and memplan reuses its memory. g->rval[t] names v' for the emitter.
 * recompute_min < 0 turns the pass off; 0 recomputes every group_norm.
 */
#include <stdlib.h>
#include <string.h>

#include "passes.h"

static int reads(const step *st, int v)
{
    for (int i = 0; i < st->n_use; i++)
        if (st->use[i] == v) return 1;
    return 0;
}

static void replace(step *st, int v, int v2)
{
    for (int i = 0; i < st->n_use; i++)
        if (st->use[i] == v) st->use[i] = v2;
}

/* Inserts a copy of step src (with v -> v2) at index at; returns 0 or 1 (out of memory). */
static int insert_step(cg *g, int at, const step *src, int v, int v2)
{
    if (g->n_steps == g->cap_steps) {
        int cap = 2 * g->cap_steps + 16;
        step *s = realloc(g->steps, (size_t)cap * sizeof *s);
        if (!s) return 1;
        g->steps = s;
        g->cap_steps = cap;
    }
    step copy = *src;
    memmove(&g->steps[at + 1], &g->steps[at], (size_t)(g->n_steps - at) * sizeof *g->steps);
    g->n_steps++;
    copy.kind = ST_RECOMPUTE;
    replace(&copy, v, v2);
    g->steps[at] = copy;
    if (g->has_disc && at <= g->disc_step0) g->disc_step0++;
    return 0;
}

int pass_recompute(cg *g)
{
    if (g->recompute_min < 0) return 0;
    for (int f = 0; f < g->n_steps; f++) {
        if (g->steps[f].kind != ST_FWD) continue;
        const unit *u = &g->units[g->steps[f].unit];
        const ir_node *n = cg_node(g, u->node);
        if (n->op != IR_OP_GROUP_NORM || n->graph == IR_DISCRIMINATOR || u->res_tensor >= 0 || u->act_node >= 0)
            continue;   /* an epilogue would need its own inputs again (residual) or write n->out[0] */
        const int v = g->tval[u->out];
        if (v < 0 || g->vals[v].pinned || g->vals[v].per_image < g->recompute_min) continue;
        int first = -1;
        for (int s = f + 1; s < g->n_steps && first < 0; s++)
            if (g->steps[s].kind == ST_BWD && reads(&g->steps[s], v)) first = s;
        if (first < 0) continue;   /* backward never reads it: nothing is kept */
        const pv *p = &g->vals[v];
        char name[sizeof p->name];
        snprintf(name, sizeof name, "%s", p->name);
        int v2 = cg_new_val(g, PV_ACT, p->per_image, 0, u->out, "%s (recomputed)", name);
        if (v2 < 0) return 1;
        g->vals[v2].recomputed = 1;
        const step fwd = g->steps[f];   /* copied: insert_step may move the array */
        if (insert_step(g, first, &fwd, v, v2)) return 1;
        for (int s = first + 1; s < g->n_steps; s++)
            if (g->steps[s].kind == ST_BWD) replace(&g->steps[s], v, v2);
        g->rval[u->out] = v2;
        g->n_recomputed++;
    }
    return 0;
}
