/* parity.h: the C side of the PyTorch parity test (docs/parity.md).
 *
 * The harness is compiled together with ONE generated model (-DPARITY_DESC=<name>_desc)
 * and uses only its vq_model_desc (runtime/model_desc.h) and the runtime: it loads the
 * fixtures that tests/reference/make_fixtures.py wrote (weights under the reference names,
 * the input batch, every stage, losses, gradients, buffers after the step, N steps), runs
 * the same computation and prints one row per compared tensor.
 *
 * Difference measures, per tensor, a = ours, b = the reference:
 *   abs = max_i |a_i - b_i|
 *   rel = abs / max_i |b_i|   (relative to the tensor's largest reference magnitude, so
 *         elements near zero do not blow it up; = abs when b is all zeros)
 * A row passes when rel <= its tolerance (forward 1e-4, gradients 1e-3, step losses 1e-3).
 * Gradients that are zero in exact arithmetic (attention key biases: softmax is invariant to
 * a per-query constant, so d loss / d k.bias = 0) are rounding noise on both sides, where a
 * relative measure means nothing: a gradient whose reference max |b| is below
 * PT_GRAD_ZERO x the largest reference gradient of the model is compared as "zero": ours must
 * be below that level too.
 *
 * What it is not: it does not make fixtures, and it compares only what the model
 * exposes through its description (reconstruction, indices, losses, gradients, buffers).
 */
#ifndef VQ_PARITY_H
#define VQ_PARITY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "model_desc.h"
#include "optim.h"
#include "safetensors.h"
#include "schedule.h"

#define PT_TOL_FORWARD 1e-4
#define PT_TOL_GRAD 1e-3
#define PT_TOL_STEPS 1e-3
/* d_weight after free-running GAN steps: the ratio of two last-layer gradient norms, after
 * Adam's sign-like first step has turned rounding noise in near-zero gradients into +-lr
 * moves. PyTorch itself does not reproduce it to 1e-3: make_fixtures.py vqgan_fmnist
 * --disc-start 0 --steps 2 gives 0.74699 / 0.74699 / 0.74855 / 0.74889 at step 2 under
 * OpenBLAS's Haswell / SkylakeX kernels x 1 / 2 threads (2.5e-3 apart; the other losses of
 * those runs agree to 3e-4). The tolerance is twice that spread. */
#define PT_TOL_DWEIGHT_STEPS 5e-3
#define PT_GRAD_ZERO 1e-6   /* "zero" gradient level, x the largest reference gradient */

/* Running tally of the printed table. */
typedef struct pt_report {
    int rows, fails, pending;
    double worst_fwd, worst_grad, worst_steps, worst_buf; /* largest rel per category */
} pt_report;

/* PT_INFO: printed for information (free-running GAN steps), never fails, not in the worst values */
typedef enum pt_kind { PT_FWD, PT_GRAD, PT_STEPS, PT_BUF, PT_INFO } pt_kind;

/* One row: compares got (n) with want (n), prints it, returns 1 if it failed. */
int pt_compare(pt_report *r, pt_kind kind, const char *name, const float *got, const float *want, size_t n,
               double tol);
/* The same with rel = abs / scale (scale > 0), for values judged on another value's scale. */
int pt_compare_scaled(pt_report *r, pt_kind kind, const char *name, const float *got, const float *want, size_t n,
                      double scale, double tol);
/* Per code: tensor (outer, K, inner), code k's slice judged on its own scale, rel =
 * max_k max|a_k - b_k| / max|b_k|. For codebook buffers, where the EMA codes that no input
 * chose grow without bound (rosinality: embed_avg / ~eps) and would hide every other code
 * from a whole-tensor measure. */
int pt_compare_per_code(pt_report *r, pt_kind kind, const char *name, const float *got, const float *want,
                        size_t outer, size_t K, size_t inner, double tol);
/* A gradient that is zero in exact arithmetic (the reference's max |b| <= level): passes
 * when ours is at that level too, max |a| <= level. Returns 1 if it failed. */
int pt_compare_zero(pt_report *r, const char *name, const float *got, const float *want, size_t n, double level);
/* A tensor that is deliberately not compared yet, with the reason (counted, printed). */
void pt_pending(pt_report *r, const char *name, const char *why);
/* A failure that is not a numeric row (missing fixture key, index mismatch...). */
void pt_failf(pt_report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The fixture set OUTDIR/MODEL.<part>.safetensors. steps may be absent (steps.n_tensors 0). */
typedef struct pt_fixture {
    vq_st_file weights, inputs, forward, losses, grads, after, steps;
    int has_steps;
    int has_lpips;         /* DIR/MODEL.lpips.safetensors exists (perceptual_weight > 0) */
    int n_states;          /* DIR/MODEL.state<i> / adam<i> for i < n_states (make_fixtures --teacher), or 0 */
    int B;                 /* batch of inputs.x */
    const char *dir, *model; /* where the parts are: DIR/MODEL.<part>.safetensors */
} pt_fixture;

int pt_fixture_open(pt_fixture *fx, const char *dir, const char *model);
void pt_fixture_close(pt_fixture *fx);
/* A fixture tensor as float (F32 as is, I64, I32 and U8 converted); NULL with vq_fail when absent. */
const float *pt_get_f32(const vq_st_file *f, const char *name, size_t *n, float **owned);

/* Fills params and buffers from the fixture weights, strictly: every tensor of the model's
 * table must be there with its exact shape and nothing else may be (an error lists them all). */
int pt_load_weights(const vq_model_desc *d, vq_model *m, const vq_st_file *w);

/* Reference names for what the model calls by its own names (parity_names.c). */
const char *pt_ref_loss(const vq_model_desc *d, const vq_st_file *losses, const char *c_name);
/* why a loss is not compared yet, or NULL; gan: the adversarial half runs (its slots are compared);
 * lpips: LPIPS weights are loaded (p_loss is compared) */
const char *pt_loss_pending(const char *c_name, int gan, int lpips);
const char *pt_ref_indices(const char *codebook);   /* "quantize" -> "indices" */
const char *pt_ref_z(const char *codebook);         /* the quantizer's input stage */
/* Index of the optimizer whose ranges hold params [off, off + n), or -1. */
int pt_optimizer_of(const vq_model_desc *d, size_t off, size_t n);
/* The optimizer owning a trainable tensor of the buffer's module, or -1 (buffer of no trained module). */
int pt_buffer_owner(const vq_model_desc *d, const vq_tensor_desc *buf);

/* The checks, in the order parity_main runs them. */
/* gan: called after adversarial(): also g_loss, d_weight, disc_factor, and logits_fake against
 * the mean of disc.logits_fake_g; d_loss and logits_real are left to pt_check_disc. */
int pt_check_forward(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx, int gan);
int pt_check_indices(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx);
/* The gradients of optimizer opt's tensors. Those of other optimizers: pending unless gan (then
 * another call compares them); the fixture's names the model lacks are checked when opt == 0. */
int pt_check_grads(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx, int opt, int gan);
/* gan: the discriminator's buffers (BatchNorm) are compared too, else listed as pending. */
int pt_check_buffers(pt_report *r, const vq_model_desc *d, vq_model *m, const vq_st_file *want,
                     const char *prefix, double tol, int gan);
/* info: the rows are informational (PT_INFO): free-running GAN steps, which diverge chaotically */
int pt_check_steps(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx, int info);
/* Shared by the free-running and the teacher-forced steps (parity_steps.c): optimizer k as the
 * fixture's Adam (lr, betas, eps checked against the steps metadata); the model's disc_start
 * against the fixture's per-step disc_factor (*gan: some step has the GAN on); how many codes of
 * step s differ from the reference's (-1: not in the fixture). */
int pt_make_adam(pt_report *r, const vq_model_desc *d, pt_fixture *fx, int k, vq_optim **opt,
                 vq_schedule *sched);
int pt_factors_agree(pt_report *r, const vq_model_desc *d, pt_fixture *fx, int N, int *gan);
int pt_count_flips(const vq_model_desc *d, vq_model *m, pt_fixture *fx, int s);
/* N teacher-forced steps (parity_teacher.c): before each step the model and both Adam states are
 * loaded from the reference's state<s>/adam<s>; compared: each step's losses, and after it the
 * Adam moments, the parameters and the buffers against state<s+1>/adam<s+1>. */
int pt_check_teacher(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx);
/* The GAN half (parity_gan.c). The fixture's disc_factor (0 when absent): the GAN rows run
 * when it is not 0 and the model has_disc. */
double pt_fixture_disc_factor(pt_fixture *fx);
/* One row: ours against the mean of the fixture tensor f[key] (forward tolerance). */
int pt_compare_mean(pt_report *r, const char *label, float ours, const vq_st_file *f, const char *key);
/* After disc_step: d_loss, the logit means, every gradient of the discriminator's optimizer. */
int pt_check_disc(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx);
/* ActNorm's loc/scale after the GAN step against the fixture's actnorm.* keys (parity_actnorm.c);
 * no row when the fixture has none. */
int pt_check_actnorm(pt_report *r, const vq_model_desc *d, vq_model *m, pt_fixture *fx);

#endif
