/* dropout.c: inverted dropout with a mask drawn from vq_rng (see dropout.h). */
#include "dropout.h"

int vq_dropout_check(float p)
{
    if (!(p >= 0.0f && p <= 1.0f)) return vq_fail(VQ_ERR_ARG, "dropout: p = %g is not in [0, 1]", (double)p);
    return 0;
}

void vq_dropout_forward(float *y, float *mask, const float *x, float p, size_t n, vq_rng *rng)
{
    if (p == 0.0f) {
        for (size_t i = 0; i < n; i++) { mask[i] = 1.0f; y[i] = x[i]; }
        return;
    }
    const float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t i = 0; i < n; i++) mask[i] = vq_rng_uniform(rng) >= p ? keep : 0.0f;
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) y[i] = x[i] * mask[i];
}

void vq_dropout_backward(float *dx, const float *dy, const float *mask, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) dx[i] += dy[i] * mask[i];
}
