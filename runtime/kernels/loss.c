/* loss.c: reconstruction and adversarial losses with gradients (see loss.h). */
#include "loss.h"

#include <math.h>

#include "activation.h"

#define PAR_IF(n) if ((n) > 32768)

void vq_l1_loss_forward(float *loss, const float *x_hat, const float *x, size_t n)
{
    double acc = 0.0;
#pragma omp parallel for reduction(+ : acc) schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) acc += fabsf(x_hat[i] - x[i]);
    *loss = (float)(acc / (double)n);
}

void vq_l1_loss_backward(float *dx_hat, const float *x_hat, const float *x, size_t n, float dloss)
{
    const float g = dloss / (float)n;
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) {
        float d = x_hat[i] - x[i];
        dx_hat[i] += d > 0.0f ? g : d < 0.0f ? -g : 0.0f;
    }
}

void vq_l2_loss_forward(float *loss, const float *x_hat, const float *x, size_t n)
{
    double acc = 0.0;
#pragma omp parallel for reduction(+ : acc) schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) { double d = (double)x_hat[i] - x[i]; acc += d * d; }
    *loss = (float)(acc / (double)n);
}

void vq_l2_loss_backward(float *dx_hat, const float *x_hat, const float *x, size_t n, float dloss)
{
    const float g = 2.0f * dloss / (float)n;
#pragma omp parallel for simd schedule(static) PAR_IF(n)
    for (size_t i = 0; i < n; i++) dx_hat[i] += g * (x_hat[i] - x[i]);
}

void vq_hinge_d_loss_forward(float *loss, const float *real, size_t nr, const float *fake, size_t nf)
{
    double ar = 0.0, af = 0.0;
    for (size_t i = 0; i < nr; i++) { float t = 1.0f - real[i]; ar += t > 0.0f ? t : 0.0f; }
    for (size_t i = 0; i < nf; i++) { float t = 1.0f + fake[i]; af += t > 0.0f ? t : 0.0f; }
    *loss = (float)(0.5 * (ar / (double)nr + af / (double)nf));
}

void vq_hinge_d_loss_backward(float *dreal, float *dfake, const float *real, size_t nr, const float *fake,
                              size_t nf, float dloss)
{
    const float gr = 0.5f * dloss / (float)nr, gf = 0.5f * dloss / (float)nf;
    if (dreal) for (size_t i = 0; i < nr; i++) if (1.0f - real[i] > 0.0f) dreal[i] -= gr;
    if (dfake) for (size_t i = 0; i < nf; i++) if (1.0f + fake[i] > 0.0f) dfake[i] += gf;
}

void vq_vanilla_d_loss_forward(float *loss, const float *real, size_t nr, const float *fake, size_t nf)
{
    double ar = 0.0, af = 0.0;
    for (size_t i = 0; i < nr; i++) ar += vq_softplusf(-real[i]);
    for (size_t i = 0; i < nf; i++) af += vq_softplusf(fake[i]);
    *loss = (float)(0.5 * (ar / (double)nr + af / (double)nf));
}

/* d softplus(u)/du = sigmoid(u), computed without overflow for any u. */
static inline float sigm_stable(float u)
{
    if (u >= 0.0f) return 1.0f / (1.0f + expf(-u));
    float e = expf(u);
    return e / (1.0f + e);
}

void vq_vanilla_d_loss_backward(float *dreal, float *dfake, const float *real, size_t nr, const float *fake,
                                size_t nf, float dloss)
{
    const float gr = 0.5f * dloss / (float)nr, gf = 0.5f * dloss / (float)nf;
    if (dreal) for (size_t i = 0; i < nr; i++) dreal[i] -= gr * sigm_stable(-real[i]);
    if (dfake) for (size_t i = 0; i < nf; i++) dfake[i] += gf * sigm_stable(fake[i]);
}

void vq_g_loss_forward(float *loss, const float *fake, size_t nf)
{
    double acc = 0.0;
    for (size_t i = 0; i < nf; i++) acc += fake[i];
    *loss = (float)(-acc / (double)nf);
}

void vq_g_loss_backward(float *dfake, size_t nf, float dloss)
{
    const float g = -dloss / (float)nf;
    for (size_t i = 0; i < nf; i++) dfake[i] += g;
}
