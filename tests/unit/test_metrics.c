/* test_metrics.c: PSNR, L1, MSE by hand; SSIM against itself (1) and against an
 * independent brute-force numpy implementation of Wang et al. 2004
 * (tests/fixtures/optim/make_fixtures.py); codebook perplexity by hand; the
 * CSV writer read back as text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "vq_common.h"

#include "../fixtures/optim/optim_fixtures.h"

/* x - y = (0, 0.5, 0.5, -1): MSE = (0 + 0.25 + 0.25 + 1) / 4 = 0.375,
 * L1 = 2 / 4 = 0.5, PSNR(range 2) = 10 log10(4 / 0.375) = 10 log10(32 / 3). */
static void test_psnr_l1_l2(void **st)
{
    (void)st;
    const float x[4] = {0.0f, 0.5f, 1.0f, -1.0f}, y[4] = {0.0f, 0.0f, 0.5f, 0.0f};
    assert_float_equal(vq_mse(x, y, 4), 0.375, 1e-15);
    assert_float_equal(vq_mean_l1(x, y, 4), 0.5, 1e-15);
    assert_true(fabs(vq_psnr(x, y, 4, 2.0) - 10.0 * log10(32.0 / 3.0)) < 1e-12);
    /* data range 255, MSE 1: 20 log10(255) = 48.1308... */
    const float a[2] = {10, 20}, b[2] = {11, 19};
    assert_true(fabs(vq_psnr(a, b, 2, 255.0) - 20.0 * log10(255.0)) < 1e-12);
    assert_true(isinf(vq_psnr(x, x, 4, 2.0)) && vq_psnr(x, x, 4, 2.0) > 0);
    assert_float_equal(vq_mse(x, y, 0), 0.0, 0.0);
}

/* A big buffer takes the OpenMP path; the mean of (i mod 4) = 1.5 exactly. */
static void test_l1_large(void **st)
{
    (void)st;
    enum { N = 1 << 20 };
    float *x = vq_alloc(N * sizeof(float)), *z = vq_alloc(N * sizeof(float));
    assert_non_null(x);
    assert_non_null(z);
    for (int i = 0; i < N; i++) x[i] = (float)(i % 4);
    assert_float_equal(vq_mean_l1(x, z, N), 1.5, 1e-12);
    assert_float_equal(vq_mse(x, z, N), (0 + 1 + 4 + 9) / 4.0, 1e-12);
    vq_free(x);
    vq_free(z);
}

static void test_ssim_self(void **st)
{
    (void)st;
    enum { C = 3, H = 20, W = 17 };
    static float img[C * H * W];
    vq_rng rng;
    vq_rng_seed(&rng, 3);
    for (int i = 0; i < C * H * W; i++) img[i] = vq_rng_uniform(&rng) * 2 - 1;
    double s;
    assert_int_equal(vq_ssim(&s, img, img, 1, C, H, W, -1.0f, 1.0f), 0);
    assert_true(fabs(s - 1.0) < 1e-12);
}

static void test_ssim_fixture(void **st)
{
    (void)st;
    enum { C = FX_SSIM_C, H = FX_SSIM_H, W = FX_SSIM_W, P = C * H * W };
    double s;
    /* The fixture is on the 8-bit scale (x * 255); our images are in [0, 1]. */
    assert_int_equal(vq_ssim(&s, fx_ssim_x, fx_ssim_y, 1, C, H, W, 0.0f, 1.0f), 0);
    if (fabs(s - fx_ssim_expected) > 1e-9) print_error("ssim %.12f, numpy %.12f\n", s, fx_ssim_expected);
    assert_true(fabs(s - fx_ssim_expected) < 1e-9);
    assert_true(s < 0.95 && s > 0.2); /* a real, non-trivial pair */

    /* The same pair as [-1, 1] data (the training range), declared as such. */
    static float x2[2 * P], y2[2 * P];
    for (int i = 0; i < P; i++) x2[i] = fx_ssim_x[i] * 2 - 1, y2[i] = fx_ssim_y[i] * 2 - 1;
    assert_int_equal(vq_ssim(&s, x2, y2, 1, C, H, W, -1.0f, 1.0f), 0);
    assert_true(fabs(s - fx_ssim_expected) < 1e-6);
    /* Declared as [0, 1] instead, the shifted means change the luminance term. */
    assert_int_equal(vq_ssim(&s, x2, y2, 1, C, H, W, 0.0f, 2.0f), 0);
    assert_true(fabs(s - fx_ssim_expected) > 1e-2);

    /* A batch of two, (pair, identical pair): the mean of the two SSIMs. */
    memcpy(x2 + P, x2, sizeof(float) * P);
    memcpy(y2 + P, x2, sizeof(float) * P);
    assert_int_equal(vq_ssim(&s, x2, y2, 2, C, H, W, -1.0f, 1.0f), 0);
    assert_true(fabs(s - (fx_ssim_expected + 1.0) / 2) < 1e-6);
}

static void test_ssim_errors(void **st)
{
    (void)st;
    float img[12 * 12] = {0};
    double s;
    assert_int_equal(vq_ssim(&s, img, img, 1, 1, 10, 12, 0.0f, 1.0f), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "smaller than the 11x11 window"));
    assert_int_equal(vq_ssim(&s, img, img, 1, 1, 12, 12, 1.0f, 1.0f), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "empty"));
}

static void test_codebook_stats(void **st)
{
    (void)st;
    vq_codebook_stats cs;
    /* uniform over 4 used codes of 6: perplexity exp(ln 4) = 4 */
    const int64_t u[6] = {5, 0, 5, 5, 0, 5};
    assert_int_equal(vq_codebook_stats_compute(&cs, u, 6), 0);
    assert_int_equal(cs.used, 4);
    assert_int_equal(cs.total, 20);
    assert_float_equal(cs.usage, 4.0 / 6.0, 1e-15);
    assert_float_equal(cs.perplexity, 4.0, 1e-12);
    /* one code: perplexity 1 */
    const int64_t one[3] = {0, 7, 0};
    assert_int_equal(vq_codebook_stats_compute(&cs, one, 3), 0);
    assert_float_equal(cs.perplexity, 1.0, 1e-15);
    /* p = (1/2, 1/4, 1/4): H = ln 2 / 2 + 2 ln 4 / 4 = 1.5 ln 2, perplexity 2^1.5 */
    const int64_t skew[3] = {2, 1, 1};
    assert_int_equal(vq_codebook_stats_compute(&cs, skew, 3), 0);
    assert_float_equal(cs.perplexity, pow(2.0, 1.5), 1e-12);
    /* nothing counted */
    const int64_t none[2] = {0, 0};
    assert_int_equal(vq_codebook_stats_compute(&cs, none, 2), 0);
    assert_int_equal(cs.used, 0);
    assert_float_equal(cs.perplexity, 0.0, 0.0);
    const int64_t bad[2] = {1, -1};
    assert_int_equal(vq_codebook_stats_compute(&cs, bad, 2), VQ_ERR_ARG);
    assert_non_null(strstr(vq_last_error(), "counts[1]"));
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_csv(void **st)
{
    (void)st;
    char dir[] = "/tmp/vq-test-csv-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/metrics.csv", dir);
    const char *cols[] = {"step", "loss", "psnr"};
    vq_csv *w;
    assert_int_equal(vq_csv_open(&w, path, cols, 3, 0), 0);
    assert_int_equal(vq_csv_write(w, (double[]){1, 0.5, 20.25}), 0);
    /* flushed per row: readable before close */
    assert_string_equal(slurp(path), "step,loss,psnr\n1,0.5,20.25\n");
    assert_int_equal(vq_csv_write(w, (double[]){1000000, (float)0.1, -1e-3}), 0);
    assert_int_equal(vq_csv_close(w), 0);
    assert_string_equal(slurp(path), "step,loss,psnr\n1,0.5,20.25\n1000000,0.100000001,-0.001\n");
    /* %.9g round-trips a float32 */
    assert_true((float)strtod("0.100000001", NULL) == 0.1f);

    /* resume: same header, rows appended, no second header */
    assert_int_equal(vq_csv_open(&w, path, cols, 3, 1), 0);
    assert_int_equal(vq_csv_write(w, (double[]){2, 3, 4}), 0);
    assert_int_equal(vq_csv_close(w), 0);
    assert_string_equal(slurp(path), "step,loss,psnr\n1,0.5,20.25\n1000000,0.100000001,-0.001\n2,3,4\n");

    /* a row cut short by a crash is dropped on resume */
    FILE *f = fopen(path, "a");
    fputs("3,0.2", f);
    fclose(f);
    assert_int_equal(vq_csv_open(&w, path, cols, 3, 1), 0);
    assert_int_equal(vq_csv_write(w, (double[]){3, 0.25, 5}), 0);
    assert_int_equal(vq_csv_close(w), 0);
    assert_string_equal(slurp(path), "step,loss,psnr\n1,0.5,20.25\n1000000,0.100000001,-0.001\n2,3,4\n3,0.25,5\n");

    /* resuming with other columns is refused, and names the file */
    const char *other[] = {"step", "loss"};
    assert_int_equal(vq_csv_open(&w, path, other, 2, 1), VQ_ERR_MISMATCH);
    assert_null(w);
    assert_non_null(strstr(vq_last_error(), path));
    assert_non_null(strstr(vq_last_error(), "step,loss,psnr"));

    /* append to a file that does not exist yet: header written */
    char path2[256];
    snprintf(path2, sizeof path2, "%s/new.csv", dir);
    assert_int_equal(vq_csv_open(&w, path2, other, 2, 1), 0);
    assert_int_equal(vq_csv_close(w), 0);
    assert_string_equal(slurp(path2), "step,loss\n");

    /* overwrite mode truncates */
    assert_int_equal(vq_csv_open(&w, path, other, 2, 0), 0);
    assert_int_equal(vq_csv_close(w), 0);
    assert_string_equal(slurp(path), "step,loss\n");

    const char *bad[] = {"a,b"};
    assert_int_equal(vq_csv_open(&w, path, bad, 1, 0), VQ_ERR_ARG);
    char nodir[300];
    snprintf(nodir, sizeof nodir, "%s/missing/x.csv", dir);
    assert_int_equal(vq_csv_open(&w, nodir, cols, 3, 0), VQ_ERR_IO);
    assert_non_null(strstr(vq_last_error(), "missing/x.csv"));

    unlink(path);
    unlink(path2);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_psnr_l1_l2),  cmocka_unit_test(test_l1_large),
        cmocka_unit_test(test_ssim_self),   cmocka_unit_test(test_ssim_fixture),
        cmocka_unit_test(test_ssim_errors), cmocka_unit_test(test_codebook_stats),
        cmocka_unit_test(test_csv),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
