/* kernels_model_bench.c: milliseconds per kernel call at the shapes of the two
 * models we tune for, and the per-model total weighted by how often each shape
 * occurs in one training step (forward + backward). Not part of `make test`.
 *
 *     make kernels-model-bench                  # builds, runs both models
 *     build/bench/kernels_model_bench [fmnist|f16|tiny32] [reps] [ab]
 *
 * Models: vqgan_fmnist at batch 32 (autoencoder convs of
 * generated/vqgan_fmnist/vqgan_fmnist.c, the 2-layer PatchGAN left out) and
 * vqgan_f16 at 256x256, batch 1 (ch 128, ch_mult 1,1,2,2,4, encoder + decoder
 * shapes). Threads come from OMP_NUM_THREADS; OpenBLAS threads are set by
 * vq_threads_set (runtime/threads.c) exactly as the driver does. Each entry is
 * the median of `reps` timed calls after one warm-up call.
 *
 * `ab`: every conv shape runs on both convolution paths, alternating call by
 * call (vq_conv_native_set(0) = im2col + OpenBLAS, 1 = vqc's AVX-512 kernels),
 * so both see the same machine load; one line per path and the ratio
 * blas ms / native ms per phase. The totals are the native path's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

#include "conv_common.h"
#include "kernels.h"
#include "threads.h"
#include "vq_common.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define MAXREP 64
static double median(double *t, int n) { qsort(t, n, sizeof *t, cmp_d); return t[n / 2]; }

/* k3 "same" conv, k3 stride-2 downsample (taming pads (0,1,0,1)), k1 */
static vq_conv2d_shape k3(int B, int ci, int co, int hw)
{
    vq_conv2d_shape s = {B, ci, hw, hw, co, 3, 3, 1, 1, 1, 1, 1, 1, hw, hw, 1};
    return s;
}
static vq_conv2d_shape k3s2(int B, int c, int hw)
{
    vq_conv2d_shape s = {B, c, hw, hw, c, 3, 3, 2, 2, 0, 1, 0, 1, hw / 2, hw / 2, 1};
    return s;
}
static vq_conv2d_shape k1(int B, int ci, int co, int hw)
{
    vq_conv2d_shape s = {B, ci, hw, hw, co, 1, 1, 1, 1, 0, 0, 0, 0, hw, hw, 1};
    return s;
}

/* k x k, stride st, symmetric padding pd (taming's PatchGAN) */
static vq_conv2d_shape kk(int B, int ci, int co, int hw, int k, int st, int pd, int bias)
{
    int ho = (hw + 2 * pd - k) / st + 1;
    vq_conv2d_shape s = {B, ci, hw, hw, co, k, k, st, st, pd, pd, pd, pd, ho, ho, bias};
    return s;
}

typedef struct { const char *name; vq_conv2d_shape s; int count; int bwd_data; } conv_case;
typedef struct { const char *name; int B, C, HW, count; } gn_case;

static float *falloc(size_t n, vq_rng *rng)
{
    float *p = vq_alloc((n + 16) * sizeof(float));
    if (!p) { fprintf(stderr, "%s\n", vq_last_error()); exit(1); }
    for (size_t i = 0; i < n; i++) p[i] = rng ? vq_rng_uniform(rng) - 0.5f : 0.0f;
    return p;
}

static int ab_mode;   /* `ab` given: compare both conv paths */

/* Runs conv shape s `reps` times (after one warm-up) and stores the median ms of
 * forward, backward data (when bwd_data) and backward weight in m[3]; when
 * ab_mode, path 0 and 1 alternate call by call and m[path][3] is filled for both. */
static void time_conv(const vq_conv2d_shape *sp, int bwd_data, int reps, double m[2][3])
{
    vq_conv2d_shape s = *sp;
    vq_rng rng; vq_rng_seed(&rng, 7);
    size_t nx = (size_t)s.B * s.Ci * s.H * s.W, ny = (size_t)s.B * s.Co * s.Ho * s.Wo;
    size_t nw = (size_t)s.Co * s.Ci * s.kh * s.kw;
    float *x = falloc(nx, &rng), *y = falloc(ny, NULL), *w = falloc(nw, &rng), *b = falloc(s.Co, &rng);
    float *dx = falloc(nx, NULL), *dw = falloc(nw, NULL), *db = falloc(s.Co, NULL);
    float *sc = falloc(vq_conv2d_scratch_floats(&s), NULL);
    double t[2][3][MAXREP];
    const int paths = ab_mode ? 2 : 1;
    for (int r = 0; r <= reps; r++)
        for (int p = 0; p < paths; p++) {
            if (ab_mode) vq_conv_native_set(p);
            double t0 = now();
            vq_conv2d_forward(y, x, w, b, &s, sc);
            double t1 = now();
            if (bwd_data) vq_conv2d_backward_data(dx, y, w, &s, sc);
            double t2 = now();
            vq_conv2d_backward_weight(dw, db, y, x, &s, sc);
            double t3 = now();
            if (r) { t[p][0][r - 1] = t1 - t0; t[p][1][r - 1] = t2 - t1; t[p][2][r - 1] = t3 - t2; }
        }
    if (ab_mode) vq_conv_native_set(-1);
    for (int p = 0; p < paths; p++)
        for (int k = 0; k < 3; k++) m[p][k] = median(t[p][k], reps) * 1e3;
    vq_free(x); vq_free(y); vq_free(w); vq_free(b); vq_free(dx); vq_free(dw); vq_free(db); vq_free(sc);
}

/* Returns weighted ms of one training step's worth of these convs. */
static double bench_conv(const conv_case *cs, int n, int reps, double tot[3])
{
    double sum = 0.0;
    printf("%-34s %5s %9s %9s %9s %9s  (GFLOP/s f/d/w)\n", "conv2d", "count", "fwd ms", "bwd-d ms", "bwd-w ms",
           "step ms");
    for (int i = 0; i < n; i++) {
        vq_conv2d_shape s = cs[i].s;
        if (vq_conv2d_check(&s)) { fprintf(stderr, "%s: %s\n", cs[i].name, vq_last_error()); exit(1); }
        double mm[2][3];
        time_conv(&s, cs[i].bwd_data, reps, mm);
        const double *m = mm[ab_mode ? 1 : 0];
        double flop = 2.0 * s.B * s.Co * s.Ci * s.kh * s.kw * (double)s.Ho * s.Wo;
        for (int k = 0; k < 3; k++) tot[k] += m[k] * cs[i].count;
        double step = (m[0] + m[1] + m[2]) * cs[i].count;
        sum += step;
        printf("%-34s %5d %9.3f %9.3f %9.3f %9.2f  (%.0f/%.0f/%.0f)\n", cs[i].name, cs[i].count, m[0], m[1], m[2],
               step, flop / m[0] * 1e-6, cs[i].bwd_data ? flop / m[1] * 1e-6 : 0.0, flop / m[2] * 1e-6);
        if (ab_mode) {
            const double *o = mm[0];
            printf("  %-32s %5s %9.3f %9.3f %9.3f %9.2f  (%.0f/%.0f/%.0f)  blas/native %.2f %.2f %.2f\n",
                   "(im2col + OpenBLAS)", "", o[0], o[1], o[2], (o[0] + o[1] + o[2]) * cs[i].count,
                   flop / o[0] * 1e-6, cs[i].bwd_data ? flop / o[1] * 1e-6 : 0.0, flop / o[2] * 1e-6,
                   o[0] / m[0], cs[i].bwd_data ? o[1] / m[1] : 0.0, o[2] / m[2]);
        }
    }
    return sum;
}

static double bench_gn(const gn_case *gs, int n, int reps, double tot[2])
{
    double sum = 0.0;
    printf("%-34s %5s %9s %9s %9s\n", "group_norm+swish (G=32)", "count", "fwd ms", "bwd ms", "step ms");
    for (int i = 0; i < n; i++) {
        vq_group_norm_shape s = {gs[i].B, gs[i].C, gs[i].HW, gs[i].HW, 32, 1e-6f, 1};
        vq_rng rng; vq_rng_seed(&rng, 3);
        size_t nx = (size_t)s.B * s.C * s.H * s.W;
        float *x = falloc(nx, &rng), *y = falloc(nx, NULL), *dx = falloc(nx, NULL), *g = falloc(s.C, &rng);
        float *be = falloc(s.C, &rng), *dg = falloc(s.C, NULL), *dbe = falloc(s.C, NULL);
        float *mean = falloc((size_t)s.B * s.G, NULL), *rstd = falloc((size_t)s.B * s.G, NULL);
        double t[2][MAXREP];
        for (int r = 0; r <= reps; r++) {
            double t0 = now();
            vq_group_norm_swish_forward(y, mean, rstd, x, g, be, &s);
            double t1 = now();
            vq_group_norm_swish_backward(dx, dg, dbe, y, x, mean, rstd, g, be, &s);
            double t2 = now();
            if (r) { t[0][r - 1] = t1 - t0; t[1][r - 1] = t2 - t1; }
        }
        double m0 = median(t[0], reps) * 1e3, m1 = median(t[1], reps) * 1e3, step = (m0 + m1) * gs[i].count;
        tot[0] += m0 * gs[i].count; tot[1] += m1 * gs[i].count;
        sum += step;
        printf("%-34s %5d %9.3f %9.3f %9.2f\n", gs[i].name, gs[i].count, m0, m1, step);
        vq_free(x); vq_free(y); vq_free(dx); vq_free(g); vq_free(be); vq_free(dg); vq_free(dbe);
        vq_free(mean); vq_free(rstd);
    }
    return sum;
}

static double bench_attn(int B, int C, int N, int count, int reps)
{
    vq_rng rng; vq_rng_seed(&rng, 5);
    size_t n = (size_t)B * C * N;
    float *q = falloc(n, &rng), *k = falloc(n, &rng), *v = falloc(n, &rng), *o = falloc(n, NULL);
    float *p = falloc((size_t)B * N * N, NULL), *dq = falloc(n, NULL), *dk = falloc(n, NULL), *dv = falloc(n, NULL);
    float *sc = falloc(vq_attention_scratch_floats(N), NULL);
    double t[2][MAXREP];
    for (int r = 0; r <= reps; r++) {
        double t0 = now();
        vq_attention_forward(o, p, q, k, v, B, C, N);
        double t1 = now();
        vq_attention_backward(dq, dk, dv, o, q, k, v, p, B, C, N, sc);
        double t2 = now();
        if (r) { t[0][r - 1] = t1 - t0; t[1][r - 1] = t2 - t1; }
    }
    double m0 = median(t[0], reps) * 1e3, m1 = median(t[1], reps) * 1e3;
    printf("%-34s %5d %9.3f %9.3f %9.2f\n", "attention core", count, m0, m1, (m0 + m1) * count);
    vq_free(q); vq_free(k); vq_free(v); vq_free(o); vq_free(p); vq_free(dq); vq_free(dk); vq_free(dv); vq_free(sc);
    return (m0 + m1) * count;
}

static void run_fmnist(int reps)
{
    const int B = 32;
    /* counts from generated/vqgan_fmnist/vqgan_fmnist.c (encoder + decoder) */
    conv_case cs[] = {
        {"conv_in 1->64 @32", k3(B, 1, 64, 32), 1, 0},
        {"k3 64->64 @32", k3(B, 64, 64, 32), 5, 1},
        {"down k3s2 64 @32", k3s2(B, 64, 32), 1, 1},
        {"k3 64->128 @16", k3(B, 64, 128, 16), 1, 1},
        {"k1 64->128 @16", k1(B, 64, 128, 16), 1, 1},
        {"k3 128->128 @16", k3(B, 128, 128, 16), 6, 1},
        {"down k3s2 128 @16", k3s2(B, 128, 16), 1, 1},
        {"k3 128->128 @8", k3(B, 128, 128, 8), 14, 1},
        {"k3 128->64 @8", k3(B, 128, 64, 8), 1, 1},
        {"k3 64->128 @8", k3(B, 64, 128, 8), 1, 1},
        {"k1 128->128 @8 (attention)", k1(B, 128, 128, 8), 20, 1},
        {"k1 64->64 @8 (quant convs)", k1(B, 64, 64, 8), 2, 1},
        {"k3 128->128 @32 (upsample conv)", k3(B, 128, 128, 32), 1, 1},
        {"k3 128->64 @32", k3(B, 128, 64, 32), 1, 1},
        {"k1 128->64 @32", k1(B, 128, 64, 32), 1, 1},
        {"conv_out k3 64->1 @32", k3(B, 64, 1, 32), 1, 1},
        /* the 2-layer PatchGAN (taming NLayerDiscriminator), once per call */
        {"disc k4s2 1->64 @32", kk(B, 1, 64, 32, 4, 2, 1, 1), 1, 0},
        {"disc k4s2 64->128 @16", kk(B, 64, 128, 16, 4, 2, 1, 0), 1, 1},
        {"disc k4s1 128->256 @8", kk(B, 128, 256, 8, 4, 1, 1, 0), 1, 1},
        {"disc k4s1 256->1 @7", kk(B, 256, 1, 7, 4, 1, 1, 1), 1, 1},
    };
    gn_case gs[] = {
        {"gn 64 @32", B, 64, 32, 6}, {"gn 64 @16", B, 64, 16, 1}, {"gn 128 @16", B, 128, 16, 5},
        {"gn 128 @8", B, 128, 8, 20}, {"gn 128 @32", B, 128, 32, 1},
    };
    double ct[3] = {0}, gt[2] = {0};
    printf("== vqgan_fmnist, batch %d, %d threads, OpenBLAS %d thread(s), core %s, median of %d ==\n", B,
           vq_threads_get(), openblas_get_num_threads(), vq_threads_openblas_coretype(), reps);
    double c = bench_conv(cs, (int)(sizeof cs / sizeof cs[0]), reps, ct);
    double g = bench_gn(gs, (int)(sizeof gs / sizeof gs[0]), reps, gt);
    double a = bench_attn(B, 128, 64, 5, reps);
    printf("TOTAL fmnist: conv %.1f ms (fwd %.1f, bwd-data %.1f, bwd-weight %.1f), group_norm %.1f ms "
           "(fwd %.1f, bwd %.1f), attention %.1f ms, sum %.1f ms\n",
           c, ct[0], ct[1], ct[2], g, gt[0], gt[1], a, c + g + a);
}

/* tiny@32 of `make bench` (scripts/bench/cases.json): vqgan_f16 with ch 32, ch_mult 1,2,2,
 * 1 res block, attention at 8, z 32, RGB 32x32, batch 32, PatchGAN ndf 64, 3 layers. Counts are
 * one autoencoder forward; the discriminator rows run once (the step runs D three times). */
static void run_tiny32(int reps)
{
    const int B = 32;
    conv_case cs[] = {
        {"conv_in 3->32 @32", k3(B, 3, 32, 32), 1, 0},
        {"k3 32->32 @32", k3(B, 32, 32, 32), 4, 1},
        {"down k3s2 32 @32", k3s2(B, 32, 32), 1, 1},
        {"k3 32->64 @16", k3(B, 32, 64, 16), 1, 1},
        {"k3 64->64 @16", k3(B, 64, 64, 16), 5, 1},
        {"down k3s2 64 @16", k3s2(B, 64, 16), 1, 1},
        {"k3 64->64 @8", k3(B, 64, 64, 8), 14, 1},
        {"k3 64->64 @32 (upsample conv)", k3(B, 64, 64, 32), 1, 1},
        {"k3 64->32 @32", k3(B, 64, 32, 32), 1, 1},
        {"k1 64->64 @8 (attention)", k1(B, 64, 64, 8), 20, 1},
        {"conv_out k3 32->3 @32", k3(B, 32, 3, 32), 1, 1},
        {"disc k4s2 3->64 @32", kk(B, 3, 64, 32, 4, 2, 1, 1), 1, 0},
        {"disc k4s2 64->128 @16", kk(B, 64, 128, 16, 4, 2, 1, 0), 1, 1},
        {"disc k4s2 128->256 @8", kk(B, 128, 256, 8, 4, 2, 1, 0), 1, 1},
        {"disc k4s1 256->512 @4", kk(B, 256, 512, 4, 4, 1, 1, 0), 1, 1},
        {"disc k4s1 512->1 @3", kk(B, 512, 1, 3, 4, 1, 1, 1), 1, 1},
    };
    double ct[3] = {0};
    printf("== tiny@32, batch %d, %d threads, OpenBLAS %d thread(s), core %s, median of %d ==\n", B,
           vq_threads_get(), openblas_get_num_threads(), vq_threads_openblas_coretype(), reps);
    double c = bench_conv(cs, (int)(sizeof cs / sizeof cs[0]), reps, ct);
    printf("TOTAL tiny32: conv %.1f ms (fwd %.1f, bwd-data %.1f, bwd-weight %.1f)\n", c, ct[0], ct[1], ct[2]);
}

static void run_f16(int reps)
{
    const int B = 1;
    conv_case cs[] = {
        {"conv_in 3->128 @256", k3(B, 3, 128, 256), 1, 0},
        {"k3 128->128 @256", k3(B, 128, 128, 256), 7, 1},
        {"down k3s2 128 @256", k3s2(B, 128, 256), 1, 1},
        {"k3 128->128 @128", k3(B, 128, 128, 128), 8, 1},
        {"k3 128->256 @64", k3(B, 128, 256, 64), 1, 1},
        {"k3 256->256 @64", k3(B, 256, 256, 64), 8, 1},
        {"k1 128->256 @64", k1(B, 128, 256, 64), 1, 1},
        {"k3 256->256 @32", k3(B, 256, 256, 32), 8, 1},
        {"k3 256->512 @16", k3(B, 256, 512, 16), 1, 1},
        {"k3 512->512 @16", k3(B, 512, 512, 16), 12, 1},
        {"k1 512->512 @16 (attn)", k1(B, 512, 512, 16), 28, 1},
    };
    gn_case gs[] = {
        {"gn 128 @256", B, 128, 256, 8}, {"gn 128 @128", B, 128, 128, 8}, {"gn 256 @64", B, 256, 64, 8},
        {"gn 256 @32", B, 256, 32, 8}, {"gn 512 @16", B, 512, 16, 16},
    };
    double ct[3] = {0}, gt[2] = {0};
    printf("== vqgan_f16 @256, batch %d, %d threads, OpenBLAS %d thread(s), core %s, median of %d ==\n", B,
           vq_threads_get(), openblas_get_num_threads(), vq_threads_openblas_coretype(), reps);
    double c = bench_conv(cs, (int)(sizeof cs / sizeof cs[0]), reps, ct);
    double g = bench_gn(gs, (int)(sizeof gs / sizeof gs[0]), reps, gt);
    double a = bench_attn(B, 512, 256, 7, reps);
    printf("TOTAL f16: conv %.1f ms (fwd %.1f, bwd-data %.1f, bwd-weight %.1f), group_norm %.1f ms "
           "(fwd %.1f, bwd %.1f), attention %.1f ms, sum %.1f ms\n",
           c, ct[0], ct[1], ct[2], g, gt[0], gt[1], a, c + g + a);
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "both";
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    if (reps < 1) reps = 1;
    if (reps > MAXREP) reps = MAXREP;
    ab_mode = argc > 3 && !strcmp(argv[3], "ab");
    vq_threads_set(0);
    if (!strcmp(which, "fmnist") || !strcmp(which, "both")) run_fmnist(reps);
    if (!strcmp(which, "f16") || !strcmp(which, "both")) run_f16(reps);
    if (!strcmp(which, "tiny32")) run_tiny32(reps);
    return 0;
}
