/* parity_actnorm.c: ActNorm's parameters after the discriminator's first passes, against
 * the `actnorm.<module>.loc` / `.scale` keys of the forward fixture
 * (tests/reference/make_actnorm_fixtures.py). With initialized = 0 in the weights they are
 * the data-dependent init's result (loc = -mean, scale = 1/(std + 1e-6) of D's first
 * training batch, the generator step's x_hat); with initialized = 1 the weights unchanged.
 * Fixtures without those keys (every other model and run) add no row. The `initialized`
 * buffer itself is compared with the other buffers (pt_check_buffers).
 */
#include <stdlib.h>
#include <string.h>

#include "parity.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

int pt_check_actnorm(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx)
{
    const float *P = d->params(m);
    int fails = 0;
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role != VQ_ROLE_TRAINABLE || !(ends_with(t->name, ".loc") || ends_with(t->name, ".scale"))) continue;
        char key[320];
        snprintf(key, sizeof key, "actnorm.%s", t->name);
        if (!vq_st_find(&fx->forward, key)) { vq_clear_error(); continue; }
        size_t n;
        float *owned;
        const float *want = pt_get_f32(&fx->forward, key, &n, &owned);
        if (!want || n != t->numel) {
            pt_failf(r, "%s: %zu values in the fixture, the model has %zu", key, want ? n : 0, t->numel);
            fails++;
        } else {
            fails += pt_compare(r, PT_FWD, key, P + t->offset, want, n, PT_TOL_FORWARD);
        }
        free(owned);
    }
    return fails;
}
