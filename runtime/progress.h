/* progress.h: the training progress bar: step/total, percent, steps/s, ETA and
 * named scalar values (loss, ...).
 *
 * On a terminal it redraws one line in place with '\r' (at most 10 times a
 * second); into a file or pipe (a log) it writes plain lines, one every
 * `every` steps or every `interval_s` seconds, whichever comes first, plus
 * the last step. The only part of the runtime that prints.
 *
 *     vq_progress pb;
 *     vq_progress_init(&pb, stdout, "train", start_step, total_steps);
 *     for (step = start_step; step < total_steps; step++) {
 *         ...
 *         const char *names[] = {"loss", "psnr"};
 *         vq_progress_update(&pb, step + 1, names, (double[]){loss, psnr}, 2);
 *     }
 *     vq_progress_finish(&pb);
 *
 * Prints e.g. "train 1200/5000   24.0%  3.51 step/s  ETA 00:18:02  loss 0.0412  psnr 24.31"
 */
#ifndef VQ_PROGRESS_H
#define VQ_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct vq_progress {
    FILE *out;
    int tty;              /* out is a terminal: redraw in place */
    char label[32];
    int64_t start_step;   /* steps done before this run (resumed runs): the rate counts from here */
    int64_t total;        /* final step count; <= 0 if unknown (no percent, no ETA) */
    int64_t every;        /* not a terminal: a line every this many steps (default total / 20, >= 1) */
    double interval_s;    /* not a terminal: ... or after this many seconds (default 30) */
    double t_start, t_last;
    int64_t last_step;    /* step of the last line printed */
    int drawn;            /* a terminal line is on screen (finish ends it with '\n') */
} vq_progress;

/* out: stdout, stderr or any FILE*; whether it is a terminal is detected here.
 * Change every / interval_s / tty after init to taste. */
void vq_progress_init(vq_progress *p, FILE *out, const char *label, int64_t start_step, int64_t total);
/* `step` = steps completed. Prints if due (see above); returns 1 if it printed. */
int vq_progress_update(vq_progress *p, int64_t step, const char *const *names, const double *values, int n);
/* Ends a terminal line with '\n'. */
void vq_progress_finish(vq_progress *p);
/* The line itself (no '\r', no '\n') for `step` at time `now` (vq_time_now()
 * seconds); what update prints. Truncated to cap - 1 characters. */
void vq_progress_format(const vq_progress *p, char *buf, size_t cap, int64_t step, double now,
                        const char *const *names, const double *values, int n);

#endif
