/* schedule.h: learning-rate schedules, evaluated per step as a multiplier on
 * each parameter group's base lr (vq_optim_set_lr_factor in optim.h).
 * Pure functions of the step index: nothing to save in a checkpoint. */
#ifndef VQ_SCHEDULE_H
#define VQ_SCHEDULE_H

#include <stdint.h>

/* A multiplier on every group's base lr as a function of the 0-based index of
 * the step about to be taken (step 0 is the first update).
 *   CONSTANT: 1.
 *   WARMUP:   linear warm-up, (step + 1) / warmup_steps while step < warmup_steps,
 *             then 1. (+1 so the first update is not wasted with lr = 0.)
 *   COSINE:   the warm-up above, then with t = (step - warmup) / (total - warmup)
 *             clamped to [0, 1]: min_factor + (1 - min_factor) * (1 + cos(pi t)) / 2
 *             (Loshchilov & Hutter 2017, SGDR, without restarts). */
typedef enum vq_schedule_kind { VQ_SCHED_CONSTANT, VQ_SCHED_WARMUP, VQ_SCHED_COSINE } vq_schedule_kind;
typedef struct vq_schedule {
    vq_schedule_kind kind;
    int64_t warmup_steps; /* 0: no warm-up */
    int64_t total_steps;  /* COSINE: the step where the factor reaches min_factor */
    double min_factor;     /* COSINE: final multiplier, e.g. 0 or 0.1 */
} vq_schedule;

int vq_schedule_check(const vq_schedule *s); /* VQ_ERR_ARG with the reason */
double vq_schedule_factor(const vq_schedule *s, int64_t step);

#endif
