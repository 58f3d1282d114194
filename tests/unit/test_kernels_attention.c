/* test_kernels_attention.c: AttnBlock attention forward against a direct loop
 * and PyTorch, dq/dk/dv against finite differences, accumulation.
 * Legend: B batch, C channels, N = H*W positions. */
#include "test_kernels_util.h"

#include <cblas.h>
#include <omp.h>
#include "../fixtures/kernels/kernels_fixtures.h"

static void naive_attn(float *out, float *probs, const float *q, const float *k, const float *v, int B, int C, int N)
{
    double *w = malloc(sizeof(double) * N);
    assert_non_null(w);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < N; i++) {
            double mx = -1e300, sum = 0;
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int c = 0; c < C; c++) s += (double)q[(b * C + c) * N + i] * k[(b * C + c) * N + j];
                w[j] = s / sqrt((double)C);
                if (w[j] > mx) mx = w[j];
            }
            for (int j = 0; j < N; j++) { w[j] = exp(w[j] - mx); sum += w[j]; }
            for (int j = 0; j < N; j++) probs[((size_t)b * N + i) * N + j] = (float)(w[j] / sum);
            for (int c = 0; c < C; c++) {
                double o = 0;
                for (int j = 0; j < N; j++) o += v[(b * C + c) * N + j] * w[j] / sum;
                out[(b * C + c) * N + i] = (float)o;
            }
        }
    free(w);
}

typedef struct ctx { int B, C, N; float *q, *k, *v, *out, *probs, *r; size_t n; } ctx;

static void init(ctx *c, int B, int C, int N, uint64_t seed)
{
    vq_rng rng; vq_rng_seed(&rng, seed);
    c->B = B; c->C = C; c->N = N; c->n = (size_t)B * C * N;
    c->q = kt_alloc(c->n); c->k = kt_alloc(c->n); c->v = kt_alloc(c->n);
    c->out = kt_alloc(c->n); c->r = kt_alloc(c->n); c->probs = kt_alloc((size_t)B * N * N);
    kt_fill(c->q, c->n, &rng, -1.5f, 1.5f); kt_fill(c->k, c->n, &rng, -1.5f, 1.5f);
    kt_fill(c->v, c->n, &rng, -1, 1); kt_fill(c->r, c->n, &rng, -1, 1);
}

static void fin(ctx *c)
{
    vq_free(c->q); vq_free(c->k); vq_free(c->v); vq_free(c->out); vq_free(c->r); vq_free(c->probs);
}

static double loss_fn(void *p)
{
    ctx *c = p;
    vq_attention_forward(c->out, c->probs, c->q, c->k, c->v, c->B, c->C, c->N);
    return kt_dot(c->r, c->out, c->n);
}

static void test_forward_matches_naive(void **st)
{
    (void)st;
    ctx c; init(&c, 2, 5, 12, 1);
    float *out = kt_alloc(c.n), *probs = kt_alloc((size_t)2 * 12 * 12);
    naive_attn(out, probs, c.q, c.k, c.v, 2, 5, 12);
    loss_fn(&c);
    kt_assert_close("attention out vs direct loop", c.out, out, c.n, 2e-6);
    kt_assert_close("attention probs vs direct loop", c.probs, probs, (size_t)2 * 12 * 12, 2e-6);
    vq_free(out); vq_free(probs); fin(&c);
}

static void test_gradients(void **st)
{
    (void)st;
    ctx c; init(&c, 2, 3, 6, 2);   /* N = 6 (2x3), non-square C != N */
    float *dq = kt_alloc(c.n), *dk = kt_alloc(c.n), *dv = kt_alloc(c.n);
    float *scratch = kt_alloc(vq_attention_scratch_floats(c.N));
    loss_fn(&c);
    vq_attention_backward(dq, dk, dv, c.r, c.q, c.k, c.v, c.probs, c.B, c.C, c.N, scratch);
    kt_check_grad("attention dq", c.q, dq, c.n, loss_fn, &c, 1e-3f, 1e-2, 1e-4);
    kt_check_grad("attention dk", c.k, dk, c.n, loss_fn, &c, 1e-3f, 1e-2, 1e-4);
    kt_check_grad("attention dv", c.v, dv, c.n, loss_fn, &c, 1e-3f, 1e-2, 1e-4);
    /* accumulation */
    float *eq = kt_alloc(c.n), *ek = kt_alloc(c.n), *ev = kt_alloc(c.n);
    loss_fn(&c);
    for (int t = 0; t < 2; t++) vq_attention_backward(eq, ek, ev, c.r, c.q, c.k, c.v, c.probs, c.B, c.C, c.N, scratch);
    kt_assert_doubled("attention dq", eq, dq, c.n);
    kt_assert_doubled("attention dk", ek, dk, c.n);
    kt_assert_doubled("attention dv", ev, dv, c.n);
    vq_free(dq); vq_free(dk); vq_free(dv); vq_free(eq); vq_free(ek); vq_free(ev); vq_free(scratch); fin(&c);
}

static void test_pytorch_fixture(void **st)
{
    (void)st;
    enum { B = 2, C = 4, N = 6, n = B * C * N };
    float q[n], k[n], v[n], g[n], out[n], probs[B * N * N], dq[n] = {0}, dk[n] = {0}, dv[n] = {0};
    float *scratch = kt_alloc(vq_attention_scratch_floats(N));   /* one slot per thread */
    kt_fixture_input(q, n, 0.1, 1.5); kt_fixture_input(k, n, 0.2, 1.5);
    kt_fixture_input(v, n, 0.3, 1.0); kt_fixture_input(g, n, 0.4, 1.0);
    vq_attention_forward(out, probs, q, k, v, B, C, N);
    vq_attention_backward(dq, dk, dv, g, q, k, v, probs, B, C, N, scratch);
    kt_assert_close("attention out vs torch", out, fx_attn_out, n, 1e-5);
    kt_assert_close("attention probs vs torch", probs, fx_attn_probs, B * N * N, 1e-6);
    kt_assert_close("attention dq vs torch", dq, fx_attn_dq, n, 1e-5);
    kt_assert_close("attention dk vs torch", dk, fx_attn_dk, n, 1e-5);
    kt_assert_close("attention dv vs torch", dv, fx_attn_dv, n, 1e-5);
    vq_free(scratch);
}

/* The kernel's own threads (OpenBLAS single-threaded): images in parallel
 * (B = 5 >= threads, odd) and one image with split sgemms (B = 1), forward
 * against the direct loop and backward against the serial path (OpenMP 1
 * thread, which runs exactly the loops test_gradients checked). */
static void test_threaded_paths(void **st)
{
    (void)st;
    int keep_omp = omp_get_max_threads(), keep_blas = openblas_get_num_threads();
    for (int B = 1; B <= 5; B += 4) {
        ctx c; init(&c, B, 24, 80, 30 + B);   /* N*N = 6400 and C*N*N large enough to split */
        float *out = kt_alloc(c.n), *probs = kt_alloc((size_t)B * 80 * 80);
        float *d1[3], *d2[3];
        for (int i = 0; i < 3; i++) { d1[i] = kt_alloc(c.n); d2[i] = kt_alloc(c.n); }
        float *scratch = kt_alloc(vq_attention_scratch_floats(c.N));
        naive_attn(out, probs, c.q, c.k, c.v, B, 24, 80);
        openblas_set_num_threads(1);
        omp_set_num_threads(1);
        loss_fn(&c);
        vq_attention_backward(d1[0], d1[1], d1[2], c.r, c.q, c.k, c.v, c.probs, B, c.C, c.N, scratch);
        omp_set_num_threads(2);
        memset(c.out, 0, c.n * sizeof(float));
        loss_fn(&c);
        vq_attention_backward(d2[0], d2[1], d2[2], c.r, c.q, c.k, c.v, c.probs, B, c.C, c.N, scratch);
        omp_set_num_threads(keep_omp);
        openblas_set_num_threads(keep_blas);
        kt_assert_close("threaded attention out vs direct loop", c.out, out, c.n, 2e-6);
        kt_assert_close("threaded attention probs vs direct loop", c.probs, probs, (size_t)B * 80 * 80, 2e-6);
        kt_assert_close("threaded attention dq vs serial", d2[0], d1[0], c.n, 1e-5);
        kt_assert_close("threaded attention dk vs serial", d2[1], d1[1], c.n, 1e-5);
        kt_assert_close("threaded attention dv vs serial", d2[2], d1[2], c.n, 1e-5);
        for (int i = 0; i < 3; i++) { vq_free(d1[i]); vq_free(d2[i]); }
        vq_free(out); vq_free(probs); vq_free(scratch); fin(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forward_matches_naive),
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_pytorch_fixture),
        cmocka_unit_test(test_threaded_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
