/* test_kernels_loss.c: L1, L2, hinge and vanilla discriminator losses and the
 * generator loss: values and gradients against PyTorch (including logits of
 * +-30 for the stable softplus), finite differences, accumulation. */
#include "test_kernels_util.h"
#include "../fixtures/kernels/kernels_fixtures.h"

enum { NR = 18, NF = 18, NX = 24 };

typedef struct ctx { int op; float real[NR], fake[NF], xh[NX], x[NX]; } ctx;

static double loss_fn(void *p)
{
    ctx *c = p;
    float l = 0;
    switch (c->op) {
    case 0: vq_l1_loss_forward(&l, c->xh, c->x, NX); break;
    case 1: vq_l2_loss_forward(&l, c->xh, c->x, NX); break;
    case 2: vq_hinge_d_loss_forward(&l, c->real, NR, c->fake, NF); break;
    case 3: vq_vanilla_d_loss_forward(&l, c->real, NR, c->fake, NF); break;
    default: vq_g_loss_forward(&l, c->fake, NF); break;
    }
    return l;
}

static void test_gradients_finite_difference(void **st)
{
    (void)st;
    static const char *names[] = {"l1", "l2", "hinge_d", "vanilla_d", "g"};
    for (int op = 0; op < 5; op++) {
        ctx c; c.op = op;
        vq_rng rng; vq_rng_seed(&rng, op);
        kt_fill(c.real, NR, &rng, -2, 2); kt_fill(c.fake, NF, &rng, -2, 2);
        kt_fill(c.xh, NX, &rng, -1, 1); kt_fill(c.x, NX, &rng, -1, 1);
        for (int i = 0; i < NR; i++) if (fabsf(fabsf(c.real[i]) - 1.0f) < 0.05f) c.real[i] = 0.3f;  /* away from hinge kinks */
        for (int i = 0; i < NF; i++) if (fabsf(fabsf(c.fake[i]) - 1.0f) < 0.05f) c.fake[i] = -0.3f;
        for (int i = 0; i < NX; i++) if (fabsf(c.xh[i] - c.x[i]) < 0.05f) c.xh[i] = c.x[i] + 0.2f;
        float dr[NR] = {0}, df[NF] = {0}, dxh[NX] = {0}, er[NR] = {0}, ef[NF] = {0}, exh[NX] = {0};
        const float dl = 1.5f;   /* upstream gradient: the check differentiates 1.5 * loss */
        for (int t = 0; t < 3; t++) {
            float *R = t ? er : dr, *F = t ? ef : df, *X = t ? exh : dxh;
            switch (op) {
            case 0: vq_l1_loss_backward(X, c.xh, c.x, NX, dl); break;
            case 1: vq_l2_loss_backward(X, c.xh, c.x, NX, dl); break;
            case 2: vq_hinge_d_loss_backward(R, F, c.real, NR, c.fake, NF, dl); break;
            case 3: vq_vanilla_d_loss_backward(R, F, c.real, NR, c.fake, NF, dl); break;
            default: vq_g_loss_backward(F, NF, dl); break;
            }
        }
        for (int i = 0; i < NR; i++) dr[i] /= dl;
        for (int i = 0; i < NF; i++) df[i] /= dl;
        for (int i = 0; i < NX; i++) dxh[i] /= dl;
        if (op <= 1) kt_check_grad(names[op], c.xh, dxh, NX, loss_fn, &c, 1e-3f, 1e-2, 1e-5);
        if (op == 2 || op == 3) kt_check_grad(names[op], c.real, dr, NR, loss_fn, &c, 1e-3f, 1e-2, 1e-5);
        if (op >= 2) kt_check_grad(names[op], c.fake, df, NF, loss_fn, &c, 1e-3f, 1e-2, 1e-5);
        for (int i = 0; i < NR; i++) dr[i] *= dl;
        for (int i = 0; i < NF; i++) df[i] *= dl;
        for (int i = 0; i < NX; i++) dxh[i] *= dl;
        kt_assert_doubled(names[op], er, dr, NR);
        kt_assert_doubled(names[op], ef, df, NF);
        kt_assert_doubled(names[op], exh, dxh, NX);
    }
}

static void check_d_losses(double scale, const float *hinge, const float *hinge_dr, const float *hinge_df,
                           const float *van, const float *van_dr, const float *van_df)
{
    float real[NR], fake[NF], l, dr[NR] = {0}, df[NF] = {0};
    kt_fixture_input(real, NR, 0.1, scale); kt_fixture_input(fake, NF, 0.2, scale);
    vq_hinge_d_loss_forward(&l, real, NR, fake, NF);
    kt_assert_close("hinge_d loss vs torch", &l, hinge, 1, 1e-5 * (1 + fabs(hinge[0])));
    vq_hinge_d_loss_backward(dr, df, real, NR, fake, NF, 1.0f);
    kt_assert_close("hinge_d dreal vs torch", dr, hinge_dr, NR, 1e-7);
    kt_assert_close("hinge_d dfake vs torch", df, hinge_df, NF, 1e-7);
    memset(dr, 0, sizeof dr); memset(df, 0, sizeof df);
    vq_vanilla_d_loss_forward(&l, real, NR, fake, NF);
    kt_assert_close("vanilla_d loss vs torch", &l, van, 1, 1e-5 * (1 + fabs(van[0])));
    vq_vanilla_d_loss_backward(dr, df, real, NR, fake, NF, 1.0f);
    kt_assert_close("vanilla_d dreal vs torch", dr, van_dr, NR, 1e-7);
    kt_assert_close("vanilla_d dfake vs torch", df, van_df, NF, 1e-7);
}

static void test_pytorch_fixture(void **st)
{
    (void)st;
    check_d_losses(2.0, fx_hinge, fx_hinge_dreal, fx_hinge_dfake, fx_vanilla, fx_vanilla_dreal, fx_vanilla_dfake);
    check_d_losses(30.0, fx_hinge_big, fx_hinge_big_dreal, fx_hinge_big_dfake,
                   fx_vanilla_big, fx_vanilla_big_dreal, fx_vanilla_big_dfake);
    float xh[NX], x[NX], l, d[NX] = {0};
    kt_fixture_input(xh, NX, 0.1, 1.0); kt_fixture_input(x, NX, 0.9, 1.0);
    vq_l1_loss_forward(&l, xh, x, NX);
    kt_assert_close("l1 vs torch", &l, fx_l1, 1, 1e-6);
    vq_l1_loss_backward(d, xh, x, NX, 1.0f);
    kt_assert_close("l1 dx_hat vs torch", d, fx_l1_dxhat, NX, 1e-7);
    memset(d, 0, sizeof d);
    vq_l2_loss_forward(&l, xh, x, NX);
    kt_assert_close("l2 vs torch", &l, fx_l2, 1, 1e-6);
    vq_l2_loss_backward(d, xh, x, NX, 1.0f);
    kt_assert_close("l2 dx_hat vs torch", d, fx_l2_dxhat, NX, 1e-7);
}

/* Hand values: hinge at real = 1 and fake = -1 is exactly 0 with zero gradient
 * (torch's relu has derivative 0 at 0); g loss of {1, 2, 3} is -2. */
static void test_hand_values(void **st)
{
    (void)st;
    float real[1] = {1.0f}, fake[1] = {-1.0f}, l = -1, dr[1] = {0}, df[1] = {0};
    vq_hinge_d_loss_forward(&l, real, 1, fake, 1);
    assert_true(l == 0.0f);
    vq_hinge_d_loss_backward(dr, df, real, 1, fake, 1, 1.0f);
    assert_true(dr[0] == 0.0f && df[0] == 0.0f);
    float f3[3] = {1, 2, 3}, d3[3] = {0};
    vq_g_loss_forward(&l, f3, 3);
    assert_true(l == -2.0f);
    vq_g_loss_backward(d3, 3, 1.0f);
    for (int i = 0; i < 3; i++) assert_true(fabsf(d3[i] + 1.0f / 3.0f) < 1e-7f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_finite_difference),
        cmocka_unit_test(test_pytorch_fixture),
        cmocka_unit_test(test_hand_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
