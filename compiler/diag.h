/* diag.h: the one place that reports problems in .vq files.
 *
 * Format (golden-tested, see docs/diagnostics.md):
 *
 *   model.vq:12:7: error: unknown op 'conv3d'; did you mean 'conv2d'?
 *      12 |     h = conv3d(x, out=64, kernel=3) as conv_in;
 *         |         ^~~~~~
 *   model.vq:4:5: note: previous definition is here
 *   ...
 *
 * A diag_sink collects counts and writes to a FILE*; it holds no globals, so
 * several compilations (tests, fuzzing) can run in one process. After
 * `max_errors` errors it stops printing and says so once.
 */
#ifndef VQC_DIAG_H
#define VQC_DIAG_H

#include <stdio.h>
#include "ast.h"

typedef struct diag_sink {
    FILE *out;
    int errors;
    int warnings;
    int max_errors;     /* 0 = unlimited; the CLI uses 20 */
    int color;          /* reserved; output is plain text */
    int stopped;        /* set once max_errors was passed: callers should stop soon */
    int muted;          /* internal: the last error was not printed, so neither are its notes */
} diag_sink;

void diag_init(diag_sink *d, FILE *out);

/* True once more than max_errors errors were reported ("too many errors;
 * stopping" has been printed): the parser and checker should give up. */
int diag_stopped(const diag_sink *d);

/* `loc` may have file == NULL for errors that belong to no file (command line). */
void diag_error(diag_sink *d, src_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void diag_warning(diag_sink *d, src_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A note attaches to the preceding error or warning (a second location). */
void diag_note(diag_sink *d, src_loc loc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* "did you mean": the closest candidate by edit distance, or NULL when none is
 * close enough (distance <= max(1, len/3)). `candidates` ends with NULL. */
const char *diag_closest(const char *name, const char *const *candidates);

#endif
