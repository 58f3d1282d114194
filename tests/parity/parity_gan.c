/* parity_gan.c: the adversarial half of a VQGAN against the fixtures (docs/parity.md).
 *
 * Runs only when the model has a discriminator and the fixture's disc_factor is not 0
 * (make_fixtures.py --disc-start 0). The order is the generated train step's
 * (runtime/train_step.h), which the fixture follows on one forward:
 *   forward(TRAIN) -> adversarial(m, f): D(x_hat) in train mode (BatchNorm pass 1), g_loss,
 *     d_weight from |d nll / d w| / |d g_loss / d w| at decoder.conv_out.weight, total += ...
 *     -> compared by pt_check_forward(gan = 1): g_loss, d_weight, disc_factor, total, and the
 *     loss slot logits_fake against the mean of disc.logits_fake_g (B, 1, h, w)
 *   backward -> every autoencoder gradient (pt_check_grads, optimizer 0), adversarial term included
 *   disc_step(m, f): D(x), D(x_hat) detached, both train mode (BatchNorm passes 2, 3) ->
 *     pt_check_disc: d_loss, the slots logits_real / logits_fake against the means of
 *     disc.logits_real / disc.logits_fake, every discriminator gradient (d d_loss / d p)
 *   after_step -> pt_check_buffers(gan = 1): the BatchNorm running stats after three passes.
 * What it is not: the model exposes only the logits' means (loss slots), not the logit maps,
 * and not d_weight's two gradient norms (adaptive.nll_grad / g_grad: d_weight is compared). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parity.h"

double pt_fixture_disc_factor(pt_fixture *fx)
{
    if (!vq_st_find(&fx->losses, "disc_factor")) { vq_clear_error(); return 0.0; }
    size_t n;
    float *own;
    const float *v = pt_get_f32(&fx->losses, "disc_factor", &n, &own);
    double f = v && n == 1 ? v[0] : 0.0;
    free(own);
    return f;
}

int pt_compare_mean(pt_report *r, const char *label, float ours, const vq_st_file *f, const char *key)
{
    size_t n;
    float *own;
    const float *v = pt_get_f32(f, key, &n, &own);
    if (!v || !n) { pt_failf(r, "%s: fixture %s missing", label, key); free(own); return 1; }
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += v[i];
    float mean = (float)(s / (double)n);
    free(own);
    return pt_compare(r, PT_FWD, label, &ours, &mean, 1, PT_TOL_FORWARD);
}

static int loss_index(const vq_model_desc *d, const char *name)
{
    for (int i = 0; i < d->n_losses; i++)
        if (!strcmp(d->loss_names[i], name)) return i;
    return -1;
}

int pt_check_disc(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx)
{
    const float *L = d->loss_values(m);
    int il = loss_index(d, "d_loss"), ir = loss_index(d, "logits_real"), iff = loss_index(d, "logits_fake");
    if (il < 0 || ir < 0 || iff < 0) {
        pt_failf(r, "model %s has no loss slot d_loss / logits_real / logits_fake", d->name);
        return 1;
    }
    size_t n;
    float *own;
    const float *v = pt_get_f32(&fx->losses, "d_loss", &n, &own);
    if (v && n == 1) pt_compare(r, PT_FWD, "loss d_loss = ref d_loss (disc step)", &L[il], v, 1, PT_TOL_FORWARD);
    else pt_failf(r, "fixture d_loss missing or not a scalar");
    free(own);
    pt_compare_mean(r, "loss logits_real = mean disc.logits_real", L[ir], &fx->forward, "disc.logits_real");
    pt_compare_mean(r, "loss logits_fake = mean disc.logits_fake (disc step)", L[iff], &fx->forward, "disc.logits_fake");
    return pt_check_grads(r, d, m, fx, d->disc_optimizer, 1);
}
