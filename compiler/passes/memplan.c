/* memplan.c: the `memplan` pass: liveness of every value over the schedule
 * (forward, loss, backward) and one arena for all of them.
 *
 * A value lives from the first to the last step that uses it (inclusive, so an
 * op's inputs and outputs never share memory); pinned values live to the end.
 * Per-image values get offsets in floats per image, placed largest first at
 * the lowest offset that overlaps no value alive at the same time (first fit);
 * at run time an offset is multiplied by MB = max_b, so a batch B <= MB always
 * fits. Fixed-size values (batch_norm statistics) follow, one after another.
 * Sizes are rounded to 16 floats: every buffer starts on a 64-byte line.
 * The discriminator's values (segment 1) get their own region after the
 * autoencoder's: the discriminator runs between the autoencoder's forward and
 * backward (the generator's adversarial term), so it must not reuse memory
 * that the schedule order alone would show as free.
 */
#include <stdlib.h>

#include "passes.h"

static int64_t round16(int64_t n) { return (n + 15) / 16 * 16; }

static const cg *sort_g;
static int by_size_desc(const void *a, const void *b)
{
    const pv *x = &sort_g->vals[*(const int *)a], *y = &sort_g->vals[*(const int *)b];
    if (x->segment != y->segment) return x->segment - y->segment;
    if (x->per_image != y->per_image) return x->per_image < y->per_image ? 1 : -1;
    return *(const int *)a - *(const int *)b;
}

int pass_memplan(cg *g)
{
    for (int s = 0; s < g->n_steps; s++) {
        const step *st = &g->steps[s];
        for (int i = 0; i < st->n_use; i++) {
            pv *v = &g->vals[st->use[i]];
            if (v->first < 0 || s < v->first) v->first = s;
            if (s > v->last) v->last = s;
        }
    }
    int *order = malloc((size_t)(g->n_vals ? g->n_vals : 1) * sizeof *order);
    int *placed = malloc((size_t)(g->n_vals ? g->n_vals : 1) * sizeof *placed);
    if (!order || !placed) { free(order); free(placed); return 1; }
    int n = 0;
    g->naive_per_image = g->naive_fixed = 0;
    g->arena_fixed = 0;
    for (int v = 0; v < g->n_vals; v++) {
        pv *p = &g->vals[v];
        if (p->pinned) {
            if (p->first < 0) p->first = 0;
            p->last = g->n_steps;
        }
        if (p->first < 0) continue;
        if (p->per_image) {
            order[n++] = v;
            g->naive_per_image += round16(p->per_image);
        } else {
            p->offset = g->arena_fixed;
            g->arena_fixed += round16(p->fixed);
            g->naive_fixed += round16(p->fixed);
        }
    }
    sort_g = g;
    qsort(order, (size_t)n, sizeof *order, by_size_desc);
    int n_placed = 0;
    g->arena_per_image = 0;
    int64_t base = 0;            /* start of the current segment's region */
    for (int i = 0; i < n; i++) {
        pv *p = &g->vals[order[i]];
        if (i > 0 && p->segment != g->vals[order[i - 1]].segment) base = g->arena_per_image;
        int64_t size = round16(p->per_image), off = base;
        for (int moved = 1; moved;) {
            moved = 0;
            for (int j = 0; j < n_placed; j++) {
                const pv *q = &g->vals[placed[j]];
                if (q->segment != p->segment) continue;                        /* disjoint regions */
                if (q->last < p->first || p->last < q->first) continue;      /* not alive together */
                int64_t qs = round16(q->per_image);
                if (off < q->offset + qs && q->offset < off + size) {
                    off = q->offset + qs;
                    moved = 1;
                }
            }
        }
        p->offset = off;
        placed[n_placed++] = order[i];
        if (off + size > g->arena_per_image) g->arena_per_image = off + size;
    }
    free(order);
    free(placed);
    return 0;
}
