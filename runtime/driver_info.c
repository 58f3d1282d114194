/* driver_info.c: the `info` and `bench` subcommands: what the model holds
 * and costs, and how fast it runs here.
 *
 * bench times whole calls after warm-up and reports medians: forward (EVAL)
 * and one training step (zero_grads, forward TRAIN, backward, optimizer step,
 * after_step), on random inputs in [lo, hi] from fresh init weights. GFLOP/s
 * uses the model's own FLOP counts (flops_train per image).
 * Legend: B batch. */
#include "driver_internal.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "threads.h"
#include "timing.h"

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

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int drv_cmd_bench(drv *dv, int argc, char **argv)
{
    const vq_model_desc *d = dv->d;
    int batch = d->train.batch, threads = 0, json = 0, steps = 10, warmup = 2;
    drv_opt o[] = {
        {"--batch", NULL, DRV_INT, &batch, "B", "batch size (default: the model's)", 0},
        {"--threads", NULL, DRV_INT, &threads, "T", "threads (default: all allowed)", 0},
        {"--steps", NULL, DRV_INT, &steps, "N", "timed repetitions of each measurement (default 10)", 0},
        {"--warmup", NULL, DRV_INT, &warmup, "N", "untimed repetitions first (default 2)", 0},
        {"--json", NULL, DRV_FLAG, &json, NULL, "print one JSON line instead of text", 0},
    };
    drv_cmd_spec spec = {"bench", "[--batch B] [--threads T] [--steps N] [--json]",
                         "Median forward and training-step times, images/s, GFLOP/s, peak RSS.", NULL, 0, 0};
    const char *pos[1];
    int n, rc = drv_parse(dv, &spec, o, 5, argc, argv, pos, &n);
    if (rc) return rc < 0 ? VQ_EXIT_OK : rc;
    if (batch <= 0 || steps <= 0 || warmup < 0 || threads < 0)
        return drv_usage_error(dv, "bench", "--batch and --steps must be positive, --warmup and --threads >= 0");
    threads = vq_threads_set(threads);

    vq_model *m = NULL;
    vq_optim *opt = NULL;
    size_t nx = (size_t)batch * d->data.channels * d->data.height * d->data.width;
    float *x = vq_alloc(nx * sizeof(float));
    double *tf = malloc(sizeof(double) * (size_t)steps), *tt = malloc(sizeof(double) * (size_t)steps);
    vq_rng rng;
    vq_rng_seed(&rng, d->train.seed);
    rc = x && tf && tt ? 0 : vq_fail(VQ_ERR_NOMEM, "out of memory");
    if (!rc) rc = drv_model_create(d, &m, batch);
    if (!rc) rc = drv_model_fresh(d, m, d->train.seed);
    if (!rc) {
        vq_param_group g = vq_group_defaults(VQ_ADAM, d->optimizers[0].lr);
        g.ranges = (const vq_range *)d->optimizers[0].ranges;
        g.n_ranges = d->optimizers[0].n_ranges;
        rc = vq_optim_create(&opt, VQ_ADAM, d->n_params, &g, 1);
    }
    for (size_t i = 0; !rc && i < nx; i++) x[i] = d->data.lo + (d->data.hi - d->data.lo) * vq_rng_uniform(&rng);
    for (int it = -warmup; !rc && it < steps; it++) {
        double t0 = vq_time_now();
        rc = d->forward(m, x, batch, VQ_MODE_EVAL, NULL);
        double t1 = vq_time_now();
        if (!rc) {
            d->zero_grads(m);
            rc = d->forward(m, x, batch, VQ_MODE_TRAIN, &rng);
        }
        if (!rc) rc = d->backward(m);
        if (!rc) vq_optim_step(opt, d->params(m), d->grads(m));
        if (!rc) rc = d->after_step(m, it + warmup, &rng);
        double t2 = vq_time_now();
        if (it >= 0) { tf[it] = t1 - t0; tt[it] = t2 - t1; }
    }
    /* per-op table: a few more training steps with the model's profiler on */
    const double *ops = NULL;
    if (!rc && d->n_ops > 0 && d->profile && d->op_seconds) {
        d->profile(m, 1);
        for (int it = 0; !rc && it < steps; it++) {
            d->zero_grads(m);
            rc = d->forward(m, x, batch, VQ_MODE_TRAIN, &rng);
            if (!rc) rc = d->backward(m);
        }
        d->profile(m, 0);
        ops = d->op_seconds(m);
    }
    if (!rc) {
        double f = median(tf, steps), t = median(tt, steps);
        double ips = batch / t, gflops = d->flops_train * batch / t / 1e9, rss = vq_peak_rss_mib();
        if (json) {
            printf("{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"forward_ms\":", d->name, batch, threads);
            drv_json_num(stdout, f * 1e3);
            printf(",\"train_step_ms\":");
            drv_json_num(stdout, t * 1e3);
            printf(",\"images_per_s\":");
            drv_json_num(stdout, ips);
            printf(",\"gflops\":");
            drv_json_num(stdout, gflops);
            printf(",\"peak_rss_mb\":");
            drv_json_num(stdout, rss);
            if (ops) {
                printf(",\"ops\":{");
                for (int k = 0; k < d->n_ops; k++) {
                    printf("%s\"%s\":[", k ? "," : "", d->op_names[k]);
                    drv_json_num(stdout, ops[2 * k] * 1e3 / steps);
                    printf(",");
                    drv_json_num(stdout, ops[2 * k + 1] * 1e3 / steps);
                    printf("]");
                }
                printf("}");
            }
            printf("}\n");
        } else {
            printf("%s: batch %d, %d threads, median of %d after %d warm-up\n", d->name, batch, threads, steps, warmup);
            printf("forward      %10.3f ms  (%.1f images/s)\n", f * 1e3, batch / f);
            printf("train step   %10.3f ms  (%.1f images/s, %.2f GFLOP/s)\n", t * 1e3, ips, gflops);
            printf("peak RSS     %10.1f MiB\n", rss);
            for (int k = 0; ops && k < d->n_ops; k++)
                printf("  %-40s fwd %8.3f ms  bwd %8.3f ms\n", d->op_names[k], ops[2 * k] * 1e3 / steps,
                       ops[2 * k + 1] * 1e3 / steps);
        }
    }
    vq_optim_destroy(opt);
    if (m) d->destroy(m);
    vq_free(x);
    free(tf);
    free(tt);
    return rc ? drv_fail(dv, "bench") : VQ_EXIT_OK;
}
