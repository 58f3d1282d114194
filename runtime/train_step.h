/* train_step.h: one training step of a model (model_desc.h), exactly as the
 * driver's `train` runs it, for the driver and for tests that must take the
 * same steps (the parity test against PyTorch).
 *
 *   zero_grads; forward(TRAIN); every loss finite?
 *   step >= disc_start:               adversarial(disc_factor)     (generator's GAN term)
 *   backward; every gradient of optimizer 0 finite?; schedule; clip; optimizer 0 step
 *   step >= disc_start - disc_warmup: disc_step(disc_factor); finite?; optimizer `disc` step
 *   after_step (EMA, usage, dead-code restart)
 *
 * Before disc_start - disc_warmup the discriminator is not run at all (taming
 * runs it with a zero loss factor, which changes nothing but its BatchNorm
 * running statistics and Adam's step count; see docs/training.md).
 * A non-finite loss or gradient fails with VQ_ERR_NUMERIC naming the loss or
 * the first tensor; nothing has been changed by the optimizers then.
 */
#ifndef VQ_TRAIN_STEP_H
#define VQ_TRAIN_STEP_H

#include "model_desc.h"
#include "optim.h"
#include "schedule.h"

typedef struct vq_step_info {
    double grad_norm;          /* optimizer 0's gradient 2-norm before clipping */
    double disc_grad_norm;     /* the discriminator optimizer's, when it stepped, else 0 */
    int adversarial;           /* the generator got the adversarial term */
    int disc_trained;          /* the discriminator stepped */
} vq_step_info;

/* opts[k], sched[k]: the model's optimizers in desc order; step is 0-based; x (B, C, H, W). */
int vq_train_step(const vq_model_desc *d, vq_model *m, vq_optim *const *opts, const vq_schedule *sched,
                  const float *x, int B, int64_t step, vq_rng *rng, vq_step_info *info);

/* The discriminator factor for the generator (0: term off) and for the discriminator's step. */
double vq_disc_factor_generator(const vq_model_desc *d, int64_t step);
double vq_disc_factor_discriminator(const vq_model_desc *d, int64_t step);

#endif
