/* timing.h: the clock and memory readings benchmarks and the progress bar use. */
#ifndef VQ_TIMING_H
#define VQ_TIMING_H

/* Seconds on the monotonic clock (CLOCK_MONOTONIC): only differences mean
 * anything; never jumps with the wall clock. */
double vq_time_now(void);
/* Peak resident set size of this process so far, in MiB (getrusage ru_maxrss,
 * which Linux reports in KiB). 0 if unavailable. */
double vq_peak_rss_mib(void);

#endif
