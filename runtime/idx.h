/* idx.h: reading IDX files (the MNIST / Fashion-MNIST container), gzipped or
 * plain, with every header promise checked against the bytes actually present.
 *
 * Only unsigned-byte IDX is handled: images are magic 0x00000803 (N, H, W) and
 * labels magic 0x00000801 (N). This is not a general IDX reader (no other
 * element types, no other ranks). Errors name the file and the reason, e.g.
 *   "train-images-idx3-ubyte.gz: truncated: header promises 60000 images of
 *    28x28, file ends after 1234 bytes of data".
 *
 * Dimension legend: N images, H, W height and width. Pixels are 8-bit, 0 is
 * black (background) and 255 white, row-major. */
#ifndef VQ_IDX_H
#define VQ_IDX_H

#include <stdint.h>

#include "vq_common.h"

#define VQ_IDX_MAGIC_IMAGES 0x00000803u
#define VQ_IDX_MAGIC_LABELS 0x00000801u
/* Where Debian's dataset-fashion-mnist package puts the files. */
#define VQ_FMNIST_DIR "/usr/share/datasets/fashion-mnist"

typedef struct vq_idx_set {
    uint8_t *pixels; /* (N, H, W), vq_alloc'd */
    uint8_t *labels; /* (N), vq_alloc'd; NULL when read without labels */
    int64_t n;
    int h, w;
} vq_idx_set;

/* Read an image file (magic 0x803) into out->pixels/n/h/w; labels stay NULL. */
int vq_idx_read_images(vq_idx_set *out, const char *path);
/* Read a label file (magic 0x801): *labels (N) vq_alloc'd, *n its count. */
int vq_idx_read_labels(uint8_t **labels, int64_t *n, const char *path);
/* Both files; fails (VQ_ERR_MISMATCH) when their counts disagree. */
int vq_idx_load(vq_idx_set *out, const char *images_path, const char *labels_path);
/* Fashion-MNIST split "train" (60000) or "test" (10000) from dir (NULL:
 * VQ_FMNIST_DIR), files <split>-{images-idx3,labels-idx1}-ubyte.gz with "test"
 * stored as "t10k". Also checks labels are classes 0..9. */
int vq_fmnist_load(vq_idx_set *out, const char *dir, const char *split);
void vq_idx_free(vq_idx_set *s);

#endif
