/* lex.h: the scanner's state and entry points, shared by lexer.l, parser.y,
 * source.c and the scanner's unit test. Not a public API: the rest of vqc uses
 * parse.h.
 *
 * The scanner is reentrant: everything it knows lives in a lex_state that it
 * reaches through flex's yyextra. Positions are 1-based lines and byte columns;
 * a tab counts as one column.
 */
#ifndef VQC_LEX_H
#define VQC_LEX_H

#include <stddef.h>
#include "ast.h"
#include "diag.h"

#ifndef YY_TYPEDEF_YY_SCANNER_T
#define YY_TYPEDEF_YY_SCANNER_T
typedef void *yyscan_t;
#endif

enum { LEX_MAX_OPEN = 64 };

typedef struct lex_state {
    const src_file *src;
    ast_arena *arena;
    diag_sink *diag;
    int line, col;              /* position of the next byte */
    size_t off;                 /* its byte offset */
    size_t tok_off;             /* offset of the token being scanned */
    int start_token;            /* returned once before the first real token (0 = none) */
    /* The last two tokens returned: `cur` is the parser's lookahead when it reports an error. */
    int cur_kind, prev_kind;    /* bison token kinds; 0 = none yet */
    src_loc cur_loc, prev_loc;
    size_t cur_off, cur_len, prev_off, prev_len;
    int cur_unmatched;          /* cur is a closing bracket with nothing open */
    src_loc comment_start;      /* of the block comment being scanned */
    /* Brackets not yet closed ('{', '(', '['), for "to match this '{'" notes. */
    char open_kind[LEX_MAX_OPEN];
    src_loc open_loc[LEX_MAX_OPEN];
    int n_open;                 /* may exceed LEX_MAX_OPEN; only the first ones are kept */
    int depth_reported;
    int error_line;             /* line of the last lexical error (0 = none) */
    int error_at_eof;           /* a lexical error ran to the end of the file (unterminated comment) */         /* "nested too deeply" is said once per parse */
    /* Results, set by the grammar's start rule. */
    ast_item *items;
    ast_expr *expr;
} lex_state;

/* Set up a scanner over src->text[0..size). start_token is the parser's START_FILE or
 * START_EXPR (or 0 to scan plain tokens, as the scanner test does). Returns 0, or -1
 * when flex cannot allocate. */
int lex_open(yyscan_t *scanner, lex_state *ls, ast_arena *a, const src_file *src, diag_sink *d,
             int start_token);
void lex_close(yyscan_t scanner);

/* Checks the whole file before scanning: reports every NUL byte and every byte
 * sequence that is not UTF-8 (at most one per line). Returns the number reported. */
int source_check_encoding(const src_file *src, diag_sink *d);

/* A location inside src: one line, columns c0..c1. */
src_loc lex_span(const src_file *src, int line, int c0, int c1);

#endif
