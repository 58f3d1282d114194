/* optim.h: optimizers (SGD, Adam, AdamW) over a flat float32 parameter slab,
 * global-norm gradient clipping, and the optimizer state as named arrays.
 * Learning-rate schedules are in schedule.h.
 *
 * What it is: the update rules of torch.optim (PyTorch 1.13, single-tensor
 * path, no amsgrad / maximize) applied to ranges of one parameter slab
 * `param` (n floats) with a same-sized gradient slab `grad`. Parameters are
 * organized in groups; each group is a list of (offset, count) ranges with
 * its own hyper-parameters. Two optimizers may share one slab (GAN: one for
 * the generator's ranges, one for the discriminator's).
 *
 * What it is not: it does not compute or zero gradients, and it does not
 * write files. Its state (step count and the per-element buffers) is exposed
 * as named plain arrays (vq_optim_state) so the checkpoint code saves and
 * restores it bit-exactly.
 *
 * Legend: n = floats in the parameter slab; S = floats covered by this
 * optimizer's ranges (sum of counts); state buffers are (S) and follow the
 * ranges in group order, range order.
 *
 *     vq_range gr[] = {{0, 1000}}, dr[] = {{1000, 200}};
 *     vq_param_group g = vq_group_defaults(VQ_ADAM, 4.5e-6);
 *     g.beta1 = 0.5; g.beta2 = 0.9; g.ranges = gr; g.n_ranges = 1;
 *     vq_optim *opt;
 *     if (vq_optim_create(&opt, VQ_ADAM, 1200, &g, 1)) fail(vq_last_error());
 *     for (step...) {
 *         ...backward into grad...
 *         vq_optim_set_lr_factor(opt, vq_schedule_factor(&sched, step)); // schedule.h
 *         float norm = vq_optim_clip_grad_norm(opt, grad, 1.0f);
 *         vq_optim_step(opt, param, grad);
 *     }
 *     vq_optim_destroy(opt);
 */
#ifndef VQ_OPTIM_H
#define VQ_OPTIM_H

#include <stddef.h>
#include "vq_common.h"
#include <stdint.h>

typedef enum vq_optim_kind { VQ_SGD, VQ_ADAM, VQ_ADAMW } vq_optim_kind;

/* A run of `count` floats of the slab starting at `offset`. */
typedef struct vq_range { size_t offset, count; } vq_range;

/* One parameter group, like one dict of torch.optim's param_groups.
 * Fields that do not apply to the optimizer kind are ignored. */
typedef struct vq_param_group {
    const vq_range *ranges;  /* (n_ranges); copied by vq_optim_create */
    int n_ranges;
    /* Hyper-parameters are doubles like torch's Python floats, so the scalar
     * arithmetic (bias corrections, 1 - lr*wd) matches it before the cast to float. */
    double lr;                /* base learning rate; the schedule multiplies it */
    double weight_decay;      /* SGD, Adam: L2 (g += wd*p); AdamW: decoupled (p *= 1 - lr*wd) */
    double momentum, dampening; /* SGD */
    int nesterov;             /* SGD: needs momentum > 0 and dampening == 0 (as torch) */
    double beta1, beta2, eps; /* Adam, AdamW */
} vq_param_group;

/* torch.optim's defaults for `kind` with learning rate `lr` and no ranges:
 * SGD momentum 0; Adam betas (0.9, 0.999), eps 1e-8, wd 0; AdamW the same but wd 1e-2. */
vq_param_group vq_group_defaults(vq_optim_kind kind, double lr);

typedef struct vq_optim vq_optim;

/* Validates every group (ranges inside [0, n), no float in two ranges,
 * hyper-parameters in torch's accepted ranges) and allocates zeroed state. */
int vq_optim_create(vq_optim **out, vq_optim_kind kind, size_t n,
                    const vq_param_group *groups, int n_groups);
void vq_optim_destroy(vq_optim *opt);

/* One update of every range: param (n) is changed in place, grad (n) is read
 * only (weight decay is applied to a private copy of each gradient value). */
void vq_optim_step(vq_optim *opt, float *param, const float *grad);

/* Learning rate of group g now = base lr * factor (factor from a schedule). */
void vq_optim_set_lr_factor(vq_optim *opt, double factor);
double vq_optim_lr(const vq_optim *opt, int group);
int vq_optim_num_groups(const vq_optim *opt);
int64_t vq_optim_steps_taken(const vq_optim *opt);
size_t vq_optim_state_size(const vq_optim *opt); /* S */

/* --- state, for checkpoints ---------------------------------------------
 * The state is a short list of named arrays: "step" (1 int64: steps taken)
 * and, per kind, "exp_avg" and "exp_avg_sq" (Adam/AdamW, S floats each) or
 * "momentum_buffer" (SGD with momentum > 0 in any group, S floats). Save
 * each array's bytes; to restore, copy them back into the same pointers
 * (vq_optim_state_find checks the name and size). Restoring into an
 * optimizer created with the same groups continues bit-exactly. */
typedef struct vq_optim_state {
    const char *name;
    vq_state_dtype dtype;
    void *data;   /* (count) of dtype, owned by the optimizer */
    size_t count;
} vq_optim_state;

int vq_optim_state_count(const vq_optim *opt);
vq_optim_state vq_optim_state_get(const vq_optim *opt, int i);
/* The array called `name` with exactly `count` elements of `dtype`, or
 * VQ_ERR_MISMATCH naming what differs. */
int vq_optim_state_find(vq_optim_state *out, const vq_optim *opt, const char *name,
                        vq_state_dtype dtype, size_t count);

/* --- clipping --------------------------------------------------------------
 * torch.nn.utils.clip_grad_norm_(params, max_norm) with the 2-norm: returns the
 * total norm of the gradient (accumulated in double); when
 * max_norm / (total + 1e-6) < 1 every gradient value is multiplied by it.
 * A non-finite total norm is returned as is and nothing is scaled (callers
 * that want torch's error_if_nonfinite check isfinite on the result). */
float vq_clip_grad_norm(float *grad, size_t n, float max_norm);
/* The same over this optimizer's ranges of grad (n) only. */
float vq_optim_clip_grad_norm(const vq_optim *opt, float *grad, float max_norm);

#endif
