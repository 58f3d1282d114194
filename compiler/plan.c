/* plan.c: the training plan's storage and the driver of the passes
 * (cg_build: fuse, autodiff, keep, memplan) and `vqc --dump=plan`.
 * The passes themselves live in passes/<pass>.c and autodiff.c.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "autodiff.h"
#include "codegen.h"
#include "emit_ops.h"
#include "passes/passes.h"

const ir_node *cg_node(const cg *g, int node) { return &g->m->nodes[node]; }

int64_t cg_attr_int(const ir_node *n, const char *name)
{
    const ir_attr *a = ir_attr_find(n, name);
    return a ? (a->v.kind == IR_V_BOOL ? a->v.b : a->v.i) : 0;
}

double cg_attr_float(const ir_node *n, const char *name)
{
    const ir_attr *a = ir_attr_find(n, name);
    if (!a) return 0.0;
    return a->v.kind == IR_V_INT ? (double)a->v.i : a->v.f;
}

const char *cg_attr_str(const ir_node *n, const char *name)
{
    const ir_attr *a = ir_attr_find(n, name);
    return a && a->v.s ? a->v.s : "";
}

int cg_is_elementwise(ir_op op)
{
    switch (op) {
    case IR_OP_SWISH: case IR_OP_SILU: case IR_OP_RELU: case IR_OP_SIGMOID: case IR_OP_TANH:
    case IR_OP_LEAKY_RELU: case IR_OP_SCALE:
        return 1;
    default:
        return 0;
    }
}

int cg_param_in_optimizer(const ir_model *m, const ir_section *os, int p)
{
    const ir_setting *ps = ir_setting_find(os, "params");
    if (!ps || ps->v.kind != IR_V_STRINGS) return 0;
    for (int j = 0; j < ps->v.n; j++) {
        size_t l = strlen(ps->v.strs[j]);
        if (strncmp(m->params[p].name, ps->v.strs[j], l) == 0 &&
            (m->params[p].name[l] == '.' || m->params[p].name[l] == '\0'))
            return 1;
    }
    return 0;
}

int64_t cg_tensor_per_image(const cg *g, int t) { return ir_shape_numel(&g->m->tensors[t].shape); }

int cg_new_val(cg *g, pv_kind kind, int64_t per_image, int64_t fixed, int tensor, const char *fmt, ...)
{
    if (g->n_vals == g->cap_vals) {
        int cap = g->cap_vals ? 2 * g->cap_vals : 256;
        pv *v = realloc(g->vals, (size_t)cap * sizeof *v);
        if (!v) return -1;
        g->vals = v;
        g->cap_vals = cap;
    }
    pv *v = &g->vals[g->n_vals];
    memset(v, 0, sizeof *v);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->name, sizeof v->name, fmt, ap);
    va_end(ap);
    v->kind = kind;
    v->per_image = per_image;
    v->fixed = fixed;
    v->tensor = tensor;
    v->first = v->last = -1;
    return g->n_vals++;
}

/* Parameter offsets: trainables in the params slab, buffers in the buffers
 * slab, each in IR (= checkpoint) order, 16-float aligned so every tensor
 * starts on a cache line. */
static void place_params(cg *g)
{
    const ir_model *m = g->m;
    g->param_off = calloc((size_t)(m->n_params ? m->n_params : 1), sizeof *g->param_off);
    int64_t p = 0, b = 0;
    for (int i = 0; i < m->n_params; i++) {
        int64_t n = ir_shape_numel(&m->params[i].shape);
        if (m->params[i].shape.rank == 0) n = 1;
        int64_t *slot = m->params[i].role == IR_TRAINABLE ? &p : &b;
        g->param_off[i] = *slot;
        *slot += (n + 15) / 16 * 16;
    }
    g->n_param_floats = p;
    g->n_buffer_floats = b;
}

int cg_build(cg *g, const ir_model *m, diag_sink *d, int64_t recompute_min)
{
    memset(g, 0, sizeof *g);
    g->m = m;
    g->recompute_min = recompute_min;
    g->d = d;
    const char *slash = strrchr(m->src->path, '/');
    g->model_file = slash ? slash + 1 : m->src->path;
    g->x_val = -1;
    g->recon_t = -1;
    if (!m->graphs[IR_ENCODER].present || !m->graphs[IR_DECODER].present) {
        diag_error(d, m->graphs[IR_ENCODER].loc, "code generation needs both an encoder and a decoder");
        return 1;
    }
    size_t nt = (size_t)(m->n_tensors ? m->n_tensors : 1);
    g->units = calloc((size_t)(m->n_nodes ? m->n_nodes : 1), sizeof *g->units);
    g->tval = malloc(nt * sizeof *g->tval);
    g->gval = malloc(nt * sizeof *g->gval);
    g->rval = malloc(nt * sizeof *g->rval);
    g->needs_grad = calloc(nt, sizeof *g->needs_grad);
    g->n_consumers = calloc(nt, sizeof *g->n_consumers);
    if (!g->units || !g->tval || !g->gval || !g->rval || !g->needs_grad || !g->n_consumers) {
        diag_error(d, m->graphs[IR_ENCODER].loc, "out of memory planning the model");
        return 1;
    }
    for (size_t i = 0; i < nt; i++) g->tval[i] = g->gval[i] = g->rval[i] = -1;
    g->n_units = m->n_nodes;
    place_params(g);

    for (int i = 0; i < m->n_nodes; i++) {
        const ir_node *n = &m->nodes[i];
        if (!cg_emitter(n->op)->fwd) {
            diag_error(d, n->loc, "the code generator does not handle op '%s' yet", ir_op_name(n->op));
            return 1;
        }
    }
    if (pass_fuse(g)) return 1;
    if (autodiff(g)) return 1;
    if (pass_keep(g)) return 1;
    if (pass_recompute(g)) return 1;
    if (pass_memplan(g)) return 1;
    return d->errors ? 1 : 0;
}

void cg_free(cg *g)
{
    free(g->units);
    free(g->tval);
    free(g->gval);
    free(g->rval);
    free(g->needs_grad);
    free(g->n_consumers);
    free(g->vals);
    free(g->steps);
    free(g->param_off);
    memset(g, 0, sizeof *g);
}

static const char *step_name(step_kind k)
{
    switch (k) {
    case ST_FWD: return "forward";
    case ST_LOSS_FWD: return "loss";
    case ST_LOSS_BWD: return "loss (backward)";
    case ST_BWD: return "backward";
    case ST_DISC_LOSS: return "disc loss";
    case ST_RECOMPUTE: return "recompute";
    }
    return "?";
}

static const char *kind_name(pv_kind k)
{
    switch (k) {
    case PV_ACT: return "act";
    case PV_GRAD: return "grad";
    case PV_SAVED: return "saved";
    case PV_INDEX: return "index";
    }
    return "?";
}

static void unit_label(const cg *g, const unit *u, char *buf, size_t n)
{
    const ir_node *nd = cg_node(g, u->node);
    size_t k = (size_t)snprintf(buf, n, "%s", ir_op_name(nd->op));
    for (int i = 0; i < u->n_fused && k < n; i++)
        k += (size_t)snprintf(buf + k, n - k, "+%s", ir_op_name(cg_node(g, u->fused[i])->op));
    if (k < n) snprintf(buf + k, n - k, " %s", nd->path ? nd->path : "-");
}

void cg_dump_plan(FILE *out, const cg *g)
{
    const ir_model *m = g->m;
    int64_t B = ir_get_int(&m->train, "batch", 1);
    fprintf(out, "plan %s (%s), batch %lld\n\n", m->name, m->src->path, (long long)B);
    fprintf(out, "fuse: %d group_norm+swish, %d epilogues (activation/residual folded into the producer), "
                 "%d elementwise chains, %d identities\n\n",
            g->n_fused_gn_swish, g->n_fused_epilogue, g->n_fused_chain, g->n_identity);
    fprintf(out, "schedule (%d steps)\n", g->n_steps);
    for (int s = 0; s < g->n_steps; s++) {
        const step *st = &g->steps[s];
        char lab[256] = "";
        if (st->kind == ST_FWD || st->kind == ST_BWD || st->kind == ST_RECOMPUTE) {
            const unit *u = &g->units[st->unit];
            unit_label(g, u, lab, sizeof lab);
            if (u->res_node >= 0 || u->act_node >= 0) strncat(lab, " [epilogue]", sizeof lab - strlen(lab) - 1);
        } else if (st->kind == ST_DISC_LOSS) {
            snprintf(lab, sizeof lab, "%s on the logits (the discriminator's part runs from step %d on)",
                     ir_get_string(&m->loss, "disc_loss", "hinge"), g->disc_step0);
        } else {
            snprintf(lab, sizeof lab, "%s", ir_get_string(&m->loss, "reconstruction", "l1"));
        }
        fprintf(out, "  %3d %-16s %s\n", s, step_name(st->kind), lab);
    }
    fprintf(out, "\nkeep: forward values read by backward\n");
    int kept = 0, dropped = 0;
    int last_fwd = -1;
    for (int s = 0; s < (g->has_disc ? g->disc_step0 : g->n_steps); s++)
        if (g->steps[s].kind == ST_FWD) last_fwd = s;
    for (int v = 0; v < g->n_vals; v++) {
        const pv *p = &g->vals[v];
        if (p->kind == PV_GRAD || p->first < 0 || p->segment || p->recomputed) continue;
        if (p->last > last_fwd + 1 || p->pinned) {
            kept++;
            fprintf(out, "  %-40s %s%s\n", p->name, kind_name(p->kind), p->pinned ? " (pinned: read after the step)" : "");
        } else {
            dropped++;
        }
    }
    fprintf(out, "  %d kept, %d dead after forward\n", kept, dropped);
    fprintf(out, "\nrecompute: group_norm outputs rebuilt in backward instead of kept (>= %lld floats per image)\n",
            (long long)g->recompute_min);
    if (g->recompute_min < 0) fprintf(out, "  off\n");
    for (int v = 0; v < g->n_vals; v++)
        if (g->vals[v].recomputed) fprintf(out, "  %s\n", g->vals[v].name);
    fprintf(out, "  %d recomputed\n", g->n_recomputed);
    fprintf(out, "\narena (per-image offsets x batch; fixed part after)\n");
    for (int v = 0; v < g->n_vals; v++) {
        const pv *p = &g->vals[v];
        if (p->first < 0) continue;
        if (p->per_image)
            fprintf(out, "  %-40s %-5s off %9lld x B  size %9lld x B  live %3d..%-3d\n", p->name, kind_name(p->kind),
                    (long long)p->offset, (long long)p->per_image, p->first, p->last);
        else
            fprintf(out, "  %-40s %-5s fixed %9lld  size %9lld      live %3d..%-3d\n", p->name, kind_name(p->kind),
                    (long long)p->offset, (long long)p->fixed, p->first, p->last);
    }
    double planned = (double)(g->arena_per_image * B + g->arena_fixed) * 4.0;
    double naive = (double)(g->naive_per_image * B + g->naive_fixed) * 4.0;
    fprintf(out, "\nmemplan at batch %lld: planned %.0f bytes (%.2f MiB), naive sum %.0f bytes (%.2f MiB), "
                 "%.1f%% of naive; plus conv/attention scratch (sized at create)\n",
            (long long)B, planned, planned / 1048576.0, naive, naive / 1048576.0, naive > 0 ? 100.0 * planned / naive : 0.0);
    fprintf(out, "slabs: params %lld floats, buffers %lld floats\n", (long long)g->n_param_floats,
            (long long)g->n_buffer_floats);
}
