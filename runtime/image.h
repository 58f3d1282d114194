/* image.h: 8-bit images in memory, PNG files through libpng, the geometric
 * transforms the data pipeline needs, and image grids for logging.
 *
 * A vq_image is 8-bit, interleaved (H, W, C) with C = 1 (gray) or 3 (RGB);
 * models see float32 (C, H, W) in a value range [lo, hi] (taming: [-1, 1]).
 * Not here: datasets, batching, random choices (dataset.h decides crops and
 * flips and calls these with explicit offsets).
 *
 * PNG reading accepts every PNG color type and bit depth and converts to the
 * wanted channel count:
 *   - palette (with or without tRNS), 1/2/4-bit gray: expanded to 8-bit;
 *   - 16-bit samples: scaled with rounding, v8 = round(v16 / 257);
 *   - alpha (gray+alpha, RGBA, palette or gray/RGB with tRNS): by default
 *     DROPPED, i.e. the color samples are kept as stored, which is what PIL's
 *     Image.convert("RGB") does and so what taming-transformers trains on;
 *     VQ_ALPHA_BLACK composites on black instead (c * a / 255, rounded);
 *   - 3 channels from gray: the gray value replicated;
 *   - 1 channel from color: ITU-R BT.601 luma with PIL's integer arithmetic,
 *     L = (19595 R + 38470 G + 7471 B + 32768) >> 16 (PIL convert("L")).
 * Writing produces 8-bit gray or RGB, written to a temporary file in the same
 * directory, fsync'd, then renamed over the target, so a crash never leaves a
 * half-written PNG under the final name.
 *
 * Dimension legend: B batch, C channels, H, W height and width. */
#ifndef VQ_IMAGE_H
#define VQ_IMAGE_H

#include <stdint.h>

#include "vq_common.h"

typedef struct vq_image {
    uint8_t *data; /* (H, W, C), vq_alloc'd */
    int h, w, c;
} vq_image;

typedef enum vq_alpha_mode {
    VQ_ALPHA_DROP = 0, /* keep color samples as stored (PIL convert("RGB"), taming) */
    VQ_ALPHA_BLACK,    /* composite on black: c * a / 255 */
} vq_alpha_mode;

typedef enum vq_resize_mode {
    VQ_RESIZE_BILINEAR = 0, /* OpenCV INTER_LINEAR geometry (half-pixel centers, no antialiasing) */
    VQ_RESIZE_AREA,         /* exact box average when shrinking; bilinear when growing */
} vq_resize_mode;

/* Allocate an (h, w, c) image, zero-filled. */
int vq_image_alloc(vq_image *img, int h, int w, int c);
void vq_image_free(vq_image *img);

/* --- PNG (image_png.c) --- */
/* Read any PNG and convert to `channels` (1 or 3) as described above. A
 * corrupt, truncated or non-PNG file gives VQ_ERR_FORMAT naming the file. */
int vq_png_read(vq_image *out, const char *path, int channels, vq_alpha_mode alpha);
/* Write an 8-bit gray (c = 1) or RGB (c = 3) PNG atomically (temp + rename). */
int vq_png_write(const char *path, const vq_image *img);

/* --- transforms (image.c); `out` is allocated, `in` untouched --- */
/* Resize so that the shorter side equals `target`; the longer side is scaled
 * by the same factor and rounded half-to-even (albumentations SmallestMaxSize). */
int vq_image_resize_short(vq_image *out, const vq_image *in, int target, vq_resize_mode mode);
/* Resize to exactly (h, w). */
int vq_image_resize(vq_image *out, const vq_image *in, int h, int w, vq_resize_mode mode);
/* The (h, w) window with top-left corner (y, x); must lie inside `in`. */
int vq_image_crop(vq_image *out, const vq_image *in, int y, int x, int h, int w);
/* Pad to (h, w) >= the input's size with `value`, the input centered; the odd
 * pixel goes to the bottom/right: top = (h - in->h) / 2 (torchvision Pad). */
int vq_image_pad(vq_image *out, const vq_image *in, int h, int w, uint8_t value);
/* Mirror left-right in place. */
void vq_image_hflip(vq_image *img);
/* 8-bit (H, W, C) to float (C, H, W) in [lo, hi]: x = lo + v * (hi - lo) / 255.
 * For [-1, 1] this is v / 127.5 - 1, taming's preprocess_image. */
void vq_image_to_float(float *dst, const vq_image *img, float lo, float hi);

/* --- grids (image.c) --- */
/* Lay out n images from x (n, C, H, W) in rows of `ncols`, `pad` pixels of
 * `pad_value` around and between them. Floats map from [lo, hi] to 0..255,
 * clamped and rounded to nearest (NaN gives 0). C must be 1 or 3. */
int vq_image_grid(vq_image *out, const float *x, int n, int C, int H, int W, int ncols, int pad,
                  uint8_t pad_value, float lo, float hi);
/* One grid row per tensor: rows[r] is (B, C, H, W), e.g. rows = {inputs,
 * reconstructions} puts the originals on top and their reconstructions below. */
int vq_image_grid_rows(vq_image *out, const float *const *rows, int nrows, int B, int C, int H, int W, int pad,
                       uint8_t pad_value, float lo, float hi);

#endif
