/* parity_teacher.c: N teacher-forced training steps with both optimizers (docs/parity.md).
 *
 * Free-running GAN steps diverge chaotically from any other correct implementation (Adam
 * turns rounding-noise gradients into +-lr updates and the generator/discriminator loop
 * amplifies them ~20x per step), so they cannot be held to 1e-3 beyond ~2 steps. Here every
 * step starts from the REFERENCE's state: before step s the params/buffers are loaded from
 * state<s> and both Adam optimizers' state (step count, exp_avg, exp_avg_sq) from adam<s>
 * (make_fixtures.py --teacher); one vq_train_step runs (forward, adversarial, backward, Adam
 * on the autoencoder, disc_step, Adam on the discriminator, after_step); then
 *   - the step's losses (every loss slot the fixture has: total, nll, q_loss, g_loss, d_weight,
 *     disc_factor, d_loss, logits_real / logits_fake means) are recorded; one row per loss over
 *     the N steps, rel = max_s |a_s - b_s| / max_s |b_s| (its own scale), tolerance 1e-3;
 *   - against state<s+1> / adam<s+1>, one row per step and optimizer for each of
 *     exp_avg:    m' = b1 m + (1 - b1) g with the same m loaded, so ours - ref = (1 - b1)(g - g_ref):
 *                 a check of the step's gradient; per tensor rel = max|a - b| / max|b|, the worst
 *                 tensor is named; gradient tolerance 1e-3;
 *     exp_avg_sq: v' = b2 v + (1 - b2) g^2, the same; tolerance 1e-3;
 *     params:     Adam's update lr m^/(sqrt(v^) + eps) is as sensitive to g as 1/sqrt(v^): where
 *                 g is rounding noise (v^ ~ g^2 tiny) ANY two correct implementations differ by
 *                 up to ~2 lr. So each element is held to the bound of what a gradient error
 *                 delta_t = max(1e-3 max|g_ref,t|, 2e-6 max|g_ref,opt|) (the gradient tolerance,
 *                 and the "zero gradient" level of parity_grads.c) can change in the update:
 *                   bound = lr max(u_hi - u, u - u_lo) + 4 u_f (|p'| + lr u_hi),
 *                   u = |m^|/(s + eps), u_hi = (|m^| + dm)/(s_lo + eps), u_lo = (|m^| - dm)/(s_hi + eps),
 *                   m^ = m'/bc1, s = sqrt(v'/bc2), dm = (1 - b1) delta / bc1,
 *                   dv = (1 - b2)(2 |g_ref| delta + delta^2) / bc2, s_lo/hi = sqrt(v'/bc2 -/+ dv),
 *                 (m', v' the reference's, g_ref = (m' - b1 m) / (1 - b1), u_f = 2^-24, bc_i the bias
 *                 corrections of step s+1); the row's value is max |p_ours - p_ref| / bound, <= 1;
 *     buffers:    the discriminator's BatchNorm statistics, rel per tensor, tolerance 1e-3.
 * Kinks: LeakyReLU, L1 and the hinge are piecewise linear; where an input lies within rounding
 * distance of a kink, the other implementation may take the other slope for that element, which
 * moves a gradient by that element's share (under cancellation, ~1e-2 of a tensor's largest
 * element: measured 5.8e-3 at a LeakyReLU input 9.5e-7 from 0). The fixture's per-step
 * kink_gap (the smallest such distance, relative to its layer's scale) below PT_KINK (1e-6, the
 * level of the two forwards' agreement) relaxes that step's moment and parameter rows by
 * PT_KINK_RELAX (x10), as near ties do for code indices; the step's losses are not relaxed.
 * Zero-level tensors (d loss / d k.bias of attention: 0 in exact arithmetic) are skipped by the
 * moment rows (their moments are noise) and held by the params row's bound.
 * What it is not: it does not re-run the reference; the free-running steps are parity_steps.c. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parity.h"
#include "train_step.h"

#define PT_KINK 1e-6
#define PT_KINK_RELAX 10.0

static int open_step_part(vq_st_file *f, const pt_fixture *fx, const char *part, int s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s%d.safetensors", fx->dir, fx->model, part, s);
    return vq_st_open(f, path);
}

/* Where tensor t's moments start in optimizer k's (S) state buffers: the ranges in order. */
static size_t state_offset(const vq_model_desc *d, int k, const vq_tensor_desc *t)
{
    size_t cum = 0;
    const vq_optim_desc *od = &d->optimizers[k];
    for (int r = 0; r < od->n_ranges; r++) {
        const vq_slab_range *g = &od->ranges[r];
        if (t->offset >= g->offset && t->offset < g->offset + g->count) return cum + (t->offset - g->offset);
        cum += g->count;
    }
    return (size_t)-1;
}

static const char *opt_tag(const vq_model_desc *d, int k) { return k == d->disc_optimizer && k > 0 ? "disc" : "ae"; }

/* Optimizer k's step count and moments from adam<s>: every tensor of the optimizer must be there. */
static int load_adam(const vq_model_desc *d, vq_optim *opt, int k, const vq_st_file *f)
{
    char key[320];
    const char *tag = opt_tag(d, k);
    size_t S = vq_optim_state_size(opt), n;
    vq_optim_state st, ea, es;
    int rc = vq_optim_state_find(&st, opt, "step", VQ_STATE_I64, 1);
    if (!rc) rc = vq_optim_state_find(&ea, opt, "exp_avg", VQ_STATE_F32, S);
    if (!rc) rc = vq_optim_state_find(&es, opt, "exp_avg_sq", VQ_STATE_F32, S);
    if (rc) return rc;
    snprintf(key, sizeof key, "optim.%s.step", tag);
    const vq_st_tensor *ts = vq_st_find(f, key);
    if (!ts || ts->dtype != VQ_DT_I64 || ts->numel != 1)
        return vq_fail(VQ_ERR_FORMAT, "%s: %s missing or not an I64 scalar", f->label, key);
    *(int64_t *)st.data = *(const int64_t *)ts->data;
    size_t covered = 0;
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role != VQ_ROLE_TRAINABLE || pt_optimizer_of(d, t->offset, t->numel) != k) continue;
        size_t at = state_offset(d, k, t);
        for (int which = 0; which < 2; which++) {
            snprintf(key, sizeof key, "optim.%s.%s.%s", tag, which ? "exp_avg_sq" : "exp_avg", t->name);
            float *own;
            const float *v = pt_get_f32(f, key, &n, &own);
            if (!v) return VQ_ERR_FORMAT;
            if (n != t->numel) { free(own); return vq_fail(VQ_ERR_MISMATCH, "%s: %s: %zu elements, not %zu", f->label, key, n, t->numel); }
            memcpy((float *)(which ? es.data : ea.data) + at, v, sizeof(float) * n);
            free(own);
        }
        covered += t->numel;
    }
    if (covered != S) return vq_fail(VQ_ERR_MISMATCH, "%s: optimizer %s: the table's tensors cover %zu of %zu state floats",
                                     f->label, d->optimizers[k].name, covered, S);
    return VQ_OK;
}

/* One aggregated row: value `rel` of the worst tensor `worst` against tol. */
static int agg_row(pt_report *r, pt_kind kind, const char *label, const char *worst, size_t numel, double abs,
                   double rel, double tol, int skipped)
{
    int fail = !(rel <= tol);
    double *w = kind == PT_GRAD ? &r->worst_grad : &r->worst_buf;
    if (kind != PT_STEPS && rel > *w) *w = rel;
    r->rows++;
    r->fails += fail;
    printf("%-6s %-56s %9zu  %10.3e  %10.3e  %8.1e  %s (worst %s%s)\n", kind == PT_GRAD ? "grad" : kind == PT_BUF ? "buffer" : "steps",
           label, numel, abs, rel, tol, fail ? "FAIL" : "ok", worst ? worst : "-", skipped ? ", zero-level skipped" : "");
    return fail;
}

/* After step s: optimizer k's moments and parameters against adam<s+1>/state<s+1>; prev = adam<s>. */
static void check_optimizer(pt_report *r, const vq_model_desc *d, vq_model *m, vq_optim *opt, int k, int s,
                            const vq_st_file *prev, const vq_st_file *next_adam, const vq_st_file *next_state,
                            double kink, double *worst_ratio)
{
    const double relax = kink < PT_KINK ? PT_KINK_RELAX : 1.0;
    char kn[64] = "";
    if (relax > 1.0) snprintf(kn, sizeof kn, " [kink %.1e]", kink);
    const vq_optim_desc *od = &d->optimizers[k];
    const char *tag = opt_tag(d, k);
    const double b1 = od->beta1, b2 = od->beta2, eps = od->eps, lr = vq_optim_lr(opt, 0);
    const double bc1 = 1.0 - pow(b1, s + 1), bc2 = 1.0 - pow(b2, s + 1), uf = ldexp(1.0, -24);
    size_t S = vq_optim_state_size(opt);
    vq_optim_state ea, es;
    if (vq_optim_state_find(&ea, opt, "exp_avg", VQ_STATE_F32, S) || vq_optim_state_find(&es, opt, "exp_avg_sq", VQ_STATE_F32, S)) {
        pt_failf(r, "step %d: %s", s, vq_last_error());
        return;
    }
    const float *P = d->params(m);
    /* pass 1: the reference's gradient scale per tensor and over the optimizer */
    double gopt = 0.0;
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role != VQ_ROLE_TRAINABLE || pt_optimizer_of(d, t->offset, t->numel) != k) continue;
        char k0[320], k1[320];
        snprintf(k0, sizeof k0, "optim.%s.exp_avg.%s", tag, t->name);
        const vq_st_tensor *a0 = vq_st_find(prev, k0), *a1 = vq_st_find(next_adam, k0);
        (void)k1;
        if (!a0 || !a1) { pt_failf(r, "step %d: %s", s, vq_last_error()); return; }
        for (uint64_t j = 0; j < a0->numel; j++)
            gopt = fmax(gopt, fabs(((const float *)a1->data)[j] - b1 * ((const float *)a0->data)[j]) / (1.0 - b1));
    }
    double worst[3] = {0, 0, 0}, wabs[3] = {0, 0, 0};   /* exp_avg, exp_avg_sq, params */
    const char *wname[3] = {NULL, NULL, NULL};
    size_t total = 0;
    int skipped = 0;
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role != VQ_ROLE_TRAINABLE || pt_optimizer_of(d, t->offset, t->numel) != k) continue;
        char key[320];
        snprintf(key, sizeof key, "optim.%s.exp_avg.%s", tag, t->name);
        const float *m0 = vq_st_find(prev, key)->data, *m1 = vq_st_find(next_adam, key)->data;
        snprintf(key, sizeof key, "optim.%s.exp_avg_sq.%s", tag, t->name);
        const vq_st_tensor *tv = vq_st_find(next_adam, key);
        const vq_st_tensor *tp = vq_st_find(next_state, t->name);
        if (!tv || !tp || tp->dtype != VQ_DT_F32 || tp->numel != t->numel) {
            pt_failf(r, "step %d: %s or %s missing in the fixture", s, key, t->name);
            continue;
        }
        const float *v1 = tv->data, *p1 = tp->data;
        const size_t at = state_offset(d, k, t);
        const float *ma = (const float *)ea.data + at, *va = (const float *)es.data + at, *pa = P + t->offset;
        double gt = 0.0, mmax = 0.0, vmax = 0.0, mabs = 0.0, vabs = 0.0, pabs = 0.0, ratio = 0.0;
        for (size_t j = 0; j < t->numel; j++) {
            gt = fmax(gt, fabs(m1[j] - b1 * m0[j]) / (1.0 - b1));
            mmax = fmax(mmax, fabs(m1[j]));
            vmax = fmax(vmax, fabs(v1[j]));
            mabs = fmax(mabs, isfinite(ma[j]) ? fabs(ma[j] - m1[j]) : INFINITY);
            vabs = fmax(vabs, isfinite(va[j]) ? fabs(va[j] - v1[j]) : INFINITY);
        }
        const double delta = fmax(PT_TOL_GRAD * gt, 2 * PT_GRAD_ZERO * gopt);
        for (size_t j = 0; j < t->numel; j++) {
            double g = fabs(m1[j] - b1 * m0[j]) / (1.0 - b1);
            double mh = fabs(m1[j]) / bc1, vh = v1[j] / bc2, sq = sqrt(vh);
            double dm = (1.0 - b1) * delta / bc1, dv = (1.0 - b2) * (2.0 * g * delta + delta * delta) / bc2;
            double s_lo = sqrt(fmax(vh - dv, 0.0)), s_hi = sqrt(vh + dv);
            double u = mh / (sq + eps), u_hi = (mh + dm) / (s_lo + eps), u_lo = (mh - dm) / (s_hi + eps);
            double bound = lr * fmax(u_hi - u, u - u_lo) + 4 * uf * (fabs(p1[j]) + lr * u_hi);
            double e = isfinite(pa[j]) ? fabs((double)pa[j] - p1[j]) : INFINITY;
            pabs = fmax(pabs, e);
            ratio = fmax(ratio, e / bound);
        }
        total += t->numel;
        if (gt <= PT_GRAD_ZERO * gopt) skipped = 1;   /* moments are noise: only the params bound */
        else {
            double rm = mabs / mmax, rv = vabs / vmax;
            if (!(rm <= worst[0])) { worst[0] = rm; wabs[0] = mabs; wname[0] = t->name; }
            if (!(rv <= worst[1])) { worst[1] = rv; wabs[1] = vabs; wname[1] = t->name; }
        }
        if (!(ratio <= worst[2])) { worst[2] = ratio; wabs[2] = pabs; wname[2] = t->name; }
    }
    char label[160];
    snprintf(label, sizeof label, "tf step %d: %s exp_avg (= gradient check)%s", s, od->name, kn);
    agg_row(r, PT_GRAD, label, wname[0], total, wabs[0], worst[0], relax * PT_TOL_GRAD, skipped);
    snprintf(label, sizeof label, "tf step %d: %s exp_avg_sq%s", s, od->name, kn);
    agg_row(r, PT_GRAD, label, wname[1], total, wabs[1], worst[1], relax * PT_TOL_GRAD, skipped);
    snprintf(label, sizeof label, "tf step %d: %s params (|diff| / update bound)%s", s, od->name, kn);
    agg_row(r, PT_STEPS, label, wname[2], total, wabs[2], worst[2], relax, 0);
    if (worst[2] > *worst_ratio) *worst_ratio = worst[2];
}

static void check_buffers(pt_report *r, const vq_model_desc *d, vq_model *m, const vq_st_file *next_state, int s)
{
    const float *BU = d->buffers ? d->buffers(m) : NULL;
    double worst = 0.0, wabs = 0.0;
    const char *wname = NULL;
    size_t total = 0;
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role != VQ_ROLE_BUFFER) continue;
        size_t n;
        float *own;
        const float *v = pt_get_f32(next_state, t->name, &n, &own);
        if (!v || n != t->numel) { pt_failf(r, "step %d: buffer %s missing or of the wrong size", s, t->name); free(own); continue; }
        double a = 0.0, bm = 0.0;
        for (size_t j = 0; j < n; j++) {
            a = fmax(a, isfinite(BU[t->offset + j]) ? fabs(BU[t->offset + j] - v[j]) : INFINITY);
            bm = fmax(bm, fabs(v[j]));
        }
        double rel = bm > 0 ? a / bm : a;
        if (!(rel <= worst)) { worst = rel; wabs = a; wname = t->name; }
        total += n;
        free(own);
    }
    char label[160];
    snprintf(label, sizeof label, "tf step %d: buffers", s);
    if (total) agg_row(r, PT_BUF, label, wname, total, wabs, worst, PT_TOL_STEPS, 0);
}

int pt_check_teacher(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx)
{
    const char *sn = vq_st_meta_get(&fx->steps, "steps");
    int N = sn ? atoi(sn) : 0;
    if (N <= 0 || fx->n_states != N + 1) {
        pt_failf(r, "teacher-forced steps: %d states for %d steps (make_fixtures.py --teacher writes N + 1)", fx->n_states, N);
        return 1;
    }
    int gan = 0;
    if (pt_factors_agree(r, d, fx, N, &gan)) return 1;
    vq_optim *opts[VQ_DESC_MAX_OPTIMIZERS] = {0};
    vq_schedule sched[VQ_DESC_MAX_OPTIMIZERS];
    int used[VQ_DESC_MAX_OPTIMIZERS] = {0};
    used[0] = 1;
    if (gan) used[d->disc_optimizer] = 1;
    int bad = 0;
    for (int k = 0; k < VQ_DESC_MAX_OPTIMIZERS && !bad; k++)
        if (used[k]) bad = pt_make_adam(r, d, fx, k, &opts[k], &sched[k]);
    size_t nx;
    float *ox = NULL;
    const float *x = bad ? NULL : pt_get_f32(&fx->inputs, "x", &nx, &ox);
    float *hist = calloc((size_t)N * (size_t)d->n_losses, sizeof(float));   /* (N, n_losses) */
    int *flips = calloc((size_t)N, sizeof(int));
    vq_st_file st[2], ad[2];   /* [s % 2]: state<s>, adam<s>; [(s + 1) % 2]: the next */
    memset(st, 0, sizeof st);
    memset(ad, 0, sizeof ad);
    vq_rng rng;
    vq_rng_seed(&rng, 0);
    double worst_ratio = 0.0;
    int rc = bad || !x ? VQ_ERR_ARG : !hist || !flips ? vq_fail(VQ_ERR_NOMEM, "out of memory") : 0;
    size_t nk = 0;
    float *okink = NULL;
    const float *kink = NULL;
    if (vq_st_find(&fx->steps, "kink_gap")) kink = pt_get_f32(&fx->steps, "kink_gap", &nk, &okink);
    vq_clear_error();
    if (kink && nk != (size_t)N) kink = NULL;
    if (!rc) rc = open_step_part(&st[0], fx, "state", 0);
    if (!rc) rc = open_step_part(&ad[0], fx, "adam", 0);
    printf("       teacher-forced: each step from the reference's state before it (%d steps, %s)\n", N,
           gan ? "both optimizers" : "autoencoder optimizer");
    for (int s = 0; s < N && !rc; s++) {
        vq_st_file *cs = &st[s % 2], *ca = &ad[s % 2], *ns = &st[(s + 1) % 2], *na = &ad[(s + 1) % 2];
        rc = pt_load_weights(d, m, cs);
        for (int k = 0; k < VQ_DESC_MAX_OPTIMIZERS && !rc; k++)
            if (opts[k]) rc = load_adam(d, opts[k], k, ca);
        vq_step_info info;
        if (!rc) rc = vq_train_step(d, m, opts, sched, x, fx->B, s, &rng, &info);
        if (rc) break;
        memcpy(hist + (size_t)s * d->n_losses, d->loss_values(m), sizeof(float) * (size_t)d->n_losses);
        flips[s] = pt_count_flips(d, m, fx, s);
        if ((rc = open_step_part(ns, fx, "state", s + 1)) || (rc = open_step_part(na, fx, "adam", s + 1))) break;
        for (int k = 0; k < VQ_DESC_MAX_OPTIMIZERS; k++)
            if (opts[k]) check_optimizer(r, d, m, opts[k], k, s, ca, na, ns, kink ? kink[s] : 1.0, &worst_ratio);
        check_buffers(r, d, m, ns, s);
        vq_st_close(cs);
        vq_st_close(ca);
    }
    for (int i = 0; i < 2; i++) { vq_st_close(&st[i]); vq_st_close(&ad[i]); }
    for (int k = 0; k < VQ_DESC_MAX_OPTIMIZERS; k++) vq_optim_destroy(opts[k]);
    free(ox);
    free(okink);
    if (rc) { pt_failf(r, "teacher-forced steps: %s", vq_last_error()); free(hist); free(flips); return 1; }

    /* the per-step table, then one row per loss over the N steps */
    const char *cols[] = {"total", "d_weight", "d_loss"};
    printf("       step");
    for (int c = 0; c < 3; c++) printf("  %-10s %-12s %-12s", cols[c], "(ours)", "reference");
    printf("  codes differing\n");
    for (int s = 0; s < N; s++) {
        printf("       %4d", s);
        for (int c = 0; c < 3; c++) {
            int li = -1;
            for (int i = 0; i < d->n_losses; i++)
                if (!strcmp(d->loss_names[i], cols[c])) li = i;
            const char *ref = li >= 0 ? pt_ref_loss(d, &fx->steps, cols[c]) : NULL;
            size_t n;
            float *own;
            const float *v = ref ? pt_get_f32(&fx->steps, ref, &n, &own) : NULL;
            if (v && n == (size_t)N) printf("  %-10s %-12.8g %-12.8g", "", hist[(size_t)s * d->n_losses + li], v[s]);
            else printf("  %-10s %-12s %-12s", "", "-", "-");
            if (v) free(own);
            vq_clear_error();
        }
        printf("  %d\n", flips[s]);
    }
    float *col = malloc(sizeof(float) * (size_t)N);
    for (int i = 0; col && i < d->n_losses; i++) {
        const char *name = d->loss_names[i];
        if (pt_loss_pending(name, gan, fx->has_lpips)) continue;
        const char *ref = pt_ref_loss(d, &fx->steps, name);
        if (!ref) { vq_clear_error(); pt_pending(r, name, "teacher-forced steps: not in the steps part"); continue; }
        if (fx->has_lpips && (!strcmp(name, "rec") || !strcmp(name, "p_loss"))) continue;
        size_t n;
        float *own;
        const float *v = pt_get_f32(&fx->steps, ref, &n, &own);
        for (int s = 0; s < N; s++) col[s] = hist[(size_t)s * d->n_losses + i];
        char label[160];
        snprintf(label, sizeof label, "%d tf steps: loss %s = ref %s", N, name, ref);
        if (v && n == (size_t)N) pt_compare(r, PT_STEPS, label, col, v, (size_t)N, PT_TOL_STEPS);
        else pt_failf(r, "%s: missing or not (%d,)", label, N);
        free(own);
    }
    free(col);
    printf("       teacher-forced: worst parameter |diff| / update bound %.3g (<= 1; <= %g at kink steps)\n", worst_ratio, PT_KINK_RELAX);
    free(hist);
    free(flips);
    return 0;
}
