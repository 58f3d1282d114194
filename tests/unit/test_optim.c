/* test_optim.c: optimizers, clipping and schedules.
 * Expected values come from PyTorch 1.13 (tests/fixtures/optim/make_fixtures.py,
 * output optim_fixtures.h), from hand-derived arithmetic written out below,
 * and from the closed forms of the schedules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "optim.h"
#include "schedule.h"
#include "vq_common.h"

#include "../fixtures/optim/optim_fixtures.h"

/* torch's kernels may fuse a multiply-add (FMA) where we round twice, so each
 * op can differ by an ulp; over six steps that stays far below 1e-5 relative.
 * A wrong formula (missing bias correction, eps inside the sqrt, coupled vs
 * decoupled decay) moves values by > 1e-3. */
static void assert_close_to(float got, float want, double rel, double floor, const char *what, int step, int i)
{
    double tol = rel * fmax(fabs((double)want), floor);
    if (!(fabs((double)got - (double)want) <= tol)) {
        print_error("%s step %d [%d]: got %.9g want %.9g (|diff| %.3g > %.3g)\n", what, step, i, got, want,
                    fabs((double)got - (double)want), tol);
        fail();
    }
}

/* Parameters: relative to max(|want|, 1), since values near 0 come out of
 * cancellations of O(1) terms and carry O(1) rounding. */
static void assert_close(float got, float want, double rel, const char *what, int step, int i)
{
    assert_close_to(got, want, rel, 1.0, what, step, i);
}

static vq_optim_kind kind_of(const char *k)
{
    return !strcmp(k, "sgd") ? VQ_SGD : !strcmp(k, "adam") ? VQ_ADAM : VQ_ADAMW;
}

/* Groups of a fixture case; ranges live in `rs` (2 groups x 2 ranges). */
static void groups_of(vq_param_group g[2], vq_range rs[2][2], const fx_case *fc)
{
    for (int k = 0; k < 2; k++) {
        const fx_group *f = &fc->groups[k];
        for (int r = 0; r < f->n_ranges; r++) rs[k][r] = (vq_range){f->ranges[r][0], f->ranges[r][1]};
        g[k] = (vq_param_group){.ranges = rs[k], .n_ranges = f->n_ranges, .lr = f->lr,
                                .weight_decay = f->weight_decay, .momentum = f->momentum,
                                .dampening = f->dampening, .nesterov = f->nesterov,
                                .beta1 = f->beta1, .beta2 = f->beta2, .eps = f->eps};
    }
}

/* The fixture's gradient: g = c * p + d over the whole slab. */
static void fixture_grad(float *g, const float *p)
{
    for (int i = 0; i < FX_N; i++) g[i] = fx_c[i] * p[i] + fx_d[i];
}

static void one_fixture_step(vq_optim *o, const fx_case *fc, float *p, int step)
{
    float g[FX_N];
    fixture_grad(g, p);
    if (fc->cosine) {
        vq_schedule s = {VQ_SCHED_COSINE, fc->warmup, fc->total, fc->min_factor};
        vq_optim_set_lr_factor(o, vq_schedule_factor(&s, step));
    }
    vq_optim_step(o, p, g);
}

static void test_torch_fixtures(void **st)
{
    (void)st;
    for (int ci = 0; ci < FX_NCASES; ci++) {
        const fx_case *fc = &fx_cases[ci];
        vq_param_group g[2];
        vq_range rs[2][2];
        groups_of(g, rs, fc);
        vq_optim *o;
        int rc = vq_optim_create(&o, kind_of(fc->kind), FX_N, g, 2);
        if (rc) print_error("%s: %s\n", fc->name, vq_last_error());
        assert_int_equal(rc, 0);
        assert_int_equal(vq_optim_state_size(o), FX_S);
        float p[FX_N];
        memcpy(p, fx_p0, sizeof p);
        for (int s = 0; s < FX_STEPS; s++) {
            one_fixture_step(o, fc, p, s);
            for (int i = 0; i < FX_N; i++) assert_close(p[i], fc->params[s][i], 2e-6, fc->name, s + 1, i);
            /* p[12] is in no group: bit-identical. */
            assert_memory_equal(&p[12], &fx_p0[12], sizeof(float));
        }
        assert_int_equal(vq_optim_steps_taken(o), FX_STEPS);
        static const char *adam_names[] = {"exp_avg", "exp_avg_sq"};
        int has_momentum = !strcmp(fc->name, "sgd_momentum") || !strcmp(fc->name, "sgd_nesterov");
        int n_arrays = kind_of(fc->kind) == VQ_SGD ? has_momentum : 2;
        assert_int_equal(vq_optim_state_count(o), 1 + n_arrays);
        for (int k = 0; k < n_arrays; k++) {
            vq_optim_state sv;
            const char *name = kind_of(fc->kind) == VQ_SGD ? "momentum_buffer" : adam_names[k];
            assert_int_equal(vq_optim_state_find(&sv, o, name, VQ_STATE_F32, FX_S), 0);
            /* state buffers hold small values (g^2 ~ 1e-4): relative, floor 1e-6 */
            for (int i = 0; i < FX_S; i++)
                assert_close_to(((float *)sv.data)[i], fc->state[k][i], 1e-5, 1e-6, name, FX_STEPS, i);
        }
        vq_optim_destroy(o);
    }
}

/* Adam, hand-derived: with m0 = v0 = 0, step 1 gives m = (1-b1) g, v = (1-b2) g^2,
 * so m / bc1 = g and sqrt(v) / sqrt(bc2) = |g|: p1 = p0 - lr g / (|g| + eps).
 * Step 2 with the same g: m = (1-b1)(1+b1) g = (1-b1^2) g = bc1 g, likewise
 * v = bc2 g^2, so the update is again lr g / (|g| + eps). */
static void test_adam_by_hand(void **st)
{
    (void)st;
    vq_range r = {0, 2};
    vq_param_group g = vq_group_defaults(VQ_ADAM, 0.1);
    g.ranges = &r;
    g.n_ranges = 1;
    vq_optim *o;
    assert_int_equal(vq_optim_create(&o, VQ_ADAM, 2, &g, 1), 0);
    float p[2] = {1.0f, -3.0f}, gr[2] = {2.0f, -0.5f};
    vq_optim_step(o, p, gr);
    assert_float_equal(p[0], 1.0 - 0.1 * 2.0 / (2.0 + 1e-8), 1e-7);
    assert_float_equal(p[1], -3.0 + 0.1 * 0.5 / (0.5 + 1e-8), 1e-7);
    vq_optim_step(o, p, gr);
    assert_float_equal(p[0], 0.8, 2e-7);
    assert_float_equal(p[1], -2.8, 2e-7);
    vq_optim_destroy(o);
}

/* AdamW with zero gradient: m = v = 0, the Adam term is 0 / eps = 0, so only the
 * decoupled decay acts: p_t = p0 (1 - lr wd)^t. Adam's L2 decay instead feeds
 * wd p into the gradient: step 1 moves p by lr * sign(p) (the case above). */
static void test_weight_decay_by_hand(void **st)
{
    (void)st;
    vq_range r = {0, 1};
    vq_param_group g = vq_group_defaults(VQ_ADAMW, 0.01);
    g.weight_decay = 0.5;
    g.ranges = &r;
    g.n_ranges = 1;
    vq_optim *o;
    assert_int_equal(vq_optim_create(&o, VQ_ADAMW, 1, &g, 1), 0);
    float p = 2.0f, zero = 0.0f;
    for (int t = 0; t < 3; t++) vq_optim_step(o, &p, &zero);
    assert_float_equal(p, 2.0 * pow(1.0 - 0.01 * 0.5, 3), 1e-6);
    vq_optim_destroy(o);

    g = vq_group_defaults(VQ_ADAM, 0.01);
    g.weight_decay = 0.5;
    g.ranges = &r;
    g.n_ranges = 1;
    assert_int_equal(vq_optim_create(&o, VQ_ADAM, 1, &g, 1), 0);
    p = 2.0f;
    vq_optim_step(o, &p, &zero); /* effective gradient 0.5 * 2 = 1 */
    assert_float_equal(p, 2.0 - 0.01 * 1.0 / (1.0 + 1e-8), 1e-7);
    vq_optim_destroy(o);
}

/* SGD, hand-derived, constant g = 1, lr 0.1, momentum 0.9, p0 = 1:
 *   plain momentum: buf 1, p 0.9;   buf 1.9, p 0.71
 *   nesterov:       buf 1, u 1.9, p 0.81;   buf 1.9, u 1 + 0.9*1.9 = 2.71, p 0.539 */
static void test_sgd_by_hand(void **st)
{
    (void)st;
    vq_range r0 = {0, 1}, r1 = {1, 1};
    vq_param_group g[2] = {{.ranges = &r0, .n_ranges = 1, .lr = 0.1, .momentum = 0.9},
                           {.ranges = &r1, .n_ranges = 1, .lr = 0.1, .momentum = 0.9, .nesterov = 1}};
    vq_optim *o;
    assert_int_equal(vq_optim_create(&o, VQ_SGD, 2, g, 2), 0);
    float p[2] = {1, 1}, gr[2] = {1, 1};
    vq_optim_step(o, p, gr);
    assert_float_equal(p[0], 0.9, 1e-7);
    assert_float_equal(p[1], 0.81, 1e-7);
    vq_optim_step(o, p, gr);
    assert_float_equal(p[0], 0.71, 1e-7);
    assert_float_equal(p[1], 0.539, 1e-7);
    vq_optim_destroy(o);
}

/* Save the state after 3 steps, build a fresh optimizer, restore, continue:
 * bit-identical to 6 uninterrupted steps (for each fixture kind). */
static void test_state_restore(void **st)
{
    (void)st;
    for (int ci = 0; ci < FX_NCASES; ci++) {
        const fx_case *fc = &fx_cases[ci];
        vq_param_group g[2];
        vq_range rs[2][2];
        groups_of(g, rs, fc);
        vq_optim *a, *b;
        assert_int_equal(vq_optim_create(&a, kind_of(fc->kind), FX_N, g, 2), 0);
        float pa[FX_N], pb[FX_N];
        memcpy(pa, fx_p0, sizeof pa);
        for (int s = 0; s < FX_STEPS; s++) one_fixture_step(a, fc, pa, s);
        vq_optim_destroy(a);

        assert_int_equal(vq_optim_create(&a, kind_of(fc->kind), FX_N, g, 2), 0);
        memcpy(pb, fx_p0, sizeof pb);
        for (int s = 0; s < 3; s++) one_fixture_step(a, fc, pb, s);
        /* "checkpoint": copy every named array out, as the checkpoint writer would. */
        char saved[4][FX_S * sizeof(float)];
        int n = vq_optim_state_count(a);
        for (int k = 0; k < n; k++) {
            vq_optim_state sv = vq_optim_state_get(a, k);
            memcpy(saved[k], sv.data, sv.count * (sv.dtype == VQ_STATE_F32 ? 4 : 8));
        }
        vq_optim_destroy(a);
        assert_int_equal(vq_optim_create(&b, kind_of(fc->kind), FX_N, g, 2), 0);
        for (int k = 0; k < n; k++) {
            vq_optim_state want = vq_optim_state_get(b, k), got;
            assert_int_equal(vq_optim_state_find(&got, b, want.name, want.dtype, want.count), 0);
            memcpy(got.data, saved[k], got.count * (got.dtype == VQ_STATE_F32 ? 4 : 8));
        }
        assert_int_equal(vq_optim_steps_taken(b), 3);
        for (int s = 3; s < FX_STEPS; s++) one_fixture_step(b, fc, pb, s);
        assert_memory_equal(pa, pb, sizeof pa);
        vq_optim_destroy(b);
    }
}

/* clip_grad_norm_ fixtures: total norm and the clipped gradient. */
static void test_clip_fixture(void **st)
{
    (void)st;
    float g[FX_CLIP_N];
    memcpy(g, fx_clip_grad, sizeof g);
    float total = vq_clip_grad_norm(g, FX_CLIP_N, fx_clip_active_max);
    assert_close(total, fx_clip_active_total, 1e-6, "clip total", 0, 0);
    assert_true(fx_clip_active_total > fx_clip_active_max); /* the case really clips */
    for (int i = 0; i < FX_CLIP_N; i++) assert_close(g[i], fx_clip_active_out[i], 1e-6, "clipped", 0, i);

    memcpy(g, fx_clip_grad, sizeof g);
    total = vq_clip_grad_norm(g, FX_CLIP_N, fx_clip_inactive_max);
    assert_close(total, fx_clip_inactive_total, 1e-6, "clip total", 0, 0);
    assert_memory_equal(g, fx_clip_grad, sizeof g); /* untouched, bit for bit */
    (void)fx_clip_inactive_out;
}

/* Clipping over an optimizer's ranges: the norm of (3, 4) is 5; clip to 1 scales
 * by 1 / (5 + 1e-6); the float outside every range keeps its value. */
static void test_clip_ranges(void **st)
{
    (void)st;
    vq_range r[2] = {{0, 1}, {2, 1}};
    vq_param_group g = vq_group_defaults(VQ_SGD, 0.1);
    g.ranges = r;
    g.n_ranges = 2;
    vq_optim *o;
    assert_int_equal(vq_optim_create(&o, VQ_SGD, 3, &g, 1), 0);
    float gr[3] = {3, 100, 4};
    float total = vq_optim_clip_grad_norm(o, gr, 1.0f);
    assert_float_equal(total, 5.0, 1e-6);
    assert_float_equal(gr[0], 3.0 / (5.0 + 1e-6), 1e-7);
    assert_float_equal(gr[2], 4.0 / (5.0 + 1e-6), 1e-7);
    assert_float_equal(gr[1], 100.0, 0.0);
    vq_optim_destroy(o);
}

static void test_schedules(void **st)
{
    (void)st;
    vq_schedule c = {VQ_SCHED_CONSTANT, 0, 0, 0};
    assert_int_equal(vq_schedule_check(&c), 0);
    assert_float_equal(vq_schedule_factor(&c, 0), 1.0, 0);
    assert_float_equal(vq_schedule_factor(&c, 12345), 1.0, 0);

    vq_schedule w = {VQ_SCHED_WARMUP, 4, 0, 0};
    assert_int_equal(vq_schedule_check(&w), 0);
    assert_float_equal(vq_schedule_factor(&w, 0), 0.25, 1e-15);
    assert_float_equal(vq_schedule_factor(&w, 2), 0.75, 1e-15);
    assert_float_equal(vq_schedule_factor(&w, 3), 1.0, 1e-15);
    assert_float_equal(vq_schedule_factor(&w, 1000), 1.0, 1e-15);

    /* warm-up 10, cosine to step 110: t = (step - 10) / 100. */
    vq_schedule k = {VQ_SCHED_COSINE, 10, 110, 0.0};
    assert_int_equal(vq_schedule_check(&k), 0);
    assert_float_equal(vq_schedule_factor(&k, 0), 0.1, 1e-15);
    assert_float_equal(vq_schedule_factor(&k, 9), 1.0, 1e-15);
    assert_float_equal(vq_schedule_factor(&k, 10), 1.0, 1e-15);
    assert_float_equal(vq_schedule_factor(&k, 35), 0.5 + sqrt(2.0) / 4.0, 1e-12); /* t = 1/4 */
    assert_float_equal(vq_schedule_factor(&k, 60), 0.5, 1e-12);                 /* t = 1/2 */
    assert_float_equal(vq_schedule_factor(&k, 85), 0.5 - sqrt(2.0) / 4.0, 1e-12); /* t = 3/4 */
    assert_float_equal(vq_schedule_factor(&k, 110), 0.0, 1e-12);
    assert_float_equal(vq_schedule_factor(&k, 500), 0.0, 1e-12);
    k.min_factor = 0.1;
    assert_float_equal(vq_schedule_factor(&k, 60), 0.1 + 0.9 * 0.5, 1e-12);
    assert_float_equal(vq_schedule_factor(&k, 110), 0.1, 1e-12);

    vq_schedule bad = {VQ_SCHED_COSINE, 10, 10, 0};
    assert_int_equal(vq_schedule_check(&bad), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "total_steps"));

    /* set_lr_factor multiplies each group's base lr, not the current one. */
    vq_range r0 = {0, 1}, r1 = {1, 1};
    vq_param_group g[2] = {{.ranges = &r0, .n_ranges = 1, .lr = 0.1}, {.ranges = &r1, .n_ranges = 1, .lr = 0.02}};
    vq_optim *o;
    assert_int_equal(vq_optim_create(&o, VQ_SGD, 2, g, 2), 0);
    vq_optim_set_lr_factor(o, 0.5);
    vq_optim_set_lr_factor(o, 0.5);
    assert_float_equal(vq_optim_lr(o, 0), 0.05, 1e-15);
    assert_float_equal(vq_optim_lr(o, 1), 0.01, 1e-15);
    vq_optim_destroy(o);
}

static void test_errors(void **st)
{
    (void)st;
    vq_optim *o = (vq_optim *)1;
    vq_range a[2] = {{0, 10}, {9, 3}};
    vq_param_group g = vq_group_defaults(VQ_ADAM, 1e-3);
    g.ranges = a;
    g.n_ranges = 2;
    assert_int_equal(vq_optim_create(&o, VQ_ADAM, 20, &g, 1), VQ_ERR_ARG);
    assert_null(o);
    assert_non_null(strstr(vq_last_error(), "overlaps"));

    a[1] = (vq_range){15, 6};
    assert_int_equal(vq_optim_create(&o, VQ_ADAM, 20, &g, 1), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "outside the slab"));

    a[1] = (vq_range){10, 5};
    g.beta2 = 1.0;
    assert_int_equal(vq_optim_create(&o, VQ_ADAM, 20, &g, 1), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "beta2"));

    vq_param_group s = vq_group_defaults(VQ_SGD, 0.1);
    s.ranges = a;
    s.n_ranges = 2;
    s.nesterov = 1;
    assert_int_equal(vq_optim_create(&o, VQ_SGD, 20, &s, 1), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "nesterov"));

    g.beta2 = 0.999;
    assert_int_equal(vq_optim_create(&o, VQ_ADAM, 20, &g, 1), 0);
    vq_optim_state sv;
    assert_int_equal(vq_optim_state_find(&sv, o, "exp_avg", VQ_STATE_F32, 14), VQ_ERR_MISMATCH);
    assert_non_null(strstr(vq_last_error(), "15 elements"));
    assert_int_equal(vq_optim_state_find(&sv, o, "momentum_buffer", VQ_STATE_F32, 15), VQ_ERR_MISMATCH);
    assert_int_equal(vq_optim_state_find(&sv, o, "step", VQ_STATE_F32, 1), VQ_ERR_MISMATCH);
    vq_optim_destroy(o);
}

/* A slab big enough for the OpenMP path, in several ranges and two groups:
 * the result does not depend on the thread count (elementwise, no reductions). */
static void test_parallel_matches_serial(void **st)
{
    (void)st;
    enum { N = 300000 };
    static float p1[N], p2[N], gr[N];
    vq_rng rng;
    vq_rng_seed(&rng, 7);
    for (int i = 0; i < N; i++) {
        p1[i] = p2[i] = vq_rng_normal(&rng, 0, 1);
        gr[i] = vq_rng_normal(&rng, 0, 0.1f);
    }
    vq_range r0[2] = {{0, 100000}, {250000, 50000}}, r1 = {100000, 150000};
    vq_param_group g[2] = {vq_group_defaults(VQ_ADAMW, 1e-3), vq_group_defaults(VQ_ADAMW, 3e-4)};
    g[0].ranges = r0;
    g[0].n_ranges = 2;
    g[1].ranges = &r1;
    g[1].n_ranges = 1;
    int saved = omp_get_max_threads();
    float *ps[2] = {p1, p2};
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(k == 0 ? 1 : 2);
        vq_optim *o;
        assert_int_equal(vq_optim_create(&o, VQ_ADAMW, N, g, 2), 0);
        for (int s = 0; s < 3; s++) vq_optim_step(o, ps[k], gr);
        vq_optim_destroy(o);
    }
    omp_set_num_threads(saved);
    assert_memory_equal(p1, p2, sizeof p1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torch_fixtures),
        cmocka_unit_test(test_adam_by_hand),
        cmocka_unit_test(test_weight_decay_by_hand),
        cmocka_unit_test(test_sgd_by_hand),
        cmocka_unit_test(test_state_restore),
        cmocka_unit_test(test_clip_fixture),
        cmocka_unit_test(test_clip_ranges),
        cmocka_unit_test(test_schedules),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_parallel_matches_serial),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
