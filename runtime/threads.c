/* threads.c: OpenMP + OpenBLAS thread counts and the OpenBLAS core type (see threads.h). */
#include "threads.h"

#include "vq_common.h"

#include <cblas.h>
#include <errno.h>
#include <omp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

int vq_threads_default(void)
{
    const char *env = getenv("OMP_NUM_THREADS");
    if (env && *env) {
        char *end;
        long n = strtol(env, &end, 10);
        /* "4" or "4,2" (nested levels: the first is ours) */
        if (end != env && (*end == '\0' || *end == ',') && n > 0 && n <= 4096) return (int)n;
    }
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

int vq_threads_set(int n)
{
    if (n <= 0) n = vq_threads_default();
    omp_set_num_threads(n);
    /* One pool: the kernels split work over OpenMP threads and call sgemm
     * single-threaded from each (runtime/kernels/conv_common.h). Two pools
     * handing the cores back and forth cost ~28% of a training step on 2 cores. */
    openblas_set_num_threads(1);
    return n;
}

int vq_threads_get(void) { return omp_get_max_threads(); }

const char *vq_threads_openblas_coretype(void)
{
    const char *name = openblas_get_corename();
    return name ? name : "unknown";
}

/* OpenBLAS's AVX-512 sgemm kernels; Cooperlake and SapphireRapids reuse SkylakeX's. */
static int is_avx512_core(const char *name)
{
    return !strcasecmp(name, "SkylakeX") || !strcasecmp(name, "Cooperlake") || !strcasecmp(name, "SapphireRapids");
}

const char *vq_threads_recommended_coretype(void)
{
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
        return NULL;
    const char *now = vq_threads_openblas_coretype();
    return is_avx512_core(now) ? now : "SkylakeX";
}

int vq_maybe_reexec_with_coretype(char **argv, const char *want)
{
    if (!argv || !argv[0]) return VQ_OK;
    if (getenv("VQ_CORETYPE_REEXEC")) return VQ_OK;   /* never loop */
    /* OMP_WAIT_POLICY is left to the user: with one thread pool (vq_threads_set) libgomp's
     * default (spin briefly, then sleep) is 10% faster than passive on tiny@32's training
     * step (266 vs 293 ms, 2 threads) and still yields a shared core (docs/runtime-kernels.md). */
    int want_core = want && *want && !getenv("VQ_KEEP_OPENBLAS_CORETYPE") &&
                    strcasecmp(vq_threads_openblas_coretype(), want) != 0;
    if (!want_core) return VQ_OK;
    /* OPENBLAS_CORETYPE is read once, when OpenBLAS loads: only a fresh process image picks it up. */
    const char *old = getenv("OPENBLAS_CORETYPE");
    char *saved = old ? strdup(old) : NULL;
    if (setenv("OPENBLAS_CORETYPE", want, 1) || setenv("VQ_CORETYPE_REEXEC", "1", 1)) {
        free(saved);
        return vq_fail(VQ_ERR_IO, "cannot set the OpenBLAS environment: %s", strerror(errno));
    }
    execv("/proc/self/exe", argv);
    int err = errno; /* only reached when exec failed */
    if (saved) setenv("OPENBLAS_CORETYPE", saved, 1);
    else unsetenv("OPENBLAS_CORETYPE");
    unsetenv("VQ_CORETYPE_REEXEC");
    free(saved);
    return vq_fail(VQ_ERR_IO, "re-executing %s with its OpenBLAS/OpenMP environment: %s", argv[0], strerror(err));
}
