/* test_kernels_conv2d.c: conv2d forward against a direct loop and PyTorch,
 * every gradient against finite differences, accumulation, banding, checks.
 * Legend: B batch, Ci, Co channels, H, W input, Ho, Wo output. */
#include "test_kernels_util.h"
#include "conv_common.h"

#include <omp.h>
#include "../fixtures/kernels/kernels_fixtures.h"

/* Direct definition: y[n,co,oy,ox] = b[co] + sum w[co,ci,ky,kx] x[n,ci,oy*sh-pt+ky, ox*sw-pl+kx]. */
static void naive_conv(float *y, const float *x, const float *w, const float *b, const vq_conv2d_shape *s)
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

typedef struct case_ {
    vq_conv2d_shape s;
    float *x, *w, *b, *y, *r, *scratch;
    size_t nx, nw, ny;
} case_;

static void case_init(case_ *c, vq_conv2d_shape s, uint64_t seed)
{
    if (vq_conv2d_check(&s)) { print_error("%s\n", vq_last_error()); fail(); }
    vq_rng rng; vq_rng_seed(&rng, seed);
    c->s = s;
    c->nx = (size_t)s.B * s.Ci * s.H * s.W; c->nw = (size_t)s.Co * s.Ci * s.kh * s.kw;
    c->ny = (size_t)s.B * s.Co * s.Ho * s.Wo;
    c->x = kt_alloc(c->nx); c->w = kt_alloc(c->nw); c->b = kt_alloc(s.Co);
    c->y = kt_alloc(c->ny); c->r = kt_alloc(c->ny);
    c->scratch = kt_alloc(vq_conv2d_scratch_floats(&s));
    kt_fill(c->x, c->nx, &rng, -1, 1); kt_fill(c->w, c->nw, &rng, -0.5f, 0.5f);
    kt_fill(c->b, s.Co, &rng, -0.5f, 0.5f); kt_fill(c->r, c->ny, &rng, -1, 1);
}

static void case_free(case_ *c)
{
    vq_free(c->x); vq_free(c->w); vq_free(c->b); vq_free(c->y); vq_free(c->r); vq_free(c->scratch);
}

static double loss_fn(void *ctx)
{
    case_ *c = ctx;
    vq_conv2d_forward(c->y, c->x, c->w, c->b, &c->s, c->scratch);
    return kt_dot(c->r, c->y, c->ny);
}

/* Shapes: asymmetric padding + stride 2 on a non-square input; 1x1 fast path;
 * taming's discriminator conv (k4 s2 p1, no bias); a wide-stride 1xk kernel. */
static const vq_conv2d_shape shapes[] = {
    {2, 3, 7, 6, 4, 3, 3, 2, 2, 1, 2, 0, 1, 4, 3, 1},
    {2, 5, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 4, 3, 1},
    {2, 3, 8, 6, 2, 4, 4, 2, 2, 1, 1, 1, 1, 4, 3, 0},
    {1, 2, 5, 9, 3, 2, 3, 1, 3, 0, 1, 2, 0, 5, 3, 1},
};

static void test_forward_matches_naive(void **st)
{
    (void)st;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        case_ c; case_init(&c, shapes[t], 10 + t);
        float *want = kt_alloc(c.ny);
        naive_conv(want, c.x, c.w, c.b, &c.s);
        vq_conv2d_forward(c.y, c.x, c.w, c.b, &c.s, c.scratch);
        kt_assert_close("conv2d forward vs direct loop", c.y, want, c.ny, 1e-5);
        vq_free(want); case_free(&c);
    }
}

static void test_gradients_finite_difference(void **st)
{
    (void)st;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        case_ c; case_init(&c, shapes[t], 20 + t);
        float *dx = kt_alloc(c.nx), *dw = kt_alloc(c.nw), *db = kt_alloc(c.s.Co);
        vq_conv2d_backward_data(dx, c.r, c.w, &c.s, c.scratch);
        vq_conv2d_backward_weight(dw, db, c.r, c.x, &c.s, c.scratch);
        kt_check_grad("conv2d dx", c.x, dx, c.nx, loss_fn, &c, 1e-2f, 1e-3, 1e-4);
        kt_check_grad("conv2d dw", c.w, dw, c.nw, loss_fn, &c, 1e-2f, 1e-3, 1e-4);
        if (c.s.bias) kt_check_grad("conv2d db", c.b, db, c.s.Co, loss_fn, &c, 1e-2f, 1e-3, 1e-4);
        vq_free(dx); vq_free(dw); vq_free(db); case_free(&c);
    }
}

static void test_backward_accumulates(void **st)
{
    (void)st;
    case_ c; case_init(&c, shapes[0], 30);
    float *dx1 = kt_alloc(c.nx), *dw1 = kt_alloc(c.nw), *db1 = kt_alloc(c.s.Co);
    float *dx2 = kt_alloc(c.nx), *dw2 = kt_alloc(c.nw), *db2 = kt_alloc(c.s.Co);
    vq_conv2d_backward_data(dx1, c.r, c.w, &c.s, c.scratch);
    vq_conv2d_backward_weight(dw1, db1, c.r, c.x, &c.s, c.scratch);
    for (int k = 0; k < 2; k++) {
        vq_conv2d_backward_data(dx2, c.r, c.w, &c.s, c.scratch);
        vq_conv2d_backward_weight(dw2, db2, c.r, c.x, &c.s, c.scratch);
    }
    kt_assert_doubled("conv2d dx", dx2, dx1, c.nx);
    kt_assert_doubled("conv2d dw", dw2, dw1, c.nw);
    kt_assert_doubled("conv2d db", db2, db1, c.s.Co);
    vq_free(dx1); vq_free(dw1); vq_free(db1); vq_free(dx2); vq_free(dw2); vq_free(db2); case_free(&c);
}

/* A layer wide enough that the column buffer is split into bands of rows
 * (K*Wo = 576*64 floats per row, 28 rows per band, 3 bands with a remainder).
 * Forward vs the direct loop; backward by the adjoint identities
 * <conv(x), r> = <x, dx(r)> and <conv_w(x), r> = <w, dw(r)> (bias off). */
static void test_banded_large_layer(void **st)
{
    (void)st;
    vq_conv2d_shape s = {1, 64, 64, 64, 8, 3, 3, 1, 1, 1, 1, 1, 1, 64, 64, 0};
    case_ c; case_init(&c, s, 40);
    /* per thread slot: one band's columns (+ the flipped kernel for backward data) */
    assert_true(vq_conv2d_scratch_floats(&s) <= (size_t)vq_kernel_slots() * (((size_t)1 << 20) + 64 * 9 * 64) +
                                                 (size_t)8 * 64 * 9);
    assert_true(vq_conv2d_scratch_floats(&s) < (size_t)vq_kernel_slots() * 64 * 9 * 64 * 64);   /* really banded */
    float *want = kt_alloc(c.ny);
    naive_conv(want, c.x, c.w, c.b, &s);
    vq_conv2d_forward(c.y, c.x, c.w, c.b, &s, c.scratch);
    kt_assert_close("banded conv2d forward", c.y, want, c.ny, 1e-4);
    double lhs = kt_dot(c.r, c.y, c.ny);
    float *dx = kt_alloc(c.nx), *dw = kt_alloc(c.nw);
    vq_conv2d_backward_data(dx, c.r, c.w, &s, c.scratch);
    vq_conv2d_backward_weight(dw, NULL, c.r, c.x, &s, c.scratch);
    double rx = kt_dot(c.x, dx, c.nx), rw = kt_dot(c.w, dw, c.nw);
    assert_true(fabs(lhs - rx) <= 1e-4 * fabs(lhs) + 1e-2);
    assert_true(fabs(lhs - rw) <= 1e-4 * fabs(lhs) + 1e-2);
    vq_free(want); vq_free(dx); vq_free(dw); case_free(&c);
}

/* dx, dw, db by the direct definitions (the adjoints of naive_conv), in double. */
static void naive_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                           const vq_conv2d_shape *s)
{
    for (int n = 0; n < s->B; n++)
        for (int co = 0; co < s->Co; co++)
            for (int oy = 0; oy < s->Ho; oy++)
                for (int ox = 0; ox < s->Wo; ox++) {
                    float g = dy[(((size_t)n * s->Co + co) * s->Ho + oy) * s->Wo + ox];
                    if (db) db[co] += g;
                    for (int ci = 0; ci < s->Ci; ci++)
                        for (int ky = 0; ky < s->kh; ky++)
                            for (int kx = 0; kx < s->kw; kx++) {
                                int iy = oy * s->stride_h - s->pad_top + ky, ix = ox * s->stride_w - s->pad_left + kx;
                                if (iy < 0 || iy >= s->H || ix < 0 || ix >= s->W) continue;
                                size_t wi = ((size_t)(co * s->Ci + ci) * s->kh + ky) * s->kw + kx;
                                size_t xi = (((size_t)n * s->Ci + ci) * s->H + iy) * s->W + ix;
                                dx[xi] += w[wi] * g;
                                dw[wi] += x[xi] * g;
                            }
                }
}

/* Runs forward, backward data and backward weight of shape s with the kernels'
 * own threads (OpenBLAS single-threaded, OpenMP `threads`) and compares all four
 * results with the direct loops. */
static void check_threaded(vq_conv2d_shape s, int threads, uint64_t seed)
{
    case_ c; case_init(&c, s, seed);
    int keep_omp = omp_get_max_threads(), keep_blas = openblas_get_num_threads();
    omp_set_num_threads(threads);
    openblas_set_num_threads(1);
    float *want = kt_alloc(c.ny), *dx = kt_alloc(c.nx), *dw = kt_alloc(c.nw), *db = kt_alloc(s.Co);
    float *wdx = kt_alloc(c.nx), *wdw = kt_alloc(c.nw), *wdb = kt_alloc(s.Co);
    naive_conv(want, c.x, c.w, c.b, &c.s);
    naive_backward(wdx, wdw, wdb, c.r, c.x, c.w, &c.s);
    /* backward accumulates: start from 1 and add 1 to the expectation */
    for (size_t i = 0; i < c.nx; i++) { dx[i] = 1.0f; wdx[i] += 1.0f; }
    for (size_t i = 0; i < c.nw; i++) { dw[i] = 1.0f; wdw[i] += 1.0f; }
    vq_conv2d_forward(c.y, c.x, c.w, c.b, &c.s, c.scratch);
    vq_conv2d_backward_data(dx, c.r, c.w, &c.s, c.scratch);
    vq_conv2d_backward_weight(dw, db, c.r, c.x, &c.s, c.scratch);
    omp_set_num_threads(keep_omp);
    openblas_set_num_threads(keep_blas);
    kt_assert_close("threaded conv2d y", c.y, want, c.ny, 1e-4);
    kt_assert_close("threaded conv2d dx", dx, wdx, c.nx, 1e-4);
    kt_assert_close("threaded conv2d dw", dw, wdw, c.nw, 1e-4);
    if (s.bias) kt_assert_close("threaded conv2d db", db, wdb, s.Co, 1e-4);
    vq_free(want); vq_free(dx); vq_free(dw); vq_free(db); vq_free(wdx); vq_free(wdw); vq_free(wdb);
    case_free(&c);
}

/* The kernels' own threading (conv2d.c): multi-image tiles (small images, odd
 * batch), bands of one image (B = 1, more threads than images), 1x1 with and
 * without side-by-side images, stride 2 (col2im split over channel blocks),
 * asymmetric padding, Co = 1 and Ci = 1 (dw blocks over output channels),
 * stride 1 with Co > Ci and Wo != W (backward data by col2im, not correlation),
 * 1, 2 and 3 threads (3 > the 2 cores of CI machines: still correct). */
static void test_threaded_paths_match_direct_loops(void **st)
{
    (void)st;
    /* {B, Ci, H, W, Co, kh, kw, sh, sw, pt, pb, pl, pr, Ho, Wo, bias} */
    static const vq_conv2d_shape ts[] = {
        {7, 5, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 8, 8, 1},       /* several images per tile, odd batch */
        {1, 4, 19, 11, 3, 3, 3, 1, 1, 1, 1, 1, 1, 19, 11, 1},   /* B = 1: bands */
        {3, 6, 5, 5, 4, 1, 1, 1, 1, 0, 0, 0, 0, 5, 5, 1},       /* 1x1, images side by side */
        {1, 3, 9, 7, 5, 1, 1, 1, 1, 0, 0, 0, 0, 9, 7, 0},       /* 1x1 in place, bands */
        {5, 4, 9, 8, 3, 3, 3, 2, 2, 0, 1, 0, 1, 4, 4, 1},       /* stride 2, taming's downsample padding */
        {1, 5, 10, 9, 2, 4, 4, 2, 2, 1, 1, 1, 1, 5, 4, 0},      /* stride 2, B = 1: channel blocks */
        {2, 3, 6, 7, 4, 3, 2, 1, 1, 2, 0, 0, 1, 6, 7, 1},       /* asymmetric, non-square kernel */
        {4, 6, 8, 8, 1, 3, 3, 1, 1, 1, 1, 1, 1, 8, 8, 1},       /* Co = 1 (conv_out) */
        {3, 1, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 8, 8, 1},       /* Ci = 1 (conv_in) */
        {3, 4, 8, 8, 6, 4, 4, 1, 1, 1, 1, 1, 1, 7, 7, 0},       /* PatchGAN k4 s1: stride 1 through col2im */
        {9, 16, 4, 4, 32, 4, 4, 1, 1, 1, 1, 1, 1, 3, 3, 0},     /* PatchGAN tail 4x4 -> 3x3: col2im, images side by side */
        {5, 24, 3, 3, 1, 4, 4, 1, 1, 1, 1, 1, 1, 2, 2, 1},      /* PatchGAN logits conv (Co = 1): direct loops */
        {3, 5, 9, 8, 1, 3, 3, 2, 2, 0, 1, 0, 1, 4, 4, 0},       /* Co = 1, stride 2, asymmetric padding */
        {2, 3, 5, 9, 1, 2, 3, 1, 3, 0, 1, 2, 0, 5, 3, 1},       /* Co = 1, wide stride, left padding */
    };
    for (size_t t = 0; t < sizeof ts / sizeof ts[0]; t++)
        for (int th = 1; th <= 3; th++) check_threaded(ts[t], th, 100 + 10 * t + th);
}

/* vq_conv2d_backward_data_set overwrites dx (garbage and NaN before the call
 * must not leak in) with what the direct loops give, on every backward-data path
 * (correlation, col2im per band, col2im of images side by side) and on both
 * convolution paths (vqc's AVX-512 kernels where the CPU has them, OpenBLAS). */
static void test_backward_data_set_overwrites(void **st)
{
    (void)st;
    /* {B, Ci, H, W, Co, kh, kw, sh, sw, pt, pb, pl, pr, Ho, Wo, bias} */
    static const vq_conv2d_shape ts[] = {
        {3, 16, 9, 8, 12, 3, 3, 1, 1, 1, 1, 1, 1, 9, 8, 0},     /* stride 1: correlation */
        {2, 4, 9, 8, 3, 3, 3, 2, 2, 0, 1, 0, 1, 4, 4, 1},       /* stride 2: col2im per band */
        {9, 16, 4, 4, 32, 4, 4, 1, 1, 1, 1, 1, 1, 3, 3, 0},     /* PatchGAN tail: images side by side */
    };
    for (size_t t = 0; t < sizeof ts / sizeof ts[0]; t++)
        for (int native = 0; native <= 1; native++) {
            vq_conv_native_set(native);
            case_ c; case_init(&c, ts[t], 700 + t);
            float *dx = kt_alloc(c.nx), *want = kt_alloc(c.nx), *dw = kt_alloc(c.nw);
            naive_backward(want, dw, NULL, c.r, c.x, c.w, &c.s);
            for (size_t i = 0; i < c.nx; i++) dx[i] = i % 7 ? 1e30f : NAN;
            vq_conv2d_backward_data_set(dx, c.r, c.w, &c.s, c.scratch);
            kt_assert_close("conv2d dx (set)", dx, want, c.nx, 1e-4);
            vq_free(dx); vq_free(want); vq_free(dw); case_free(&c);
        }
    vq_conv_native_set(-1);
}

/* A batch large enough that tiles hold many images and the thread count does
 * not divide the tile count; serial OpenBLAS-threaded path vs our threads. */
static void test_threaded_matches_serial_path(void **st)
{
    (void)st;
    vq_conv2d_shape s = {33, 16, 8, 8, 24, 3, 3, 1, 1, 1, 1, 1, 1, 8, 8, 1};
    check_threaded(s, 2, 900);
    case_ c; case_init(&c, s, 901);
    float *y1 = kt_alloc(c.ny), *dx1 = kt_alloc(c.nx), *dw1 = kt_alloc(c.nw);
    float *dx2 = kt_alloc(c.nx), *dw2 = kt_alloc(c.nw);
    int keep_omp = omp_get_max_threads(), keep_blas = openblas_get_num_threads();
    omp_set_num_threads(1); openblas_set_num_threads(2);          /* serial tiles, threaded sgemm */
    vq_conv2d_forward(y1, c.x, c.w, c.b, &s, c.scratch);
    vq_conv2d_backward_data(dx1, c.r, c.w, &s, c.scratch);
    vq_conv2d_backward_weight(dw1, NULL, c.r, c.x, &s, c.scratch);
    omp_set_num_threads(2); openblas_set_num_threads(1);          /* our threads */
    vq_conv2d_forward(c.y, c.x, c.w, c.b, &s, c.scratch);
    vq_conv2d_backward_data(dx2, c.r, c.w, &s, c.scratch);
    vq_conv2d_backward_weight(dw2, NULL, c.r, c.x, &s, c.scratch);
    omp_set_num_threads(keep_omp); openblas_set_num_threads(keep_blas);
    kt_assert_close("serial vs threaded y", c.y, y1, c.ny, 1e-5);
    kt_assert_close("serial vs threaded dx", dx2, dx1, c.nx, 1e-5);
    kt_assert_close("serial vs threaded dw", dw2, dw1, c.nw, 1e-4);   /* sums of ~2000 terms near 20 */
    vq_free(y1); vq_free(dx1); vq_free(dw1); vq_free(dx2); vq_free(dw2); case_free(&c);
}

static void test_pytorch_fixture(void **st)
{
    (void)st;
    vq_conv2d_shape s = {2, 3, 7, 6, 4, 3, 3, 2, 2, 1, 2, 0, 1, 4, 3, 1};
    assert_int_equal(vq_conv2d_check(&s), 0);
    float x[2 * 3 * 7 * 6], w[4 * 3 * 9], b[4], y[2 * 4 * 12], g[2 * 4 * 12];
    float dx[2 * 3 * 7 * 6] = {0}, dw[4 * 3 * 9] = {0}, db[4] = {0};
    kt_fixture_input(x, sizeof x / 4, 0.1, 1.0); kt_fixture_input(w, sizeof w / 4, 0.2, 0.3);
    kt_fixture_input(b, 4, 0.3, 0.5); kt_fixture_input(g, sizeof g / 4, 0.4, 1.0);
    float *scratch = kt_alloc(vq_conv2d_scratch_floats(&s));
    vq_conv2d_forward(y, x, w, b, &s, scratch);
    vq_conv2d_backward_data(dx, g, w, &s, scratch);
    vq_conv2d_backward_weight(dw, db, g, x, &s, scratch);
    kt_assert_close("conv2d y vs torch", y, fx_conv2d_y, sizeof y / 4, 1e-5);
    kt_assert_close("conv2d dx vs torch", dx, fx_conv2d_dx, sizeof dx / 4, 1e-5);
    kt_assert_close("conv2d dw vs torch", dw, fx_conv2d_dw, sizeof dw / 4, 1e-5);
    kt_assert_close("conv2d db vs torch", db, fx_conv2d_db, 4, 1e-5);
    vq_free(scratch);
}

static void test_check_rejects_bad_shapes(void **st)
{
    (void)st;
    vq_conv2d_shape s = shapes[0];
    s.Ho = 5;
    assert_int_equal(vq_conv2d_check(&s), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "conv2d"));
    s = shapes[0]; s.pad_left = -1;
    assert_int_equal(vq_conv2d_check(&s), VQ_ERR_ARG);
    s = shapes[0]; s.stride_w = 0;
    assert_int_equal(vq_conv2d_check(&s), VQ_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_naive),
        cmocka_unit_test(test_gradients_finite_difference),
        cmocka_unit_test(test_backward_accumulates),
        cmocka_unit_test(test_banded_large_layer),
        cmocka_unit_test(test_threaded_paths_match_direct_loops),
        cmocka_unit_test(test_backward_data_set_overwrites),
        cmocka_unit_test(test_threaded_matches_serial_path),
        cmocka_unit_test(test_pytorch_fixture),
        cmocka_unit_test(test_check_rejects_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
