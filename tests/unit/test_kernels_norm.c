/* test_kernels_norm.c: group_norm (plain and fused with swish) and batch_norm:
 * forward against direct formulas and PyTorch, every gradient against finite
 * differences, accumulation, running statistics after two steps.
 * Legend: B batch, C channels, H, W spatial, G groups. */
#include "test_kernels_util.h"
#include "../fixtures/kernels/kernels_fixtures.h"

/* ---- group_norm ----------------------------------------------------------- */

/* Direct formula in double: per (n, g) mean and biased variance, then affine, then optional swish. */
static void naive_gn(float *y, const float *x, const float *gamma, const float *beta,
                     const vq_group_norm_shape *s, int swish)
{
    int Cg = s->C / s->G; size_t P = (size_t)s->H * s->W, M = Cg * P;
    for (int bg = 0; bg < s->B * s->G; bg++) {
        const float *xg = x + bg * M;
        double mu = 0, var = 0;
        for (size_t i = 0; i < M; i++) mu += xg[i];
        mu /= M;
        for (size_t i = 0; i < M; i++) var += (xg[i] - mu) * (xg[i] - mu);
        var /= M;
        for (size_t i = 0; i < M; i++) {
            int c = (bg % s->G) * Cg + (int)(i / P);
            double z = (xg[i] - mu) / sqrt(var + s->eps);
            if (s->affine) z = z * gamma[c] + beta[c];
            y[bg * M + i] = (float)(swish ? z / (1.0 + exp(-z)) : z);
        }
    }
}

typedef struct gn_case {
    vq_group_norm_shape s;
    int swish;
    float *x, *gamma, *beta, *y, *r, *mean, *rstd;
    size_t n;
} gn_case;

static void gn_init(gn_case *c, vq_group_norm_shape s, int swish, uint64_t seed)
{
    if (vq_group_norm_check(&s)) { print_error("%s\n", vq_last_error()); fail(); }
    vq_rng rng; vq_rng_seed(&rng, seed);
    c->s = s; c->swish = swish; c->n = (size_t)s.B * s.C * s.H * s.W;
    c->x = kt_alloc(c->n); c->y = kt_alloc(c->n); c->r = kt_alloc(c->n);
    c->gamma = kt_alloc(s.C); c->beta = kt_alloc(s.C);
    c->mean = kt_alloc((size_t)s.B * s.G); c->rstd = kt_alloc((size_t)s.B * s.G);
    kt_fill(c->x, c->n, &rng, -2, 2); kt_fill(c->r, c->n, &rng, -1, 1);
    kt_fill(c->gamma, s.C, &rng, 0.5f, 1.5f); kt_fill(c->beta, s.C, &rng, -0.5f, 0.5f);
}

static void gn_free(gn_case *c)
{
    vq_free(c->x); vq_free(c->y); vq_free(c->r); vq_free(c->gamma); vq_free(c->beta);
    vq_free(c->mean); vq_free(c->rstd);
}

static double gn_loss(void *ctx)
{
    gn_case *c = ctx;
    if (c->swish) vq_group_norm_swish_forward(c->y, c->mean, c->rstd, c->x, c->gamma, c->beta, &c->s);
    else vq_group_norm_forward(c->y, c->mean, c->rstd, c->x, c->gamma, c->beta, &c->s);
    return kt_dot(c->r, c->y, c->n);
}

/* {B, C, H, W, G, eps, affine}: groups of 2 and 4 channels, one group, no affine. */
static const vq_group_norm_shape gn_shapes[] = {
    {2, 6, 3, 4, 3, 1e-6f, 1},
    {2, 8, 2, 3, 2, 1e-5f, 0},
    {1, 4, 3, 2, 1, 1e-6f, 1},
};

static void test_group_norm_forward(void **st)
{
    (void)st;
    for (int swish = 0; swish < 2; swish++)
        for (size_t t = 0; t < sizeof gn_shapes / sizeof gn_shapes[0]; t++) {
            gn_case c; gn_init(&c, gn_shapes[t], swish, 1 + t);
            float *want = kt_alloc(c.n);
            naive_gn(want, c.x, c.gamma, c.beta, &c.s, swish);
            gn_loss(&c);
            kt_assert_close(swish ? "group_norm_swish forward" : "group_norm forward", c.y, want, c.n, 2e-6);
            vq_free(want); gn_free(&c);
        }
}

static void test_group_norm_gradients(void **st)
{
    (void)st;
    for (int swish = 0; swish < 2; swish++)
        for (size_t t = 0; t < sizeof gn_shapes / sizeof gn_shapes[0]; t++) {
            gn_case c; gn_init(&c, gn_shapes[t], swish, 10 + t);
            int C = c.s.C;
            float *dx = kt_alloc(c.n), *dg = kt_alloc(C), *db = kt_alloc(C);
            gn_loss(&c);   /* saves mean, rstd */
            if (swish) vq_group_norm_swish_backward(dx, dg, db, c.r, c.x, c.mean, c.rstd, c.gamma, c.beta, &c.s);
            else vq_group_norm_backward(dx, dg, db, c.r, c.x, c.mean, c.rstd, c.gamma, &c.s);
            kt_check_grad(swish ? "group_norm_swish dx" : "group_norm dx", c.x, dx, c.n, gn_loss, &c, 1e-3f, 1e-2, 1e-4);
            if (c.s.affine) {
                kt_check_grad(swish ? "group_norm_swish dgamma" : "group_norm dgamma", c.gamma, dg, C, gn_loss, &c, 1e-3f, 1e-2, 1e-4);
                kt_check_grad(swish ? "group_norm_swish dbeta" : "group_norm dbeta", c.beta, db, C, gn_loss, &c, 1e-3f, 1e-2, 1e-4);
            }
            vq_free(dx); vq_free(dg); vq_free(db); gn_free(&c);
        }
}

static void test_group_norm_accumulates(void **st)
{
    (void)st;
    for (int swish = 0; swish < 2; swish++) {
        gn_case c; gn_init(&c, gn_shapes[0], swish, 20);
        int C = c.s.C;
        float *g1[3] = {kt_alloc(c.n), kt_alloc(C), kt_alloc(C)}, *g2[3] = {kt_alloc(c.n), kt_alloc(C), kt_alloc(C)};
        gn_loss(&c);
        for (int k = 0; k < 3; k++) {
            float **g = k == 0 ? g1 : g2;
            if (swish) vq_group_norm_swish_backward(g[0], g[1], g[2], c.r, c.x, c.mean, c.rstd, c.gamma, c.beta, &c.s);
            else vq_group_norm_backward(g[0], g[1], g[2], c.r, c.x, c.mean, c.rstd, c.gamma, &c.s);
        }
        kt_assert_doubled("group_norm dx", g2[0], g1[0], c.n);
        kt_assert_doubled("group_norm dgamma", g2[1], g1[1], C);
        kt_assert_doubled("group_norm dbeta", g2[2], g1[2], C);
        for (int k = 0; k < 3; k++) { vq_free(g1[k]); vq_free(g2[k]); }
        gn_free(&c);
    }
}

static void test_group_norm_pytorch_fixture(void **st)
{
    (void)st;
    vq_group_norm_shape s = {2, 6, 3, 4, 3, 1e-6f, 1};
    enum { N = 2 * 6 * 3 * 4 };
    float x[N], gm[6], bt[6], g[N], y[N], mean[6], rstd[6];
    kt_fixture_input(x, N, 0.1, 2.0); kt_fixture_input(gm, 6, 0.5, 0.8);
    kt_fixture_input(bt, 6, 0.6, 0.5); kt_fixture_input(g, N, 0.4, 1.0);
    for (int swish = 0; swish < 2; swish++) {
        float dx[N] = {0}, dg[6] = {0}, db[6] = {0};
        if (swish) {
            vq_group_norm_swish_forward(y, mean, rstd, x, gm, bt, &s);
            vq_group_norm_swish_backward(dx, dg, db, g, x, mean, rstd, gm, bt, &s);
        } else {
            vq_group_norm_forward(y, mean, rstd, x, gm, bt, &s);
            vq_group_norm_backward(dx, dg, db, g, x, mean, rstd, gm, &s);
        }
        kt_assert_close("group_norm y vs torch", y, swish ? fx_gns_y : fx_gn_y, N, 1e-5);
        kt_assert_close("group_norm dx vs torch", dx, swish ? fx_gns_dx : fx_gn_dx, N, 1e-5);
        kt_assert_close("group_norm dgamma vs torch", dg, swish ? fx_gns_dgamma : fx_gn_dgamma, 6, 1e-5);
        kt_assert_close("group_norm dbeta vs torch", db, swish ? fx_gns_dbeta : fx_gn_dbeta, 6, 1e-5);
    }
}

/* ---- large planes: the vectorized block path (norm.c sums 256 values at a
 * time in float lanes; the tests above have planes of at most 12 values) ---- */

/* Backward of group_norm(+swish) by the direct formula in double: per (n, g)
 * xhat, z = xhat*gamma + beta, dz = dy (* swish'(z)), dxhat = dz*gamma,
 * dx = rstd*(dxhat - mean(dxhat) - xhat*mean(dxhat*xhat)), dgamma = sum dz*xhat,
 * dbeta = sum dz. Adds into dx, dgamma, dbeta. */
static void naive_gn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                              const float *gamma, const float *beta, const vq_group_norm_shape *s, int swish)
{
    int Cg = s->C / s->G; size_t P = (size_t)s->H * s->W, M = Cg * P;
    double *xh = malloc(sizeof(double) * M), *dxh = malloc(sizeof(double) * M);
    assert_non_null(xh); assert_non_null(dxh);
    for (int bg = 0; bg < s->B * s->G; bg++) {
        const float *xg = x + bg * M, *dyg = dy + bg * M;
        double mu = 0, var = 0, m1 = 0, m2 = 0;
        for (size_t i = 0; i < M; i++) mu += xg[i];
        mu /= M;
        for (size_t i = 0; i < M; i++) var += (xg[i] - mu) * (xg[i] - mu);
        double rstd = 1.0 / sqrt(var / M + s->eps);
        for (size_t i = 0; i < M; i++) {
            int c = (bg % s->G) * Cg + (int)(i / P);
            double ga = s->affine ? gamma[c] : 1.0, be = s->affine ? beta[c] : 0.0;
            xh[i] = (xg[i] - mu) * rstd;
            double z = xh[i] * ga + be, dz = dyg[i];
            if (swish) { double sg = 1.0 / (1.0 + exp(-z)); dz *= sg + z * sg * (1.0 - sg); }
            if (s->affine) { dgamma[c] += (float)(dz * xh[i]); dbeta[c] += (float)dz; }
            dxh[i] = dz * ga;
            m1 += dxh[i]; m2 += dxh[i] * xh[i];
        }
        m1 /= M; m2 /= M;
        for (size_t i = 0; i < M; i++) dx[bg * M + i] += (float)(rstd * (dxh[i] - m1 - xh[i] * m2));
    }
    free(xh); free(dxh);
}

/* 17x19 planes (one block of 256 plus a tail of 67), inputs offset to 5 +- 2 so
 * a one-pass variance would lose digits; forward and every gradient vs double. */
static void test_group_norm_large_planes(void **st)
{
    (void)st;
    vq_group_norm_shape s = {3, 8, 17, 19, 4, 1e-6f, 1};
    for (int swish = 0; swish < 2; swish++) {
        gn_case c; gn_init(&c, s, swish, 70 + swish);
        for (size_t i = 0; i < c.n; i++) c.x[i] += 5.0f;
        float *want = kt_alloc(c.n), *dx = kt_alloc(c.n), *wdx = kt_alloc(c.n);
        float *dg = kt_alloc(s.C), *db = kt_alloc(s.C), *wdg = kt_alloc(s.C), *wdb = kt_alloc(s.C);
        naive_gn(want, c.x, c.gamma, c.beta, &c.s, swish);
        naive_gn_backward(wdx, wdg, wdb, c.r, c.x, c.gamma, c.beta, &c.s, swish);
        gn_loss(&c);
        if (swish) vq_group_norm_swish_backward(dx, dg, db, c.r, c.x, c.mean, c.rstd, c.gamma, c.beta, &c.s);
        else vq_group_norm_backward(dx, dg, db, c.r, c.x, c.mean, c.rstd, c.gamma, &c.s);
        kt_assert_close("large-plane group_norm forward", c.y, want, c.n, 1e-5);
        kt_assert_close("large-plane group_norm dx", dx, wdx, c.n, 1e-5);
        kt_assert_close("large-plane group_norm dgamma", dg, wdg, s.C, 1e-3);   /* sums of ~1000 terms */
        kt_assert_close("large-plane group_norm dbeta", db, wdb, s.C, 1e-3);
        vq_free(want); vq_free(dx); vq_free(wdx); vq_free(dg); vq_free(db); vq_free(wdg); vq_free(wdb);
        gn_free(&c);
    }
}

/* ---- batch_norm ----------------------------------------------------------- */

typedef struct bn_case {
    vq_batch_norm_shape s;
    float *x, *gamma, *beta, *y, *r, *mean, *invstd, *rm, *rv;
    size_t n;
} bn_case;

static void bn_init(bn_case *c, vq_batch_norm_shape s, uint64_t seed)
{
    if (vq_batch_norm_check(&s)) { print_error("%s\n", vq_last_error()); fail(); }
    vq_rng rng; vq_rng_seed(&rng, seed);
    c->s = s; c->n = (size_t)s.B * s.C * s.H * s.W;
    c->x = kt_alloc(c->n); c->y = kt_alloc(c->n); c->r = kt_alloc(c->n);
    c->gamma = kt_alloc(s.C); c->beta = kt_alloc(s.C); c->mean = kt_alloc(s.C); c->invstd = kt_alloc(s.C);
    c->rm = kt_alloc(s.C); c->rv = kt_alloc(s.C);
    kt_fill(c->x, c->n, &rng, -2, 2); kt_fill(c->r, c->n, &rng, -1, 1);
    kt_fill(c->gamma, s.C, &rng, 0.5f, 1.5f); kt_fill(c->beta, s.C, &rng, -0.5f, 0.5f);
    for (int i = 0; i < s.C; i++) c->rv[i] = 1.0f;
}

static void bn_free(bn_case *c)
{
    vq_free(c->x); vq_free(c->y); vq_free(c->r); vq_free(c->gamma); vq_free(c->beta);
    vq_free(c->mean); vq_free(c->invstd); vq_free(c->rm); vq_free(c->rv);
}

static double bn_loss(void *ctx)
{
    bn_case *c = ctx;
    vq_batch_norm_forward_train(c->y, c->mean, c->invstd, NULL, NULL, NULL, c->x, c->gamma, c->beta, &c->s);
    return kt_dot(c->r, c->y, c->n);
}

/* {B, C, H, W, eps, momentum, affine} */
static const vq_batch_norm_shape bn_shapes[] = {
    {3, 2, 2, 3, 1e-5f, 0.1f, 1},
    {2, 3, 1, 2, 1e-5f, 0.1f, 0},
    {4, 2, 1, 1, 1e-5f, 0.3f, 1},   /* the discriminator's 1x1 maps, batch only */
    {2, 3, 15, 20, 1e-5f, 0.1f, 1}, /* planes of 300: norm.c's 256-value blocks plus a tail */
};

static void test_batch_norm_forward_train(void **st)
{
    (void)st;
    for (size_t t = 0; t < sizeof bn_shapes / sizeof bn_shapes[0]; t++) {
        bn_case c; bn_init(&c, bn_shapes[t], 30 + t);
        const vq_batch_norm_shape *s = &c.s;
        size_t P = (size_t)s->H * s->W, Nb = s->B * P;
        float *want = kt_alloc(c.n);
        for (int ch = 0; ch < s->C; ch++) {
            double mu = 0, var = 0;
            for (int b = 0; b < s->B; b++) for (size_t p = 0; p < P; p++) mu += c.x[(b * s->C + ch) * P + p];
            mu /= Nb;
            for (int b = 0; b < s->B; b++)
                for (size_t p = 0; p < P; p++) { double d = c.x[(b * s->C + ch) * P + p] - mu; var += d * d; }
            var /= Nb;
            for (int b = 0; b < s->B; b++)
                for (size_t p = 0; p < P; p++) {
                    double z = (c.x[(b * s->C + ch) * P + p] - mu) / sqrt(var + s->eps);
                    want[(b * s->C + ch) * P + p] = (float)(s->affine ? z * c.gamma[ch] + c.beta[ch] : z);
                }
        }
        bn_loss(&c);
        kt_assert_close("batch_norm train forward", c.y, want, c.n, 2e-6);
        vq_free(want); bn_free(&c);
    }
}

static void test_batch_norm_gradients(void **st)
{
    (void)st;
    for (size_t t = 0; t < sizeof bn_shapes / sizeof bn_shapes[0]; t++) {
        bn_case c; bn_init(&c, bn_shapes[t], 40 + t);
        int C = c.s.C;
        float *dx = kt_alloc(c.n), *dg = kt_alloc(C), *db = kt_alloc(C);
        bn_loss(&c);
        vq_batch_norm_backward(dx, dg, db, c.r, c.x, c.mean, c.invstd, c.gamma, &c.s);
        kt_check_grad("batch_norm dx", c.x, dx, c.n, bn_loss, &c, 1e-3f, 1e-2, 1e-4);
        if (c.s.affine) {
            kt_check_grad("batch_norm dgamma", c.gamma, dg, C, bn_loss, &c, 1e-3f, 1e-2, 1e-4);
            kt_check_grad("batch_norm dbeta", c.beta, db, C, bn_loss, &c, 1e-3f, 1e-2, 1e-4);
        }
        /* accumulation: a second call doubles every gradient (re-run forward:
         * the check left mean/invstd from a perturbed input) */
        bn_loss(&c);
        memset(dx, 0, c.n * sizeof(float)); memset(dg, 0, C * sizeof(float)); memset(db, 0, C * sizeof(float));
        vq_batch_norm_backward(dx, dg, db, c.r, c.x, c.mean, c.invstd, c.gamma, &c.s);
        float *dx2 = kt_alloc(c.n), *dg2 = kt_alloc(C), *db2 = kt_alloc(C);
        for (int k = 0; k < 2; k++) vq_batch_norm_backward(dx2, dg2, db2, c.r, c.x, c.mean, c.invstd, c.gamma, &c.s);
        kt_assert_doubled("batch_norm dx", dx2, dx, c.n);
        kt_assert_doubled("batch_norm dgamma", dg2, dg, C);
        kt_assert_doubled("batch_norm dbeta", db2, db, C);
        vq_free(dx); vq_free(dg); vq_free(db); vq_free(dx2); vq_free(dg2); vq_free(db2); bn_free(&c);
    }
}

/* Two training steps then eval, against nn.BatchNorm2d(2) (fixture) and the
 * hand formula running = 0.9 running + 0.1 stat, with the unbiased variance. */
static void test_batch_norm_running_stats_pytorch(void **st)
{
    (void)st;
    vq_batch_norm_shape s = {3, 2, 2, 3, 1e-5f, 0.1f, 1};
    enum { N = 3 * 2 * 2 * 3 };
    float x1[N], x2[N], g[N], y[N], gm[2], bt[2], mean[2], invstd[2];
    float rm[2] = {0, 0}, rv[2] = {1, 1}, dx[N] = {0}, dg[2] = {0}, db[2] = {0};
    int64_t nbt = 0;
    kt_fixture_input(x1, N, 0.1, 2.0); kt_fixture_input(x2, N, 0.7, 1.5);
    kt_fixture_input(gm, 2, 0.5, 0.8); kt_fixture_input(bt, 2, 0.6, 0.5); kt_fixture_input(g, N, 0.4, 1.0);
    /* hand formula, in double */
    double hm[2] = {0, 0}, hv[2] = {1, 1};
    for (int step = 0; step < 2; step++) {
        const float *x = step ? x2 : x1;
        for (int ch = 0; ch < 2; ch++) {
            double mu = 0, var = 0;
            for (int b = 0; b < 3; b++) for (int p = 0; p < 6; p++) mu += x[(b * 2 + ch) * 6 + p];
            mu /= 18;
            for (int b = 0; b < 3; b++) for (int p = 0; p < 6; p++) var += pow(x[(b * 2 + ch) * 6 + p] - mu, 2);
            hm[ch] = 0.9 * hm[ch] + 0.1 * mu;
            hv[ch] = 0.9 * hv[ch] + 0.1 * var / 17;
        }
        vq_batch_norm_forward_train(y, mean, invstd, rm, rv, &nbt, x, gm, bt, &s);
    }
    vq_batch_norm_backward(dx, dg, db, g, x2, mean, invstd, gm, &s);
    assert_int_equal(nbt, 2);
    for (int ch = 0; ch < 2; ch++) {
        assert_true(fabs(rm[ch] - hm[ch]) < 1e-6);
        assert_true(fabs(rv[ch] - hv[ch]) < 1e-6);
    }
    kt_assert_close("batch_norm running_mean vs torch", rm, fx_bn_running_mean, 2, 1e-6);
    kt_assert_close("batch_norm running_var vs torch", rv, fx_bn_running_var, 2, 1e-6);
    kt_assert_close("batch_norm y (step 2) vs torch", y, fx_bn_y2, N, 1e-5);
    kt_assert_close("batch_norm dx vs torch", dx, fx_bn_dx2, N, 1e-5);
    kt_assert_close("batch_norm dgamma vs torch", dg, fx_bn_dgamma2, 2, 1e-5);
    kt_assert_close("batch_norm dbeta vs torch", db, fx_bn_dbeta2, 2, 1e-5);
    vq_batch_norm_forward_eval(y, x1, rm, rv, gm, bt, &s);
    kt_assert_close("batch_norm eval vs torch", y, fx_bn_eval_y1, N, 1e-5);
}

static void test_checks(void **st)
{
    (void)st;
    vq_group_norm_shape g = {2, 6, 3, 4, 4, 1e-6f, 1};
    assert_int_equal(vq_group_norm_check(&g), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "groups"));
    vq_batch_norm_shape b = {1, 2, 1, 1, 1e-5f, 0.1f, 1};
    assert_int_equal(vq_batch_norm_check(&b), VQ_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_norm_forward),
        cmocka_unit_test(test_group_norm_gradients),
        cmocka_unit_test(test_group_norm_accumulates),
        cmocka_unit_test(test_group_norm_pytorch_fixture),
        cmocka_unit_test(test_group_norm_large_planes),
        cmocka_unit_test(test_batch_norm_forward_train),
        cmocka_unit_test(test_batch_norm_gradients),
        cmocka_unit_test(test_batch_norm_running_stats_pytorch),
        cmocka_unit_test(test_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
