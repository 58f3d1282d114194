/* conv_wgrad.h: conv2d's weight gradient by vqc's own AVX-512 kernel (internal
 * to the kernel library: conv2d.c sends a shape here when vq_conv_native() and
 * vq_conv_wgrad_fits(s); otherwise im2col + OpenBLAS stays).
 *
 * Legend: B batch, Ci, Co channels, H, W input, Ho, Wo output, P = Ho*Wo,
 * K = Ci*kh*kw, a pair q = ci*kh + ky (one kernel row of one input channel:
 * K rows q*kw .. q*kw+kw-1), N = B*P columns of the reduction.
 *
 * Method: dw^T (K, Co) += col (K, N) dy^T (N, Co) as one GEMM whose reduction
 * over all pixels of all images stays in registers. The microkernel holds
 * MR = 12 rows of K (12/kw whole pairs) x NR = 32 output channels in 24 zmm;
 * per column n it loads 32 channels of a packed dy^T panel ([n][32], transposed
 * from dy with 16x16 transposes, zero-padded past Co) and broadcasts the 12 col
 * values straight from a zero-padded copy of the x rows (no im2col):
 * col[(ci,ky,kx)][(oy,ox)] = xpad[ci][oy*sh + ky][ox*sw + kx], i.e. one pointer
 * per pair with kx as displacement, for any stride and padding. The batch is cut
 * into chunks (whole images or bands of rows; the plan does not depend on the
 * thread count) that bound the packed buffers; each thread owns a fixed set of
 * (k-block, channel panel) tiles of dw, packs the dy^T panels and x rows those
 * need into its own slot, and adds its 12 x 32 tiles transposed into dw
 * (Co, K) after each chunk: no barriers, no reduction across threads, and the
 * same sums in the same order for any thread count.
 *
 * Why: im2col + sgemm(NoTrans, Trans) writes and re-reads a K x N column
 * matrix (9x the input for 3x3) per dw block and reaches 170-340 GFLOP/s of
 * ~550 on two cores; the packed dy^T is Co x N, read from L2 by every k-block.
 * Measured (2 threads, Zen 5): tiny@32 batch 32 shapes 330-430 GFLOP/s, 1.15-2.2x
 * the old path; the tiny@32 training step's backward-weight time 83-94 -> 57-59 ms.
 * Shapes: kw <= 4 (larger kw: old path); vq_conv_wgrad_fits holds the measured
 * rule (one image of <= 256 pixels stays on the old path).
 */
#ifndef VQ_KERNELS_CONV_WGRAD_H
#define VQ_KERNELS_CONV_WGRAD_H

#include "conv2d.h"

/* 1 when vq_conv_wgrad is the faster path for s (kw <= 4 and the measured rule
 * in conv_wgrad.c); it does not look at vq_conv_native(). */
int vq_conv_wgrad_fits(const vq_conv2d_shape *s);
/* Floats of one thread's slot (vq_kernel_slots() slots, counted by conv2d.c). */
size_t vq_conv_wgrad_slot_floats(const vq_conv2d_shape *s);
/* dw (Co, Ci, kh, kw) += sum over B, Ho, Wo of dy (B, Co, Ho, Wo) times the
 * taps of x (B, Ci, H, W); needs an AVX-512F CPU (vq_conv_native()). db is not
 * touched (conv2d.c calls vq_bias_backward). */
void vq_conv_wgrad(float *dw, const float *dy, const float *x, const vq_conv2d_shape *s, float *scratch);

#endif
