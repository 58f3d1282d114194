/* driver_internal.h: what the driver's files (driver_*.c) share: the argument
 * parser, error printing, the checkpoint glue and the data helpers. Not part
 * of the public API (driver.h is).
 *
 * Each subcommand is `int drv_cmd_X(drv *dv, int argc, char **argv)` returning
 * an exit status (VQ_EXIT_*); argv[0] is the subcommand's name. */
#ifndef VQ_DRIVER_INTERNAL_H
#define VQ_DRIVER_INTERNAL_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>

#include "checkpoint.h"
#include "dataset.h"
#include "driver.h"
#include "optim.h"

typedef struct drv {
    const char *prog;              /* program name for messages */
    const vq_model_desc *d;
} drv;

/* --- arguments (driver_args.c) --------------------------------------------- */
typedef enum drv_opt_type { DRV_INT, DRV_I64, DRV_U64, DRV_DOUBLE, DRV_STR, DRV_FLAG } drv_opt_type;
typedef struct drv_opt {
    const char *name;              /* "--steps" */
    const char *alias;             /* "-o" or NULL */
    drv_opt_type type;
    void *ptr;                     /* int*, int64_t*, uint64_t*, double*, const char**, int* (flag) */
    const char *arg;               /* "N" shown in the usage; NULL for flags */
    const char *help;
    int seen;                      /* set by the parser */
} drv_opt;

typedef struct drv_cmd_spec {
    const char *name;              /* "train" */
    const char *synopsis;          /* "--data fashion-mnist|DIR --steps N --out RUN [options]" */
    const char *summary;           /* one line on what it does */
    const char *positional;        /* "IN.png..." or NULL when none is accepted */
    int min_pos, max_pos;
} drv_cmd_spec;

/* Parses argv[1..] into opts and pos (up to spec->max_pos entries). Returns
 * -1 when --help was printed (the command returns 0), VQ_EXIT_USAGE after
 * printing what is wrong, else 0. */
int drv_parse(const drv *dv, const drv_cmd_spec *spec, drv_opt *opts, int n_opts,
              int argc, char **argv, const char **pos, int *n_pos);
/* "PROG CMD: error: ...\nTry 'PROG CMD --help'." on stderr; returns VQ_EXIT_USAGE. */
int drv_usage_error(const drv *dv, const char *cmd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "PROG CMD: error: <vq_last_error()>" on stderr; returns VQ_EXIT_ERROR. */
int drv_fail(const drv *dv, const char *cmd);
/* Whether a required option was given (prints the usage error when not). */
int drv_require(const drv *dv, const char *cmd, const drv_opt *o);

/* --- signals (driver_main.c) --------------------------------------------------- */
extern volatile sig_atomic_t drv_stop_signal;  /* the SIGINT/SIGTERM received, else 0 */

/* --- model helpers (driver_init.c) -------------------------------------------- */
/* create(max_batch) with the error context "creating model NAME". */
int drv_model_create(const vq_model_desc *d, vq_model **m, int max_batch);
/* --lpips FILE for the perceptual term (driver_train.c); warns when the model wants one and none is given */
int drv_setup_lpips(drv *dv, const vq_model_desc *d, vq_model *m, const char *path, const char *cmd);
/* Init rules + reset_state, from a generator seeded with seed. */
int drv_model_fresh(const vq_model_desc *d, vq_model *m, uint64_t seed);

/* --- checkpoints (driver_ckpt.c) ------------------------------------------------ */
typedef struct drv_run_meta {      /* free-form metadata a training run saves */
    int64_t data_position;         /* vq_loader_tell; -1 when unknown */
    uint64_t seed;
    int batch;
    double lr;                     /* optimizer 0's base lr as run (after --lr) */
    int64_t limit;                 /* --limit, 0 = whole split */
    int has_run;                   /* the fields above were present */
} drv_run_meta;

/* Saves model tensors (table order), model state, the optimizers' state
 * (opts may be NULL) and metadata atomically to path. */
int drv_ckpt_save(const char *path, const vq_model_desc *d, vq_model *m, vq_optim *const *opts,
                  int64_t step, const vq_rng *rng, const drv_run_meta *run);
/* Loads path into m: checks the tensor table (first mismatching name), then
 * the model hash, then reads tensors and model state; with opts also each
 * optimizer's state. info and run (may be NULL) get the metadata. */
int drv_ckpt_load(const char *path, const vq_model_desc *d, vq_model *m, vq_optim *const *opts,
                  vq_ckpt_info *info, drv_run_meta *run);
/* Only the metadata (a resumed run needs the batch size before creating the model). */
int drv_ckpt_peek(const char *path, vq_ckpt_info *info, drv_run_meta *run);

/* --- data (driver_data.c) ---------------------------------------------------------- */
/* The transform from the model's data description. */
vq_transform drv_transform(const vq_model_desc *d);
/* "fashion-mnist" (split "train"/"test") or a directory of PNGs. */
int drv_open_data(vq_dataset **ds, const char *spec, const char *split);
/* One PNG file to x (C, H, W) through the model's transform. */
int drv_load_png(float *x, const char *path, const vq_model_desc *d);
/* n images x (n, C, H, W) as one row, written to path. */
int drv_save_row(const char *path, const float *x, int n, const vq_model_desc *d);

/* A stream of training batches: the runtime loader, or (with a limit) the
 * first `limit` items shuffled per epoch the same way, since the loader has
 * no subset option. Position semantics as vq_loader_tell/seek. */
typedef struct drv_batches drv_batches;
int drv_batches_open(drv_batches **out, vq_dataset *ds, const vq_transform *tf, int batch,
                     uint64_t seed, int64_t limit);
int drv_batches_next(drv_batches *b, const float **x);
int64_t drv_batches_tell(const drv_batches *b);
int drv_batches_seek(drv_batches *b, int64_t pos);
void drv_batches_close(drv_batches *b);

/* --- JSON output helpers (driver_eval.c) ------------------------------------- */
/* A finite double as JSON (non-finite values become null). */
void drv_json_num(FILE *f, double v);

/* --- subcommands ------------------------------------------------------------------- */
int drv_cmd_init(drv *dv, int argc, char **argv);
int drv_cmd_train(drv *dv, int argc, char **argv);
int drv_cmd_eval(drv *dv, int argc, char **argv);
int drv_cmd_reconstruct(drv *dv, int argc, char **argv);
int drv_cmd_encode(drv *dv, int argc, char **argv);
int drv_cmd_decode(drv *dv, int argc, char **argv);
int drv_cmd_info(drv *dv, int argc, char **argv);
int drv_cmd_bench(drv *dv, int argc, char **argv);

#endif
