/* schedule.c: learning-rate multipliers per step (see schedule.h for the formulas). */
#include "schedule.h"

#include "vq_common.h"

#include <math.h>

int vq_schedule_check(const vq_schedule *s)
{
    if (s->kind != VQ_SCHED_CONSTANT && s->kind != VQ_SCHED_WARMUP && s->kind != VQ_SCHED_COSINE)
        return vq_fail(VQ_ERR_ARG, "lr schedule: unknown kind %d", (int)s->kind);
    if (s->warmup_steps < 0) return vq_fail(VQ_ERR_ARG, "lr schedule: negative warm-up (%lld steps)", (long long)s->warmup_steps);
    if (s->kind == VQ_SCHED_COSINE) {
        if (s->total_steps <= s->warmup_steps)
            return vq_fail(VQ_ERR_ARG, "cosine lr schedule: total_steps (%lld) must exceed warmup_steps (%lld)",
                           (long long)s->total_steps, (long long)s->warmup_steps);
        if (!(s->min_factor >= 0.0 && s->min_factor <= 1.0))
            return vq_fail(VQ_ERR_ARG, "cosine lr schedule: min_factor %g is outside [0, 1]", s->min_factor);
    }
    return VQ_OK;
}

double vq_schedule_factor(const vq_schedule *s, int64_t step)
{
    if (step < 0) step = 0;
    if (s->kind == VQ_SCHED_CONSTANT) return 1.0;
    if (step < s->warmup_steps) return (double)(step + 1) / (double)s->warmup_steps;
    if (s->kind == VQ_SCHED_WARMUP) return 1.0;
    double t = (double)(step - s->warmup_steps) / (double)(s->total_steps - s->warmup_steps);
    if (t > 1.0) t = 1.0;
    return s->min_factor + (1.0 - s->min_factor) * 0.5 * (1.0 + cos(M_PI * t));
}
