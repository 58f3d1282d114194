/* activation.c: elementwise activations, add and scale (see activation.h).
 * Legend: n elements. Loops go parallel only above VQ_EW_PAR elements, where
 * OpenMP's fork cost is repaid. */
#include "activation.h"

#include <math.h>

#define VQ_EW_PAR 32768

static inline float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

float vq_softplusf(float x)
{
    if (x > 20.0f) return x;   /* torch.nn.functional.softplus threshold=20 */
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

#define EW_LOOP(body) \
    _Pragma("omp parallel for simd schedule(static) if (n > VQ_EW_PAR)") \
    for (size_t i = 0; i < n; i++) { body; }

void vq_swish_forward(float *y, const float *x, size_t n) { EW_LOOP(y[i] = x[i] * sigm(x[i])) }
void vq_swish_backward(float *dx, const float *dy, const float *x, size_t n)
{
    EW_LOOP(float s = sigm(x[i]); dx[i] += dy[i] * (s + x[i] * s * (1.0f - s)))
}

void vq_relu_forward(float *y, const float *x, size_t n) { EW_LOOP(y[i] = x[i] > 0.0f ? x[i] : 0.0f) }
void vq_relu_backward(float *dx, const float *dy, const float *x, size_t n)
{
    EW_LOOP(dx[i] += x[i] > 0.0f ? dy[i] : 0.0f)
}

void vq_leaky_relu_forward(float *y, const float *x, float slope, size_t n)
{
    EW_LOOP(y[i] = x[i] > 0.0f ? x[i] : slope * x[i])
}
void vq_leaky_relu_backward(float *dx, const float *dy, const float *x, float slope, size_t n)
{
    EW_LOOP(dx[i] += x[i] > 0.0f ? dy[i] : slope * dy[i])
}

void vq_sigmoid_forward(float *y, const float *x, size_t n) { EW_LOOP(y[i] = sigm(x[i])) }
void vq_sigmoid_backward(float *dx, const float *dy, const float *y, size_t n)
{
    EW_LOOP(dx[i] += dy[i] * y[i] * (1.0f - y[i]))
}

void vq_tanh_forward(float *y, const float *x, size_t n) { EW_LOOP(y[i] = tanhf(x[i])) }
void vq_tanh_backward(float *dx, const float *dy, const float *y, size_t n)
{
    EW_LOOP(dx[i] += dy[i] * (1.0f - y[i] * y[i]))
}

void vq_softplus_forward(float *y, const float *x, size_t n) { EW_LOOP(y[i] = vq_softplusf(x[i])) }
void vq_softplus_backward(float *dx, const float *dy, const float *x, size_t n)
{
    EW_LOOP(dx[i] += x[i] > 20.0f ? dy[i] : dy[i] * sigm(x[i]))
}

void vq_add_forward(float *y, const float *a, const float *b, size_t n) { EW_LOOP(y[i] = a[i] + b[i]) }
void vq_add_backward(float *da, float *db, const float *dy, size_t n)
{
    if (da) { EW_LOOP(da[i] += dy[i]) }
    if (db) { EW_LOOP(db[i] += dy[i]) }
}

void vq_scale_forward(float *y, const float *x, float alpha, size_t n) { EW_LOOP(y[i] = alpha * x[i]) }
void vq_scale_backward(float *dx, const float *dy, float alpha, size_t n) { EW_LOOP(dx[i] += alpha * dy[i]) }
