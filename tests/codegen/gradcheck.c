/* gradcheck.c: finite-difference check of a GENERATED model's backward.
 *
 * Built by tests/scripts/codegen_gradcheck.sh together with one generated
 * <model>.c (-DMODEL_DESC=<model>_desc). For every trainable tensor whose name
 * starts with one of the prefixes on the command line it compares, on up to 16
 * elements, the generated gradient d total / d p with the central difference
 * (L(p + eps) - L(p - eps)) / 2 eps of the TRAIN forward's total loss (same rng
 * state each time, so dropout masks repeat). A sample where a quantizer index
 * flips is skipped (the loss jumps there). Gradients through the quantizer are
 * straight-through: FD sees them only for tensors downstream of it (decoder),
 * or, with reconstruction_weight = 0, for the encoder and codebook (then only
 * the codebook loss remains). Prints the worst error per tensor; exit 1 on a
* (arguments "prefix=f" scale the expected gradient by f: see model_encoder.vq)
 * mismatch beyond  |fd - g| <= rtol * max(|fd|, |g|) + atol * max|g| (tensor).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "model_desc.h"

const vq_model_desc *MODEL_DESC(void);

static double loss_at(const vq_model_desc *d, vq_model *m, const float *x, int B, const vq_rng *rng0)
{
    vq_rng r = *rng0;
    if (d->forward(m, x, B, VQ_MODE_TRAIN, &r)) { fprintf(stderr, "forward: %s\n", vq_last_error()); exit(2); }
    return d->loss_values(m)[0];
}

static int same_indices(const vq_model_desc *d, vq_model *m, int32_t *const *ref, int B)
{
    for (int c = 0; c < d->n_codebooks; c++) {
        size_t n = (size_t)B * d->codebooks[c].grid_h * d->codebooks[c].grid_w;
        if (memcmp(ref[c], d->indices(m, c), n * sizeof(int32_t))) return 0;
    }
    return 1;
}

int main(int argc, char **argv)
{
    const vq_model_desc *d = MODEL_DESC();
    const int B = 2;
    /* eps: small enough that relu kinks are rarely crossed, large enough for float losses */
    const double eps = getenv("GC_EPS") ? atof(getenv("GC_EPS")) : 3e-3, rtol = 3e-2, atol = 3e-3;
    vq_model *m;
    if (d->create(&m, B)) { fprintf(stderr, "create: %s\n", vq_last_error()); return 2; }
    vq_rng rng;
    vq_rng_seed(&rng, 7);
    if (vq_model_init_weights(d, d->params(m), d->n_buffers ? d->buffers(m) : NULL, &rng) || d->reset_state(m, &rng)) {
        fprintf(stderr, "init: %s\n", vq_last_error());
        return 2;
    }
    size_t n_img = (size_t)B * d->data.channels * d->data.height * d->data.width;
    float *x = malloc(n_img * sizeof *x);
    for (size_t i = 0; i < n_img; i++) x[i] = d->data.lo + (d->data.hi - d->data.lo) * vq_rng_uniform(&rng);
    vq_rng rng0 = rng;

    /* analytic gradient: two forward+backward pairs, to show backward accumulates (then halved);
     * backward consumes its forward (memplan reuses forward buffers), so a second
     * backward without a forward must be refused */
    float *params = d->params(m);
    d->zero_grads(m);
    for (int rep = 0; rep < 2; rep++) {
        loss_at(d, m, x, B, &rng0);
        if (d->backward(m)) { fprintf(stderr, "backward: %s\n", vq_last_error()); return 2; }
    }
    if (d->backward(m) == 0) { fprintf(stderr, "a second backward after one forward was accepted\n"); return 1; }
    float *g = malloc(d->n_params * sizeof *g);
    for (size_t i = 0; i < d->n_params; i++) g[i] = 0.5f * d->grads(m)[i];
    int32_t *ref[VQ_DESC_MAX_CODEBOOKS];
    for (int c = 0; c < d->n_codebooks; c++) {
        size_t n = (size_t)B * d->codebooks[c].grid_h * d->codebooks[c].grid_w;
        ref[c] = malloc(n * sizeof(int32_t));
        memcpy(ref[c], d->indices(m, c), n * sizeof(int32_t));
    }

    int failed = 0, checked_tensors = 0;
    for (int t = 0; t < d->n_tensors; t++) {
        const vq_tensor_desc *td = &d->tensors[t];
        if (td->role != VQ_ROLE_TRAINABLE) continue;
        /* argument "prefix" or "prefix=factor": expect generated = factor * FD (straight-through splits) */
        int want = 0;
        double factor = 1.0;
        for (int a = 1; a < argc; a++) {
            size_t l = strcspn(argv[a], "=");
            if (strncmp(td->name, argv[a], l) == 0) {
                want = 1;
                factor = argv[a][l] == '=' ? atof(argv[a] + l + 1) : 1.0;
            }
        }
        if (!want) continue;
        double gmax = 0, worst = 0;
        for (size_t i = 0; i < td->numel; i++) gmax = fmax(gmax, fabs(g[td->offset + i]));
        int n_s = 0, skipped = 0;
        size_t stride = td->numel > 16 ? td->numel / 16 : 1;
        for (size_t i = 0; i < td->numel && n_s < 16; i += stride, n_s++) {
            float *p = &params[td->offset + i], keep = *p;
            *p = keep + (float)eps;
            double lp = loss_at(d, m, x, B, &rng0);
            int ok = same_indices(d, m, ref, B);
            *p = keep - (float)eps;
            double lm = loss_at(d, m, x, B, &rng0);
            ok &= same_indices(d, m, ref, B);
            *p = keep;
            if (!ok) { skipped++; continue; }
            double fd = factor * (lp - lm) / (2 * eps), an = g[td->offset + i];
            /* plus the float32 resolution of the loss itself: |L| * 2^-24 per evaluation, over 2 eps */
            double floor_ = 8.0 * 6e-8 * fmax(fabs(lp), fabs(lm)) / (2 * eps);
            double err = fabs(fd - an), tol = rtol * fmax(fabs(fd), fabs(an)) + atol * gmax + floor_;
            if (err / (tol > 0 ? tol : 1e-30) > worst) worst = err / (tol > 0 ? tol : 1e-30);
            if (err > tol) {
                printf("  MISMATCH %s[%zu]: generated %.6g, finite difference %.6g\n", td->name, i, an, fd);
                failed = 1;
            }
        }
        checked_tensors++;
        printf("%-40s max|g| %.3g  worst err/tol %.3f  (%d samples, %d skipped: index flip)\n", td->name, gmax, worst,
               n_s, skipped);
    }
    if (!checked_tensors) { printf("no tensor matched the prefixes\n"); failed = 1; }
    for (int c = 0; c < d->n_codebooks; c++) free(ref[c]);
    free(g);
    free(x);
    d->destroy(m);
    printf("%s\n", failed ? "FAIL" : "ok");
    return failed;
}
