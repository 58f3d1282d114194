/* test_driver.c: the library parts of the driver that do not need a model
 * program: init rules (vq_model_init_weights) and the description checker
 * (vq_model_desc_check). The driver's subcommands are tested end to end by
 * tests/scripts/driver.sh on the toy model.
 *
 * Expected values are the distributions' own moments: U(-b, b) has mean 0 and
 * variance b^2/3; N(m, s) mean m, std s; with n = 20000 draws the sample
 * mean's standard error is s/sqrt(n), and the tolerances are >= 5 of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "driver.h"

enum { NW = 20000, NP = 4 * NW + 64 * 8 + 4, NB = 8 };

static vq_tensor_desc tensors[] = {
    {"conv.weight", "conv", VQ_ROLE_TRAINABLE, 4, {1250, 1, 4, 4}, 0, NW, {VQ_FILL_PYTORCH_DEFAULT, 0, 0, 16}, "t.vq:1:1"},
    {"norm.weight", "norm", VQ_ROLE_TRAINABLE, 1, {NW}, NW, NW, {VQ_FILL_NORMAL, 1.0, 2.0, 0}, "t.vq:2:1"},
    {"uni", "u", VQ_ROLE_TRAINABLE, 1, {NW}, 2 * NW, NW, {VQ_FILL_UNIFORM, -3.0, 5.0, 0}, "t.vq:3:1"},
    {"const", "c", VQ_ROLE_TRAINABLE, 1, {NW}, 3 * NW, NW, {VQ_FILL_CONSTANT, 0.5, 0, 0}, "t.vq:4:1"},
    {"quantize.embedding.weight", "quantize", VQ_ROLE_TRAINABLE, 2, {64, 8}, 4 * NW, 512,
     {VQ_FILL_CODEBOOK_UNIFORM, 0, 0, 0}, "t.vq:5:1"},
    {"model_filled", "m", VQ_ROLE_TRAINABLE, 1, {4}, 4 * NW + 512, 4, {VQ_FILL_MODEL, 0, 0, 0}, "t.vq:6:1"},
    {"bn.running_var", "bn", VQ_ROLE_BUFFER, 1, {NB}, 0, NB, {VQ_FILL_CONSTANT, 1.0, 0, 0}, "t.vq:7:1"},
};
#define NT ((int)(sizeof tensors / sizeof tensors[0]))

/* Stubs: the checker only needs the pointers to be there. */
static int s_create(vq_model **m, int b) { (void)m; (void)b; return 0; }
static void s_destroy(vq_model *m) { (void)m; }
static float *s_slab(vq_model *m) { (void)m; return NULL; }
static int s_state(vq_model *m, vq_st_ref *o, int max) { (void)m; (void)o; (void)max; return 0; }
static int s_reset(vq_model *m, vq_rng *r) { (void)m; (void)r; return 0; }
static void s_zero(vq_model *m) { (void)m; }
static int s_fwd(vq_model *m, const float *x, int B, vq_mode md, vq_rng *r) { (void)m; (void)x; (void)B; (void)md; (void)r; return 0; }
static int s_bwd(vq_model *m) { (void)m; return 0; }
static const float *s_vals(vq_model *m) { (void)m; return NULL; }
static const int32_t *s_idx(vq_model *m, int c) { (void)m; (void)c; return NULL; }
static int s_enc(vq_model *m, int32_t *const *i, const float *x, int B) { (void)m; (void)i; (void)x; (void)B; return 0; }
static int s_dec(vq_model *m, float *o, const int32_t *const *i, int B) { (void)m; (void)o; (void)i; (void)B; return 0; }
static int s_after(vq_model *m, int64_t s, vq_rng *r) { (void)m; (void)s; (void)r; return 0; }
static size_t s_arena(int b) { return (size_t)b; }

static const char *const loss_names[] = {"total", "rec"};
static const vq_codebook_desc codebooks[] = {{"quantize", 64, 8, 4, 4, 4, NULL, 0}};
static const vq_slab_range ranges[] = {{0, NP}};
static const vq_optim_desc optimizers[] = {{"ae", "adam", 1e-3, 0, 0.9, 0.999, 1e-8, 0, 0, 0, "constant", 0, 0, ranges, 1}};

static vq_model_desc good_desc(void)
{
    vq_model_desc d = {
        .abi = VQ_MODEL_ABI, .name = "t", .vqc_version = "test", .source = "t.vq", .model_hash = 1,
        .data = {1, 16, 16, -1.0f, 1.0f, 0, 0},
        .tensors = tensors, .n_tensors = NT, .n_params = NP, .n_buffers = NB,
        .codebooks = codebooks, .n_codebooks = 1, .optimizers = optimizers, .n_optimizers = 1,
        .loss_names = loss_names, .n_losses = 2, .arena_bytes = s_arena,
        .create = s_create, .destroy = s_destroy, .params = s_slab, .grads = s_slab, .buffers = s_slab,
        .state = s_state, .reset_state = s_reset, .zero_grads = s_zero, .forward = s_fwd, .backward = s_bwd,
        .loss_values = s_vals, .recon = s_vals, .indices = s_idx, .encode = s_enc, .decode = s_dec,
        .after_step = s_after,
    };
    return d;
}

static void moments(const float *x, int n, double *mean, double *var, float *lo, float *hi)
{
    double s = 0, s2 = 0;
    *lo = INFINITY; *hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        s += x[i]; s2 += (double)x[i] * x[i];
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
    *mean = s / n;
    *var = s2 / n - *mean * *mean;
}

static float params[NP], params2[NP], buffers[NB];

static void test_init_rules(void **st)
{
    (void)st;
    vq_model_desc d = good_desc();
    vq_rng rng;
    vq_rng_seed(&rng, 42);
    for (int i = 0; i < 4; i++) params[4 * NW + 512 + i] = 123.0f; /* VQ_FILL_MODEL: must stay */
    assert_int_equal(vq_model_init_weights(&d, params, buffers, &rng), 0);
    double m, v;
    float lo, hi;
    /* pytorch default, fan_in 16: U(-1/4, 1/4): mean 0, var 1/48 */
    moments(params, NW, &m, &v, &lo, &hi);
    assert_true(lo >= -0.25f && hi <= 0.25f && lo < -0.249f && hi > 0.249f);
    assert_true(fabs(m) < 5 * sqrt(1.0 / 48 / NW));
    assert_true(fabs(v - 1.0 / 48) < 0.05 / 48);
    /* N(1, 2) */
    moments(params + NW, NW, &m, &v, &lo, &hi);
    assert_true(fabs(m - 1.0) < 5 * 2.0 / sqrt(NW));
    assert_true(fabs(sqrt(v) - 2.0) < 0.05);
    /* U(-3, 5): mean 1, var 64/12 */
    moments(params + 2 * NW, NW, &m, &v, &lo, &hi);
    assert_true(lo >= -3.0f && hi <= 5.0f);
    assert_true(fabs(m - 1.0) < 5 * sqrt(64.0 / 12 / NW));
    for (int i = 0; i < NW; i++) assert_true(params[3 * NW + i] == 0.5f);
    /* codebook, K = 64: U(-1/64, 1/64) */
    moments(params + 4 * NW, 512, &m, &v, &lo, &hi);
    assert_true(lo >= -1.0f / 64 && hi <= 1.0f / 64 && hi - lo > 1.5f / 64);
    for (int i = 0; i < 4; i++) assert_true(params[4 * NW + 512 + i] == 123.0f);
    for (int i = 0; i < NB; i++) assert_true(buffers[i] == 1.0f);

    /* same seed: same weights; another seed: others */
    vq_rng_seed(&rng, 42);
    assert_int_equal(vq_model_init_weights(&d, params2, buffers, &rng), 0);
    assert_memory_equal(params, params2, 4 * NW * sizeof(float));
    vq_rng_seed(&rng, 43);
    assert_int_equal(vq_model_init_weights(&d, params2, buffers, &rng), 0);
    assert_memory_not_equal(params, params2, NW * sizeof(float));
}

static void expect_bad(vq_model_desc *d, const char *needle)
{
    assert_int_equal(vq_model_desc_check(d), VQ_ERR_ARG);
    if (!strstr(vq_last_error(), needle)) fail_msg("message '%s' lacks '%s'", vq_last_error(), needle);
}

static void test_desc_check(void **st)
{
    (void)st;
    vq_model_desc d = good_desc();
    assert_int_equal(vq_model_desc_check(&d), 0);
    vq_tensor_desc t[NT];

    d = good_desc(); d.abi = VQ_MODEL_ABI + 1;
    expect_bad(&d, "ABI");
    d = good_desc(); d.backward = NULL;
    expect_bad(&d, "function pointer");

    memcpy(t, tensors, sizeof t); d = good_desc(); d.tensors = t;
    t[1].offset = NW - 1; /* overlaps conv.weight's last float */
    expect_bad(&d, "conv.weight and norm.weight overlap");

    memcpy(t, tensors, sizeof t); d = good_desc(); d.tensors = t;
    t[2].numel = NW - 1;
    expect_bad(&d, "uni: numel");

    memcpy(t, tensors, sizeof t); d = good_desc(); d.tensors = t;
    t[3].name = "uni";
    expect_bad(&d, "uni appears twice");

    memcpy(t, tensors, sizeof t); d = good_desc(); d.tensors = t;
    t[6].offset = 1; /* the buffer slab has NB floats */
    expect_bad(&d, "bn.running_var");

    memcpy(t, tensors, sizeof t); d = good_desc(); d.tensors = t;
    t[0].init.fan_in = 0;
    expect_bad(&d, "fan_in");

    vq_codebook_desc cb = codebooks[0];
    cb.D = 16;
    d = good_desc(); d.codebooks = &cb;
    expect_bad(&d, "is not (64, 16)");

    vq_slab_range r = {1, NP};
    vq_optim_desc o = optimizers[0];
    o.ranges = &r;
    d = good_desc(); d.optimizers = &o;
    expect_bad(&d, "ends past the params slab");

    static const char *const bad_losses[] = {"rec", "total"};
    d = good_desc(); d.loss_names = bad_losses;
    expect_bad(&d, "total");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_rules),
        cmocka_unit_test(test_desc_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
