/* parity_grads.c: every parameter gradient after one backward, and buffers against a
 * fixture file (after the step, or after N steps).
 *
 * Gradients: every trainable tensor of one optimizer is compared with the fixture: optimizer 0
 * (what backward differentiates) with d loss / d p, the discriminator's (after disc_step) with
 * d d_loss / d p. Without the GAN half the discriminator's are listed as pending. The
 * fixture's adaptive.* entries (d_weight's ingredients) are not exposed by the model (pending:
 * d_weight itself is compared). Any other name the fixture has and the model lacks, or the
 * reverse, is a failure. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "parity.h"

static int is_trainable(const vq_model_desc *d, const char *name)
{
    for (int i = 0; i < d->n_tensors; i++)
        if (d->tensors[i].role == VQ_ROLE_TRAINABLE && !strcmp(d->tensors[i].name, name)) return 1;
    return 0;
}

/* largest |d loss / d p| of the reference over the tensors of optimizer opt */
static double grad_scale(const vq_model_desc *d, pt_fixture *fx, int opt)
{
    double g = 0.0;
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role != VQ_ROLE_TRAINABLE || pt_optimizer_of(d, t->offset, t->numel) != opt) continue;
        const vq_st_tensor *ft = vq_st_find(&fx->grads, t->name);
        if (!ft || ft->dtype != VQ_DT_F32) continue;
        for (uint64_t k = 0; k < ft->numel; k++) g = fmax(g, fabs(((const float *)ft->data)[k]));
    }
    vq_clear_error();
    return g;
}

int pt_check_grads(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx, int opt, int gan)
{
    const float *G = d->grads(m);
    const double zero = PT_GRAD_ZERO * grad_scale(d, fx, opt);
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role != VQ_ROLE_TRAINABLE) continue;
        int o = pt_optimizer_of(d, t->offset, t->numel);
        if (o != opt && gan && o >= 0) continue;   /* the other call compares them */
        if (o != opt) {
            char why[160];
            snprintf(why, sizeof why, "gradient of optimizer %s: needs the discriminator step (GAN)",
                     o < 0 ? "(none)" : d->optimizers[o].name);
            pt_pending(r, t->name, why);
            continue;
        }
        size_t n;
        float *own;
        const float *want = pt_get_f32(&fx->grads, t->name, &n, &own);
        if (!want || n != t->numel) pt_failf(r, "grad %s: %s", t->name, want ? "wrong size in fixture" : vq_last_error());
        else {
            double bmax = 0.0;
            for (size_t k = 0; k < n; k++) bmax = fmax(bmax, fabs(want[k]));
            if (bmax <= zero) pt_compare_zero(r, t->name, G + t->offset, want, n, zero);
            else pt_compare(r, PT_GRAD, t->name, G + t->offset, want, n, PT_TOL_GRAD);
        }
        free(own);
    }
    for (size_t k = 0; opt == 0 && k < fx->grads.n_tensors; k++) {
        const char *name = fx->grads.tensors[k].name;
        if (is_trainable(d, name)) continue;
        if (!strncmp(name, "adaptive.", 9)) pt_pending(r, name, "d_weight's ingredient, not exposed by the model (d_weight is compared)");
        else pt_failf(r, "fixture gradient %s has no trainable tensor of that name in the model", name);
    }
    return 0;
}

/* A codebook's buffer (module = the codebook's name, one axis of size K) is judged per code. */
static void compare_buffer(pt_report *r, const vq_model_desc *d, const vq_tensor_desc *t, const char *label,
                           const float *got, const float *want, double tol)
{
    for (int c = 0; c < d->n_codebooks; c++) {
        if (strcmp(d->codebooks[c].name, t->module)) continue;
        for (int ax = t->ndim - 1; ax >= 0; ax--) {
            if (t->shape[ax] != d->codebooks[c].K) continue;
            size_t outer = 1, inner = 1;
            for (int k = 0; k < ax; k++) outer *= (size_t)t->shape[k];
            for (int k = ax + 1; k < t->ndim; k++) inner *= (size_t)t->shape[k];
            pt_compare_per_code(r, PT_BUF, label, got, want, outer, (size_t)t->shape[ax], inner, tol);
            return;
        }
    }
    pt_compare(r, PT_BUF, label, got, want, t->numel, tol);
}

int pt_check_buffers(pt_report *r, const vq_model_desc *d, vq_model *m, const vq_st_file *want,
                     const char *prefix, double tol, int gan)
{
    const float *BU = d->buffers ? d->buffers(m) : NULL;
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (t->role != VQ_ROLE_BUFFER) continue;
        char key[256], label[256];
        snprintf(key, sizeof key, "%s%s", prefix, t->name);
        snprintf(label, sizeof label, "%s (%s)", t->name, *prefix ? "after the steps" : "after the step");
        int o = pt_buffer_owner(d, t);
        if (o > 0 && !gan) {
            pt_pending(r, label, "buffer of the discriminator: needs the discriminator step (GAN)");
            continue;
        }
        size_t n;
        float *own;
        const float *v = pt_get_f32(want, key, &n, &own);
        if (!v || n != t->numel) pt_failf(r, "buffer %s: %s", key, v ? "wrong size in fixture" : vq_last_error());
        else compare_buffer(r, d, t, label, BU + t->offset, v, tol);
        free(own);
    }
    return 0;
}
