/* test_kernels_conv_wgrad.c: the AVX-512 conv2d weight gradient (conv_wgrad.c)
 * against direct loops in double, over shapes that hit its tails (Co past a
 * 32-channel panel, K past a 12-row block, pixels past a 16-column transpose),
 * its geometries (stride 2, k4 s2 / s1, 1x1 read in place, asymmetric padding,
 * bands of one large image, chunks of many small images), accumulation into a
 * non-zero dw, 1/2/3 threads giving bit-identical results, and agreement with
 * the im2col + OpenBLAS path. Skipped on a CPU without AVX-512F.
 * Legend: B batch, Ci, Co channels, H, W input, Ho, Wo output, K = Ci*kh*kw.
 */
#include "test_kernels_util.h"
#include "conv_common.h"
#include "conv_wgrad.h"

#include <omp.h>

/* {B, Ci, H, W, Co, kh, kw, sh, sw, pt, pb, pl, pr, Ho, Wo, bias} */
static const vq_conv2d_shape shapes[] = {
    {3, 5, 9, 7, 37, 3, 3, 1, 1, 1, 1, 1, 1, 9, 7, 1},          /* k3 same; Co 37 = 32 + 5, 15 pairs = 3 blocks + 3 */
    {2, 16, 8, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1, 8, 8, 1},         /* two full panels */
    {4, 8, 10, 10, 24, 3, 3, 2, 2, 0, 1, 0, 1, 5, 5, 1},        /* taming's stride-2 downsample */
    {3, 6, 16, 12, 40, 4, 4, 2, 2, 1, 1, 1, 1, 8, 6, 0},        /* PatchGAN k4 s2 p1 */
    {5, 7, 4, 4, 48, 4, 4, 1, 1, 1, 1, 1, 1, 3, 3, 0},          /* PatchGAN k4 s1 p1 on tiny images */
    {3, 20, 6, 5, 33, 1, 1, 1, 1, 0, 0, 0, 0, 6, 5, 1},         /* 1x1, x read in place */
    {2, 13, 7, 9, 17, 1, 1, 2, 2, 0, 0, 0, 0, 4, 5, 1},         /* 1x1 stride 2, in place */
    {2, 3, 7, 6, 16, 2, 3, 1, 2, 0, 1, 2, 0, 7, 3, 1},          /* asymmetric padding, 2x3, stride (1, 2) */
    {2, 4, 9, 8, 20, 3, 3, 1, 1, 0, 0, 0, 0, 7, 6, 1},          /* 3x3 unpadded, in place */
    {2, 5, 8, 8, 24, 2, 2, 2, 2, 0, 0, 0, 0, 4, 4, 1},          /* k2 s2 */
    {4, 1, 12, 12, 16, 3, 3, 1, 1, 1, 1, 1, 1, 12, 12, 1},      /* Ci = 1: one block of 3 pairs */
    {2, 3, 11, 10, 3, 3, 3, 1, 1, 1, 1, 1, 1, 11, 10, 1},       /* Co = 3: one 16-wide panel, 3 used */
    {1, 8, 80, 70, 40, 3, 3, 1, 1, 1, 1, 1, 1, 80, 70, 1},      /* B = 1, 5600 pixels: bands of rows */
    {1000, 6, 3, 3, 32, 3, 3, 1, 1, 1, 1, 1, 1, 3, 3, 1},       /* many 3x3 images: several chunks */
};
#define NSHAPES (sizeof shapes / sizeof shapes[0])

typedef struct wcase {
    vq_conv2d_shape s;
    float *x, *dy, *dw0, *scratch;   /* x (B, Ci, H, W), dy (B, Co, Ho, Wo), dw0 (Co, K) the start of dw */
    double *want, *absum, *wantb;    /* dw0 + sum, sum of |terms| per entry (Co, K); db (Co) */
    size_t nx, ny, nw;
} wcase;

/* want[co][ci,ky,kx] = dw0 + sum over n, oy, ox of dy * x at the tap (in double), absum the same of |dy * x|. */
static void wcase_init(wcase *c, vq_conv2d_shape s, uint64_t seed)
{
    if (vq_conv2d_check(&s)) { print_error("%s\n", vq_last_error()); fail(); }
    vq_rng rng; vq_rng_seed(&rng, seed);
    c->s = s;
    c->nx = (size_t)s.B * s.Ci * s.H * s.W; c->ny = (size_t)s.B * s.Co * s.Ho * s.Wo;
    c->nw = (size_t)s.Co * s.Ci * s.kh * s.kw;
    c->x = kt_alloc(c->nx); c->dy = kt_alloc(c->ny); c->dw0 = kt_alloc(c->nw);
    c->scratch = kt_alloc(vq_conv2d_scratch_floats(&s));
    kt_fill(c->x, c->nx, &rng, -1, 1); kt_fill(c->dy, c->ny, &rng, -1, 1); kt_fill(c->dw0, c->nw, &rng, -2, 2);
    c->want = calloc(c->nw, sizeof(double)); c->absum = calloc(c->nw, sizeof(double));
    c->wantb = calloc(s.Co, sizeof(double));
    assert_non_null(c->want); assert_non_null(c->absum); assert_non_null(c->wantb);
    for (size_t i = 0; i < c->nw; i++) c->want[i] = c->dw0[i];
    for (int n = 0; n < s.B; n++)
        for (int co = 0; co < s.Co; co++)
            for (int oy = 0; oy < s.Ho; oy++)
                for (int ox = 0; ox < s.Wo; ox++) {
                    double g = c->dy[(((size_t)n * s.Co + co) * s.Ho + oy) * s.Wo + ox];
                    c->wantb[co] += g;
                    for (int ci = 0; ci < s.Ci; ci++)
                        for (int ky = 0; ky < s.kh; ky++)
                            for (int kx = 0; kx < s.kw; kx++) {
                                int iy = oy * s.stride_h - s.pad_top + ky, ix = ox * s.stride_w - s.pad_left + kx;
                                if (iy < 0 || iy >= s.H || ix < 0 || ix >= s.W) continue;
                                size_t wi = ((size_t)(co * s.Ci + ci) * s.kh + ky) * s.kw + kx;
                                double t = g * c->x[(((size_t)n * s.Ci + ci) * s.H + iy) * s.W + ix];
                                c->want[wi] += t;
                                c->absum[wi] += fabs(t);
                            }
                }
}

static void wcase_free(wcase *c)
{
    vq_free(c->x); vq_free(c->dy); vq_free(c->dw0); vq_free(c->scratch);
    free(c->want); free(c->absum); free(c->wantb);
}

/* Every entry within float rounding of the sum: 2e-6 of its sum of |terms| (one
 * wrong or missing tap is ~|x dy|, far above that for these sizes). */
static void assert_dw(const char *what, const wcase *c, const float *dw)
{
    for (size_t i = 0; i < c->nw; i++) {
        double e = fabs(dw[i] - c->want[i]), tol = 2e-6 * (c->absum[i] + fabs(c->dw0[i])) + 1e-6;
        if (!(e <= tol)) {
            print_error("%s: shape B%d Ci%d %dx%d Co%d k%dx%d s%d,%d: dw[%zu] = %.7g, want %.7g (|diff| %.3g > %.3g)\n",
                        what, c->s.B, c->s.Ci, c->s.H, c->s.W, c->s.Co, c->s.kh, c->s.kw, c->s.stride_h,
                        c->s.stride_w, i, (double)dw[i], c->want[i], e, tol);
            fail();
        }
    }
}

/* Runs `native` (1: vq_conv_wgrad itself, 0: the dispatch with the native path
 * forced) with `threads` OpenMP threads and OpenBLAS single-threaded into a
 * copy of dw0; dw (nw) gets the result, db (Co, from 0) when non-NULL. */
static void run_wgrad(float *dw, float *db, const wcase *c, int direct, int threads)
{
    int keep_omp = omp_get_max_threads(), keep_blas = openblas_get_num_threads();
    omp_set_num_threads(threads);
    openblas_set_num_threads(1);
    memcpy(dw, c->dw0, sizeof(float) * c->nw);
    if (db) memset(db, 0, sizeof(float) * c->s.Co);
    if (direct) vq_conv_wgrad(dw, c->dy, c->x, &c->s, c->scratch);
    else vq_conv2d_backward_weight(dw, db, c->dy, c->x, &c->s, c->scratch);
    omp_set_num_threads(keep_omp);
    openblas_set_num_threads(keep_blas);
}

static int have_native(void)
{
    vq_conv_native_set(1);
    int on = vq_conv_native();
    vq_conv_native_set(-1);
    return on;
}

/* The kernel itself (whatever vq_conv_wgrad_fits says) vs the direct loops,
 * with 1, 2 and 3 threads giving the same bits, and the same bits twice. */
static void test_kernel_matches_direct_loops(void **st)
{
    (void)st;
    if (!have_native()) skip();
    for (size_t t = 0; t < NSHAPES; t++) {
        wcase c; wcase_init(&c, shapes[t], 100 + t);
        float *dw1 = kt_alloc(c.nw), *dwn = kt_alloc(c.nw);
        run_wgrad(dw1, NULL, &c, 1, 1);
        assert_dw("vq_conv_wgrad, 1 thread", &c, dw1);
        for (int th = 2; th <= 3; th++) {
            run_wgrad(dwn, NULL, &c, 1, th);
            if (memcmp(dw1, dwn, sizeof(float) * c.nw)) {
                print_error("shape %zu: %d threads differ from 1 thread\n", t, th);
                fail();
            }
        }
        run_wgrad(dwn, NULL, &c, 1, 2);
        assert_memory_equal(dw1, dwn, sizeof(float) * c.nw);   /* deterministic run to run */
        vq_free(dw1); vq_free(dwn); wcase_free(&c);
    }
}

/* Through vq_conv2d_backward_weight: native (dw, db) vs the direct loops, and
 * the im2col + OpenBLAS path agrees with it (both accumulate into dw0). */
static void test_dispatch_native_and_blas_agree(void **st)
{
    (void)st;
    if (!have_native()) skip();
    for (size_t t = 0; t < NSHAPES; t++) {
        wcase c; wcase_init(&c, shapes[t], 200 + t);
        float *dwn = kt_alloc(c.nw), *dwb = kt_alloc(c.nw), *dbn = kt_alloc(c.s.Co), *dbb = kt_alloc(c.s.Co);
        vq_conv_native_set(1);
        run_wgrad(dwn, dbn, &c, 0, 2);
        vq_conv_native_set(0);
        run_wgrad(dwb, dbb, &c, 0, 2);
        vq_conv_native_set(-1);
        assert_dw("conv2d backward weight, native", &c, dwn);
        assert_dw("conv2d backward weight, blas", &c, dwb);
        for (int co = 0; co < c.s.Co && c.s.bias; co++) {   /* no bias: db is not touched */
            double tol = 1e-5 * (1.0 + fabs(c.wantb[co])) * sqrt((double)c.s.B * c.s.Ho * c.s.Wo);
            assert_true(fabs(dbn[co] - c.wantb[co]) <= tol);
            assert_true(fabs(dbb[co] - c.wantb[co]) <= tol);
        }
        vq_free(dwn); vq_free(dwb); vq_free(dbn); vq_free(dbb); wcase_free(&c);
    }
}

/* The slot this kernel asks for fits in conv2d's scratch, and stays bounded
 * (a chunk is at most about 4 MiB of packed data) on a large layer. */
static void test_scratch_bounded(void **st)
{
    (void)st;
    vq_conv2d_shape s = {4, 128, 256, 256, 128, 3, 3, 1, 1, 1, 1, 1, 1, 256, 256, 1};
    assert_int_equal(vq_conv2d_check(&s), 0);
    size_t slot = vq_conv_wgrad_slot_floats(&s);
    assert_true(slot <= ((size_t)1 << 20) + 16);
    assert_true((size_t)vq_kernel_slots() * slot <= vq_conv2d_scratch_floats(&s));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_matches_direct_loops),
        cmocka_unit_test(test_dispatch_native_and_blas_agree),
        cmocka_unit_test(test_scratch_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
