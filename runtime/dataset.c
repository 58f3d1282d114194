/* dataset.c: the two dataset sources (Fashion-MNIST in memory, a sorted list
 * of PNG paths) and the per-sample transform. The loader (batches, shuffling,
 * prefetch) is in dataset_loader.c. See dataset.h.
 *
 * Dimension legend: N items, C channels, H, W height and width. */
#include "dataset.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "idx.h"

typedef enum { SRC_FMNIST, SRC_PNGDIR } source_kind;

struct vq_dataset {
    source_kind kind;
    int64_t n;            /* N */
    vq_idx_set fm;        /* SRC_FMNIST: pixels (N, 28, 28), labels (N) */
    char fm_name[64];     /* "Fashion-MNIST train" for messages */
    char **paths;         /* SRC_PNGDIR: (N) sorted paths */
};

int vq_dataset_open_fmnist(vq_dataset **out, const char *dir, const char *split)
{
    *out = NULL;
    vq_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    int rc = vq_fmnist_load(&ds->fm, dir, split);
    if (rc) { free(ds); return rc; }
    ds->kind = SRC_FMNIST;
    ds->n = ds->fm.n;
    snprintf(ds->fm_name, sizeof ds->fm_name, "Fashion-MNIST %s", split ? split : "train");
    *out = ds;
    return 0;
}

/* --- PNG directory listing --- */
typedef struct path_list { char **v; size_t n, cap; } path_list;

static int path_push(path_list *l, char *p)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        char **v = realloc(l->v, cap * sizeof *v);
        if (!v) { free(p); return vq_fail(VQ_ERR_NOMEM, "out of memory listing PNG files"); }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = p;
    return 0;
}

static int is_png_name(const char *name)
{
    size_t len = strlen(name);
    return len > 4 && !strcasecmp(name + len - 4, ".png");
}

static int list_dir(path_list *l, const char *dir, int recursive)
{
    DIR *d = opendir(dir);
    if (!d) return vq_fail(VQ_ERR_IO, "%s: cannot open directory: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while (!rc && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *p;
        if (asprintf(&p, "%s/%s", dir, e->d_name) < 0) { rc = vq_fail(VQ_ERR_NOMEM, "out of memory"); break; }
        struct stat st;
        /* lstat: a symlinked directory is not entered (no cycles); a symlinked
         * file is still listed below if it points at a regular file. */
        if (lstat(p, &st) != 0) { free(p); continue; }
        if (S_ISDIR(st.st_mode)) {
            if (recursive) rc = list_dir(l, p, recursive);
            free(p);
        } else if (is_png_name(e->d_name) &&
                   (S_ISREG(st.st_mode) || (S_ISLNK(st.st_mode) && stat(p, &st) == 0 && S_ISREG(st.st_mode)))) {
            rc = path_push(l, p);
        } else {
            free(p);
        }
    }
    closedir(d);
    return rc;
}

static int cmp_path(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int vq_dataset_open_pngdir(vq_dataset **out, const char *dir, int recursive)
{
    *out = NULL;
    path_list l = {0};
    int rc = list_dir(&l, dir, recursive);
    if (!rc && l.n == 0)
        rc = vq_fail(VQ_ERR_ARG, "%s: no .png files%s", dir,
                     recursive ? " (searched recursively)" : " (subdirectories not searched)");
    vq_dataset *ds = rc ? NULL : calloc(1, sizeof *ds);
    if (!rc && !ds) rc = vq_fail(VQ_ERR_NOMEM, "out of memory");
    if (rc) {
        for (size_t i = 0; i < l.n; i++) free(l.v[i]);
        free(l.v);
        return rc;
    }
    qsort(l.v, l.n, sizeof *l.v, cmp_path);
    ds->kind = SRC_PNGDIR;
    ds->paths = l.v;
    ds->n = (int64_t)l.n;
    *out = ds;
    return 0;
}

void vq_dataset_close(vq_dataset *ds)
{
    if (!ds) return;
    vq_idx_free(&ds->fm);
    if (ds->paths)
        for (int64_t i = 0; i < ds->n; i++) free(ds->paths[i]);
    free(ds->paths);
    free(ds);
}

int64_t vq_dataset_size(const vq_dataset *ds) { return ds->n; }

void vq_dataset_item_name(const vq_dataset *ds, int64_t i, char *buf, size_t len)
{
    if (i < 0 || i >= ds->n) snprintf(buf, len, "item %lld (out of range)", (long long)i);
    else if (ds->kind == SRC_PNGDIR) snprintf(buf, len, "%s", ds->paths[i]);
    else snprintf(buf, len, "%s[%lld]", ds->fm_name, (long long)i);
}

int vq_dataset_load(vq_image *out, int *label, const vq_dataset *ds, int64_t i, int channels, vq_alpha_mode alpha)
{
    memset(out, 0, sizeof *out);
    if (label) *label = -1;
    if (i < 0 || i >= ds->n)
        return vq_fail(VQ_ERR_ARG, "dataset item %lld out of range [0, %lld)", (long long)i, (long long)ds->n);
    if (channels != 1 && channels != 3) return vq_fail(VQ_ERR_ARG, "dataset: %d channels requested (1 or 3)", channels);
    if (ds->kind == SRC_PNGDIR) return vq_png_read(out, ds->paths[i], channels, alpha);
    int h = ds->fm.h, w = ds->fm.w;
    int rc = vq_image_alloc(out, h, w, channels);
    if (rc) return rc;
    const uint8_t *src = ds->fm.pixels + (size_t)i * h * w; /* (H, W) */
    for (int p = 0; p < h * w; p++)
        for (int c = 0; c < channels; c++) out->data[p * channels + c] = src[p];
    if (label) *label = ds->fm.labels[i];
    return 0;
}

/* --- transform --- */
vq_transform vq_transform_default(int channels, int height, int width)
{
    vq_transform t = {0};
    t.channels = channels;
    t.height = height;
    t.width = width;
    t.resize_mode = VQ_RESIZE_AREA;
    t.lo = -1.0f;
    t.hi = 1.0f;
    t.alpha = VQ_ALPHA_DROP;
    return t;
}

vq_transform vq_transform_fmnist32(void)
{
    vq_transform t = vq_transform_default(1, 32, 32);
    t.pad = 1;
    t.pad_value = 0;
    return t;
}

/* Replace *img by *next (both owned), freeing the old one. */
static void swap_in(vq_image *img, vq_image *next)
{
    vq_image_free(img);
    *img = *next;
}

int vq_dataset_sample(float *x, int *label, const vq_dataset *ds, int64_t i, const vq_transform *tf, vq_rng *rng)
{
    vq_image img, tmp;
    if (!rng && (tf->random_crop || tf->hflip))
        return vq_fail(VQ_ERR_ARG, "dataset: random crop or flip needs a random generator");
    int rc = vq_dataset_load(&img, label, ds, i, tf->channels, tf->alpha);
    if (rc) return rc;
    char name[512];
    if (tf->resize > 0) {
        rc = vq_image_resize_short(&tmp, &img, tf->resize, tf->resize_mode);
        if (rc) goto fail;
        swap_in(&img, &tmp);
    }
    if (img.h < tf->height || img.w < tf->width) {
        if (!tf->pad) {
            vq_dataset_item_name(ds, i, name, sizeof name);
            rc = vq_fail(VQ_ERR_MISMATCH, "%s: image is %dx%d%s, smaller than the model's %dx%d (enable pad or resize)",
                         name, img.h, img.w, tf->resize > 0 ? " after resizing" : "", tf->height, tf->width);
            goto fail;
        }
        int ph = img.h > tf->height ? img.h : tf->height, pw = img.w > tf->width ? img.w : tf->width;
        rc = vq_image_pad(&tmp, &img, ph, pw, tf->pad_value);
        if (rc) goto fail;
        swap_in(&img, &tmp);
    }
    if (img.h > tf->height || img.w > tf->width) {
        int dy = img.h - tf->height, dx = img.w - tf->width, y, xo;
        if (tf->random_crop) {
            y = (int)vq_rng_below(rng, (uint64_t)dy + 1);
            xo = (int)vq_rng_below(rng, (uint64_t)dx + 1);
        } else {
            y = dy / 2;
            xo = dx / 2;
        }
        rc = vq_image_crop(&tmp, &img, y, xo, tf->height, tf->width);
        if (rc) goto fail;
        swap_in(&img, &tmp);
    }
    if (tf->hflip && vq_rng_uniform(rng) < 0.5f) vq_image_hflip(&img);
    vq_image_to_float(x, &img, tf->lo, tf->hi);
    vq_image_free(&img);
    return 0;
fail:
    vq_image_free(&img);
    return rc;
}
