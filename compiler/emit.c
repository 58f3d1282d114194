/* emit.c: writes the generated model: DIR/<model>.c (every shape a constant,
 * one block per unit with its .vq location, op, instance path and pass),
 * DIR/<model>.h (the API), DIR/main.c (the driver program) and DIR/Makefile.
 *
 * The .c implements runtime/model_desc.h's contract: slabs for params, grads
 * and buffers, one activation arena laid out by memplan, the tensor table, and
 * create/forward/backward/encode/decode/after_step. Per-op code comes from the
 * emitters in ops/<family>.c; this file writes everything around them, plus the
 * in-place epilogues (residual add, activation) that fuse attaches to a unit.
 * Not here: any decision about fusion, gradients or memory (see the passes).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "autodiff.h"
#include "codegen.h"
#include "emit_ops.h"
#include "emit_internal.h"
#include "emit_profile.h"

#ifndef VQC_VERSION
#define VQC_VERSION "unknown"
#endif

static const char *basename_of(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

void block_comment(emit_ctx *e, const unit *u, const char *pass)
{
    const ir_node *n = cg_node(e->g, u->node);
    char fused[256] = "";
    size_t k = 0;
    for (int i = 0; i < u->n_fused && k < sizeof fused; i++)
        k += (size_t)snprintf(fused + k, sizeof fused - k, "%s%s", i ? ", " : "; fused: ",
                              ir_op_name(cg_node(e->g, u->fused[i])->op));
    cw_line(e->w, "/* %s:%d:%d %s %s (%s%s) %s -> %s */", n->loc.file ? basename_of(n->loc.file->path) : "?",
            n->loc.first_line, n->loc.first_col, ir_op_name(n->op), n->path ? n->path : "-", pass, fused,
            e_shape(e, n->in[0]), e_shape(e, u->out));
}

/* After the op: out += residual, then out = act(out), in place. */
static void epilogue_fwd(emit_ctx *e, const unit *u)
{
    if (u->res_tensor < 0 && u->act_node < 0) return;
    const ir_node *n = cg_node(e->g, u->node);
    cw_begin(e->w);
    cw_line(e->w, "/* epilogue (fuse):%s%s */", u->res_tensor >= 0 ? " + residual" : "",
            u->act_node >= 0 ? e_fmt(e, " then %s", ir_op_name(cg_node(e->g, u->act_node)->op)) : "");
    cw_line(e->w, "float *y = %s;", e_act(e, n->out[0]));
    if (u->res_tensor >= 0) cw_line(e->w, "const float *r = %s;", e_act(e, u->res_tensor));
    cw_line(e->w, "const size_t n = %s;", e_numel(e, u->out));
    cw_line(e->w, "#pragma omp parallel for if (n > 32768)");
    cw_open(e->w, "for (size_t i = 0; i < n; i++)");
    cw_line(e->w, "float v = y[i]%s;", u->res_tensor >= 0 ? " + r[i]" : "");
    if (u->act_node >= 0) cw_line(e->w, "v = %s;", elem_fwd_expr(e, cg_node(e->g, u->act_node), "v"));
    cw_line(e->w, "y[i] = v;");
    cw_close(e->w, "");
    cw_close(e->w, "");
}

/* Before the op's backward: dy *= act'(y) in place, then d residual += dy. */
void epilogue_bwd(emit_ctx *e, const unit *u)
{
    int dres = u->res_tensor >= 0 && e->g->gval[u->res_tensor] >= 0;
    if (u->act_node < 0 && !dres) return;
    cw_begin(e->w);
    cw_line(e->w, "/* epilogue backward (fuse) */");
    cw_line(e->w, "float *dy = %s;", e_grad(e, u->out));
    if (u->act_node >= 0) cw_line(e->w, "const float *y = %s;", e_act(e, u->out));
    if (dres) cw_line(e->w, "float *dr = %s;", e_grad(e, u->res_tensor));
    cw_line(e->w, "const size_t n = %s;", e_numel(e, u->out));
    cw_line(e->w, "#pragma omp parallel for if (n > 32768)");
    cw_open(e->w, "for (size_t i = 0; i < n; i++)");
    if (u->act_node >= 0) cw_line(e->w, "dy[i] *= %s;", elem_deriv_expr(e, cg_node(e->g, u->act_node), "y[i]", "y[i]"));
    if (dres) cw_line(e->w, "dr[i] += dy[i];");
    cw_close(e->w, "");
    cw_close(e->w, "");
}

void zero_grad_once(emit_ctx *e, char *zeroed, int t)
{
    int v = t >= 0 ? e->g->gval[t] : -1;
    if (v < 0 || zeroed[v]) return;
    zeroed[v] = 1;
    cw_line(e->w, "memset(%s, 0, sizeof(float) * %s);  /* d%s %s, first written here */", e_val(e, v), e_numel(e, t),
            e_fmt(e, "%%%d", t), e_shape(e, t));
}

/* 1 when u's backward may overwrite in[0]'s gradient: the op's emitter can, nothing has
 * written that gradient yet, and no other gradient the unit touches shares its value (the
 * epilogue adds into the residual's gradient before the op's backward runs). Marks it zeroed. */
static int first_writer(emit_ctx *e, char *zeroed, const unit *u, const ir_node *n)
{
    if (!cg_emitter(n->op)->overwrite_dx || n->n_in < 1) return 0;
    const int *gv = e->g->gval, v = gv[n->in[0]];
    if (v < 0 || zeroed[v] || gv[u->out] == v) return 0;
    if (u->res_tensor >= 0 && gv[u->res_tensor] == v) return 0;
    for (int k = 1; k < n->n_in; k++)
        if (gv[n->in[k]] == v) return 0;
    zeroed[v] = 1;
    return 1;
}

static const char *unit_sym(emit_ctx *e, const unit *u, const char **syms)
{
    (void)e;
    return syms[u->node];
}

/* A the arena, MB its batch capacity, F its fixed part, S the shared scratch. */
void emit_arena_locals(cwriter *w)
{
    cw_line(w, "float *const A = m->act;");
    cw_line(w, "const size_t MB = (size_t)m->max_b;");
    cw_line(w, "float *const F = A + (size_t)ARENA_PER_IMAGE * MB;");
    cw_line(w, "float *const S = F + ARENA_FIXED;");
}

void emit_forward_graph(emit_ctx *e, ir_graph_kind gk, const char **syms, const char *fname)
{
    const cg *g = e->g;
    cw_open(e->w, "static int %s(vq_model *m, int B, vq_mode mode, vq_rng *rng)", fname);
    emit_arena_locals(e->w);
    cw_line(e->w, "float *const P = m->params, *const BU = m->buffers;");
    cw_line(e->w, "(void)A; (void)MB; (void)F; (void)S; (void)P; (void)BU; (void)mode; (void)rng; (void)B;");
    for (int s = 0; s < g->n_steps; s++) {
        const step *st = &g->steps[s];
        if (st->kind != ST_FWD) continue;
        const unit *u = &g->units[st->unit];
        if (cg_node(g, u->node)->graph != gk) continue;
        cw_blank(e->w);
        block_comment(e, u, "forward");
        prof_emit_start(e);
        cw_begin(e->w);
        cg_emitter(cg_node(g, u->node)->op)->fwd(e, u, unit_sym(e, u, syms));
        cw_close(e->w, "");
        epilogue_fwd(e, u);
        prof_emit_unit(e, u, PROF_FWD);
    }
    cw_line(e->w, "return 0;");
    cw_close(e->w, "");
    cw_blank(e->w);
}

static const char *rec_kind(const cg *g) { return ir_get_string(&g->m->loss, "reconstruction", "l1"); }

/* The ST_BWD steps of the autoencoder (disc 0) or of the discriminator (disc 1),
 * in schedule order; zeroed marks gradient values already cleared. */
void emit_backward_units(emit_ctx *e, const char **syms, int disc, char *zeroed)
{
    const cg *g = e->g;
    e->in_backward = 1;
    for (int s = 0; s < g->n_steps; s++) {
        const step *st = &g->steps[s];
        if (st->kind != ST_BWD && st->kind != ST_RECOMPUTE) continue;
        const unit *u = &g->units[st->unit];
        const ir_node *n = cg_node(g, u->node);
        if ((n->graph == IR_DISCRIMINATOR) != disc) continue;
        if (st->kind == ST_RECOMPUTE) {   /* passes/recompute.c: the forward again, into g->rval */
            cw_blank(e->w);
            block_comment(e, u, "recompute");
            prof_emit_start(e);
            cw_begin(e->w);
            cg_emitter(n->op)->fwd(e, u, unit_sym(e, u, syms));
            cw_close(e->w, "");
            prof_emit_unit(e, u, PROF_BWD);
            continue;
        }
        cw_blank(e->w);
        block_comment(e, u, "backward");
        prof_emit_start(e);
        cw_begin(e->w);
        zero_grad_once(e, zeroed, u->out);   /* an output nothing consumed: zero gradient */
        e->dx_first = first_writer(e, zeroed, u, n);
        for (int k = 0; k < n->n_in; k++) zero_grad_once(e, zeroed, n->in[k]);   /* skips a first-written dx */
        if (u->res_tensor >= 0) zero_grad_once(e, zeroed, u->res_tensor);
        cw_close(e->w, "");
        epilogue_bwd(e, u);
        prof_emit_unit(e, u, PROF_BWD);   /* zeroing + epilogue apart from a conv's weight-grad row */
        cw_begin(e->w);
        cg_emitter(n->op)->bwd(e, u, unit_sym(e, u, syms));
        e->dx_first = 0;
        cw_close(e->w, "");
        prof_emit_unit(e, u, PROF_BWD);
    }
    e->in_backward = 0;
}

static void emit_backward(emit_ctx *e, const char **syms)
{
    const cg *g = e->g;
    char *zeroed = calloc((size_t)(g->n_vals ? g->n_vals : 1), 1);
    cw_open(e->w, "static int model_backward(vq_model *m)");
    cw_line(e->w, "if (!m->trained) return vq_fail(VQ_ERR_ARG, \"%s: backward needs a TRAIN forward first\");", g->m->name);
    cw_line(e->w, "const int B = m->B;");
    emit_arena_locals(e->w);
    cw_line(e->w, "float *const P = m->params, *const G = m->grads, *const BU = m->buffers;");
    cw_line(e->w, "(void)A; (void)MB; (void)F; (void)S; (void)P; (void)G; (void)BU;");
    for (int s = 0; s < g->n_steps; s++) {
        const step *st = &g->steps[s];
        if (st->kind == ST_LOSS_BWD) {
            cw_blank(e->w);
            cw_line(e->w, "/* loss (backward): d x_hat = %g * d %s(x_hat, x) */", ir_get_float(&g->m->loss, "reconstruction_weight", 1.0),
                    rec_kind(g));
            prof_emit_start(e);
            cw_begin(e->w);
            zero_grad_once(e, zeroed, g->recon_t);
            cw_line(e->w, "vq_%s_loss_backward(%s, %s, %s, %s, (float)REC_WEIGHT);", rec_kind(g), e_grad(e, g->recon_t),
                    e_act(e, g->recon_t), e_val(e, g->x_val), e_numel(e, g->recon_t));
            emit_gan_loss_backward(e);
            cw_close(e->w, "");
            prof_emit_loss(e, PROF_BWD);
            emit_backward_units(e, syms, 0, zeroed);
            break;
        }
    }
    cw_line(e->w, "m->trained = 0;  /* backward reused forward buffers: the next backward needs a new forward */");
    cw_line(e->w, "return 0;");
    cw_close(e->w, "");
    cw_blank(e->w);
    free(zeroed);
}

static void tensor_init(const ir_param *p, char *buf, size_t n)
{
    switch (p->init.kind) {
    case IR_INIT_ZEROS: snprintf(buf, n, "{VQ_FILL_CONSTANT, 0.0, 0.0, 0}"); break;
    case IR_INIT_ONES: snprintf(buf, n, "{VQ_FILL_CONSTANT, 1.0, 0.0, 0}"); break;
    case IR_INIT_UNIFORM: snprintf(buf, n, "{VQ_FILL_UNIFORM, %.17g, %.17g, 0}", p->init.a, p->init.b); break;
    case IR_INIT_NORMAL: snprintf(buf, n, "{VQ_FILL_NORMAL, %.17g, %.17g, 0}", p->init.a, p->init.b); break;
    case IR_INIT_PYTORCH:
        snprintf(buf, n, "{VQ_FILL_PYTORCH_DEFAULT, 0.0, 0.0, %lld}", (long long)p->init.fan_in);
        break;
    default: snprintf(buf, n, "{VQ_FILL_MODEL, 0.0, 0.0, 0}"); break;
    }
}

static void emit_tables(emit_ctx *e)
{
    const ir_model *m = e->g->m;
    cwriter *w = e->decl;
    cw_line(w, "/* The tensor table: every parameter and buffer, checkpoint order; offsets into the params");
    cw_line(w, " * (trainable) or buffers slab, in floats. */");
    cw_open(w, "static const vq_tensor_desc tensors[%d] =", m->n_params ? m->n_params : 1);
    for (int i = 0; i < m->n_params; i++) {
        const ir_param *p = &m->params[i];
        char shape[128] = "", init[160], module[256];
        size_t k = 0;
        for (int d = 0; d < p->shape.rank; d++)
            k += (size_t)snprintf(shape + k, sizeof shape - k, "%s%lld", d ? ", " : "", (long long)p->shape.d[d]);
        if (!p->shape.rank) snprintf(shape, sizeof shape, "0");
        tensor_init(p, init, sizeof init);
        snprintf(module, sizeof module, "%s", p->name);
        char *dot = strrchr(module, '.');
        if (dot) *dot = '\0';
        int64_t numel = p->shape.rank ? ir_shape_numel(&p->shape) : 1;
        cw_line(w, "{\"%s\", \"%s\", %s, %d, {%s}, %lld, %lld, %s, \"%s:%d:%d\"},", p->name, module,
                p->role == IR_TRAINABLE ? "VQ_ROLE_TRAINABLE" : "VQ_ROLE_BUFFER", p->shape.rank, shape,
                (long long)e->g->param_off[i], (long long)numel, init,
                p->loc.file ? basename_of(p->loc.file->path) : "?", p->loc.first_line, p->loc.first_col);
    }
    if (!m->n_params) cw_line(w, "{0}");
    cw_close(w, ";");
    cw_blank(w);
}

/* --- the codebooks: options, slab sync ------------------------------------ */

/* A codebook's lookup dimension d: lookup_dim, or D without projection. */
static int64_t cb_code_len(const ir_codebook *cb) { return cb->lookup_dim ? cb->lookup_dim : cb->dim; }

static int any_lookup_dim(const ir_model *m)
{
    for (int c = 0; c < m->n_codebooks; c++)
        if (m->codebooks[c].lookup_dim) return 1;
    return 0;
}

static void emit_codebook_fns(emit_ctx *e)
{
    const ir_model *m = e->g->m;
    cwriter *w = e->w;
    cw_line(w, "/* The runtime codebook owns its arrays (quantizer.h), the slabs hold the checkpointed");
    cw_line(w, " * tensors: cb_pull copies slab -> codebook before a forward, cb_push copies back after");
    if (any_lookup_dim(m)) {
        cw_line(w, " * the codebook changed itself (k-means init, EMA update, dead-code restart).");
        cw_line(w, " * With lookup_dim the projections travel too (k-means init redraws them). */");
    } else {
        cw_line(w, " * the codebook changed itself (k-means init, EMA update, dead-code restart). */");
    }
    for (int dir = 0; dir < 2; dir++) {
        cw_open(w, "static void cb_%s(vq_model *m, int c)", dir ? "push" : "pull");
        cw_line(w, "(void)m;");
        cw_open(w, "switch (c)");
        for (int c = 0; c < m->n_codebooks; c++) {
            const ir_codebook *cb = &m->codebooks[c];
            int ros = strcmp(cb->naming, "rosinality") == 0;
            cw_open(w, "case %d:", c);
            /* cb->param: the table, [cluster_size, embed_avg], then lookup_dim's four projections */
            const char *dst[7] = {"embed", "cluster_size", "embed_avg"};
            const char *proj[4] = {"proj_in_w", "proj_in_b", "proj_out_w", "proj_out_b"};
            int nbase = cb->n_param - (cb->lookup_dim ? 4 : 0);
            for (int k = 0; k < 4; k++) dst[nbase + k] = proj[k];
            for (int k = 0; k < cb->n_param; k++) {
                const ir_param *p = &m->params[cb->param[k]];
                const char *slab = p->role == IR_TRAINABLE ? "m->params" : "m->buffers";
                int64_t off = e->g->param_off[cb->param[k]], numel = ir_shape_numel(&p->shape);
                if (k == 1 || k >= nbase || !ros) {
                    if (dir) cw_line(w, "memcpy(%s + %lld, m->cb[%d].%s, sizeof(float) * %lld);", slab, (long long)off, c, dst[k], (long long)numel);
                    else cw_line(w, "memcpy(m->cb[%d].%s, %s + %lld, sizeof(float) * %lld);", c, dst[k], slab, (long long)off, (long long)numel);
                } else if (dir) {
                    cw_line(w, "vq_embed_to_dk(%s + %lld, m->cb[%d].%s, %lld, %lld);", slab, (long long)off, c, dst[k],
                            (long long)cb->entries, (long long)cb_code_len(cb));
                } else {
                    cw_line(w, "vq_embed_from_dk(m->cb[%d].%s, %s + %lld, %lld, %lld);", c, dst[k], slab, (long long)off,
                            (long long)cb->entries, (long long)cb_code_len(cb));
                }
            }
            cw_line(w, "break;");
            cw_close(w, "");
        }
        cw_line(w, "default: break;");
        cw_close(w, "");
        cw_close(w, "");
        cw_blank(w);
    }
}

static void emit_cb_opts(emit_ctx *e)
{
    const ir_model *m = e->g->m;
    cwriter *w = e->w;
    cw_open(w, "static void cb_opts(vq_codebook_opts *o, int c)");
    cw_open(w, "switch (c)");
    for (int c = 0; c < m->n_codebooks; c++) {
        const ir_codebook *cb = &m->codebooks[c];
        cw_open(w, "case %d:  /* %s */", c, cb->name);
        cw_line(w, "vq_codebook_opts_default(o, %lld, %lld);", (long long)cb->entries, (long long)cb->dim);
        cw_line(w, "o->beta = (float)%.9g;", cb->beta);
        cw_line(w, "o->loss_form = %s;", strcmp(cb->loss, "corrected") == 0 ? "VQ_LOSS_CORRECTED" : "VQ_LOSS_LEGACY");
        cw_line(w, "o->update = %s;", strcmp(cb->update, "ema") == 0 ? "VQ_UPDATE_EMA" : "VQ_UPDATE_GRADIENT");
        cw_line(w, "o->decay = %.17g;", cb->decay);
        cw_line(w, "o->eps = %.17g;", cb->eps);
        cw_line(w, "o->distance = %s;", strcmp(cb->distance, "cosine") == 0 ? "VQ_DIST_COSINE" : "VQ_DIST_L2");
        cw_line(w, "o->init = %s;", strcmp(cb->init, "kmeans") == 0 ? "VQ_INIT_KMEANS"
                                    : strcmp(cb->init, "normal") == 0 ? "VQ_INIT_NORMAL" : "VQ_INIT_UNIFORM");
        cw_line(w, "o->kmeans_iters = 10;");
        cw_line(w, "o->restart_after = %lld;", (long long)cb->restart_after);
        cw_line(w, "o->restart_threshold = (float)%.9g;", cb->restart_threshold);
        if (cb->lookup_dim) cw_line(w, "o->lookup_dim = %lld;  /* d: P_in (d, D), P_out (D, d) */", (long long)cb->lookup_dim);
        cw_line(w, "break;");
        cw_close(w, "");
    }
    cw_line(w, "default: break;");
    cw_close(w, "");
    cw_close(w, "");
    cw_blank(w);
}

/* --- everything around the units -------------------------------------------- */

static int n_codebooks(const cg *g) { return g->m->n_codebooks ? g->m->n_codebooks : 0; }

static void emit_struct(emit_ctx *e)
{
    cwriter *w = e->w;
    int ncb = n_codebooks(e->g);
    prof_emit_table(e);
    cw_open(w, "struct vq_model");
    cw_line(w, "int max_b;                 /* MB: the arena holds this many images */");
    cw_line(w, "int B;                     /* batch of the last forward */");
    cw_line(w, "int trained;               /* the last forward was TRAIN: backward may run */");
    cw_line(w, "float *params, *grads;     /* (N_PARAMS) each */");
    cw_line(w, "float *buffers;            /* (N_BUFFERS) */");
    cw_line(w, "float *act;                /* the arena: ARENA_PER_IMAGE * MB + ARENA_FIXED + scratch floats */");
    cw_line(w, "float loss[N_LOSSES];      /* total, rec, q_loss per codebook */");
    cw_line(w, "vq_codebook cb[%d];", ncb ? ncb : 1);
    cw_line(w, "int kmeans_pending[%d];     /* k-means init waits for the first TRAIN batch */", ncb ? ncb : 1);
    cw_line(w, "float *cb_dtmp[%d];         /* (K, D) gradient in the codebook's layout, rosinality naming */", ncb ? ncb : 1);
    int nst = any_lookup_dim(e->g->m) ? 12 : 8;   /* vq_codebook_state's entries (11 with projections) */
    cw_line(w, "char state_names[%d][%d][96];", ncb ? ncb : 1, nst);
    cw_line(w, "int64_t state_shapes[%d][%d][2];", ncb ? ncb : 1, nst);
    emit_gan_members(e);
    prof_emit_members(e);
    cw_close(w, ";");
    cw_blank(w);
    prof_emit_functions(e);
}

static void emit_lifecycle(emit_ctx *e)
{
    const cg *g = e->g;
    cwriter *w = e->w;
    int ncb = n_codebooks(g);
    cw_line(w, "/* Checks every shape at max_b and sizes the shared scratch (conv columns, attention). */");
    cw_open(w, "static int plan_scratch(int max_b, size_t *scratch)");
    cw_line(w, "(void)max_b;");
    cw_line(w, "*scratch = 16;");
    cw_raw(w, "%s", cw_text(e->setup));
    cw_line(w, "*scratch = (*scratch + 15) / 16 * 16;");
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);
    cw_open(w, "static size_t model_arena_bytes(int max_b)");
    cw_line(w, "size_t scratch = 0;");
    cw_line(w, "if (max_b < 1 || plan_scratch(max_b, &scratch)) return 0;");
    cw_line(w, "return ((size_t)ARENA_PER_IMAGE * (size_t)max_b + ARENA_FIXED + scratch) * sizeof(float);");
    cw_close(w, "");
    cw_blank(w);
    cw_open(w, "static void model_destroy(vq_model *m)");
    cw_line(w, "if (!m) return;");
    cw_open(w, "for (int c = 0; c < N_CODEBOOKS; c++)");
    cw_line(w, "vq_codebook_destroy(&m->cb[c]);");
    cw_line(w, "vq_free(m->cb_dtmp[c]);");
    cw_close(w, "");
    cw_line(w, "vq_free(m->params);");
    cw_line(w, "vq_free(m->grads);");
    cw_line(w, "vq_free(m->buffers);");
    cw_line(w, "vq_free(m->act);");
    emit_gan_destroy(e);
    cw_line(w, "free(m);");
    cw_close(w, "");
    cw_blank(w);
    cw_open(w, "static int model_create(vq_model **out, int max_b)");
    cw_line(w, "*out = NULL;");
    cw_line(w, "if (max_b < 1) return vq_fail(VQ_ERR_ARG, \"%s: max batch %%d must be >= 1\", max_b);", g->m->name);
    cw_line(w, "size_t scratch = 0;");
    cw_line(w, "int rc = plan_scratch(max_b, &scratch);");
    cw_line(w, "if (rc) return rc;");
    cw_line(w, "vq_model *m = calloc(1, sizeof *m);");
    cw_line(w, "if (!m) return vq_fail(VQ_ERR_NOMEM, \"%s: out of memory\");", g->m->name);
    cw_line(w, "m->max_b = max_b;");
    cw_line(w, "m->params = vq_alloc(sizeof(float) * (N_PARAMS + 16));");
    cw_line(w, "m->grads = vq_alloc(sizeof(float) * (N_PARAMS + 16));");
    cw_line(w, "m->buffers = vq_alloc(sizeof(float) * (N_BUFFERS + 16));");
    cw_line(w, "m->act = vq_alloc(model_arena_bytes(max_b));");
    cw_open(w, "if (!m->params || !m->grads || !m->buffers || !m->act)");
    cw_line(w, "model_destroy(m);");
    cw_line(w, "return vq_fail(VQ_ERR_NOMEM, \"%s: out of memory for batch %%d (%%zu arena bytes)\", max_b, "
               "model_arena_bytes(max_b));", g->m->name);
    cw_close(w, "");
    cw_open(w, "for (int c = 0; c < N_CODEBOOKS; c++)");
    cw_line(w, "vq_codebook_opts o;");
    cw_line(w, "cb_opts(&o, c);");
    cw_line(w, "rc = vq_codebook_create(&m->cb[c], &o);");
    cw_line(w, "if (!rc && !(m->cb_dtmp[c] = vq_alloc(sizeof(float) * (size_t)o.K * (size_t)o.D))) rc = VQ_ERR_NOMEM;");
    cw_open(w, "if (rc)");
    cw_line(w, "model_destroy(m);");
    cw_line(w, "return rc;");
    cw_close(w, "");
    cw_close(w, "");
    cw_line(w, "rc = 0;");
    emit_gan_create(e);
    cw_open(w, "if (rc)");
    cw_line(w, "model_destroy(m);");
    cw_line(w, "return vq_fail(VQ_ERR_NOMEM, \"%s: out of memory for batch %%d\", max_b);", g->m->name);
    cw_close(w, "");
    cw_line(w, "*out = m;");
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);
    cw_line(w, "static float *model_params(vq_model *m) { return m->params; }");
    cw_line(w, "static float *model_grads(vq_model *m) { return m->grads; }");
    cw_line(w, "static float *model_buffers(vq_model *m) { return m->buffers; }");
    cw_line(w, "static void model_zero_grads(vq_model *m) { memset(m->grads, 0, sizeof(float) * N_PARAMS); }");
    cw_line(w, "static const float *model_loss_values(vq_model *m) { return m->loss; }");
    cw_line(w, "static const float *model_recon(vq_model *m) { return RECON(m); }");
    cw_blank(w);

    /* state: the codebooks' usage counters (their embedding, EMA arrays and projections are slab tensors) */
    cw_line(w, "/* Codebook state outside the slabs (usage counters): name \"<codebook>.<array>\". */");
    cw_open(w, "static int model_state(vq_model *m, vq_st_ref *out, int max)");
    cw_raw(w, "    static const char *const cb_names[%d] = {", ncb ? ncb : 1);
    for (int c = 0; c < ncb; c++) cw_raw(w, "%s\"%s\"", c ? ", " : "", g->m->codebooks[c].name);
    cw_raw(w, "%s};\n", ncb ? "" : "\"\"");
    cw_line(w, "int n = 0;");
    cw_open(w, "for (int c = 0; c < N_CODEBOOKS; c++)");
    int nst = any_lookup_dim(g->m) ? 12 : 8;
    cw_line(w, "vq_state_entry ent[%d];", nst);
    cw_line(w, "int k = vq_codebook_state(ent, %d, &m->cb[c]);", nst);
    cw_open(w, "for (int i = 0; i < k; i++)");
    cw_line(w, "if (!strcmp(ent[i].name, \"embed\") || !strcmp(ent[i].name, \"cluster_size\") || "
               "!strcmp(ent[i].name, \"embed_avg\")%s) continue;",
            any_lookup_dim(g->m) ? " || !strncmp(ent[i].name, \"proj_\", 5)" : "");
    cw_open(w, "if (n < max)");
    cw_line(w, "snprintf(m->state_names[c][i], sizeof m->state_names[c][i], \"%%s.%%s\", cb_names[c], ent[i].name);");
    cw_line(w, "m->state_shapes[c][i][0] = ent[i].shape[0];");
    cw_line(w, "m->state_shapes[c][i][1] = ent[i].shape[1];");
    cw_line(w, "out[n].name = m->state_names[c][i];");
    cw_line(w, "out[n].dtype = ent[i].dtype == VQ_STATE_F32 ? VQ_DT_F32 : ent[i].dtype == VQ_STATE_I32 ? VQ_DT_I32 : VQ_DT_I64;");
    cw_line(w, "out[n].ndim = ent[i].ndim;");
    cw_line(w, "out[n].shape = m->state_shapes[c][i];");
    cw_line(w, "out[n].data = ent[i].data;");
    cw_close(w, "");
    cw_line(w, "n++;");
    cw_close(w, "");
    cw_close(w, "");
    cw_line(w, "return n;");
    cw_close(w, "");
    cw_blank(w);

    cw_line(w, "/* After the driver filled the slabs by the init rules: copies (EMA embed_avg = embed),");
    cw_line(w, " * zeroed usage counters, codebooks loaded from the slabs; k-means waits for data. */");
    cw_open(w, "static int model_reset_state(vq_model *m, vq_rng *rng)");
    cw_line(w, "(void)rng;");
    for (int i = 0; i < g->m->n_params; i++) {
        const ir_param *p = &g->m->params[i];
        if (p->init.kind != IR_INIT_COPY) continue;
        const ir_param *src = &g->m->params[p->init.source];
        cw_line(w, "memcpy(%s + %lld, %s + %lld, sizeof(float) * %lld);  /* %s = %s */",
                p->role == IR_TRAINABLE ? "m->params" : "m->buffers", (long long)g->param_off[i],
                src->role == IR_TRAINABLE ? "m->params" : "m->buffers", (long long)g->param_off[p->init.source],
                (long long)ir_shape_numel(&p->shape), p->name, src->name);
    }
    cw_open(w, "for (int c = 0; c < N_CODEBOOKS; c++)");
    cw_line(w, "vq_codebook *cb = &m->cb[c];");
    cw_line(w, "memset(cb->usage_window, 0, sizeof(int64_t) * (size_t)cb->K);");
    cw_line(w, "memset(cb->steps_since_used, 0, sizeof(int32_t) * (size_t)cb->K);");
    cw_line(w, "cb->window_steps = cb->steps = 0;");
    cw_line(w, "m->kmeans_pending[c] = cb->opt.init == VQ_INIT_KMEANS;");
    cw_line(w, "cb_pull(m, c);");
    cw_close(w, "");
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);
}

static int encoder_out_is_zq(const cg *g, int t, int *codebook, int *idx_t)
{
    const ir_tensor *tt = &g->m->tensors[t];
    if (tt->producer < 0) return 0;
    const ir_node *n = cg_node(g, tt->producer);
    if (n->op != IR_OP_QUANTIZE || n->out[0] != t) return 0;
    *codebook = n->codebook;
    *idx_t = n->out[1];
    return 1;
}

static void emit_entry_points(emit_ctx *e)
{
    const cg *g = e->g;
    const ir_model *m = g->m;
    cwriter *w = e->w;
    int64_t img = ir_shape_numel(&m->image);

    /* forward */
    cw_open(w, "static int model_forward(vq_model *m, const float *x, int B, vq_mode mode, vq_rng *rng)");
    cw_line(w, "if (B < 1 || B > m->max_b) return vq_fail(VQ_ERR_ARG, \"%s: batch %%d outside 1..%%d\", B, m->max_b);",
            m->name);
    cw_line(w, "if (mode == VQ_MODE_TRAIN && !rng) return vq_fail(VQ_ERR_ARG, \"%s: TRAIN forward needs an rng\");", m->name);
    cw_line(w, "m->B = B;");
    cw_line(w, "m->trained = 0;");
    prof_emit_start(e);
    cw_line(w, "for (int c = 0; c < N_CODEBOOKS; c++) cb_pull(m, c);");
    cw_line(w, "memcpy(XIN(m), x, sizeof(float) * (size_t)B * %lld);", (long long)img);
    prof_emit_input(e);
    cw_line(w, "int rc = run_encoder(m, B, mode, rng);");
    cw_line(w, "if (!rc) rc = run_decoder(m, B, mode, rng);");
    cw_line(w, "if (rc) return rc;");
    prof_emit_start(e);
    cw_line(w, "/* loss: total = %g * %s(x_hat, x) + %g * sum of the quantizers' losses */",
            ir_get_float(&m->loss, "reconstruction_weight", 1.0), rec_kind(g), ir_get_float(&m->loss, "codebook_weight", 1.0));
    cw_line(w, "vq_%s_loss_forward(&m->loss[1], RECON(m), XIN(m), (size_t)B * %lld);", rec_kind(g), (long long)img);
    cw_line(w, "double q = 0.0;");
    cw_line(w, "for (int c = 0; c < N_CODEBOOKS; c++) q += m->loss[LOSS_Q + c];");
    cw_line(w, "m->loss[0] = (float)(REC_WEIGHT * m->loss[1] + CODEBOOK_WEIGHT * q);");
    emit_gan_forward_losses(e);
    prof_emit_loss(e, PROF_FWD);
    cw_line(w, "m->trained = mode == VQ_MODE_TRAIN;");
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);

    /* indices */
    cw_open(w, "static const int32_t *model_indices(vq_model *m, int c)");
    cw_line(w, "float *const A = m->act;");
    cw_line(w, "const size_t MB = (size_t)m->max_b;");
    cw_line(w, "(void)A; (void)MB;");
    cw_open(w, "switch (c)");
    for (int i = 0; i < m->n_nodes; i++) {
        const unit *u = &g->units[i];
        if (u->absorbed || cg_node(g, i)->op != IR_OP_QUANTIZE) continue;
        if (cg_node(g, i)->codebook >= 0)
            cw_line(w, "case %d: return (const int32_t *)%s;", cg_node(g, i)->codebook, e_act(e, u->out2));
    }
    cw_line(w, "default: return NULL;");
    cw_close(w, "");
    cw_close(w, "");
    cw_blank(w);

    /* encode */
    cw_open(w, "static int model_encode(vq_model *m, int32_t *const *idx, const float *x, int B)");
    cw_line(w, "int rc = model_forward(m, x, B, VQ_MODE_EVAL, NULL);");
    cw_line(w, "if (rc) return rc;");
    cw_open(w, "for (int c = 0; c < N_CODEBOOKS; c++)");
    cw_line(w, "const vq_codebook_desc *cd = &codebooks[c];");
    cw_line(w, "memcpy(idx[c], model_indices(m, c), sizeof(int32_t) * (size_t)B * (size_t)cd->grid_h * (size_t)cd->grid_w);");
    cw_close(w, "");
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);

    /* decode: each decoder input must be a quantizer's z_q */
    const ir_graph *dec = &m->graphs[IR_DECODER];
    int decodable = 1;
    for (int k = 0; k < dec->n_in; k++) {
        int c, it;
        if (!encoder_out_is_zq(g, dec->in[k], &c, &it)) decodable = 0;
    }
    cw_open(w, "static int model_decode(vq_model *m, float *out, const int32_t *const *idx, int B)");
    cw_line(w, "if (B < 1 || B > m->max_b) return vq_fail(VQ_ERR_ARG, \"%s: batch %%d outside 1..%%d\", B, m->max_b);",
            m->name);
    if (!decodable) {
        cw_line(w, "(void)out; (void)idx;");
        cw_line(w, "return vq_fail(VQ_ERR_UNSUPPORTED, \"%s: a decoder input is not a quantizer output\");", m->name);
    } else {
        cw_line(w, "float *const A = m->act;");
        cw_line(w, "const size_t MB = (size_t)m->max_b;");
        cw_line(w, "(void)A; (void)MB;");
        cw_line(w, "m->B = B;");
        cw_line(w, "m->trained = 0;");
        cw_line(w, "for (int c = 0; c < N_CODEBOOKS; c++) cb_pull(m, c);");
        for (int k = 0; k < dec->n_in; k++) {
            int c, it;
            encoder_out_is_zq(g, dec->in[k], &c, &it);
            const ir_shape *s = &m->tensors[dec->in[k]].shape;
            cw_begin(w);
            cw_line(w, "const size_t n = (size_t)B * %lld;", (long long)(s->d[2] * s->d[3]));
            cw_line(w, "for (size_t i = 0; i < n; i++)");
            cw_line(w, "    if (idx[%d][i] < 0 || idx[%d][i] >= %lld) return vq_fail(VQ_ERR_ARG, \"%s: code %%d at "
                       "position %%zu is outside 0..%lld\", (int)idx[%d][i], i);",
                    c, c, (long long)m->codebooks[c].entries, m->codebooks[c].name, (long long)m->codebooks[c].entries - 1, c);
            /* the codes as the forward outputs them (normalized, projected): quantizer.h */
            cw_line(w, "int rc = vq_codebook_lookup(%s, idx[%d], &m->cb[%d], B, %lld, %lld);", e_act(e, dec->in[k]), c, c,
                    (long long)s->d[2], (long long)s->d[3]);
            cw_line(w, "if (rc) return rc;");
            cw_close(w, "");
        }
        cw_line(w, "int rc = run_decoder(m, B, VQ_MODE_EVAL, NULL);");
        cw_line(w, "if (rc) return rc;");
        cw_line(w, "memcpy(out, RECON(m), sizeof(float) * (size_t)B * %lld);", (long long)img);
    }
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);

    /* after_step */
    cw_line(w, "/* Once per training step after the optimizer: EMA update, usage, dead-code restart. */");
    cw_open(w, "static int model_after_step(vq_model *m, int64_t step, vq_rng *rng)");
    cw_line(w, "(void)step;");
    cw_line(w, "float *const A = m->act;");
    cw_line(w, "const size_t MB = (size_t)m->max_b;");
    cw_line(w, "const int B = m->B;");
    cw_line(w, "(void)A; (void)MB; (void)B; (void)rng;");
    for (int i = 0; i < m->n_nodes; i++) {
        const unit *u = &g->units[i];
        const ir_node *n = cg_node(g, i);
        if (u->absorbed || n->op != IR_OP_QUANTIZE) continue;
        const ir_codebook *cb = &m->codebooks[n->codebook];
        const ir_shape *z = &m->tensors[n->in[0]].shape;
        int ema = strcmp(cb->update, "ema") == 0, restart = cb->restart_after > 0 || cb->restart_threshold > 0;
        cw_begin(w);
        cw_line(w, "/* %s (%s) */", cb->name, n->path ? n->path : "quantize");
        cw_line(w, "vq_codebook *cb = &m->cb[%d];", n->codebook);
        cw_line(w, "const int32_t *idx = (const int32_t *)%s;", e_act(e, u->out2));
        cw_line(w, "cb_pull(m, %d);  /* the optimizer may have changed the slab */", n->codebook);
        if (ema) cw_line(w, "int rc = vq_ema_update(cb, %s, idx, B, %lld, %lld);", e_act(e, n->in[0]), (long long)z->d[2], (long long)z->d[3]);
        else cw_line(w, "int rc = 0;");
        cw_line(w, "if (!rc) rc = vq_usage_record(cb, idx, (int64_t)B * %lld);", (long long)(z->d[2] * z->d[3]));
        if (restart) {
            cw_line(w, "int n_restarted = 0;");
            cw_line(w, "if (!rc) rc = vq_restart_dead_codes(cb, &n_restarted, %s, B, %lld, %lld, rng);", e_act(e, n->in[0]),
                    (long long)z->d[2], (long long)z->d[3]);
        }
        cw_line(w, "if (rc) return rc;");
        if (ema || restart) cw_line(w, "cb_push(m, %d);", n->codebook);
        cw_close(w, "");
    }
    cw_line(w, "return 0;");
    cw_close(w, "");
    cw_blank(w);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

static void emit_desc(emit_ctx *e, const codegen_opts *o)
{
    const cg *g = e->g;
    const ir_model *m = g->m;
    cwriter *w = e->w;
    /* codebooks: file scope before the functions (encode reads it) */
    w = e->decl;
    cw_open(w, "static const vq_codebook_desc codebooks[%d] =", m->n_codebooks ? m->n_codebooks : 1);
    for (int c = 0; c < m->n_codebooks; c++) {
        const ir_codebook *cb = &m->codebooks[c];
        int idx_t = -1;
        for (int i = 0; i < m->n_nodes; i++)
            if (!g->units[i].absorbed && cg_node(g, i)->op == IR_OP_QUANTIZE && cg_node(g, i)->codebook == c)
                idx_t = cg_node(g, i)->out[1];
        const ir_shape *s = idx_t >= 0 ? &m->tensors[idx_t].shape : NULL;
        cw_line(w, "{\"%s\", %lld, %lld, %lld, %lld, %d, NULL, %d},", cb->name, (long long)cb->entries, (long long)cb->dim,
                (long long)(s ? s->d[1] : 0), (long long)(s ? s->d[2] : 0), cb->param[0],
                strcmp(cb->naming, "rosinality") == 0);
    }
    if (!m->n_codebooks) cw_line(w, "{0}");
    cw_close(w, ";");
    cw_blank(w);
    w = e->w;
    /* optimizers: ranges of params whose name starts with one of the prefixes */
    for (int k = 0; k < m->n_optimizers; k++) {
        const ir_section *os = &m->optimizers[k];
        cw_open(w, "static const vq_slab_range optim%d_ranges[] =", k);
        int64_t start = -1, end = -1;
        int nr = 0;
        for (int i = 0; i <= m->n_params; i++) {
            int in = 0;
            if (i < m->n_params && m->params[i].role == IR_TRAINABLE) in = cg_param_in_optimizer(m, os, i);
            if (in) {
                int64_t off = g->param_off[i], n = ir_shape_numel(&m->params[i].shape);
                if (start >= 0 && off == (end + 15) / 16 * 16) { end = off + n; continue; }
                if (start >= 0) { cw_line(w, "{%lld, %lld},", (long long)start, (long long)(end - start)); nr++; }
                start = off;
                end = off + n;
            } else if (i == m->n_params || m->params[i].role == IR_TRAINABLE) {
                if (start >= 0) { cw_line(w, "{%lld, %lld},", (long long)start, (long long)(end - start)); nr++; }
                start = -1;
            }
        }
        if (!nr) cw_line(w, "{0, 0},");
        cw_close(w, ";");
        const ir_setting *betas = ir_setting_find(os, "betas");
        double b1 = 0.9, b2 = 0.999;
        if (betas && betas->v.kind == IR_V_FLOATS && betas->v.n == 2) { b1 = betas->v.floats[0]; b2 = betas->v.floats[1]; }
        cw_line(w, "#define OPTIM%d {\"%s\", \"%s\", %.17g, %d, %.17g, %.17g, %.17g, %.17g, %.17g, %.17g, \"%s\", %lld, 0.0, "
                   "optim%d_ranges, %d}",
                k, os->name, ir_get_string(os, "kind", "adam"), ir_get_float(os, "lr", 1e-3),
                strcmp(ir_get_string(os, "lr_scale", "none"), "batch") == 0, b1, b2, ir_get_float(os, "eps", 1e-8),
                ir_get_float(os, "weight_decay", 0.0), ir_get_float(os, "momentum", 0.0),
                ir_get_float(os, "clip_grad_norm", 0.0), ir_get_string(os, "schedule", "constant"),
                (long long)ir_get_int(os, "warmup_steps", 0), k, nr ? nr : 0);
    }
    cw_blank(w);
    /* loss names */
    cw_raw(w, "static const char *const loss_names[N_LOSSES] = {\"total\"");
    for (int i = 0; i < g->n_terms; i++) cw_raw(w, ", \"%s\"", g->term_names[i]);
    cw_raw(w, "};\n\n");

    uint64_t h = fnv1a(1469598103934665603ull, m->src->text, m->src->size);
    for (int i = 0; i < m->n_defs; i++) {
        char buf[256];
        ir_value_str(buf, sizeof buf, &m->defs[i].v);
        h = fnv1a(h, m->defs[i].key, strlen(m->defs[i].key));
        h = fnv1a(h, buf, strlen(buf));
    }
    double flops = 0;
    for (int i = 0; i < m->n_nodes; i++)
        if (cg_node(g, i)->graph != IR_DISCRIMINATOR) flops += (double)cg_node(g, i)->flops;
    const ir_setting *range = ir_setting_find(&m->data, "range");
    double lo = -1, hi = 1;
    if (range && range->v.kind == IR_V_FLOATS && range->v.n == 2) { lo = range->v.floats[0]; hi = range->v.floats[1]; }
    const ir_setting *pad_to = ir_setting_find(&m->data, "pad_to");
    int pad = pad_to && pad_to->v.kind == IR_V_INT ? 1 : 0;
    const char *ds = ir_get_string(&m->data, "dataset", "");
    if (ds && (strcmp(ds, "fashion-mnist") == 0 || strcmp(ds, "fashion_mnist") == 0 || strcmp(ds, "mnist") == 0) &&
        m->image.d[2] > 28)
        pad = 1;

    cw_open(w, "static const vq_model_desc desc =");
    cw_line(w, ".abi = VQ_MODEL_ABI,");
    cw_line(w, ".name = \"%s\",", m->name);
    cw_line(w, ".vqc_version = \"%s\",", VQC_VERSION);
    cw_line(w, ".source = \"%s\",", o->source_path);
    cw_line(w, ".model_hash = 0x%016llxull,", (unsigned long long)h);
    /* images of another size: padded (pad_to, Fashion-MNIST), else the shorter side resized to the
     * input size and center-cropped (what rosinality's and taming's loaders do) */
    cw_line(w, ".data = {%lld, %lld, %lld, (float)%.9g, (float)%.9g, %d, %lld},", (long long)m->image.d[1], (long long)m->image.d[2],
            (long long)m->image.d[3], lo, hi, pad, pad ? 0LL : (long long)m->image.d[2]);
    cw_line(w, ".tensors = tensors,");
    cw_line(w, ".n_tensors = %d,", m->n_params);
    cw_line(w, ".n_params = N_PARAMS,");
    cw_line(w, ".n_buffers = N_BUFFERS,");
    cw_line(w, ".codebooks = codebooks,");
    cw_line(w, ".n_codebooks = N_CODEBOOKS,");
    if (m->n_optimizers) {
        cw_raw(w, "    .optimizers = (const vq_optim_desc[]){");
        for (int k = 0; k < m->n_optimizers; k++) cw_raw(w, "%sOPTIM%d", k ? ", " : "", k);
        cw_raw(w, "},\n");
    }
    cw_line(w, ".n_optimizers = %d,", m->n_optimizers);
    cw_line(w, ".losses = {\"%s\", REC_WEIGHT, CODEBOOK_WEIGHT, %.17g, %lld, %.17g, %.17g, \"%s\", %lld, \"%s\"},",
            rec_kind(g), ir_get_float(&m->loss, "perceptual_weight", 0.0), (long long)ir_get_int(&m->loss, "disc_start", 0),
            ir_get_float(&m->loss, "disc_weight", 1.0), ir_get_float(&m->loss, "disc_factor", 1.0),
            ir_get_string(&m->loss, "disc_loss", "hinge"), (long long)ir_get_int(&m->loss, "disc_warmup", 0),
            g->has_disc ? m->params[g->adapt_param].name : "");
    cw_line(w, ".train = {%lld, %lld, %lluull, %lld, %lld},", (long long)ir_get_int(&m->train, "batch", 32),
            (long long)ir_get_int(&m->train, "steps", 1000), (unsigned long long)ir_get_int(&m->train, "seed", 0),
            (long long)ir_get_int(&m->train, "eval_every", 0), (long long)ir_get_int(&m->train, "ckpt_every", 0));
    cw_line(w, ".loss_names = loss_names,");
    cw_line(w, ".n_losses = N_LOSSES,");
    cw_line(w, ".flops_forward = %.17g,", flops);
    cw_line(w, ".flops_train = %.17g,  /* forward + backward (about 2x forward) */", 3.0 * flops);
    cw_line(w, ".arena_bytes = model_arena_bytes,");
    prof_emit_desc_fields(w);
    const char *fns[] = {"create", "destroy", "params", "grads", "buffers", "state", "reset_state", "zero_grads",
                         "forward", "backward", "loss_values", "recon", "indices", "encode", "decode", "after_step"};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) cw_line(w, ".%s = model_%s,", fns[i], fns[i]);
    emit_gan_desc(e);
    cw_close(w, ";");
    cw_blank(w);
    cw_line(w, "const vq_model_desc *%s_desc(void) { return &desc; }", m->name);
    cw_line(w, "int %s_create(vq_model **m, int max_batch) { return model_create(m, max_batch); }", m->name);
    cw_line(w, "void %s_destroy(vq_model *m) { model_destroy(m); }", m->name);
    cw_line(w, "int %s_forward(vq_model *m, const float *x, int B, vq_mode mode, vq_rng *rng) "
               "{ return model_forward(m, x, B, mode, rng); }", m->name);
    cw_line(w, "int %s_backward(vq_model *m) { return model_backward(m); }", m->name);
    cw_line(w, "int %s_step(vq_model *m, int64_t step, vq_rng *rng) { return model_after_step(m, step, rng); }", m->name);
    cw_line(w, "int %s_encode(vq_model *m, int32_t *const *idx, const float *x, int B) "
               "{ return model_encode(m, idx, x, B); }", m->name);
    cw_line(w, "int %s_decode(vq_model *m, float *out, const int32_t *const *idx, int B) "
               "{ return model_decode(m, out, idx, B); }", m->name);
}

/* --- files -------------------------------------------------------------------- */

static void provenance(cwriter *w, const cg *g, const codegen_opts *o, const char *what)
{
    cw_line(w, "/* %s", what);
    cw_line(w, " *");
    cw_line(w, " * Generated by vqc %s from %s -- do not edit; regenerate instead.", VQC_VERSION, o->source_path);
    cw_line(w, " * Command: %s", o->command_line ? o->command_line : "vqc");
    cw_line(w, " * Build:   make -C %s   (compiles with -Wall -Wextra -Werror -O2 -fopenmp against libvqrt.a)", o->out_dir);
    cw_line(w, " * Model %s: %lld trainable floats, %lld buffer floats, arena %lld floats per image + %lld fixed.",
            g->m->name, (long long)g->n_param_floats, (long long)g->n_buffer_floats, (long long)g->arena_per_image,
            (long long)g->arena_fixed);
    cw_line(w, " */");
}

static int write_file(diag_sink *d, const char *dir, const char *name, const cwriter *w)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    static const src_loc none = {0};
    if (w->failed) {
        diag_error(d, none, "%s: out of memory while generating", path);
        return 1;
    }
    FILE *f = fopen(path, "w");
    if (!f) {
        diag_error(d, none, "cannot write %s: %s", path, strerror(errno));
        return 1;
    }
    size_t n = strlen(cw_text(w));
    int bad = fwrite(cw_text(w), 1, n, f) != n;
    bad |= fclose(f) != 0;
    if (bad) {
        diag_error(d, none, "writing %s failed: %s", path, strerror(errno));
        return 1;
    }
    return 0;
}

static void emit_header(cwriter *w, const cg *g, const codegen_opts *o)
{
    const char *nm = g->m->name;
    provenance(w, g, o, "The API of the generated model (runtime/model_desc.h is the contract).");
    cw_line(w, "/*");
    cw_line(w, " * Usage (the driver, runtime/driver.h, does all of this from the command line):");
    cw_line(w, " *");
    cw_line(w, " *     vq_model *m;");
    cw_line(w, " *     const vq_model_desc *d = %s_desc();", nm);
    cw_line(w, " *     if (%s_create(&m, 32)) { fprintf(stderr, \"%%s\\n\", vq_last_error()); return 1; }", nm);
    cw_line(w, " *     vq_model_init_weights(d, d->params(m), d->buffers(m), &rng);  d->reset_state(m, &rng);");
    cw_line(w, " *     d->zero_grads(m);");
    cw_line(w, " *     %s_forward(m, x, B, VQ_MODE_TRAIN, &rng);   // x (B, C, H, W); loss in d->loss_values(m)[0]", nm);
    cw_line(w, " *     %s_backward(m);                             // grads += d total / d params", nm);
    cw_line(w, " *     ... optimizer step on d->params(m), d->grads(m) (optim.h) ...");
    cw_line(w, " *     %s_step(m, step, &rng);                     // EMA, codebook usage, dead-code restart", nm);
    cw_line(w, " *     %s_destroy(m);", nm);
    cw_line(w, " */");
    char guard[128];
    snprintf(guard, sizeof guard, "VQ_GEN_%s_H", nm);
    for (char *p = guard; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    cw_line(w, "#ifndef %s", guard);
    cw_line(w, "#define %s", guard);
    cw_blank(w);
    cw_line(w, "#include \"model_desc.h\"");
    cw_blank(w);
    cw_line(w, "#define %s_IMAGE_C %lld", nm, (long long)g->m->image.d[1]);
    cw_line(w, "#define %s_IMAGE_H %lld", nm, (long long)g->m->image.d[2]);
    cw_line(w, "#define %s_IMAGE_W %lld", nm, (long long)g->m->image.d[3]);
    cw_line(w, "#define %s_N_PARAMS %lld   /* floats in the params (and grads) slab */", nm, (long long)g->n_param_floats);
    cw_line(w, "#define %s_N_BUFFERS %lld", nm, (long long)g->n_buffer_floats);
    cw_blank(w);
    cw_line(w, "/* The description the driver runs: tensor table (name, shape, offset, .vq location), slabs,");
    cw_line(w, " * codebooks, optimizers, losses and the function pointers below. */");
    cw_line(w, "const vq_model_desc *%s_desc(void);", nm);
    cw_line(w, "int %s_create(vq_model **m, int max_batch);   /* slabs zeroed, arena for max_batch */", nm);
    cw_line(w, "void %s_destroy(vq_model *m);", nm);
    cw_line(w, "/* x (B, %lld, %lld, %lld), B <= max_batch; TRAIN keeps what backward needs and may draw from rng */", (long long)g->m->image.d[1],
            (long long)g->m->image.d[2], (long long)g->m->image.d[3]);
    cw_line(w, "int %s_forward(vq_model *m, const float *x, int B, vq_mode mode, vq_rng *rng);", nm);
    cw_line(w, "int %s_backward(vq_model *m);                 /* accumulates into the grads slab */", nm);
    cw_line(w, "int %s_step(vq_model *m, int64_t step, vq_rng *rng); /* after the optimizer step */", nm);
    cw_line(w, "int %s_encode(vq_model *m, int32_t *const *idx, const float *x, int B);", nm);
    cw_line(w, "int %s_decode(vq_model *m, float *out, const int32_t *const *idx, int B);", nm);
    cw_blank(w);
    cw_line(w, "#endif");
}

static void emit_main(cwriter *w, const cg *g, const codegen_opts *o)
{
    provenance(w, g, o, "The driver program: train, eval, encode, decode, bench ... (runtime/driver.h).");
    cw_line(w, "#include \"driver.h\"");
    cw_line(w, "#include \"%s.h\"", g->m->name);
    cw_blank(w);
    cw_line(w, "int main(int argc, char **argv) { return vq_driver_main(argc, argv, %s_desc()); }", g->m->name);
}

/* The runtime this vqc belongs to: build tree (build/vqc next to build/libvqrt.a,
 * headers in ../runtime) or an install (bin/vqc, lib/libvqrt.a, include/vqrt). */
static void runtime_paths(const codegen_opts *o, char *lib, size_t nlib, char *inc, size_t n)
{
    char exe[PATH_MAX], dir[PATH_MAX], probe[PATH_MAX + 32];
    memset(exe, 0, sizeof exe);
    ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (k <= 0) {
        if (!o->vqc_path || !realpath(o->vqc_path, exe)) snprintf(exe, sizeof exe, "./vqc");
    } else {
        exe[k] = '\0';
    }
    snprintf(dir, sizeof dir, "%s", exe);
    char *s = strrchr(dir, '/');
    if (s) *s = '\0';
    struct stat st;
    snprintf(probe, sizeof probe, "%s/libvqrt.a", dir);
    if (stat(probe, &st) == 0) {
        char root[PATH_MAX + 8], rr[PATH_MAX + 8];
        snprintf(root, sizeof root, "%s/..", dir);
        if (!realpath(root, rr)) snprintf(rr, sizeof rr, "%s/..", dir);
        snprintf(lib, nlib, "VQC_ROOT ?= %s\nVQRT_LIB ?= $(VQC_ROOT)/build/libvqrt.a", rr);
        snprintf(inc, n, "-I$(VQC_ROOT)/runtime -I$(VQC_ROOT)/runtime/kernels");
        return;
    }
    char pre[PATH_MAX + 8], pr[PATH_MAX + 8];
    snprintf(pre, sizeof pre, "%s/..", dir);
    if (!realpath(pre, pr)) snprintf(pr, sizeof pr, "%s/..", dir);
    snprintf(lib, nlib, "VQRT_PREFIX ?= %s\nVQRT_LIB ?= $(VQRT_PREFIX)/lib/libvqrt.a", pr);
    snprintf(inc, n, "-I$(VQRT_PREFIX)/include/vqrt -I$(VQRT_PREFIX)/include/vqrt/kernels");
}

static void emit_makefile(cwriter *w, const cg *g, const codegen_opts *o)
{
    char lib[PATH_MAX + 64], inc[2 * PATH_MAX + 128];
    runtime_paths(o, lib, sizeof lib, inc, sizeof inc);
    const char *nm = g->m->name;
    cw_line(w, "# Generated by vqc %s from %s -- do not edit.", VQC_VERSION, o->source_path);
    cw_line(w, "# Command: %s", o->command_line ? o->command_line : "vqc");
    cw_line(w, "# Builds the driver program %s against the runtime of the vqc that generated it", nm);
    cw_line(w, "# (override VQRT_LIB / VQRT_INC to use another). Works from any directory: make -C DIR.");
    cw_blank(w);
    cw_line(w, "HERE := $(dir $(abspath $(lastword $(MAKEFILE_LIST))))");
    cw_line(w, "%s", lib);
    cw_line(w, "VQRT_INC ?= %s", inc);
    cw_line(w, "CC ?= cc");
    cw_line(w, "OPT ?= -O2");
    cw_line(w, "CFLAGS ?= -std=c11 $(OPT) -Wall -Wextra -Werror -D_GNU_SOURCE -fopenmp");
    cw_line(w, "LDLIBS ?= -lopenblas -lpng -lz -lpthread -lm");
    cw_blank(w);
    cw_line(w, "$(HERE)%s: $(HERE)main.c $(HERE)%s.c $(HERE)%s.h $(VQRT_LIB)", nm, nm, nm);
    cw_line(w, "\t$(CC) $(CFLAGS) $(VQRT_INC) -I$(HERE) -o $@ $(HERE)main.c $(HERE)%s.c $(VQRT_LIB) -fopenmp $(LDLIBS)", nm);
    cw_blank(w);
    cw_line(w, ".PHONY: clean");
    cw_line(w, "clean:");
    cw_line(w, "\trm -f $(HERE)%s", nm);
}

int cg_generate(const ir_model *m, const codegen_opts *o, diag_sink *d)
{
    static const src_loc none = {0};
    cg g;
    if (cg_build(&g, m, d, (int64_t)o->recompute_min)) { cg_free(&g); return 1; }
    {   /* refuse a plan over --max-memory before anything is written (passes/memlimit.c) */
        int pass_memlimit(const cg *g, uint64_t limit);
        if (pass_memlimit(&g, (uint64_t)o->max_memory)) { cg_free(&g); return 1; }
    }
    if (mkdir(o->out_dir, 0777) != 0 && errno != EEXIST) {
        diag_error(d, none, "cannot create output directory %s: %s", o->out_dir, strerror(errno));
        cg_free(&g);
        return 1;
    }
    cwriter body, decl, setup, file;
    cw_init(&body);
    cw_init(&decl);
    cw_init(&setup);
    cw_init(&file);
    setup.depth = 1;
    emit_ctx e;
    memset(&e, 0, sizeof e);
    e.g = &g;
    e.w = &body;
    e.decl = &decl;
    e.setup = &setup;

    /* one unique C name per unit, for its shape struct */
    const char **syms = calloc((size_t)(m->n_nodes ? m->n_nodes : 1), sizeof *syms);
    for (int i = 0; i < m->n_nodes; i++) {
        const unit *u = &g.units[i];
        if (u->absorbed || u->how == FU_IDENTITY) continue;
        const ir_node *n = cg_node(&g, i);
        char base[200];
        snprintf(base, sizeof base, "%s_%s", n->path ? n->path : ir_op_name(n->op), n->path ? "shape" : "shape");
        syms[i] = cw_unique(&decl, base);
        if (cg_emitter(n->op)->decl) {
            cw_line(&setup, "/* %s (%s) */", n->path ? n->path : ir_op_name(n->op), ir_op_name(n->op));
            cg_emitter(n->op)->decl(&e, u, syms[i]);
        }
    }
    cw_blank(&decl);
    emit_tables(&e);

    emit_struct(&e);
    cw_line(&body, "#define XIN(m) ((m)->act + (size_t)%lld * (size_t)(m)->max_b)   /* x %s */",
            (long long)g.vals[g.x_val].offset, e_shape(&e, m->graphs[IR_ENCODER].in[0]));
    cw_line(&body, "#define RECON(m) ((m)->act + (size_t)%lld * (size_t)(m)->max_b)   /* x_hat %s */",
            (long long)g.vals[g.tval[g.recon_t]].offset, e_shape(&e, g.recon_t));
    cw_blank(&body);
    emit_cb_opts(&e);
    emit_codebook_fns(&e);
    emit_lifecycle(&e);
    emit_forward_graph(&e, IR_ENCODER, syms, "run_encoder");
    emit_forward_graph(&e, IR_DECODER, syms, "run_decoder");
    emit_gan_functions(&e, syms);
    emit_backward(&e, syms);
    /* codebooks[] is used by encode: declare the desc tables before the entry points */
    cwriter tables;
    cw_init(&tables);
    {
        cwriter *saved = e.w;
        e.w = &tables;
        emit_desc(&e, o);
        e.w = saved;
    }
    emit_entry_points(&e);

    /* assemble <model>.c */
    char title[256];
    snprintf(title, sizeof title, "%s.c: forward, backward, encode and decode of model %s, specialized to its shapes.",
             m->name, m->name);
    provenance(&file, &g, o, title);
    cw_line(&file, "/* Legend: B batch (run time, <= MB = max batch fixed at create), C channels, H, W spatial,");
    cw_line(&file, " * K codes, D code dim. Every block names its .vq location, op, instance path and pass.");
    cw_line(&file, " * In the functions: A arena, F its fixed part, S scratch, P params, G grads, BU buffers. */");
    cw_line(&file, "#include <math.h>");
    cw_line(&file, "#include <stdio.h>");
    cw_line(&file, "#include <stdlib.h>");
    cw_line(&file, "#include <string.h>");
    for (int i = 0; i < m->n_nodes; i++)
        if (m->nodes[i].op == IR_OP_MATMUL) {   /* ops/matrix.c calls sgemm itself */
            cw_line(&file, "#include <cblas.h>");
            break;
        }
    cw_blank(&file);
    cw_line(&file, "#include \"kernels.h\"");
    cw_line(&file, "#include \"lpips.h\"");
    cw_line(&file, "#include \"model_desc.h\"");
    cw_line(&file, "#include \"timing.h\"   /* vq_time_now: the per-op profiler's clock */");
    cw_line(&file, "#include \"quantizer.h\"");
    cw_line(&file, "#include \"%s.h\"", m->name);
    cw_blank(&file);
    cw_line(&file, "#define N_PARAMS ((size_t)%lld)", (long long)g.n_param_floats);
    cw_line(&file, "#define N_BUFFERS ((size_t)%lld)", (long long)g.n_buffer_floats);
    cw_line(&file, "#define ARENA_PER_IMAGE ((size_t)%lld)   /* floats per image after memplan (naive: %lld) */",
            (long long)g.arena_per_image, (long long)g.naive_per_image);
    cw_line(&file, "#define ARENA_FIXED ((size_t)%lld)", (long long)g.arena_fixed);
    cw_line(&file, "#define N_CODEBOOKS %d", m->n_codebooks);
    cw_line(&file, "#define N_LOSSES %d", 1 + g.n_terms);
    emit_loss_index_macros(&file, &g);
    char num[40];
    cw_line(&file, "#define REC_WEIGHT %s", cw_double(num, ir_get_float(&m->loss, "reconstruction_weight", 1.0)));
    cw_line(&file, "#define CODEBOOK_WEIGHT %s", cw_double(num, ir_get_float(&m->loss, "codebook_weight", 1.0)));
    cw_blank(&file);
    cw_line(&file, "/* Shapes (B is set per call) */");
    cw_raw(&file, "%s", cw_text(&decl));
    cw_raw(&file, "%s", cw_text(&body));
    /* the desc tables are needed by encode, which is in body: move them before? they are
     * static const objects referenced by functions above, so declare them first. */
    cw_raw(&file, "%s", cw_text(&tables));

    int rc = 0;
    char name[256];
    snprintf(name, sizeof name, "%s.c", m->name);
    rc |= write_file(d, o->out_dir, name, &file);
    cwriter hdr, mainc, mk;
    cw_init(&hdr);
    cw_init(&mainc);
    cw_init(&mk);
    emit_header(&hdr, &g, o);
    emit_main(&mainc, &g, o);
    emit_makefile(&mk, &g, o);
    snprintf(name, sizeof name, "%s.h", m->name);
    rc |= write_file(d, o->out_dir, name, &hdr);
    rc |= write_file(d, o->out_dir, "main.c", &mainc);
    rc |= write_file(d, o->out_dir, "Makefile", &mk);
    cw_free(&hdr);
    cw_free(&mainc);
    cw_free(&mk);
    cw_free(&tables);
    cw_free(&body);
    cw_free(&decl);
    cw_free(&setup);
    cw_free(&file);
    free(syms);
    cg_free(&g);
    return rc;
}
