/* test_image.c: PNG read/write, corrupt-file handling, color conversions,
 * resize / crop / pad / flip, float scaling and grids.
 *
 * Input PNGs of every kind are written here with libpng directly (not with
 * vq_png_write), so the reader is checked against an independent writer.
 * Expected values are hand-derived; each test says how. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image.h"
#include "vq_common.h"

static char tmpdir[256];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/vq_test_image_XXXXXX");
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') { snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name); unlink(p); }
    if (d) closedir(d);
    rmdir(tmpdir);
    return 0;
}

static const char *tpath(const char *name)
{
    static char p[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

/* An independent PNG writer: raw rows as given, any color type and depth,
 * optional palette / tRNS / interlace. */
typedef struct raw_png {
    int w, h, color_type, depth, interlace;
    const uint8_t *data; /* rows of png rowbytes, packed as libpng expects (16-bit big-endian) */
    const png_color *palette;
    int npalette;
    const uint8_t *trns;
    int ntrns;
    const png_color_16 *trns_color;
} raw_png;

static void write_raw_png(const char *path, const raw_png *r)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    assert_int_equal(setjmp(png_jmpbuf(png)), 0);
    png_init_io(png, f);
    png_set_IHDR(png, info, r->w, r->h, r->depth, r->color_type,
                 r->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (r->palette) png_set_PLTE(png, info, r->palette, r->npalette);
    if (r->trns || r->trns_color) png_set_tRNS(png, info, r->trns, r->ntrns, r->trns_color);
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    size_t rowbytes = png_get_rowbytes(png, info);
    for (int p = 0; p < passes; p++)
        for (int y = 0; y < r->h; y++) png_write_row(png, (png_bytep)r->data + y * rowbytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

static void slurp(const char *path, uint8_t **buf, long *n)
{
    *n = file_size(path);
    *buf = malloc((size_t)*n);
    FILE *f = fopen(path, "rb");
    assert_int_equal(fread(*buf, 1, (size_t)*n, f), (size_t)*n);
    fclose(f);
}

static void spit(const char *path, const uint8_t *buf, long n)
{
    FILE *f = fopen(path, "wb");
    if (n) assert_int_equal(fwrite(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
}

/* --- round trips ---------------------------------------------------------- */

static void test_roundtrip_gray_rgb(void **state)
{
    (void)state;
    for (int c = 1; c <= 3; c += 2) {
        vq_image img, back;
        assert_int_equal(vq_image_alloc(&img, 7, 5, c), 0);
        for (int i = 0; i < 7 * 5 * c; i++) img.data[i] = (uint8_t)(i * 37 + 11); /* covers 0..255 unevenly */
        const char *p = tpath(c == 1 ? "rt_gray.png" : "rt_rgb.png");
        assert_int_equal(vq_png_write(p, &img), 0);
        assert_int_equal(vq_png_read(&back, p, c, VQ_ALPHA_DROP), 0);
        assert_int_equal(back.h, 7);
        assert_int_equal(back.w, 5);
        assert_int_equal(back.c, c);
        assert_memory_equal(back.data, img.data, 7 * 5 * c);
        vq_image_free(&img);
        vq_image_free(&back);
    }
    /* The write is atomic: nothing but the two images is left in the directory. */
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') { n++; assert_null(strstr(e->d_name, ".tmp-")); }
    closedir(d);
    assert_int_equal(n, 2);
}

static void test_write_errors(void **state)
{
    (void)state;
    vq_image img;
    assert_int_equal(vq_image_alloc(&img, 2, 2, 1), 0);
    assert_int_equal(vq_png_write("/nonexistent-dir/x.png", &img), VQ_ERR_IO);
    assert_non_null(strstr(vq_last_error(), "/nonexistent-dir/x.png"));
    img.c = 4;
    assert_int_equal(vq_png_write(tpath("rgba.png"), &img), VQ_ERR_ARG);
    vq_image_free(&img);
}

/* --- conversions (hand-derived) ------------------------------------------- */

static void test_16bit(void **state)
{
    (void)state;
    /* 16-bit gray, big-endian samples 0, 65535, 25829, 9509. Scaling is
     * round(v / 257): 0, 255, 100.50 -> 101 (the high byte alone would give
     * 100), 37 exactly. */
    const uint16_t v[4] = {0, 65535, 25829, 9509};
    const uint8_t want[4] = {0, 255, 101, 37};
    uint8_t be[8];
    for (int i = 0; i < 4; i++) { be[2 * i] = v[i] >> 8; be[2 * i + 1] = v[i] & 0xff; }
    raw_png r = {.w = 4, .h = 1, .color_type = PNG_COLOR_TYPE_GRAY, .depth = 16, .data = be};
    write_raw_png(tpath("g16.png"), &r);
    vq_image img;
    assert_int_equal(vq_png_read(&img, tpath("g16.png"), 1, VQ_ALPHA_DROP), 0);
    assert_memory_equal(img.data, want, 4);
    vq_image_free(&img);
    assert_int_equal(vq_png_read(&img, tpath("g16.png"), 3, VQ_ALPHA_DROP), 0);
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) assert_int_equal(img.data[3 * i + c], want[i]); /* gray replicated */
    vq_image_free(&img);

    /* 16-bit RGB, one pixel (25829, 65535, 0) -> (101, 255, 0). */
    const uint8_t rgb16[6] = {25829 >> 8, 25829 & 0xff, 0xff, 0xff, 0, 0};
    raw_png r2 = {.w = 1, .h = 1, .color_type = PNG_COLOR_TYPE_RGB, .depth = 16, .data = rgb16};
    write_raw_png(tpath("rgb16.png"), &r2);
    assert_int_equal(vq_png_read(&img, tpath("rgb16.png"), 3, VQ_ALPHA_DROP), 0);
    assert_int_equal(img.data[0], 101);
    assert_int_equal(img.data[1], 255);
    assert_int_equal(img.data[2], 0);
    vq_image_free(&img);
}

static void test_palette_trns(void **state)
{
    (void)state;
    /* Two entries, (10,20,30) with alpha 128 and (200,100,50) opaque; pixels 0, 1. */
    const png_color pal[2] = {{10, 20, 30}, {200, 100, 50}};
    const uint8_t trns[2] = {128, 255};
    const uint8_t idx[2] = {0, 1};
    raw_png r = {.w = 2, .h = 1, .color_type = PNG_COLOR_TYPE_PALETTE, .depth = 8, .data = idx,
                 .palette = pal, .npalette = 2, .trns = trns, .ntrns = 2};
    write_raw_png(tpath("pal.png"), &r);
    vq_image img;
    /* Dropped alpha: the palette colors as stored. */
    assert_int_equal(vq_png_read(&img, tpath("pal.png"), 3, VQ_ALPHA_DROP), 0);
    const uint8_t drop[6] = {10, 20, 30, 200, 100, 50};
    assert_memory_equal(img.data, drop, 6);
    vq_image_free(&img);
    /* On black: round(c * 128 / 255): 10 -> 5.02 -> 5, 20 -> 10.04 -> 10, 30 -> 15.06 -> 15. */
    assert_int_equal(vq_png_read(&img, tpath("pal.png"), 3, VQ_ALPHA_BLACK), 0);
    const uint8_t black[6] = {5, 10, 15, 200, 100, 50};
    assert_memory_equal(img.data, black, 6);
    vq_image_free(&img);
    /* Luma 0.299 R + 0.587 G + 0.114 B: 2.99 + 11.74 + 3.42 = 18.15 -> 18;
     * 59.8 + 58.7 + 5.7 = 124.2 -> 124. */
    assert_int_equal(vq_png_read(&img, tpath("pal.png"), 1, VQ_ALPHA_DROP), 0);
    assert_int_equal(img.data[0], 18);
    assert_int_equal(img.data[1], 124);
    vq_image_free(&img);

    /* 2-bit palette (packed: four pixels per byte, first in the high bits). */
    const uint8_t packed[1] = {0x44}; /* pixels 1, 0, 1, 0 */
    raw_png r2 = {.w = 4, .h = 1, .color_type = PNG_COLOR_TYPE_PALETTE, .depth = 2, .data = packed,
                  .palette = pal, .npalette = 2};
    write_raw_png(tpath("pal2.png"), &r2);
    assert_int_equal(vq_png_read(&img, tpath("pal2.png"), 3, VQ_ALPHA_DROP), 0);
    const uint8_t want2[12] = {200, 100, 50, 10, 20, 30, 200, 100, 50, 10, 20, 30};
    assert_memory_equal(img.data, want2, 12);
    vq_image_free(&img);
}

static void test_rgba_gray_alpha_1bit(void **state)
{
    (void)state;
    /* RGBA: (255,0,0,a=0) and (100,200,50,a=51). On black: 51/255 = 0.2 exactly,
     * so (20, 40, 10); the transparent pixel becomes (0,0,0). Dropped: stored
     * colors; luma of (255,0,0) = 76.245 -> 76. */
    const uint8_t px[8] = {255, 0, 0, 0, 100, 200, 50, 51};
    raw_png r = {.w = 2, .h = 1, .color_type = PNG_COLOR_TYPE_RGBA, .depth = 8, .data = px};
    write_raw_png(tpath("rgba.png"), &r);
    vq_image img;
    assert_int_equal(vq_png_read(&img, tpath("rgba.png"), 3, VQ_ALPHA_DROP), 0);
    const uint8_t drop[6] = {255, 0, 0, 100, 200, 50};
    assert_memory_equal(img.data, drop, 6);
    vq_image_free(&img);
    assert_int_equal(vq_png_read(&img, tpath("rgba.png"), 3, VQ_ALPHA_BLACK), 0);
    const uint8_t black[6] = {0, 0, 0, 20, 40, 10};
    assert_memory_equal(img.data, black, 6);
    vq_image_free(&img);
    assert_int_equal(vq_png_read(&img, tpath("rgba.png"), 1, VQ_ALPHA_DROP), 0);
    assert_int_equal(img.data[0], 76);
    /* 0.299*100 + 0.587*200 + 0.114*50 = 29.9 + 117.4 + 5.7 = 153.0 */
    assert_int_equal(img.data[1], 153);
    vq_image_free(&img);

    /* Gray + alpha: (200, a=255), (90, a=0). */
    const uint8_t ga[4] = {200, 255, 90, 0};
    raw_png r2 = {.w = 2, .h = 1, .color_type = PNG_COLOR_TYPE_GRAY_ALPHA, .depth = 8, .data = ga};
    write_raw_png(tpath("ga.png"), &r2);
    assert_int_equal(vq_png_read(&img, tpath("ga.png"), 1, VQ_ALPHA_DROP), 0);
    assert_int_equal(img.data[0], 200);
    assert_int_equal(img.data[1], 90);
    vq_image_free(&img);
    assert_int_equal(vq_png_read(&img, tpath("ga.png"), 1, VQ_ALPHA_BLACK), 0);
    assert_int_equal(img.data[0], 200);
    assert_int_equal(img.data[1], 0);
    vq_image_free(&img);

    /* 1-bit gray 1,0,1,1,0,0,0,1 (0xB1) -> 255 / 0. */
    const uint8_t bits[1] = {0xB1};
    raw_png r3 = {.w = 8, .h = 1, .color_type = PNG_COLOR_TYPE_GRAY, .depth = 1, .data = bits};
    write_raw_png(tpath("g1.png"), &r3);
    assert_int_equal(vq_png_read(&img, tpath("g1.png"), 1, VQ_ALPHA_DROP), 0);
    const uint8_t want[8] = {255, 0, 255, 255, 0, 0, 0, 255};
    assert_memory_equal(img.data, want, 8);
    vq_image_free(&img);

    /* RGB with a tRNS color key: the keyed color gets alpha 0. */
    const uint8_t rgb[6] = {1, 2, 3, 40, 50, 60};
    png_color_16 key = {.red = 40, .green = 50, .blue = 60};
    raw_png r4 = {.w = 2, .h = 1, .color_type = PNG_COLOR_TYPE_RGB, .depth = 8, .data = rgb, .trns_color = &key};
    write_raw_png(tpath("rgbkey.png"), &r4);
    assert_int_equal(vq_png_read(&img, tpath("rgbkey.png"), 3, VQ_ALPHA_BLACK), 0);
    const uint8_t keyed[6] = {1, 2, 3, 0, 0, 0};
    assert_memory_equal(img.data, keyed, 6);
    vq_image_free(&img);
}

static void test_interlaced(void **state)
{
    (void)state;
    uint8_t px[9 * 11 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)(i * 7);
    raw_png r = {.w = 11, .h = 9, .color_type = PNG_COLOR_TYPE_RGB, .depth = 8, .data = px, .interlace = 1};
    write_raw_png(tpath("adam7.png"), &r);
    vq_image img;
    assert_int_equal(vq_png_read(&img, tpath("adam7.png"), 3, VQ_ALPHA_DROP), 0);
    assert_memory_equal(img.data, px, sizeof px);
    vq_image_free(&img);
}

/* --- corrupt files: an error naming the file, never a crash ---------------- */

static void expect_format_error(const char *path, const char *reason)
{
    vq_image img = {0};
    int rc = vq_png_read(&img, path, 3, VQ_ALPHA_DROP);
    if (rc != VQ_ERR_FORMAT) print_error("%s: rc %d, message: %s\n", path, rc, vq_last_error());
    assert_int_equal(rc, VQ_ERR_FORMAT);
    assert_null(img.data);
    assert_non_null(strstr(vq_last_error(), path));
    if (reason && !strstr(vq_last_error(), reason)) {
        print_error("message \"%s\" lacks \"%s\"\n", vq_last_error(), reason);
        fail();
    }
}

static void test_corrupt(void **state)
{
    (void)state;
    uint8_t px[16 * 16 * 3];
    for (int i = 0; i < (int)sizeof px; i++) px[i] = (uint8_t)(i * 13 + (i >> 5));
    raw_png r = {.w = 16, .h = 16, .color_type = PNG_COLOR_TYPE_RGB, .depth = 8, .data = px};
    write_raw_png(tpath("good.png"), &r);
    uint8_t *buf;
    long n;
    slurp(tpath("good.png"), &buf, &n);
    assert_true(n > 100);

    spit(tpath("zero.png"), buf, 0);
    expect_format_error(tpath("zero.png"), "empty");
    spit(tpath("sigonly.png"), buf, 8);
    expect_format_error(tpath("sigonly.png"), "corrupt PNG");
    spit(tpath("half.png"), buf, n / 2);
    expect_format_error(tpath("half.png"), "corrupt PNG");
    spit(tpath("noend.png"), buf, n - 12); /* IEND chunk (12 bytes) cut off */
    expect_format_error(tpath("noend.png"), "corrupt PNG");

    /* Flip one byte in the IHDR payload (offset 8 + 8 + 4: the height's low
     * byte region) without fixing the CRC: a CRC error on a critical chunk. */
    uint8_t *bad = malloc((size_t)n);
    memcpy(bad, buf, (size_t)n);
    bad[8 + 8 + 2] ^= 0x01;
    spit(tpath("ihdrcrc.png"), bad, n);
    expect_format_error(tpath("ihdrcrc.png"), "CRC");
    /* The IDAT chunk (right after the 33-byte signature + IHDR) with its
     * stored CRC damaged: the data decompresses, the checksum does not match. */
    memcpy(bad, buf, (size_t)n);
    long idat_len = ((long)buf[33] << 24) | (buf[34] << 16) | (buf[35] << 8) | buf[36];
    assert_memory_equal(buf + 37, "IDAT", 4);
    bad[33 + 8 + idat_len] ^= 0x01;
    spit(tpath("idatcrc.png"), bad, n);
    expect_format_error(tpath("idatcrc.png"), "CRC");
    /* A flipped bit inside the compressed data: caught (by zlib or the CRC). */
    memcpy(bad, buf, (size_t)n);
    bad[33 + 8 + 10] ^= 0x40;
    spit(tpath("idatbit.png"), bad, n);
    expect_format_error(tpath("idatbit.png"), "corrupt PNG");

    /* Garbage: random bytes, and random bytes after a valid signature. */
    vq_rng rng;
    vq_rng_seed(&rng, 7);
    for (long i = 0; i < n; i++) bad[i] = (uint8_t)vq_rng_next(&rng);
    spit(tpath("garbage.png"), bad, n);
    expect_format_error(tpath("garbage.png"), "not a PNG");
    memcpy(bad, buf, 8);
    spit(tpath("garbage2.png"), bad, n);
    expect_format_error(tpath("garbage2.png"), "corrupt PNG");

    /* Every truncation point of the file: always an error, never a crash. */
    for (long cut = 1; cut < n; cut += 7) {
        spit(tpath("cut.png"), buf, cut);
        expect_format_error(tpath("cut.png"), NULL);
    }
    free(bad);
    free(buf);

    vq_image img;
    assert_int_equal(vq_png_read(&img, tpath("missing.png"), 3, VQ_ALPHA_DROP), VQ_ERR_IO);
    assert_non_null(strstr(vq_last_error(), "missing.png"));
}

/* --- transforms (hand-derived) --------------------------------------------- */

static void img_from(vq_image *img, int h, int w, int c, const uint8_t *v)
{
    assert_int_equal(vq_image_alloc(img, h, w, c), 0);
    memcpy(img->data, v, (size_t)h * w * c);
}

static void test_resize(void **state)
{
    (void)state;
    vq_image in, out;
    /* Bilinear 1x2 -> 1x4, OpenCV geometry: source x = (d + 0.5) / 2 - 0.5 =
     * -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1): 0, 25, 75, 100. */
    img_from(&in, 1, 2, 1, (const uint8_t[]){0, 100});
    assert_int_equal(vq_image_resize(&out, &in, 1, 4, VQ_RESIZE_BILINEAR), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){0, 25, 75, 100}), 4);
    vq_image_free(&out);
    /* Area growing falls back to bilinear: same result. */
    assert_int_equal(vq_image_resize(&out, &in, 1, 4, VQ_RESIZE_AREA), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){0, 25, 75, 100}), 4);
    vq_image_free(&out);
    vq_image_free(&in);

    /* Area 1x3 -> 1x2: cells [0, 1.5) and [1.5, 3):
     * (30 + 0.5*60) / 1.5 = 40, (0.5*60 + 90) / 1.5 = 80. Bilinear reads
     * x = 0.25 and 1.75: 37.5 -> 38 and 82.5 -> 83 (ties up). */
    img_from(&in, 1, 3, 1, (const uint8_t[]){30, 60, 90});
    assert_int_equal(vq_image_resize(&out, &in, 1, 2, VQ_RESIZE_AREA), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){40, 80}), 2);
    vq_image_free(&out);
    assert_int_equal(vq_image_resize(&out, &in, 1, 2, VQ_RESIZE_BILINEAR), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){38, 83}), 2);
    vq_image_free(&out);
    vq_image_free(&in);

    /* Area 4x4 -> 2x2 (2 channels' worth: RGB, channel c = base + c) is the
     * mean of each 2x2 block. Block sums are chosen divisible by 4. */
    uint8_t v[4 * 4 * 3];
    const uint8_t g[16] = {0, 4, 100, 100, 8, 8, 100, 104, 250, 250, 1, 3, 250, 250, 5, 7};
    for (int i = 0; i < 16; i++)
        for (int c = 0; c < 3; c++) v[i * 3 + c] = (uint8_t)(g[i] + c);
    img_from(&in, 4, 4, 3, v);
    assert_int_equal(vq_image_resize(&out, &in, 2, 2, VQ_RESIZE_AREA), 0);
    const uint8_t mean[4] = {5, 101, 250, 4};
    for (int i = 0; i < 4; i++)
        for (int c = 0; c < 3; c++) assert_int_equal(out.data[i * 3 + c], mean[i] + c);
    vq_image_free(&out);

    /* Shorter side to 2: 4x4 stays square; shapes by half-to-even rounding. */
    assert_int_equal(vq_image_resize_short(&out, &in, 2, VQ_RESIZE_AREA), 0);
    assert_int_equal(out.h, 2);
    assert_int_equal(out.w, 2);
    vq_image_free(&out);
    vq_image_free(&in);
    static const int cases[][5] = {/* h, w, target, want h, want w */
                                   {40, 60, 20, 20, 30}, {60, 40, 20, 30, 20}, {4, 5, 2, 2, 2},
                                   {4, 7, 2, 2, 4},      {7, 4, 2, 4, 2},      {3, 3, 9, 9, 9}};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        assert_int_equal(vq_image_alloc(&in, cases[k][0], cases[k][1], 1), 0);
        assert_int_equal(vq_image_resize_short(&out, &in, cases[k][2], VQ_RESIZE_BILINEAR), 0);
        assert_int_equal(out.h, cases[k][3]);
        assert_int_equal(out.w, cases[k][4]);
        vq_image_free(&out);
        vq_image_free(&in);
    }
}

static void test_crop_pad_flip_scale(void **state)
{
    (void)state;
    vq_image in, out;
    uint8_t v[3 * 4];
    for (int i = 0; i < 12; i++) v[i] = (uint8_t)(10 * i);
    img_from(&in, 3, 4, 1, v); /* rows 0 10 20 30 / 40 50 60 70 / 80 90 100 110 */
    assert_int_equal(vq_image_crop(&out, &in, 1, 2, 2, 2), 0);
    assert_memory_equal(out.data, ((const uint8_t[]){60, 70, 100, 110}), 4);
    vq_image_free(&out);
    assert_int_equal(vq_image_crop(&out, &in, 2, 0, 2, 2), VQ_ERR_ARG);

    /* Pad 3x4 -> 6x7 with 255: top = 1, left = 1, bottom 2, right 2. */
    assert_int_equal(vq_image_pad(&out, &in, 6, 7, 255), 0);
    for (int y = 0; y < 6; y++)
        for (int x = 0; x < 7; x++) {
            int inside = y >= 1 && y < 4 && x >= 1 && x < 5;
            assert_int_equal(out.data[y * 7 + x], inside ? v[(y - 1) * 4 + x - 1] : 255);
        }
    vq_image_free(&out);

    vq_image_hflip(&in);
    assert_memory_equal(in.data, ((const uint8_t[]){30, 20, 10, 0, 70, 60, 50, 40, 110, 100, 90, 80}), 12);
    vq_image_free(&in);

    /* RGB flip keeps channel order within a pixel. */
    img_from(&in, 1, 2, 3, (const uint8_t[]){1, 2, 3, 4, 5, 6});
    vq_image_hflip(&in);
    assert_memory_equal(in.data, ((const uint8_t[]){4, 5, 6, 1, 2, 3}), 6);

    /* (H, W, C) -> (C, H, W), v / 127.5 - 1: 4 -> -0.968627..., 1 -> -0.992157... */
    float x[6];
    vq_image_to_float(x, &in, -1.0f, 1.0f);
    const int order[6] = {4, 1, 5, 2, 6, 3}; /* c0: px0 px1, c1: ..., c2: ... */
    for (int i = 0; i < 6; i++) assert_float_equal(x[i], order[i] / 127.5 - 1.0, 1e-6);
    vq_image_free(&in);
    img_from(&in, 1, 3, 1, (const uint8_t[]){0, 51, 255});
    vq_image_to_float(x, &in, -1.0f, 1.0f);
    assert_float_equal(x[0], -1.0, 1e-7);
    assert_float_equal(x[1], -0.6, 1e-6);
    assert_float_equal(x[2], 1.0, 1e-6);
    vq_image_to_float(x, &in, 0.0f, 1.0f);
    assert_float_equal(x[1], 0.2, 1e-6);
    vq_image_free(&in);
}

/* --- grids ---------------------------------------------------------------- */

static void test_grid(void **state)
{
    (void)state;
    /* Three 1x2x2 images in [-1, 1] laid out 2 per row, pad 1 of value 7:
     * 2 rows -> 2*2 + 3 = 7 tall, 2 cols -> 2*2 + 3 = 7 wide. Values map as
     * (x + 1) / 2 * 255: -1 -> 0, 1 -> 255, 0 -> 127.5 -> 128, 2 -> clamp 255,
     * -3 -> clamp 0, NaN -> 0, 0.5 -> 191.25 -> 191. */
    const float x[3][4] = {{-1, 1, 0, 2}, {-3, NAN, 0.5f, -1}, {1, 1, 1, 1}};
    vq_image g;
    assert_int_equal(vq_image_grid(&g, &x[0][0], 3, 1, 2, 2, 2, 1, 7, -1, 1), 0);
    assert_int_equal(g.h, 7);
    assert_int_equal(g.w, 7);
    assert_int_equal(g.c, 1);
    const uint8_t want[7][7] = {
        {7, 7, 7, 7, 7, 7, 7},       {7, 0, 255, 7, 0, 0, 7}, {7, 128, 255, 7, 191, 0, 7},
        {7, 7, 7, 7, 7, 7, 7},       {7, 255, 255, 7, 7, 7, 7}, {7, 255, 255, 7, 7, 7, 7},
        {7, 7, 7, 7, 7, 7, 7}};
    assert_memory_equal(g.data, want, 49);
    vq_image_free(&g);

    /* Rows: originals on top, "reconstructions" below; RGB (B=2, C=3, 1x1). */
    const float orig[6] = {-1, 0, 1, /* b0: R, G, B */ 1, 0, -1 /* b1 */};
    const float rec[6] = {1, 1, 1, 1, 1, 1};
    const float *rows[2] = {orig, rec};
    assert_int_equal(vq_image_grid_rows(&g, rows, 2, 2, 3, 1, 1, 0, 0, -1, 1), 0);
    assert_int_equal(g.h, 2);
    assert_int_equal(g.w, 2);
    const uint8_t want2[12] = {0, 128, 255, 255, 128, 0, 255, 255, 255, 255, 255, 255};
    assert_memory_equal(g.data, want2, 12);
    /* And it writes as a PNG that reads back the same. */
    vq_image back;
    assert_int_equal(vq_png_write(tpath("grid.png"), &g), 0);
    assert_int_equal(vq_png_read(&back, tpath("grid.png"), 3, VQ_ALPHA_DROP), 0);
    assert_memory_equal(back.data, want2, 12);
    vq_image_free(&back);
    vq_image_free(&g);

    assert_int_equal(vq_image_grid(&g, &x[0][0], 3, 2, 2, 2, 2, 1, 0, -1, 1), VQ_ERR_ARG); /* C = 2 */
    assert_int_equal(vq_image_grid(&g, &x[0][0], 3, 1, 2, 2, 2, 1, 0, 1, 1), VQ_ERR_ARG);  /* empty range */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_gray_rgb),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_16bit),
        cmocka_unit_test(test_palette_trns),
        cmocka_unit_test(test_rgba_gray_alpha_1bit),
        cmocka_unit_test(test_interlaced),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_resize),
        cmocka_unit_test(test_crop_pad_flip_scale),
        cmocka_unit_test(test_grid),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
