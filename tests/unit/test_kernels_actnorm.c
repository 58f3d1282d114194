/* test_kernels_actnorm.c: ActNorm (runtime/kernels/actnorm.h) on hand-computed values:
 * the data-dependent init (mean and UNBIASED std per channel over batch and space, as
 * torch.std), the affine forward, the three backward sums and that backward accumulates,
 * and the shape check's refusal of one value per channel. Finite differences of the
 * generated op: tests/codegen/op_actnorm.vq. */
#include "test_kernels_util.h"

/* x (B=2, C=2, H=1, W=2): channel 0 holds 1, 2 | 3, 4; channel 1 holds 10, 10 | 10, 14 */
static const float X[8] = {1, 2, 10, 10, 3, 4, 10, 14};
static const vq_actnorm_shape S = {.B = 2, .C = 2, .H = 1, .W = 2};

static void test_init(void **st)
{
    (void)st;
    float loc[2], scale[2], y[8];
    vq_actnorm_init(loc, scale, X, &S);
    /* channel 0: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, / (4 - 1) */
    assert_float_equal(loc[0], -2.5f, 1e-7);
    assert_float_equal(scale[0], 1.0 / (sqrt(5.0 / 3.0) + 1e-6), 1e-6);
    /* channel 1: mean 11, deviations 1, 1, 1, 9 -> 12 / 3 = 4, std 2 */
    assert_float_equal(loc[1], -11.0f, 1e-7);
    assert_float_equal(scale[1], 1.0 / (2.0 + 1e-6), 1e-7);
    /* after the init the output has mean 0 and unbiased std 1 per channel (to the 1e-6) */
    vq_actnorm_forward(y, X, loc, scale, &S);
    const float want1[4] = {-0.5f, -0.5f, -0.5f, 1.5f};   /* (10 - 11) / 2, ..., (14 - 11) / 2 */
    const int at1[4] = {2, 3, 6, 7};
    for (int k = 0; k < 4; k++) assert_float_equal(y[at1[k]], want1[k], 1e-6);
    assert_float_equal(y[0], -1.5 / sqrt(5.0 / 3.0), 1e-6);
}

static void test_forward_in_place(void **st)
{
    (void)st;
    float y[8];
    memcpy(y, X, sizeof y);
    const float loc[2] = {1.0f, -10.0f}, scale[2] = {2.0f, -0.5f};
    vq_actnorm_forward(y, y, loc, scale, &S);
    const float want[8] = {4, 6, 0, 0, 8, 10, 0, -2};   /* 2 (x + 1); -0.5 (x - 10) */
    for (int i = 0; i < 8; i++) assert_float_equal(y[i], want[i], 0);
}

static void test_backward(void **st)
{
    (void)st;
    const float loc[2] = {1.0f, -10.0f}, scale[2] = {2.0f, -0.5f};
    const float dy[8] = {1, -1, 2, 0, 0.5f, 1, -1, 3};
    float dx[8] = {0}, dloc[2] = {0}, dscale[2] = {0};
    vq_actnorm_backward(dx, dloc, dscale, dy, X, loc, scale, &S);
    /* dx = scale * dy */
    const float want_dx[8] = {2, -2, -1, 0, 1, 2, 0.5f, -1.5f};
    for (int i = 0; i < 8; i++) assert_float_equal(dx[i], want_dx[i], 0);
    /* dloc_c = scale_c * sum dy: 2 * (1 - 1 + 0.5 + 1) = 3; -0.5 * (2 + 0 - 1 + 3) = -2 */
    assert_float_equal(dloc[0], 3.0f, 1e-6);
    assert_float_equal(dloc[1], -2.0f, 1e-6);
    /* dscale_c = sum dy (x + loc): 1*2 - 1*3 + 0.5*4 + 1*5 = 6; 2*0 + 0 - 1*0 + 3*4 = 12 */
    assert_float_equal(dscale[0], 6.0f, 1e-6);
    assert_float_equal(dscale[1], 12.0f, 1e-6);
    /* accumulates; NULL outputs are skipped */
    vq_actnorm_backward(dx, NULL, dscale, dy, X, loc, scale, &S);
    assert_float_equal(dx[0], 4.0f, 0);
    assert_float_equal(dscale[1], 24.0f, 1e-6);
    assert_float_equal(dloc[1], -2.0f, 1e-6);
    vq_actnorm_backward(NULL, dloc, NULL, dy, X, loc, scale, &S);
    assert_float_equal(dloc[0], 6.0f, 1e-6);
}

static void test_check(void **st)
{
    (void)st;
    vq_actnorm_shape s = {.B = 1, .C = 4, .H = 1, .W = 1};
    assert_int_equal(vq_actnorm_check(&s), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "unbiased std"));
    s.B = 2;
    assert_int_equal(vq_actnorm_check(&s), 0);
    s.C = 0;
    assert_int_equal(vq_actnorm_check(&s), VQ_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init),
        cmocka_unit_test(test_forward_in_place),
        cmocka_unit_test(test_backward),
        cmocka_unit_test(test_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
