/* driver_ckpt.c: what the driver puts in a checkpoint and how it checks one
 * against the model before loading it (checkpoint.h holds the file format).
 *
 * Contents, in this order: the model's tensors (table order, reference
 * names), the model-owned state arrays (desc->state), each optimizer's state
 * ("optim.<name>.<state>"); metadata step/rng/model_hash plus the run's own
 * keys: data_position, seed, batch, lr, limit, model, source, vqc_version.
 *
 * Loading is strict: every table tensor must be present with its exact shape,
 * and no tensor outside the model, its state and "optim.*" may be present.
 * The tensor table is compared before the hash so that the message names the
 * first tensor that differs, which says more than two hash values. */
#include "driver_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define NAME_CAP 256

typedef struct ckpt_list {
    vq_st_ref *refs;
    char (*names)[NAME_CAP];       /* storage for optimizer state names */
    int64_t *shapes;               /* storage for optimizer state shapes (1 dim each) */
    size_t n;
} ckpt_list;

static void list_free(ckpt_list *l) { free(l->refs); free(l->names); free(l->shapes); }

/* Every tensor a checkpoint of this model holds; opts may be NULL. */
static int list_build(ckpt_list *l, const vq_model_desc *d, vq_model *m, vq_optim *const *opts)
{
    memset(l, 0, sizeof *l);
    int n_state = d->state(m, NULL, 0);
    size_t n_opt = 0;
    if (opts)
        for (int o = 0; o < d->n_optimizers; o++) n_opt += (size_t)vq_optim_state_count(opts[o]);
    size_t cap = (size_t)d->n_tensors + (size_t)n_state + n_opt;
    l->refs = calloc(cap, sizeof *l->refs);
    l->names = calloc(n_opt + 1, sizeof *l->names);
    l->shapes = calloc(n_opt + 1, sizeof *l->shapes);
    if (!l->refs || !l->names || !l->shapes) { list_free(l); return vq_fail(VQ_ERR_NOMEM, "out of memory"); }
    float *params = d->params(m), *buffers = d->n_buffers ? d->buffers(m) : NULL;
    for (int i = 0; i < d->n_tensors; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        l->refs[l->n++] = (vq_st_ref){t->name, VQ_DT_F32, t->ndim, t->shape,
                                      (t->role == VQ_ROLE_TRAINABLE ? params : buffers) + t->offset};
    }
    l->n += (size_t)d->state(m, l->refs + l->n, n_state);
    size_t k = 0;
    for (int o = 0; opts && o < d->n_optimizers; o++) {
        for (int i = 0; i < vq_optim_state_count(opts[o]); i++, k++) {
            vq_optim_state s = vq_optim_state_get(opts[o], i);
            int rc = vq_ckpt_optim_name(l->names[k], NAME_CAP, d->optimizers[o].name, s.name);
            if (rc) { list_free(l); return rc; }
            l->shapes[k] = (int64_t)s.count;
            l->refs[l->n++] = (vq_st_ref){l->names[k], s.dtype == VQ_STATE_I64 ? VQ_DT_I64 : VQ_DT_F32, 1,
                                          &l->shapes[k], s.data};
        }
    }
    return VQ_OK;
}

int drv_ckpt_save(const char *path, const vq_model_desc *d, vq_model *m, vq_optim *const *opts,
                  int64_t step, const vq_rng *rng, const drv_run_meta *run)
{
    ckpt_list l;
    int rc = list_build(&l, d, m, opts);
    if (rc) return rc;
    char pos[32], seed[32], batch[32], lr[40], limit[32];
    snprintf(pos, sizeof pos, "%" PRId64, run->data_position);
    snprintf(seed, sizeof seed, "%" PRIu64, run->seed);
    snprintf(batch, sizeof batch, "%d", run->batch);
    snprintf(lr, sizeof lr, "%.17g", run->lr);
    snprintf(limit, sizeof limit, "%" PRId64, run->limit);
    vq_st_meta meta[] = {
        {"data_position", pos}, {"seed", seed}, {"batch", batch}, {"lr", lr}, {"limit", limit},
        {"model", d->name}, {"source", d->source ? d->source : ""},
        {"vqc_version", d->vqc_version ? d->vqc_version : ""},
    };
    vq_ckpt_info info = {.step = (uint64_t)step, .rng = *rng, .model_hash = d->model_hash};
    rc = vq_ckpt_save(path, l.refs, l.n, &info, meta, sizeof meta / sizeof meta[0]);
    list_free(&l);
    return rc;
}

static void shape_str(char *buf, size_t cap, const int64_t *shape, int ndim)
{
    vq_st_format_shape(buf, cap, shape, ndim);
}

/* The table against the file: first missing or differently shaped tensor. */
static int check_table(const vq_st_file *f, const vq_model_desc *d, const ckpt_list *l, size_t n_model)
{
    for (size_t i = 0; i < n_model; i++) {
        const vq_st_ref *r = &l->refs[i];
        const vq_st_tensor *t = vq_st_find(f, r->name);
        char want[128], have[128];
        shape_str(want, sizeof want, r->shape, r->ndim);
        if (!t)
            return vq_fail(VQ_ERR_MISMATCH, "%s: tensor %s %s of model %s is missing from the checkpoint",
                           f->label, r->name, want, d->name);
        int same = t->ndim == r->ndim;
        for (int k = 0; same && k < r->ndim; k++) same = t->shape[k] == r->shape[k];
        if (!same) {
            shape_str(have, sizeof have, t->shape, t->ndim);
            return vq_fail(VQ_ERR_MISMATCH, "%s: tensor %s has shape %s in the checkpoint, model %s expects %s",
                           f->label, r->name, have, d->name, want);
        }
    }
    /* Anything else must be optimizer state (checked when loaded) or model state. */
    for (size_t j = 0; j < f->n_tensors; j++) {
        const char *nm = f->tensors[j].name;
        if (strncmp(nm, "optim.", 6) == 0) continue;
        int known = 0;
        for (size_t i = 0; i < l->n && !known; i++) known = strcmp(l->refs[i].name, nm) == 0;
        if (!known)
            return vq_fail(VQ_ERR_MISMATCH, "%s: tensor %s in the checkpoint is not part of model %s",
                           f->label, nm, d->name);
    }
    return VQ_OK;
}

static int meta_i64(const vq_st_file *f, const char *key, int64_t *out, int *have)
{
    const char *v = vq_st_meta_get(f, key);
    if (!v) { *have = 0; return VQ_OK; }
    char *end;
    long long x = strtoll(v, &end, 10);
    if (!*v || *end) return vq_fail(VQ_ERR_FORMAT, "%s: __metadata__ \"%s\" is not an integer", f->label, key);
    *out = x;
    return VQ_OK;
}

static int read_run_meta(const vq_st_file *f, drv_run_meta *run)
{
    memset(run, 0, sizeof *run);
    run->data_position = -1;
    int64_t seed = 0, batch = 0, limit = 0;
    int h1 = 1, h2 = 1, h3 = 1, h4 = 1;
    int rc = meta_i64(f, "data_position", &run->data_position, &h1);
    if (!rc) rc = meta_i64(f, "seed", &seed, &h2);
    if (!rc) rc = meta_i64(f, "batch", &batch, &h3);
    if (!rc) rc = meta_i64(f, "limit", &limit, &h4);
    if (rc) return rc;
    const char *lr = vq_st_meta_get(f, "lr");
    run->has_run = h1 && h2 && h3 && h4 && lr;
    run->seed = (uint64_t)seed;
    run->batch = (int)batch;
    run->limit = limit;
    run->lr = lr ? strtod(lr, NULL) : 0.0;
    return VQ_OK;
}

/* An int64 tensor (BatchNorm's num_batches_tracked in a PyTorch state_dict) into a
 * float32 table entry: exact only below 2^24, so larger values are refused. */
static int read_i64_as_f32(const vq_st_file *f, const vq_st_ref *r)
{
    size_t n = 1;
    for (int k = 0; k < r->ndim; k++) n *= (size_t)r->shape[k];
    int64_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory", f->label);
    int rc = vq_st_read(f, r->name, VQ_DT_I64, tmp, r->shape, r->ndim);
    for (size_t k = 0; !rc && k < n; k++) {
        if (tmp[k] > (1 << 24) || tmp[k] < -(1 << 24))
            rc = vq_fail(VQ_ERR_FORMAT, "%s: %s holds %lld, not exactly a float32", f->label, r->name, (long long)tmp[k]);
        else
            ((float *)r->data)[k] = (float)tmp[k];
    }
    free(tmp);
    return rc;
}

int drv_ckpt_load(const char *path, const vq_model_desc *d, vq_model *m, vq_optim *const *opts,
                  vq_ckpt_info *info_out, drv_run_meta *run)
{
    vq_st_file f;
    vq_ckpt_info info;
    int rc = vq_st_open(&f, path);
    if (rc) return rc;
    ckpt_list l;
    if ((rc = vq_ckpt_info_get(&f, &info))) { vq_st_close(&f); return rc; }
    if ((rc = list_build(&l, d, m, opts))) { vq_st_close(&f); return rc; }
    size_t n_model = (size_t)d->n_tensors;
    rc = check_table(&f, d, &l, n_model);
    /* model_hash 0: an imported checkpoint not bound to a .vq (scripts/vqc_ckpt); the tensor
     * table check above is then the whole guarantee */
    if (!rc && info.model_hash != 0 && info.model_hash != d->model_hash)
        rc = vq_fail(VQ_ERR_MISMATCH, "%s: checkpoint model_hash %016llx, model %s is %016llx (built from a "
                     "different .vq source or -D values)", path, (unsigned long long)info.model_hash, d->name,
                     (unsigned long long)d->model_hash);
    for (size_t i = 0; !rc && i < l.n; i++) {
        const vq_st_ref *r = &l.refs[i];
        if (i >= n_model && !vq_st_find(&f, r->name)) {
            /* weights only (--ckpt, --init): model state that is absent keeps its reset value
             * (an imported checkpoint has no usage counters); resuming needs all of it */
            if (!opts && i < n_model + (size_t)d->state(m, NULL, 0)) continue;
            rc = i < n_model + (size_t)d->state(m, NULL, 0)
                     ? vq_fail(VQ_ERR_MISMATCH, "%s: model state %s is missing from the checkpoint", path, r->name)
                     : vq_fail(VQ_ERR_MISMATCH, "%s: optimizer state %s is missing (a checkpoint written by "
                               "`init` has none: use --init instead of --resume)", path, r->name);
            break;
        }
        vq_dtype want = r->dtype == VQ_DT_F16 || r->dtype == VQ_DT_BF16 ? VQ_DT_F32 : r->dtype;
        const vq_st_tensor *t = vq_st_find(&f, r->name);
        if (i < n_model && want == VQ_DT_F32 && t && t->dtype == VQ_DT_I64)
            rc = read_i64_as_f32(&f, r);   /* PyTorch's num_batches_tracked */
        else
            rc = vq_st_read(&f, r->name, want, r->data, r->shape, r->ndim);
    }
    if (!rc && run) rc = read_run_meta(&f, run);
    if (!rc && info_out) *info_out = info;
    list_free(&l);
    vq_st_close(&f);
    return rc;
}

int drv_ckpt_peek(const char *path, vq_ckpt_info *info, drv_run_meta *run)
{
    vq_st_file f;
    int rc = vq_st_open(&f, path);
    if (rc) return rc;
    rc = vq_ckpt_info_get(&f, info);
    if (!rc) rc = read_run_meta(&f, run);
    vq_st_close(&f);
    return rc;
}
