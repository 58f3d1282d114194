/* bench_gemm_coretype.c: sgemm throughput on the GEMM shapes of im2col
 * convolutions, to choose OPENBLAS_CORETYPE (read by OpenBLAS when it loads,
 * so each kernel is measured in its own process: scripts/bench-coretype.sh).
 * Not part of `make test`.
 *
 *   OPENBLAS_CORETYPE=Zen build/bench/bench_gemm_coretype [threads] [reps]
 *
 * Prints one line per shape: the core OpenBLAS uses, M N K, the best and
 * median GFLOP/s over `reps` timed runs (after one warm-up). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

typedef struct shape { const char *what; int M, N, K; int ta, tb; } shape;

/* Conv as GEMM: out (Cout, HW) = W (Cout, Cin*9) x col (Cin*9, HW). */
static const shape shapes[] = {
    {"fwd   Cout128 Cin128 64x64", 128, 64 * 64, 128 * 9, 0, 0},
    {"dW    Cout128 Cin128 64x64", 128, 128 * 9, 64 * 64, 0, 1},
    {"dcol  Cout128 Cin128 64x64", 128 * 9, 64 * 64, 128, 1, 0},
    {"fwd   Cout128 Cin128 32x32", 128, 32 * 32, 128 * 9, 0, 0},
    {"fwd   Cout256 Cin256 16x16", 256, 16 * 16, 256 * 9, 0, 0},
    {"fwd   Cout128 Cin3   64x64", 128, 64 * 64, 3 * 9, 0, 0},
    {"fwd   Cout64  Cin64  28x28", 64, 28 * 28, 64 * 9, 0, 0},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 1, reps = argc > 2 ? atoi(argv[2]) : 7;
    if (threads < 1 || reps < 1 || reps > 100) {
        fprintf(stderr, "usage: %s [threads >= 1] [reps 1..100]\n", argv[0]);
        return 2;
    }
    openblas_set_num_threads(threads);
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const shape *sh = &shapes[s];
        size_t na = (size_t)sh->M * sh->K, nb = (size_t)sh->K * sh->N, nc = (size_t)sh->M * sh->N;
        float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4);
        if (!A || !B || !C) return 1;
        for (size_t i = 0; i < na; i++) A[i] = (float)((i * 7919) % 1000) * 1e-3f - 0.5f;
        for (size_t i = 0; i < nb; i++) B[i] = (float)((i * 104729) % 1000) * 1e-3f - 0.5f;
        int lda = sh->ta ? sh->M : sh->K, ldb = sh->tb ? sh->K : sh->N;
        double t[100];
        for (int r = -1; r < reps; r++) {
            double t0 = now();
            cblas_sgemm(CblasRowMajor, sh->ta ? CblasTrans : CblasNoTrans, sh->tb ? CblasTrans : CblasNoTrans,
                        sh->M, sh->N, sh->K, 1.0f, A, lda, B, ldb, 0.0f, C, sh->N);
            if (r >= 0) t[r] = now() - t0;
        }
        qsort(t, reps, sizeof t[0], cmp);
        double flop = 2.0 * sh->M * sh->N * sh->K;
        printf("%-11s %-28s M=%-5d N=%-5d K=%-5d best %7.1f  median %7.1f GFLOP/s\n", openblas_get_corename(),
               sh->what, sh->M, sh->N, sh->K, flop / t[0] * 1e-9, flop / t[reps / 2] * 1e-9);
        free(A), free(B), free(C);
    }
    return 0;
}
