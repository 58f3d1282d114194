/* test_kernels_conv_gemm.c: the native implicit-GEMM correlation (conv_gemm.c)
 * against direct loops in double, for conv2d forward and backward data, on
 * both convolution paths (vq_conv_native_set 1 and 0) and 1, 2, 3 threads;
 * and bitwise equality of the native kernel across thread counts and runs.
 * Skipped (passes) on a CPU without AVX-512F.
 * Legend: B batch, Ci, Co channels, H, W input, Ho, Wo output. MR x NR = 8 x 48
 * is the kernel's tile and 256 its reduction block, so the shapes below put
 * tails in M (channels not a multiple of 8), in N (B*Ho*Wo not a multiple of 48)
 * and in the reduction (Ci*kh*kw above 256, not a multiple of it). */
#include "test_kernels_util.h"
#include "conv_common.h"
#include "conv_gemm.h"

#include <omp.h>

/* y[n,co,oy,ox] = b[co] + sum w[co,ci,ky,kx] x[n,ci,oy*sh-pt+ky, ox*sw-pl+kx] (double). */
static void naive_forward(float *y, const float *x, const float *w, const float *b, const vq_conv2d_shape *s)
{
    for (int n = 0; n < s->B; n++)
        for (int co = 0; co < s->Co; co++)
            for (int oy = 0; oy < s->Ho; oy++)
                for (int ox = 0; ox < s->Wo; ox++) {
                    double acc = s->bias ? b[co] : 0.0;
                    for (int ci = 0; ci < s->Ci; ci++)
                        for (int ky = 0; ky < s->kh; ky++)
                            for (int kx = 0; kx < s->kw; kx++) {
                                int iy = oy * s->stride_h - s->pad_top + ky, ix = ox * s->stride_w - s->pad_left + kx;
                                if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) continue;
                                acc += (double)w[((co * s->Ci + ci) * s->kh + ky) * s->kw + kx] *
                                       x[(((size_t)n * s->Ci + ci) * s->H + iy) * s->W + ix];
                            }
                    y[(((size_t)n * s->Co + co) * s->Ho + oy) * s->Wo + ox] = (float)acc;
                }
}

/* dx += the adjoint of naive_forward applied to dy (bias off), summed in double per dx element. */
static void naive_backward_data(float *dx, const float *dy, const float *w, const vq_conv2d_shape *s)
{
    size_t nx = (size_t)s->B * s->Ci * s->H * s->W;
    double *acc = calloc(nx, sizeof(double));
    assert_non_null(acc);
    for (int n = 0; n < s->B; n++)
        for (int co = 0; co < s->Co; co++)
            for (int oy = 0; oy < s->Ho; oy++)
                for (int ox = 0; ox < s->Wo; ox++) {
                    double g = dy[(((size_t)n * s->Co + co) * s->Ho + oy) * s->Wo + ox];
                    for (int ci = 0; ci < s->Ci; ci++)
                        for (int ky = 0; ky < s->kh; ky++)
                            for (int kx = 0; kx < s->kw; kx++) {
                                int iy = oy * s->stride_h - s->pad_top + ky, ix = ox * s->stride_w - s->pad_left + kx;
                                if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) continue;
                                acc[(((size_t)n * s->Ci + ci) * s->H + iy) * s->W + ix] +=
                                    (double)w[((co * s->Ci + ci) * s->kh + ky) * s->kw + kx] * g;
                            }
                }
    for (size_t i = 0; i < nx; i++) dx[i] += (float)acc[i];
    free(acc);
}

typedef struct case_ {
    vq_conv2d_shape s;
    float *x, *w, *b, *dy, *scratch;
    size_t nx, nw, ny;
} case_;

static void case_init(case_ *c, vq_conv2d_shape s, uint64_t seed)
{
    if (vq_conv2d_check(&s)) { print_error("%s\n", vq_last_error()); fail(); }
    vq_rng rng; vq_rng_seed(&rng, seed);
    c->s = s;
    c->nx = (size_t)s.B * s.Ci * s.H * s.W; c->nw = (size_t)s.Co * s.Ci * s.kh * s.kw;
    c->ny = (size_t)s.B * s.Co * s.Ho * s.Wo;
    c->x = kt_alloc(c->nx); c->w = kt_alloc(c->nw); c->b = kt_alloc(s.Co); c->dy = kt_alloc(c->ny);
    c->scratch = kt_alloc(vq_conv2d_scratch_floats(&s));
    kt_fill(c->x, c->nx, &rng, -1, 1); kt_fill(c->w, c->nw, &rng, -0.5f, 0.5f);
    kt_fill(c->b, s.Co, &rng, -0.5f, 0.5f); kt_fill(c->dy, c->ny, &rng, -1, 1);
}

static void case_free(case_ *c)
{
    vq_free(c->x); vq_free(c->w); vq_free(c->b); vq_free(c->dy); vq_free(c->scratch);
}

/* {B, Ci, H, W, Co, kh, kw, sh, sw, pt, pb, pl, pr, Ho, Wo, bias} */
static const vq_conv2d_shape shapes[] = {
    {3, 16, 8, 8, 24, 3, 3, 1, 1, 1, 1, 1, 1, 8, 8, 1},          /* small images, panels cross images */
    {5, 13, 4, 4, 11, 3, 3, 1, 1, 1, 1, 1, 1, 4, 4, 1},          /* P = 16; M = 11, 13: row tails */
    {7, 9, 3, 3, 10, 3, 3, 1, 1, 1, 1, 1, 1, 3, 3, 0},           /* P = 9 */
    {2, 40, 12, 13, 9, 3, 3, 1, 1, 1, 1, 1, 1, 12, 13, 1},       /* Kc = 360: two reduction blocks */
    {1, 70, 21, 19, 17, 3, 3, 1, 1, 1, 1, 1, 1, 21, 19, 1},      /* B = 1, Kc = 630: three blocks, ragged */
    {1, 8, 40, 37, 8, 3, 3, 1, 1, 1, 1, 1, 1, 40, 37, 1},        /* B = 1, large-ish image, runs across rows */
    {2, 8, 9, 7, 16, 3, 3, 2, 2, 0, 1, 0, 1, 4, 3, 1},           /* stride 2, taming's downsample padding */
    {3, 12, 17, 17, 8, 3, 3, 2, 2, 0, 1, 0, 1, 8, 8, 0},         /* stride 2, odd input */
    {2, 9, 16, 16, 12, 4, 4, 2, 2, 1, 1, 1, 1, 8, 8, 1},         /* PatchGAN k4 s2 */
    {3, 16, 8, 8, 24, 4, 4, 1, 1, 1, 1, 1, 1, 7, 7, 0},          /* PatchGAN k4 s1 */
    {9, 32, 4, 4, 40, 4, 4, 1, 1, 1, 1, 1, 1, 3, 3, 0},          /* PatchGAN tail 4x4 -> 3x3 */
    {4, 24, 7, 9, 20, 1, 1, 1, 1, 0, 0, 0, 0, 7, 9, 1},          /* 1x1 */
    {2, 10, 6, 7, 9, 3, 2, 1, 1, 2, 0, 0, 1, 6, 7, 1},           /* asymmetric padding, 3x2 kernel */
    {2, 11, 5, 9, 14, 2, 3, 1, 3, 0, 1, 2, 0, 5, 3, 1},          /* stride 3 (gather), left padding */
    {2, 3, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 16, 16, 1},       /* conv_in, Ci = 3 */
    {2, 32, 10, 10, 3, 3, 3, 1, 1, 1, 1, 1, 1, 10, 10, 1},       /* conv_out, Co = 3 */
};

/* Forward and backward data of shape s on path `native` with `threads` threads
 * (OpenBLAS single-threaded) against the direct loops; backward data adds into
 * dx = 1 (accumulation). */
static void check_paths(vq_conv2d_shape s, int native, int threads, uint64_t seed)
{
    case_ c; case_init(&c, s, seed);
    int keep_omp = omp_get_max_threads(), keep_blas = openblas_get_num_threads();
    omp_set_num_threads(threads);
    openblas_set_num_threads(1);
    vq_conv_native_set(native);
    float *y = kt_alloc(c.ny), *want = kt_alloc(c.ny), *dx = kt_alloc(c.nx), *wdx = kt_alloc(c.nx);
    naive_forward(want, c.x, c.w, c.b, &s);
    for (size_t i = 0; i < c.nx; i++) dx[i] = wdx[i] = 1.0f;
    naive_backward_data(wdx, c.dy, c.w, &s);
    for (size_t i = 0; i < c.ny; i++) y[i] = 1e30f;   /* forward must overwrite every element */
    vq_conv2d_forward(y, c.x, c.w, c.b, &s, c.scratch);
    vq_conv2d_backward_data(dx, c.dy, c.w, &s, c.scratch);
    vq_conv_native_set(-1);
    omp_set_num_threads(keep_omp);
    openblas_set_num_threads(keep_blas);
    kt_assert_close(native ? "native conv2d y" : "blas conv2d y", y, want, c.ny, 1e-4);
    kt_assert_close(native ? "native conv2d dx" : "blas conv2d dx", dx, wdx, c.nx, 1e-4);
    vq_free(y); vq_free(want); vq_free(dx); vq_free(wdx); case_free(&c);
}

static void test_paths_match_direct_loops(void **st)
{
    (void)st;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++)
        for (int native = 0; native <= 1; native++)
            for (int th = 1; th <= 3; th++) check_paths(shapes[t], native, th, 200 + 10 * t + th);
}

/* The two paths agree with each other on a model-sized layer (64 -> 64 at 16x16,
 * batch 6: Kc = 576, three reduction blocks, 32 column panels). */
static void test_native_matches_blas(void **st)
{
    (void)st;
    vq_conv2d_shape s = {6, 64, 16, 16, 64, 3, 3, 1, 1, 1, 1, 1, 1, 16, 16, 1};
    case_ c; case_init(&c, s, 77);
    float *y0 = kt_alloc(c.ny), *y1 = kt_alloc(c.ny), *dx0 = kt_alloc(c.nx), *dx1 = kt_alloc(c.nx);
    vq_conv_native_set(0);
    vq_conv2d_forward(y0, c.x, c.w, c.b, &s, c.scratch);
    vq_conv2d_backward_data(dx0, c.dy, c.w, &s, c.scratch);
    vq_conv_native_set(1);
    vq_conv2d_forward(y1, c.x, c.w, c.b, &s, c.scratch);
    vq_conv2d_backward_data(dx1, c.dy, c.w, &s, c.scratch);
    vq_conv_native_set(-1);
    /* sums of 576 terms up to ~15 in size, added in different orders */
    kt_assert_close("native vs blas y", y1, y0, c.ny, 1e-4);
    kt_assert_close("native vs blas dx", dx1, dx0, c.nx, 1e-4);
    vq_free(y0); vq_free(y1); vq_free(dx0); vq_free(dx1); case_free(&c);
}

/* vq_conv_gemm_correlate called directly (whatever the dispatch rule picks):
 * against the direct loop, with accumulate, and bitwise the same for 1, 2, 3
 * threads and from run to run (each output is summed by one thread in a fixed
 * order). Scratch from vq_conv_gemm_after_slots with no slots. */
static void check_direct(vq_conv2d_shape s, uint64_t seed)
{
    case_ c; case_init(&c, s, seed);
    vq_col_geom g = {s.Ci, s.H, s.W, s.kh, s.kw, s.stride_h, s.stride_w, s.pad_top, s.pad_left, s.Ho, s.Wo};
    float *sc = kt_alloc(vq_conv_gemm_after_slots(&s, 0, 0));
    float *want = kt_alloc(c.ny), *y[3];
    naive_forward(want, c.x, c.w, c.b, &s);
    int keep_omp = omp_get_max_threads();
    for (int th = 1; th <= 3; th++) {
        omp_set_num_threads(th);
        y[th - 1] = kt_alloc(c.ny);
        for (size_t i = 0; i < c.ny; i++) y[th - 1][i] = 0.25f;
        vq_conv_gemm_correlate(y[th - 1], c.x, c.w, s.bias ? c.b : NULL, s.Co, &g, s.B, 1, sc, 0);
        for (size_t i = 0; i < c.ny; i++) y[th - 1][i] -= 0.25f;
    }
    omp_set_num_threads(keep_omp);
    if (!s.bias) kt_assert_close("vq_conv_gemm_correlate accumulate", y[0], want, c.ny, 1e-4);
    float *y2 = kt_alloc(c.ny);
    vq_conv_gemm_correlate(y2, c.x, c.w, s.bias ? c.b : NULL, s.Co, &g, s.B, 0, sc, 0);
    kt_assert_close("vq_conv_gemm_correlate", y2, want, c.ny, 1e-4);
    assert_memory_equal(y[1], y[0], c.ny * sizeof(float));
    assert_memory_equal(y[2], y[0], c.ny * sizeof(float));
    float *y3 = kt_alloc(c.ny);
    vq_conv_gemm_correlate(y3, c.x, c.w, s.bias ? c.b : NULL, s.Co, &g, s.B, 0, sc, 0);
    assert_memory_equal(y3, y2, c.ny * sizeof(float));
    for (int i = 0; i < 3; i++) vq_free(y[i]);
    vq_free(y2); vq_free(y3); vq_free(want); vq_free(sc); case_free(&c);
}

static void test_direct_threads_bitwise(void **st)
{
    (void)st;
    if (!__builtin_cpu_supports("avx512f")) skip();
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        vq_conv2d_shape s = shapes[t];
        check_direct(s, 500 + t);
        s.bias = !s.bias;
        if (vq_conv2d_check(&s) == 0) check_direct(s, 600 + t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths_match_direct_loops),
        cmocka_unit_test(test_native_matches_blas),
        cmocka_unit_test(test_direct_threads_bitwise),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
