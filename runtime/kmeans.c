/* kmeans.c: k-means for codebook initialization: k-means++ seeding (Arthur &
 * Vassilvitskii 2007, D^2 sampling) followed by Lloyd iterations whose
 * assignment step is the quantizer's own tiled nearest-code search. It works
 * on plain rows; vq_codebook_init maps z into the search space first.
 *
 * Cost: seeding is O(N K d) scalar work; each Lloyd step one tiled GEMM.
 * Legend: N rows, K centers, d dimension. */
#include "quantizer_internal.h"

#include <string.h>

static double sqdist(const float *a, const float *b, int d)
{
    double s = 0.0;
    for (int j = 0; j < d; j++) { double t = (double)a[j] - b[j]; s += t * t; }
    return s;
}

static void center_norms(float *csq, const float *c, int K, int d)
{
    for (int k = 0; k < K; k++) {
        double s = 0.0;
        for (int j = 0; j < d; j++) s += (double)c[(int64_t)k * d + j] * c[(int64_t)k * d + j];
        csq[k] = (float)s;
    }
}

int vq_kmeans(float *centers, double *distortion, const float *x, int64_t N, int d, int K,
              int iters, vq_rng *rng)
{
    if (!centers || !x || !rng) return vq_fail(VQ_ERR_ARG, "vq_kmeans: NULL centers, x or rng");
    if (K <= 0 || d <= 0 || iters < 0)
        return vq_fail(VQ_ERR_ARG, "vq_kmeans: K=%d, d=%d must be positive and iters=%d >= 0", K, d, iters);
    if (N < K) return vq_fail(VQ_ERR_ARG, "vq_kmeans: %lld points cannot seed K=%d centers", (long long)N, K);
    if (N > INT32_MAX) return vq_fail(VQ_ERR_ARG, "vq_kmeans: %lld points exceed int32 indices", (long long)N);
    double *mind = vq_alloc((size_t)N * sizeof(double));   /* (N) squared distance to nearest center */
    int32_t *idx = vq_alloc((size_t)N * sizeof(int32_t));  /* (N) */
    float *csq = vq_alloc((size_t)K * sizeof(float));       /* (K) */
    double *sum = vq_alloc(((size_t)K * d + K) * sizeof(double)); /* (K, d) then counts (K) */
    int rc = VQ_OK;
    if (!mind || !idx || !csq || !sum) { rc = vq_fail_context(VQ_ERR_NOMEM, "vq_kmeans"); goto out; }

    /* k-means++: first center uniform, each next one drawn with probability
     * proportional to its squared distance from the centers chosen so far. */
    int64_t pick = (int64_t)vq_rng_below(rng, (uint64_t)N);
    memcpy(centers, x + pick * d, (size_t)d * sizeof(float));
    #pragma omp parallel for schedule(static) if (N * d >= VQ_PARALLEL_MIN)
    for (int64_t n = 0; n < N; n++) mind[n] = sqdist(x + n * d, centers, d);
    for (int k = 1; k < K; k++) {
        double total = 0.0;
        for (int64_t n = 0; n < N; n++) total += mind[n];
        if (total > 0.0) {
            double r = vq_rng_uniform_double(rng) * total, acc = 0.0;
            pick = N - 1;
            for (int64_t n = 0; n < N; n++) {
                acc += mind[n];
                if (acc > r && mind[n] > 0.0) { pick = n; break; }
            }
        } else {
            pick = (int64_t)vq_rng_below(rng, (uint64_t)N); /* every point already is a center */
        }
        float *ck = centers + (int64_t)k * d;
        memcpy(ck, x + pick * d, (size_t)d * sizeof(float));
        #pragma omp parallel for schedule(static) if (N * d >= VQ_PARALLEL_MIN)
        for (int64_t n = 0; n < N; n++) {
            double t = sqdist(x + n * d, ck, d);
            if (t < mind[n]) mind[n] = t;
        }
    }

    /* Lloyd: assign, then move each center to its cluster's mean. */
    double *cnt = sum + (size_t)K * d;
    for (int it = 0; it < iters; it++) {
        center_norms(csq, centers, K, d);
        if ((rc = vq_quant_nearest(idx, x, centers, csq, N, d, K, VQ_DEFAULT_TILE_N, VQ_DEFAULT_TILE_K))) goto out;
        memset(sum, 0, ((size_t)K * d + K) * sizeof(double));
        for (int64_t n = 0; n < N; n++) {
            double *r = sum + (int64_t)idx[n] * d;
            for (int j = 0; j < d; j++) r[j] += x[n * d + j];
            cnt[idx[n]] += 1.0;
        }
        for (int k = 0; k < K; k++)
            if (cnt[k] > 0.0)
                for (int j = 0; j < d; j++) centers[(int64_t)k * d + j] = (float)(sum[(int64_t)k * d + j] / cnt[k]);
    }
    if (distortion) {
        center_norms(csq, centers, K, d);
        if ((rc = vq_quant_nearest(idx, x, centers, csq, N, d, K, VQ_DEFAULT_TILE_N, VQ_DEFAULT_TILE_K))) goto out;
        double s = 0.0;
        for (int64_t n = 0; n < N; n++) s += sqdist(x + n * d, centers + (int64_t)idx[n] * d, d);
        *distortion = s / (double)N;
    }
out:
    vq_free(mind); vq_free(idx); vq_free(csq); vq_free(sum);
    return rc;
}
