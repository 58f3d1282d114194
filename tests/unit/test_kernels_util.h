/* test_kernels_util.h: helpers shared by the tests/unit/test_kernels_*.c files
 * (header-only; each test binary includes it once).
 *
 * Gradient check: for a scalar L = sum_i r_i y_i (r random, accumulated in
 * double), the analytic gradient of an input is what backward accumulates when
 * fed dy = r; the numeric one is the central difference (L(x+e) - L(x-e)) / 2e
 * for every element. An element fails when |analytic - numeric| exceeds
 * atol + rtol * max|numeric| (the tensor's largest gradient), which a wrong
 * sign, a dropped term or an off-by-one tap always exceeds on these shapes.
 */
#ifndef TEST_KERNELS_UTIL_H
#define TEST_KERNELS_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "kernels.h"
#include "vq_common.h"

static inline float *kt_alloc(size_t n)
{
    float *p = vq_alloc((n ? n : 1) * sizeof(float));
    assert_non_null(p);
    return p;
}

/* Uniform in [lo, hi). */
static inline void kt_fill(float *a, size_t n, vq_rng *rng, float lo, float hi)
{
    for (size_t i = 0; i < n; i++) a[i] = lo + (hi - lo) * vq_rng_uniform(rng);
}

static inline double kt_dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* Runs the forward pass with the current inputs and returns L = sum r*y. */
typedef double (*kt_scalar_fn)(void *ctx);

/* Compare analytic (n) against central differences of f over param (n). */
static inline void kt_check_grad(const char *what, float *param, const float *analytic, size_t n,
                                 kt_scalar_fn f, void *ctx, float eps, double rtol, double atol)
{
    double *num = malloc(sizeof(double) * n);
    assert_non_null(num);
    double maxnum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float keep = param[i];
        param[i] = keep + eps; double lp = f(ctx);
        param[i] = keep - eps; double lm = f(ctx);
        param[i] = keep;
        /* divide by the perturbation actually applied in float */
        num[i] = (lp - lm) / ((double)(keep + eps) - (double)(keep - eps));
        if (fabs(num[i]) > maxnum) maxnum = fabs(num[i]);
    }
    double worst = 0.0; size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs(analytic[i] - num[i]);
        if (e > worst) { worst = e; wi = i; }
    }
    double tol = atol + rtol * maxnum, nwi = num[wi];
    free(num);
    if (!(worst <= tol)) {
        print_error("%s: gradient mismatch at [%zu]: analytic %.6g numeric %.6g (|diff| %.3g > tol %.3g, max|g| %.3g)\n",
                    what, wi, (double)analytic[wi], nwi, worst, tol, maxnum);
        fail();
    }
}

/* max |a - b| over n; fails with a message naming `what` when above tol. */
static inline void kt_assert_close(const char *what, const float *got, const float *want, size_t n, double tol)
{
    double worst = 0.0; size_t wi = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!(e <= worst)) { worst = e; wi = i; }   /* catches NaN too */
    }
    if (!(worst <= tol)) {
        print_error("%s: max |diff| %.3g at [%zu] (got %.7g want %.7g) > tol %.3g\n",
                    what, worst, wi, (double)got[wi], (double)want[wi], tol);
        fail();
    }
}

/* Backward accumulates: twice the gradient after two calls (g2 vs g1 from one call). */
static inline void kt_assert_doubled(const char *what, const float *g2, const float *g1, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double want = 2.0 * g1[i];
        if (fabs(g2[i] - want) > 1e-5 * (1.0 + fabs(want))) {
            print_error("%s: after two backward calls [%zu] = %.7g, want 2 x %.7g (does backward overwrite?)\n",
                        what, i, (double)g2[i], (double)g1[i]);
            fail();
        }
    }
}

/* Deterministic input shared with tests/fixtures/kernels/make_fixtures.py:
 * a[i] = scale * sin(0.37 * i + phase), computed in double, rounded to float. */
static inline void kt_fixture_input(float *a, size_t n, double phase, double scale)
{
    for (size_t i = 0; i < n; i++) a[i] = (float)(scale * sin(0.37 * (double)i + phase));
}

#endif
