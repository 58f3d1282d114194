/* conv_common.h: small helpers shared by conv2d.c and conv_transpose2d.c
 * (internal). Legend: B batch, C channels, P = spatial positions per image. */
#ifndef VQ_KERNELS_CONV_COMMON_H
#define VQ_KERNELS_CONV_COMMON_H

#include <stddef.h>

/* y (B, C, P) = b[c] broadcast, or 0 when b is NULL. */
void vq_fill_bias(float *y, const float *b, int B, int C, size_t P);
/* db (C) += sum over B and P of dy (B, C, P), summed in double. */
void vq_bias_backward(float *db, const float *dy, int B, int C, size_t P);

#endif
