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
 *
 * Speed: group_norm's loops work a plane (one channel's P values) at a time in
 * VQ_CLONES functions (simd.h), with sums in float lanes folded into double and
 * the sigmoid from the vectorizable vq_expf_v; with swish the backward pass
 * recomputes the sigmoid twice rather than store dz (no scratch).
 */
#include "norm.h"

#include <math.h>
#include <omp.h>

#include "simd.h"
#include "vq_common.h"

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

/* ---- group_norm: per-plane helpers (P floats of one channel), vectorized ---
 * Sums run in 16 float lanes and fold into double every 256 values, so a plane
 * of 65536 values keeps about double accuracy at float speed. */

#define LANES 16
#define FOLD 16   /* lane rows per fold into double: 256 values */

/* The loops below walk a plane LANES values at a time with float lane sums,
 * folded into double every FOLD rows and at the end; the last n % LANES
 * values go through a scalar tail. */

/* sum of x */
VQ_CLONES static double plane_sum(const float *x, size_t n)
{
    double s = 0.0;
    float l[LANES] = {0};
    size_t i = 0;
    int rows = 0;
    for (; i + LANES <= n; i += LANES) {
        for (int k = 0; k < LANES; k++) l[k] += x[i + k];
        if (++rows == FOLD) { for (int k = 0; k < LANES; k++) { s += l[k]; l[k] = 0.0f; } rows = 0; }
    }
    for (int k = 0; k < LANES; k++) s += l[k];
    for (; i < n; i++) s += x[i];
    return s;
}

/* sum of (x - mu)^2 */
VQ_CLONES static double plane_sqdev(const float *x, size_t n, float mu)
{
    double s = 0.0;
    float l[LANES] = {0};
    size_t i = 0;
    int rows = 0;
    for (; i + LANES <= n; i += LANES) {
        for (int k = 0; k < LANES; k++) { float d = x[i + k] - mu; l[k] += d * d; }
        if (++rows == FOLD) { for (int k = 0; k < LANES; k++) { s += l[k]; l[k] = 0.0f; } rows = 0; }
    }
    for (int k = 0; k < LANES; k++) s += l[k];
    for (; i < n; i++) { double d = (double)x[i] - mu; s += d * d; }
    return s;
}

/* y = x*a + b, or swish of it */
VQ_CLONES static void plane_affine(float *restrict y, const float *restrict x, size_t n, float a, float b, int swish)
{
    /* omp simd: GCC's -O2 cost model vectorizes no loop with a remainder otherwise */
    if (swish) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) { float z = x[i] * a + b; y[i] = z * vq_sigmoidf_v(z); }
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++) y[i] = x[i] * a + b;
    }
}

/* dz = dy, or dy * swish'(z) with z = xhat*ga + be, swish'(z) = s + z*s*(1-s) */
static inline float gn_dz(float dy, float xh, float ga, float be, int swish)
{
    if (!swish) return dy;
    float z = xh * ga + be, sg = vq_sigmoidf_v(z);
    return dy * (sg + z * sg * (1.0f - sg));
}

/* *a += sum dz, *b += sum dz*xhat over one plane, xhat = (x - m)*r.
 * SW is a constant in each expansion, so every loop is branch-free. */
#define DSUMS_LOOP(SW)                                                                      \
    do {                                                                                    \
        float la[LANES] = {0}, lb[LANES] = {0};                                             \
        int rows = 0;                                                                       \
        for (; i + LANES <= n; i += LANES) {                                                \
            for (int k = 0; k < LANES; k++) {                                               \
                float xh = (x[i + k] - m) * r, dz = gn_dz(dy[i + k], xh, ga, be, SW);       \
                la[k] += dz; lb[k] += dz * xh;                                              \
            }                                                                               \
            if (++rows == FOLD) {                                                           \
                for (int k = 0; k < LANES; k++) { sa += la[k]; sb += lb[k]; la[k] = lb[k] = 0.0f; } \
                rows = 0;                                                                   \
            }                                                                               \
        }                                                                                   \
        for (int k = 0; k < LANES; k++) { sa += la[k]; sb += lb[k]; }                       \
        for (; i < n; i++) {                                                                \
            float xh = (x[i] - m) * r, dz = gn_dz(dy[i], xh, ga, be, SW);                   \
            sa += dz; sb += (double)dz * xh;                                                \
        }                                                                                   \
    } while (0)

VQ_CLONES static void plane_dsums(double *a, double *b, const float *x, const float *dy, size_t n, float m, float r,
                                  float ga, float be, int swish)
{
    double sa = 0.0, sb = 0.0;
    size_t i = 0;
    if (swish) DSUMS_LOOP(1);
    else DSUMS_LOOP(0);
    *a += sa; *b += sb;
}

/* dx += r * (dz*ga - k1 - xhat*k2) over one plane */
VQ_CLONES static void plane_dx(float *restrict dx, const float *restrict x, const float *restrict dy, size_t n,
                               float m, float r, float ga, float be, float k1, float k2, int swish)
{
    if (swish) {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float xh = (x[i] - m) * r, dz = gn_dz(dy[i], xh, ga, be, 1);
            dx[i] += r * (dz * ga - k1 - xh * k2);
        }
    } else {
#pragma omp simd
        for (size_t i = 0; i < n; i++) {
            float xh = (x[i] - m) * r;
            dx[i] += r * (dy[i] * ga - k1 - xh * k2);
        }
    }
}

static void gn_forward(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                       const float *beta, const vq_group_norm_shape *s, int swish)
{
    const int G = s->G, Cg = s->C / G;
    const size_t P = (size_t)s->H * s->W, M = (size_t)Cg * P;
    /* Parallel over (b, group): each item's Cg planes stay in cache for its three passes. */
#pragma omp parallel for schedule(static) if ((size_t)s->B * s->C * P > 32768 && !omp_in_parallel())
    for (int bg = 0; bg < s->B * G; bg++) {
        const float *xg = x + (size_t)bg * M;
        float *yg = y + (size_t)bg * M;
        double sum = 0.0, sq = 0.0;
        for (int cc = 0; cc < Cg; cc++) sum += plane_sum(xg + cc * P, P);
        float mu = (float)(sum / (double)M);
        for (int cc = 0; cc < Cg; cc++) sq += plane_sqdev(xg + cc * P, P, mu);  /* two-pass: no cancellation */
        float r = (float)(1.0 / sqrt(sq / (double)M + (double)s->eps));
        mean[bg] = mu; rstd[bg] = r;
        int c0 = (bg % G) * Cg;
        for (int cc = 0; cc < Cg; cc++) {
            float a = r, b = -mu * r;   /* z = x*a + b */
            if (s->affine) { a *= gamma[c0 + cc]; b = b * gamma[c0 + cc] + beta[c0 + cc]; }
            plane_affine(yg + cc * P, xg + cc * P, P, a, b, swish);
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

static void gn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                        const float *mean, const float *rstd, const float *gamma, const float *beta,
                        const vq_group_norm_shape *s, int swish)
{
    const int G = s->G, Cg = s->C / G, aff = s->affine;
    const size_t P = (size_t)s->H * s->W, M = (size_t)Cg * P;
    /* Parallel over groups with the batch loop inside, so each thread owns its
     * groups' channels of dgamma/dbeta and no reduction across threads is needed. */
#pragma omp parallel for schedule(static) if ((size_t)s->B * s->C * P > 32768 && !omp_in_parallel())
    for (int g = 0; g < G; g++) {
        for (int n = 0; n < s->B; n++) {
            const int bg = n * G + g, c0 = g * Cg;
            const size_t off = (size_t)bg * M;
            const float m = mean[bg], r = rstd[bg];
            double s1 = 0.0, s2 = 0.0;   /* sum dxhat, sum dxhat*xhat over the group */
            for (int cc = 0; cc < Cg; cc++) {
                const float ga = aff ? gamma[c0 + cc] : 1.0f, be = aff && beta ? beta[c0 + cc] : 0.0f;
                double a = 0.0, b = 0.0;  /* sum dz, sum dz*xhat */
                plane_dsums(&a, &b, x + off + cc * P, dy + off + cc * P, P, m, r, ga, be, swish);
                if (aff && dbeta) dbeta[c0 + cc] += (float)a;
                if (aff && dgamma) dgamma[c0 + cc] += (float)b;
                s1 += ga * a; s2 += ga * b;
            }
            const float k1 = (float)(s1 / (double)M), k2 = (float)(s2 / (double)M);
            for (int cc = 0; cc < Cg; cc++) {
                const float ga = aff ? gamma[c0 + cc] : 1.0f, be = aff && beta ? beta[c0 + cc] : 0.0f;
                plane_dx(dx + off + cc * P, x + off + cc * P, dy + off + cc * P, P, m, r, ga, be, k1, k2, swish);
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
#pragma omp parallel for schedule(static) if ((size_t)B * C * P > 32768 && !omp_in_parallel())
    for (int c = 0; c < C; c++) {
        double sum = 0.0, sq = 0.0;
        for (int n = 0; n < B; n++) sum += plane_sum(x + ((size_t)n * C + c) * P, P);
        double mu = sum / (double)Nb;
        for (int n = 0; n < B; n++) sq += plane_sqdev(x + ((size_t)n * C + c) * P, P, (float)mu);
        double var = sq / (double)Nb;
        float m = (float)mu, r = (float)(1.0 / sqrt(var + (double)s->eps));
        mean[c] = m; invstd[c] = r;
        if (running_mean) running_mean[c] = (1.0f - s->momentum) * running_mean[c] + s->momentum * m;
        if (running_var)
            running_var[c] = (1.0f - s->momentum) * running_var[c] +
                             s->momentum * (float)(var * (double)Nb / (double)(Nb - 1));
        float a = r, b = -m * r;
        if (s->affine) { a *= gamma[c]; b = b * gamma[c] + beta[c]; }
        for (int n = 0; n < B; n++) plane_affine(y + ((size_t)n * C + c) * P, x + ((size_t)n * C + c) * P, P, a, b, 0);
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
#pragma omp parallel for schedule(static) if ((size_t)B * C * P > 32768 && !omp_in_parallel())
    for (int c = 0; c < C; c++) {
        const float m = mean[c], r = invstd[c], ga = s->affine ? gamma[c] : 1.0f;
        double a = 0.0, b = 0.0;   /* sum dy, sum dy*xhat */
        for (int n = 0; n < B; n++)
            plane_dsums(&a, &b, x + ((size_t)n * C + c) * P, dy + ((size_t)n * C + c) * P, P, m, r, 1.0f, 0.0f, 0);
        if (s->affine && dbeta) dbeta[c] += (float)a;
        if (s->affine && dgamma) dgamma[c] += (float)b;
        const float k1 = (float)(ga * a / (double)Nb), k2 = (float)(ga * b / (double)Nb);
        for (int n = 0; n < B; n++)
            plane_dx(dx + ((size_t)n * C + c) * P, x + ((size_t)n * C + c) * P, dy + ((size_t)n * C + c) * P, P,
                     m, r, ga, 0.0f, k1, k2, 0);
    }
}
