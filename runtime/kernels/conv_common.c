/* conv_common.c: kernel thread count, the split sgemm, bias fill and bias
 * gradient (see conv_common.h). */
#include "conv_common.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

int vq_kernel_slots(void)
{
    static int slots;   /* set once; a benign race (every thread computes the same value) */
    int s = __atomic_load_n(&slots, __ATOMIC_RELAXED);
    if (s) return s;
    s = omp_get_num_procs();
    if (s < 1) s = 1;
    if (s > 64) s = 64;
    __atomic_store_n(&slots, s, __ATOMIC_RELAXED);
    return s;
}

/* The native kernels need AVX-512F (they are compiled with target attributes,
 * the library itself for baseline x86-64). */
static int native_cpu(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

static int native_forced = -1;   /* -1: default; 0 / 1: vq_conv_native_set */

static int native_default(void)
{
    static int cached = -1;   /* benign race: every thread computes the same value */
    int c = __atomic_load_n(&cached, __ATOMIC_RELAXED);
    if (c >= 0) return c;
    const char *env = getenv("VQC_CONV");
    c = native_cpu() && !(env && !strcmp(env, "blas"));
    __atomic_store_n(&cached, c, __ATOMIC_RELAXED);
    return c;
}

int vq_conv_native(void)
{
    int f = __atomic_load_n(&native_forced, __ATOMIC_RELAXED);
    if (f >= 0) return f && native_cpu();
    return native_default();
}

void vq_conv_native_set(int on) { __atomic_store_n(&native_forced, on < 0 ? -1 : !!on, __ATOMIC_RELAXED); }

int vq_kernel_threads(void)
{
    if (omp_in_parallel() || openblas_get_num_threads() > 1) return 1;
    int n = omp_get_max_threads(), s = vq_kernel_slots();
    return n < s ? n : s;
}

void vq_sgemm_par(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    int nt = vq_kernel_threads();
    if (nt <= 1 || (double)M * N * K < 4e6 || (M < 32 && N < 32)) {
        cblas_sgemm(CblasRowMajor, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int split_n = N >= M;
    const int len = split_n ? N : M;
    /* blocks of a multiple of 16 (the AVX-512 kernel's width), one per thread */
    int blk = (len + nt - 1) / nt;
    blk = (blk + 15) / 16 * 16;
    const int nb = (len + blk - 1) / blk;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int i = 0; i < nb; i++) {
        int o = i * blk, n = len - o < blk ? len - o : blk;
        if (split_n)   /* columns o.. of op(B) and C */
            cblas_sgemm(CblasRowMajor, ta, tb, M, n, K, alpha, A, lda,
                        tb == CblasNoTrans ? B + o : B + (size_t)o * ldb, ldb, beta, C + o, ldc);
        else           /* rows o.. of op(A) and C */
            cblas_sgemm(CblasRowMajor, ta, tb, n, N, K, alpha,
                        ta == CblasNoTrans ? A + (size_t)o * lda : A + o, lda, B, ldb, beta,
                        C + (size_t)o * ldc, ldc);
    }
}

void vq_fill_bias(float *y, const float *b, int B, int C, size_t P)
{
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * C * P > 32768 && !omp_in_parallel())
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            float *yc = y + ((size_t)n * C + c) * P;
            if (!b) { memset(yc, 0, sizeof(float) * P); continue; }
            float v = b[c];
            for (size_t p = 0; p < P; p++) yc[p] = v;
        }
}

double vq_sum_floats(const float *a, size_t n)
{
    /* blocks of 256: 16 float lanes of 16 adds each, folded into double per block */
    double s = 0.0;
    size_t i = 0;
    for (; i + 256 <= n; i += 256) {
        float lane[16] = {0};
        for (int j = 0; j < 256; j += 16)
            for (int l = 0; l < 16; l++) lane[l] += a[i + j + l];
        for (int l = 0; l < 16; l++) s += lane[l];
    }
    for (; i < n; i++) s += a[i];
    return s;
}

void vq_bias_backward(float *db, const float *dy, int B, int C, size_t P)
{
#pragma omp parallel for schedule(static) if ((size_t)B * C * P > 32768 && !omp_in_parallel())
    for (int c = 0; c < C; c++) {
        double acc = 0.0;
        for (int n = 0; n < B; n++) acc += vq_sum_floats(dy + ((size_t)n * C + c) * P, P);
        db[c] += (float)acc;
    }
}
