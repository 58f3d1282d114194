/* driver_data.c: from the model's data description to tensors: the
 * transform, opening a dataset by name, single PNG files in and out, and the
 * stream of training batches.
 *
 * Bad items in training data (a corrupt, truncated or non-PNG file, an image
 * too small for a model that neither pads nor resizes) are skipped, never
 * fatal unless every item is bad: each skip prints a warning naming the file
 * and the reason, and the total is printed when the stream closes. Skipped
 * items still count in the stream position, so a resumed run skips the same
 * ones and stays identical. Single files (reconstruct, encode) are rejected
 * with the same messages instead.
 *
 * Legend: B batch, C, H, W the model's input (desc->data). */
#include "driver_internal.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

vq_transform drv_transform(const vq_model_desc *d)
{
    vq_transform tf = vq_transform_default(d->data.channels, d->data.height, d->data.width);
    tf.lo = d->data.lo;
    tf.hi = d->data.hi;
    tf.pad = d->data.pad;
    tf.resize = d->data.resize;
    return tf;
}

int drv_open_data(vq_dataset **ds, const char *spec, const char *split)
{
    if (strcmp(spec, "fashion-mnist") == 0 || strcmp(spec, "fmnist") == 0)
        return vq_dataset_open_fmnist(ds, NULL, split);
    struct stat st;
    if (stat(spec, &st) != 0 || !S_ISDIR(st.st_mode))
        return vq_fail(VQ_ERR_ARG, "--data %s: neither \"fashion-mnist\" nor a directory of PNG files", spec);
    return vq_dataset_open_pngdir(ds, spec, 1);
}

int drv_load_png(float *x, const char *path, const vq_model_desc *d)
{
    vq_transform tf = drv_transform(d);
    vq_image img, tmp;
    int rc = vq_png_read(&img, path, tf.channels, tf.alpha);
    if (rc) return rc;
    if (tf.resize > 0 && (img.h != tf.height || img.w != tf.width)) {
        if ((rc = vq_image_resize_short(&tmp, &img, tf.resize, tf.resize_mode))) goto out;
        vq_image_free(&img); img = tmp;
    }
    if (img.h < tf.height || img.w < tf.width) {
        if (!tf.pad) {
            rc = vq_fail(VQ_ERR_MISMATCH, "%s: image is %dx%d, smaller than the model's %dx%d", path, img.h, img.w,
                         tf.height, tf.width);
            goto out;
        }
        int ph = img.h > tf.height ? img.h : tf.height, pw = img.w > tf.width ? img.w : tf.width;
        if ((rc = vq_image_pad(&tmp, &img, ph, pw, tf.pad_value))) goto out;
        vq_image_free(&img); img = tmp;
    }
    if (img.h > tf.height || img.w > tf.width) { /* center crop, as the dataset transform does */
        if ((rc = vq_image_crop(&tmp, &img, (img.h - tf.height) / 2, (img.w - tf.width) / 2, tf.height, tf.width)))
            goto out;
        vq_image_free(&img); img = tmp;
    }
    vq_image_to_float(x, &img, tf.lo, tf.hi);
out:
    vq_image_free(&img);
    return rc;
}

int drv_save_row(const char *path, const float *x, int n, const vq_model_desc *d)
{
    vq_image g;
    int rc = vq_image_grid(&g, x, n, d->data.channels, d->data.height, d->data.width, n, 0, 0, d->data.lo, d->data.hi);
    if (rc) return rc;
    rc = vq_png_write(path, &g);
    vq_image_free(&g);
    return rc;
}

/* --- batches --- */
struct drv_batches {
    vq_loader *ld;             /* whole dataset: the runtime loader */
    /* --limit: the first `n` items, one Fisher-Yates permutation per epoch */
    const vq_dataset *ds;
    vq_transform tf;
    int B;
    uint64_t seed;
    int64_t n, pos, perm_epoch;
    int64_t *perm;             /* (n) */
    uint8_t *bad;              /* (n) 1 once item failed to load */
    float *x;                  /* (B, C, H, W) */
    int64_t bad_total;         /* bad items skipped (both paths) */
};

/* One warning line per skipped item, on its own line even under the progress bar. */
static void warn_skip(const char *why, int64_t total)
{
    fprintf(stderr, "%swarning: skipping a bad training image: %s (%lld skipped so far)\n",
            isatty(fileno(stderr)) ? "\r\033[K" : "", why, (long long)total);
}

int drv_batches_open(drv_batches **out, vq_dataset *ds, const vq_transform *tf, int batch,
                     uint64_t seed, int64_t limit)
{
    *out = NULL;
    drv_batches *b = calloc(1, sizeof *b);
    if (!b) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    int64_t N = vq_dataset_size(ds);
    int rc = 0;
    if (limit <= 0 || limit >= N) {
        vq_loader_config cfg = {.batch = batch, .seed = seed, .shuffle = 1, .prefetch = 2, .skip_bad = 1, .tf = *tf};
        rc = vq_loader_open(&b->ld, ds, &cfg);
    } else {
        b->ds = ds; b->tf = *tf; b->B = batch; b->seed = seed; b->n = limit; b->perm_epoch = -1;
        b->perm = vq_alloc((size_t)limit * sizeof(int64_t));
        b->bad = vq_alloc((size_t)limit);
        b->x = vq_alloc((size_t)batch * tf->channels * tf->height * tf->width * sizeof(float));
        if (!b->perm || !b->bad || !b->x) rc = vq_fail(VQ_ERR_NOMEM, "out of memory for %d-image batches", batch);
    }
    if (rc) { drv_batches_close(b); return rc; }
    *out = b;
    return VQ_OK;
}

static void make_perm(drv_batches *b, int64_t epoch)
{
    vq_rng r;
    vq_rng_seed(&r, b->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(epoch + 1)));
    for (int64_t i = 0; i < b->n; i++) b->perm[i] = i;
    for (int64_t i = b->n - 1; i > 0; i--) { /* Fisher-Yates */
        int64_t j = (int64_t)vq_rng_below(&r, (uint64_t)i + 1), t = b->perm[i];
        b->perm[i] = b->perm[j]; b->perm[j] = t;
    }
    b->perm_epoch = epoch;
}

int drv_batches_next(drv_batches *b, const float **x)
{
    if (b->ld) {
        const vq_batch *vb;
        int rc = vq_loader_next(b->ld, &vb);
        if (rc) return rc;
        int64_t total = vq_loader_bad_count(b->ld);
        if (total > b->bad_total) {   /* the loader lists this batch's new bad items, one a line */
            const char *p = vq_loader_last_bad(b->ld);
            while (b->bad_total < total) {
                size_t len = strcspn(p, "\n");
                char why[600];
                snprintf(why, sizeof why, "%.*s", (int)(len < 590 ? len : 590), *p ? p : "(reason not kept)");
                warn_skip(why, ++b->bad_total);
                p += len + (p[len] == '\n');
            }
        }
        *x = vb->x;
        return VQ_OK;
    }
    size_t per = (size_t)b->tf.channels * b->tf.height * b->tf.width;
    int64_t misses = 0;   /* consecutive bad draws: n of them means no item is usable */
    for (int i = 0; i < b->B; b->pos++) {
        int64_t epoch = b->pos / b->n, item;
        if (epoch != b->perm_epoch) make_perm(b, epoch);
        item = b->perm[b->pos % b->n];
        int rc = b->bad[item] ? VQ_ERR_FORMAT : vq_dataset_sample(b->x + i * per, NULL, b->ds, item, &b->tf, NULL);
        if (rc == VQ_ERR_NOMEM) return rc;
        if (rc) {
            if (!b->bad[item]) {
                b->bad[item] = 1;
                warn_skip(vq_last_error(), ++b->bad_total);
            }
            if (++misses >= b->n)
                return vq_fail(VQ_ERR_FORMAT, "dataset: all %lld items of --limit %lld failed to load", (long long)b->n,
                               (long long)b->n);
            continue;
        }
        misses = 0;
        i++;
    }
    *x = b->x;
    return VQ_OK;
}

int64_t drv_batches_tell(const drv_batches *b) { return b->ld ? vq_loader_tell(b->ld) : b->pos; }

int drv_batches_seek(drv_batches *b, int64_t pos)
{
    if (pos < 0) return vq_fail(VQ_ERR_ARG, "data position %lld is negative", (long long)pos);
    if (b->ld) return vq_loader_seek(b->ld, pos);
    b->pos = pos;
    return VQ_OK;
}

void drv_batches_close(drv_batches *b)
{
    if (!b) return;
    if (b->bad_total)
        fprintf(stderr, "warning: %lld bad training image(s) skipped in all (listed above)\n", (long long)b->bad_total);
    vq_loader_close(b->ld);
    vq_free(b->bad);
    vq_free(b->perm);
    vq_free(b->x);
    free(b);
}
