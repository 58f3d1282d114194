/* conv2d.h: 2-D convolution (PyTorch nn.Conv2d, groups=1, dilation=1) with
 * asymmetric zero padding and stride: forward, backward data, backward weight+bias.
 *
 * Legend: B batch, Ci input channels, H, W input size, Co output channels,
 * kh, kw kernel size, Ho, Wo output size, K = Ci*kh*kw.
 *
 * Method: per image, im2col over bands of output rows then one cblas_sgemm per
 * band; the band is sized so the column scratch stays under 4 MiB (1 Mi floats)
 * unless a single output row needs more (then K*Wo floats). A 1x1, stride-1,
 * unpadded conv is a plain GEMM and needs no scratch. Backward data is the
 * transposed GEMM followed by col2im. Forward saves nothing: backward weight
 * reads the layer input x again.
 */
#ifndef VQ_KERNELS_CONV2D_H
#define VQ_KERNELS_CONV2D_H

#include <stddef.h>

typedef struct vq_conv2d_shape {
    int B, Ci, H, W;       /* input (B, Ci, H, W) */
    int Co, kh, kw;        /* weight (Co, Ci, kh, kw) */
    int stride_h, stride_w;
    int pad_top, pad_bottom, pad_left, pad_right;
    int Ho, Wo;            /* output (B, Co, Ho, Wo); Ho = (H + pt + pb - kh) / sh + 1 */
    int bias;              /* 1: bias (Co) is added */
} vq_conv2d_shape;

/* 0, or VQ_ERR_ARG with a message if the fields are inconsistent (call once at setup). */
int vq_conv2d_check(const vq_conv2d_shape *s);
/* Floats of `scratch` every conv2d kernel below needs for shape s (0 for the 1x1 fast path). */
size_t vq_conv2d_scratch_floats(const vq_conv2d_shape *s);

/* y = conv(x, w) + b */
void vq_conv2d_forward(float *y,          /* (B, Co, Ho, Wo) */
                       const float *x,    /* (B, Ci, H, W) */
                       const float *w,    /* (Co, Ci, kh, kw) */
                       const float *b,    /* (Co), or NULL when !s->bias */
                       const vq_conv2d_shape *s,
                       float *scratch);   /* (vq_conv2d_scratch_floats(s)) */

/* dx += conv's adjoint applied to dy */
void vq_conv2d_backward_data(float *dx,        /* (B, Ci, H, W) */
                             const float *dy,  /* (B, Co, Ho, Wo) */
                             const float *w,   /* (Co, Ci, kh, kw) */
                             const vq_conv2d_shape *s,
                             float *scratch);  /* (vq_conv2d_scratch_floats(s)) */

/* dw += sum_b dy (x)^T in column form; db += sum of dy over B, Ho, Wo (db ignored when NULL) */
void vq_conv2d_backward_weight(float *dw,        /* (Co, Ci, kh, kw) */
                               float *db,        /* (Co) or NULL */
                               const float *dy,  /* (B, Co, Ho, Wo) */
                               const float *x,   /* (B, Ci, H, W) */
                               const vq_conv2d_shape *s,
                               float *scratch);  /* (vq_conv2d_scratch_floats(s)) */

#endif
