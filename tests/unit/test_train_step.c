/* test_train_step.c: vq_train_step (runtime/train_step.h) on a hand-made model
 * with two parameter tensors and an optional "discriminator" tensor, whose
 * forward/backward/adversarial/disc_step record the calls and write chosen
 * losses and gradients. Checks the order of the calls and the disc_start /
 * disc_warmup schedule, and that a non-finite loss or gradient stops the step
 * naming the loss or the first tensor, before any optimizer changes a parameter.
 * Expected values: the schedule's definition and SGD's update p -= lr * g. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "train_step.h"

enum { NA = 16, NP = 48 };   /* a.weight [0, 16), b.weight [16, 32), d.weight [32, 48) */

static vq_tensor_desc tensors[] = {
    {"a.weight", "a", VQ_ROLE_TRAINABLE, 1, {NA}, 0, NA, {VQ_FILL_CONSTANT, 1, 0, 0}, "t.vq:1:1"},
    {"b.weight", "b", VQ_ROLE_TRAINABLE, 1, {NA}, 16, NA, {VQ_FILL_CONSTANT, 1, 0, 0}, "t.vq:2:1"},
    {"d.weight", "d", VQ_ROLE_TRAINABLE, 1, {NA}, 32, NA, {VQ_FILL_CONSTANT, 1, 0, 0}, "t.vq:3:1"},
};

static struct fake {
    float params[NP], grads[NP], loss[3];
    char calls[64];
    float bad_loss, bad_grad_b;     /* NaN or Inf to inject, else 0 */
} F;

static void call(char c) { size_t n = strlen(F.calls); if (n < sizeof F.calls - 1) F.calls[n] = c; }
static float *s_params(vq_model *m) { (void)m; return F.params; }
static float *s_grads(vq_model *m) { (void)m; return F.grads; }
static void s_zero(vq_model *m) { (void)m; call('z'); memset(F.grads, 0, sizeof F.grads); }
static int s_fwd(vq_model *m, const float *x, int B, vq_mode md, vq_rng *r)
{
    (void)m; (void)x; (void)B; (void)md; (void)r;
    call('f');
    F.loss[0] = F.loss[1] = 1.0f + F.bad_loss;
    F.loss[2] = 0.0f;
    return 0;
}
static int s_adv(vq_model *m, float f) { (void)m; call('a'); F.loss[2] = f; return 0; }
static int s_bwd(vq_model *m)
{
    (void)m;
    call('b');
    for (int i = 0; i < 32; i++) F.grads[i] += 1.0f;
    F.grads[16 + 5] += F.bad_grad_b;
    return 0;
}
static int s_disc(vq_model *m, float f) { (void)m; (void)f; call('d'); for (int i = 32; i < 48; i++) F.grads[i] += 2.0f; return 0; }
static int s_after(vq_model *m, int64_t s, vq_rng *r) { (void)m; (void)s; (void)r; call('s'); return 0; }
static const float *s_vals(vq_model *m) { (void)m; return F.loss; }

static const char *const loss_names[] = {"total", "rec", "g_loss"};
static const vq_slab_range ae_r[] = {{0, 32}}, d_r[] = {{32, 16}};
static const vq_optim_desc optimizers[] = {
    {"ae", "sgd", 0.5, 0, 0, 0, 0, 0, 0, 0, "constant", 0, 0, ae_r, 1},
    {"disc", "sgd", 0.25, 0, 0, 0, 0, 0, 0, 0, "constant", 0, 0, d_r, 1},
};

static vq_model_desc desc(int has_disc, int64_t start, int64_t warmup)
{
    vq_model_desc d = {
        .abi = VQ_MODEL_ABI, .name = "t", .tensors = tensors, .n_tensors = 3, .n_params = NP,
        .optimizers = optimizers, .n_optimizers = 2, .loss_names = loss_names, .n_losses = 3,
        .params = s_params, .grads = s_grads, .zero_grads = s_zero, .forward = s_fwd, .backward = s_bwd,
        .loss_values = s_vals, .after_step = s_after,
        .has_disc = has_disc, .disc_optimizer = 1, .adversarial = s_adv, .disc_step = s_disc,
        .losses = {"l1", 1, 1, 0, start, 0.8, 1.0, "hinge", warmup, "a.weight"},
    };
    return d;
}

typedef struct rig { vq_optim *o[2]; vq_schedule s[2]; } rig;

static void rig_open(rig *r)
{
    memset(r, 0, sizeof *r);
    for (int k = 0; k < 2; k++) {
        vq_param_group g = vq_group_defaults(VQ_SGD, optimizers[k].lr);
        g.ranges = (const vq_range *)optimizers[k].ranges;
        g.n_ranges = 1;
        assert_int_equal(vq_optim_create(&r->o[k], VQ_SGD, NP, &g, 1), 0);
        r->s[k].kind = VQ_SCHED_CONSTANT;
    }
    memset(&F, 0, sizeof F);
    for (int i = 0; i < NP; i++) F.params[i] = 1.0f;
}

static void rig_close(rig *r) { vq_optim_destroy(r->o[0]); vq_optim_destroy(r->o[1]); }

static int run(rig *r, const vq_model_desc *d, int64_t step, vq_step_info *si)
{
    float x[1] = {0};
    vq_rng rng;
    vq_rng_seed(&rng, 1);
    memset(F.calls, 0, sizeof F.calls);
    return vq_train_step(d, NULL, r->o, r->s, x, 1, step, &rng, si);
}

static void test_schedule(void **st)
{
    (void)st;
    rig r;
    rig_open(&r);
    vq_model_desc d = desc(1, 10, 3);   /* discriminator from step 7, generator's term from 10 */
    vq_step_info si;
    const struct { int64_t step; const char *calls; int adv, disc; } want[] = {
        {0, "zfbs", 0, 0}, {6, "zfbs", 0, 0}, {7, "zfbds", 0, 1}, {9, "zfbds", 0, 1}, {10, "zfabds", 1, 1}, {50, "zfabds", 1, 1},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_int_equal(run(&r, &d, want[i].step, &si), 0);
        assert_string_equal(F.calls, want[i].calls);
        assert_int_equal(si.adversarial, want[i].adv);
        assert_int_equal(si.disc_trained, want[i].disc);
    }
    assert_true(vq_disc_factor_generator(&d, 9) == 0.0 && vq_disc_factor_generator(&d, 10) == 1.0);
    assert_true(vq_disc_factor_discriminator(&d, 6) == 0.0 && vq_disc_factor_discriminator(&d, 7) == 1.0);
    /* SGD on each optimizer's own range: 6 steps of ae (g = 1, lr 0.5), 4 of disc (g = 2, lr 0.25) */
    assert_float_equal(F.params[0], 1.0f - 6 * 0.5f, 1e-6);
    assert_float_equal(F.params[40], 1.0f - 4 * 0.5f, 1e-6);
    assert_float_equal(si.grad_norm, sqrt(32.0), 1e-9);
    assert_float_equal(si.disc_grad_norm, sqrt(16.0 * 4.0), 1e-9);
    /* without a discriminator: never called */
    vq_model_desc n = desc(0, 0, 0);
    assert_int_equal(run(&r, &n, 100, &si), 0);
    assert_string_equal(F.calls, "zfbs");
    rig_close(&r);
}

static void test_nonfinite(void **st)
{
    (void)st;
    rig r;
    rig_open(&r);
    vq_model_desc d = desc(1, 0, 0);
    vq_step_info si;
    F.bad_loss = NAN;
    assert_int_equal(run(&r, &d, 0, &si), VQ_ERR_NUMERIC);
    assert_non_null(strstr(vq_last_error(), "loss total is nan"));
    assert_string_equal(F.calls, "zf");
    F.bad_loss = 0.0f;
    F.bad_grad_b = INFINITY;
    assert_int_equal(run(&r, &d, 0, &si), VQ_ERR_NUMERIC);
    assert_non_null(strstr(vq_last_error(), "gradient of b.weight is inf at element 5"));
    for (int i = 0; i < NP; i++) assert_true(F.params[i] == 1.0f);   /* no optimizer ran */
    rig_close(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_schedule), cmocka_unit_test(test_nonfinite)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
