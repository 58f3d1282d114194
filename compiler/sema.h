/* sema.h: the checker. From a parsed file (plus its imports) and the -D
 * overrides to a checked, elaborated model graph (ir.h).
 *
 * It resolves every name, evaluates compile-time parameters, unrolls loops,
 * takes conditionals, expands block calls under their instance paths,
 * validates each section's keys, infers every tensor's shape, and builds the
 * forward graph. Anything wrong is reported through the diag_sink, with as
 * many errors per run as it can find.
 */
#ifndef VQC_SEMA_H
#define VQC_SEMA_H

#include "ast.h"
#include "diag.h"
#include "ir.h"

typedef struct vqc_define {
    const char *name;       /* parameter name */
    const char *value;      /* its value as written after '=' */
} vqc_define;

typedef struct sema_options {
    const vqc_define *defines;          /* from -D, in command-line order */
    int n_defines;
    const char *const *include_dirs;    /* from -I, searched after the importing file's dir */
    int n_include_dirs;
} sema_options;

/* Returns the model, or NULL when any error was reported. The model lives in
 * the arena `a` (which must outlive it). */
ir_model *sema_check(ast_arena *a, const ast_file *file, const sema_options *opt, diag_sink *d);

#endif
