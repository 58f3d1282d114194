/* emit_internal.h: what the parts of the C emitter share (emit.c writes the
 * model around the units; emit_gan.c writes the adversarial part: the
 * discriminator's passes, the generator's adversarial term with taming's
 * adaptive weight, the discriminator's step, the perceptual term).
 */
#ifndef VQC_EMIT_INTERNAL_H
#define VQC_EMIT_INTERNAL_H

#include "emit_ops.h"

/* emit.c */
void emit_arena_locals(cwriter *w);   /* A, MB, F, S of the function being written */
void block_comment(emit_ctx *e, const unit *u, const char *pass);
void epilogue_bwd(emit_ctx *e, const unit *u);
void zero_grad_once(emit_ctx *e, char *zeroed, int t);
/* static int fname(vq_model *m, int B, vq_mode mode, vq_rng *rng): the forward units of one graph */
void emit_forward_graph(emit_ctx *e, ir_graph_kind gk, const char **syms, const char *fname);
/* the backward units of the autoencoder (disc 0) or the discriminator (disc 1) */
void emit_backward_units(emit_ctx *e, const char **syms, int disc, char *zeroed);

/* emit_gan.c */
/* loss[] slots: LOSS_* macros for every term of g->term_names (file scope of <model>.c) */
void emit_loss_index_macros(cwriter *w, const cg *g);
/* struct vq_model members of the adversarial and perceptual parts */
void emit_gan_members(emit_ctx *e);
/* model_create / model_destroy additions (buffers sized for m->max_b) */
void emit_gan_create(emit_ctx *e);
void emit_gan_destroy(emit_ctx *e);
/* in model_forward after the losses: nll, the perceptual term, resets the adversarial scale */
void emit_gan_forward_losses(emit_ctx *e);
/* in model_backward's loss step: d x_hat += the perceptual and adversarial gradients */
void emit_gan_loss_backward(emit_ctx *e);
/* run_disc, the discriminator's backward passes, model_adversarial, model_disc_step,
 * model_discriminate, model_set_lpips (stubs returning "no discriminator" without one) */
void emit_gan_functions(emit_ctx *e, const char **syms);
/* the desc members (.has_disc, .adversarial, ...) */
void emit_gan_desc(emit_ctx *e);

#endif
