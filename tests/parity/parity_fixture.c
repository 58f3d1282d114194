/* parity_fixture.c: opening the fixture set that tests/reference/make_fixtures.py writes
 * (DIR/MODEL.{weights,inputs,forward,losses,grads,after}[.steps][.lpips][.state<i>, .adam<i>].safetensors;
 * the optional parts are only noted here, opened by their users) and loading
 * the model's slabs from its weights by tensor-table name, strictly. */
#include <stdlib.h>
#include <string.h>

#include "parity.h"

static int open_part(vq_st_file *f, const char *dir, const char *model, const char *part, int optional)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%s.safetensors", dir, model, part);
    if (optional) {
        FILE *t = fopen(path, "rb");
        if (!t) { memset(f, 0, sizeof *f); return 1; }
        fclose(t);
    }
    return vq_st_open(f, path) ? -1 : 0;
}

int pt_fixture_open(pt_fixture *fx, const char *dir, const char *model)
{
    memset(fx, 0, sizeof *fx);
    if (open_part(&fx->weights, dir, model, "weights", 0) || open_part(&fx->inputs, dir, model, "inputs", 0)
        || open_part(&fx->forward, dir, model, "forward", 0) || open_part(&fx->losses, dir, model, "losses", 0)
        || open_part(&fx->grads, dir, model, "grads", 0) || open_part(&fx->after, dir, model, "after", 0))
        return VQ_ERR_IO;
    int rc = open_part(&fx->steps, dir, model, "steps", 1);
    if (rc < 0) return VQ_ERR_IO;
    fx->has_steps = rc == 0;
    fx->dir = dir;
    fx->model = model;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.lpips.safetensors", dir, model);
    FILE *t = fopen(path, "rb");
    if (t) { fx->has_lpips = 1; fclose(t); }
    for (;; fx->n_states++) {   /* state0 .. state<n-1>, each with its adam<i> */
        snprintf(path, sizeof path, "%s/%s.adam%d.safetensors", dir, model, fx->n_states);
        if (!(t = fopen(path, "rb"))) break;
        fclose(t);
    }
    const int64_t *shape;
    int ndim;
    if (!vq_st_get(&fx->inputs, "x", &shape, &ndim)) return VQ_ERR_FORMAT;
    if (ndim != 4) return vq_fail(VQ_ERR_FORMAT, "%s: x must be (B, C, H, W)", fx->inputs.label);
    fx->B = (int)shape[0];
    return 0;
}

void pt_fixture_close(pt_fixture *fx)
{
    vq_st_file *all[] = {&fx->weights, &fx->inputs, &fx->forward, &fx->losses, &fx->grads, &fx->after, &fx->steps};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) vq_st_close(all[i]);
}

const float *pt_get_f32(const vq_st_file *f, const char *name, size_t *n, float **owned)
{
    *owned = NULL;
    const vq_st_tensor *t = vq_st_find(f, name);
    if (!t) { vq_fail(VQ_ERR_MISMATCH, "%s: no tensor %s", f->label, name); return NULL; }
    *n = (size_t)t->numel;
    if (t->dtype == VQ_DT_F32 || t->dtype == VQ_DT_F16 || t->dtype == VQ_DT_BF16) return t->data;
    if (t->dtype != VQ_DT_I64 && t->dtype != VQ_DT_I32 && t->dtype != VQ_DT_U8) {
        vq_fail(VQ_ERR_FORMAT, "%s: %s has dtype %s, not a number type", f->label, name, vq_dtype_name(t->dtype));
        return NULL;
    }
    float *v = malloc(sizeof(float) * (*n ? *n : 1));
    if (!v) { vq_fail(VQ_ERR_NOMEM, "out of memory"); return NULL; }
    for (size_t i = 0; i < *n; i++)
        v[i] = t->dtype == VQ_DT_I64   ? (float)((const int64_t *)t->data)[i]
               : t->dtype == VQ_DT_I32 ? (float)((const int32_t *)t->data)[i]
                                       : (float)((const uint8_t *)t->data)[i];   /* ActNorm's initialized */
    *owned = v;
    return v;
}

int pt_load_weights(const vq_model_desc *d, vq_model *m, const vq_st_file *w)
{
    float *P = d->params(m), *BU = d->buffers ? d->buffers(m) : NULL;
    const char **names = malloc(sizeof(char *) * (size_t)d->n_tensors);
    if (!names) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    for (int i = 0; i < d->n_tensors; i++) names[i] = d->tensors[i].name;
    /* every table tensor present, no other tensor in the file: one message lists all offenders */
    int rc = vq_st_check_names(w, names, (size_t)d->n_tensors, 0);
    free(names);
    if (rc) return rc;
    for (int i = 0; i < d->n_tensors && !rc; i++) {
        const vq_tensor_desc *t = &d->tensors[i];
        const vq_st_tensor *ft = vq_st_find(w, t->name);
        int same = ft->ndim == t->ndim;
        for (int k = 0; same && k < t->ndim; k++) same = ft->shape[k] == t->shape[k];
        if (!same) {
            char a[128], b[128];
            vq_st_format_shape(a, sizeof a, ft->shape, ft->ndim);
            vq_st_format_shape(b, sizeof b, t->shape, t->ndim);
            return vq_fail(VQ_ERR_MISMATCH, "%s: %s: shape %s in file, model expects %s", w->label, t->name, a, b);
        }
        float *owned, *dst = (t->role == VQ_ROLE_TRAINABLE ? P : BU) + t->offset;
        size_t n;
        const float *src = pt_get_f32(w, t->name, &n, &owned);
        if (!src) return VQ_ERR_FORMAT;
        if (n != t->numel) rc = vq_fail(VQ_ERR_MISMATCH, "%s: %s: %zu elements", w->label, t->name, n);
        else memcpy(dst, src, sizeof(float) * n);
        free(owned);
    }
    return rc;
}
