/* fma_peak.c: the machine's measured peak single-precision GFLOP/s, for the "% of peak" column of
 * `make bench`. Each thread runs independent chains of fused multiply-adds on vector registers
 * (AVX-512: 16 floats, else AVX2+FMA: 8), enough chains to cover FMA latency x pipes (ACC = 16
 * chains; Zen 4/5 and Intel cores have 2 FMA pipes of latency 4, so 8 would do). An FMA is 2 FLOPs.
 * Not a benchmark of anything vqc does: it is the ceiling the others are measured against.
 *
 *     make build/bench/fma_peak          (-O3 -march=native -fopenmp, mk/bench.mk)
 *     build/bench/fma_peak [THREADS...]  default: 1 2; one JSON line per thread count:
 *     {"threads": 2, "gflops": 371.2, "isa": "avx512", "lanes": 16, "best_of": 5, "seconds": 0.41}
 *
 * Best of 5 repetitions of ITERS iterations per thread; threads run concurrently (OpenMP), and the
 * wall time of the slowest one counts.
 */
#include <immintrin.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ACC 16
#define ITERS 100000000L
#define REPS 5

#if defined(__AVX512F__)
typedef __m512 vec;
#define LANES 16
#define ISA "avx512"
#define VSET1(x) _mm512_set1_ps(x)
#define VFMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define VADD(a, b) _mm512_add_ps(a, b)
#define VSUM(a) _mm512_reduce_add_ps(a)
#elif defined(__AVX2__) && defined(__FMA__)
typedef __m256 vec;
#define LANES 8
#define ISA "avx2"
#define VSET1(x) _mm256_set1_ps(x)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VADD(a, b) _mm256_add_ps(a, b)
static float vsum256(__m256 a)
{
    float t[8];
    _mm256_storeu_ps(t, a);
    return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7];
}
#define VSUM(a) vsum256(a)
#else
#error "fma_peak needs AVX-512F or AVX2+FMA (compile with -march=native on such a machine)"
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

/* ACC independent chains acc[i] = acc[i] * m + a; m and a from the caller so nothing folds. */
static float fma_chains(long iters, float m0, float a0)
{
    vec acc[ACC];
    vec m = VSET1(m0), a = VSET1(a0);
    for (int i = 0; i < ACC; i++) acc[i] = VSET1((float)i * 1e-3f);
    for (long it = 0; it < iters; it++) {
#pragma GCC unroll 16
        for (int i = 0; i < ACC; i++) acc[i] = VFMA(acc[i], m, a);
    }
    vec s = acc[0];
    for (int i = 1; i < ACC; i++) s = VADD(s, acc[i]);
    return VSUM(s);
}

int main(int argc, char **argv)
{
    int counts[16], n = 0;
    for (int i = 1; i < argc && n < 16; i++) {
        counts[n] = atoi(argv[i]);
        if (counts[n] < 1) {
            fprintf(stderr, "fma_peak: '%s' is not a thread count (expected an integer >= 1)\n", argv[i]);
            return 2;
        }
        n++;
    }
    if (n == 0) { counts[0] = 1; counts[1] = 2; n = 2; }
    /* m slightly below 1 keeps values bounded (no overflow or denormals); argc keeps it opaque. */
    float m = 0.999999f - 1e-9f * (float)argc, a = 1e-6f;
    for (int k = 0; k < n; k++) {
        int t = counts[k];
        double best = 1e30;
        volatile float sink = 0;
        for (int r = 0; r < REPS; r++) {
            double t0 = now();
#pragma omp parallel num_threads(t)
            {
                float s = fma_chains(ITERS, m, a);
#pragma omp atomic
                sink += s;
            }
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        double flops = 2.0 * LANES * ACC * (double)ITERS * t;
        printf("{\"threads\": %d, \"gflops\": %.1f, \"isa\": \"%s\", \"lanes\": %d, \"best_of\": %d, "
               "\"seconds\": %.3f}\n", t, flops / best / 1e9, ISA, LANES, REPS, best);
        (void)sink;
    }
    return 0;
}
