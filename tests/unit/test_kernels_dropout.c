/* test_kernels_dropout.c: inverted dropout: the kept fraction and scale, the
 * mask reproduced by the same seed, p = 0 and p = 1, backward = dy * mask
 * (checked by finite differences with the mask fixed), accumulation. */
#include "test_kernels_util.h"

enum { N = 20000 };

static void test_statistics_and_scale(void **st)
{
    (void)st;
    float *x = kt_alloc(N), *y = kt_alloc(N), *mask = kt_alloc(N);
    vq_rng rng; vq_rng_seed(&rng, 1);
    kt_fill(x, N, &rng, 0.5f, 1.5f);
    vq_rng_seed(&rng, 42);
    vq_dropout_forward(y, mask, x, 0.25f, N, &rng);
    int kept = 0;
    for (int i = 0; i < N; i++) {
        if (mask[i] != 0.0f) {
            kept++;
            assert_true(fabsf(mask[i] - 1.0f / 0.75f) < 1e-7f);
            assert_true(y[i] == x[i] * mask[i]);
        } else {
            assert_true(y[i] == 0.0f);
        }
    }
    /* binomial: mean 15000, sd ~61; 5 sd */
    assert_true(abs(kept - 15000) < 310);
    /* same seed, same mask: the draw is serial in element order */
    float *mask2 = kt_alloc(N);
    vq_rng_seed(&rng, 42);
    vq_dropout_forward(y, mask2, x, 0.25f, N, &rng);
    assert_memory_equal(mask, mask2, N * sizeof(float));
    vq_free(x); vq_free(y); vq_free(mask); vq_free(mask2);
}

static void test_p_zero_and_one(void **st)
{
    (void)st;
    float x[8] = {1, -2, 3, -4, 5, -6, 7, -8}, y[8], mask[8];
    vq_rng rng; vq_rng_seed(&rng, 3);
    vq_rng before = rng;
    vq_dropout_forward(y, mask, x, 0.0f, 8, &rng);
    assert_memory_equal(y, x, sizeof x);
    assert_memory_equal(&rng, &before, sizeof rng);   /* p = 0 draws nothing */
    vq_dropout_forward(y, mask, x, 1.0f, 8, &rng);
    for (int i = 0; i < 8; i++) assert_true(y[i] == 0.0f && mask[i] == 0.0f);
    assert_int_equal(vq_dropout_check(1.5f), VQ_ERR_ARG);
    assert_int_equal(vq_dropout_check(0.1f), 0);
}

typedef struct ctx { float x[50], y[50], mask[50], r[50]; } ctx;
/* With the mask fixed, y = x * mask is what backward differentiates. */
static double loss_fn(void *p) { ctx *c = p; for (int i = 0; i < 50; i++) c->y[i] = c->x[i] * c->mask[i]; return kt_dot(c->r, c->y, 50); }

static void test_backward(void **st)
{
    (void)st;
    ctx c;
    vq_rng rng; vq_rng_seed(&rng, 9);
    kt_fill(c.x, 50, &rng, -1, 1); kt_fill(c.r, 50, &rng, -1, 1);
    vq_dropout_forward(c.y, c.mask, c.x, 0.5f, 50, &rng);
    float dx[50] = {0}, dx2[50] = {0};
    vq_dropout_backward(dx, c.r, c.mask, 50);
    kt_check_grad("dropout dx", c.x, dx, 50, loss_fn, &c, 1e-2f, 1e-3, 1e-5);
    vq_dropout_backward(dx2, c.r, c.mask, 50); vq_dropout_backward(dx2, c.r, c.mask, 50);
    kt_assert_doubled("dropout dx", dx2, dx, 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_statistics_and_scale),
        cmocka_unit_test(test_p_zero_and_one),
        cmocka_unit_test(test_backward),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
