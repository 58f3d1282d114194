/* image_png.c: PNG read and write through libpng. See image.h for the
 * conversions. libpng reports errors by longjmp: every resource that lives
 * across setjmp is either created before it or held in a volatile variable, so
 * a corrupt file unwinds to one cleanup path with nothing leaked. */
#include "image.h"

#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Largest side we accept; a bigger header is far more likely corrupt than real. */
#define PNG_MAX_SIDE 32768

typedef struct png_err { char msg[256]; } png_err;

static void on_error(png_structp png, png_const_charp msg)
{
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings (e.g. a bad CRC in an ancillary chunk, which libpng then skips)
 * do not stop reading, and the library must not print. */
static void on_warning(png_structp png, png_const_charp msg) { (void)png; (void)msg; }

/* RGBA (H, W, 4) to (H, W, channels), applying the alpha rule of image.h. */
static void from_rgba(uint8_t *dst, const uint8_t *rgba, size_t npix, int channels, vq_alpha_mode alpha)
{
    for (size_t i = 0; i < npix; i++) {
        unsigned r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2], a = rgba[4 * i + 3];
        if (alpha == VQ_ALPHA_BLACK) {
            r = (r * a + 127) / 255;
            g = (g * a + 127) / 255;
            b = (b * a + 127) / 255;
        }
        if (channels == 3) {
            dst[3 * i] = (uint8_t)r;
            dst[3 * i + 1] = (uint8_t)g;
            dst[3 * i + 2] = (uint8_t)b;
        } else {
            /* PIL's ImagingConvert RGB->L: L24 weights 0.299/0.587/0.114 in 16.16. */
            dst[i] = (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16);
        }
    }
}

int vq_png_read(vq_image *out, const char *path, int channels, vq_alpha_mode alpha)
{
    memset(out, 0, sizeof *out);
    if (channels != 1 && channels != 3)
        return vq_fail(VQ_ERR_ARG, "%s: cannot read as %d channels (1 or 3)", path, channels);
    FILE *f = fopen(path, "rb");
    if (!f) return vq_fail(VQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    uint8_t sig[8];
    size_t nsig = fread(sig, 1, sizeof sig, f);
    if (nsig == 0) { fclose(f); return vq_fail(VQ_ERR_FORMAT, "%s: empty file (0 bytes), not a PNG", path); }
    if (nsig < 8 || png_sig_cmp(sig, 0, 8)) {
        fclose(f);
        return vq_fail(VQ_ERR_FORMAT, "%s: not a PNG file (bad signature)", path);
    }
    /* The size, before libpng sees it, so that the message can say it (libpng's is "Invalid IHDR data"). */
    uint8_t ihdr[16];
    if (fread(ihdr, 1, sizeof ihdr, f) == sizeof ihdr && memcmp(ihdr + 4, "IHDR", 4) == 0) {
        uint32_t iw = (uint32_t)ihdr[8] << 24 | (uint32_t)ihdr[9] << 16 | (uint32_t)ihdr[10] << 8 | ihdr[11];
        uint32_t ih = (uint32_t)ihdr[12] << 24 | (uint32_t)ihdr[13] << 16 | (uint32_t)ihdr[14] << 8 | ihdr[15];
        if (iw > PNG_MAX_SIDE || ih > PNG_MAX_SIDE) {
            fclose(f);
            return vq_fail(VQ_ERR_FORMAT, "%s: image is %ux%u (width x height), larger than the %d pixels a side "
                                          "this reader accepts", path, iw, ih, PNG_MAX_SIDE);
        }
    }
    if (fseek(f, 8, SEEK_SET) != 0) {
        fclose(f);
        return vq_fail(VQ_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
    }
    png_err err = {{0}};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        fclose(f);
        return vq_fail(VQ_ERR_NOMEM, "%s: cannot create the libpng reader", path);
    }
    uint8_t *volatile rgba = NULL;   /* (H, W, 4) */
    png_bytep *volatile rows = NULL; /* (H) pointers into rgba */
    volatile int status = VQ_ERR_FORMAT;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        int ended = feof(f);
        long size = ended && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
        fclose(f);
        vq_free(rgba);
        free(rows);
        if (status == VQ_ERR_NOMEM) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory for the decoded image", path);
        if (ended)
            return vq_fail(VQ_ERR_FORMAT, "%s: corrupt PNG: truncated (the file ends after %ld bytes, before the image does)",
                           path, size);
        return vq_fail(VQ_ERR_FORMAT, "%s: corrupt PNG: %s", path, err.msg[0] ? err.msg : "unknown libpng error");
    }
    png_init_io(png, f);
    png_set_sig_bytes(png, 8);
    png_set_user_limits(png, PNG_MAX_SIDE, PNG_MAX_SIDE);
    /* Never read metadata chunks: libpng allocates a text or profile chunk's
     * claimed length (up to 2 GiB) before reading it (found by tests/fuzz/fuzz_png). */
    static const png_byte skip[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0eXIf";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skip, 6);
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int ct = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    /* Normalize every input to 8-bit RGBA; from_rgba then makes 1 or 3 channels. */
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ct == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    int has_alpha = (ct & PNG_COLOR_MASK_ALPHA) != 0;
    if (png_get_valid(png, info, PNG_INFO_tRNS)) { png_set_tRNS_to_alpha(png); has_alpha = 1; }
    if (depth == 16) png_set_scale_16(png); /* round(v / 257), not the high byte */
    if (!(ct & PNG_COLOR_MASK_COLOR)) png_set_gray_to_rgb(png);
    if (!has_alpha) png_set_add_alpha(png, 0xFF, PNG_FILLER_AFTER);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    if (png_get_rowbytes(png, info) != (size_t)w * 4) png_error(png, "unexpected row size after conversion");
    rgba = vq_alloc_uninit((size_t)w * h * 4); /* every row is written before use */
    rows = malloc(sizeof(png_bytep) * h);
    if (!rgba || !rows) { status = VQ_ERR_NOMEM; png_longjmp(png, 1); }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = rgba + (size_t)y * w * 4;
    png_read_image(png, rows);
    png_read_end(png, NULL); /* reads to IEND, so a damaged tail is an error too */
    png_destroy_read_struct(&png, &info, NULL);
    fclose(f);
    free(rows);
    int rc = vq_image_alloc(out, (int)h, (int)w, channels);
    if (!rc) from_rgba(out->data, rgba, (size_t)w * h, channels, alpha);
    vq_free(rgba);
    return rc;
}

int vq_png_write(const char *path, const vq_image *img)
{
    if (!img || !img->data || (img->c != 1 && img->c != 3) || img->h <= 0 || img->w <= 0)
        return vq_fail(VQ_ERR_ARG, "%s: can only write 8-bit gray or RGB images", path);
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory", path);
    snprintf(tmp, len + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return vq_fail(VQ_ERR_IO, "%s: cannot create a temporary file beside it: %s", path, strerror(e));
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; an image is meant to be shared */
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(tmp);
        return vq_fail(VQ_ERR_IO, "%s: fdopen: %s", path, strerror(e));
    }
    png_err err = {{0}};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &err, on_error, on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        fclose(f);
        unlink(tmp);
        free(tmp);
        return vq_fail(VQ_ERR_IO, "%s: writing PNG failed: %s", path,
                       err.msg[0] ? err.msg : "cannot create the libpng writer");
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)img->w, (png_uint_32)img->h, 8,
                 img->c == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < img->h; y++) png_write_row(png, img->data + (size_t)y * img->w * img->c);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    int bad = fflush(f) != 0 || fsync(fileno(f)) != 0;
    int e = errno;
    if (fclose(f) != 0 && !bad) { bad = 1; e = errno; }
    if (!bad && rename(tmp, path) != 0) { bad = 1; e = errno; }
    if (bad) {
        unlink(tmp);
        free(tmp);
        return vq_fail(VQ_ERR_IO, "%s: %s", path, strerror(e));
    }
    free(tmp);
    return 0;
}
