/* norm.c: group_norm (plain and fused with swish) and batch_norm (see norm.h).
 *
 * Legend: B batch, C channels, P = H*W, G groups, Cg = C/G, M = Cg*P elements
 * per (b, group), Nb = B*P elements per channel for batch_norm.
 *
 * Backward of a normalization y = xhat*gamma + beta, xhat = (x - mean)*rstd:
 *   dxhat = dy*gamma
 *   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))   (means over the group)
 *   dgamma = sum dy*xhat, dbeta = sum dy
 * With swish fused, dy is first replaced by dy * swish'(z) where z is the
 * normalized, affine output (recomputed from x); swish'(z) = s + z*s*(1-s), s = sigmoid(z).
 */
#include "norm.h"

#include <math.h>

#include "vq_common.h"

static inline float sigmoidf_(float z) { return 1.0f / (1.0f + expf(-z)); }

int vq_group_norm_check(const vq_group_norm_shape *s)
{
    if (!s) return vq_fail(VQ_ERR_ARG, "group_norm: shape is NULL");
    if (s->B < 1 || s->C < 1 || s->H < 1 || s->W < 1 || s->G < 1)
        return vq_fail(VQ_ERR_ARG, "group_norm: sizes must be positive (B=%d C=%d H=%d W=%d G=%d)",
                       s->B, s->C, s->H, s->W, s->G);
    if (s->C % s->G) return vq_fail(VQ_ERR_ARG, "group_norm: %d channels do not split into %d groups", s->C, s->G);
    if (!(s->eps > 0.0f)) return vq_fail(VQ_ERR_ARG, "group_norm: eps must be > 0");
    return 0;
}

static void gn_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                       const float *beta, const vq_group_norm_shape *s, int swish)
{
    const int G = s->G, Cg = s->C / G;
    const size_t P = (size_t)s->H * s->W, M = (size_t)Cg * P;
#pragma omp parallel for schedule(static) if ((size_t)s->B * s->C * P > 32768)
    for (int bg = 0; bg < s->B * G; bg++) {
        const float *xg = x + (size_t)bg * M;
        float *yg = y + (size_t)bg * M;
        double sum = 0.0, sq = 0.0;
        for (size_t i = 0; i < M; i++) sum += xg[i];
        double mu = sum / (double)M;
        for (size_t i = 0; i < M; i++) { double d = xg[i] - mu; sq += d * d; }  /* two-pass: no cancellation */
        float m = (float)mu, r = (float)(1.0 / sqrt(sq / (double)M + (double)s->eps));
        mean[bg] = m; rstd[bg] = r;
        int c0 = (bg % G) * Cg;
        for (int cc = 0; cc < Cg; cc++) {
            float a = r, b = -m * r;   /* z = x*a + b */
            if (s->affine) { a *= gamma[c0 + cc]; b = b * gamma[c0 + cc] + beta[c0 + cc]; }
            const float *xc = xg + cc * P;
            float *yc = yg + cc * P;
            if (swish) for (size_t p = 0; p < P; p++) { float z = xc[p] * a + b; yc[p] = z * sigmoidf_(z); }
            else for (size_t p = 0; p < P; p++) yc[p] = xc[p] * a + b;
        }
    }
}

void vq_group_norm_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, const vq_group_norm_shape *s)
{
    gn_forward(y, mean, rstd, x, gamma, beta, s, 0);
}

void vq_group_norm_swish_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                                 const float *beta, const vq_group_norm_shape *s)
{
    gn_forward(y, mean, rstd, x, gamma, beta, s, 1);
}

/* dz for one element: dy, or dy * swish'(z) with z = xhat*gamma + beta. */
static inline float gn_dz(float dy, float xhat, float g, float b, int swish)
{
    if (!swish) return dy;
    float z = xhat * g + b, sg = sigmoidf_(z);
    return dy * (sg + z * sg * (1.0f - sg));
}

static void gn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                        const float *mean, const float *rstd, const float *gamma, const float *beta,
                        const vq_group_norm_shape *s, int swish)
{
    const int G = s->G, Cg = s->C / G, aff = s->affine;
    const size_t P = (size_t)s->H * s->W, M = (size_t)Cg * P;
    /* Parallel over groups with the batch loop inside, so each thread owns its
     * groups' channels of dgamma/dbeta and no reduction across threads is needed. */
#pragma omp parallel for schedule(static) if ((size_t)s->B * s->C * P > 32768)
    for (int g = 0; g < G; g++) {
        for (int n = 0; n < s->B; n++) {
            const int bg = n * G + g, c0 = g * Cg;
            const size_t off = (size_t)bg * M;
            const float m = mean[bg], r = rstd[bg];
            double s1 = 0.0, s2 = 0.0;   /* sum dxhat, sum dxhat*xhat over the group */
            for (int cc = 0; cc < Cg; cc++) {
                const float ga = aff ? gamma[c0 + cc] : 1.0f, be = aff ? beta ? beta[c0 + cc] : 0.0f : 0.0f;
                const float *xc = x + off + cc * P, *dyc = dy + off + cc * P;
                double a = 0.0, b = 0.0;  /* sum dz, sum dz*xhat */
                for (size_t p = 0; p < P; p++) {
                    float xh = (xc[p] - m) * r, dz = gn_dz(dyc[p], xh, ga, be, swish);
                    a += dz; b += (double)dz * xh;
                }
                if (aff && dbeta) dbeta[c0 + cc] += (float)a;
                if (aff && dgamma) dgamma[c0 + cc] += (float)b;
                s1 += ga * a; s2 += ga * b;
            }
            const float k1 = (float)(s1 / (double)M), k2 = (float)(s2 / (double)M);
            for (int cc = 0; cc < Cg; cc++) {
                const float ga = aff ? gamma[c0 + cc] : 1.0f, be = aff ? beta ? beta[c0 + cc] : 0.0f : 0.0f;
                const float *xc = x + off + cc * P, *dyc = dy + off + cc * P;
                float *dxc = dx + off + cc * P;
                for (size_t p = 0; p < P; p++) {
                    float xh = (xc[p] - m) * r, dz = gn_dz(dyc[p], xh, ga, be, swish);
                    dxc[p] += r * (dz * ga - k1 - xh * k2);
                }
            }
        }
    }
}

void vq_group_norm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *mean, const float *rstd, const float *gamma,
                            const vq_group_norm_shape *s)
{
    gn_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, NULL, s, 0);
}

void vq_group_norm_swish_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                                  const float *mean, const float *rstd, const float *gamma,
                                  const float *beta, const vq_group_norm_shape *s)
{
    gn_backward(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, beta, s, 1);
}

/* ---- batch_norm ------------------------------------------------------------ */

int vq_batch_norm_check(const vq_batch_norm_shape *s)
{
    if (!s) return vq_fail(VQ_ERR_ARG, "batch_norm: shape is NULL");
    if (s->B < 1 || s->C < 1 || s->H < 1 || s->W < 1)
        return vq_fail(VQ_ERR_ARG, "batch_norm: sizes must be positive (B=%d C=%d H=%d W=%d)",
                       s->B, s->C, s->H, s->W);
    if ((size_t)s->B * s->H * s->W < 2)
        return vq_fail(VQ_ERR_ARG, "batch_norm: training needs more than 1 value per channel (B*H*W = 1)");
    if (!(s->eps > 0.0f)) return vq_fail(VQ_ERR_ARG, "batch_norm: eps must be > 0");
    if (!(s->momentum >= 0.0f && s->momentum <= 1.0f))
        return vq_fail(VQ_ERR_ARG, "batch_norm: momentum must be in [0, 1]");
    return 0;
}

void vq_batch_norm_forward_train(float *y, float *mean, float *invstd, float *running_mean,
                                 float *running_var, int64_t *num_batches_tracked, const float *x,
                                 const float *gamma, const float *beta, const vq_batch_norm_shape *s)
{
    const int B = s->B, C = s->C;
    const size_t P = (size_t)s->H * s->W, Nb = (size_t)B * P;
#pragma omp parallel for schedule(static) if ((size_t)B * C * P > 32768)
    for (int c = 0; c < C; c++) {
        double sum = 0.0, sq = 0.0;
        for (int n = 0; n < B; n++) {
            const float *xc = x + ((size_t)n * C + c) * P;
            for (size_t p = 0; p < P; p++) sum += xc[p];
        }
        double mu = sum / (double)Nb;
        for (int n = 0; n < B; n++) {
            const float *xc = x + ((size_t)n * C + c) * P;
            for (size_t p = 0; p < P; p++) { double d = xc[p] - mu; sq += d * d; }
        }
        double var = sq / (double)Nb;
        float m = (float)mu, r = (float)(1.0 / sqrt(var + (double)s->eps));
        mean[c] = m; invstd[c] = r;
        if (running_mean) running_mean[c] = (1.0f - s->momentum) * running_mean[c] + s->momentum * m;
        if (running_var)
            running_var[c] = (1.0f - s->momentum) * running_var[c] +
                             s->momentum * (float)(var * (double)Nb / (double)(Nb - 1));
        float a = r, b = -m * r;
        if (s->affine) { a *= gamma[c]; b = b * gamma[c] + beta[c]; }
        for (int n = 0; n < B; n++) {
            const float *xc = x + ((size_t)n * C + c) * P;
            float *yc = y + ((size_t)n * C + c) * P;
            for (size_t p = 0; p < P; p++) yc[p] = xc[p] * a + b;
        }
    }
    if (num_batches_tracked) ++*num_batches_tracked;
}

void vq_batch_norm_forward_eval(float *y, const float *x, const float *running_mean, const float *running_var,
                                const float *gamma, const float *beta, const vq_batch_norm_shape *s)
{
    const int B = s->B, C = s->C;
    const size_t P = (size_t)s->H * s->W;
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * C * P > 32768)
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            float r = 1.0f / sqrtf(running_var[c] + s->eps), a = r, b = -running_mean[c] * r;
            if (s->affine) { a *= gamma[c]; b = b * gamma[c] + beta[c]; }
            const float *xc = x + ((size_t)n * C + c) * P;
            float *yc = y + ((size_t)n * C + c) * P;
            for (size_t p = 0; p < P; p++) yc[p] = xc[p] * a + b;
        }
}

void vq_batch_norm_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                            const float *mean, const float *invstd, const float *gamma,
                            const vq_batch_norm_shape *s)
{
    const int B = s->B, C = s->C;
    const size_t P = (size_t)s->H * s->W, Nb = (size_t)B * P;
#pragma omp parallel for schedule(static) if ((size_t)B * C * P > 32768)
    for (int c = 0; c < C; c++) {
        const float m = mean[c], r = invstd[c], ga = s->affine ? gamma[c] : 1.0f;
        double a = 0.0, b = 0.0;   /* sum dy, sum dy*xhat */
        for (int n = 0; n < B; n++) {
            const float *xc = x + ((size_t)n * C + c) * P, *dyc = dy + ((size_t)n * C + c) * P;
            for (size_t p = 0; p < P; p++) { a += dyc[p]; b += (double)dyc[p] * ((xc[p] - m) * r); }
        }
        if (s->affine && dbeta) dbeta[c] += (float)a;
        if (s->affine && dgamma) dgamma[c] += (float)b;
        const float k1 = (float)(ga * a / (double)Nb), k2 = (float)(ga * b / (double)Nb);
        for (int n = 0; n < B; n++) {
            const float *xc = x + ((size_t)n * C + c) * P, *dyc = dy + ((size_t)n * C + c) * P;
            float *dxc = dx + ((size_t)n * C + c) * P;
            for (size_t p = 0; p < P; p++) dxc[p] += r * (dyc[p] * ga - k1 - (xc[p] - m) * r * k2);
        }
    }
}
