/* dataset.h: training data for the runtime: datasets (Fashion-MNIST, a
 * directory of PNGs), the per-sample transform to the model's input, and a
 * loader that shuffles deterministically and batches, optionally with a
 * background prefetch thread.
 *
 * The loader is a stream of samples: global position p is sample p % N of
 * epoch p / N, and each epoch has its own permutation derived from (seed,
 * epoch). Every random choice for a sample (crop offset, flip) is derived from
 * (seed, epoch, position in epoch), never from a shared generator, so the
 * batches do not depend on threading, and a run resumed with vq_loader_seek()
 * at the position saved by vq_loader_tell() sees exactly the batches an
 * uninterrupted run would have. Batches may span an epoch boundary.
 *
 * Dimension legend: N dataset items, B batch, C channels, H, W the model's
 * resolution. Batches are float32 (B, C, H, W) in [lo, hi]. */
#ifndef VQ_DATASET_H
#define VQ_DATASET_H

#include <stdint.h>

#include "image.h"
#include "vq_common.h"

/* --- datasets ---------------------------------------------------------------- */
typedef struct vq_dataset vq_dataset;

/* Fashion-MNIST split "train" or "test" (dir NULL: VQ_FMNIST_DIR), held in
 * memory (47 MB for train). Items are 28x28 gray; labels 0..9. */
int vq_dataset_open_fmnist(vq_dataset **out, const char *dir, const char *split);
/* Every *.png (any case) under dir, descending into subdirectories when
 * `recursive` (directory symlinks are not followed). Sorted by path, byte
 * order, so the item order does not depend on the file system. Files are read
 * when a sample is drawn; labels are -1. Fails when there is no PNG. */
int vq_dataset_open_pngdir(vq_dataset **out, const char *dir, int recursive);
void vq_dataset_close(vq_dataset *ds);
int64_t vq_dataset_size(const vq_dataset *ds);
/* A name for item i in messages: its path, or "<file>[i]" for Fashion-MNIST. */
void vq_dataset_item_name(const vq_dataset *ds, int64_t i, char *buf, size_t len);
/* Item i as an 8-bit image with `channels` (1 or 3); *label (may be NULL)
 * gets its class or -1. Safe to call from several threads at once. */
int vq_dataset_load(vq_image *out, int *label, const vq_dataset *ds, int64_t i, int channels, vq_alpha_mode alpha);

/* --- per-sample transform ----------------------------------------------------- */
/* Applied in this order: resize (shorter side), pad, crop, flip, scale. Use
 * vq_transform_default() and change what differs. */
typedef struct vq_transform {
    int channels;              /* C: 1 or 3 */
    int height, width;         /* H, W: the model's resolution */
    int resize;                /* > 0: first resize so the shorter side is this; 0: no resize */
    vq_resize_mode resize_mode; /* default VQ_RESIZE_AREA (see image.c for why) */
    int pad;                   /* 1: an image smaller than (H, W) is padded, centered; 0: it is an error */
    uint8_t pad_value;         /* 8-bit value used to pad; 0 is black, i.e. lo after scaling */
    int random_crop;           /* larger than (H, W): 1 a uniformly random window, 0 the center one */
    int hflip;                 /* 1: mirror left-right with probability 1/2 */
    float lo, hi;              /* 8-bit v becomes lo + v * (hi - lo) / 255 */
    vq_alpha_mode alpha;       /* PNG alpha rule, see image.h */
} vq_transform;

/* channels C at (H, W), range [-1, 1], area resize off (resize = 0), no pad,
 * center crop, no flip, alpha dropped. */
vq_transform vq_transform_default(int channels, int height, int width);
/* Our Fashion-MNIST setting: 1 channel, 28x28 padded with black to 32x32. */
vq_transform vq_transform_fmnist32(void);
/* Item i through tf into x (C, H, W); rng supplies the crop and flip draws
 * (it may be NULL when tf has neither random_crop nor hflip). */
int vq_dataset_sample(float *x, int *label, const vq_dataset *ds, int64_t i, const vq_transform *tf, vq_rng *rng);

/* --- loader ------------------------------------------------------------------- */
typedef struct vq_loader_config {
    int batch;         /* B */
    uint64_t seed;     /* shuffling and per-sample random choices */
    int shuffle;       /* 1: a fresh permutation per epoch from (seed, epoch); 0: dataset order */
    int prefetch;      /* batches prepared ahead by a background thread; 0: none, no thread */
    int skip_bad;      /* 1: items that fail to load are skipped and counted; 0: the first one fails */
    vq_transform tf;
} vq_loader_config;

typedef struct vq_batch {
    float *x;       /* (B, C, H, W) */
    int32_t *label; /* (B), -1 when the dataset has none */
    int64_t *index; /* (B) dataset item of each sample */
    int64_t *epoch; /* (B) epoch each sample was drawn in */
    int B, C, H, W;
} vq_batch;

typedef struct vq_loader vq_loader;

/* `ds` is borrowed and must outlive the loader. Starts the prefetch thread. */
int vq_loader_open(vq_loader **out, vq_dataset *ds, const vq_loader_config *cfg);
/* The next batch; *batch stays valid until the next call, seek or close. An
 * error met by the prefetch thread is returned here, in order (the batches
 * before it are delivered first), and again by every later call. */
int vq_loader_next(vq_loader *ld, const vq_batch **batch);
/* Global stream position after the last batch returned (skipped items count).
 * Save it with a checkpoint; without bad items it is steps * B. */
int64_t vq_loader_tell(const vq_loader *ld);
/* Continue from global position `pos` (epoch pos / N, offset pos % N). */
int vq_loader_seek(vq_loader *ld, int64_t pos);
/* Distinct bad items skipped in the batches returned so far (skip_bad). */
int64_t vq_loader_bad_count(const vq_loader *ld);
/* Why the items first found bad in the last batch that had any were skipped,
 * one message a line ("dir/x.png: corrupt PNG: ..."; as many as fit in 2 KiB);
 * "" when none was. */
const char *vq_loader_last_bad(const vq_loader *ld);
/* Stops and joins the prefetch thread, frees everything. NULL is fine. */
void vq_loader_close(vq_loader *ld);

#endif
