/* dropout.h: inverted dropout (nn.Dropout in training mode).
 *
 * Legend: n elements (any shape). Each element is kept with probability 1 - p
 * and scaled by 1/(1 - p); p = 0 is the identity, p = 1 gives zeros (as PyTorch).
 * Saved for backward: mask (n) floats holding 0 or 1/(1-p) per element, so
 * backward is dx += dy * mask. One uniform draw per element from vq_rng, in
 * element order (serial, so a seed reproduces the same mask on any thread count);
 * p = 0 draws nothing. At eval time the generator skips the op.
 */
#ifndef VQ_KERNELS_DROPOUT_H
#define VQ_KERNELS_DROPOUT_H

#include <stddef.h>

#include "../vq_common.h"   /* vq_rng; relative so the installed include/vqrt/kernels/ layout works */

int vq_dropout_check(float p);
void vq_dropout_forward(float *y,        /* (n) */
                        float *mask,     /* (n) saved: 0 or 1/(1-p) */
                        const float *x,  /* (n) */
                        float p, size_t n, vq_rng *rng);
void vq_dropout_backward(float *dx /* (n) */, const float *dy /* (n) */, const float *mask /* (n) */, size_t n);

#endif
