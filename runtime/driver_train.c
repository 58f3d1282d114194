/* driver_train.c: the `train` subcommand: the training loop around one
 * model, with checkpoints that resume exactly.
 *
 * One step is vq_train_step (train_step.h): forward, the generator's
 * adversarial term once step >= disc_start, backward, optimizer 0, the
 * discriminator's step and optimizer from disc_start - disc_warmup on,
 * after_step; every loss and gradient is checked to be finite.
 * Exact resume: the checkpoint holds the parameters, buffers, model state,
 * optimizer state, step, the training RNG and the data stream position, and
 * metrics.csv rows past the checkpoint's step are dropped, so 10 + 10 steps
 * log and end with what 20 uninterrupted steps do (same threads, same machine). */
#include "driver_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "metrics.h"
#include "progress.h"
#include "schedule.h"
#include "threads.h"
#include "timing.h"
#include "train_step.h"

#define RECON_IMAGES 8

typedef struct train_cfg {
    const char *data, *out, *resume, *init, *lpips;
    int64_t steps, eval_every, ckpt_every, limit;
    int batch, threads;
    double lr;
    uint64_t seed;
    int have_lr, have_batch, have_seed, have_limit;
} train_cfg;

static int make_optimizers(vq_optim **opts, const vq_model_desc *d, int batch, double lr0, vq_schedule *sched,
                           int64_t total)
{
    for (int o = 0; o < d->n_optimizers; o++) {
        const vq_optim_desc *od = &d->optimizers[o];
        vq_optim_kind kind;
        if (!strcmp(od->kind, "sgd")) kind = VQ_SGD;
        else if (!strcmp(od->kind, "adam")) kind = VQ_ADAM;
        else if (!strcmp(od->kind, "adamw")) kind = VQ_ADAMW;
        else return vq_fail(VQ_ERR_ARG, "model %s: optimizer %s: unknown kind \"%s\" (sgd, adam, adamw)", d->name,
                            od->name, od->kind);
        double lr = o == 0 ? lr0 : od->lr;
        if (od->lr_scale_batch) lr *= batch;
        vq_param_group g = vq_group_defaults(kind, lr);
        g.beta1 = od->beta1; g.beta2 = od->beta2; g.eps = od->eps;
        g.weight_decay = od->weight_decay; g.momentum = od->momentum;
        g.ranges = (const vq_range *)od->ranges; /* vq_slab_range has vq_range's layout */
        g.n_ranges = od->n_ranges;
        int rc = vq_optim_create(&opts[o], kind, d->n_params, &g, 1);
        if (rc) return vq_fail_context(rc, "optimizer %s", od->name);
        vq_schedule *s = &sched[o];
        memset(s, 0, sizeof *s);
        const char *sk = od->schedule ? od->schedule : "constant";
        s->kind = !strcmp(sk, "warmup") ? VQ_SCHED_WARMUP : !strcmp(sk, "cosine") ? VQ_SCHED_COSINE : VQ_SCHED_CONSTANT;
        if (s->kind == VQ_SCHED_CONSTANT && strcmp(sk, "constant"))
            return vq_fail(VQ_ERR_ARG, "optimizer %s: unknown schedule \"%s\"", od->name, sk);
        s->warmup_steps = od->warmup_steps;
        s->total_steps = total;
        s->min_factor = od->min_lr_factor;
        if ((rc = vq_schedule_check(s))) return vq_fail_context(rc, "optimizer %s", od->name);
    }
    return VQ_OK;
}

/* Keeps the header and the rows with step <= last of an existing metrics.csv
 * (a run killed after its last checkpoint logged steps that will be redone). */
static int csv_keep_until(const char *path, int64_t last)
{
    FILE *f = fopen(path, "rb");
    if (!f) return errno == ENOENT ? VQ_OK : vq_fail(VQ_ERR_IO, "%s: %s", path, strerror(errno));
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%.4000s.tmp", path);
    FILE *g = fopen(tmp, "wb");
    if (!g) { fclose(f); return vq_fail(VQ_ERR_IO, "%s: %s", tmp, strerror(errno)); }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int first = 1;
    while ((len = getline(&line, &cap, f)) > 0) {
        if (line[len - 1] != '\n') break; /* a partial last row */
        if (!first && strtoll(line, NULL, 10) > last) break;
        fwrite(line, 1, (size_t)len, g);
        first = 0;
    }
    free(line);
    fclose(f);
    if (fclose(g) != 0 || rename(tmp, path) != 0) {
        remove(tmp);
        return vq_fail(VQ_ERR_IO, "rewriting %s: %s", path, strerror(errno));
    }
    return VQ_OK;
}

/* A run killed while saving leaves RUN/ckpt.safetensors.tmp.<pid> (the
 * checkpoint itself is intact: saves are atomic); a new train in RUN removes them. */
static void remove_stale_tmp(const char *dir)
{
    DIR *dp = opendir(dir);
    if (!dp) return;
    struct dirent *de;
    while ((de = readdir(dp))) {
        if (strncmp(de->d_name, "ckpt.safetensors.tmp.", 21) != 0) continue;
        char p[4400];
        snprintf(p, sizeof p, "%.4000s/%s", dir, de->d_name);
        remove(p);
    }
    closedir(dp);
}

static int save_recon(const char *dir, int64_t step, const float *x, const float *xr, int B, const vq_model_desc *d)
{
    char path[4200];
    snprintf(path, sizeof path, "%.4000s/recon_%06" PRId64 ".png", dir, step);
    int n = B < RECON_IMAGES ? B : RECON_IMAGES;
    const float *rows[2] = {x, xr};
    vq_image g;
    int rc = vq_image_grid_rows(&g, rows, 2, n, d->data.channels, d->data.height, d->data.width, 2, 255,
                                d->data.lo, d->data.hi);
    if (rc) return rc;
    rc = vq_png_write(path, &g);
    vq_image_free(&g);
    return rc;
}

/* The progress bar's numbers: total, rec, psnr; with a discriminator also
 * g_loss, d_weight, d_loss and the two logit means. */
static int progress_fields(const vq_model_desc *d, const float *L, double psnr, const char **pn, double *pv)
{
    static const char *const want[] = {"total", "rec", "g_loss", "d_weight", "d_loss", "logits_real", "logits_fake"};
    int n = 0;
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++)
        for (int i = 0; i < d->n_losses; i++)
            if (!strcmp(d->loss_names[i], want[w]) && (w < 2 || d->has_disc)) {
                pn[n] = w >= 5 ? (w == 5 ? "real" : "fake") : want[w];
                pv[n++] = L[i];
            }
    pn[n] = "psnr";
    pv[n++] = psnr;
    return n;
}

/* --lpips FILE loads the perceptual term's weights; a model with perceptual_weight > 0
 * and no file trains without the term, and says so. */
int drv_setup_lpips(drv *dv, const vq_model_desc *d, vq_model *m, const char *path, const char *cmd)
{
    if (d->losses.perceptual_weight <= 0.0) {
        if (path) fprintf(stderr, "%s %s: note: --lpips ignored, the model has no perceptual term\n", dv->prog, cmd);
        return VQ_OK;
    }
    if (!path) {
        fprintf(stderr, "%s %s: warning: perceptual_weight is %g but no LPIPS weights were given (--lpips FILE, made "
                        "by scripts/import_lpips.py): the perceptual term is left out\n", dv->prog, cmd,
                d->losses.perceptual_weight);
        return VQ_OK;
    }
    if (!d->set_lpips) return vq_fail(VQ_ERR_UNSUPPORTED, "model %s cannot load LPIPS weights", d->name);
    return d->set_lpips(m, path);
}

static int parse_train(drv *dv, int argc, char **argv, train_cfg *c)
{
    const vq_model_desc *d = dv->d;
    memset(c, 0, sizeof *c);
    c->steps = d->train.steps; c->batch = d->train.batch; c->seed = d->train.seed;
    c->eval_every = d->train.eval_every; c->ckpt_every = d->train.ckpt_every;
    c->lr = d->optimizers[0].lr;
    drv_opt o[] = {
        {"--data", NULL, DRV_STR, &c->data, "fashion-mnist|DIR", "training images (Fashion-MNIST train split, or PNGs)", 0},
        {"--steps", NULL, DRV_I64, &c->steps, "N", "total optimizer steps (a resumed run stops at N too)", 0},
        {"--out", "-o", DRV_STR, &c->out, "RUN", "run directory: ckpt.safetensors, metrics.csv, recon_*.png", 0},
        {"--batch", NULL, DRV_INT, &c->batch, "B", "batch size (default: the model's; resume: the checkpoint's)", 0},
        {"--lr", NULL, DRV_DOUBLE, &c->lr, "X", "base learning rate of the first optimizer", 0},
        {"--resume", NULL, DRV_STR, &c->resume, "CKPT", "continue a run exactly (weights, optimizer, data, RNG)", 0},
        {"--init", NULL, DRV_STR, &c->init, "CKPT", "start from these weights (e.g. from `init`), step 0", 0},
        {"--seed", NULL, DRV_U64, &c->seed, "S", "seed of init, data order and training draws", 0},
        {"--threads", NULL, DRV_INT, &c->threads, "T", "threads for OpenMP and OpenBLAS (default: all allowed)", 0},
        {"--eval-every", NULL, DRV_I64, &c->eval_every, "N", "write recon_<step>.png every N steps (0: only at the end)", 0},
        {"--ckpt-every", NULL, DRV_I64, &c->ckpt_every, "N", "write the checkpoint every N steps (0: only at the end)", 0},
        {"--limit", NULL, DRV_I64, &c->limit, "N", "train on the first N images only", 0},
        {"--lpips", NULL, DRV_STR, &c->lpips, "FILE", "LPIPS weights for the perceptual term (scripts/import_lpips.py)", 0},
    };
    drv_cmd_spec spec = {"train", "--data fashion-mnist|DIR --steps N --out RUN [options]",
                         "Train the model; SIGINT/SIGTERM write a checkpoint and stop.", NULL, 0, 0};
    const char *pos[1];
    int n_pos, rc = drv_parse(dv, &spec, o, (int)(sizeof o / sizeof o[0]), argc, argv, pos, &n_pos);
    if (rc) return rc;
    if (!drv_require(dv, "train", &o[0]) || !drv_require(dv, "train", &o[2])) return VQ_EXIT_USAGE;
    c->have_batch = o[3].seen; c->have_lr = o[4].seen; c->have_seed = o[7].seen; c->have_limit = o[11].seen;
    if (c->resume && c->init) return drv_usage_error(dv, "train", "--resume and --init exclude each other");
    if (c->steps < 0) return drv_usage_error(dv, "train", "--steps %" PRId64 " must be >= 0", c->steps);
    if (c->batch <= 0) return drv_usage_error(dv, "train", "--batch %d must be positive", c->batch);
    if (c->threads < 0) return drv_usage_error(dv, "train", "--threads %d must be >= 0", c->threads);
    if (c->eval_every < 0 || c->ckpt_every < 0 || c->limit < 0)
        return drv_usage_error(dv, "train", "--eval-every, --ckpt-every and --limit must be >= 0");
    if (!(c->lr > 0)) return drv_usage_error(dv, "train", "--lr %g must be positive", c->lr);
    return 0;
}

int drv_cmd_train(drv *dv, int argc, char **argv)
{
    const vq_model_desc *d = dv->d;
    train_cfg c;
    int rc = parse_train(dv, argc, argv, &c);
    if (rc) return rc < 0 ? VQ_EXIT_OK : rc;

    vq_ckpt_info info = {0};
    drv_run_meta saved = {0};
    if (c.resume) {
        if (drv_ckpt_peek(c.resume, &info, &saved)) return drv_fail(dv, "train");
        if (!saved.has_run) {
            vq_fail(VQ_ERR_FORMAT, "%s: no run metadata (seed, batch, lr, data_position): not written by `train`",
                    c.resume);
            return drv_fail(dv, "train");
        }
        /* The run's own settings, unless overridden (an override breaks exactness; say so). */
        if (!c.have_batch) c.batch = saved.batch;
        if (!c.have_seed) c.seed = saved.seed;
        if (!c.have_lr) c.lr = saved.lr;
        if (!c.have_limit) c.limit = saved.limit;
        if (c.batch != saved.batch || c.seed != saved.seed || c.lr != saved.lr || c.limit != saved.limit)
            fprintf(stderr, "%s train: note: batch/seed/lr/limit differ from the checkpoint's; the run will not "
                    "match an uninterrupted one\n", dv->prog);
    }
    int threads = vq_threads_set(c.threads);

    if (mkdir(c.out, 0777) != 0 && errno != EEXIST) {
        vq_fail(VQ_ERR_IO, "cannot create run directory %s: %s", c.out, strerror(errno));
        return drv_fail(dv, "train");
    }
    char ckpt_path[4200], csv_path[4200];
    remove_stale_tmp(c.out);
    snprintf(ckpt_path, sizeof ckpt_path, "%.4000s/ckpt.safetensors", c.out);
    snprintf(csv_path, sizeof csv_path, "%.4000s/metrics.csv", c.out);

    vq_dataset *ds = NULL;
    drv_batches *bs = NULL;
    vq_model *m = NULL;
    vq_optim *opts[VQ_DESC_MAX_OPTIMIZERS] = {0};
    vq_schedule sched[VQ_DESC_MAX_OPTIMIZERS];
    vq_csv *csv = NULL;
    int status = VQ_EXIT_ERROR;
    vq_rng rng;
    int64_t step = 0;
    vq_transform tf = drv_transform(d);
    char last_ckpt[4300] = "none written";
    if (c.resume) snprintf(last_ckpt, sizeof last_ckpt, "%.4000s (step %" PRIu64 ")", c.resume, info.step);

    if ((rc = drv_open_data(&ds, c.data, "train"))) goto fail;
    if ((rc = drv_batches_open(&bs, ds, &tf, c.batch, c.seed, c.limit))) goto fail;
    if ((rc = drv_model_create(d, &m, c.batch))) goto fail;
    if ((rc = make_optimizers(opts, d, c.batch, c.lr, sched, c.steps))) goto fail;
    if ((rc = drv_setup_lpips(dv, d, m, c.lpips, "train"))) goto fail;
    if (c.resume) {
        drv_run_meta run;
        if ((rc = drv_ckpt_load(c.resume, d, m, opts, &info, &run))) goto fail;
        rng = info.rng;
        step = (int64_t)info.step;
        if ((rc = drv_batches_seek(bs, run.data_position))) goto fail;
    } else if (c.init) {
        if ((rc = drv_ckpt_load(c.init, d, m, NULL, &info, NULL))) goto fail;
        vq_rng_seed(&rng, c.seed);
    } else {
        vq_rng_seed(&rng, c.seed);
        rc = vq_model_init_weights(d, d->params(m), d->n_buffers ? d->buffers(m) : NULL, &rng);
        if (!rc) rc = d->reset_state(m, &rng);
        if (rc) goto fail;
    }

    /* metrics.csv: step, every loss, lr, grad_norm, psnr (of the batch), then the timing columns */
    const char *cols[VQ_DESC_MAX_LOSSES + 8];
    int nc = 0;
    cols[nc++] = "step";
    for (int i = 0; i < d->n_losses; i++) cols[nc++] = d->loss_names[i];
    cols[nc++] = "lr"; cols[nc++] = "grad_norm";
    if (d->has_disc) cols[nc++] = "disc_grad_norm";
    cols[nc++] = "psnr"; cols[nc++] = "steps_per_s"; cols[nc++] = "elapsed_s";
    if (c.resume && (rc = csv_keep_until(csv_path, step))) goto fail;
    if ((rc = vq_csv_open(&csv, csv_path, cols, nc, c.resume != NULL))) goto fail;

    long long n_trainable = 0;   /* sum of numel, as info and --summary count (the slab may be padded) */
    for (int i = 0; i < d->n_tensors; i++)
        if (d->tensors[i].role == VQ_ROLE_TRAINABLE) n_trainable += (long long)d->tensors[i].numel;
    fprintf(stderr, "%s train: %s, %lld params, batch %d, %d threads, steps %" PRId64 " -> %" PRId64 "\n", dv->prog,
            d->name, n_trainable, c.batch, threads, step, c.steps);
    drv_run_meta run = {0, c.seed, c.batch, c.lr, c.limit, 1};
    vq_progress pb;
    vq_progress_init(&pb, stderr, "train", step, c.steps);
    const size_t n_img = (size_t)c.batch * d->data.channels * d->data.height * d->data.width;
    double t0 = vq_time_now();
    const float *x = NULL;
    while (step < c.steps && !drv_stop_signal) {
        if ((rc = drv_batches_next(bs, &x))) goto fail;
        vq_step_info si;
        if ((rc = vq_train_step(d, m, opts, sched, x, c.batch, step, &rng, &si))) goto step_fail;
        const float *L = d->loss_values(m);
        double gnorm = si.grad_norm;
        step++;

        double psnr = vq_psnr(d->recon(m), x, n_img, (double)(d->data.hi - d->data.lo));
        double el = vq_time_now() - t0, row[VQ_DESC_MAX_LOSSES + 8];
        int k = 0;
        row[k++] = (double)step;
        for (int i = 0; i < d->n_losses; i++) row[k++] = L[i];
        row[k++] = vq_optim_lr(opts[0], 0);
        row[k++] = gnorm;
        if (d->has_disc) row[k++] = si.disc_grad_norm;
        row[k++] = isfinite(psnr) ? psnr : 100.0;
        row[k++] = el > 0 ? (double)(step - pb.start_step) / el : 0.0;
        row[k++] = el;
        if ((rc = vq_csv_write(csv, row))) goto fail;
        const char *pn[8];
        double pv[8];
        int np = progress_fields(d, L, psnr, pn, pv);
        vq_progress_update(&pb, step, pn, pv, np);

        if (c.eval_every > 0 && step % c.eval_every == 0 && (rc = save_recon(c.out, step, x, d->recon(m), c.batch, d)))
            goto fail;
        if (c.ckpt_every > 0 && step % c.ckpt_every == 0 && step < c.steps) {
            run.data_position = drv_batches_tell(bs);
            if ((rc = drv_ckpt_save(ckpt_path, d, m, opts, step, &rng, &run))) goto fail;
            snprintf(last_ckpt, sizeof last_ckpt, "%.4000s (step %" PRId64 ")", ckpt_path, step);
        }
    }
    vq_progress_finish(&pb);
    run.data_position = drv_batches_tell(bs);
    if ((rc = drv_ckpt_save(ckpt_path, d, m, opts, step, &rng, &run))) goto fail;
    if (x && !drv_stop_signal && (rc = save_recon(c.out, step, x, d->recon(m), c.batch, d))) goto fail;
    if ((rc = vq_csv_close(csv))) { csv = NULL; goto fail; }
    csv = NULL;
    if (drv_stop_signal)
        fprintf(stderr, "%s train: stopped by %s at step %" PRId64 "; checkpoint written to %s\n", dv->prog,
                drv_stop_signal == SIGINT ? "SIGINT" : "SIGTERM", step, ckpt_path);
    else
        fprintf(stderr, "%s train: done, step %" PRId64 "; checkpoint %s\n", dv->prog, step, ckpt_path);
    status = VQ_EXIT_OK;
    goto fail;
step_fail:
    /* A failed step (a non-finite loss included) writes nothing: the last good checkpoint stays. */
    {
        char why[1024];
        snprintf(why, sizeof why, "%s", vq_last_error());
        vq_fail((vq_status)rc, "step %" PRId64 ": %s; training stopped, last good checkpoint: %s", step + 1, why,
                last_ckpt);
    }
fail:
    if (status != VQ_EXIT_OK) drv_fail(dv, "train");
    if (csv) vq_csv_close(csv);
    for (int o = 0; o < VQ_DESC_MAX_OPTIMIZERS; o++) vq_optim_destroy(opts[o]);
    if (m) d->destroy(m);
    drv_batches_close(bs);
    if (ds) vq_dataset_close(ds);
    return status;
}
