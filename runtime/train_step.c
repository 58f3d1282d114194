/* train_step.c: one training step of a model (see train_step.h). */
#include "train_step.h"

#include <math.h>
#include <string.h>

double vq_disc_factor_generator(const vq_model_desc *d, int64_t step)
{
    if (!d->has_disc || step < d->losses.disc_start) return 0.0;
    return d->losses.disc_factor;
}

double vq_disc_factor_discriminator(const vq_model_desc *d, int64_t step)
{
    if (!d->has_disc || step < d->losses.disc_start - d->losses.disc_warmup) return 0.0;
    return d->losses.disc_factor;
}

static int losses_finite(const vq_model_desc *d, vq_model *m, const char *when)
{
    const float *L = d->loss_values(m);
    for (int i = 0; i < d->n_losses; i++)
        if (!isfinite(L[i])) return vq_fail(VQ_ERR_NUMERIC, "loss %s is %g (%s)", d->loss_names[i], (double)L[i], when);
    return VQ_OK;
}

/* The 2-norm of the optimizer's gradient ranges; when it is not finite, the
 * first tensor (table order) holding a NaN or Inf is named. */
static int grad_norm_checked(const vq_model_desc *d, vq_model *m, const vq_optim_desc *od, double *norm)
{
    const float *g = d->grads(m);
    double s = 0.0;
    for (int r = 0; r < od->n_ranges; r++)
        for (size_t k = 0; k < od->ranges[r].count; k++) {
            double v = g[od->ranges[r].offset + k];
            s += v * v;
        }
    *norm = sqrt(s);
    if (isfinite(s)) return VQ_OK;
    for (int t = 0; t < d->n_tensors; t++) {
        const vq_tensor_desc *td = &d->tensors[t];
        if (td->role != VQ_ROLE_TRAINABLE) continue;
        for (size_t k = 0; k < td->numel; k++)
            if (!isfinite(g[td->offset + k]))
                return vq_fail(VQ_ERR_NUMERIC, "gradient of %s is %g at element %zu", td->name,
                               (double)g[td->offset + k], k);
    }
    return vq_fail(VQ_ERR_NUMERIC, "the gradient norm of optimizer %s overflowed", od->name);
}

static int optimizer_step(const vq_model_desc *d, vq_model *m, vq_optim *opt, const vq_schedule *sched, int k,
                          int64_t step, double *norm)
{
    const vq_optim_desc *od = &d->optimizers[k];
    int rc = grad_norm_checked(d, m, od, norm);
    if (rc) return rc;
    vq_optim_set_lr_factor(opt, vq_schedule_factor(sched, step));
    if (od->clip_norm > 0) vq_optim_clip_grad_norm(opt, d->grads(m), (float)od->clip_norm);
    vq_optim_step(opt, d->params(m), d->grads(m));
    return VQ_OK;
}

int vq_train_step(const vq_model_desc *d, vq_model *m, vq_optim *const *opts, const vq_schedule *sched,
                  const float *x, int B, int64_t step, vq_rng *rng, vq_step_info *info)
{
    memset(info, 0, sizeof *info);
    d->zero_grads(m);
    int rc = d->forward(m, x, B, VQ_MODE_TRAIN, rng);
    if (!rc) rc = losses_finite(d, m, "forward");
    if (rc) return rc;
    double fg = vq_disc_factor_generator(d, step);
    if (fg > 0.0) {
        if ((rc = d->adversarial(m, (float)fg)) || (rc = losses_finite(d, m, "generator's adversarial term")))
            return rc;
        info->adversarial = 1;
    }
    if ((rc = d->backward(m))) return rc;
    if ((rc = optimizer_step(d, m, opts[0], &sched[0], 0, step, &info->grad_norm))) return rc;
    double fd = vq_disc_factor_discriminator(d, step);
    if (fd > 0.0) {
        int k = d->disc_optimizer;
        if (k <= 0 || k >= d->n_optimizers)
            return vq_fail(VQ_ERR_ARG, "model %s: no optimizer over the discriminator (disc_optimizer %d)", d->name, k);
        if ((rc = d->disc_step(m, (float)fd)) || (rc = losses_finite(d, m, "discriminator step"))) return rc;
        if ((rc = optimizer_step(d, m, opts[k], &sched[k], k, step, &info->disc_grad_norm))) return rc;
        info->disc_trained = 1;
    }
    return d->after_step(m, step, rng);
}
