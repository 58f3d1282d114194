/* conv_common.h: what the kernels share about threads, plus the bias helpers
 * of conv2d.c and conv_transpose2d.c (internal to the kernel library).
 *
 * Threading model (docs/runtime-kernels.md): OpenBLAS runs single-threaded
 * (vq_threads_set) and the kernels split their work across OpenMP threads
 * themselves, each thread calling sgemm on its own tile, so one thread pool
 * exists. If OpenBLAS was left multi-threaded (a program that never called
 * vq_threads_set) the kernels run their tiles on the calling thread and let
 * OpenBLAS parallelize each sgemm instead: same results, old behaviour.
 *
 * Legend: B batch, C channels, P = spatial positions per image.
 */
#ifndef VQ_KERNELS_CONV_COMMON_H
#define VQ_KERNELS_CONV_COMMON_H

#include <stddef.h>

#include <cblas.h>

/* Per-thread scratch slots a kernel's scratch holds: the CPUs this process may
 * use when first asked (at least 1, at most 64), then fixed, so a scratch
 * sized once stays large enough whatever the thread count later. */
int vq_kernel_slots(void);
/* Threads a kernel called now may use: 1 inside a parallel region or when
 * OpenBLAS is multi-threaded, else min(omp_get_max_threads(), slots). */
int vq_kernel_threads(void);

/* 1 when the convolutions use vqc's own AVX-512 kernels (conv_gemm.c,
 * conv_wgrad.c), 0 when they go through im2col + OpenBLAS sgemm. Default: 1 on
 * a CPU with AVX-512F unless the environment sets VQC_CONV=blas (read once).
 * vq_conv_native_set(0 / 1) forces a path (tests and benchmarks compare both;
 * 1 is ignored on a CPU without AVX-512F), -1 returns to the default. */
int vq_conv_native(void);
void vq_conv_native_set(int on);

/* cblas_sgemm (row-major) split over vq_kernel_threads() by blocks of the
 * larger of M and N when the product is big enough to pay for it; for callers
 * outside a parallel region that have one large GEMM. */
void vq_sgemm_par(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* y (B, C, P) = b[c] broadcast, or 0 when b is NULL. */
void vq_fill_bias(float *y, const float *b, int B, int C, size_t P);
/* db (C) += sum over B and P of dy (B, C, P), summed in double per (b, c) plane. */
void vq_bias_backward(float *db, const float *dy, int B, int C, size_t P);
/* Sum of n floats: blocks of 256 summed in 16 float lanes (vectorizable), the blocks in double. */
double vq_sum_floats(const float *a, size_t n);

#endif
