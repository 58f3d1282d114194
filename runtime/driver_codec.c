/* driver_codec.c: the `reconstruct`, `encode` and `decode` subcommands.
 *
 * CODES text format (one block per codebook, in the model's codebook order):
 *     codebook NAME H W K
 *     H rows of W decimal indices in [0, K), separated by spaces
 * decode checks names, grid sizes, K, the index range and the row lengths,
 * and names the file and line of the first problem.
 * Legend: C, H, W the model's input; gh, gw a codebook's code map. */
#include "driver_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_IMAGES 256

int drv_cmd_reconstruct(drv *dv, int argc, char **argv)
{
    const vq_model_desc *d = dv->d;
    const char *ckpt = NULL, *out = NULL;
    drv_opt o[] = {
        {"--ckpt", NULL, DRV_STR, &ckpt, "CKPT", "checkpoint", 0},
        {"--out", "-o", DRV_STR, &out, "OUT.png", "reconstructions side by side, at the model's size", 0},
    };
    drv_cmd_spec spec = {"reconstruct", "--ckpt CKPT IN.png... -o OUT.png",
                         "Encode and decode images; OUT.png holds the reconstructions in one row.", "IN.png", 1,
                         MAX_IMAGES};
    const char *pos[MAX_IMAGES];
    int n, rc = drv_parse(dv, &spec, o, 2, argc, argv, pos, &n);
    if (rc) return rc < 0 ? VQ_EXIT_OK : rc;
    if (!drv_require(dv, "reconstruct", &o[0]) || !drv_require(dv, "reconstruct", &o[1])) return VQ_EXIT_USAGE;
    size_t per = (size_t)d->data.channels * d->data.height * d->data.width;
    vq_model *m = NULL;
    float *x = vq_alloc(per * n * sizeof(float));
    rc = x ? 0 : VQ_ERR_NOMEM;
    for (int i = 0; !rc && i < n; i++) rc = drv_load_png(x + i * per, pos[i], d);
    if (!rc) rc = drv_model_create(d, &m, n);
    if (!rc) rc = drv_ckpt_load(ckpt, d, m, NULL, NULL, NULL);
    if (!rc) rc = d->forward(m, x, n, VQ_MODE_EVAL, NULL);
    if (!rc) rc = drv_save_row(out, d->recon(m), n, d);
    vq_free(x);
    if (m) d->destroy(m);
    return rc ? drv_fail(dv, "reconstruct") : VQ_EXIT_OK;
}

static int write_codes(const char *path, const vq_model_desc *d, int32_t *const *idx)
{
    FILE *f = fopen(path, "w");
    if (!f) return vq_fail(VQ_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    for (int c = 0; c < d->n_codebooks; c++) {
        const vq_codebook_desc *cb = &d->codebooks[c];
        fprintf(f, "codebook %s %d %d %d\n", cb->name, cb->grid_h, cb->grid_w, cb->K);
        for (int y = 0; y < cb->grid_h; y++)
            for (int x = 0; x < cb->grid_w; x++)
                fprintf(f, "%d%c", idx[c][y * cb->grid_w + x], x + 1 < cb->grid_w ? ' ' : '\n');
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return vq_fail(VQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return VQ_OK;
}

int drv_cmd_encode(drv *dv, int argc, char **argv)
{
    const vq_model_desc *d = dv->d;
    const char *ckpt = NULL, *out = NULL;
    drv_opt o[] = {
        {"--ckpt", NULL, DRV_STR, &ckpt, "CKPT", "checkpoint", 0},
        {"--out", "-o", DRV_STR, &out, "CODES", "text file of code indices (docs/driver.md)", 0},
    };
    drv_cmd_spec spec = {"encode", "--ckpt CKPT IN.png -o CODES",
                         "Write the code indices of one image, per codebook a header line and H rows of W indices.",
                         "IN.png", 1, 1};
    const char *pos[1];
    int n, rc = drv_parse(dv, &spec, o, 2, argc, argv, pos, &n);
    if (rc) return rc < 0 ? VQ_EXIT_OK : rc;
    if (!drv_require(dv, "encode", &o[0]) || !drv_require(dv, "encode", &o[1])) return VQ_EXIT_USAGE;
    size_t per = (size_t)d->data.channels * d->data.height * d->data.width;
    int32_t *idx[VQ_DESC_MAX_CODEBOOKS] = {0};
    vq_model *m = NULL;
    float *x = vq_alloc(per * sizeof(float));
    rc = x ? 0 : VQ_ERR_NOMEM;
    for (int c = 0; !rc && c < d->n_codebooks; c++)
        if (!(idx[c] = vq_alloc((size_t)d->codebooks[c].grid_h * d->codebooks[c].grid_w * sizeof(int32_t))))
            rc = VQ_ERR_NOMEM;
    if (rc) vq_fail(VQ_ERR_NOMEM, "out of memory");
    if (!rc) rc = drv_load_png(x, pos[0], d);
    if (!rc) rc = drv_model_create(d, &m, 1);
    if (!rc) rc = drv_ckpt_load(ckpt, d, m, NULL, NULL, NULL);
    if (!rc) rc = d->encode(m, idx, x, 1);
    if (!rc) rc = write_codes(out, d, idx);
    for (int c = 0; c < d->n_codebooks; c++) vq_free(idx[c]);
    vq_free(x);
    if (m) d->destroy(m);
    return rc ? drv_fail(dv, "encode") : VQ_EXIT_OK;
}

/* The next non-empty line of f into *line (getline's buffer); 0 at EOF. */
static ssize_t next_line(FILE *f, char **line, size_t *cap, int *lineno)
{
    ssize_t len;
    while ((len = getline(line, cap, f)) > 0) {
        (*lineno)++;
        while (len > 0 && ((*line)[len - 1] == '\n' || (*line)[len - 1] == '\r')) (*line)[--len] = '\0';
        if (len > 0) return len;
    }
    return 0;
}

static int read_codes(const char *path, const vq_model_desc *d, int32_t *const *idx)
{
    FILE *f = fopen(path, "r");
    if (!f) return vq_fail(VQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    int ln = 0, rc = VQ_OK;
    for (int c = 0; c < d->n_codebooks && !rc; c++) {
        const vq_codebook_desc *cb = &d->codebooks[c];
        if (!next_line(f, &line, &cap, &ln)) {
            rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: file ends before codebook %s", path, ln + 1, cb->name);
            break;
        }
        char name[128];
        int h, w, k, used = 0;
        if (sscanf(line, "codebook %127s %d %d %d%n", name, &h, &w, &k, &used) != 4 || line[used] != '\0') {
            rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: expected 'codebook NAME H W K', got '%.60s'", path, ln, line);
            break;
        }
        if (strcmp(name, cb->name)) {
            rc = vq_fail(VQ_ERR_MISMATCH, "%s:%d: codebook '%s', model %s expects '%s' here", path, ln, name, d->name,
                         cb->name);
            break;
        }
        if (h != cb->grid_h || w != cb->grid_w || k != cb->K) {
            rc = vq_fail(VQ_ERR_MISMATCH, "%s:%d: codebook %s is %dx%d with K=%d, model %s expects %dx%d with K=%d",
                         path, ln, name, h, w, k, d->name, cb->grid_h, cb->grid_w, cb->K);
            break;
        }
        for (int y = 0; y < h && !rc; y++) {
            if (!next_line(f, &line, &cap, &ln)) {
                rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: file ends after %d of %d rows of codebook %s", path, ln + 1, y, h,
                             name);
                break;
            }
            char *p = line;
            for (int x = 0; x <= w && !rc; x++) {
                while (*p == ' ' || *p == '\t') p++;
                if (x == w) {
                    if (*p) rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: more than %d indices in row %d of codebook %s",
                                         path, ln, w, y, name);
                    break;
                }
                char *end;
                errno = 0;
                long v = strtol(p, &end, 10);
                if (end == p || (*end && *end != ' ' && *end != '\t'))
                    rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: %s index %d of row %d of codebook %s",
                                 path, ln, *p ? "malformed" : "missing", x, y, name);
                else if (errno || v < 0 || v >= k)
                    rc = vq_fail(VQ_ERR_MISMATCH, "%s:%d: index %.*s (column %d) out of range [0, %d) of codebook %s",
                                 path, ln, (int)(end - p), p, x, k, name);
                else
                    idx[c][y * w + x] = (int32_t)v;
                p = end;
            }
        }
    }
    if (!rc && next_line(f, &line, &cap, &ln))
        rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: unexpected text after the last codebook", path, ln);
    if (!rc && ferror(f)) rc = vq_fail(VQ_ERR_IO, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

int drv_cmd_decode(drv *dv, int argc, char **argv)
{
    const vq_model_desc *d = dv->d;
    const char *ckpt = NULL, *out = NULL;
    drv_opt o[] = {
        {"--ckpt", NULL, DRV_STR, &ckpt, "CKPT", "checkpoint", 0},
        {"--out", "-o", DRV_STR, &out, "OUT.png", "decoded image", 0},
    };
    drv_cmd_spec spec = {"decode", "--ckpt CKPT CODES -o OUT.png", "Decode a CODES file (from encode) to an image.",
                         "CODES", 1, 1};
    const char *pos[1];
    int n, rc = drv_parse(dv, &spec, o, 2, argc, argv, pos, &n);
    if (rc) return rc < 0 ? VQ_EXIT_OK : rc;
    if (!drv_require(dv, "decode", &o[0]) || !drv_require(dv, "decode", &o[1])) return VQ_EXIT_USAGE;
    size_t per = (size_t)d->data.channels * d->data.height * d->data.width;
    int32_t *idx[VQ_DESC_MAX_CODEBOOKS] = {0};
    vq_model *m = NULL;
    float *y = vq_alloc(per * sizeof(float));
    rc = y ? 0 : VQ_ERR_NOMEM;
    for (int c = 0; !rc && c < d->n_codebooks; c++)
        if (!(idx[c] = vq_alloc((size_t)d->codebooks[c].grid_h * d->codebooks[c].grid_w * sizeof(int32_t))))
            rc = VQ_ERR_NOMEM;
    if (rc) vq_fail(VQ_ERR_NOMEM, "out of memory");
    if (!rc) rc = read_codes(pos[0], d, idx);
    if (!rc) rc = drv_model_create(d, &m, 1);
    if (!rc) rc = drv_ckpt_load(ckpt, d, m, NULL, NULL, NULL);
    if (!rc) rc = d->decode(m, y, (const int32_t *const *)idx, 1);
    if (!rc) rc = drv_save_row(out, y, 1, d);
    for (int c = 0; c < d->n_codebooks; c++) vq_free(idx[c]);
    vq_free(y);
    if (m) d->destroy(m);
    return rc ? drv_fail(dv, "decode") : VQ_EXIT_OK;
}
