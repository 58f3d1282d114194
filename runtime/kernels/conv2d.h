/* conv2d.h: 2-D convolution (PyTorch nn.Conv2d, groups=1, dilation=1) with
 * asymmetric zero padding and stride: forward, backward data, backward weight+bias.
 *
 * Legend: B batch, Ci input channels, H, W input size, Co output channels,
 * kh, kw kernel size, Ho, Wo output size, K = Ci*kh*kw.
 *
 * Method (conv2d.c, docs/runtime-kernels.md): tiled im2col + sgemm, each
 * OpenMP thread running whole tiles with single-threaded OpenBLAS. A tile is
 * several small images side by side or a band of rows of a large one, its
 * column matrix at most about 4 MiB (one per thread slot of the scratch). A 1x1
 * stride-1 unpadded conv reads x directly. Backward data is, for stride 1, the
 * correlation of dy with the flipped kernel (no col2im); otherwise the
 * transposed GEMM and col2im. Forward saves nothing: backward weight reads the
 * layer input x again.
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
/* Floats of `scratch` every conv2d kernel below needs for shape s: one tile per
 * thread slot (vq_kernel_slots(), fixed per process) plus the flipped kernel. */
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

/* dx = conv's adjoint applied to dy (overwrites: what a gradient's first writer
 * calls instead of memset + vq_conv2d_backward_data) */
void vq_conv2d_backward_data_set(float *dx,        /* (B, Ci, H, W) */
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
