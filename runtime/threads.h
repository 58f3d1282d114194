/* threads.h: one place that sets the thread count for OpenMP and OpenBLAS
 * together, and the OpenBLAS kernel (core type) choice.
 *
 * Why: OpenBLAS (pthread build) keeps its own pool; if it and OpenMP each take
 * every core, BLAS calls and OpenMP loops oversubscribe, and even at equal
 * counts the two pools hand the cores back and forth (sched_yield, futex
 * wake-ups: ~28% of a training step on 2 cores). vq_threads_set therefore
 * gives OpenMP n threads and OpenBLAS one: the kernels split their work over
 * OpenMP threads and each calls sgemm single-threaded (docs/runtime-kernels.md).
 * The driver calls it once at start-up.
 *
 * Core type: OpenBLAS picks its kernels from OPENBLAS_CORETYPE when the library
 * loads, so a process can only change it by re-executing itself with the
 * variable set. Measured on this machine (AMD EPYC family 26, AVX-512; see
 * docs/runtime-optim.md and scripts/bench-coretype.sh): the AVX-512 kernels
 * (SkylakeX / Cooperlake, what OpenBLAS auto-selects here) run conv-shaped
 * sgemm about 1.6x faster than Zen / Haswell (AVX2); the environment of our
 * machines sets OPENBLAS_CORETYPE=Haswell, which forfeits that.
 *
 *     int main(int argc, char **argv) {
 *         vq_maybe_reexec_with_coretype(argv, vq_threads_recommended_coretype());
 *         vq_threads_set(0);   // OMP_NUM_THREADS, else the CPUs we may run on
 *         ...
 */
#ifndef VQ_THREADS_H
#define VQ_THREADS_H

/* OMP_NUM_THREADS (its first entry) when it is a positive integer, else the
 * number of CPUs in this process's affinity mask (what nproc prints), >= 1. */
int vq_threads_default(void);
/* Sets OpenMP's thread count to n (n <= 0: the default) and OpenBLAS's to 1.
 * Returns the count applied. */
int vq_threads_set(int n);
/* OpenMP's current maximum (what the next parallel region gets). */
int vq_threads_get(void);

/* The kernel OpenBLAS is using, e.g. "Cooperlake", "Haswell" (openblas_get_corename). */
const char *vq_threads_openblas_coretype(void);
/* On a CPU with AVX-512 F/BW/DQ/VL: the AVX-512 kernel in use if OpenBLAS
 * already uses one (SkylakeX, Cooperlake, SapphireRapids: same sgemm), else
 * "SkylakeX" (the fastest sgemm kernel measured here). Without AVX-512: NULL
 * (leave OpenBLAS's own choice). */
const char *vq_threads_recommended_coretype(void);

/* If `want` is non-NULL and OpenBLAS is not already using it, sets
 * OPENBLAS_CORETYPE=want and re-executes this program (/proc/self/exe) with
 * the same argv, so it never returns in that case. Returns 0 without doing
 * anything when want is NULL, OpenBLAS already uses it (case-insensitive),
 * VQ_KEEP_OPENBLAS_CORETYPE is set (the user's choice wins), or this process
 * is already the re-executed one (VQ_CORETYPE_REEXEC is set; OpenBLAS may
 * refuse a kernel the CPU lacks, so we never loop). Returns VQ_ERR_IO if
 * exec fails, with the environment restored. Call it first thing in main,
 * before threads start or files open. argv: main's, NULL-terminated.
 * OMP_WAIT_POLICY is not touched (it used to be set to passive while OpenBLAS
 * kept its own pool; with one pool the default is faster). */
int vq_maybe_reexec_with_coretype(char **argv, const char *want);

#endif
