/* passes.h: the named passes over the training plan (codegen.h), run in this
 * order by cg_build: fuse, (autodiff.h), keep, recompute, memplan. Each returns 0, or
 * nonzero after reporting through g->d.
 */
#ifndef VQC_PASSES_H
#define VQC_PASSES_H

#include "../codegen.h"

/* Groups IR nodes into units (see codegen.h) and creates the forward values. */
int pass_fuse(cg *g);
/* Adds to each backward step the forward values it reads; counts what is kept. */
int pass_keep(cg *g);
/* Rebuilds large group_norm outputs in backward instead of keeping them (recompute.c). */
int pass_recompute(cg *g);
/* Liveness over the schedule and first-fit offsets in one arena (per-image
 * part scaled by MB at run time, fixed part after it). */
int pass_memplan(cg *g);

#endif
