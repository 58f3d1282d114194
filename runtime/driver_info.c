/* driver_info.c: the `info` subcommand: what the model holds and costs.
 * (`bench`, how fast it runs here, is driver_bench.c.) */
#include "driver_internal.h"

#include <inttypes.h>
#include <string.h>

static const char *fill_name(vq_fill f)
{
    switch (f) {
    case VQ_FILL_PYTORCH_DEFAULT: return "pytorch_default";
    case VQ_FILL_NORMAL: return "normal";
    case VQ_FILL_UNIFORM: return "uniform";
    case VQ_FILL_CONSTANT: return "constant";
    case VQ_FILL_CODEBOOK_UNIFORM: return "codebook_uniform";
    case VQ_FILL_MODEL: return "model";
    }
    return "?";
}

int drv_cmd_info(drv *dv, int argc, char **argv)
{
    const vq_model_desc *d = dv->d;
    int batch = d->train.batch, tensors = 0;
    drv_opt o[] = {
        {"--batch", NULL, DRV_INT, &batch, "B", "batch size for the arena figure (default: the model's)", 0},
        {"--tensors", NULL, DRV_FLAG, &tensors, NULL, "also list every tensor (shape, slab offset, init, source)", 0},
    };
    drv_cmd_spec spec = {"info", "[--batch B] [--tensors]",
                         "Parameters per module, FLOPs per forward and training step, memory.", NULL, 0, 0};
    const char *pos[1];
    int n, rc = drv_parse(dv, &spec, o, 2, argc, argv, pos, &n);
    if (rc) return rc < 0 ? VQ_EXIT_OK : rc;
    if (batch <= 0) return drv_usage_error(dv, "info", "--batch %d must be positive", batch);

    printf("model       %s (source %s, vqc %s, hash %016" PRIx64 ")\n", d->name, d->source ? d->source : "?",
           d->vqc_version ? d->vqc_version : "?", d->model_hash);
    printf("input       (B, %d, %d, %d) in [%g, %g]%s\n", d->data.channels, d->data.height, d->data.width,
           (double)d->data.lo, (double)d->data.hi, d->data.pad ? ", smaller images padded" : "");
    printf("\n%-40s %12s %12s\n", "module", "trainable", "buffers");
    /* Modules in order of first appearance; the table is short, so quadratic is fine. */
    for (int i = 0; i < d->n_tensors; i++) {
        const char *mod = d->tensors[i].module ? d->tensors[i].module : d->tensors[i].name;
        int first = 1;
        for (int j = 0; j < i && first; j++)
            first = strcmp(d->tensors[j].module ? d->tensors[j].module : d->tensors[j].name, mod) != 0;
        if (!first) continue;
        size_t tr = 0, bu = 0;
        for (int j = i; j < d->n_tensors; j++)
            if (!strcmp(d->tensors[j].module ? d->tensors[j].module : d->tensors[j].name, mod))
                *(d->tensors[j].role == VQ_ROLE_TRAINABLE ? &tr : &bu) += d->tensors[j].numel;
        printf("%-40s %12zu %12zu\n", mod, tr, bu);
    }
    /* The sum of numel (what --summary and PyTorch count); the slabs may be larger (aligned offsets). */
    size_t sum_tr = 0, sum_bu = 0;
    for (int i = 0; i < d->n_tensors; i++)
        *(d->tensors[i].role == VQ_ROLE_TRAINABLE ? &sum_tr : &sum_bu) += d->tensors[i].numel;
    printf("%-40s %12zu %12zu\n", "total", sum_tr, sum_bu);
    if (sum_tr != d->n_params || sum_bu != d->n_buffers)
        printf("%-40s %12zu %12zu\n", "slab floats (aligned)", d->n_params, d->n_buffers);
    if (tensors) {
        printf("\n%-40s %-20s %-6s %10s  %-18s %s\n", "tensor", "shape", "slab", "offset", "init", "source");
        for (int i = 0; i < d->n_tensors; i++) {
            const vq_tensor_desc *t = &d->tensors[i];
            char shape[128];
            vq_st_format_shape(shape, sizeof shape, t->shape, t->ndim);
            printf("%-40s %-20s %-6s %10zu  %-18s %s\n", t->name, shape,
                   t->role == VQ_ROLE_TRAINABLE ? "params" : "buffer", t->offset, fill_name(t->init.kind),
                   t->src ? t->src : "");
        }
    }
    printf("\n");
    for (int c = 0; c < d->n_codebooks; c++)
        printf("codebook    %s: K=%d D=%d, codes %dx%d per image\n", d->codebooks[c].name, d->codebooks[c].K,
               d->codebooks[c].D, d->codebooks[c].grid_h, d->codebooks[c].grid_w);
    for (int k = 0; k < d->n_optimizers; k++) {
        const vq_optim_desc *op = &d->optimizers[k];
        size_t cnt = 0;
        for (int r = 0; r < op->n_ranges; r++) cnt += op->ranges[r].count;
        printf("optimizer   %s: %s lr %g%s, betas (%g, %g), wd %g, %zu params\n", op->name, op->kind, op->lr,
               op->lr_scale_batch ? " x batch" : "", op->beta1, op->beta2, op->weight_decay, cnt);
    }
    printf("loss        %s x %g + codebook x %g\n", d->losses.rec ? d->losses.rec : "?", d->losses.rec_weight,
           d->losses.codebook_weight);
    printf("flops       forward %.4g GFLOP/image, training step %.4g GFLOP/image\n", d->flops_forward / 1e9,
           d->flops_train / 1e9);
    double slab = (double)(2 * d->n_params + d->n_buffers) * sizeof(float);
    printf("memory      slabs (params, grads, buffers) %.3f MiB, arena %.3f MiB at batch %d\n", slab / 1048576.0,
           (double)d->arena_bytes(batch) / 1048576.0, batch);
    return VQ_EXIT_OK;
}
