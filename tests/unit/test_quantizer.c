/* test_quantizer.c: the runtime's vector quantizer (runtime/quantizer.h).
 *
 * Expected values come from: a double-precision brute-force nearest search
 * written here; hand-derived numbers (worked out in the comments); central
 * finite differences of a double-precision surrogate loss written here with
 * PyTorch's stop-gradient semantics (detached terms frozen at the base point);
 * distributions whose perplexity is known in closed form; and a fixture from
 * the reference repositories' quantizer code run in PyTorch (quantizer_ref.py).
 *
 * Legend: B, H, W batch and spatial, N = B*H*W, K codes, D channels of z,
 * d lookup dimension. z and z_q are NCHW. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cmocka.h>
#include <omp.h>

#include "quantizer.h"
#include "quantizer_ref.h" /* PyTorch fixture: tests/unit/quantizer_ref.py */

#define CHECK(call) do { int rc_ = (call); if (rc_) fail_msg("%s -> %d: %s", #call, rc_, vq_last_error()); } while (0)

static float *fzeros(size_t n) { float *p = calloc(n, sizeof(float)); assert_non_null(p); return p; }

/* NCHW (B, C, H, W) element of vector n = b*H*W + p, channel c. */
static size_t nchw(int64_t n, int c, int C, int64_t HW) { return (size_t)(((n / HW) * C + c) * HW + n % HW); }

/* Lowest-index argmin of |z_n - e_k|^2 in double; *ties = 1 if another code has the same distance. */
static int brute_nearest(const float *z, int64_t n, const float *e, int K, int D, int64_t HW, double *dbest,
                         int *ties)
{
    int best = 0;
    double bd = INFINITY;
    *ties = 0;
    for (int k = 0; k < K; k++) {
        double s = 0.0;
        for (int c = 0; c < D; c++) { double t = (double)z[nchw(n, c, D, HW)] - e[k * D + c]; s += t * t; }
        if (s < bd) { bd = s; best = k; *ties = 0; }
        else if (s == bd) *ties = 1;
    }
    if (dbest) *dbest = bd;
    return best;
}

static double sqdist_to(const float *z, int64_t n, const float *e, int k, int D, int64_t HW)
{
    double s = 0.0;
    for (int c = 0; c < D; c++) { double t = (double)z[nchw(n, c, D, HW)] - e[k * D + c]; s += t * t; }
    return s;
}

/* --- nearest-code search ---------------------------------------------------- */

/* Random continuous data: indices must equal the double search; a float
 * near-tie (gap below float resolution) may pick the other code, which is
 * accepted only if its double distance is within 1e-5 of the best. */
static void check_random_search(int B, int D, int H, int W, int K, int tile_n, int tile_k, uint64_t seed)
{
    vq_codebook_opts o;
    vq_codebook_opts_default(&o, K, D);
    o.tile_n = tile_n; o.tile_k = tile_k;
    vq_codebook cb;
    CHECK(vq_codebook_create(&cb, &o));
    vq_rng rng; vq_rng_seed(&rng, seed);
    for (int i = 0; i < K * D; i++) cb.embed[i] = vq_rng_normal(&rng, 0.0f, 1.0f);
    const int64_t HW = (int64_t)H * W, N = B * HW;
    float *z = fzeros((size_t)N * D), *zq = fzeros((size_t)N * D);
    int32_t *idx = calloc((size_t)N, sizeof(int32_t));
    for (int64_t i = 0; i < N * D; i++) z[i] = vq_rng_normal(&rng, 0.0f, 1.0f);
    float loss;
    CHECK(vq_quantize_forward(idx, zq, &loss, z, &cb, B, H, W));
    int exact = 0;
    double sse = 0.0;
    for (int64_t n = 0; n < N; n++) {
        double bd; int ties;
        int best = brute_nearest(z, n, cb.embed, K, D, HW, &bd, &ties);
        assert_in_range(idx[n], 0, K - 1);
        double got = sqdist_to(z, n, cb.embed, idx[n], D, HW);
        if (idx[n] == best) exact++;
        else if (got - bd > 1e-5 * (1.0 + bd))
            fail_msg("n=%lld: picked %d (dist %.9g), brute force %d (dist %.9g)", (long long)n, idx[n], got, best, bd);
        sse += got;
        for (int c = 0; c < D; c++) assert_true(zq[nchw(n, c, D, HW)] == cb.embed[idx[n] * D + c]);
    }
    assert_true(exact >= N - 2);
    double want = (1.0 + 0.25) * sse / ((double)N * D); /* legacy, beta 0.25: mse + beta*mse */
    assert_true(fabs(loss - want) <= 1e-5 * want);
    free(z); free(zq); free(idx);
    vq_codebook_destroy(&cb);
}

static void test_indices_match_bruteforce(void **state)
{
    (void)state;
    /* N = 70 is not a multiple of tile_n 8; K = 37 not a multiple of tile_k 16. */
    check_random_search(2, 6, 5, 7, 37, 8, 16, 1);
    /* Default tiles 256 x 1024: N = 300 and K = 1100 each span two partial tiles. */
    check_random_search(3, 8, 10, 10, 1100, 0, 0, 2);
}

/* Small integers make every product and sum exact in float, so distances tie
 * exactly; the lowest index must win, also across tile boundaries (tile_k 16). */
static void test_indices_planted_ties(void **state)
{
    (void)state;
    const int K = 37, D = 4, B = 1, H = 7, W = 10;
    const int64_t HW = H * W, N = B * HW;
    vq_codebook_opts o;
    vq_codebook_opts_default(&o, K, D);
    o.tile_n = 8; o.tile_k = 16;
    vq_codebook cb;
    CHECK(vq_codebook_create(&cb, &o));
    vq_rng rng; vq_rng_seed(&rng, 3);
    for (int i = 0; i < K * D; i++) cb.embed[i] = (float)((int)vq_rng_below(&rng, 5) - 2);
    /* Duplicated codes: 20 = 3 (same tile 1 vs 2), 33 = 17 (tile 2 vs 3), 36 = 0 (tile 1 vs 3). */
    const int dup[3][2] = { { 3, 20 }, { 17, 33 }, { 0, 36 } };
    for (int t = 0; t < 3; t++) memcpy(cb.embed + dup[t][1] * D, cb.embed + dup[t][0] * D, D * sizeof(float));
    float *z = fzeros((size_t)N * D), *zq = fzeros((size_t)N * D);
    int32_t *idx = calloc((size_t)N, sizeof(int32_t));
    for (int64_t i = 0; i < N * D; i++) z[i] = (float)((int)vq_rng_below(&rng, 5) - 2);
    for (int t = 0; t < 3; t++) /* vectors sitting exactly on a duplicated code */
        for (int c = 0; c < D; c++) z[nchw(t, c, D, HW)] = cb.embed[dup[t][1] * D + c];
    CHECK(vq_quantize_forward(idx, zq, NULL, z, &cb, B, H, W));
    int tied = 0;
    for (int64_t n = 0; n < N; n++) {
        int ties;
        int best = brute_nearest(z, n, cb.embed, K, D, HW, NULL, &ties);
        tied += ties;
        if (idx[n] != best) fail_msg("n=%lld: picked %d, lowest nearest is %d (tie: %d)", (long long)n, idx[n], best, ties);
    }
    for (int t = 0; t < 3; t++) assert_int_equal(idx[t], dup[t][0]);
    assert_true(tied >= 10); /* the data really exercises ties */
    free(z); free(zq); free(idx);
    vq_codebook_destroy(&cb);
}

/* Codes of very different length: l2 picks the short one nearby, cosine the
 * long one at a smaller angle. z = (1, 0.2): angle 11.3 deg; e0 = (10, 0) at
 * 0 deg, |z - e0|^2 = 81.04; e1 = (0.7, 0.7) at 45 deg, |z - e1|^2 = 0.34. */
static void test_cosine_picks_by_angle(void **state)
{
    (void)state;
    const float e[4] = { 10.0f, 0.0f, 0.7f, 0.7f }, z[2] = { 1.0f, 0.2f };
    for (int cos = 0; cos < 2; cos++) {
        vq_codebook_opts o;
        vq_codebook_opts_default(&o, 2, 2);
        o.distance = cos ? VQ_DIST_COSINE : VQ_DIST_L2;
        vq_codebook cb;
        CHECK(vq_codebook_create(&cb, &o));
        memcpy(cb.embed, e, sizeof e);
        int32_t idx = -1;
        float zq[2], loss;
        CHECK(vq_quantize_forward(&idx, zq, &loss, z, &cb, 1, 1, 1));
        assert_int_equal(idx, cos ? 0 : 1);
        if (cos) {
            /* z_q is the unit code (1, 0); mse against z/|z| = (0.98058, 0.19612):
             * ((1 - 0.98058)^2 + 0.19612^2) / 2 = (2 - 2*0.98058) / 2 = 0.019419. */
            assert_float_equal(zq[0], 1.0f, 1e-7);
            assert_float_equal(zq[1], 0.0f, 1e-7);
            double mse = 1.0 - 1.0 / sqrt(1.04);
            assert_float_equal(loss, 1.25 * mse, 1e-6);
        }
        vq_codebook_destroy(&cb);
    }
}

/* --- loss values and hand-derived gradients ------------------------------------ */

/* D = 2, K = 2, two vectors (B=1, H=1, W=2): z0 = (1, 0), z1 = (0, 2);
 * e0 = (1, 1), e1 = (0, 3). z0 -> e0 (1 vs 10), z1 -> e1 (2 vs 1).
 * Squared errors 1 + 1, M = N*d = 4, mse = 0.5, beta = 0.25:
 *   gradient update: LEGACY 0.5 + 0.25*0.5 = 0.625 = CORRECTED 0.25*0.5 + 0.5
 *   EMA: LEGACY 1*0.5 = 0.5, CORRECTED 0.25*0.5 = 0.125.
 * Backward with w = 1: dz_n = dzq_n + a*2/4*(z_n - e_n), z - e = (0, -1) for both,
 *   LEGACY a = 1 -> (0, -0.5); CORRECTED a = 0.25 -> (0, -0.125).
 *   dembed_k = g*2/4*(e_k - z_n) = g*(0, 0.5): LEGACY g = 0.25 -> (0, 0.125); CORRECTED -> (0, 0.5). */
static void test_loss_forms_tiny(void **state)
{
    (void)state;
    const float z[4] = { 1.0f, 0.0f, /* channel 1: */ 0.0f, 2.0f };
    const float e[4] = { 1.0f, 1.0f, 0.0f, 3.0f };
    const float dzq[4] = { 0.5f, -1.0f, 2.0f, 0.25f };
    const struct { vq_update_rule up; vq_loss_form form; float loss, dz_y, de_y; } cases[4] = {
        { VQ_UPDATE_GRADIENT, VQ_LOSS_LEGACY, 0.625f, -0.5f, 0.125f },
        { VQ_UPDATE_GRADIENT, VQ_LOSS_CORRECTED, 0.625f, -0.125f, 0.5f },
        { VQ_UPDATE_EMA, VQ_LOSS_LEGACY, 0.5f, -0.5f, 0.0f },
        { VQ_UPDATE_EMA, VQ_LOSS_CORRECTED, 0.125f, -0.125f, 0.0f },
    };
    for (int t = 0; t < 4; t++) {
        vq_codebook_opts o;
        vq_codebook_opts_default(&o, 2, 2);
        o.update = cases[t].up; o.loss_form = cases[t].form;
        vq_codebook cb;
        CHECK(vq_codebook_create(&cb, &o));
        memcpy(cb.embed, e, sizeof e);
        int32_t idx[2];
        float zq[4], loss;
        CHECK(vq_quantize_forward(idx, zq, &loss, z, &cb, 1, 1, 2));
        assert_int_equal(idx[0], 0);
        assert_int_equal(idx[1], 1);
        const float zq_want[4] = { 1.0f, 0.0f, 1.0f, 3.0f };
        for (int i = 0; i < 4; i++) assert_true(zq[i] == zq_want[i]);
        assert_float_equal(loss, cases[t].loss, 1e-7);
        /* Prefilled buffers check accumulation (+=). */
        float dz[4] = { 1.0f, 1.0f, 1.0f, 1.0f }, de[4] = { 2.0f, 2.0f, 2.0f, 2.0f };
        vq_codebook_grads g = { .dembed = de };
        CHECK(vq_quantize_backward(&g, dz, dzq, z, idx, &cb, 1, 1, 2, 1.0f));
        assert_float_equal(dz[0], 1.0f + dzq[0], 1e-7);
        assert_float_equal(dz[1], 1.0f + dzq[1], 1e-7);
        assert_float_equal(dz[2], 1.0f + dzq[2] + cases[t].dz_y, 1e-7);
        assert_float_equal(dz[3], 1.0f + dzq[3] + cases[t].dz_y, 1e-7);
        for (int k = 0; k < 2; k++) {
            assert_float_equal(de[k * 2 + 0], 2.0f, 1e-7);
            assert_float_equal(de[k * 2 + 1], 2.0f + cases[t].de_y, 1e-7);
        }
        vq_codebook_destroy(&cb);
    }
}

/* --- finite differences of a double-precision surrogate ----------------------- */

typedef struct fd_problem {
    int B, D, H, W, K, d, proj, cosine;
    double a, g, w;                   /* loss coefficients and loss weight */
    int32_t *idx;                     /* (N) frozen assignment */
    double *v0, *c0;                  /* (N, d) detached v_n and c_{i_n} at the base point */
    double *R;                        /* (B, D, H, W) upstream gradient dL/dz_q */
} fd_problem;

typedef struct fd_params { double *z, *e, *pin_w, *pin_b, *pout_w, *pout_b; } fd_params;

/* v (d) for vector n of z; code k (d) as searched. */
static void sur_v(double *v, const fd_problem *p, const fd_params *q, int64_t n)
{
    const int64_t HW = (int64_t)p->H * p->W;
    double x[64], u[64];
    for (int c = 0; c < p->D; c++) x[c] = q->z[nchw(n, c, p->D, HW)];
    for (int j = 0; j < p->d; j++) {
        if (p->proj) { u[j] = q->pin_b[j]; for (int c = 0; c < p->D; c++) u[j] += q->pin_w[j * p->D + c] * x[c]; }
        else u[j] = x[j];
    }
    double s = 0.0;
    for (int j = 0; j < p->d; j++) s += u[j] * u[j];
    double sc = p->cosine ? 1.0 / fmax(sqrt(s), 1e-12) : 1.0;
    for (int j = 0; j < p->d; j++) v[j] = u[j] * sc;
}

static void sur_code(double *c, const fd_problem *p, const fd_params *q, int k)
{
    double s = 0.0;
    for (int j = 0; j < p->d; j++) s += q->e[k * p->d + j] * q->e[k * p->d + j];
    double sc = p->cosine ? 1.0 / fmax(sqrt(s), 1e-12) : 1.0;
    for (int j = 0; j < p->d; j++) c[j] = q->e[k * p->d + j] * sc;
}

/* L = <R, z_q> + w * (a * mean((sg c - v)^2) + g * mean((c - sg v)^2)),
 * z_q_n = P_out (v_n + sg(c_n - v_n)) + b_out, exactly as taming writes it. */
static double surrogate(const fd_problem *p, const fd_params *q)
{
    const int64_t HW = (int64_t)p->H * p->W, N = p->B * HW;
    double L = 0.0, commit = 0.0, book = 0.0;
    for (int64_t n = 0; n < N; n++) {
        double v[64], c[64], qv[64];
        sur_v(v, p, q, n);
        sur_code(c, p, q, p->idx[n]);
        for (int j = 0; j < p->d; j++) {
            qv[j] = v[j] + (p->c0[n * p->d + j] - p->v0[n * p->d + j]);
            double t = p->c0[n * p->d + j] - v[j];
            commit += t * t;
            t = c[j] - p->v0[n * p->d + j];
            book += t * t;
        }
        for (int ch = 0; ch < p->D; ch++) {
            double out = qv[ch < p->d ? ch : 0];
            if (p->proj) { out = q->pout_b[ch]; for (int j = 0; j < p->d; j++) out += q->pout_w[ch * p->d + j] * qv[j]; }
            L += p->R[nchw(n, ch, p->D, HW)] * out;
        }
    }
    double M = (double)N * p->d;
    return L + p->w * (p->a * commit + p->g * book) / M;
}

/* Central differences of the surrogate over every element of x (double),
 * compared with the float analytic gradient minus its prefill. */
static void fd_compare(const char *name, double *x, int64_t n, const float *ana, float prefill,
                       const fd_problem *p, const fd_params *q)
{
    const double h = 1e-5;
    double scale = 0.0, maxerr = 0.0;
    double *num = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h; double lp = surrogate(p, q);
        x[i] = keep - h; double lm = surrogate(p, q);
        x[i] = keep;
        num[i] = (lp - lm) / (2 * h);
        scale = fmax(scale, fabs(num[i]));
    }
    for (int64_t i = 0; i < n; i++) {
        double err = fabs(num[i] - ((double)ana[i] - prefill));
        maxerr = fmax(maxerr, err);
        if (err > 1e-3 * fabs(num[i]) + 1e-4 * scale + 1e-7)
            fail_msg("%s[%lld]: analytic %.8g, finite difference %.8g", name, (long long)i,
                     (double)ana[i] - prefill, num[i]);
    }
    assert_true(scale > 0.0 || n == 0); /* a gradient that is identically zero checks nothing */
    print_message("    %-12s max |err| %.2e (max |grad| %.2e)\n", name, maxerr, scale);
    free(num);
}

static double *to_double(const float *f, int64_t n)
{
    double *d = malloc((size_t)n * sizeof(double));
    for (int64_t i = 0; i < n; i++) d[i] = f[i];
    return d;
}

static void check_gradients(vq_update_rule up, vq_loss_form form, vq_distance dist, int lookup_dim, uint64_t seed)
{
    const int B = 2, D = 5, H = 2, W = 3, K = 7;
    const int64_t HW = H * W, N = B * HW;
    vq_codebook_opts o;
    vq_codebook_opts_default(&o, K, D);
    o.update = up; o.loss_form = form; o.distance = dist; o.lookup_dim = lookup_dim; o.beta = 0.3f;
    o.init = VQ_INIT_NORMAL;
    vq_codebook cb;
    CHECK(vq_codebook_create(&cb, &o));
    const int d = cb.d, proj = d < D;
    vq_rng rng; vq_rng_seed(&rng, seed);
    CHECK(vq_codebook_init(&cb, &rng, NULL, 0, 0, 0));
    float *z = fzeros((size_t)N * D), *zq = fzeros((size_t)N * D), *R = fzeros((size_t)N * D);
    for (int64_t i = 0; i < N * D; i++) { z[i] = vq_rng_normal(&rng, 0.0f, 1.0f); R[i] = vq_rng_normal(&rng, 0.0f, 1.0f); }
    int32_t *idx = calloc((size_t)N, sizeof(int32_t));
    float loss;
    CHECK(vq_quantize_forward(idx, zq, &loss, z, &cb, B, H, W));

    /* The surrogate in double at the same (float) point. */
    const int legacy = form == VQ_LOSS_LEGACY;
    fd_problem p = { B, D, H, W, K, d, proj, dist == VQ_DIST_COSINE,
                     legacy ? 1.0 : o.beta, up == VQ_UPDATE_EMA ? 0.0 : (legacy ? o.beta : 1.0),
                     0.5 * (double)N * d, /* w: makes 2w/M = 1, so the loss terms weigh like dzq */
                     idx, malloc(N * d * sizeof(double)), malloc(N * d * sizeof(double)), to_double(R, N * D) };
    fd_params q = { to_double(z, N * D), to_double(cb.embed, K * d), NULL, NULL, NULL, NULL };
    if (proj) {
        q.pin_w = to_double(cb.proj_in_w, d * D); q.pin_b = to_double(cb.proj_in_b, d);
        q.pout_w = to_double(cb.proj_out_w, D * d); q.pout_b = to_double(cb.proj_out_b, D);
    }
    for (int64_t n = 0; n < N; n++) {
        sur_v(p.v0 + n * d, &p, &q, n);
        /* The forward's choice must be the double-precision nearest code. */
        int best = 0; double bd = INFINITY, c[64];
        for (int k = 0; k < K; k++) {
            sur_code(c, &p, &q, k);
            double s = 0.0;
            for (int j = 0; j < d; j++) s += (p.v0[n * d + j] - c[j]) * (p.v0[n * d + j] - c[j]);
            if (s < bd) { bd = s; best = k; }
        }
        assert_int_equal(idx[n], best);
        sur_code(p.c0 + n * d, &p, &q, idx[n]);
    }
    /* Forward value: <R, zq> of the surrogate at the base point is <R, zq> of the C forward. */
    double rz = 0.0;
    for (int64_t i = 0; i < N * D; i++) rz += (double)R[i] * zq[i];
    double want_loss = (surrogate(&p, &q) - rz) / p.w;
    assert_true(fabs(loss - want_loss) <= 1e-5 * fabs(want_loss) + 1e-6);

    const float pre = 0.5f; /* every gradient buffer starts here: backward must add */
    float *dz = fzeros(N * D), *de = fzeros(K * d), *dpiw = fzeros(d * D), *dpib = fzeros(d);
    float *dpow = fzeros(D * d), *dpob = fzeros(D);
    float *all[6] = { dz, de, dpiw, dpib, dpow, dpob };
    const int64_t sizes[6] = { N * D, K * d, d * D, d, D * d, D };
    for (int t = 0; t < 6; t++) for (int64_t i = 0; i < sizes[t]; i++) all[t][i] = pre;
    vq_codebook_grads g = { de, dpiw, dpib, dpow, dpob };
    CHECK(vq_quantize_backward(&g, dz, R, z, idx, &cb, B, H, W, (float)p.w));

    fd_compare("dz", q.z, N * D, dz, pre, &p, &q);
    if (up == VQ_UPDATE_GRADIENT) fd_compare("dembed", q.e, K * d, de, pre, &p, &q);
    else for (int64_t i = 0; i < K * d; i++) assert_true(de[i] == pre); /* EMA: no codebook gradient */
    if (proj) {
        fd_compare("dproj_in_w", q.pin_w, d * D, dpiw, pre, &p, &q);
        fd_compare("dproj_in_b", q.pin_b, d, dpib, pre, &p, &q);
        fd_compare("dproj_out_w", q.pout_w, D * d, dpow, pre, &p, &q);
        fd_compare("dproj_out_b", q.pout_b, D, dpob, pre, &p, &q);
    }
    for (int t = 0; t < 6; t++) free(all[t]);
    free(p.v0); free(p.c0); free(p.R);
    free(q.z); free(q.e); free(q.pin_w); free(q.pin_b); free(q.pout_w); free(q.pout_b);
    free(z); free(zq); free(R); free(idx);
    vq_codebook_destroy(&cb);
}

static void test_grad_fd_l2(void **state)
{
    (void)state;
    check_gradients(VQ_UPDATE_GRADIENT, VQ_LOSS_LEGACY, VQ_DIST_L2, 0, 10);
    check_gradients(VQ_UPDATE_GRADIENT, VQ_LOSS_CORRECTED, VQ_DIST_L2, 0, 11);
    check_gradients(VQ_UPDATE_EMA, VQ_LOSS_LEGACY, VQ_DIST_L2, 0, 12);
}

static void test_grad_fd_cosine(void **state)
{
    (void)state;
    check_gradients(VQ_UPDATE_GRADIENT, VQ_LOSS_LEGACY, VQ_DIST_COSINE, 0, 20);
    check_gradients(VQ_UPDATE_GRADIENT, VQ_LOSS_CORRECTED, VQ_DIST_COSINE, 0, 21);
}

static void test_grad_fd_projection(void **state)
{
    (void)state;
    check_gradients(VQ_UPDATE_GRADIENT, VQ_LOSS_CORRECTED, VQ_DIST_L2, 3, 30);
    check_gradients(VQ_UPDATE_GRADIENT, VQ_LOSS_LEGACY, VQ_DIST_COSINE, 3, 31);
    check_gradients(VQ_UPDATE_EMA, VQ_LOSS_CORRECTED, VQ_DIST_COSINE, 2, 32);
}

/* --- EMA, restart, k-means -------------------------------------------------- */

/* K = 2, d = 2, decay 0.9, eps 0.1. embed e0 = (0, 0), e1 = (10, 10);
 * cluster_size (1, 2); embed_avg (1, 1), (20, 20).
 * z: (1, 0), (0, 1) -> code 0; (9, 11) -> code 1. counts (2, 1), sums (1, 1), (9, 11).
 *   cluster_size = 0.9*(1, 2) + 0.1*(2, 1) = (1.1, 1.9); n = 3
 *   embed_avg0 = 0.9*(1, 1) + 0.1*(1, 1) = (1, 1)
 *   embed_avg1 = 0.9*(20, 20) + 0.1*(9, 11) = (18.9, 19.1)
 *   cs = (cluster_size + 0.1) / (3 + 2*0.1) * 3 = (1.125, 1.875)
 *   embed0 = (1, 1) / 1.125 = (0.8888889, 0.8888889); embed1 = (18.9, 19.1) / 1.875 = (10.08, 10.186667) */
static void test_ema_step_tiny(void **state)
{
    (void)state;
    vq_codebook_opts o;
    vq_codebook_opts_default(&o, 2, 2);
    o.update = VQ_UPDATE_EMA; o.decay = 0.9; o.eps = 0.1;
    vq_codebook cb;
    CHECK(vq_codebook_create(&cb, &o));
    const float e[4] = { 0, 0, 10, 10 }, ea[4] = { 1, 1, 20, 20 }, cs[2] = { 1, 2 };
    memcpy(cb.embed, e, sizeof e); memcpy(cb.embed_avg, ea, sizeof ea); memcpy(cb.cluster_size, cs, sizeof cs);
    const float z[6] = { 1, 0, 9, /* channel 1 */ 0, 1, 11 };
    int32_t idx[3];
    float zq[6];
    CHECK(vq_quantize_forward(idx, zq, NULL, z, &cb, 1, 1, 3));
    assert_int_equal(idx[0], 0); assert_int_equal(idx[1], 0); assert_int_equal(idx[2], 1);
    CHECK(vq_ema_update(&cb, z, idx, 1, 1, 3));
    assert_float_equal(cb.cluster_size[0], 1.1f, 1e-6);
    assert_float_equal(cb.cluster_size[1], 1.9f, 1e-6);
    const float ea_want[4] = { 1.0f, 1.0f, 18.9f, 19.1f };
    const float e_want[4] = { 1.0f / 1.125f, 1.0f / 1.125f, 10.08f, 10.186667f };
    for (int i = 0; i < 4; i++) {
        assert_float_equal(cb.embed_avg[i], ea_want[i], 1e-5);
        assert_float_equal(cb.embed[i], e_want[i], 1e-5);
    }
    /* The gradient-updated codebook refuses an EMA step. */
    vq_codebook g;
    vq_codebook_opts_default(&o, 2, 2);
    CHECK(vq_codebook_create(&g, &o));
    assert_int_equal(vq_ema_update(&g, z, idx, 1, 1, 3), VQ_ERR_ARG);
    vq_codebook_destroy(&g);
    vq_codebook_destroy(&cb);
}

/* Codes 4..7 sit far from the data and are never chosen; after restart_after
 * recorded steps they are re-seeded from encoder outputs and get chosen. */
static void test_restart_revives_dead_codes(void **state)
{
    (void)state;
    const int K = 8, D = 2, B = 1, H = 4, W = 8;
    const int64_t N = B * H * W, HW = H * W;
    vq_codebook_opts o;
    vq_codebook_opts_default(&o, K, D);
    o.restart_after = 3;
    vq_codebook cb;
    CHECK(vq_codebook_create(&cb, &o));
    vq_rng rng; vq_rng_seed(&rng, 5);
    for (int k = 0; k < K; k++)
        for (int c = 0; c < D; c++) cb.embed[k * D + c] = k < 4 ? (float)(k * 3 + c) : 1000.0f + k;
    float *z = fzeros(N * D), *zq = fzeros(N * D), *e_before = fzeros(K * D);
    int32_t *idx = calloc(N, sizeof(int32_t));
    for (int64_t n = 0; n < N; n++)
        for (int c = 0; c < D; c++) z[nchw(n, c, D, HW)] = (float)((n % 4) * 3 + c) + vq_rng_normal(&rng, 0, 0.3f);
    int restarted = -1;
    for (int step = 0; step < 3; step++) {
        CHECK(vq_quantize_forward(idx, zq, NULL, z, &cb, B, H, W));
        CHECK(vq_usage_record(&cb, idx, N));
        CHECK(vq_restart_dead_codes(&cb, &restarted, z, B, H, W, &rng));
        assert_int_equal(restarted, step < 2 ? 0 : 4);
    }
    int used;
    vq_usage_stats(&used, NULL, cb.usage_window, K);
    assert_int_equal(used, 4);
    assert_int_equal(cb.window_steps, 3);
    for (int k = 0; k < 4; k++) assert_true(cb.embed[k * D] == (float)(k * 3)); /* live codes untouched */
    memcpy(e_before, cb.embed, K * D * sizeof(float));
    for (int k = 4; k < K; k++) {
        assert_int_equal(cb.steps_since_used[k], 0);
        int found = 0; /* each revived code is one of this batch's vectors */
        for (int64_t n = 0; n < N && !found; n++)
            found = cb.embed[k * D] == z[nchw(n, 0, D, HW)] && cb.embed[k * D + 1] == z[nchw(n, 1, D, HW)];
        assert_true(found);
    }
    CHECK(vq_quantize_forward(idx, zq, NULL, z, &cb, B, H, W));
    int64_t counts[8] = { 0 };
    CHECK(vq_usage_count(counts, idx, N, K));
    for (int k = 4; k < K; k++) {
        int dup = 0; /* a code equal to an earlier one loses the tie, by design */
        for (int j = 0; j < k; j++) dup |= e_before[j * D] == e_before[k * D] && e_before[j * D + 1] == e_before[k * D + 1];
        if (!dup) assert_true(counts[k] > 0);
    }
    vq_usage_stats(&used, NULL, counts, K);
    assert_true(used > 4);
    free(z); free(zq); free(e_before); free(idx);
    vq_codebook_destroy(&cb);

    /* EMA: cluster_size below the threshold marks a code dead; it comes back
     * with cluster_size max(threshold, 1) and embed_avg = sample * that. */
    vq_codebook_opts_default(&o, 2, 1);
    o.update = VQ_UPDATE_EMA; o.restart_threshold = 0.5f;
    CHECK(vq_codebook_create(&cb, &o));
    cb.embed[0] = 1.0f; cb.embed[1] = 7.0f;
    cb.cluster_size[0] = 3.0f; cb.cluster_size[1] = 0.25f;
    const float zz[1] = { 2.5f };
    CHECK(vq_restart_dead_codes(&cb, &restarted, zz, 1, 1, 1, &rng));
    assert_int_equal(restarted, 1);
    assert_true(cb.embed[0] == 1.0f && cb.embed[1] == 2.5f);
    assert_true(cb.cluster_size[1] == 1.0f && cb.embed_avg[1] == 2.5f);
    vq_codebook_destroy(&cb);
}

/* Eight well separated clusters (centers N(0, 3^2), noise sd 0.1) in D = 4:
 * k-means init should find them (distortion near the noise variance 0.01 per
 * element), far below taming's uniform(-1/K, 1/K) init. beta = 0: loss = mse. */
static void test_kmeans_beats_uniform(void **state)
{
    (void)state;
    const int K = 8, D = 4, B = 4, H = 10, W = 20;
    const int64_t HW = H * W, N = B * HW;
    vq_rng rng; vq_rng_seed(&rng, 7);
    float centers[8 * 4];
    for (int i = 0; i < K * D; i++) centers[i] = vq_rng_normal(&rng, 0.0f, 3.0f);
    float *z = fzeros(N * D), *zq = fzeros(N * D);
    int32_t *idx = calloc(N, sizeof(int32_t));
    for (int64_t n = 0; n < N; n++)
        for (int c = 0; c < D; c++) z[nchw(n, c, D, HW)] = centers[(n % K) * D + c] + vq_rng_normal(&rng, 0.0f, 0.1f);
    float loss[2];
    for (int t = 0; t < 2; t++) {
        vq_codebook_opts o;
        vq_codebook_opts_default(&o, K, D);
        o.beta = 0.0f;
        o.init = t ? VQ_INIT_KMEANS : VQ_INIT_UNIFORM;
        vq_codebook cb;
        CHECK(vq_codebook_create(&cb, &o));
        CHECK(vq_codebook_init(&cb, &rng, z, B, H, W));
        if (!t) for (int i = 0; i < K * D; i++) assert_true(fabsf(cb.embed[i]) <= 1.0f / K);
        CHECK(vq_quantize_forward(idx, zq, &loss[t], z, &cb, B, H, W));
        vq_codebook_destroy(&cb);
    }
    print_message("    mse: uniform init %.4f, k-means init %.4f\n", loss[0], loss[1]);
    assert_true(loss[1] < 0.01f * loss[0]);
    assert_true(loss[1] < 0.02f); /* every cluster found: 0.01 noise + small center error */
    /* Too few vectors for K codes is an error, not a silent fallback. */
    vq_codebook_opts o;
    vq_codebook_opts_default(&o, K, D);
    o.init = VQ_INIT_KMEANS;
    vq_codebook cb;
    CHECK(vq_codebook_create(&cb, &o));
    assert_int_equal(vq_codebook_init(&cb, &rng, z, 1, 1, 4), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "at least K=8"));
    vq_codebook_destroy(&cb);
    free(z); free(zq); free(idx);
}

/* --- statistics, layout, checkpoint list, errors, threads --------------------- */

/* counts (1, 1, 2, 4, 0): p = (1/8, 1/8, 1/4, 1/2), H = 2*(3/8) ln2 + (2/4) ln2 + (1/2) ln2
 * = 1.75 ln2, perplexity 2^1.75 = 3.3635857; 4 codes used. Uniform over 4: perplexity 4. */
static void test_perplexity_known(void **state)
{
    (void)state;
    const int32_t idx[8] = { 3, 2, 3, 0, 3, 1, 2, 3 };
    int64_t counts[5] = { 0 };
    CHECK(vq_usage_count(counts, idx, 8, 5));
    int used; double ppl;
    vq_usage_stats(&used, &ppl, counts, 5);
    assert_int_equal(used, 4);
    assert_float_equal(ppl, pow(2.0, 1.75), 1e-12);
    const int64_t uni[4] = { 5, 5, 5, 5 };
    vq_usage_stats(&used, &ppl, uni, 4);
    assert_float_equal(ppl, 4.0, 1e-12);
    const int64_t none[3] = { 0 };
    vq_usage_stats(&used, &ppl, none, 3);
    assert_int_equal(used, 0);
    assert_float_equal(ppl, 1.0, 0);
    const int32_t bad[1] = { 5 };
    assert_int_equal(vq_usage_count(counts, bad, 1, 5), VQ_ERR_ARG);
}

/* rosinality's embed (d, K) = [[1, 2, 3], [4, 5, 6]] is taming's (K, d) [[1, 4], [2, 5], [3, 6]]. */
static void test_layout_conversion(void **state)
{
    (void)state;
    const float dk[6] = { 1, 2, 3, 4, 5, 6 }, kd_want[6] = { 1, 4, 2, 5, 3, 6 };
    float kd[6], back[6];
    vq_embed_from_dk(kd, dk, 3, 2);
    for (int i = 0; i < 6; i++) assert_true(kd[i] == kd_want[i]);
    vq_embed_to_dk(back, kd, 3, 2);
    for (int i = 0; i < 6; i++) assert_true(back[i] == dk[i]);
}

static void test_checkpoint_state_list(void **state)
{
    (void)state;
    vq_codebook_opts o;
    vq_codebook_opts_default(&o, 16, 8);
    o.update = VQ_UPDATE_EMA; o.lookup_dim = 4;
    vq_codebook cb;
    CHECK(vq_codebook_create(&cb, &o));
    vq_state_entry st[16];
    int n = vq_codebook_state(st, 16, &cb);
    assert_int_equal(n, 11);
    assert_int_equal(vq_codebook_state(NULL, 0, &cb), 11);
    assert_string_equal(st[0].name, "embed");
    assert_ptr_equal(st[0].data, cb.embed);
    assert_int_equal(st[0].shape[0], 16); assert_int_equal(st[0].shape[1], 4);
    assert_string_equal(st[6].name, "embed_avg");
    assert_string_equal(st[8].name, "steps_since_used");
    assert_int_equal(st[8].dtype, VQ_STATE_I32);
    vq_codebook_destroy(&cb);
    vq_codebook_opts_default(&o, 16, 8); /* gradient, no projection: embed + usage only */
    CHECK(vq_codebook_create(&cb, &o));
    assert_int_equal(vq_codebook_state(st, 16, &cb), 5);
    vq_codebook_destroy(&cb);
}

/* vq_codebook_lookup (decode) gives the forward's zq for the forward's indices, bit for bit:
 * l2, cosine (normalized codes), cosine with a projection (P_out applied). */
static void test_lookup_matches_forward(void **state)
{
    (void)state;
    for (int variant = 0; variant < 3; variant++) {
        vq_codebook_opts o;
        vq_codebook_opts_default(&o, 8, 5);
        o.init = VQ_INIT_NORMAL;
        if (variant >= 1) o.distance = VQ_DIST_COSINE;
        if (variant == 2) o.lookup_dim = 3;
        vq_codebook cb;
        CHECK(vq_codebook_create(&cb, &o));
        vq_rng rng;
        vq_rng_seed(&rng, 11 + (uint64_t)variant);
        CHECK(vq_codebook_init(&cb, &rng, NULL, 0, 0, 0));
        enum { B = 2, H = 2, W = 3, N = B * H * W };
        float z[B * 5 * H * W], zq[B * 5 * H * W], zq2[B * 5 * H * W];
        for (int i = 0; i < B * 5 * H * W; i++) z[i] = vq_rng_normal(&rng, 0.0f, 1.0f);
        int32_t idx[N];
        CHECK(vq_quantize_forward(idx, zq, NULL, z, &cb, B, H, W));
        CHECK(vq_codebook_lookup(zq2, idx, &cb, B, H, W));
        assert_memory_equal(zq, zq2, sizeof zq);
        idx[3] = 8;
        assert_int_equal(vq_codebook_lookup(zq2, idx, &cb, B, H, W), VQ_ERR_ARG);
        assert_non_null(strstr(vq_last_error(), "outside 0..7"));
        vq_codebook_destroy(&cb);
    }
}

static void test_bad_arguments(void **state)
{
    (void)state;
    vq_codebook_opts o;
    vq_codebook cb;
    vq_codebook_opts_default(&o, 4, 2);
    o.lookup_dim = 3;
    assert_int_equal(vq_codebook_create(&cb, &o), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "lookup_dim 3"));
    vq_codebook_opts_default(&o, 4, 2);
    o.restart_threshold = 1.0f;
    assert_int_equal(vq_codebook_create(&cb, &o), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "EMA"));
    vq_codebook_opts_default(&o, 4, 2);
    CHECK(vq_codebook_create(&cb, &o));
    const float z[2] = { 0, 0 }, dzq[2] = { 0, 0 };
    float dz[2] = { 0, 0 }, zq[2];
    int32_t idx[1] = { 4 };
    assert_int_equal(vq_quantize_backward(NULL, dz, dzq, z, idx, &cb, 1, 1, 1, 1.0f), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "outside [0, K=4)"));
    assert_int_equal(vq_quantize_forward(idx, zq, NULL, z, &cb, 0, 1, 1), VQ_ERR_ARG);
    const float nanz[2] = { NAN, 0 };
    assert_int_equal(vq_quantize_forward(idx, zq, NULL, nanz, &cb, 1, 1, 1), VQ_ERR_NUMERIC);
    vq_codebook_destroy(&cb);
}

/* One OpenMP thread or two, OpenBLAS single- or multi-threaded (the two
 * search paths of quantizer_search.c): the same indices, the bitwise same loss. */
static void test_threads_agree(void **state)
{
    (void)state;
    const int K = 300, D = 16, B = 2, H = 16, W = 16;
    const int64_t N = B * H * W;
    vq_codebook_opts o;
    vq_codebook_opts_default(&o, K, D);
    o.tile_n = 64; o.tile_k = 128; o.init = VQ_INIT_NORMAL;
    vq_codebook cb;
    CHECK(vq_codebook_create(&cb, &o));
    vq_rng rng; vq_rng_seed(&rng, 9);
    CHECK(vq_codebook_init(&cb, &rng, NULL, 0, 0, 0));
    float *z = fzeros(N * D), *zq = fzeros(N * D);
    int32_t *i1 = calloc(N, sizeof(int32_t)), *i2 = calloc(N, sizeof(int32_t));
    for (int64_t i = 0; i < N * D; i++) z[i] = vq_rng_normal(&rng, 0.0f, 1.0f);
    float l1, l2;
    int keep = omp_get_max_threads(), keep_blas = openblas_get_num_threads();
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    CHECK(vq_quantize_forward(i1, zq, &l1, z, &cb, B, H, W));
    for (int cfg = 0; cfg < 2; cfg++) {
        omp_set_num_threads(2);
        openblas_set_num_threads(cfg ? 2 : 1);
        CHECK(vq_quantize_forward(i2, zq, &l2, z, &cb, B, H, W));
        assert_memory_equal(i1, i2, N * sizeof(int32_t));
        assert_true(l1 == l2);
    }
    omp_set_num_threads(keep);
    openblas_set_num_threads(keep_blas);
    free(z); free(zq); free(i1); free(i2);
    vq_codebook_destroy(&cb);
}

/* --- the reference implementations (PyTorch fixture) ------------------------ */

static void assert_close(const char *what, const float *got, const float *want, int64_t n, double rtol, double atol)
{
    for (int64_t i = 0; i < n; i++)
        if (!(fabs((double)got[i] - want[i]) <= atol + rtol * fabs(want[i])))
            fail_msg("%s[%lld]: got %.9g, PyTorch %.9g", what, (long long)i, (double)got[i], (double)want[i]);
}

/* taming VectorQuantizer2, legacy and corrected: indices, z_q, loss, and the
 * gradients of sum(R * z_q) + loss by autograd. */
static void test_matches_taming(void **state)
{
    (void)state;
    enum { B = QREF_B, D = QREF_D, H = QREF_H, W = QREF_W, K = QREF_K, N = B * H * W };
    for (int legacy = 1; legacy >= 0; legacy--) {
        vq_codebook_opts o;
        vq_codebook_opts_default(&o, K, D);
        o.beta = QREF_BETA;
        o.loss_form = legacy ? VQ_LOSS_LEGACY : VQ_LOSS_CORRECTED;
        vq_codebook cb;
        CHECK(vq_codebook_create(&cb, &o));
        memcpy(cb.embed, qref_taming_embed, sizeof qref_taming_embed);
        int32_t idx[N];
        float zq[N * D], loss, dz[N * D] = { 0 }, de[K * D] = { 0 };
        CHECK(vq_quantize_forward(idx, zq, &loss, qref_taming_z, &cb, B, H, W));
        assert_memory_equal(idx, qref_taming_idx, sizeof idx);
        /* torch returns z + (z_q - z).detach(): z_q up to one rounding. */
        assert_close("zq", zq, qref_taming_zq, N * D, 0, 1e-6);
        float want = legacy ? qref_taming_legacy_loss : qref_taming_corrected_loss;
        assert_close("loss", &loss, &want, 1, 1e-6, 0);
        vq_codebook_grads g = { .dembed = de };
        CHECK(vq_quantize_backward(&g, dz, qref_taming_R, qref_taming_z, idx, &cb, B, H, W, 1.0f));
        assert_close("dz", dz, legacy ? qref_taming_legacy_dz : qref_taming_corrected_dz, N * D, 1e-5, 1e-7);
        assert_close("dembed", de, legacy ? qref_taming_legacy_dembed : qref_taming_corrected_dembed, K * D, 1e-5,
                     1e-7);
        vq_codebook_destroy(&cb);
    }
}

/* rosinality Quantize: two EMA training steps from its own init (cluster_size
 * 0, embed_avg = embed), state compared in its (d, K) layout after each step.
 * The first step's Laplace smoothing blows unused codes up to ~1e5, so the
 * comparison is relative. */
static void test_matches_rosinality(void **state)
{
    (void)state;
    enum { B = QREF_B, D = QREF_D, H = QREF_H, W = QREF_W, K = QREF_K, N = B * H * W };
    vq_codebook_opts o;
    vq_codebook_opts_default(&o, K, D);
    o.update = VQ_UPDATE_EMA; o.loss_form = VQ_LOSS_LEGACY; /* commitment weight 1: rosinality's diff */
    vq_codebook cb;
    CHECK(vq_codebook_create(&cb, &o));
    vq_embed_from_dk(cb.embed, qref_ros_embed0_dk, K, D);
    vq_embed_from_dk(cb.embed_avg, qref_ros_embed0_dk, K, D);
    const float *zs[2] = { qref_ros_z1, qref_ros_z2 }, *zqs[2] = { qref_ros_zq1, qref_ros_zq2 };
    const int *idxs[2] = { qref_ros_idx1, qref_ros_idx2 };
    const float diffs[2] = { qref_ros_diff1, qref_ros_diff2 };
    const float *embeds[2] = { qref_ros_embed1_dk, qref_ros_embed2_dk };
    const float *avgs[2] = { qref_ros_embed_avg1_dk, qref_ros_embed_avg2_dk };
    const float *sizes[2] = { qref_ros_cluster_size1, qref_ros_cluster_size2 };
    for (int s = 0; s < 2; s++) {
        int32_t idx[N];
        float zq[N * D], loss, dk[K * D];
        CHECK(vq_quantize_forward(idx, zq, &loss, zs[s], &cb, B, H, W));
        assert_memory_equal(idx, idxs[s], sizeof idx);
        assert_close("zq", zq, zqs[s], N * D, 1e-6, 1e-6);
        assert_close("diff", &loss, &diffs[s], 1, 1e-5, 0);
        CHECK(vq_ema_update(&cb, zs[s], idx, B, H, W));
        assert_close("cluster_size", cb.cluster_size, sizes[s], K, 1e-5, 1e-7);
        vq_embed_to_dk(dk, cb.embed_avg, K, D);
        assert_close("embed_avg", dk, avgs[s], K * D, 1e-5, 1e-6);
        vq_embed_to_dk(dk, cb.embed, K, D);
        assert_close("embed", dk, embeds[s], K * D, 1e-5, 1e-6);
    }
    vq_codebook_destroy(&cb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_indices_match_bruteforce),
        cmocka_unit_test(test_indices_planted_ties),
        cmocka_unit_test(test_cosine_picks_by_angle),
        cmocka_unit_test(test_loss_forms_tiny),
        cmocka_unit_test(test_grad_fd_l2),
        cmocka_unit_test(test_grad_fd_cosine),
        cmocka_unit_test(test_grad_fd_projection),
        cmocka_unit_test(test_ema_step_tiny),
        cmocka_unit_test(test_restart_revives_dead_codes),
        cmocka_unit_test(test_kmeans_beats_uniform),
        cmocka_unit_test(test_perplexity_known),
        cmocka_unit_test(test_layout_conversion),
        cmocka_unit_test(test_checkpoint_state_list),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_threads_agree),
        cmocka_unit_test(test_lookup_matches_forward),
        cmocka_unit_test(test_matches_taming),
        cmocka_unit_test(test_matches_rosinality),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
