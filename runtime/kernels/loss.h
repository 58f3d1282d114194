/* loss.h: scalar losses of VQGAN training and their gradients.
 *
 * Legend: n elements of each input (any shape); nr, nf elements of the real
 * and fake discriminator logits. Sums are accumulated in double. Forward
 * writes one float to *loss; backward takes the upstream gradient dloss of that
 * scalar (1 for a loss that is the final objective, or its weight in a sum) and
 * accumulates into the input gradients.
 *   l1:  mean |x_hat - x|           d/dx_hat = sign(x_hat - x)/n  (0 at a tie, as torch)
 *   l2:  mean (x_hat - x)^2         d/dx_hat = 2 (x_hat - x)/n
 *   hinge_d:   0.5 (mean relu(1 - real) + mean relu(1 + fake))   (taming hinge_d_loss)
 *   vanilla_d: 0.5 (mean softplus(-real) + mean softplus(fake))  (taming vanilla_d_loss)
 *   g:   -mean(fake)                                             (taming's generator loss)
 * Nothing is saved: backward reads the same inputs.
 */
#ifndef VQ_KERNELS_LOSS_H
#define VQ_KERNELS_LOSS_H

#include <stddef.h>

void vq_l1_loss_forward(float *loss /* (1) */, const float *x_hat /* (n) */, const float *x /* (n) */, size_t n);
void vq_l1_loss_backward(float *dx_hat /* (n) */, const float *x_hat, const float *x, size_t n, float dloss);

void vq_l2_loss_forward(float *loss /* (1) */, const float *x_hat /* (n) */, const float *x /* (n) */, size_t n);
void vq_l2_loss_backward(float *dx_hat /* (n) */, const float *x_hat, const float *x, size_t n, float dloss);

void vq_hinge_d_loss_forward(float *loss /* (1) */, const float *real /* (nr) */, size_t nr,
                             const float *fake /* (nf) */, size_t nf);
/* dreal, dfake may be NULL */
void vq_hinge_d_loss_backward(float *dreal /* (nr) */, float *dfake /* (nf) */, const float *real, size_t nr,
                              const float *fake, size_t nf, float dloss);

void vq_vanilla_d_loss_forward(float *loss /* (1) */, const float *real /* (nr) */, size_t nr,
                               const float *fake /* (nf) */, size_t nf);
void vq_vanilla_d_loss_backward(float *dreal /* (nr) */, float *dfake /* (nf) */, const float *real, size_t nr,
                                const float *fake, size_t nf, float dloss);

void vq_g_loss_forward(float *loss /* (1) */, const float *fake /* (nf) */, size_t nf);
void vq_g_loss_backward(float *dfake /* (nf) */, size_t nf, float dloss);

#endif
