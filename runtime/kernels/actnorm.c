/* actnorm.c: ActNorm forward, backward and data-dependent init (see actnorm.h).
 *
 * Legend: B batch, C channels, P = H*W, N = B*P values per channel.
 * Every loop runs one channel at a time (channels in parallel): a channel's
 * statistics and parameter gradients are sums over its N values, accumulated in
 * double so that the init and dloc/dscale do not depend on the thread count.
 */
#include "actnorm.h"

#include <math.h>
#include <omp.h>

#include "vq_common.h"

#define PAR_MIN 32768   /* below this many values a parallel region costs more than it saves */

int vq_actnorm_check(const vq_actnorm_shape *s)
{
    if (!s) return vq_fail(VQ_ERR_ARG, "act_norm: shape is NULL");
    if (s->B < 1 || s->C < 1 || s->H < 1 || s->W < 1)
        return vq_fail(VQ_ERR_ARG, "act_norm: sizes must be positive (B=%d C=%d H=%d W=%d)", s->B, s->C, s->H,
                       s->W);
    if ((size_t)s->B * s->H * s->W < 2)
        return vq_fail(VQ_ERR_ARG, "act_norm: the data-dependent init needs more than 1 value per channel "
                                   "(B*H*W = 1: the unbiased std is undefined)");
    return 0;
}

void vq_actnorm_init(float *loc, float *scale, const float *x, const vq_actnorm_shape *s)
{
    const int B = s->B, C = s->C;
    const size_t P = (size_t)s->H * s->W, N = (size_t)B * P;
#pragma omp parallel for schedule(static) if (N * C > PAR_MIN && !omp_in_parallel())
    for (int c = 0; c < C; c++) {
        double sum = 0.0, sq = 0.0;
        for (int b = 0; b < B; b++) {
            const float *xc = x + ((size_t)b * C + c) * P;
            for (size_t p = 0; p < P; p++) sum += xc[p];
        }
        const double mu = sum / (double)N;
        for (int b = 0; b < B; b++) {
            const float *xc = x + ((size_t)b * C + c) * P;
            for (size_t p = 0; p < P; p++) { double d = xc[p] - mu; sq += d * d; }
        }
        const double sd = sqrt(sq / (double)(N - 1));   /* unbiased, as torch.std */
        loc[c] = (float)-mu;
        scale[c] = (float)(1.0 / (sd + VQ_ACTNORM_STD_EPS));
    }
}

void vq_actnorm_forward(float *y, const float *x, const float *loc, const float *scale, const vq_actnorm_shape *s)
{
    const int B = s->B, C = s->C;
    const size_t P = (size_t)s->H * s->W;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * C * P > PAR_MIN && !omp_in_parallel())
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float a = scale[c], l = loc[c];
            const float *xc = x + ((size_t)b * C + c) * P;
            float *yc = y + ((size_t)b * C + c) * P;
            for (size_t p = 0; p < P; p++) yc[p] = a * (xc[p] + l);
        }
}

void vq_actnorm_backward(float *dx, float *dloc, float *dscale, const float *dy, const float *x, const float *loc,
                         const float *scale, const vq_actnorm_shape *s)
{
    const int B = s->B, C = s->C;
    const size_t P = (size_t)s->H * s->W;
#pragma omp parallel for schedule(static) if ((size_t)B * C * P > PAR_MIN && !omp_in_parallel())
    for (int c = 0; c < C; c++) {
        const float a = scale[c], l = loc[c];
        double sdy = 0.0, sdyx = 0.0;   /* sum dy, sum dy * (x + loc) */
        for (int b = 0; b < B; b++) {
            const size_t o = ((size_t)b * C + c) * P;
            const float *g = dy + o, *xc = x + o;
            for (size_t p = 0; p < P; p++) {
                sdy += g[p];
                sdyx += (double)g[p] * (xc[p] + l);
            }
            if (dx)
                for (size_t p = 0; p < P; p++) dx[o + p] += a * g[p];
        }
        if (dloc) dloc[c] += (float)(sdy * a);
        if (dscale) dscale[c] += (float)sdyx;
    }
}
