/* conv2d_co1.h: conv2d forward and weight gradient for one output channel, as
 * GEMMs over the kernel taps (internal to the kernel library: conv2d.c sends
 * Co == 1 here; see conv2d_co1.c for why). Same contracts as vq_conv2d_forward
 * and vq_conv2d_backward_weight; scratch: vq_kernel_slots() slots of
 * vq_conv2d_co1_slot_floats(s) floats, which conv2d.c counts in its scratch.
 */
#ifndef VQ_KERNELS_CONV2D_CO1_H
#define VQ_KERNELS_CONV2D_CO1_H

#include "conv2d.h"

/* 1: conv2d.c sends Co == 1 here (0 keeps im2col + sgemm, for measuring). */
#ifndef VQ_CONV2D_CO1_GEMM
#define VQ_CONV2D_CO1_GEMM 1
#endif

/* Floats of one thread's slot: kh*kw*H*W, rounded up to 16. */
size_t vq_conv2d_co1_slot_floats(const vq_conv2d_shape *s);
/* y (B, 1, Ho, Wo) = conv(x (B, Ci, H, W), w (1, Ci, kh, kw)) + b (1) */
void vq_conv2d_co1_forward(float *y, const float *x, const float *w, const float *b,
                           const vq_conv2d_shape *s, float *scratch);
/* dw (1, Ci, kh, kw) += sum over B, Ho, Wo of dy x-taps; db (1) += sum dy (ignored when NULL) */
void vq_conv2d_co1_backward_weight(float *dw, float *db, const float *dy, const float *x,
                                   const vq_conv2d_shape *s, float *scratch);

#endif
