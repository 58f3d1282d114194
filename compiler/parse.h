/* parse.h: reading a .vq source and parsing it into an ast_file.
 *
 * The scanner (lexer.l) is reentrant and the parser (parser.y) pure, so any
 * number of files parse in one process (imports, tests, fuzzing). Errors go
 * to the diag_sink; the parser recovers at `;` and `}` so that one mistake
 * does not hide the next.
 */
#ifndef VQC_PARSE_H
#define VQC_PARSE_H

#include "ast.h"
#include "diag.h"

/* Read a whole file into the arena. On failure (missing, unreadable, a
 * directory) reports "PATH: cannot open: <reason>" at `from` (the import that
 * asked for it; from.file == NULL for the command line) and returns NULL. */
src_file *source_read(ast_arena *a, const char *path, src_loc from, diag_sink *d);

/* A source held in memory (tests, fuzzing, -D values). `text` is copied. */
src_file *source_from_string(ast_arena *a, const char *path, const char *text, size_t size);

/* Parse a whole file. Returns the tree, or NULL when there were syntax
 * errors (they are reported; d->errors grows). Never crashes or hangs on any
 * input bytes; rejects non-UTF-8 bytes outside comments and strings. */
ast_file *parse_source(ast_arena *a, const src_file *src, diag_sink *d);

/* Parse one expression from `src` (used for `-D name=VALUE`, where src->path
 * is "<command line>"). NULL with a diagnostic when it is not one expression. */
ast_expr *parse_expr_source(ast_arena *a, const src_file *src, diag_sink *d);

#endif
