/* cwriter.h: a small writer for generated C: indentation by nesting level,
 * formatted lines, and unique identifiers for file-scope names.
 *
 * Emitters never write tabs or spaces for indentation themselves: cw_open()
 * prints a line ending in '{' and indents what follows; cw_close() dedents and
 * prints the '}' line. Output goes to a growable string (cw_text) so a file
 * is written only when generation succeeded.
 * Not here: any knowledge of the model or of C beyond braces.
 */
#ifndef VQC_CWRITER_H
#define VQC_CWRITER_H

#include <stddef.h>

typedef struct cwriter {
    char *buf;                 /* the text so far, NUL-terminated */
    size_t len, cap;
    int depth;                 /* indentation level, 4 spaces each */
    int failed;                /* an allocation failed: the text is incomplete */
    char **names;              /* identifiers handed out by cw_unique */
    int n_names, cap_names;
} cwriter;

void cw_init(cwriter *w);
void cw_free(cwriter *w);
const char *cw_text(const cwriter *w);

/* One line at the current indentation (the newline is added). */
void cw_line(cwriter *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Raw text, no indentation or newline added (for multi-line literals). */
void cw_raw(cwriter *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<line> {" then indent; cw_close: dedent then "}" + suffix ("" or ";" or " else {"). */
void cw_open(cwriter *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cw_close(cwriter *w, const char *suffix);
/* A bare block: "{" then indent. */
void cw_begin(cwriter *w);
void cw_blank(cwriter *w);

/* A C identifier built from `base` (any characters; others become '_') that
 * differs from every name this writer gave before: "encoder_conv_in",
 * "encoder_conv_in_2". The returned string lives as long as the writer. */
const char *cw_unique(cwriter *w, const char *base);

/* v as a C double literal that survives any arithmetic it is put in: %.17g
 * plus ".0" when that printed an integer ("1" would make PERCEPTUAL_WEIGHT / B
 * an integer division). buf needs 40 bytes; returns buf. */
const char *cw_double(char *buf, double v);

#endif
