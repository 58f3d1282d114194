/* resample.h: ops that move values between grids without weights: nearest
 * upsampling by an integer factor, average pooling (no padding), constant
 * padding (asymmetric), and channel concatenation / its backward (split).
 *
 * Legend: B batch, C channels, H, W input size, Ho, Wo output size.
 * None saves anything for backward. Shapes are plain int arguments; the
 * generator has already checked them (vq_*_check below reports a bad one).
 */
#ifndef VQ_KERNELS_RESAMPLE_H
#define VQ_KERNELS_RESAMPLE_H

#include <stddef.h>

/* y (B, C, H*s, W*s): y[.., oy, ox] = x[.., oy/s, ox/s] (F.interpolate mode='nearest') */
void vq_upsample_nearest_forward(float *y, const float *x /* (B, C, H, W) */, int B, int C, int H, int W, int s);
/* dx (B, C, H, W) += sum of dy (B, C, H*s, W*s) over each s x s block */
void vq_upsample_nearest_backward(float *dx, const float *dy, int B, int C, int H, int W, int s);

/* avg_pool2d(kernel k, stride st, padding 0): Ho = (H - k)/st + 1 */
int vq_avg_pool_check(int H, int W, int k, int st, int Ho, int Wo);
void vq_avg_pool_forward(float *y /* (B, C, Ho, Wo) */, const float *x /* (B, C, H, W) */,
                         int B, int C, int H, int W, int k, int st, int Ho, int Wo);
void vq_avg_pool_backward(float *dx /* (B, C, H, W) */, const float *dy /* (B, C, Ho, Wo) */,
                          int B, int C, int H, int W, int k, int st, int Ho, int Wo);

/* F.pad(x, (left, right, top, bottom), value): pads >= 0, Ho = H + top + bottom, Wo = W + left + right */
typedef struct vq_pad_shape { int B, C, H, W, top, bottom, left, right; float value; } vq_pad_shape;
int vq_pad_check(const vq_pad_shape *s);
void vq_pad_forward(float *y /* (B, C, Ho, Wo) */, const float *x /* (B, C, H, W) */, const vq_pad_shape *s);
/* dx += the interior of dy */
void vq_pad_backward(float *dx /* (B, C, H, W) */, const float *dy /* (B, C, Ho, Wo) */, const vq_pad_shape *s);

/* torch.cat(xs, dim=1): y (B, sum Cs, P) from xs[i] (B, Cs[i], P), P = H*W */
void vq_concat_channels_forward(float *y, const float *const *xs, const int *Cs, int n, int B, size_t P);
/* dxs[i] (B, Cs[i], P) += its slice of dy (B, sum Cs, P); a NULL dxs[i] is skipped */
void vq_concat_channels_backward(float *const *dxs, const float *dy, const int *Cs, int n, int B, size_t P);

#endif
