/* autodiff.h: reverse-mode differentiation of the training plan.
 *
 * After pass_fuse: decides which tensors need gradients (those downstream of a
 * trainable parameter), creates their gradient values (aliased where a fusion
 * or an identity makes two tensors one buffer), and writes the schedule:
 *   forward units (ST_FWD) in topological order,
 *   ST_LOSS_FWD  total = rec_weight * rec(x_hat, x) + codebook_weight * sum(q_loss),
 *   ST_LOSS_BWD  d x_hat = rec_weight * rec'(x_hat, x) (the quantizers' terms
 *                enter their own backward with loss_weight = codebook_weight),
 *   backward units (ST_BWD) in reverse order; each accumulates (+=) into the
 *   gradients of its inputs and parameters. A gradient buffer is zeroed right
 *   before its first writer in the backward order.
 * GAN terms (disc_loss, adaptive weight) come later: autodiff_loss_terms() is
 * the one place that lists the terms of the objective.
 */
#ifndef VQC_AUTODIFF_H
#define VQC_AUTODIFF_H

#include "codegen.h"

int autodiff(cg *g);

/* The terms of the objective, in loss_names order after "total". Returns the
 * count; names[i] like "rec", "q_loss" or "q_loss.top" (arena strings of g). */
int autodiff_loss_terms(const cg *g, const char **names, int max);

#endif
