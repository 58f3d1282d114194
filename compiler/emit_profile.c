/* emit_profile.c: writes the per-op profiler of a generated model (see
 * emit_profile.h for the rows and the cost when off). The row of a unit is
 * recomputed from the schedule whenever needed, so nothing here is stored in
 * the plan and the table and the marks cannot disagree.
 * Not here: the unit blocks themselves (emit.c) or what bench prints.
 */
#include <stdlib.h>
#include <string.h>

#include "emit_profile.h"

static int is_conv(ir_op op) { return op == IR_OP_CONV2D || op == IR_OP_CONV_TRANSPOSE2D; }

/* Row numbering (emit_profile.h): row[u] of each unit (-1: none), and the
 * count. A conv unit with a backward step takes two rows (op, weight grad).
 * Returns 0, or -1 when out of memory (callers then emit no profiling). */
static int rows_scan(const cg *g, int *row, int *n_rows)
{
    char *bwd = calloc((size_t)(g->n_units ? g->n_units : 1), 1);
    if (!bwd) return -1;
    for (int u = 0; u < g->n_units; u++) row[u] = -1;
    for (int s = 0; s < g->n_steps; s++)
        if (g->steps[s].kind == ST_BWD) bwd[g->steps[s].unit] = 1;
    int n = 1;                                   /* row 0: the input */
    for (int s = 0; s < g->n_steps; s++) {
        const step *st = &g->steps[s];
        if (st->kind != ST_FWD && st->kind != ST_BWD) continue;
        const unit *u = &g->units[st->unit];
        if (row[st->unit] >= 0 || u->absorbed || u->how == FU_IDENTITY) continue;
        row[st->unit] = n++;
        if (bwd[st->unit] && is_conv(cg_node(g, u->node)->op)) n++;
    }
    *n_rows = n + 1;                             /* last row: the reconstruction loss */
    free(bwd);
    return 0;
}

/* The row of unit u (-1: none); *loss gets the loss row. */
static int unit_row(const cg *g, const unit *u, int *loss)
{
    int *row = malloc(sizeof(int) * (size_t)(g->n_units ? g->n_units : 1)), n = 0, r = -1;
    if (row && rows_scan(g, row, &n) == 0) {
        r = u ? row[u - g->units] : -1;
        if (loss) *loss = n - 1;
    }
    free(row);
    return r;
}

/* A name for an unnamed node: a quantizer's codebook ("quantize"); else the
 * parent path of the first named node that reads its output ("decoder.up.2.attn.0"
 * for attention, whose consumer is ...attn.0.proj_out; "decoder.up.2.upsample"
 * for the upsample before ...upsample.conv); else its .vq location ("vqvae2.vq:88"). */
static void unit_path(const cg *g, const ir_node *n, int node, char *buf, size_t cap)
{
    const ir_model *m = g->m;
    if (n->path) {
        snprintf(buf, cap, "%s", n->path);
        return;
    }
    if (n->op == IR_OP_QUANTIZE && n->codebook >= 0) {
        snprintf(buf, cap, "%s", m->codebooks[n->codebook].name);
        return;
    }
    for (int i = 0; i < m->n_nodes && n->n_out > 0; i++) {
        const ir_node *c = &m->nodes[i];
        const char *dot = c->path ? strrchr(c->path, '.') : NULL;
        for (int k = 0; dot && k < c->n_in; k++)
            if (c->in[k] == n->out[0]) {
                snprintf(buf, cap, "%.*s", (int)(dot - c->path), c->path);
                return;
            }
    }
    if (n->loc.file) {
        const char *f = strrchr(n->loc.file->path, '/');
        snprintf(buf, cap, "%s:%d", f ? f + 1 : n->loc.file->path, n->loc.first_line);
    } else {
        snprintf(buf, cap, "op%d", node);
    }
}

static const char *rec_loss(const cg *g) { return ir_get_string(&g->m->loss, "reconstruction", "l1"); }

void prof_emit_table(emit_ctx *e)
{
    const cg *g = e->g;
    cwriter *w = e->w;
    int *row = malloc(sizeof(int) * (size_t)(g->n_units ? g->n_units : 1)), n = 2;
    if (!row || rows_scan(g, row, &n) != 0) {
        /* out of memory: an empty table, so the generated code still compiles */
        free(row);
        row = NULL;
        n = 2;
    }
    char (*names)[320] = calloc((size_t)n, sizeof *names);
    if (!names) {
        w->failed = 1;
        free(row);
        return;
    }
    snprintf(names[0], sizeof names[0], "x (input)");
    snprintf(names[n - 1], sizeof names[n - 1], "rec (%s_loss)", rec_loss(g));
    for (int i = 0; row && i < g->n_units; i++) {
        if (row[i] < 0) continue;
        const unit *u = &g->units[i];
        const ir_node *nd = cg_node(g, u->node);
        char path[160], kind[96];
        unit_path(g, nd, u->node, path, sizeof path);
        size_t k = (size_t)snprintf(kind, sizeof kind, "%s", ir_op_name(nd->op));
        for (int f = 0; f < u->n_fused && k < sizeof kind; f++)
            k += (size_t)snprintf(kind + k, sizeof kind - k, "+%s", ir_op_name(cg_node(g, u->fused[f])->op));
        snprintf(names[row[i]], sizeof names[0], "%s (%s)", path, kind);
        /* the next row is the weight gradient when rows_scan reserved it */
        int next = row[i] + 1;
        if (next < n - 1 && is_conv(nd->op)) {
            int taken = 0;
            for (int j = 0; j < g->n_units && !taken; j++) taken = row[j] == next;
            if (!taken) snprintf(names[next], sizeof names[0], "%s (%s, weight grad)", path, ir_op_name(nd->op));
        }
    }
    /* names are JSON keys in `bench --json`: make repeated paths unique */
    for (int i = 1; i < n; i++) {
        int dup = 1;
        for (int j = 0; j < i; j++) dup += strcmp(names[i], names[j]) == 0;
        size_t len = strlen(names[i]);
        if (dup > 1 && len + 12 < sizeof names[i]) snprintf(names[i] + len, sizeof names[i] - len, "#%d", dup);
    }

    cw_line(w, "/* Per-op profiling for `bench` (model_desc.h n_ops, op_names, profile, op_seconds): rows in");
    cw_line(w, " * schedule order; a conv's \"weight grad\" row holds its backward-weight call alone. Off, each");
    cw_line(w, " * mark is one branch; on, the calling thread reads the monotonic clock around whole blocks,");
    cw_line(w, " * OpenMP loops inside included. PROF_ADD adds the time since the last mark and marks again. */");
    cw_line(w, "#define N_OPS %d", n);
    cw_line(w, "#define PROF_START() do { if (m->prof_on) m->prof_t = vq_time_now(); } while (0)");
    cw_line(w, "#define PROF_ADD(op, dir) do { if (m->prof_on) { const double prof_now_ = vq_time_now(); "
               "m->prof[op][dir] += prof_now_ - m->prof_t; m->prof_t = prof_now_; } } while (0)");
    cw_open(w, "static const char *const op_names[N_OPS] =");
    for (int i = 0; i < n; i++) cw_line(w, "\"%s\",", names[i][0] ? names[i] : "?");
    cw_close(w, ";");
    cw_blank(w);
    free(names);
    free(row);
}

void prof_emit_members(emit_ctx *e)
{
    cw_line(e->w, "int prof_on;                /* bench: per-op timing on (model_profile) */");
    cw_line(e->w, "double prof_t;             /* vq_time_now() at the last profiling mark */");
    cw_line(e->w, "double prof[N_OPS][2];     /* (N_OPS, 2) seconds: forward, backward, op_names order */");
}

void prof_emit_functions(emit_ctx *e)
{
    cwriter *w = e->w;
    cw_line(w, "/* enable 1: zero the table and time every op from now on; 0: stop (the table stays). */");
    cw_open(w, "static void model_profile(vq_model *m, int enable)");
    cw_line(w, "if (enable) memset(m->prof, 0, sizeof m->prof);");
    cw_line(w, "m->prof_on = enable != 0;");
    cw_close(w, "");
    cw_line(w, "static const double *model_op_seconds(vq_model *m) { return &m->prof[0][0]; }");
    cw_blank(w);
}

void prof_emit_desc_fields(cwriter *w)
{
    cw_line(w, ".n_ops = N_OPS,");
    cw_line(w, ".op_names = op_names,");
    cw_line(w, ".profile = model_profile,");
    cw_line(w, ".op_seconds = model_op_seconds,");
}

void prof_emit_start(emit_ctx *e) { cw_line(e->w, "PROF_START();"); }

void prof_emit_unit(emit_ctx *e, const unit *u, prof_dir dir)
{
    int r = unit_row(e->g, u, NULL);
    if (r >= 0) cw_line(e->w, "PROF_ADD(%d, %d);  /* %s */", r, (int)dir, dir == PROF_FWD ? "forward" : "backward");
}

void prof_emit_weight_grad(emit_ctx *e, const unit *u)
{
    int r = unit_row(e->g, u, NULL);
    if (r >= 0) cw_line(e->w, "PROF_ADD(%d, 1);  /* backward-weight */", r + 1);
}

void prof_emit_loss(emit_ctx *e, prof_dir dir)
{
    int loss = -1;
    unit_row(e->g, NULL, &loss);
    if (loss >= 0) cw_line(e->w, "PROF_ADD(%d, %d);  /* loss %s */", loss, (int)dir, dir == PROF_FWD ? "forward" : "backward");
}

void prof_emit_input(emit_ctx *e) { cw_line(e->w, "PROF_ADD(0, 0);  /* input */"); }
