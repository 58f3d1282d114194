/* attention.h: single-head attention over spatial positions, the core of
 * taming's AttnBlock (the 1x1 q/k/v/proj convs and the residual are separate ops).
 *
 * Legend: B batch, C channels, N = H*W positions.
 *   w(b, i, j) = softmax_j( sum_c q(b,c,i) k(b,c,j) / sqrt(C) )     (B, N, N)
 *   out(b, c, i) = sum_j v(b,c,j) w(b,i,j)                          (B, C, N)
 * Saved for backward: the probabilities w (B, N, N). Scratch: one N*N slot
 * (the gradient of w for one image) per thread slot (vq_kernel_slots, the
 * CPUs of the process). Images run in parallel, one sgemm chain per thread.
 */
#ifndef VQ_KERNELS_ATTENTION_H
#define VQ_KERNELS_ATTENTION_H

#include <stddef.h>

/* slots * N * N (see above) */
size_t vq_attention_scratch_floats(int N);

void vq_attention_forward(float *out,       /* (B, C, N) */
                          float *probs,     /* (B, N, N) saved */
                          const float *q,   /* (B, C, N) */
                          const float *k,   /* (B, C, N) */
                          const float *v,   /* (B, C, N) */
                          int B, int C, int N);

/* dq, dk, dv += ... (any may be NULL when not needed) */
void vq_attention_backward(float *dq, float *dk, float *dv,   /* (B, C, N) each */
                           const float *dout,                 /* (B, C, N) */
                           const float *q, const float *k, const float *v, /* (B, C, N) */
                           const float *probs,                /* (B, N, N) from forward */
                           int B, int C, int N,
                           float *scratch);                   /* (vq_attention_scratch_floats(N)) */

#endif
