/* driver_eval.c: the `eval` subcommand: reconstruction quality and codebook
 * use of a checkpoint on a dataset split, printed as one JSON line.
 *
 * Image metrics are taken on the model's input size, after mapping both the
 * input and its reconstruction from [lo, hi] to [0, 1] and clamping:
 *   psnr  10 log10(1 / mse) per image, averaged over images (an exact
 *         reconstruction counts as 100 dB so the mean stays finite);
 *   ssim  metrics.h's vq_ssim (11x11 Gaussian, valid windows), image mean;
 *   l1    mean |x - x_hat| over every value.
 * Codebook use counts every index over the split: codebook_usage = used / K,
 * perplexity = exp(entropy of the code frequencies).
 * --grid OUT.png writes the first --grid-images images of the split (at most
 * one batch) above their reconstructions, as train's recon_<step>.png does.
 * Legend: B batch, C, H, W the model's input, K codes. */
#include "driver_internal.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"
#include "metrics.h"
#include "threads.h"

#define PSNR_CAP 100.0

void drv_json_num(FILE *f, double v)
{
    if (isfinite(v)) fprintf(f, "%.9g", v);
    else fputs("null", f);
}

/* x (n) from [lo, hi] to [0, 1], clamped. */
static void to_unit(float *dst, const float *src, size_t n, float lo, float hi)
{
    float s = 1.0f / (hi - lo);
    for (size_t i = 0; i < n; i++) {
        float v = (src[i] - lo) * s;
        dst[i] = v < 0.0f ? 0.0f : v > 1.0f ? 1.0f : v;
    }
}

int drv_cmd_eval(drv *dv, int argc, char **argv)
{
    const vq_model_desc *d = dv->d;
    const char *ckpt = NULL, *data = NULL, *split = "test", *grid = NULL, *lpips = NULL;
    int64_t limit = 0;
    int batch = d->train.batch, threads = 0, grid_n = 16;
    drv_opt o[] = {
        {"--ckpt", NULL, DRV_STR, &ckpt, "CKPT", "checkpoint to evaluate", 0},
        {"--data", NULL, DRV_STR, &data, "fashion-mnist|DIR", "images to reconstruct", 0},
        {"--split", NULL, DRV_STR, &split, "S", "Fashion-MNIST split: test (default) or train", 0},
        {"--limit", NULL, DRV_I64, &limit, "N", "only the first N images", 0},
        {"--batch", NULL, DRV_INT, &batch, "B", "images per forward pass", 0},
        {"--threads", NULL, DRV_INT, &threads, "T", "threads (default: all allowed)", 0},
        {"--grid", NULL, DRV_STR, &grid, "OUT.png", "also write the first images above their reconstructions", 0},
        {"--grid-images", NULL, DRV_INT, &grid_n, "N", "images in the --grid (default 16, at most --batch)", 0},
        {"--lpips", NULL, DRV_STR, &lpips, "FILE", "LPIPS weights: the perceptual term in the losses", 0},
    };
    drv_cmd_spec spec = {"eval", "--ckpt CKPT --data fashion-mnist|DIR [options]",
                         "Print one JSON line: psnr, ssim, l1, codebook_usage, codes_used, perplexity, disc_accuracy (with a "
                         "discriminator), losses, images.", NULL, 0, 0};
    const char *pos[1];
    int n_pos, rc = drv_parse(dv, &spec, o, (int)(sizeof o / sizeof o[0]), argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? VQ_EXIT_OK : rc;
    if (!drv_require(dv, "eval", &o[0]) || !drv_require(dv, "eval", &o[1])) return VQ_EXIT_USAGE;
    if (batch <= 0) return drv_usage_error(dv, "eval", "--batch %d must be positive", batch);
    if (limit < 0) return drv_usage_error(dv, "eval", "--limit %" PRId64 " must be >= 0", limit);
    if (grid_n <= 0) return drv_usage_error(dv, "eval", "--grid-images %d must be positive", grid_n);
    if (strcmp(split, "test") && strcmp(split, "train"))
        return drv_usage_error(dv, "eval", "--split %s: expected test or train", split);
    vq_threads_set(threads);

    vq_dataset *ds = NULL;
    vq_model *m = NULL;
    float *x = NULL, *ux = NULL, *ur = NULL;
    int64_t *counts = NULL;
    int status = VQ_EXIT_ERROR;
    vq_transform tf = drv_transform(d);
    const int C = d->data.channels, H = d->data.height, W = d->data.width;
    const size_t per = (size_t)C * H * W;
    size_t total_k = 0;
    for (int c = 0; c < d->n_codebooks; c++) total_k += (size_t)d->codebooks[c].K;

    if ((rc = drv_open_data(&ds, data, split))) goto out;
    int64_t n = vq_dataset_size(ds);
    if (limit > 0 && limit < n) n = limit;
    if (batch > n) batch = (int)n;
    if ((rc = drv_model_create(d, &m, batch))) goto out;
    if ((rc = drv_ckpt_load(ckpt, d, m, NULL, NULL, NULL))) goto out;
    if ((rc = drv_setup_lpips(dv, d, m, lpips, "eval"))) goto out;
    x = vq_alloc(per * batch * sizeof(float));
    ux = vq_alloc(per * batch * sizeof(float));
    ur = vq_alloc(per * batch * sizeof(float));
    counts = vq_alloc((total_k + 1) * sizeof(int64_t));
    if (!x || !ux || !ur || !counts) { rc = VQ_ERR_NOMEM; goto out; }

    double psnr_sum = 0, ssim_sum = 0, l1_sum = 0, loss_sum[VQ_DESC_MAX_LOSSES] = {0};
    int64_t d_right[2] = {0, 0}, d_total = 0;   /* the discriminator's correct calls on real, fake logits */
    for (int64_t i0 = 0; i0 < n; i0 += batch) {
        int B = (int)(n - i0 < batch ? n - i0 : batch);
        for (int b = 0; b < B; b++)
            if ((rc = vq_dataset_sample(x + b * per, NULL, ds, i0 + b, &tf, NULL))) goto out;
        if ((rc = d->forward(m, x, B, VQ_MODE_EVAL, NULL))) goto out;
        if (grid && i0 == 0) {
            const float *rows[2] = {x, d->recon(m)};
            vq_image g;
            if ((rc = vq_image_grid_rows(&g, rows, 2, B < grid_n ? B : grid_n, C, H, W, 2, 255, d->data.lo,
                                         d->data.hi))) goto out;
            rc = vq_png_write(grid, &g);
            vq_image_free(&g);
            if (rc) goto out;
        }
        const float *L = d->loss_values(m);
        for (int k = 0; k < d->n_losses; k++) loss_sum[k] += (double)L[k] * B;
        if (d->has_disc) {   /* eval mode (running statistics): real should score > 0, x_hat < 0 */
            const int64_t nl = (int64_t)B * d->disc_logits_per_image;
            for (int pass = 0; pass < 2; pass++) {
                const float *logits;
                if ((rc = d->discriminate(m, &logits, pass ? d->recon(m) : x, B, VQ_MODE_EVAL))) goto out;
                for (int64_t k = 0; k < nl; k++) d_right[pass] += pass ? logits[k] < 0.0f : logits[k] > 0.0f;
            }
            d_total += nl;
        }
        to_unit(ux, x, per * B, d->data.lo, d->data.hi);
        to_unit(ur, d->recon(m), per * B, d->data.lo, d->data.hi);
        for (int b = 0; b < B; b++) {
            double p = vq_psnr(ur + b * per, ux + b * per, per, 1.0);
            psnr_sum += isfinite(p) && p < PSNR_CAP ? p : PSNR_CAP;
        }
        l1_sum += vq_mean_l1(ur, ux, per * B) * (double)(per * B);
        if (H >= 11 && W >= 11) {
            double s;
            if ((rc = vq_ssim(&s, ur, ux, B, C, H, W, 0.0f, 1.0f))) goto out;
            ssim_sum += s * B;
        }
        size_t base = 0;
        for (int c = 0; c < d->n_codebooks; c++) {
            const vq_codebook_desc *cb = &d->codebooks[c];
            const int32_t *idx = d->indices(m, c);
            int64_t cnt = (int64_t)B * cb->grid_h * cb->grid_w;
            for (int64_t k = 0; k < cnt; k++)
                if (idx[k] >= 0 && idx[k] < cb->K) counts[base + (size_t)idx[k]]++;
            base += (size_t)cb->K;
        }
    }
    printf("{\"model\":\"%s\",\"images\":%" PRId64 ",\"psnr\":", d->name, n);
    drv_json_num(stdout, psnr_sum / n);
    printf(",\"ssim\":");
    drv_json_num(stdout, H >= 11 && W >= 11 ? ssim_sum / n : NAN);
    printf(",\"l1\":");
    drv_json_num(stdout, l1_sum / ((double)n * per));
    for (int pass = 0; pass < 3; pass++) {
        static const char *keys[] = {"codebook_usage", "codes_used", "perplexity"};
        printf(",\"%s\":{", keys[pass]);
        size_t base = 0;
        for (int c = 0; c < d->n_codebooks; c++) {
            vq_codebook_stats st;
            vq_codebook_stats_compute(&st, counts + base, d->codebooks[c].K);
            base += (size_t)d->codebooks[c].K;
            printf("%s\"%s\":", c ? "," : "", d->codebooks[c].name);
            drv_json_num(stdout, pass == 0 ? st.usage : pass == 1 ? st.used : st.perplexity);
        }
        printf("}");
    }
    if (d->has_disc && d_total > 0) {
        printf(",\"disc_accuracy\":{\"real\":");
        drv_json_num(stdout, (double)d_right[0] / (double)d_total);
        printf(",\"fake\":");
        drv_json_num(stdout, (double)d_right[1] / (double)d_total);
        printf("}");
    }
    printf(",\"losses\":{");
    for (int k = 0; k < d->n_losses; k++) {
        printf("%s\"%s\":", k ? "," : "", d->loss_names[k]);
        drv_json_num(stdout, loss_sum[k] / n);
    }
    printf("}}\n");
    status = VQ_EXIT_OK;
out:
    if (status != VQ_EXIT_OK) {
        if (rc == VQ_ERR_NOMEM) vq_fail(VQ_ERR_NOMEM, "out of memory");
        drv_fail(dv, "eval");
    }
    vq_free(x); vq_free(ux); vq_free(ur); vq_free(counts);
    if (m) d->destroy(m);
    if (ds) vq_dataset_close(ds);
    return status;
}
