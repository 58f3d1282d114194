/* optim.c: SGD, Adam and AdamW updates over ranges of a parameter slab, the
 * optimizer state as named arrays, and global-norm gradient clipping.
 * The formulas follow torch/optim/{sgd,adam,adamw}.py of PyTorch 1.13
 * (single-tensor path); each loop below names the lines it mirrors.
 * Element loops are OpenMP work-shared and SIMD-vectorizable; the scalars
 * (bias corrections, step sizes) are computed once per group in double as
 * Python does, then cast to float as torch does when it hands them to a kernel. */
#include "optim.h"

#include "vq_common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Below this many floats per step, thread start-up costs more than it saves. */
#define PARALLEL_MIN 32768

typedef struct group {
    vq_param_group hp;    /* hyper-parameters; hp.ranges points at `ranges` */
    vq_range *ranges;     /* (n_ranges) */
    size_t *state_off;    /* (n_ranges) where each range's state starts in the (S) buffers */
    double base_lr;
} group;

struct vq_optim {
    vq_optim_kind kind;
    size_t n, S;
    int n_groups;
    group *groups;        /* (n_groups) */
    int64_t step[1];      /* steps taken; an array so the state list can point at it */
    float *exp_avg;       /* (S) Adam/AdamW first moment */
    float *exp_avg_sq;    /* (S) Adam/AdamW second moment */
    float *momentum;      /* (S) SGD momentum buffer, NULL when no group uses momentum */
    vq_optim_state state[3];
    int n_state;
};

static const char *kind_name(vq_optim_kind k)
{
    return k == VQ_SGD ? "SGD" : k == VQ_ADAM ? "Adam" : k == VQ_ADAMW ? "AdamW" : "?";
}

vq_param_group vq_group_defaults(vq_optim_kind kind, double lr)
{
    vq_param_group g;
    memset(&g, 0, sizeof g);
    g.lr = lr;
    g.beta1 = 0.9;
    g.beta2 = 0.999;
    g.eps = 1e-8;
    g.weight_decay = kind == VQ_ADAMW ? 1e-2 : 0.0;
    return g;
}

/* The same checks torch's constructors make, plus what a slab adds. */
static int check_group(vq_optim_kind kind, const vq_param_group *g, int gi, size_t n)
{
    const char *k = kind_name(kind);
    if (!(g->lr >= 0.0)) return vq_fail(VQ_ERR_ARG, "%s group %d: invalid learning rate %g", k, gi, g->lr);
    if (!(g->weight_decay >= 0.0))
        return vq_fail(VQ_ERR_ARG, "%s group %d: invalid weight_decay %g", k, gi, g->weight_decay);
    if (g->n_ranges < 0 || (g->n_ranges > 0 && !g->ranges))
        return vq_fail(VQ_ERR_ARG, "%s group %d: %d ranges but no range array", k, gi, g->n_ranges);
    for (int r = 0; r < g->n_ranges; r++) {
        size_t off = g->ranges[r].offset, cnt = g->ranges[r].count;
        if (off > n || cnt > n - off)
            return vq_fail(VQ_ERR_ARG, "%s group %d range %d: [%zu, %zu) is outside the slab of %zu floats",
                           k, gi, r, off, off + cnt, n);
    }
    if (kind == VQ_SGD) {
        if (!(g->momentum >= 0.0)) return vq_fail(VQ_ERR_ARG, "SGD group %d: invalid momentum %g", gi, g->momentum);
        if (g->nesterov && (g->momentum <= 0.0 || g->dampening != 0.0))
            return vq_fail(VQ_ERR_ARG, "SGD group %d: nesterov needs momentum > 0 and dampening 0", gi);
    } else {
        if (!(g->eps >= 0.0)) return vq_fail(VQ_ERR_ARG, "%s group %d: invalid eps %g", k, gi, g->eps);
        if (!(g->beta1 >= 0.0 && g->beta1 < 1.0))
            return vq_fail(VQ_ERR_ARG, "%s group %d: invalid beta1 %g (need 0 <= beta1 < 1)", k, gi, g->beta1);
        if (!(g->beta2 >= 0.0 && g->beta2 < 1.0))
            return vq_fail(VQ_ERR_ARG, "%s group %d: invalid beta2 %g (need 0 <= beta2 < 1)", k, gi, g->beta2);
    }
    return VQ_OK;
}

typedef struct tagged { vq_range r; int group, index; } tagged;

static int cmp_offset(const void *a, const void *b)
{
    size_t x = ((const tagged *)a)->r.offset, y = ((const tagged *)b)->r.offset;
    return (x > y) - (x < y);
}

/* A float updated twice per step would be a silent bug in the caller's tables. */
static int check_disjoint(const vq_param_group *groups, int n_groups, vq_optim_kind kind)
{
    size_t total = 0;
    for (int g = 0; g < n_groups; g++) total += (size_t)groups[g].n_ranges;
    if (total < 2) return VQ_OK;
    tagged *all = malloc(total * sizeof *all);
    if (!all) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory checking %zu ranges", kind_name(kind), total);
    size_t k = 0;
    for (int g = 0; g < n_groups; g++)
        for (int r = 0; r < groups[g].n_ranges; r++) all[k++] = (tagged){groups[g].ranges[r], g, r};
    qsort(all, total, sizeof *all, cmp_offset);
    int rc = VQ_OK;
    for (size_t i = 1; i < total && !rc; i++) {
        const tagged *a = &all[i - 1], *b = &all[i];
        if (a->r.count && b->r.count && a->r.offset + a->r.count > b->r.offset)
            rc = vq_fail(VQ_ERR_ARG, "%s: group %d range %d [%zu, %zu) overlaps group %d range %d [%zu, %zu)",
                         kind_name(kind), a->group, a->index, a->r.offset, a->r.offset + a->r.count,
                         b->group, b->index, b->r.offset, b->r.offset + b->r.count);
    }
    free(all);
    return rc;
}

int vq_optim_create(vq_optim **out, vq_optim_kind kind, size_t n, const vq_param_group *groups, int n_groups)
{
    *out = NULL;
    if (kind != VQ_SGD && kind != VQ_ADAM && kind != VQ_ADAMW)
        return vq_fail(VQ_ERR_ARG, "optimizer: unknown kind %d", (int)kind);
    if (n_groups < 1 || !groups)
        return vq_fail(VQ_ERR_ARG, "%s: needs at least one parameter group", kind_name(kind));
    for (int g = 0; g < n_groups; g++) {
        int rc = check_group(kind, &groups[g], g, n);
        if (rc) return rc;
    }
    int rc = check_disjoint(groups, n_groups, kind);
    if (rc) return rc;

    vq_optim *o = calloc(1, sizeof *o);
    if (!o) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory", kind_name(kind));
    o->kind = kind;
    o->n = n;
    o->n_groups = n_groups;
    o->groups = calloc((size_t)n_groups, sizeof *o->groups);
    if (!o->groups) goto nomem;
    int any_momentum = 0;
    for (int g = 0; g < n_groups; g++) {
        group *G = &o->groups[g];
        G->hp = groups[g];
        G->base_lr = groups[g].lr;
        size_t nr = (size_t)groups[g].n_ranges;
        G->ranges = malloc((nr ? nr : 1) * sizeof *G->ranges);
        G->state_off = malloc((nr ? nr : 1) * sizeof *G->state_off);
        if (!G->ranges || !G->state_off) goto nomem;
        for (size_t r = 0; r < nr; r++) {
            G->ranges[r] = groups[g].ranges[r];
            G->state_off[r] = o->S;
            o->S += groups[g].ranges[r].count;
        }
        G->hp.ranges = G->ranges;
        if (kind == VQ_SGD && groups[g].momentum != 0.0) any_momentum = 1;
    }
    size_t bytes = o->S * sizeof(float);
    o->state[o->n_state++] = (vq_optim_state){"step", VQ_STATE_I64, o->step, 1};
    if (kind == VQ_SGD) {
        if (any_momentum) {
            if (!(o->momentum = vq_alloc(bytes))) goto nomem;
            o->state[o->n_state++] = (vq_optim_state){"momentum_buffer", VQ_STATE_F32, o->momentum, o->S};
        }
    } else {
        if (!(o->exp_avg = vq_alloc(bytes)) || !(o->exp_avg_sq = vq_alloc(bytes))) goto nomem;
        o->state[o->n_state++] = (vq_optim_state){"exp_avg", VQ_STATE_F32, o->exp_avg, o->S};
        o->state[o->n_state++] = (vq_optim_state){"exp_avg_sq", VQ_STATE_F32, o->exp_avg_sq, o->S};
    }
    *out = o;
    return VQ_OK;
nomem:
    vq_optim_destroy(o);
    return vq_fail(VQ_ERR_NOMEM, "%s: out of memory for the state of %zu parameters", kind_name(kind), n);
}

void vq_optim_destroy(vq_optim *opt)
{
    if (!opt) return;
    for (int g = 0; g < opt->n_groups && opt->groups; g++) {
        free(opt->groups[g].ranges);
        free(opt->groups[g].state_off);
    }
    free(opt->groups);
    vq_free(opt->exp_avg);
    vq_free(opt->exp_avg_sq);
    vq_free(opt->momentum);
    free(opt);
}

/* torch/optim/sgd.py, _single_tensor_sgd:
 *   d_p = d_p.add(param, alpha=weight_decay)
 *   buf = clone(d_p) on the first step, else buf.mul_(momentum).add_(d_p, alpha=1 - dampening)
 *   d_p = d_p.add(buf, alpha=momentum) if nesterov else buf
 *   param.add_(d_p, alpha=-lr) */
static void sgd_range(float *restrict p, const float *restrict g, float *restrict buf, size_t count,
                      const vq_param_group *hp, double lr, int first)
{
    const float wd = (float)hp->weight_decay, mom = (float)hp->momentum;
    const float keep = (float)(1.0 - hp->dampening), neg_lr = (float)-lr;
    if (hp->momentum == 0.0) {
#pragma omp for simd schedule(static) nowait
        for (size_t i = 0; i < count; i++) {
            float d = g[i] + wd * p[i];
            p[i] = p[i] + neg_lr * d;
        }
        return;
    }
    /* One loop per (first step, nesterov) so each is branch-free and vectorizes. */
#define SGD_LOOP(BUF, UPDATE)                                         \
    _Pragma("omp for simd schedule(static) nowait")                   \
    for (size_t i = 0; i < count; i++) {                              \
        float d = g[i] + wd * p[i];                                   \
        float b = (BUF);                                              \
        buf[i] = b;                                                   \
        p[i] = p[i] + neg_lr * (UPDATE);                              \
    }
    if (first && hp->nesterov) SGD_LOOP(d, d + mom * b)
    else if (first) SGD_LOOP(d, b)
    else if (hp->nesterov) SGD_LOOP(buf[i] * mom + keep * d, d + mom * b)
    else SGD_LOOP(buf[i] * mom + keep * d, b)
#undef SGD_LOOP
}

/* torch/optim/adam.py and adamw.py, _single_tensor_adam(w):
 *   AdamW: param.mul_(1 - lr * weight_decay)       Adam: grad = grad.add(param, alpha=weight_decay)
 *   exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
 *   exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
 *   denom = (exp_avg_sq.sqrt() / sqrt(bias_correction2)).add_(eps)
 *   param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1) */
typedef struct adam_scalars { float decay, l2, b1, one_b1, b2, one_b2, bc2_sqrt, eps, neg_step; } adam_scalars;

static void adam_range(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                       size_t count, adam_scalars s)
{
#pragma omp for simd schedule(static) nowait
    for (size_t i = 0; i < count; i++) {
        float pi = p[i] * s.decay;          /* AdamW's decoupled decay (decay = 1 for Adam) */
        float gi = g[i] + s.l2 * pi;        /* Adam's L2 term (l2 = 0 for AdamW) */
        float mi = m[i] * s.b1 + s.one_b1 * gi;
        float vi = v[i] * s.b2 + s.one_b2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float denom = sqrtf(vi) / s.bc2_sqrt + s.eps;
        p[i] = pi + s.neg_step * mi / denom;
    }
}

static adam_scalars adam_scalars_for(const vq_optim *o, const vq_param_group *hp, int64_t t)
{
    double lr = hp->lr;
    double bc1 = 1.0 - pow(hp->beta1, (double)t), bc2 = 1.0 - pow(hp->beta2, (double)t);
    adam_scalars s;
    s.decay = o->kind == VQ_ADAMW ? (float)(1.0 - lr * hp->weight_decay) : 1.0f;
    s.l2 = o->kind == VQ_ADAM ? (float)hp->weight_decay : 0.0f;
    s.b1 = (float)hp->beta1;
    s.one_b1 = (float)(1.0 - hp->beta1);
    s.b2 = (float)hp->beta2;
    s.one_b2 = (float)(1.0 - hp->beta2);
    s.bc2_sqrt = (float)sqrt(bc2);
    s.eps = (float)hp->eps;
    s.neg_step = (float)(-(lr / bc1));
    return s;
}

void vq_optim_step(vq_optim *opt, float *param, const float *grad)
{
    int first = opt->step[0] == 0;
    int64_t t = ++opt->step[0];
#pragma omp parallel if (opt->S >= PARALLEL_MIN)
    for (int gi = 0; gi < opt->n_groups; gi++) {
        const group *G = &opt->groups[gi];
        adam_scalars s;
        if (opt->kind != VQ_SGD) s = adam_scalars_for(opt, &G->hp, t);
        for (int r = 0; r < G->hp.n_ranges; r++) {
            size_t off = G->ranges[r].offset, cnt = G->ranges[r].count, so = G->state_off[r];
            if (opt->kind == VQ_SGD)
                sgd_range(param + off, grad + off, opt->momentum ? opt->momentum + so : NULL, cnt, &G->hp,
                          G->hp.lr, first);
            else
                adam_range(param + off, grad + off, opt->exp_avg + so, opt->exp_avg_sq + so, cnt, s);
        }
    }
}

void vq_optim_set_lr_factor(vq_optim *opt, double factor)
{
    for (int g = 0; g < opt->n_groups; g++) opt->groups[g].hp.lr = opt->groups[g].base_lr * factor;
}

double vq_optim_lr(const vq_optim *opt, int group)
{
    return group >= 0 && group < opt->n_groups ? opt->groups[group].hp.lr : NAN;
}

int vq_optim_num_groups(const vq_optim *opt) { return opt->n_groups; }
int64_t vq_optim_steps_taken(const vq_optim *opt) { return opt->step[0]; }
size_t vq_optim_state_size(const vq_optim *opt) { return opt->S; }

int vq_optim_state_count(const vq_optim *opt) { return opt->n_state; }

vq_optim_state vq_optim_state_get(const vq_optim *opt, int i)
{
    if (i < 0 || i >= opt->n_state) return (vq_optim_state){NULL, VQ_STATE_F32, NULL, 0};
    return opt->state[i];
}

int vq_optim_state_find(vq_optim_state *out, const vq_optim *opt, const char *name, vq_state_dtype dtype,
                        size_t count)
{
    for (int i = 0; i < opt->n_state; i++) {
        const vq_optim_state *s = &opt->state[i];
        if (strcmp(s->name, name) != 0) continue;
        if (s->dtype != dtype)
            return vq_fail(VQ_ERR_MISMATCH, "%s state '%s' is %s, not %s", kind_name(opt->kind), name,
                           s->dtype == VQ_STATE_F32 ? "float32" : "int64", dtype == VQ_STATE_F32 ? "float32" : "int64");
        if (s->count != count)
            return vq_fail(VQ_ERR_MISMATCH, "%s state '%s' has %zu elements, not %zu", kind_name(opt->kind), name,
                           s->count, count);
        *out = *s;
        return VQ_OK;
    }
    return vq_fail(VQ_ERR_MISMATCH, "%s has no state named '%s'", kind_name(opt->kind), name);
}

/* torch.nn.utils.clip_grad_norm_: total = ||(||g_1||, ..., ||g_k||)||_2, which
 * is the 2-norm of all values together; we sum squares in double. */
static double sum_squares(const float *g, size_t n)
{
    double acc = 0.0;
#pragma omp parallel for simd reduction(+ : acc) schedule(static) if (n >= PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) acc += (double)g[i] * (double)g[i];
    return acc;
}

static void scale(float *g, size_t n, float c)
{
#pragma omp parallel for simd schedule(static) if (n >= PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) g[i] *= c;
}

/* clip_coef = max_norm / (total_norm + 1e-6), applied when < 1 (torch clamps it to 1). */
static float clip_coef(double total, float max_norm)
{
    if (!isfinite(total)) return 1.0f;
    double c = (double)max_norm / (total + 1e-6);
    return c < 1.0 ? (float)c : 1.0f;
}

float vq_clip_grad_norm(float *grad, size_t n, float max_norm)
{
    double total = sqrt(sum_squares(grad, n));
    float c = clip_coef(total, max_norm);
    if (c < 1.0f) scale(grad, n, c);
    return (float)total;
}

float vq_optim_clip_grad_norm(const vq_optim *opt, float *grad, float max_norm)
{
    double ss = 0.0;
    for (int g = 0; g < opt->n_groups; g++)
        for (int r = 0; r < opt->groups[g].hp.n_ranges; r++)
            ss += sum_squares(grad + opt->groups[g].ranges[r].offset, opt->groups[g].ranges[r].count);
    double total = sqrt(ss);
    float c = clip_coef(total, max_norm);
    if (c < 1.0f)
        for (int g = 0; g < opt->n_groups; g++)
            for (int r = 0; r < opt->groups[g].hp.n_ranges; r++)
                scale(grad + opt->groups[g].ranges[r].offset, opt->groups[g].ranges[r].count, c);
    return (float)total;
}
