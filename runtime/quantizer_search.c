/* quantizer_search.c: nearest code for each row, by |c|^2 - 2 v.c formed with
 * cblas_sgemm in bounded blocks. Used by forward and by k-means.
 *
 * Memory bound: a distance block is at most tile_n x tile_k floats (default
 * 256 x 1024 = 1 MiB), plus tile_n floats of running minima; the full N x K
 * matrix never exists. Code tiles are scanned in order inside a row tile and
 * the running minimum is replaced only on strict `<`, so exact ties go to the
 * lowest index (torch.argmin).
 *
 * Threads: OpenBLAS (pthread build) and OpenMP must not multiply each other
 * (runtime/threads.h gives both the same count). So:
 *   - OpenBLAS single-threaded: row tiles are spread over OpenMP threads, each
 *     with its own block (at most one block per thread exists at once);
 *   - OpenBLAS multi-threaded: row tiles run in order, each GEMM uses
 *     OpenBLAS's threads (one block exists). The argmin scan then stays
 *     serial: it is about 1/d of the GEMM's work, and waking OpenMP's pool
 *     between OpenBLAS calls makes the two pools fight for the cores (measured
 *     several times slower on 2 busy cores).
 * Both give the same indices: every distance is the same dot product.
 *
 * Legend: N rows, K codes, d lookup dimension. */
#include "quantizer_internal.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>

/* Running argmin over one block S (rows, cols) of -2 v.c for codes k0.. */
static void scan_block(int32_t *idx, float *best, const float *S, const float *csq, int rows, int cols, int k0)
{
    for (int r = 0; r < rows; r++) {
        const float *srow = S + (size_t)r * cols;
        float bv = best[r];
        int32_t bi = idx[r];
        for (int j = 0; j < cols; j++) {
            float dist = srow[j] + csq[k0 + j];
            if (dist < bv) { bv = dist; bi = k0 + j; }
        }
        best[r] = bv;
        idx[r] = bi;
    }
}

/* Rows n0 .. n0+rows against every code tile; S (tile_n, tile_k), best (tile_n). */
static void search_tile(int32_t *idx, float *S, float *best, const float *v, const float *c, const float *csq,
                        int64_t n0, int rows, int d, int K, int tile_k)
{
    for (int r = 0; r < rows; r++) { best[r] = INFINITY; idx[n0 + r] = 0; }
    for (int k0 = 0; k0 < K; k0 += tile_k) {
        const int cols = K - k0 < tile_k ? K - k0 : tile_k;
        /* S (rows, cols) = -2 v[n0:n0+rows] . c[k0:k0+cols]^T */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, cols, d,
                    -2.0f, v + n0 * d, d, c + (int64_t)k0 * d, d, 0.0f, S, cols);
        scan_block(idx + n0, best, S, csq, rows, cols, k0);
    }
}

int vq_quant_nearest(int32_t *idx, const float *v, const float *c, const float *csq,
                     int64_t N, int d, int K, int tile_n, int tile_k)
{
    if (tile_k > K) tile_k = K;
    if (tile_n > N) tile_n = (int)N;
    const int64_t ntiles = (N + tile_n - 1) / tile_n;
    int nthr = omp_get_max_threads();
    if (nthr > ntiles) nthr = (int)ntiles;
    const int tiles_in_parallel = nthr > 1 && openblas_get_num_threads() <= 1 && !omp_in_parallel();
    if (!tiles_in_parallel) nthr = 1;
    const size_t per_thread = (size_t)tile_n * tile_k + (size_t)tile_n;
    float *scratch = vq_alloc((size_t)nthr * per_thread * sizeof(float));
    if (!scratch) return vq_fail_context(VQ_ERR_NOMEM, "quantizer distance blocks (%d x %d x %d floats)",
                                         nthr, tile_n, tile_k);
    if (tiles_in_parallel) {
        #pragma omp parallel for num_threads(nthr) schedule(dynamic, 1)
        for (int64_t t = 0; t < ntiles; t++) {
            float *S = scratch + (size_t)omp_get_thread_num() * per_thread;
            const int64_t n0 = t * tile_n;
            const int rows = (int)(N - n0 < tile_n ? N - n0 : tile_n);
            search_tile(idx, S, S + (size_t)tile_n * tile_k, v, c, csq, n0, rows, d, K, tile_k);
        }
    } else {
        for (int64_t t = 0; t < ntiles; t++) {
            const int64_t n0 = t * tile_n;
            const int rows = (int)(N - n0 < tile_n ? N - n0 : tile_n);
            search_tile(idx, scratch, scratch + (size_t)tile_n * tile_k, v, c, csq, n0, rows, d, K, tile_k);
        }
    }
    vq_free(scratch);
    return VQ_OK;
}
