/* conv_transpose2d.h: transposed 2-D convolution (PyTorch nn.ConvTranspose2d,
 * groups=1, dilation=1): forward, backward data, backward weight+bias.
 *
 * Legend: B batch, Ci input channels, H, W input size, Co output channels,
 * kh, kw kernel, Ho, Wo output size, Kt = Co*kh*kw.
 *
 * Semantics as PyTorch: input pixel (iy, ix) scatters w[ci, co, ky, kx] * x to
 * output (iy*sh - ph + ky, ix*sw - pw + kx); Ho = (H-1)*sh - 2*ph + kh + oph,
 * output_padding oph < sh only adds rows at the bottom (and columns at the right).
 *
 * Method: it is the adjoint of a conv2d from (Co, Ho, Wo) to (Ci, H, W), so
 * forward = sgemm then col2im, backward data = im2col(dy) then sgemm, backward
 * weight = im2col(dy) then sgemm; bands of input rows keep the column scratch
 * under 4 MiB (or Kt*W floats when one row needs more). Forward saves nothing.
 */
#ifndef VQ_KERNELS_CONV_TRANSPOSE2D_H
#define VQ_KERNELS_CONV_TRANSPOSE2D_H

#include <stddef.h>

typedef struct vq_conv_transpose2d_shape {
    int B, Ci, H, W;           /* input (B, Ci, H, W) */
    int Co, kh, kw;            /* weight (Ci, Co, kh, kw), PyTorch's layout */
    int stride_h, stride_w;
    int pad_h, pad_w;          /* symmetric, as PyTorch */
    int out_pad_h, out_pad_w;  /* output_padding, < stride */
    int Ho, Wo;                /* output (B, Co, Ho, Wo) */
    int bias;                  /* 1: bias (Co) is added */
} vq_conv_transpose2d_shape;

int vq_conv_transpose2d_check(const vq_conv_transpose2d_shape *s);
size_t vq_conv_transpose2d_scratch_floats(const vq_conv_transpose2d_shape *s);

/* y = conv_transpose(x, w) + b */
void vq_conv_transpose2d_forward(float *y,          /* (B, Co, Ho, Wo) */
                                 const float *x,    /* (B, Ci, H, W) */
                                 const float *w,    /* (Ci, Co, kh, kw) */
                                 const float *b,    /* (Co) or NULL when !s->bias */
                                 const vq_conv_transpose2d_shape *s,
                                 float *scratch);   /* (vq_conv_transpose2d_scratch_floats(s)) */

/* dx += adjoint of the forward (a plain strided conv of dy with w) */
void vq_conv_transpose2d_backward_data(float *dx,        /* (B, Ci, H, W) */
                                       const float *dy,  /* (B, Co, Ho, Wo) */
                                       const float *w,   /* (Ci, Co, kh, kw) */
                                       const vq_conv_transpose2d_shape *s,
                                       float *scratch);

/* dw += ..., db += sum of dy over B, Ho, Wo (db ignored when NULL) */
void vq_conv_transpose2d_backward_weight(float *dw,        /* (Ci, Co, kh, kw) */
                                         float *db,        /* (Co) or NULL */
                                         const float *dy,  /* (B, Co, Ho, Wo) */
                                         const float *x,   /* (B, Ci, H, W) */
                                         const vq_conv_transpose2d_shape *s,
                                         float *scratch);

#endif
