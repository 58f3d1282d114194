/* quantizer_internal.h: helpers shared by the quantizer's files (quantizer*.c,
 * kmeans.c); not part of the public runtime API. Legend as in quantizer.h. */
#ifndef VQ_QUANTIZER_INTERNAL_H
#define VQ_QUANTIZER_INTERNAL_H

#include "quantizer.h"

/* F.normalize's floor on the norm. */
#define VQ_NORM_EPS 1e-12f
#define VQ_DEFAULT_TILE_N 256
#define VQ_DEFAULT_TILE_K 1024
/* Element count below which an elementwise loop stays serial: a parallel
 * region's start-up costs more than the work. */
#define VQ_PARALLEL_MIN 65536

/* Nearest code per row: idx[n] = argmin_k (csq[k] - 2 v_n . c_k), lowest k on
 * exact ties. |v_n|^2 is left out: it is the same for every k of a row, and
 * adding it only rounds away small differences. Distances are formed by
 * cblas_sgemm in blocks of at most tile_n x tile_k floats per OpenMP thread.
 * idx (N), v (N, d), c (K, d), csq (K). */
int vq_quant_nearest(int32_t *idx, const float *v, const float *c, const float *csq,
                     int64_t N, int d, int K, int tile_n, int tile_k);

/* The search space of quantizer.h: x (N, D) = z transposed from NCHW; v (N, d)
 * as searched; unorm (N) = |u_n| before normalization (cosine only; may be
 * NULL otherwise). Without projection v may equal x. */
void vq_quant_search_space(float *x, float *v, float *unorm, const float *z,
                           const vq_codebook *cb, int B, int H, int W);

/* Codes as searched: c (K, d) (normalized for cosine), cnorm (K) = |e_k|
 * (may be NULL), csq (K) = |c_k|^2 (may be NULL). */
void vq_quant_search_codes(float *c, float *cnorm, float *csq, const vq_codebook *cb);

/* rows (N, C) = t (B, C, H, W) transposed; and t += rows transposed back. */
void vq_quant_nchw_to_rows(float *rows, const float *t, int B, int C, int H, int W);
void vq_quant_rows_add_to_nchw(float *t, const float *rows, int B, int C, int H, int W);

/* Checks shapes shared by every entry point; names `fn` in the message. */
int vq_quant_check(const vq_codebook *cb, const char *fn, int B, int H, int W);

#endif
