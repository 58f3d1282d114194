/* parity_report.c: the per-tensor table of the parity test: one row per compared tensor
 * with its max absolute and max relative difference (definitions in parity.h) and
 * PASS/FAIL, pending rows for what is not compared yet, and the running worst values. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "parity.h"

static const char *kind_name[] = {"fwd", "grad", "steps", "buffer", "info"};

int pt_compare(pt_report *r, pt_kind kind, const char *name, const float *got, const float *want, size_t n,
               double tol)
{
    return pt_compare_scaled(r, kind, name, got, want, n, 0.0, tol);
}

int pt_compare_scaled(pt_report *r, pt_kind kind, const char *name, const float *got, const float *want, size_t n,
                      double scale, double tol)
{
    double max_abs = 0.0, ref_max = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = got[i], b = want[i];
        /* a NaN or inf in ours must fail, not vanish in a max() */
        double d = isfinite(a) && isfinite(b) ? fabs(a - b) : INFINITY;
        if (d > max_abs) max_abs = d;
        if (fabs(b) > ref_max) ref_max = fabs(b);
    }
    if (scale > 0.0) ref_max = scale;
    double rel = ref_max > 0.0 ? max_abs / ref_max : max_abs;
    if (kind == PT_INFO) {   /* never fails; says how it would compare with tol */
        printf("%-6s %-56s %9zu  %10.3e  %10.3e  %8.1e  informational (%s tol)\n", kind_name[kind], name, n, max_abs,
               rel, tol, rel <= tol ? "within" : "beyond");
        return 0;
    }
    int fail = !(rel <= tol);
    double *worst = kind == PT_FWD ? &r->worst_fwd : kind == PT_GRAD ? &r->worst_grad
                  : kind == PT_STEPS ? &r->worst_steps : &r->worst_buf;
    if (rel > *worst) *worst = rel;
    r->rows++;
    r->fails += fail;
    printf("%-6s %-56s %9zu  %10.3e  %10.3e  %8.1e  %s\n", kind_name[kind], name, n, max_abs, rel, tol,
           fail ? "FAIL" : "ok");
    return fail;
}

int pt_compare_per_code(pt_report *r, pt_kind kind, const char *name, const float *got, const float *want,
                        size_t outer, size_t K, size_t inner, double tol)
{
    double max_abs = 0.0, rel = 0.0;
    for (size_t k = 0; k < K; k++) {
        double dk = 0.0, bk = 0.0;
        for (size_t o = 0; o < outer; o++)
            for (size_t i = 0; i < inner; i++) {
                size_t at = (o * K + k) * inner + i;
                double a = got[at], b = want[at];
                double d = isfinite(a) && isfinite(b) ? fabs(a - b) : INFINITY;
                if (d > dk) dk = d;
                if (fabs(b) > bk) bk = fabs(b);
            }
        if (dk > max_abs) max_abs = dk;
        double rk = bk > 0.0 ? dk / bk : dk;
        if (!(rk <= rel)) rel = rk;
    }
    int fail = !(rel <= tol);
    double *worst = kind == PT_STEPS ? &r->worst_steps : &r->worst_buf;
    if (rel > *worst) *worst = rel;
    r->rows++;
    r->fails += fail;
    printf("%-6s %-56s %9zu  %10.3e  %10.3e  %8.1e  %s (per code)\n", kind_name[kind], name, outer * K * inner,
           max_abs, rel, tol, fail ? "FAIL" : "ok");
    return fail;
}

int pt_compare_zero(pt_report *r, const char *name, const float *got, const float *want, size_t n, double level)
{
    double max_abs = 0.0, ours = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = got[i], b = want[i];
        double d = isfinite(a) && isfinite(b) ? fabs(a - b) : INFINITY;
        if (d > max_abs) max_abs = d;
        if (!(fabs(a) <= ours)) ours = isfinite(a) ? fabs(a) : INFINITY;
    }
    int fail = !(ours <= level);
    r->rows++;
    r->fails += fail;
    printf("%-6s %-56s %9zu  %10.3e  zero-level: max|ours| %.2e <= %.2e  %s\n", kind_name[PT_GRAD], name, n, max_abs,
           ours, level, fail ? "FAIL" : "ok");
    return fail;
}

void pt_pending(pt_report *r, const char *name, const char *why)
{
    r->pending++;
    printf("%-6s %-56s %s\n", "todo", name, why);
}

void pt_failf(pt_report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("FAIL   ");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    r->fails++;
}
