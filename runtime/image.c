/* image.c: 8-bit image buffers, resize / crop / pad / flip, conversion to the
 * model's float range, and grids of float images for logging. PNG file I/O is
 * in image_png.c. See image.h.
 *
 * Dimension legend: B batch, C channels, H, W height and width; vq_image data
 * is (H, W, C), model tensors are (C, H, W). */
#include "image.h"

#include <math.h>
#include <string.h>

int vq_image_alloc(vq_image *img, int h, int w, int c)
{
    memset(img, 0, sizeof *img);
    if (h <= 0 || w <= 0 || c <= 0 || c > 4)
        return vq_fail(VQ_ERR_ARG, "image size %dx%dx%d is invalid", h, w, c);
    img->data = vq_alloc((size_t)h * (size_t)w * (size_t)c);
    if (!img->data) return VQ_ERR_NOMEM;
    img->h = h;
    img->w = w;
    img->c = c;
    return 0;
}

void vq_image_free(vq_image *img)
{
    if (!img) return;
    vq_free(img->data);
    memset(img, 0, sizeof *img);
}

static uint8_t to_u8(float v)
{
    if (!(v > 0.0f)) return 0; /* also NaN */
    if (v >= 255.0f) return 255;
    return (uint8_t)(v + 0.5f);
}

/* --- resize ------------------------------------------------------------------
 * Separable: each axis gets a table of taps (source index, weight) per output
 * index, applied first along W into a float buffer, then along H.
 *
 * Bilinear follows OpenCV's INTER_LINEAR (what albumentations' SmallestMaxSize
 * in taming uses by default): source coordinate (d + 0.5) * in/out - 0.5, edge
 * clamped. OpenCV rounds its weights to 11 bits for 8-bit images, so results
 * can differ from it by 1. Shrinking with bilinear reads only two source pixels
 * per output and aliases, so VQ_RESIZE_AREA (the default in dataset.h) averages
 * every source pixel the output pixel covers, with fractional weights at the
 * edges, like OpenCV's INTER_AREA when shrinking; growing, there is nothing to
 * average and it falls back to bilinear. */
typedef struct taps {
    int ntap;      /* taps per output index */
    int *start;    /* (out) first source index */
    float *weight; /* (out, ntap), taps beyond the source are weight 0 */
} taps;

static void taps_free(taps *t) { vq_free(t->start); vq_free(t->weight); }

static int taps_make(taps *t, int in, int out, vq_resize_mode mode)
{
    double scale = (double)in / out;
    int area = mode == VQ_RESIZE_AREA && in > out;
    t->ntap = area ? (int)ceil(scale) + 1 : 2;
    t->start = vq_alloc(sizeof(int) * (size_t)out);
    t->weight = vq_alloc(sizeof(float) * (size_t)out * (size_t)t->ntap);
    if (!t->start || !t->weight) { taps_free(t); return VQ_ERR_NOMEM; }
    for (int d = 0; d < out; d++) {
        float *w = t->weight + (size_t)d * t->ntap;
        if (area) {
            double lo = d * scale, hi = (d + 1) * scale;
            int s0 = (int)floor(lo);
            t->start[d] = s0;
            for (int k = 0; k < t->ntap; k++) {
                double a = s0 + k, b = a + 1;
                double ov = fmin(b, hi) - fmax(a, lo);
                w[k] = (ov > 0 && s0 + k < in) ? (float)(ov / scale) : 0.0f;
            }
        } else {
            double src = (d + 0.5) * scale - 0.5;
            int s0 = (int)floor(src);
            double f = src - s0;
            if (s0 < 0) { s0 = 0; f = 0; }
            if (s0 >= in - 1) { s0 = in - 1; f = 0; }
            t->start[d] = s0;
            w[0] = (float)(1 - f);
            w[1] = (float)f;
        }
    }
    return 0;
}

int vq_image_resize(vq_image *out, const vq_image *in, int h, int w, vq_resize_mode mode)
{
    memset(out, 0, sizeof *out);
    if (h <= 0 || w <= 0) return vq_fail(VQ_ERR_ARG, "resize to %dx%d is invalid", h, w);
    int C = in->c;
    taps tx = {0}, ty = {0};
    float *mid = NULL; /* (in->h, w, C) after the horizontal pass */
    int rc = taps_make(&tx, in->w, w, mode);
    if (!rc) rc = taps_make(&ty, in->h, h, mode);
    if (!rc) rc = (mid = vq_alloc(sizeof(float) * (size_t)in->h * w * C)) ? 0 : VQ_ERR_NOMEM;
    if (!rc) rc = vq_image_alloc(out, h, w, C);
    if (rc) { taps_free(&tx); taps_free(&ty); vq_free(mid); return rc; }
    for (int y = 0; y < in->h; y++) {
        const uint8_t *row = in->data + (size_t)y * in->w * C;
        for (int x = 0; x < w; x++) {
            const float *wt = tx.weight + (size_t)x * tx.ntap;
            for (int c = 0; c < C; c++) {
                float acc = 0;
                for (int k = 0; k < tx.ntap; k++) {
                    int s = tx.start[x] + k;
                    if (wt[k] != 0.0f) acc += wt[k] * row[(size_t)s * C + c];
                }
                mid[((size_t)y * w + x) * C + c] = acc;
            }
        }
    }
    for (int y = 0; y < h; y++) {
        const float *wt = ty.weight + (size_t)y * ty.ntap;
        for (int i = 0; i < w * C; i++) {
            float acc = 0;
            for (int k = 0; k < ty.ntap; k++) {
                int s = ty.start[y] + k;
                if (wt[k] != 0.0f) acc += wt[k] * mid[(size_t)s * w * C + i];
            }
            out->data[(size_t)y * w * C + i] = to_u8(acc);
        }
    }
    taps_free(&tx);
    taps_free(&ty);
    vq_free(mid);
    return 0;
}

int vq_image_resize_short(vq_image *out, const vq_image *in, int target, vq_resize_mode mode)
{
    if (target <= 0) { memset(out, 0, sizeof *out); return vq_fail(VQ_ERR_ARG, "resize target %d is invalid", target); }
    int h, w;
    /* The shorter side is exactly `target`; the other rounds half-to-even
     * (nearbyint in the default rounding mode), as albumentations' py3round. */
    if (in->h <= in->w) {
        h = target;
        w = (int)nearbyint((double)in->w * target / in->h);
    } else {
        w = target;
        h = (int)nearbyint((double)in->h * target / in->w);
    }
    return vq_image_resize(out, in, h, w, mode);
}

int vq_image_crop(vq_image *out, const vq_image *in, int y, int x, int h, int w)
{
    memset(out, 0, sizeof *out);
    if (y < 0 || x < 0 || h <= 0 || w <= 0 || y + h > in->h || x + w > in->w)
        return vq_fail(VQ_ERR_ARG, "crop %dx%d at (%d, %d) does not fit a %dx%d image", h, w, y, x, in->h, in->w);
    int rc = vq_image_alloc(out, h, w, in->c);
    if (rc) return rc;
    size_t rowbytes = (size_t)w * in->c;
    for (int r = 0; r < h; r++)
        memcpy(out->data + r * rowbytes, in->data + ((size_t)(y + r) * in->w + x) * in->c, rowbytes);
    return 0;
}

int vq_image_pad(vq_image *out, const vq_image *in, int h, int w, uint8_t value)
{
    memset(out, 0, sizeof *out);
    if (h < in->h || w < in->w)
        return vq_fail(VQ_ERR_ARG, "cannot pad a %dx%d image to the smaller %dx%d", in->h, in->w, h, w);
    int rc = vq_image_alloc(out, h, w, in->c);
    if (rc) return rc;
    memset(out->data, value, (size_t)h * w * in->c);
    int top = (h - in->h) / 2, left = (w - in->w) / 2;
    size_t rowbytes = (size_t)in->w * in->c;
    for (int r = 0; r < in->h; r++)
        memcpy(out->data + ((size_t)(top + r) * w + left) * in->c, in->data + r * rowbytes, rowbytes);
    return 0;
}

void vq_image_hflip(vq_image *img)
{
    int C = img->c;
    for (int y = 0; y < img->h; y++) {
        uint8_t *row = img->data + (size_t)y * img->w * C;
        for (int a = 0, b = img->w - 1; a < b; a++, b--)
            for (int c = 0; c < C; c++) {
                uint8_t t = row[a * C + c];
                row[a * C + c] = row[b * C + c];
                row[b * C + c] = t;
            }
    }
}

void vq_image_to_float(float *dst, const vq_image *img, float lo, float hi)
{
    /* A 256-entry table: one multiply-add per value, computed once. */
    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = lo + (float)v * ((hi - lo) / 255.0f);
    size_t hw = (size_t)img->h * img->w;
    for (int c = 0; c < img->c; c++)
        for (size_t i = 0; i < hw; i++) dst[c * hw + i] = lut[img->data[i * img->c + c]];
}

/* --- grids ------------------------------------------------------------------- */

/* Copy one (C, H, W) float image into the grid cell at (row, col). */
static void grid_place(vq_image *g, const float *x, int C, int H, int W, int row, int col, int pad, float lo,
                       float hi)
{
    float s = 255.0f / (hi - lo);
    int y0 = pad + row * (H + pad), x0 = pad + col * (W + pad);
    for (int y = 0; y < H; y++)
        for (int xx = 0; xx < W; xx++)
            for (int c = 0; c < C; c++)
                g->data[((size_t)(y0 + y) * g->w + x0 + xx) * C + c] =
                    to_u8((x[((size_t)c * H + y) * W + xx] - lo) * s);
}

static int grid_alloc(vq_image *out, int rows, int cols, int C, int H, int W, int pad, uint8_t pad_value, float lo,
                      float hi)
{
    memset(out, 0, sizeof *out);
    if (C != 1 && C != 3) return vq_fail(VQ_ERR_ARG, "image grid: %d channels, expected 1 or 3", C);
    if (rows <= 0 || cols <= 0 || H <= 0 || W <= 0 || pad < 0)
        return vq_fail(VQ_ERR_ARG, "image grid: invalid layout %dx%d of %dx%d images, pad %d", rows, cols, H, W, pad);
    if (!(hi > lo)) return vq_fail(VQ_ERR_ARG, "image grid: value range [%g, %g] is empty", lo, hi);
    int rc = vq_image_alloc(out, rows * H + (rows + 1) * pad, cols * W + (cols + 1) * pad, C);
    if (rc) return rc;
    memset(out->data, pad_value, (size_t)out->h * out->w * C);
    return 0;
}

int vq_image_grid(vq_image *out, const float *x, int n, int C, int H, int W, int ncols, int pad, uint8_t pad_value,
                  float lo, float hi)
{
    if (n <= 0 || ncols <= 0) {
        memset(out, 0, sizeof *out);
        return vq_fail(VQ_ERR_ARG, "image grid: %d images in rows of %d", n, ncols);
    }
    int cols = n < ncols ? n : ncols, rows = (n + ncols - 1) / ncols;
    int rc = grid_alloc(out, rows, cols, C, H, W, pad, pad_value, lo, hi);
    if (rc) return rc;
    size_t img = (size_t)C * H * W;
    for (int i = 0; i < n; i++) grid_place(out, x + i * img, C, H, W, i / ncols, i % ncols, pad, lo, hi);
    return 0;
}

int vq_image_grid_rows(vq_image *out, const float *const *rows, int nrows, int B, int C, int H, int W, int pad,
                       uint8_t pad_value, float lo, float hi)
{
    int rc = grid_alloc(out, nrows, B, C, H, W, pad, pad_value, lo, hi);
    if (rc) return rc;
    size_t img = (size_t)C * H * W;
    for (int r = 0; r < nrows; r++)
        for (int b = 0; b < B; b++) grid_place(out, rows[r] + b * img, C, H, W, r, b, pad, lo, hi);
    return 0;
}
