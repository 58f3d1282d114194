/* lpips_parity.c: the C LPIPS (runtime/lpips.c) against PyTorch's reference
 * module on random VGG16 weights. Built and run by tests/scripts/lpips_parity.sh
 * after tests/fixtures/lpips/make_fixtures.py wrote DIR/lpips.safetensors and
 * DIR/cases.safetensors (inputs x, y, dd and the float64 reference d, grad).
 *
 *   lpips_parity DIR      prints one line per case and tensor; exit 1 on any failure
 *
 * Tolerances: each image's distance within 1e-4 relative; the gradient w.r.t.
 * y within 1e-3 of the largest reference gradient element (max |diff| / max |ref|).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lpips.h"
#include "safetensors.h"
#include "vq_common.h"

#define TOL_VALUE 1e-4
#define TOL_GRAD 1e-3

static const float *get(const vq_st_file *f, int i, const char *key, int64_t *shape, int *ndim)
{
    char name[64];
    snprintf(name, sizeof name, "case%d.%s", i, key);
    const int64_t *sh;
    const float *p = vq_st_get(f, name, &sh, ndim);
    if (!p) { fprintf(stderr, "lpips_parity: %s\n", vq_last_error()); exit(1); }
    if (shape) memcpy(shape, sh, sizeof(int64_t) * (size_t)*ndim);
    return p;
}

static int run_case(const vq_st_file *cf, const char *weights, int i)
{
    int64_t s[4]; int nd;
    const float *x = get(cf, i, "x", s, &nd), *y = get(cf, i, "y", NULL, &nd);
    const float *dd = get(cf, i, "dd", NULL, &nd), *dref = get(cf, i, "d", NULL, &nd);
    const float *gref = get(cf, i, "grad", NULL, &nd);
    int B = (int)s[0], C = (int)s[1], H = (int)s[2], W = (int)s[3];
    size_t n = (size_t)B * C * H * W;
    vq_lpips *lp;
    if (vq_lpips_load(&lp, weights, B, C, H, W)) { fprintf(stderr, "lpips_parity: %s\n", vq_last_error()); return 1; }
    float *d = calloc((size_t)B, sizeof *d), *g = calloc(n, sizeof *g);
    int fail = !d || !g || vq_lpips_forward(lp, d, x, y, B) || vq_lpips_backward(lp, g, dd);
    if (fail) { fprintf(stderr, "lpips_parity: %s\n", vq_last_error()); free(d); free(g); vq_lpips_free(lp); return 1; }

    double worst_v = 0.0;
    for (int b = 0; b < B; b++) {
        double rel = fabs((double)d[b] - dref[b]) / fabs((double)dref[b]);
        if (!(rel <= worst_v)) worst_v = rel;
        printf("case%d (%d, %d, %d, %d) image %d: d = %.7g, PyTorch (float64) %.7g, relative diff %.2e\n",
               i, B, C, H, W, b, (double)d[b], (double)dref[b], rel);
    }
    double maxref = 0.0, maxdiff = 0.0;
    for (size_t k = 0; k < n; k++) {
        if (fabs(gref[k]) > maxref) maxref = fabs(gref[k]);
        double e = fabs((double)g[k] - gref[k]);
        if (!(e <= maxdiff)) maxdiff = e;
    }
    double rel_g = maxdiff / maxref;
    printf("case%d grad: max |diff| %.3g, max |ref| %.3g, ratio %.2e\n", i, maxdiff, maxref, rel_g);
    if (!(worst_v <= TOL_VALUE)) { printf("FAIL case%d: distance off by %.2e relative (tol %g)\n", i, worst_v, TOL_VALUE); fail = 1; }
    if (!(rel_g <= TOL_GRAD) || maxref == 0.0) { printf("FAIL case%d: gradient off by %.2e (tol %g)\n", i, rel_g, TOL_GRAD); fail = 1; }
    free(d); free(g);
    vq_lpips_free(lp);
    return fail;
}

int main(int argc, char **argv)
{
    if (argc != 2) { fprintf(stderr, "usage: lpips_parity DIR\n"); return 2; }
    char weights[4096], cases[4096];
    snprintf(weights, sizeof weights, "%s/lpips.safetensors", argv[1]);
    snprintf(cases, sizeof cases, "%s/cases.safetensors", argv[1]);
    vq_st_file cf;
    if (vq_st_open(&cf, cases)) { fprintf(stderr, "lpips_parity: %s\n", vq_last_error()); return 1; }
    const char *nc = vq_st_meta_get(&cf, "cases");
    int n = nc ? atoi(nc) : 0, fail = n < 1;
    if (n < 1) fprintf(stderr, "lpips_parity: %s has no cases\n", cases);
    for (int i = 0; i < n; i++) fail |= run_case(&cf, weights, i);
    vq_st_close(&cf);
    printf("%s\n", fail ? "lpips_parity: FAILED" : "lpips_parity: all cases within tolerance");
    return fail;
}
