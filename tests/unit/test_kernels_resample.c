/* test_kernels_resample.c: nearest upsampling, average pooling, padding and
 * channel concatenation: forward against hand-written expectations, backward
 * against finite differences, accumulation. Legend: B, C, H, W as usual. */
#include "test_kernels_util.h"

typedef struct ctx {
    int op;   /* 0 upsample, 1 avg_pool, 2 pad, 3 concat (input a), 4 concat (input b) */
    float *x, *x2, *y, *r;
    size_t nx, nx2, ny;
} ctx;

enum { B = 2, C = 3, H = 5, W = 4 };
static const vq_pad_shape pad_s = {B, C, H, W, 1, 2, 0, 3, 0.5f};

static void fwd(ctx *c)
{
    switch (c->op) {
    case 0: vq_upsample_nearest_forward(c->y, c->x, B, C, H, W, 3); break;
    case 1: vq_avg_pool_forward(c->y, c->x, B, C, H, W, 2, 2, 2, 2); break;
    case 2: vq_pad_forward(c->y, c->x, &pad_s); break;
    default: {
        const float *xs[2] = {c->x, c->x2};
        int Cs[2] = {C, 2};
        vq_concat_channels_forward(c->y, xs, Cs, 2, B, (size_t)H * W);
    }
    }
}

static double loss_fn(void *p) { ctx *c = p; fwd(c); return kt_dot(c->r, c->y, c->ny); }

static void init(ctx *c, int op)
{
    vq_rng rng; vq_rng_seed(&rng, 7 + op);
    size_t ny[] = {(size_t)B * C * H * 3 * W * 3, (size_t)B * C * 2 * 2,
                   (size_t)B * C * (H + 3) * (W + 3), (size_t)B * (C + 2) * H * W, (size_t)B * (C + 2) * H * W};
    c->op = op; c->nx = (size_t)B * C * H * W; c->nx2 = (size_t)B * 2 * H * W; c->ny = ny[op];
    c->x = kt_alloc(c->nx); c->x2 = kt_alloc(c->nx2); c->y = kt_alloc(c->ny); c->r = kt_alloc(c->ny);
    kt_fill(c->x, c->nx, &rng, -1, 1); kt_fill(c->x2, c->nx2, &rng, -1, 1); kt_fill(c->r, c->ny, &rng, -1, 1);
}

static void fin(ctx *c) { vq_free(c->x); vq_free(c->x2); vq_free(c->y); vq_free(c->r); }

static void bwd(ctx *c, float *dx, float *dx2)
{
    switch (c->op) {
    case 0: vq_upsample_nearest_backward(dx, c->r, B, C, H, W, 3); break;
    case 1: vq_avg_pool_backward(dx, c->r, B, C, H, W, 2, 2, 2, 2); break;
    case 2: vq_pad_backward(dx, c->r, &pad_s); break;
    default: {
        float *dxs[2] = {dx, dx2};
        int Cs[2] = {C, 2};
        vq_concat_channels_backward(dxs, c->r, Cs, 2, B, (size_t)H * W);
    }
    }
}

static void test_forward_values(void **st)
{
    (void)st;
    ctx c;
    for (int op = 0; op < 4; op++) {
        init(&c, op); fwd(&c);
        for (int n = 0; n < B; n++)
            for (int ch = 0; ch < C; ch++) {
                const float *xp = c.x + ((size_t)n * C + ch) * H * W;
                if (op == 0)
                    for (int oy = 0; oy < 3 * H; oy++)
                        for (int ox = 0; ox < 3 * W; ox++)
                            assert_true(c.y[(((size_t)n * C + ch) * 3 * H + oy) * 3 * W + ox] == xp[(oy / 3) * W + ox / 3]);
                if (op == 1)   /* kernel 2, stride 2 on 5x4: rows 0-3 only (floor) */
                    for (int oy = 0; oy < 2; oy++)
                        for (int ox = 0; ox < 2; ox++) {
                            double m = (xp[2 * oy * W + 2 * ox] + xp[2 * oy * W + 2 * ox + 1] +
                                        xp[(2 * oy + 1) * W + 2 * ox] + xp[(2 * oy + 1) * W + 2 * ox + 1]) / 4.0;
                            assert_true(fabs(c.y[(((size_t)n * C + ch) * 2 + oy) * 2 + ox] - m) < 1e-6);
                        }
                if (op == 2)
                    for (int oy = 0; oy < H + 3; oy++)
                        for (int ox = 0; ox < W + 3; ox++) {
                            int iy = oy - 1, ix = ox;
                            float want = iy >= 0 && iy < H && ix < W ? xp[iy * W + ix] : 0.5f;
                            assert_true(c.y[(((size_t)n * C + ch) * (H + 3) + oy) * (W + 3) + ox] == want);
                        }
                if (op == 3)
                    for (int p = 0; p < H * W; p++) assert_true(c.y[((size_t)n * (C + 2) + ch) * H * W + p] == xp[p]);
            }
        if (op == 3)
            for (int n = 0; n < B; n++)
                for (int p = 0; p < 2 * H * W; p++)
                    assert_true(c.y[((size_t)n * (C + 2) + C) * H * W + p] == c.x2[(size_t)n * 2 * H * W + p]);
        fin(&c);
    }
}

static void test_gradients(void **st)
{
    (void)st;
    static const char *names[] = {"upsample dx", "avg_pool dx", "pad dx", "concat da", "concat db"};
    for (int op = 0; op < 5; op++) {
        ctx c; init(&c, op);
        float *dx = kt_alloc(c.nx), *dx2 = kt_alloc(c.nx2), *ex = kt_alloc(c.nx), *ex2 = kt_alloc(c.nx2);
        bwd(&c, dx, dx2);
        if (op == 4) kt_check_grad(names[op], c.x2, dx2, c.nx2, loss_fn, &c, 1e-2f, 1e-3, 1e-5);
        else kt_check_grad(names[op], c.x, dx, c.nx, loss_fn, &c, 1e-2f, 1e-3, 1e-5);
        bwd(&c, ex, ex2); bwd(&c, ex, ex2);
        kt_assert_doubled(names[op], ex, dx, c.nx);
        kt_assert_doubled(names[op], ex2, dx2, c.nx2);
        vq_free(dx); vq_free(dx2); vq_free(ex); vq_free(ex2); fin(&c);
    }
}

static void test_checks(void **st)
{
    (void)st;
    assert_int_equal(vq_avg_pool_check(5, 4, 2, 2, 2, 2), 0);
    assert_int_equal(vq_avg_pool_check(5, 4, 2, 2, 3, 2), VQ_ERR_ARG);
    vq_pad_shape p = pad_s; p.left = -1;
    assert_int_equal(vq_pad_check(&p), VQ_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_values),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
