/* conv_gemm.h: vqc's own AVX-512 implicit-GEMM correlation, the native path of
 * conv2d.c's correlate() (forward, and backward data when it runs as a
 * stride-1 correlation of dy with the flipped kernel). Internal to the kernel
 * library; runs only when vq_conv_native() is 1.
 *
 * Legend: M rows of A (output channels of the correlation), Kc = C*kh*kw (the
 * reduction), N = B*Ho*Wo output columns, P = Ho*Wo, MR x NR the register
 * tile (8 x 48), KB the reduction block (<= 256).
 *
 *     out (B, M, Ho, Wo) (+)= A (M, Kc) x col (Kc, N),   col = im2col(in) never stored whole
 *
 * Method (the GotoBLAS/BLIS loop nest with im2col fused into the packing of B):
 * A is packed once per call into MR-row panels (M/MR, Kc, MR), zero-padded to a
 * multiple of MR. The N columns are cut into panels of NR; a thread takes a
 * panel (and, when there are few panels, a range of A's row panels), and for
 * each block of KB reduction rows packs col (KB, NR) straight from the image
 * (row runs of the output grid: masked vector copies for stride 1, gathers for
 * a wider stride; zero padding by masks), then runs the 8 x 48 microkernel
 * (24 zmm accumulators, A broadcast, three B vectors per k) over every row
 * panel of A with the packed block in L1 and A streaming from L2, adding into
 * a per-thread (M, NR) buffer; the last block's buffer is written to out
 * (bias or +=, per image when a panel spans several small images).
 * Why: the im2col + sgemm path writes the column matrix and then OpenBLAS
 * copies it again into its own panels (about 16% of a training step); here the
 * image is read once into the panel the kernel uses. MR x NR = 8 x 48: every
 * channel count of the shipped models is a multiple of 8, so no row tail.
 * Each output element is computed by one thread in a fixed order: results do
 * not depend on the thread count.
 *
 * What it is not: no dilation, no groups; conv2d.c takes it only where
 * vq_conv_gemm_wins (the measured rule is in conv_gemm.c: not for 1x1, tiny
 * Kc, few column panels for a large A, or planes above 128 x 128) and keeps
 * im2col + OpenBLAS for the others. Measured on tiny@32 (batch 32, 2 threads):
 * forward 1.15-1.8x, backward data 1.05-1.5x on the 3x3 layers.
 */
#ifndef VQ_KERNELS_CONV_GEMM_H
#define VQ_KERNELS_CONV_GEMM_H

#include <stddef.h>

#include "conv2d.h"
#include "im2col.h"

/* Floats conv2d.c reserves after its im2col slots (slots_floats = slots * slot
 * size) for shape s, given that it already reserves `after` there (the flipped
 * kernel of backward data, Ci*Co*kh*kw, or 0): `after` when the slots can hold
 * the native correlation's work area (they are idle on that path), else
 * Ci*Co*kh*kw (the flipped kernel's place, kept free) + that area, whichever
 * is larger. Covers forward and backward data's correlation. */
size_t vq_conv_gemm_after_slots(const vq_conv2d_shape *s, size_t slots_floats, size_t after);

/* 1 when the native kernel is measured faster than im2col + OpenBLAS for this
 * correlation (M rows of A over geometry g of B images; pointwise: a 1x1
 * stride-1 unpadded conv, conv2d.c's is_pointwise). */
int vq_conv_gemm_wins(int M, const vq_col_geom *g, int B, int pointwise);

/* out (B, M, Ho, Wo) (+)= A (M, Kc) x columns of in (B, C, H, W) read by g.
 * accumulate 0: out = bias + A col (bias may be NULL: 0); 1: out += A col.
 * Scratch: the first `slots_floats` floats of scratch when they suffice, else
 * the area after scratch + slots_floats + M*Kc (see vq_conv_gemm_after_slots).
 * Needs AVX-512F (vq_conv_native()). OpenMP over vq_kernel_threads(). */
void vq_conv_gemm_correlate(float *out, const float *in, const float *A, const float *bias, int M,
                            const vq_col_geom *g, int B, int accumulate, float *scratch, size_t slots_floats);

#endif
