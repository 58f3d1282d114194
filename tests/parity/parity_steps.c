/* parity_steps.c: N training steps against the fixture's `steps` part.
 *
 * One step is runtime/train_step.h's vq_train_step, as the driver's `train` runs it:
 * zero_grads -> forward(TRAIN) -> [adversarial] -> backward -> Adam step of optimizer 0 ->
 * [disc_step on the same forward's x_hat -> Adam step of the discriminator's optimizer] ->
 * after_step. The same input batch every step (make_fixtures.py does the same), so the losses
 * differ only by the computation. lr = the optimizer's lr (x B when lr_scale_batch), betas and
 * eps from the description; they must equal the fixture's metadata (one lr for both of its
 * optimizers), else the comparison is meaningless. The model's disc_start must agree with the
 * fixture's per-step disc_factor. With disc_factor 0 the reference still runs its
 * discriminator step (zero gradient: nothing the autoencoder sees changes; its BatchNorm
 * statistics move, hence those buffers are pending without the GAN half).
 *
 * Every loss series is judged on the scale of the total loss: rel = max_s |a_s - b_s| /
 * max_s |total_ref_s|. Adam turns gradient elements that are rounding noise (|g| ~ 1e-8 of
 * the largest, sign not reproducible) into full +-lr updates, so after k steps some weights
 * differ by ~2 k lr between any two correct implementations (measured: 3e-4 after 5 steps of
 * vqgan_fmnist at lr 2e-4, all in elements whose step-0 gradient was ~5e-8); a small term
 * such as q_loss then moves by ~1e-3 of ITSELF while the objective moves by ~1e-4. Each
 * term's own exactness is checked at step 0 (1e-4 of itself, pt_check_forward). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "optim.h"
#include "parity.h"
#include "train_step.h"

static int meta_num(pt_report *r, const vq_st_file *f, const char *key, double ours)
{
    const char *v = vq_st_meta_get(f, key);
    if (!v) { pt_failf(r, "%s: no metadata %s", f->label, key); return 1; }
    double ref = strtod(v, NULL);
    if (fabs(ref - ours) > 1e-12 * fabs(ref)) {
        pt_failf(r, "steps: %s %.17g in the fixture, %.17g in the model's description", key, ref, ours);
        return 1;
    }
    return 0;
}

/* Debugging a divergence: PARITY_DUMP_PARAMS=FILE writes every trainable tensor after the
 * steps, under its reference name, to compare with PyTorch's. */
static int dump_params(const vq_model_desc *d, vq_model *m, const char *path)
{
    vq_st_ref *refs = calloc((size_t)d->n_tensors, sizeof *refs);
    if (!refs) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    size_t n = 0;
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role != VQ_ROLE_TRAINABLE) continue;
        refs[n++] = (vq_st_ref){t->name, VQ_DT_F32, t->ndim, t->shape, d->params(m) + t->offset};
    }
    int rc = vq_st_write(path, refs, n, NULL, 0);
    free(refs);
    return rc;
}

/* How many codes of step s's forward differ from the reference's (indices.<key> (N, B, h, w));
 * -1 when the fixture does not have them. Printed to explain a divergence, not judged: after
 * a few Adam steps a near tie cannot be told from a wrong code without the step's z. */
int pt_count_flips(const vq_model_desc *d, vq_model *m, pt_fixture *fx, int s)
{
    int n_diff = 0;
    for (int c = 0; c < d->n_codebooks; c++) {
        char key[128];
        snprintf(key, sizeof key, "indices.%s", pt_ref_indices(d->codebooks[c].name));
        const vq_st_tensor *t = vq_st_find(&fx->steps, key);
        if (!t || t->dtype != VQ_DT_I64) { vq_clear_error(); return -1; }
        size_t M = (size_t)fx->B * (size_t)d->codebooks[c].grid_h * (size_t)d->codebooks[c].grid_w;
        if (t->numel < (uint64_t)(s + 1) * M) return -1;
        const int64_t *ref = (const int64_t *)t->data + (size_t)s * M;
        const int32_t *ours = d->indices(m, c);
        for (size_t p = 0; p < M; p++) n_diff += ours[p] != ref[p];
    }
    return n_diff;
}

/* Optimizer k as the fixture's: Adam with its lr, betas, eps, nothing else. */
int pt_make_adam(pt_report *r, const vq_model_desc *d, pt_fixture *fx, int k, vq_optim **opt, vq_schedule *sched)
{
    const vq_optim_desc *od = &d->optimizers[k];
    if (strcmp(od->kind, "adam")) { pt_failf(r, "steps: optimizer %s is %s; the fixture trains with Adam", od->name, od->kind); return 1; }
    double lr = od->lr * (od->lr_scale_batch ? fx->B : 1);
    if (meta_num(r, &fx->steps, "lr", lr) | meta_num(r, &fx->steps, "beta1", od->beta1)
        | meta_num(r, &fx->steps, "beta2", od->beta2) | meta_num(r, &fx->steps, "eps", od->eps))
        return 1;
    if (od->weight_decay != 0 || od->clip_norm > 0 || (od->schedule && strcmp(od->schedule, "constant"))) {
        pt_failf(r, "steps: optimizer %s has weight decay, clipping or a schedule the fixture does not", od->name);
        return 1;
    }
    vq_param_group g = vq_group_defaults(VQ_ADAM, lr);
    g.beta1 = od->beta1; g.beta2 = od->beta2; g.eps = od->eps;
    g.ranges = (const vq_range *)od->ranges;   /* vq_slab_range has vq_range's layout */
    g.n_ranges = od->n_ranges;
    memset(sched, 0, sizeof *sched);
    sched->kind = VQ_SCHED_CONSTANT;
    if (vq_optim_create(opt, VQ_ADAM, d->n_params, &g, 1)) { pt_failf(r, "optimizer %s: %s", od->name, vq_last_error()); return 1; }
    return 0;
}

/* The model's disc_start must give the fixture's disc_factor at every step (generator side). */
int pt_factors_agree(pt_report *r, const vq_model_desc *d, pt_fixture *fx, int N, int *gan)
{
    *gan = 0;
    if (!vq_st_find(&fx->steps, "disc_factor")) { vq_clear_error(); return 0; }
    size_t n;
    float *own;
    const float *df = pt_get_f32(&fx->steps, "disc_factor", &n, &own);
    int bad = !df || n != (size_t)N;
    for (int s = 0; !bad && s < N; s++) {
        double ours = vq_disc_factor_generator(d, s), dd = vq_disc_factor_discriminator(d, s);
        *gan |= df[s] != 0.0f;
        if (fabs(ours - df[s]) > 1e-7 || fabs(dd - df[s]) > 1e-7) {
            pt_failf(r, "steps: step %d: disc_factor %g in the fixture, the model's train step uses %g (generator) "
                        "and %g (discriminator): generate with -D disc_start=... matching make_fixtures --disc-start",
                     s, (double)df[s], ours, dd);
            bad = 1;
        }
    }
    free(own);
    return bad;
}

int pt_check_steps(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx, int info)
{
    const char *sn = vq_st_meta_get(&fx->steps, "steps");
    int N = sn ? atoi(sn) : 0;
    if (N <= 0) { pt_failf(r, "%s: no `steps` count in the metadata", fx->steps.label); return 1; }
    int gan = 0;
    if (pt_factors_agree(r, d, fx, N, &gan)) return 1;
    vq_optim *opts[VQ_DESC_MAX_OPTIMIZERS] = {0};
    vq_schedule sched[VQ_DESC_MAX_OPTIMIZERS];
    int bad = pt_make_adam(r, d, fx, 0, &opts[0], &sched[0]);
    if (!bad && gan) bad = pt_make_adam(r, d, fx, d->disc_optimizer, &opts[d->disc_optimizer], &sched[d->disc_optimizer]);
    if (bad) { for (int k = 0; k < VQ_DESC_MAX_OPTIMIZERS; k++) vq_optim_destroy(opts[k]); return 1; }

    size_t nx;
    float *ox;
    const float *x = pt_get_f32(&fx->inputs, "x", &nx, &ox);
    float *hist = calloc((size_t)N * (size_t)d->n_losses, sizeof(float));   /* (N, n_losses) */
    int *flips = calloc((size_t)N, sizeof(int));   /* (N) codes that differ from the reference's, all codebooks */
    vq_rng rng;
    vq_rng_seed(&rng, 0);
    int rc = hist && flips ? 0 : vq_fail(VQ_ERR_NOMEM, "out of memory");
    for (int s = 0; s < N && !rc; s++) {
        vq_step_info info;
        rc = vq_train_step(d, m, opts, sched, x, fx->B, s, &rng, &info);
        /* the slots hold the step's forward, adversarial and disc_step values (after_step keeps them) */
        if (!rc) memcpy(hist + (size_t)s * d->n_losses, d->loss_values(m), sizeof(float) * (size_t)d->n_losses);
        if (!rc) flips[s] = pt_count_flips(d, m, fx, s);
    }
    for (int k = 0; k < VQ_DESC_MAX_OPTIMIZERS; k++) vq_optim_destroy(opts[k]);
    if (!rc && getenv("PARITY_DUMP_PARAMS")) rc = dump_params(d, m, getenv("PARITY_DUMP_PARAMS"));
    if (rc) { pt_failf(r, "steps: %s", vq_last_error()); free(hist); free(flips); free(ox); return 1; }

    const char *tref = pt_ref_loss(d, &fx->steps, d->loss_names[0]);
    size_t n;
    float *own;
    const float *tv = tref ? pt_get_f32(&fx->steps, tref, &n, &own) : NULL;
    double total_scale = 0.0;
    if (tv && n == (size_t)N) {
        for (int s = 0; s < N; s++) total_scale = fmax(total_scale, fabs(tv[s]));
        printf("       step  %-14s %-14s %-10s  codes differing\n", "total (ours)", "reference", "rel diff");
        for (int s = 0; s < N; s++)
            printf("       %4d  %-14.8g %-14.8g %.3e   %d\n", s, hist[(size_t)s * d->n_losses], tv[s],
                   fabs(hist[(size_t)s * d->n_losses] - tv[s]) / fabs(tv[s]), flips[s]);
        free(own);
    }
    float *col = malloc(sizeof(float) * (size_t)N);
    for (int i = 0; col && i < d->n_losses; i++) {
        const char *ref = pt_ref_loss(d, &fx->steps, d->loss_names[i]);
        if (pt_loss_pending(d->loss_names[i], gan, fx->has_lpips)) continue;   /* listed once by pt_check_forward */
        if ((!strcmp(d->loss_names[i], "logits_real") || !strcmp(d->loss_names[i], "logits_fake"))
            && !vq_st_find(&fx->steps, d->loss_names[i])) {
            vq_clear_error();
            continue;   /* older steps parts have no logit means (compared at step 0) */
        }
        if (fx->has_lpips && (!strcmp(d->loss_names[i], "p_loss") || !strcmp(d->loss_names[i], "rec")))
            continue;   /* the steps part has nll_loss only (= rec + p_loss): compared at step 0 */
        if (!ref) { pt_failf(r, "steps: loss %s has no reference (parity_names.c)", d->loss_names[i]); continue; }
        const float *v = pt_get_f32(&fx->steps, ref, &n, &own);
        for (int s = 0; s < N; s++) col[s] = hist[(size_t)s * d->n_losses + i];
        char label[160];
        snprintf(label, sizeof label, "%d %ssteps: loss %s = ref %s", N, info ? "free " : "", d->loss_names[i], ref);
        const double tol = strcmp(d->loss_names[i], "d_weight") ? PT_TOL_STEPS : PT_TOL_DWEIGHT_STEPS;
        if (v && n == (size_t)N)
            pt_compare_scaled(r, info ? PT_INFO : PT_STEPS, label, col, v, (size_t)N, total_scale, tol);
        else pt_failf(r, "%s: missing or not (%d,)", label, N);
        free(own);
    }
    free(col);
    free(hist);
    free(flips);
    free(ox);
    return 0;
}
