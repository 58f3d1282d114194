/* driver_init.c: checking a model description, filling weights by the
 * tensor table's init rules, and the `init` subcommand. */
#include "driver_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int cmp_size(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* NAME.proj_in.weight (d, D) of codebook NAME's projected lookup (quantizer.h), or NULL. */
static const vq_tensor_desc *find_proj_in(const vq_model_desc *d, const char *cb)
{
    size_t l = strlen(cb);
    for (int i = 0; i < d->n_tensors; i++) {
        const char *n = d->tensors[i].name;
        if (n && strncmp(n, cb, l) == 0 && strcmp(n + l, ".proj_in.weight") == 0) return &d->tensors[i];
    }
    return NULL;
}

/* Tensors of one slab must not overlap: sort (offset, numel) pairs and compare neighbours. */
static int check_overlap(const vq_model_desc *d, vq_role role, size_t slab)
{
    size_t *iv = malloc(sizeof(size_t) * 3 * (size_t)(d->n_tensors + 1));
    if (!iv) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    int n = 0;
    for (int i = 0; i < d->n_tensors; i++)
        if (d->tensors[i].role == role) {
            iv[3 * n] = d->tensors[i].offset; iv[3 * n + 1] = d->tensors[i].numel; iv[3 * n + 2] = (size_t)i;
            n++;
        }
    qsort(iv, (size_t)n, 3 * sizeof(size_t), cmp_size);
    int rc = 0;
    for (int k = 0; k < n && !rc; k++) {
        const vq_tensor_desc *t = &d->tensors[iv[3 * k + 2]];
        if (t->offset + t->numel > slab)
            rc = vq_fail(VQ_ERR_ARG, "model %s: tensor %s [%zu, %zu) lies outside its slab of %zu floats",
                         d->name, t->name, t->offset, t->offset + t->numel, slab);
        else if (k > 0 && iv[3 * (k - 1)] + iv[3 * (k - 1) + 1] > t->offset)
            rc = vq_fail(VQ_ERR_ARG, "model %s: tensors %s and %s overlap in their slab", d->name,
                         d->tensors[iv[3 * (k - 1) + 2]].name, t->name);
    }
    free(iv);
    return rc;
}

int vq_model_desc_check(const vq_model_desc *d)
{
    if (!d) return vq_fail(VQ_ERR_ARG, "no model description");
    const char *nm = d->name ? d->name : "(unnamed)";
    if (d->abi != VQ_MODEL_ABI)
        return vq_fail(VQ_ERR_ARG, "model %s was built against model_desc.h ABI %d, this runtime is ABI %d",
                       nm, d->abi, VQ_MODEL_ABI);
    if (!d->name || !d->tensors || d->n_tensors <= 0 || !d->loss_names || d->n_losses < 1 ||
        d->n_losses > VQ_DESC_MAX_LOSSES || strcmp(d->loss_names[0], "total") != 0)
        return vq_fail(VQ_ERR_ARG, "model %s: needs a name, a tensor table and loss_names starting with \"total\" "
                       "(at most %d)", nm, VQ_DESC_MAX_LOSSES);
    if (!d->create || !d->destroy || !d->params || !d->grads || !d->zero_grads || !d->forward || !d->backward ||
        !d->loss_values || !d->recon || !d->indices || !d->encode || !d->decode || !d->state || !d->reset_state ||
        !d->after_step || !d->arena_bytes || (d->n_buffers && !d->buffers))
        return vq_fail(VQ_ERR_ARG, "model %s: a required function pointer is NULL", nm);
    if (d->data.channels != 1 && d->data.channels != 3)
        return vq_fail(VQ_ERR_ARG, "model %s: data.channels %d must be 1 or 3", nm, d->data.channels);
    if (d->data.height <= 0 || d->data.width <= 0 || !(d->data.hi > d->data.lo))
        return vq_fail(VQ_ERR_ARG, "model %s: data size %dx%d or range [%g, %g] is invalid", nm,
                       d->data.height, d->data.width, (double)d->data.lo, (double)d->data.hi);
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        if (!t->name || !*t->name || t->ndim < 0 || t->ndim > VQ_DESC_MAX_DIMS)
            return vq_fail(VQ_ERR_ARG, "model %s: tensor %d has no name or a bad rank", nm, i);
        size_t numel = 1;
        for (int k = 0; k < t->ndim; k++) numel *= (size_t)t->shape[k];
        if (numel != t->numel)
            return vq_fail(VQ_ERR_ARG, "model %s: tensor %s: numel %zu != product of its shape %zu", nm, t->name,
                           t->numel, numel);
        for (int j = 0; j < i; j++)
            if (strcmp(d->tensors[j].name, t->name) == 0)
                return vq_fail(VQ_ERR_ARG, "model %s: tensor %s appears twice in the table", nm, t->name);
        if (t->init.kind == VQ_FILL_PYTORCH_DEFAULT && t->init.fan_in <= 0)
            return vq_fail(VQ_ERR_ARG, "model %s: tensor %s: pytorch_default init needs fan_in > 0", nm, t->name);
    }
    int rc = check_overlap(d, VQ_ROLE_TRAINABLE, d->n_params);
    if (!rc) rc = check_overlap(d, VQ_ROLE_BUFFER, d->n_buffers);
    if (rc) return rc;
    if (d->n_codebooks < 0 || d->n_codebooks > VQ_DESC_MAX_CODEBOOKS)
        return vq_fail(VQ_ERR_ARG, "model %s: %d codebooks (at most %d)", nm, d->n_codebooks, VQ_DESC_MAX_CODEBOOKS);
    for (int c = 0; c < d->n_codebooks; c++) {
        const vq_codebook_desc *cb = &d->codebooks[c];
        if (!cb->name || cb->K <= 0 || cb->D <= 0 || cb->grid_h <= 0 || cb->grid_w <= 0 ||
            cb->embed_tensor < 0 || cb->embed_tensor >= d->n_tensors)
            return vq_fail(VQ_ERR_ARG, "model %s: codebook %d is incomplete", nm, c);
        const vq_tensor_desc *e = &d->tensors[cb->embed_tensor];
        int dd = cb->D;   /* the embedding's code length: D, or d of a projected lookup */
        const vq_tensor_desc *pin = find_proj_in(d, cb->name);
        if (pin) {
            if (pin->ndim != 2 || pin->shape[1] != cb->D || pin->shape[0] < 1 || pin->shape[0] >= cb->D)
                return vq_fail(VQ_ERR_ARG, "model %s: codebook %s: %s is not (d, %d) with 0 < d < %d", nm, cb->name,
                               pin->name, cb->D, cb->D);
            dd = (int)pin->shape[0];
        }
        int rows = cb->embed_dk ? dd : cb->K, cols = cb->embed_dk ? cb->K : dd;
        if (e->ndim != 2 || e->shape[0] != rows || e->shape[1] != cols)
            return vq_fail(VQ_ERR_ARG, "model %s: codebook %s: embedding %s is not (%d, %d) (%s layout)", nm,
                           cb->name, e->name, rows, cols, pin ? (cb->embed_dk ? "d, K" : "K, d") : (cb->embed_dk ? "D, K" : "K, D"));
    }
    if (d->n_optimizers < 1 || d->n_optimizers > VQ_DESC_MAX_OPTIMIZERS)
        return vq_fail(VQ_ERR_ARG, "model %s: needs 1 to %d optimizers, has %d", nm, VQ_DESC_MAX_OPTIMIZERS,
                       d->n_optimizers);
    for (int o = 0; o < d->n_optimizers; o++) {
        const vq_optim_desc *op = &d->optimizers[o];
        if (!op->name || !op->kind || op->n_ranges <= 0 || !op->ranges)
            return vq_fail(VQ_ERR_ARG, "model %s: optimizer %d is incomplete", nm, o);
        for (int r = 0; r < op->n_ranges; r++)
            if (op->ranges[r].offset + op->ranges[r].count > d->n_params)
                return vq_fail(VQ_ERR_ARG, "model %s: optimizer %s: range %d ends past the params slab", nm,
                               op->name, r);
    }
    return VQ_OK;
}

int vq_model_init_weights(const vq_model_desc *d, float *params, float *buffers, vq_rng *rng)
{
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        float *p = (t->role == VQ_ROLE_TRAINABLE ? params : buffers);
        if (!p) return vq_fail(VQ_ERR_ARG, "init %s: its slab is NULL", t->name);
        p += t->offset;
        const vq_init_rule *r = &t->init;
        switch (r->kind) {
        case VQ_FILL_PYTORCH_DEFAULT: {
            /* kaiming_uniform_(a=sqrt(5)): gain sqrt(2/(1+5)), bound gain*sqrt(3/fan_in) = 1/sqrt(fan_in) */
            float bound = (float)(1.0 / sqrt((double)r->fan_in));
            for (size_t k = 0; k < t->numel; k++) p[k] = bound * (2.0f * vq_rng_uniform(rng) - 1.0f);
            break;
        }
        case VQ_FILL_NORMAL:
            for (size_t k = 0; k < t->numel; k++) p[k] = vq_rng_normal(rng, (float)r->a, (float)r->b);
            break;
        case VQ_FILL_UNIFORM:
            for (size_t k = 0; k < t->numel; k++)
                p[k] = (float)(r->a + (r->b - r->a) * vq_rng_uniform_double(rng));
            break;
        case VQ_FILL_CONSTANT:
            for (size_t k = 0; k < t->numel; k++) p[k] = (float)r->a;
            break;
        case VQ_FILL_CODEBOOK_UNIFORM: {
            float K = (float)(t->ndim > 0 ? t->shape[0] : 1);
            for (size_t k = 0; k < t->numel; k++) p[k] = (2.0f * vq_rng_uniform(rng) - 1.0f) / K;
            break;
        }
        case VQ_FILL_MODEL:
            break;
        default:
            return vq_fail(VQ_ERR_ARG, "init %s: unknown init rule %d", t->name, (int)r->kind);
        }
    }
    return VQ_OK;
}

int drv_model_create(const vq_model_desc *d, vq_model **m, int max_batch)
{
    *m = NULL;
    int rc = d->create(m, max_batch);
    if (rc) return vq_fail_context(rc, "creating model %s for batch %d", d->name, max_batch);
    return VQ_OK;
}

int drv_model_fresh(const vq_model_desc *d, vq_model *m, uint64_t seed)
{
    vq_rng rng;
    vq_rng_seed(&rng, seed);
    int rc = vq_model_init_weights(d, d->params(m), d->n_buffers ? d->buffers(m) : NULL, &rng);
    if (!rc) rc = d->reset_state(m, &rng);
    return rc;
}

int drv_cmd_init(drv *dv, int argc, char **argv)
{
    const vq_model_desc *d = dv->d;
    const char *out = NULL;
    uint64_t seed = d->train.seed;
    drv_opt opts[] = {
        {"--out", "-o", DRV_STR, &out, "CKPT", "checkpoint to write (safetensors)", 0},
        {"--seed", NULL, DRV_U64, &seed, "S", "random seed of the init rules (default: the model's)", 0},
    };
    drv_cmd_spec spec = {"init", "--out CKPT [--seed S]",
                         "Initialize the weights by the model's init rules and write a checkpoint at step 0.", NULL, 0, 0};
    const char *pos[1];
    int n_pos, rc = drv_parse(dv, &spec, opts, 2, argc, argv, pos, &n_pos);
    if (rc) return rc < 0 ? VQ_EXIT_OK : rc;
    if (!drv_require(dv, "init", &opts[0])) return VQ_EXIT_USAGE;

    vq_model *m;
    if (drv_model_create(d, &m, 1)) return drv_fail(dv, "init");
    vq_rng rng;
    vq_rng_seed(&rng, seed);
    rc = vq_model_init_weights(d, d->params(m), d->n_buffers ? d->buffers(m) : NULL, &rng);
    if (!rc) rc = d->reset_state(m, &rng);
    drv_run_meta run = {.data_position = 0, .seed = seed, .batch = d->train.batch,
                        .lr = d->optimizers[0].lr, .limit = 0, .has_run = 1};
    if (!rc) rc = drv_ckpt_save(out, d, m, NULL, 0, &rng, &run);
    d->destroy(m);
    if (rc) return drv_fail(dv, "init");
    printf("initialized %s (seed %llu) -> %s\n", d->name, (unsigned long long)seed, out);
    return VQ_EXIT_OK;
}
