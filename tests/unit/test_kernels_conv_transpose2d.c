/* test_kernels_conv_transpose2d.c: conv_transpose2d forward against a direct
 * scatter loop and PyTorch, gradients against finite differences, accumulation.
 * Legend: B batch, Ci, Co channels, H, W input, Ho, Wo output. */
#include "test_kernels_util.h"
#include "../fixtures/kernels/kernels_fixtures.h"

/* PyTorch's definition as a scatter: x[n,ci,iy,ix] * w[ci,co,ky,kx] lands on
 * y[n,co, iy*sh - ph + ky, ix*sw - pw + kx] when that is inside the output. */
static void naive_convt(float *y, const float *x, const float *w, const float *b,
                        const vq_conv_transpose2d_shape *s)
{
    size_t P = (size_t)s->Ho * s->Wo;
    for (int n = 0; n < s->B; n++)
        for (int co = 0; co < s->Co; co++)
            for (size_t p = 0; p < P; p++) y[((size_t)n * s->Co + co) * P + p] = s->bias ? b[co] : 0.0f;
    for (int n = 0; n < s->B; n++)
        for (int ci = 0; ci < s->Ci; ci++)
            for (int iy = 0; iy < s->H; iy++)
                for (int ix = 0; ix < s->W; ix++) {
                    float xv = x[(((size_t)n * s->Ci + ci) * s->H + iy) * s->W + ix];
                    for (int co = 0; co < s->Co; co++)
                        for (int ky = 0; ky < s->kh; ky++)
                            for (int kx = 0; kx < s->kw; kx++) {
                                int oy = iy * s->stride_h - s->pad_h + ky, ox = ix * s->stride_w - s->pad_w + kx;
                                if (oy < 0 || oy >= s->Ho || ox < 0 || ox >= s->Wo) continue;
                                y[(((size_t)n * s->Co + co) * s->Ho + oy) * s->Wo + ox] +=
                                    xv * w[((ci * s->Co + co) * s->kh + ky) * s->kw + kx];
                            }
                }
}

typedef struct case_ {
    vq_conv_transpose2d_shape s;
    float *x, *w, *b, *y, *r, *scratch;
    size_t nx, nw, ny;
} case_;

static void case_init(case_ *c, vq_conv_transpose2d_shape s, uint64_t seed)
{
    if (vq_conv_transpose2d_check(&s)) { print_error("%s\n", vq_last_error()); fail(); }
    vq_rng rng; vq_rng_seed(&rng, seed);
    c->s = s;
    c->nx = (size_t)s.B * s.Ci * s.H * s.W; c->nw = (size_t)s.Ci * s.Co * s.kh * s.kw;
    c->ny = (size_t)s.B * s.Co * s.Ho * s.Wo;
    c->x = kt_alloc(c->nx); c->w = kt_alloc(c->nw); c->b = kt_alloc(s.Co);
    c->y = kt_alloc(c->ny); c->r = kt_alloc(c->ny);
    c->scratch = kt_alloc(vq_conv_transpose2d_scratch_floats(&s));
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
    vq_conv_transpose2d_forward(c->y, c->x, c->w, c->b, &c->s, c->scratch);
    return kt_dot(c->r, c->y, c->ny);
}

/* {B, Ci, H, W, Co, kh, kw, sh, sw, ph, pw, oph, opw, Ho, Wo, bias} */
static const vq_conv_transpose2d_shape shapes[] = {
    {2, 3, 4, 3, 2, 3, 3, 2, 2, 1, 1, 1, 1, 8, 6, 1},   /* stride 2, padding 1, output_padding 1 */
    {2, 2, 3, 5, 3, 4, 4, 2, 2, 1, 1, 0, 0, 6, 10, 0},  /* vq-vae-2 upsampler: k4 s2 p1 */
    {1, 2, 3, 2, 2, 3, 2, 3, 2, 0, 1, 2, 1, 11, 3, 1},   /* non-square kernel and strides */
    {2, 3, 4, 4, 2, 1, 1, 1, 1, 0, 0, 0, 0, 4, 4, 1},   /* 1x1 */
};

static void test_forward_matches_naive(void **st)
{
    (void)st;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        case_ c; case_init(&c, shapes[t], 10 + t);
        float *want = kt_alloc(c.ny);
        naive_convt(want, c.x, c.w, c.b, &c.s);
        vq_conv_transpose2d_forward(c.y, c.x, c.w, c.b, &c.s, c.scratch);
        kt_assert_close("conv_transpose2d forward vs direct loop", c.y, want, c.ny, 1e-5);
        vq_free(want); case_free(&c);
    }
}

static void test_gradients_finite_difference(void **st)
{
    (void)st;
    for (size_t t = 0; t < sizeof shapes / sizeof shapes[0]; t++) {
        case_ c; case_init(&c, shapes[t], 20 + t);
        float *dx = kt_alloc(c.nx), *dw = kt_alloc(c.nw), *db = kt_alloc(c.s.Co);
        vq_conv_transpose2d_backward_data(dx, c.r, c.w, &c.s, c.scratch);
        vq_conv_transpose2d_backward_weight(dw, db, c.r, c.x, &c.s, c.scratch);
        kt_check_grad("conv_transpose2d dx", c.x, dx, c.nx, loss_fn, &c, 1e-2f, 1e-3, 1e-4);
        kt_check_grad("conv_transpose2d dw", c.w, dw, c.nw, loss_fn, &c, 1e-2f, 1e-3, 1e-4);
        if (c.s.bias) kt_check_grad("conv_transpose2d db", c.b, db, c.s.Co, loss_fn, &c, 1e-2f, 1e-3, 1e-4);
        vq_free(dx); vq_free(dw); vq_free(db); case_free(&c);
    }
}

static void test_backward_accumulates(void **st)
{
    (void)st;
    case_ c; case_init(&c, shapes[0], 30);
    float *dx1 = kt_alloc(c.nx), *dw1 = kt_alloc(c.nw), *db1 = kt_alloc(c.s.Co);
    float *dx2 = kt_alloc(c.nx), *dw2 = kt_alloc(c.nw), *db2 = kt_alloc(c.s.Co);
    vq_conv_transpose2d_backward_data(dx1, c.r, c.w, &c.s, c.scratch);
    vq_conv_transpose2d_backward_weight(dw1, db1, c.r, c.x, &c.s, c.scratch);
    for (int k = 0; k < 2; k++) {
        vq_conv_transpose2d_backward_data(dx2, c.r, c.w, &c.s, c.scratch);
        vq_conv_transpose2d_backward_weight(dw2, db2, c.r, c.x, &c.s, c.scratch);
    }
    kt_assert_doubled("conv_transpose2d dx", dx2, dx1, c.nx);
    kt_assert_doubled("conv_transpose2d dw", dw2, dw1, c.nw);
    kt_assert_doubled("conv_transpose2d db", db2, db1, c.s.Co);
    vq_free(dx1); vq_free(dw1); vq_free(db1); vq_free(dx2); vq_free(dw2); vq_free(db2); case_free(&c);
}

static void test_pytorch_fixture(void **st)
{
    (void)st;
    vq_conv_transpose2d_shape s = shapes[0];
    float x[2 * 3 * 4 * 3], w[3 * 2 * 9], b[2], y[2 * 2 * 8 * 6], g[2 * 2 * 8 * 6];
    float dx[2 * 3 * 4 * 3] = {0}, dw[3 * 2 * 9] = {0}, db[2] = {0};
    kt_fixture_input(x, sizeof x / 4, 0.1, 1.0); kt_fixture_input(w, sizeof w / 4, 0.2, 0.3);
    kt_fixture_input(b, 2, 0.3, 0.5); kt_fixture_input(g, sizeof g / 4, 0.4, 1.0);
    float *scratch = kt_alloc(vq_conv_transpose2d_scratch_floats(&s));
    vq_conv_transpose2d_forward(y, x, w, b, &s, scratch);
    vq_conv_transpose2d_backward_data(dx, g, w, &s, scratch);
    vq_conv_transpose2d_backward_weight(dw, db, g, x, &s, scratch);
    kt_assert_close("conv_transpose2d y vs torch", y, fx_convt_y, sizeof y / 4, 1e-5);
    kt_assert_close("conv_transpose2d dx vs torch", dx, fx_convt_dx, sizeof dx / 4, 1e-5);
    kt_assert_close("conv_transpose2d dw vs torch", dw, fx_convt_dw, sizeof dw / 4, 1e-5);
    kt_assert_close("conv_transpose2d db vs torch", db, fx_convt_db, 2, 1e-5);
    vq_free(scratch);
}

static void test_check_rejects_bad_shapes(void **st)
{
    (void)st;
    vq_conv_transpose2d_shape s = shapes[0];
    s.Ho = 7;
    assert_int_equal(vq_conv_transpose2d_check(&s), VQ_ERR_ARG);
    s = shapes[0]; s.out_pad_h = 2; s.Ho = 9;   /* output_padding must be < stride */
    assert_int_equal(vq_conv_transpose2d_check(&s), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "output_padding"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_naive),
        cmocka_unit_test(test_gradients_finite_difference),
        cmocka_unit_test(test_backward_accumulates),
        cmocka_unit_test(test_pytorch_fixture),
        cmocka_unit_test(test_check_rejects_bad_shapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
