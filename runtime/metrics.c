/* metrics.c: MSE, L1, PSNR, SSIM and codebook statistics (see metrics.h).
 * Sums run in double so a 256x256x3 batch loses nothing to float rounding. */
#include "metrics.h"

#include "vq_common.h"

#include <math.h>
#include <stdlib.h>

#define PARALLEL_MIN 65536

double vq_mse(const float *x, const float *y, size_t n)
{
    if (n == 0) return 0.0;
    double acc = 0.0;
#pragma omp parallel for simd reduction(+ : acc) schedule(static) if (n >= PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        double d = (double)x[i] - (double)y[i];
        acc += d * d;
    }
    return acc / (double)n;
}

double vq_mean_l1(const float *x, const float *y, size_t n)
{
    if (n == 0) return 0.0;
    double acc = 0.0;
#pragma omp parallel for simd reduction(+ : acc) schedule(static) if (n >= PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) acc += fabs((double)x[i] - (double)y[i]);
    return acc / (double)n;
}

double vq_psnr(const float *x, const float *y, size_t n, double data_range)
{
    double mse = vq_mse(x, y, n);
    if (mse == 0.0) return INFINITY;
    return 10.0 * log10(data_range * data_range / mse);
}

/* --- SSIM ----------------------------------------------------------------- */

#define SSIM_R 5 /* window radius: 11 taps, as skimage's truncate=3.5 at sigma 1.5 */
#define SSIM_TAPS (2 * SSIM_R + 1)

/* Mean SSIM of one (H, W) plane over its valid windows. The 2-D Gaussian is
 * separable, so each of the five local moments (E x, E y, E x^2, E y^2, E xy)
 * is a horizontal pass (H, Wv) followed by a vertical pass (Hv, Wv). */
static double ssim_plane(const float *x, const float *y, int H, int W, const double *w, double lo, double scale,
                         double *tmp /* (5, H, Wv) */)
{
    const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
    const int Wv = W - 2 * SSIM_R, Hv = H - 2 * SSIM_R;
    double *hx = tmp, *hy = hx + (size_t)H * Wv, *hxx = hy + (size_t)H * Wv, *hyy = hxx + (size_t)H * Wv,
           *hxy = hyy + (size_t)H * Wv;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < Wv; j++) {
            double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
            for (int k = 0; k < SSIM_TAPS; k++) {
                double a = (x[(size_t)i * W + j + k] - lo) * scale, b = (y[(size_t)i * W + j + k] - lo) * scale;
                sx += w[k] * a;
                sy += w[k] * b;
                sxx += w[k] * a * a;
                syy += w[k] * b * b;
                sxy += w[k] * a * b;
            }
            size_t o = (size_t)i * Wv + j;
            hx[o] = sx, hy[o] = sy, hxx[o] = sxx, hyy[o] = syy, hxy[o] = sxy;
        }
    double total = 0.0;
    for (int i = 0; i < Hv; i++)
        for (int j = 0; j < Wv; j++) {
            double mx = 0, my = 0, exx = 0, eyy = 0, exy = 0;
            for (int k = 0; k < SSIM_TAPS; k++) {
                size_t o = (size_t)(i + k) * Wv + j;
                mx += w[k] * hx[o];
                my += w[k] * hy[o];
                exx += w[k] * hxx[o];
                eyy += w[k] * hyy[o];
                exy += w[k] * hxy[o];
            }
            /* population (co)variances under the window weights */
            double vx = exx - mx * mx, vy = eyy - my * my, cxy = exy - mx * my;
            total += ((2 * mx * my + C1) * (2 * cxy + C2)) / ((mx * mx + my * my + C1) * (vx + vy + C2));
        }
    return total / ((double)Hv * Wv);
}

int vq_ssim(double *out, const float *x, const float *y, int B, int C, int H, int W, float lo, float hi)
{
    *out = NAN;
    if (B < 1 || C < 1) return vq_fail(VQ_ERR_ARG, "ssim: empty batch (B=%d, C=%d)", B, C);
    if (H < SSIM_TAPS || W < SSIM_TAPS)
        return vq_fail(VQ_ERR_ARG, "ssim: images of %dx%d are smaller than the %dx%d window", H, W, SSIM_TAPS,
                       SSIM_TAPS);
    if (!(hi > lo)) return vq_fail(VQ_ERR_ARG, "ssim: value range [%g, %g] is empty", lo, hi);
    const double scale = 255.0 / ((double)hi - (double)lo); /* to the 8-bit scale */
    double w[SSIM_TAPS], sum = 0.0;
    for (int k = 0; k < SSIM_TAPS; k++) sum += w[k] = exp(-(double)((k - SSIM_R) * (k - SSIM_R)) / (2 * 1.5 * 1.5));
    for (int k = 0; k < SSIM_TAPS; k++) w[k] /= sum;
    const int planes = B * C;
    const size_t plane = (size_t)H * W, tmp_n = 5 * (size_t)H * (W - 2 * SSIM_R);
    double total = 0.0;
    int nomem = 0;
#pragma omp parallel reduction(+ : total, nomem) if (planes > 1 && plane * planes >= PARALLEL_MIN)
    {
        double *tmp = malloc(tmp_n * sizeof *tmp);
        if (!tmp) nomem = 1;
#pragma omp for schedule(dynamic)
        for (int p = 0; p < planes; p++)
            if (tmp) total += ssim_plane(x + p * plane, y + p * plane, H, W, w, lo, scale, tmp);
        free(tmp);
    }
    if (nomem) return vq_fail(VQ_ERR_NOMEM, "ssim: out of memory for %zu doubles", tmp_n);
    *out = total / planes;
    return VQ_OK;
}

/* --- codebook ------------------------------------------------------------- */

int vq_codebook_stats_compute(vq_codebook_stats *out, const int64_t *counts, int K)
{
    *out = (vq_codebook_stats){0, 0, 0.0, 0.0};
    if (K < 1) return vq_fail(VQ_ERR_ARG, "codebook stats: K must be >= 1 (got %d)", K);
    int64_t total = 0;
    int used = 0;
    for (int k = 0; k < K; k++) {
        if (counts[k] < 0) return vq_fail(VQ_ERR_ARG, "codebook stats: counts[%d] = %lld is negative", k, (long long)counts[k]);
        total += counts[k];
        used += counts[k] > 0;
    }
    out->total = total;
    out->used = used;
    out->usage = (double)used / K;
    if (total == 0) return VQ_OK;
    double h = 0.0; /* entropy in nats */
    for (int k = 0; k < K; k++)
        if (counts[k] > 0) {
            double p = (double)counts[k] / (double)total;
            h -= p * log(p);
        }
    out->perplexity = exp(h);
    return VQ_OK;
}
