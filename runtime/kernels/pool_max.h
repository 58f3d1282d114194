/* pool_max.h: 2-D max pooling (PyTorch nn.MaxPool2d with padding 0,
 * dilation 1, ceil_mode False), forward and backward. Used by LPIPS's VGG16
 * (2x2, stride 2); any kernel k and stride st work, overlapping windows too.
 *
 * Legend: B batch, C channels, H, W input size, Ho, Wo output size,
 * Ho = (H - k) / st + 1 (floor: trailing rows/columns that fit no window are
 * dropped, as PyTorch does).
 *
 * Saved for backward: nothing; backward reads the input x again and re-finds
 * each window's maximum with the same comparisons as forward. Ties: the
 * gradient goes to the FIRST maximum in row-major window order (PyTorch's CPU
 * kernel keeps the first, comparing with a strict >). A NaN in a window is its
 * maximum (the output is NaN, as in PyTorch; which NaN gets the gradient may differ).
 */
#ifndef VQ_KERNELS_POOL_MAX_H
#define VQ_KERNELS_POOL_MAX_H

/* 0, or VQ_ERR_ARG with a message (call once at setup). */
int vq_max_pool2d_check(int H, int W, int k, int st, int Ho, int Wo);

/* y = max over each k x k window of x, windows st apart */
void vq_max_pool2d_forward(float *y,        /* (B, C, Ho, Wo) */
                           const float *x,  /* (B, C, H, W) */
                           int B, int C, int H, int W, int k, int st, int Ho, int Wo);

/* dx[argmax of each window] += dy (accumulates; overlapping windows add up) */
void vq_max_pool2d_backward(float *dx,        /* (B, C, H, W) */
                            const float *dy,  /* (B, C, Ho, Wo) */
                            const float *x,   /* (B, C, H, W), the forward input */
                            int B, int C, int H, int W, int k, int st, int Ho, int Wo);

#endif
