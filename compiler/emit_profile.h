/* emit_profile.h: per-op profiling in the generated code, for `<model> bench`'s
 * breakdown (runtime/model_desc.h: n_ops, op_names, profile, op_seconds).
 *
 * The generated model keeps a table prof[N_OPS][2] of seconds (forward,
 * backward) and a flag. Every unit block is bracketed by PROF_START() and
 * PROF_ADD(row, dir): while the flag is off each is one predictable branch;
 * while on, the calling thread reads the monotonic clock (vq_time_now), so an
 * OpenMP loop inside the block is timed whole, after its threads joined.
 *
 * Rows, in this order (the driver derives a category from the kind in the
 * last parentheses of a name):
 *   "x (input)"                          input copy + codebook sync of forward   data
 *   "<path> (<op>[+<fused>...])"         one per unit that runs, schedule order
 *   "<path> (<conv op>, weight grad)"    after each conv unit with a backward:
 *                                        its backward-weight call alone; the
 *                                        conv row's backward column is then the
 *                                        backward-data call (+ gradient zeroing
 *                                        and the fused epilogue's backward)
 *   "rec (<l1|l2>_loss)"                 reconstruction loss, forward and backward
 * Identity units (reshape, dropout p=0) emit no code and get no row.
 * Not here: what the driver prints (runtime/driver_info.c), any timing policy.
 */
#ifndef VQC_EMIT_PROFILE_H
#define VQC_EMIT_PROFILE_H

#include "emit_ops.h"

typedef enum prof_dir { PROF_FWD = 0, PROF_BWD = 1 } prof_dir;

/* File scope, before struct vq_model: N_OPS, op_names[N_OPS], PROF_START / PROF_ADD. */
void prof_emit_table(emit_ctx *e);
/* Inside struct vq_model: the flag, the last mark, prof[N_OPS][2]. */
void prof_emit_members(emit_ctx *e);
/* After struct vq_model: model_profile(m, enable) and model_op_seconds(m). */
void prof_emit_functions(emit_ctx *e);
/* Lines of the vq_model_desc initializer: .n_ops, .op_names, .profile, .op_seconds. */
void prof_emit_desc_fields(cwriter *w);

/* Marks in function bodies (each writes one statement, or nothing for a unit without a row). */
void prof_emit_start(emit_ctx *e);                             /* PROF_START(); */
void prof_emit_unit(emit_ctx *e, const unit *u, prof_dir dir); /* PROF_ADD(<u's row>, dir); */
/* Inside a conv unit's backward, right after the backward-weight call. */
void prof_emit_weight_grad(emit_ctx *e, const unit *u);
void prof_emit_loss(emit_ctx *e, prof_dir dir);                /* PROF_ADD(<loss row>, dir); */
void prof_emit_input(emit_ctx *e);                             /* PROF_ADD(0, PROF_FWD); */

#endif
