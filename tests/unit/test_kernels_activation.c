/* test_kernels_activation.c: elementwise activations, softplus, add, scale:
 * forward against libm formulas, backward against finite differences,
 * accumulation. Legend: n elements. */
#include "test_kernels_util.h"

enum { N = 64 };

typedef enum { SWISH, RELU, LEAKY, SIGMOID, TANH, SOFTPLUS, SCALE, NOPS } op_t;
static const char *names[NOPS] = {"swish", "relu", "leaky_relu", "sigmoid", "tanh", "softplus", "scale"};

typedef struct ctx { op_t op; float x[N], y[N], r[N]; } ctx;

static void fwd(ctx *c)
{
    switch (c->op) {
    case SWISH: vq_swish_forward(c->y, c->x, N); break;
    case RELU: vq_relu_forward(c->y, c->x, N); break;
    case LEAKY: vq_leaky_relu_forward(c->y, c->x, 0.2f, N); break;
    case SIGMOID: vq_sigmoid_forward(c->y, c->x, N); break;
    case TANH: vq_tanh_forward(c->y, c->x, N); break;
    case SOFTPLUS: vq_softplus_forward(c->y, c->x, N); break;
    case SCALE: vq_scale_forward(c->y, c->x, -1.75f, N); break;
    default: break;
    }
}

static void bwd(ctx *c, float *dx)
{
    switch (c->op) {
    case SWISH: vq_swish_backward(dx, c->r, c->x, N); break;
    case RELU: vq_relu_backward(dx, c->r, c->x, N); break;
    case LEAKY: vq_leaky_relu_backward(dx, c->r, c->x, 0.2f, N); break;
    case SIGMOID: vq_sigmoid_backward(dx, c->r, c->y, N); break;
    case TANH: vq_tanh_backward(dx, c->r, c->y, N); break;
    case SOFTPLUS: vq_softplus_backward(dx, c->r, c->x, N); break;
    case SCALE: vq_scale_backward(dx, c->r, -1.75f, N); break;
    default: break;
    }
}

static double want_y(op_t op, double x)
{
    switch (op) {
    case SWISH: return x / (1.0 + exp(-x));
    case RELU: return x > 0 ? x : 0;
    case LEAKY: return x > 0 ? x : 0.2 * x;
    case SIGMOID: return 1.0 / (1.0 + exp(-x));
    case TANH: return tanh(x);
    case SOFTPLUS: return log1p(exp(x));
    case SCALE: return -1.75 * x;
    default: return 0;
    }
}

static double loss_fn(void *p) { ctx *c = p; fwd(c); return kt_dot(c->r, c->y, N); }

static void init(ctx *c, op_t op, uint64_t seed)
{
    vq_rng rng; vq_rng_seed(&rng, seed);
    c->op = op;
    /* |x| >= 0.05 keeps central differences away from relu's kink */
    for (int i = 0; i < N; i++) {
        float v = -4.0f + 8.0f * vq_rng_uniform(&rng);
        c->x[i] = fabsf(v) < 0.05f ? 0.5f : v;
    }
    kt_fill(c->r, N, &rng, -1, 1);
}

static void test_forward(void **st)
{
    (void)st;
    for (op_t op = 0; op < NOPS; op++) {
        ctx c; init(&c, op, op);
        float want[N];
        fwd(&c);
        for (int i = 0; i < N; i++) want[i] = (float)want_y(op, c.x[i]);
        kt_assert_close(names[op], c.y, want, N, 2e-6);
    }
}

static void test_gradients(void **st)
{
    (void)st;
    for (op_t op = 0; op < NOPS; op++) {
        ctx c; init(&c, op, 10 + op);
        float dx[N] = {0}, dx2[N] = {0};
        fwd(&c); bwd(&c, dx);
        kt_check_grad(names[op], c.x, dx, N, loss_fn, &c, 1e-3f, 1e-2, 1e-4);
        fwd(&c); bwd(&c, dx2); bwd(&c, dx2);
        kt_assert_doubled(names[op], dx2, dx, N);
    }
}

/* softplus must not overflow or lose the linear tail: at x = 100 it is 100, at -100 ~ 3.7e-44. */
static void test_softplus_extremes(void **st)
{
    (void)st;
    float x[4] = {100.0f, -100.0f, 20.5f, 0.0f}, y[4], dx[4] = {0}, one[4] = {1, 1, 1, 1};
    vq_softplus_forward(y, x, 4);
    assert_true(y[0] == 100.0f);
    assert_true(y[1] >= 0.0f && y[1] < 1e-30f);
    assert_true(fabsf(y[2] - 20.5f) < 1e-5f);
    assert_true(fabsf(y[3] - logf(2.0f)) < 1e-7f);
    vq_softplus_backward(dx, one, x, 4);
    assert_true(dx[0] == 1.0f && dx[1] >= 0.0f && dx[1] < 1e-30f && fabsf(dx[3] - 0.5f) < 1e-7f);
    for (int i = 0; i < 4; i++) assert_true(isfinite(y[i]) && isfinite(dx[i]));
}

static void test_add(void **st)
{
    (void)st;
    float a[5] = {1, 2, 3, 4, 5}, b[5] = {-1, 0.5f, 2, 0, 7}, y[5], dy[5] = {1, -2, 3, -4, 5};
    float da[5] = {1, 1, 1, 1, 1}, db[5] = {0};
    vq_add_forward(y, a, b, 5);
    for (int i = 0; i < 5; i++) assert_true(y[i] == a[i] + b[i]);
    vq_add_backward(da, db, dy, 5);
    for (int i = 0; i < 5; i++) assert_true(da[i] == 1 + dy[i] && db[i] == dy[i]);
    vq_add_backward(NULL, db, dy, 5);   /* a NULL gradient is skipped */
    for (int i = 0; i < 5; i++) assert_true(db[i] == 2 * dy[i]);
}

/* The parallel path (n above the OpenMP threshold) gives the same values. */
static void test_large_parallel(void **st)
{
    (void)st;
    size_t n = 100000;
    float *x = kt_alloc(n), *y = kt_alloc(n), *dx = kt_alloc(n), *dy = kt_alloc(n);
    vq_rng rng; vq_rng_seed(&rng, 5);
    kt_fill(x, n, &rng, -3, 3); kt_fill(dy, n, &rng, -1, 1);
    vq_swish_forward(y, x, n);
    vq_swish_backward(dx, dy, x, n);
    for (size_t i = 0; i < n; i += 997) {
        double s = 1.0 / (1.0 + exp(-x[i]));
        assert_true(fabs(y[i] - x[i] * s) < 2e-6);
        assert_true(fabs(dx[i] - dy[i] * (s + x[i] * s * (1 - s))) < 2e-6);
    }
    vq_free(x); vq_free(y); vq_free(dx); vq_free(dy);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_softplus_extremes),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_large_parallel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
