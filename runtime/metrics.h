/* metrics.h: image quality metrics (MSE, L1, PSNR, SSIM), codebook usage and
 * perplexity, and the CSV writer for training logs.
 *
 * What it is: plain functions of float32 buffers, accumulated in double,
 * OpenMP-parallel. What it is not: losses (no gradients here) or LPIPS.
 * Legend: B batch, C channels, H, W height and width, K codebook entries.
 *
 *     double psnr = vq_psnr(recon, input, n, 2.0);          // images in [-1, 1]
 *     double ssim;
 *     if (vq_ssim(&ssim, recon, input, B, 3, 256, 256, -1.0f, 1.0f)) fail(vq_last_error());
 *     vq_codebook_stats cs;
 *     vq_codebook_stats_compute(&cs, counts, 1024);          // cs.perplexity, cs.used
 *     vq_csv *log;
 *     const char *cols[] = {"step", "loss", "psnr"};
 *     if (vq_csv_open(&log, "run/metrics.csv", cols, 3, resumed)) fail(vq_last_error());
 *     vq_csv_write(log, (double[]){step, loss, psnr});
 *     vq_csv_close(log);
 */
#ifndef VQ_METRICS_H
#define VQ_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Means over n values: (1/n) sum (x - y)^2 and (1/n) sum |x - y|. 0 when n == 0. */
double vq_mse(const float *x, const float *y, size_t n);
double vq_mean_l1(const float *x, const float *y, size_t n);

/* 10 log10(data_range^2 / MSE) over all n values together (one number for the
 * whole buffer; call per image and average for a per-image mean).
 * data_range is max - min of the value range: 2 for [-1, 1], 1 for [0, 1],
 * 255 for 8-bit. +INFINITY when x == y. */
double vq_psnr(const float *x, const float *y, size_t n, double data_range);

/* Mean SSIM (Wang, Bovik, Sheikh, Simoncelli 2004, eq. 13) of x and y, both
 * (B, C, H, W) with values in [lo, hi], averaged over every image and channel.
 * The values are first mapped to the 8-bit scale, x' = (x - lo) * 255 / (hi - lo)
 * (no rounding, no clamping), and SSIM uses L = 255: the luminance term depends
 * on the absolute means, so [-1, 1] data must say so (lo = -1, hi = 1) rather
 * than pass only a range. Window: 11x11 Gaussian, sigma 1.5, normalized;
 * K1 = 0.01, K2 = 0.03; population statistics (skimage's
 * use_sample_covariance=False). Borders: only 'valid' windows, those entirely
 * inside the image, are averaged ((H-10) x (W-10) positions), which equals
 * skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False, data_range=255) on the mapped images, since
 * skimage crops the padded border before its mean. Needs H, W >= 11. */
int vq_ssim(double *out, const float *x, const float *y, int B, int C, int H, int W, float lo, float hi);

/* Codebook statistics from how often each of the K codes was chosen. */
typedef struct vq_codebook_stats {
    int64_t total;     /* sum of counts */
    int used;          /* codes with count > 0 */
    double usage;      /* used / K */
    double perplexity; /* exp(-sum p_k ln p_k), p_k = counts[k] / total: K for uniform use, 1 for one code; 0 if total == 0 */
} vq_codebook_stats;
int vq_codebook_stats_compute(vq_codebook_stats *out, const int64_t *counts, int K);

/* CSV log: a header line of column names, then one row per vq_csv_write,
 * each flushed so a crash loses at most the row being written.
 * append = 1 (a resumed run): an existing non-empty file must have the same
 * header (VQ_ERR_MISMATCH otherwise) and rows are added after it; a trailing
 * partial line (a crash mid-row) is cut off first. append = 0 truncates.
 * Column names may not contain ',', '"' or line breaks. Values print with
 * %.9g, so float32 values and integers up to 1e9 round-trip exactly. */
typedef struct vq_csv vq_csv;
int vq_csv_open(vq_csv **out, const char *path, const char *const *columns, int n_columns, int append);
int vq_csv_write(vq_csv *w, const double *values); /* (n_columns) */
int vq_csv_close(vq_csv *w);                       /* also reports a failed final flush */

#endif
