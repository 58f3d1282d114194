/* driver_codec.c: the `reconstruct`, `encode` and `decode` subcommands.
 *
 * CODES files (one block per codebook, in the model's codebook order) are
 * read and written by codes.c, which checks names, grid sizes, K, the index
 * range and the row lengths, and names the file and line of the first problem.
 * Legend: C, H, W the model's input; gh, gw a codebook's code map. */
#include "driver_internal.h"

#include "codes.h"

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
    if (!rc) rc = vq_codes_write(out, (const int32_t *const *)idx, d->codebooks, d->n_codebooks);
    for (int c = 0; c < d->n_codebooks; c++) vq_free(idx[c]);
    vq_free(x);
    if (m) d->destroy(m);
    return rc ? drv_fail(dv, "encode") : VQ_EXIT_OK;
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
    if (!rc) rc = vq_codes_read(idx, pos[0], d->name, d->codebooks, d->n_codebooks);
    if (!rc) rc = drv_model_create(d, &m, 1);
    if (!rc) rc = drv_ckpt_load(ckpt, d, m, NULL, NULL, NULL);
    if (!rc) rc = d->decode(m, y, (const int32_t *const *)idx, 1);
    if (!rc) rc = drv_save_row(out, y, 1, d);
    for (int c = 0; c < d->n_codebooks; c++) vq_free(idx[c]);
    vq_free(y);
    if (m) d->destroy(m);
    return rc ? drv_fail(dv, "decode") : VQ_EXIT_OK;
}
