/* test_lpips.c: the max-pool kernel (runtime/kernels/pool_max.c) and LPIPS
 * (runtime/lpips.c) without PyTorch: hand-derived pool values and ties,
 * finite-difference gradients of both, LPIPS(x, x) = 0, batch and grayscale
 * consistency, and the loader's errors. Parity with PyTorch's LPIPS is
 * tests/scripts/lpips_parity.sh.
 *
 * Legend: B batch, C channels, H, W input size, Ho, Wo pool output size.
 * The LPIPS weights are random (He-uniform convs, so the signal survives 13
 * layers; lin >= 0 as LPIPS's), generated here with vq_rng and written once to
 * a temporary safetensors file (14.7M floats, 59 MB) shared by the tests.
 */
#include "test_kernels_util.h"

#include <stdint.h>
#include <unistd.h>

#include "lpips.h"
#include "pool_max.h"
#include "safetensors.h"
#include "threads.h"

#define assert_error_has(words) do {                                                        \
        const char *msg_ = vq_last_error();                                                 \
        if (!strstr(msg_, (words))) {                                                       \
            print_error("expected an error containing \"%s\", got \"%s\"\n", (words), msg_); \
            fail();                                                                         \
        }                                                                                   \
    } while (0)

/* ------------------------------------------------------------- max pool -- */

static void test_pool_forward_values(void **st)
{
    (void)st;
    /* (1, 1, 4, 5), k 2, st 2: Ho, Wo = 2, 2 (last column dropped, as PyTorch's floor) */
    const float x[20] = {1, 5, 2, 0, 9,
                         3, 4, 8, 1, 9,
                         -1, -2, 0, 0, 9,
                         -3, -4, 7, 6, 9};
    const float want[4] = {5, 8, -1, 7};
    float y[4];
    assert_int_equal(vq_max_pool2d_check(4, 5, 2, 2, 2, 2), 0);
    vq_max_pool2d_forward(y, x, 1, 1, 4, 5, 2, 2, 2, 2);
    kt_assert_close("max_pool 2x2", y, want, 4, 0.0);
    /* k 3, st 2 (overlapping) on the first 4 rows' 3x3 windows at columns 0 and 2: Ho 1, Wo 2 */
    const float want3[2] = {8, 9};
    vq_max_pool2d_forward(y, x, 1, 1, 4, 5, 3, 2, 1, 2);
    kt_assert_close("max_pool 3x3 stride 2", y, want3, 2, 0.0);
    assert_int_equal(vq_max_pool2d_check(4, 5, 2, 2, 2, 3), VQ_ERR_ARG);
    assert_error_has("geometry gives 2x2");
    assert_int_equal(vq_max_pool2d_check(1, 5, 2, 2, 1, 1), VQ_ERR_ARG);
}

static void test_pool_ties_first_max(void **st)
{
    (void)st;
    /* (1, 1, 2, 4): window 0 all equal -> element 0; window 1 max 3 at (0,3) and (1,2) -> (0,3), row-major first */
    const float x[8] = {2, 2, 1, 3,
                        2, 2, 3, 0};
    const float dy[2] = {10, 20};
    const float want[8] = {10, 0, 0, 20,
                           0, 0, 0, 0};
    float dx[8] = {0};
    vq_max_pool2d_backward(dx, dy, x, 1, 1, 2, 4, 2, 2, 1, 2);
    kt_assert_close("max_pool ties", dx, want, 8, 0.0);
}

typedef struct pool_ctx { float *x, *y, *r; int k, st, Ho, Wo; } pool_ctx;
enum { PB = 2, PC = 3, PH = 7, PW = 6 };

static double pool_loss(void *p)
{
    pool_ctx *c = p;
    vq_max_pool2d_forward(c->y, c->x, PB, PC, PH, PW, c->k, c->st, c->Ho, c->Wo);
    return kt_dot(c->r, c->y, (size_t)PB * PC * c->Ho * c->Wo);
}

static void test_pool_backward_fd(void **st)
{
    (void)st;
    const int ks[2] = {2, 3};
    for (int t = 0; t < 2; t++) {
        pool_ctx c = {.k = ks[t], .st = 2};
        c.Ho = (PH - c.k) / c.st + 1; c.Wo = (PW - c.k) / c.st + 1;
        size_t nx = (size_t)PB * PC * PH * PW, ny = (size_t)PB * PC * c.Ho * c.Wo;
        vq_rng rng; vq_rng_seed(&rng, 11 + t);
        c.x = kt_alloc(nx); c.y = kt_alloc(ny); c.r = kt_alloc(ny);
        float *dx = kt_alloc(nx), *dx2 = kt_alloc(nx);
        kt_fill(c.x, nx, &rng, -1, 1);   /* distinct values: eps below moves no maximum */
        kt_fill(c.r, ny, &rng, -1, 1);
        vq_max_pool2d_backward(dx, c.r, c.x, PB, PC, PH, PW, c.k, c.st, c.Ho, c.Wo);
        kt_check_grad(t ? "max_pool 3x3 s2 dx" : "max_pool 2x2 dx", c.x, dx, nx, pool_loss, &c, 1e-4f, 1e-3, 1e-5);
        memcpy(dx2, dx, nx * sizeof *dx);
        vq_max_pool2d_backward(dx2, c.r, c.x, PB, PC, PH, PW, c.k, c.st, c.Ho, c.Wo);
        kt_assert_doubled("max_pool dx", dx2, dx, nx);
        vq_free(c.x); vq_free(c.y); vq_free(c.r); vq_free(dx); vq_free(dx2);
    }
}

/* ---------------------------------------------------------- weight files -- */

static const int conv_index[13] = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};
static const int conv_slice[13] = {1, 1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5};
static const int conv_cin[13] = {3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512};
static const int conv_cout[13] = {64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512};
static const int lin_ch[5] = {64, 128, 256, 512, 512};

typedef struct wfile {
    char names[33][96];
    int64_t shapes[33][4];
    int ndim[33];
    float *data[33];
    vq_st_ref refs[33];
} wfile;

/* The 33 LPIPS tensors with random values. tiny: every tensor is a single
 * float (for error tests that fail on the first tensor read). */
static void wfile_make(wfile *w, const char *prefix, int tiny, uint64_t seed)
{
    vq_rng rng; vq_rng_seed(&rng, seed);
    int n = 0;
    for (int j = 0; j < 13; j++)
        for (int isb = 0; isb < 2; isb++, n++) {
            snprintf(w->names[n], 96, "%snet.slice%d.%d.%s", prefix, conv_slice[j], conv_index[j], isb ? "bias" : "weight");
            int64_t s4[4] = {conv_cout[j], conv_cin[j], 3, 3};
            w->ndim[n] = isb ? 1 : 4;
            memcpy(w->shapes[n], s4, sizeof s4);
        }
    for (int L = 0; L < 5; L++, n++) {
        snprintf(w->names[n], 96, "%slin%d.model.1.weight", prefix, L);
        int64_t s4[4] = {1, lin_ch[L], 1, 1};
        w->ndim[n] = 4; memcpy(w->shapes[n], s4, sizeof s4);
    }
    for (int k = 0; k < 2; k++, n++) {
        snprintf(w->names[n], 96, "%sscaling_layer.%s", prefix, k ? "scale" : "shift");
        int64_t s4[4] = {1, 3, 1, 1};
        w->ndim[n] = 4; memcpy(w->shapes[n], s4, sizeof s4);
    }
    for (int i = 0; i < 33; i++) {
        if (tiny) { w->ndim[i] = 1; w->shapes[i][0] = 1; }
        size_t cnt = 1;
        for (int d = 0; d < w->ndim[i]; d++) cnt *= (size_t)w->shapes[i][d];
        w->data[i] = kt_alloc(cnt);
        float *p = w->data[i];
        if (i < 26 && !(i & 1)) {   /* conv weight: He-uniform, variance 2 / fan_in */
            float a = sqrtf(6.0f / (float)(conv_cin[i / 2] * 9));
            kt_fill(p, cnt, &rng, -a, a);
        } else if (i < 26) {
            kt_fill(p, cnt, &rng, -0.1f, 0.1f);
        } else if (i < 31) {
            kt_fill(p, cnt, &rng, 0.0f, 1.0f);
        } else {
            static const float shift[3] = {-.030f, -.088f, -.188f}, scale[3] = {.458f, .448f, .450f};
            for (size_t e = 0; e < cnt; e++) p[e] = i == 31 ? shift[e] : scale[e];
        }
        w->refs[i] = (vq_st_ref){w->names[i], VQ_DT_F32, w->ndim[i], w->shapes[i], w->data[i]};
    }
}

static void wfile_free(wfile *w) { for (int i = 0; i < 33; i++) vq_free(w->data[i]); }

static void wfile_write(const wfile *w, const char *path, int skip /* tensor left out, or -1 */)
{
    vq_st_ref refs[33];
    size_t n = 0;
    for (int i = 0; i < 33; i++)
        if (i != skip) refs[n++] = w->refs[i];
    if (vq_st_write(path, refs, n, NULL, 0)) { print_error("%s\n", vq_last_error()); fail(); }
}

/* ---------------------------------------------------------- shared state -- */

enum { LB = 2, LC = 3, LH = 16, LW = 16 };
#define LN ((size_t)LB * LC * LH * LW)

static char dir[64], weights_path[128];
static vq_lpips *lp;   /* (LB, 3, LH, LW) */

static int group_setup(void **st)
{
    (void)st;
    snprintf(dir, sizeof dir, "/tmp/vqc-lpips-test-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(weights_path, sizeof weights_path, "%s/lpips.safetensors", dir);
    wfile *w = calloc(1, sizeof *w);
    wfile_make(w, "loss.perceptual_loss.", 0, 2024);
    wfile_write(w, weights_path, -1);
    wfile_free(w);
    free(w);
    if (vq_lpips_load(&lp, weights_path, LB, LC, LH, LW)) { fprintf(stderr, "%s\n", vq_last_error()); return -1; }
    return 0;
}

static int group_teardown(void **st)
{
    (void)st;
    vq_lpips_free(lp);
    unlink(weights_path);
    rmdir(dir);
    return 0;
}

/* x in [-1, 1], y = clamp(x + noise): a reconstruction of x */
static void make_pair(float *x, float *y, size_t n, uint64_t seed)
{
    vq_rng rng; vq_rng_seed(&rng, seed);
    kt_fill(x, n, &rng, -1, 1);
    for (size_t i = 0; i < n; i++) {
        float v = x[i] + 0.3f * (2.0f * vq_rng_uniform(&rng) - 1.0f);
        y[i] = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
    }
}

/* -------------------------------------------------------------- loading -- */

static void test_load_errors(void **st)
{
    (void)st;
    vq_lpips *l = (vq_lpips *)1;
    char path[160];
    snprintf(path, sizeof path, "%s/missing.safetensors", dir);
    assert_int_equal(vq_lpips_load(&l, path, 1, 3, 16, 16), VQ_ERR_IO);
    assert_null(l);
    assert_error_has("missing.safetensors");

    assert_int_equal(vq_lpips_load(&l, weights_path, 1, 3, 15, 16), VQ_ERR_ARG);
    assert_error_has("H and W >= 16");
    assert_int_equal(vq_lpips_load(&l, weights_path, 1, 2, 16, 16), VQ_ERR_ARG);
    assert_int_equal(vq_lpips_load(&l, weights_path, 0, 3, 16, 16), VQ_ERR_ARG);

    /* tensor 30 = lin4 left out: the message names it */
    wfile *w = calloc(1, sizeof *w);
    wfile_make(w, "loss.perceptual_loss.", 1, 1);
    snprintf(path, sizeof path, "%s/nolin4.safetensors", dir);
    wfile_write(w, path, 30);
    assert_int_equal(vq_lpips_load(&l, path, 1, 3, 16, 16), VQ_ERR_MISMATCH);
    assert_error_has("1 missing tensor: loss.perceptual_loss.lin4.model.1.weight");
    assert_error_has("nolin4.safetensors");
    unlink(path);

    /* every tensor of one float: the first one read has the wrong shape */
    snprintf(path, sizeof path, "%s/shapes.safetensors", dir);
    wfile_write(w, path, -1);
    assert_int_equal(vq_lpips_load(&l, path, 1, 3, 16, 16), VQ_ERR_MISMATCH);
    assert_error_has("loss.perceptual_loss.net.slice1.0.weight: shape (1,) in file, model expects (64, 3, 3, 3)");
    unlink(path);
    wfile_free(w);

    /* bare names (import_lpips.py --prefix ''): recognized, so the shape error names the bare tensor */
    wfile_make(w, "", 1, 1);
    wfile_write(w, path, -1);
    assert_int_equal(vq_lpips_load(&l, path, 1, 3, 16, 16), VQ_ERR_MISMATCH);
    assert_error_has(": net.slice1.0.weight: shape (1,)");
    unlink(path);
    wfile_free(w);
    free(w);
    assert_null(l);
}

static void test_call_errors(void **st)
{
    (void)st;
    vq_lpips *l;
    assert_int_equal(vq_lpips_load(&l, weights_path, 1, 3, 16, 16), 0);
    float x[3 * 16 * 16] = {0}, g[3 * 16 * 16] = {0}, d[2], dd[1] = {1};
    assert_int_equal(vq_lpips_backward(l, g, dd), VQ_ERR_ARG);
    assert_error_has("no forward pass");
    assert_int_equal(vq_lpips_forward(l, d, x, x, 2), VQ_ERR_ARG);
    assert_error_has("loaded for 1..1");
    /* 16x16: slab = act (270) + taps (122) + 2 x 64 gradient planes per position, + conv scratch */
    assert_true(vq_lpips_activation_bytes(l) >= (size_t)(270 + 122 + 128) * 256 * 4);
    vq_lpips_free(l);
}

/* -------------------------------------------------------------- values -- */

static void test_identical_is_zero(void **st)
{
    (void)st;
    float *x = kt_alloc(LN), *y = kt_alloc(LN), *g = kt_alloc(LN), d[LB] = {-1, -1}, dd[LB] = {1, 2};
    make_pair(x, y, LN, 3);
    assert_int_equal(vq_lpips_forward(lp, d, x, x, LB), 0);
    assert_true(d[0] == 0.0f && d[1] == 0.0f);
    assert_int_equal(vq_lpips_backward(lp, g, dd), 0);
    for (size_t i = 0; i < LN; i++) assert_true(g[i] == 0.0f);
    /* and different images are at a positive distance */
    assert_int_equal(vq_lpips_forward(lp, d, x, y, LB), 0);
    assert_true(d[0] > 0.0f && d[1] > 0.0f);
    vq_free(x); vq_free(y); vq_free(g);
}

/* Distances and gradients of a batch of 2 equal those of each image alone. */
static void test_batch_independent(void **st)
{
    (void)st;
    float *x = kt_alloc(LN), *y = kt_alloc(LN), *g = kt_alloc(LN), *g1 = kt_alloc(LN);
    float d[LB], d1[1], dd[LB] = {0.5f, 1.5f};
    make_pair(x, y, LN, 4);
    assert_int_equal(vq_lpips_forward(lp, d, x, y, LB), 0);
    assert_int_equal(vq_lpips_backward(lp, g, dd), 0);
    size_t img = LN / LB;
    for (int b = 0; b < LB; b++) {
        assert_int_equal(vq_lpips_forward(lp, d1, x + b * img, y + b * img, 1), 0);
        assert_int_equal(vq_lpips_backward(lp, g1 + b * img, dd + b), 0);
        kt_assert_close("batch vs single distance", d1, d + b, 1, 1e-6 * d[b]);
    }
    kt_assert_close("batch vs single gradient", g1, g, LN, 1e-9);
    /* backward accumulates: a second call adds the same gradient again */
    assert_int_equal(vq_lpips_forward(lp, d, x, y, LB), 0);
    memcpy(g1, g, LN * sizeof *g);
    assert_int_equal(vq_lpips_backward(lp, g1, dd), 0);
    kt_assert_doubled("lpips dy", g1, g, LN);
    vq_free(x); vq_free(y); vq_free(g); vq_free(g1);
}

/* A grayscale pair equals the RGB pair with the channel repeated; its gradient
 * is the sum of the three channel gradients (taming's broadcast). */
static void test_grayscale_broadcast(void **st)
{
    (void)st;
    vq_lpips *l1;
    assert_int_equal(vq_lpips_load(&l1, weights_path, LB, 1, LH, LW), 0);
    size_t P = (size_t)LH * LW, n1 = LB * P;
    float *x1 = kt_alloc(n1), *y1 = kt_alloc(n1), *g1 = kt_alloc(n1), *x = kt_alloc(LN), *y = kt_alloc(LN),
          *g = kt_alloc(LN), *gsum = kt_alloc(n1);
    float d1[LB], d[LB], dd[LB] = {1.0f, 0.25f};
    make_pair(x1, y1, n1, 5);
    for (int b = 0; b < LB; b++)
        for (int c = 0; c < 3; c++) {
            memcpy(x + (b * 3 + c) * P, x1 + b * P, P * sizeof(float));
            memcpy(y + (b * 3 + c) * P, y1 + b * P, P * sizeof(float));
        }
    assert_int_equal(vq_lpips_forward(l1, d1, x1, y1, LB), 0);
    assert_int_equal(vq_lpips_backward(l1, g1, dd), 0);
    assert_int_equal(vq_lpips_forward(lp, d, x, y, LB), 0);
    assert_int_equal(vq_lpips_backward(lp, g, dd), 0);
    kt_assert_close("gray vs rgb distance", d1, d, LB, 1e-7);
    for (int b = 0; b < LB; b++)
        for (size_t p = 0; p < P; p++)
            gsum[b * P + p] = g[(b * 3 + 0) * P + p] + g[(b * 3 + 1) * P + p] + g[(b * 3 + 2) * P + p];
    kt_assert_close("gray gradient = sum over rgb", g1, gsum, n1, 1e-9);
    vq_lpips_free(l1);
    vq_free(x1); vq_free(y1); vq_free(g1); vq_free(x); vq_free(y); vq_free(g); vq_free(gsum);
}

/* --------------------------------------------------- finite differences -- */

typedef struct fd_ctx { float *x, *y; const float *dd; } fd_ctx;

static double lpips_loss(void *p)   /* sum_b dd[b] LPIPS(x[b], y[b]) */
{
    fd_ctx *c = p;
    float d[LB];
    assert_int_equal(vq_lpips_forward(lp, d, c->x, c->y, LB), 0);
    return (double)c->dd[0] * d[0] + (double)c->dd[1] * d[1];
}

/* Float32 through 13 ReLU layers limits central differences: a large step
 * crosses ReLU/max-pool kinks, a small one drowns in rounding (measured here:
 * eps 1e-2 is off by 1.5% of max |g|, eps 3e-4 by 0.6%, from noise). So the
 * tolerance is 2% (of max |g| per coordinate; of the value for the directional
 * derivative): enough to catch a dropped term (the normalization's projection
 * term is ~20% of max |g|) or a wrong mask; the 1e-3 check is PyTorch's
 * autograd in tests/scripts/lpips_parity.sh. */
static void test_backward_fd(void **st)
{
    (void)st;
    const float dd[LB] = {0.7f, 1.3f}, eps = 1e-3f;
    float *x = kt_alloc(LN), *y = kt_alloc(LN), *g = kt_alloc(LN), *v = kt_alloc(LN), d[LB];
    make_pair(x, y, LN, 6);
    fd_ctx c = {x, y, dd};
    assert_int_equal(vq_lpips_forward(lp, d, x, y, LB), 0);
    assert_int_equal(vq_lpips_backward(lp, g, dd), 0);
    double gmax = 0.0;
    for (size_t i = 0; i < LN; i++) gmax = fmax(gmax, fabs(g[i]));
    assert_true(gmax > 0.0);

    /* single coordinates: the 6 largest gradients and 6 chosen at random (both images, all channels) */
    size_t pick[12];
    char taken[LN] = {0};
    for (int k = 0; k < 6; k++) {
        size_t best = 0;
        for (size_t i = 0; i < LN; i++)
            if (!taken[i] && fabs(g[i]) > fabs(g[best])) best = i;
        taken[best] = 1; pick[k] = best;
    }
    vq_rng rng; vq_rng_seed(&rng, 99);
    for (int k = 6; k < 12; k++) pick[k] = (size_t)vq_rng_below(&rng, LN);
    for (int k = 0; k < 12; k++) {
        size_t i = pick[k];
        float keep = y[i];
        y[i] = keep + eps; double lp_ = lpips_loss(&c);
        y[i] = keep - eps; double lm = lpips_loss(&c);
        y[i] = keep;
        double num = (lp_ - lm) / ((double)(keep + eps) - (double)(keep - eps));
        if (fabs(num - g[i]) > 2e-2 * gmax) {
            print_error("lpips dy[%zu]: analytic %.6g, central difference %.6g (max |g| %.3g)\n", i, (double)g[i], num, gmax);
            fail();
        }
    }

    /* directional derivative along a random v: sum_i g_i v_i vs (L(y + t v) - L(y - t v)) / 2t */
    kt_fill(v, LN, &rng, -1, 1);
    const float t = 1e-4f;
    float *yp = kt_alloc(LN);
    for (size_t i = 0; i < LN; i++) yp[i] = y[i] + t * v[i];
    c.y = yp; double Lp = lpips_loss(&c);
    for (size_t i = 0; i < LN; i++) yp[i] = y[i] - t * v[i];
    double Lm = lpips_loss(&c);
    double num = (Lp - Lm) / (2.0 * t), ana = kt_dot(g, v, LN);
    if (fabs(num - ana) > 2e-2 * fabs(ana)) {
        print_error("lpips directional derivative: analytic %.6g, central difference %.6g\n", ana, num);
        fail();
    }
    vq_free(x); vq_free(y); vq_free(g); vq_free(v); vq_free(yp);
}

int main(int argc, char **argv)
{
    (void)argc;
    /* scripts/run-tests.sh runs this with OMP_WAIT_POLICY=passive: spinning OpenMP
     * workers starved OpenBLAS on a loaded 2-core machine (29 s instead of 2 s measured) */
    vq_maybe_reexec_with_coretype(argv, NULL);
    const struct CMUnitTest pool_tests[] = {
        cmocka_unit_test(test_pool_forward_values),
        cmocka_unit_test(test_pool_ties_first_max),
        cmocka_unit_test(test_pool_backward_fd),
    };
    const struct CMUnitTest lpips_tests[] = {
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_call_errors),
        cmocka_unit_test(test_identical_is_zero),
        cmocka_unit_test(test_batch_independent),
        cmocka_unit_test(test_grayscale_broadcast),
        cmocka_unit_test(test_backward_fd),
    };
    int rc = cmocka_run_group_tests_name("max_pool2d", pool_tests, NULL, NULL);
    return rc | cmocka_run_group_tests_name("lpips", lpips_tests, group_setup, group_teardown);
}
