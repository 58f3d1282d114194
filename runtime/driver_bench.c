/* driver_bench.c: the `bench` subcommand: how fast the model runs here, and
 * where a training step's time goes.
 *
 * Timing: after --warmup untimed rounds, --steps timed rounds of a forward
 * (EVAL) and of one training step exactly as `train` takes it (vq_train_step:
 * forward, the generator's adversarial term, backward, optimizer 0, the
 * discriminator's step and optimizer, after_step); medians. A model with a
 * discriminator is stepped at step index disc_start, where both halves run;
 * the JSON says what ran ("disc", "adversarial"). Random inputs in [lo, hi],
 * fresh init weights, no LPIPS weights (no perceptual term, like the PyTorch
 * side of `make bench`), constant learning rates.
 *
 * Breakdown, for models with per-op profiling (model_desc.h n_ops...; what
 * vqc generates, compiler/emit_profile.h): --steps more training steps with
 * the profiler on. Each op row's forward and backward seconds (means per step)
 * go to a category read from the kind in the row's last parentheses. The
 * optimizers are then timed apart (vq_optim_step alone on the same gradients),
 * and what remains of the profiled step (zero_grads, finiteness checks and
 * gradient norms, after_step, gaps between ops) is "other". GFLOP/s only where
 * the model states FLOPs: the whole forward and training step.
 * Legend: B batch.
 */
#include "driver_internal.h"

#include <stdlib.h>
#include <string.h>

#include "threads.h"
#include "timing.h"
#include "train_step.h"

typedef enum bench_cat {
    CAT_CONV_FWD, CAT_CONV_BWD_DATA, CAT_CONV_BWD_WEIGHT, CAT_NORM, CAT_ATTENTION, CAT_QUANT, CAT_ELEMWISE,
    CAT_LOSS, CAT_DATA, CAT_OPTIM, CAT_OTHER, N_CAT
} bench_cat;

static const char *const cat_names[N_CAT] = {
    "conv forward", "conv backward-data", "conv backward-weight", "norms", "attention", "quantizer",
    "elementwise/resample", "loss", "data (input copy)", "optimizer", "other",
};

/* Row "encoder.conv_in (conv2d)", column 0 forward / 1 backward -> category. The
 * kind is the first word in the last parentheses (a name without any is its own
 * kind: a hand-written model's "quantize"); a conv's "(conv2d, weight grad)" row
 * is its backward-weight call alone (compiler/emit_profile.h). */
static bench_cat op_category(const char *name, int col)
{
    const char *k = strrchr(name, '(');
    k = k ? k + 1 : name;
    size_t n = strcspn(k, "+, )"), np = strcspn(name, " (");
#define KIND_IS(s) (n == sizeof(s) - 1 && !strncmp(k, s, n))
    if (KIND_IS("conv2d") || KIND_IS("conv_transpose2d"))
        return strstr(k, "weight grad") ? CAT_CONV_BWD_WEIGHT : col ? CAT_CONV_BWD_DATA : CAT_CONV_FWD;
    if (KIND_IS("group_norm") || KIND_IS("batch_norm") || KIND_IS("layer_norm")) return CAT_NORM;
    if (KIND_IS("attention")) return CAT_ATTENTION;
    if (KIND_IS("quantize")) return CAT_QUANT;
    if (KIND_IS("input")) return CAT_DATA;
    if ((n >= 4 && !strncmp(k + n - 4, "loss", 4)) || (np == 4 && !strncmp(name, "loss", 4))) return CAT_LOSS;
#undef KIND_IS
    return CAT_ELEMWISE;
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

/* The model's optimizers with their hyper-parameters (base lr, x batch where
 * the model says so) and constant schedules: the schedule changes values, not
 * the work. */
static int bench_optimizers(vq_optim **opts, vq_schedule *sched, const vq_model_desc *d, int batch)
{
    for (int k = 0; k < d->n_optimizers; k++) {
        const vq_optim_desc *od = &d->optimizers[k];
        vq_optim_kind kind = !strcmp(od->kind, "sgd") ? VQ_SGD : !strcmp(od->kind, "adamw") ? VQ_ADAMW : VQ_ADAM;
        vq_param_group g = vq_group_defaults(kind, od->lr * (od->lr_scale_batch ? batch : 1));
        g.beta1 = od->beta1; g.beta2 = od->beta2; g.eps = od->eps;
        g.weight_decay = od->weight_decay; g.momentum = od->momentum;
        g.ranges = (const vq_range *)od->ranges;   /* vq_slab_range has vq_range's layout */
        g.n_ranges = od->n_ranges;
        int rc = vq_optim_create(&opts[k], kind, d->n_params, &g, 1);
        if (rc) return vq_fail_context(rc, "optimizer %s", od->name);
        memset(&sched[k], 0, sizeof sched[k]);
        sched[k].kind = VQ_SCHED_CONSTANT;
    }
    return VQ_OK;
}

/* The profiled part: per-op means (ms per step), category totals, the step. */
typedef struct bench_profile {
    int on;
    double step_ms;            /* mean profiled training step */
    double cat_ms[N_CAT];
    const double *ops;         /* (n_ops, 2) seconds summed over `steps` steps */
    int steps;
} bench_profile;

static int profile_steps(bench_profile *p, const vq_model_desc *d, vq_model *m, vq_optim **opts,
                         const vq_schedule *sched, const float *x, int batch, int64_t bstep, int steps, vq_rng *rng,
                         const vq_step_info *si)
{
    memset(p, 0, sizeof *p);
    if (d->n_ops <= 0 || !d->profile || !d->op_seconds) return VQ_OK;
    int rc = VQ_OK;
    double total = 0.0;
    vq_step_info info;
    d->profile(m, 1);
    for (int it = 0; !rc && it < steps; it++) {
        double t0 = vq_time_now();
        rc = vq_train_step(d, m, opts, sched, x, batch, bstep, rng, &info);
        total += vq_time_now() - t0;
    }
    d->profile(m, 0);
    if (rc) return rc;
    /* the optimizers alone, as many steps, on the gradients the last step left */
    double opt_s = 0.0;
    for (int it = 0; it < steps; it++) {
        double t0 = vq_time_now();
        vq_optim_step(opts[0], d->params(m), d->grads(m));
        if (si->disc_trained) vq_optim_step(opts[d->disc_optimizer], d->params(m), d->grads(m));
        opt_s += vq_time_now() - t0;
    }
    p->on = 1;
    p->steps = steps;
    p->ops = d->op_seconds(m);
    p->step_ms = total * 1e3 / steps;
    double sum = 0.0;
    for (int k = 0; k < d->n_ops; k++)
        for (int c = 0; c < 2; c++) {
            double ms = p->ops[2 * k + c] * 1e3 / steps;
            p->cat_ms[op_category(d->op_names[k], c)] += ms;
            sum += ms;
        }
    p->cat_ms[CAT_OPTIM] = opt_s * 1e3 / steps;
    double other = p->step_ms - sum - p->cat_ms[CAT_OPTIM];
    p->cat_ms[CAT_OTHER] = other > 0.0 ? other : 0.0;
    return VQ_OK;
}

typedef struct op_time { double ms; int k; } op_time;

static int cmp_op_time(const void *a, const void *b)
{
    double x = ((const op_time *)a)->ms, y = ((const op_time *)b)->ms;
    return x > y ? -1 : x < y;
}

static void print_breakdown(const vq_model_desc *d, const bench_profile *p, int top, double step_flops)
{
    op_time *t = malloc(sizeof *t * (size_t)d->n_ops);
    if (!t) return;
    for (int k = 0; k < d->n_ops; k++) t[k] = (op_time){(p->ops[2 * k] + p->ops[2 * k + 1]) * 1e3 / p->steps, k};
    qsort(t, (size_t)d->n_ops, sizeof *t, cmp_op_time);
    if (top > d->n_ops) top = d->n_ops;
    printf("\nper-op breakdown: mean of %d training steps with the profiler on (%.3f ms each)\n", p->steps,
           p->step_ms);
    printf("  %-56s %9s %9s %9s %7s\n", "top ops", "fwd ms", "bwd ms", "total ms", "% step");
    for (int i = 0; i < top; i++) {
        int k = t[i].k;
        printf("  %-56s %9.3f %9.3f %9.3f %6.1f%%\n", d->op_names[k], p->ops[2 * k] * 1e3 / p->steps,
               p->ops[2 * k + 1] * 1e3 / p->steps, t[i].ms, 100.0 * t[i].ms / p->step_ms);
    }
    printf("\n  %-56s %9s %7s\n", "category", "ms", "% step");
    for (int c = 0; c < N_CAT; c++)
        printf("  %-56s %9.3f %6.1f%%\n", cat_names[c], p->cat_ms[c], 100.0 * p->cat_ms[c] / p->step_ms);
    printf("  %-56s %9.3f %6.1f%%  (%.2f GFLOP/s)\n", "training step (profiled)", p->step_ms, 100.0,
           step_flops / (p->step_ms * 1e-3) / 1e9);
    free(t);
}

static void print_json(const vq_model_desc *d, int batch, int threads, double f, double t, double rss,
                       const vq_step_info *si, const bench_profile *p)
{
    printf("{\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"forward_ms\":", d->name, batch, threads);
    drv_json_num(stdout, f * 1e3);
    /* t < 0: --forward-only; images/s and GFLOP/s are then the forward's (as torch_bench.py's fwd mode) */
    printf(",\"train_step_ms\":");
    if (t < 0) printf("null");
    else drv_json_num(stdout, t * 1e3);
    printf(",\"images_per_s\":");
    drv_json_num(stdout, batch / (t < 0 ? f : t));
    printf(",\"gflops\":");
    drv_json_num(stdout, (t < 0 ? d->flops_forward / f : d->flops_train / t) * batch / 1e9);
    printf(",\"peak_rss_mb\":");
    drv_json_num(stdout, rss);
    printf(",\"has_disc\":%s,\"disc\":%s,\"adversarial\":%s", d->has_disc ? "true" : "false",
           si->disc_trained ? "true" : "false", si->adversarial ? "true" : "false");
    if (p->on) {
        printf(",\"profiled_step_ms\":");
        drv_json_num(stdout, p->step_ms);
        printf(",\"categories\":{");
        for (int c = 0; c < N_CAT; c++) {
            printf("%s\"%s\":", c ? "," : "", cat_names[c]);
            drv_json_num(stdout, p->cat_ms[c]);
        }
        printf("},\"ops\":{");
        for (int k = 0; k < d->n_ops; k++) {
            printf("%s\"%s\":[", k ? "," : "", d->op_names[k]);
            drv_json_num(stdout, p->ops[2 * k] * 1e3 / p->steps);
            printf(",");
            drv_json_num(stdout, p->ops[2 * k + 1] * 1e3 / p->steps);
            printf("]");
        }
        printf("}");
    }
    printf("}\n");
}

int drv_cmd_bench(drv *dv, int argc, char **argv)
{
    const vq_model_desc *d = dv->d;
    int batch = d->train.batch, threads = 0, json = 0, steps = 10, warmup = 2, top = 15, fwd_only = 0, no_prof = 0;
    drv_opt o[] = {
        {"--batch", NULL, DRV_INT, &batch, "B", "batch size (default: the model's)", 0},
        {"--threads", NULL, DRV_INT, &threads, "T", "threads (default: all allowed)", 0},
        {"--steps", NULL, DRV_INT, &steps, "N", "timed repetitions of each measurement (default 10)", 0},
        {"--warmup", NULL, DRV_INT, &warmup, "N", "untimed repetitions first (default 2)", 0},
        {"--top", NULL, DRV_INT, &top, "N", "ops listed in the per-op breakdown (default 15)", 0},
        {"--forward-only", NULL, DRV_FLAG, &fwd_only, NULL, "time the forward only (no training steps)", 0},
        {"--no-profile", NULL, DRV_FLAG, &no_prof, NULL, "skip the per-op breakdown (its extra training steps)", 0},
        {"--json", NULL, DRV_FLAG, &json, NULL, "print one JSON line instead of text", 0},
    };
    drv_cmd_spec spec = {"bench", "[--batch B] [--threads T] [--steps N] [--top N] [--forward-only] [--no-profile] [--json]",
                         "Median forward and training-step times, images/s, GFLOP/s, peak RSS, per-op breakdown.",
                         NULL, 0, 0};
    const char *pos[1];
    int n, rc = drv_parse(dv, &spec, o, 8, argc, argv, pos, &n);
    if (rc) return rc < 0 ? VQ_EXIT_OK : rc;
    if (batch <= 0 || steps <= 0 || warmup < 0 || threads < 0 || top < 0)
        return drv_usage_error(dv, "bench", "--batch and --steps must be positive, --warmup, --threads, --top >= 0");
    threads = vq_threads_set(threads);

    vq_model *m = NULL;
    vq_optim *opts[VQ_DESC_MAX_OPTIMIZERS] = {0};
    vq_schedule sched[VQ_DESC_MAX_OPTIMIZERS];
    vq_step_info si;
    memset(&si, 0, sizeof si);
    bench_profile prof;
    memset(&prof, 0, sizeof prof);
    size_t nx = (size_t)batch * d->data.channels * d->data.height * d->data.width;
    float *x = vq_alloc(nx * sizeof(float));
    double *tf = malloc(sizeof(double) * (size_t)steps), *tt = malloc(sizeof(double) * (size_t)steps);
    vq_rng rng;
    vq_rng_seed(&rng, d->train.seed);
    /* with a discriminator: the step index where the generator's term and the discriminator's step are on */
    int64_t bstep = d->has_disc && d->losses.disc_start > 0 ? d->losses.disc_start : 0;
    rc = x && tf && tt ? 0 : vq_fail(VQ_ERR_NOMEM, "out of memory");
    if (!rc && d->n_optimizers > VQ_DESC_MAX_OPTIMIZERS) rc = vq_fail(VQ_ERR_ARG, "model %s: too many optimizers", d->name);
    if (!rc) rc = drv_model_create(d, &m, batch);
    if (!rc) rc = drv_model_fresh(d, m, d->train.seed);
    if (!rc) rc = bench_optimizers(opts, sched, d, batch);
    for (size_t i = 0; !rc && i < nx; i++) x[i] = d->data.lo + (d->data.hi - d->data.lo) * vq_rng_uniform(&rng);
    for (int it = -warmup; !rc && it < steps; it++) {
        double t0 = vq_time_now();
        rc = d->forward(m, x, batch, VQ_MODE_EVAL, NULL);
        double t1 = vq_time_now();
        if (!rc && !fwd_only) rc = vq_train_step(d, m, opts, sched, x, batch, bstep, &rng, &si);
        double t2 = vq_time_now();
        if (it >= 0) { tf[it] = t1 - t0; tt[it] = t2 - t1; }
    }
    if (!rc && !fwd_only && !no_prof) rc = profile_steps(&prof, d, m, opts, sched, x, batch, bstep, steps, &rng, &si);
    if (!rc) {
        double f = median(tf, steps), t = fwd_only ? -1.0 : median(tt, steps), rss = vq_peak_rss_mib();
        if (json) {
            print_json(d, batch, threads, f, t, rss, &si, &prof);
        } else {
            printf("%s: batch %d, %d threads, median of %d after %d warm-up; training step: %s\n", d->name, batch,
                   threads, steps, warmup,
                   fwd_only        ? "not run (--forward-only)"
                   : si.disc_trained ? "autoencoder (with adversarial term) + discriminator"
                   : d->has_disc   ? "autoencoder only (discriminator not stepped)"
                                   : "autoencoder (the model has no discriminator)");
            printf("forward      %10.3f ms  (%.1f images/s, %.2f GFLOP/s)\n", f * 1e3, batch / f,
                   d->flops_forward * batch / f / 1e9);
            if (t >= 0)
                printf("train step   %10.3f ms  (%.1f images/s, %.2f GFLOP/s)\n", t * 1e3, batch / t,
                       d->flops_train * batch / t / 1e9);
            printf("peak RSS     %10.1f MiB\n", rss);
            if (prof.on) print_breakdown(d, &prof, top, d->flops_train * batch);
        }
    }
    for (int k = 0; k < VQ_DESC_MAX_OPTIMIZERS; k++) vq_optim_destroy(opts[k]);
    if (m) d->destroy(m);
    vq_free(x);
    free(tf);
    free(tt);
    return rc ? drv_fail(dv, "bench") : VQ_EXIT_OK;
}
