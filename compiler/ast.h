/* ast.h: the syntax tree of a .vq file, as the parser builds it.
 *
 * The tree says only what was written: no names are resolved, no types or
 * shapes known. sema.c gives it meaning. Every node carries the location of
 * the text it came from, so any later stage can point at it in a diagnostic.
 *
 * Memory: every node, list and string of one parse lives in one arena
 * (ast_arena) and is freed with it; nodes never own each other separately.
 */
#ifndef VQC_AST_H
#define VQC_AST_H

#include <stddef.h>
#include <stdint.h>

/* A span of source text: 1-based line and column (in bytes) of its first
 * character and of its last character, inclusive. */
typedef struct src_loc {
    const struct src_file *file;
    int first_line, first_col;
    int last_line, last_col;
} src_loc;

/* One source file held in memory: diagnostics print lines from it. */
typedef struct src_file {
    const char *path;   /* as given on the command line or resolved by import */
    const char *text;   /* whole contents, NUL-terminated */
    size_t size;        /* bytes, excluding the terminating NUL */
} src_file;

typedef struct ast_arena ast_arena;
ast_arena *ast_arena_new(void);
void ast_arena_free(ast_arena *a);
void *ast_alloc(ast_arena *a, size_t bytes);             /* zeroed; aborts only on OOM */
char *ast_strdup(ast_arena *a, const char *s, size_t n);

/* ---- expressions -------------------------------------------------------- */

typedef enum expr_kind {
    EXPR_INT,      /* i */
    EXPR_FLOAT,    /* f; `text` keeps the spelling for dumps */
    EXPR_STRING,   /* s */
    EXPR_BOOL,     /* b */
    EXPR_NAME,     /* name */
    EXPR_LIST,     /* items */
    EXPR_UNARY,    /* op ('-' or 'n' for not), lhs */
    EXPR_BINARY,   /* op, lhs, rhs; op is one of the binop enum below */
    EXPR_COND,     /* cond ? lhs : rhs */
    EXPR_CALL,     /* callee(args); callee is usually EXPR_NAME */
    EXPR_INDEX,    /* lhs[rhs] */
    EXPR_MEMBER,   /* lhs.name  (dotted names like decoder.conv_out.weight) */
    EXPR_AS,       /* lhs as path: names the instance an op or block call creates */
} expr_kind;

typedef enum binop {
    BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_IDIV, BIN_MOD,
    BIN_EQ, BIN_NE, BIN_LT, BIN_LE, BIN_GT, BIN_GE,
    BIN_AND, BIN_OR,
} binop;

typedef struct ast_expr ast_expr;
typedef struct ast_arg ast_arg;
typedef struct ast_path ast_path;

/* A call argument: positional when name is NULL. */
struct ast_arg {
    src_loc loc;
    const char *name;      /* keyword, or NULL */
    src_loc name_loc;
    ast_expr *value;
    ast_arg *next;
};

/* One segment of an instance path: `down`, `[i]`, `.0`. */
typedef struct ast_path_seg {
    src_loc loc;
    const char *name;      /* identifier segment, or NULL for an index segment */
    ast_expr *index;       /* `[expr]` or a literal `.0` (as an EXPR_INT) */
    struct ast_path_seg *next;
} ast_path_seg;

struct ast_path {
    src_loc loc;
    ast_path_seg *first;
};

struct ast_expr {
    expr_kind kind;
    src_loc loc;
    int64_t i;
    double f;
    int b;
    const char *s;         /* string value (escapes decoded), or NAME/MEMBER identifier */
    const char *text;      /* original spelling of numbers */
    int op;                /* binop or unary op */
    ast_expr *lhs, *rhs, *cond;
    ast_expr *items;       /* EXPR_LIST: first item; items chained through `next` */
    ast_arg *args;         /* EXPR_CALL */
    ast_path *path;        /* EXPR_AS */
    ast_expr *next;        /* sibling in a list literal or an `output` list */
    int depth;             /* 1 + deepest operand; the parser caps it (AST_MAX_EXPR_DEPTH) so
                            * recursive passes cannot overflow the C stack */
};

#define AST_MAX_EXPR_DEPTH 256

/* ---- types and formals -------------------------------------------------- */

typedef enum type_kind { TY_INT, TY_FLOAT, TY_BOOL, TY_STRING, TY_TENSOR, TY_LIST } type_kind;

typedef struct ast_type {
    type_kind kind;
    src_loc loc;
    struct ast_type *elem;  /* TY_LIST */
} ast_type;

typedef struct ast_formal {
    src_loc loc;
    const char *name;
    ast_type *type;
    ast_expr *dflt;        /* NULL when required */
    struct ast_formal *next;
} ast_formal;

/* ---- statements ---------------------------------------------------------- */

typedef enum stmt_kind {
    STMT_ASSIGN,   /* names = value (one or more targets) */
    STMT_LET,      /* let name = value */
    STMT_INPUT,    /* input names */
    STMT_OUTPUT,   /* output exprs (values chained via next) */
    STMT_RETURN,   /* return value */
    STMT_FOR,      /* for var[, var2] in value { body } */
    STMT_IF,       /* if value { body } else { else_body } */
    STMT_ASSERT,   /* assert value[, message] */
    STMT_EXPR,     /* value; */
    STMT_ERROR,    /* placeholder left by error recovery; sema skips it */
} stmt_kind;

typedef struct ast_name {
    src_loc loc;
    const char *name;
    struct ast_name *next;
} ast_name;

typedef struct ast_stmt {
    stmt_kind kind;
    src_loc loc;
    ast_name *names;        /* ASSIGN targets, LET name, INPUT names, FOR vars (index first when two) */
    ast_expr *value;        /* the expression, FOR iterable, IF condition, OUTPUT first value */
    const char *message;    /* ASSERT */
    struct ast_stmt *body;       /* FOR/IF body (first statement) */
    struct ast_stmt *else_body;  /* IF else branch (an `else if` is one STMT_IF here) */
    struct ast_stmt *next;
} ast_stmt;

/* ---- top-level items ----------------------------------------------------- */

typedef enum item_kind {
    ITEM_MODEL,    /* model name; */
    ITEM_IMPORT,   /* import "path"; */
    ITEM_PARAM,    /* param name: type = value; */
    ITEM_LET,      /* let name = value; */
    ITEM_BLOCK,    /* block name(formals) { body } */
    ITEM_SECTION,  /* kind [name] { body }: encoder, decoder, codebook q, ... */
    ITEM_ERROR,    /* placeholder left by error recovery */
} item_kind;

typedef struct ast_item {
    item_kind kind;
    src_loc loc;
    const char *name;       /* MODEL/PARAM/LET/BLOCK name, SECTION name (may be NULL) */
    src_loc name_loc;
    const char *section;    /* SECTION kind as written ("encoder", "codebook", ...) */
    src_loc section_loc;
    const char *path;       /* IMPORT */
    ast_type *type;         /* PARAM */
    ast_expr *value;        /* PARAM default, LET value */
    ast_formal *formals;    /* BLOCK */
    ast_stmt *body;         /* BLOCK, SECTION */
    struct ast_item *next;
} ast_item;

typedef struct ast_file {
    const src_file *src;
    ast_item *items;
} ast_file;

/* Printing for `vqc --dump=ast`: a stable, indented S-expression-like text
 * with each node's location. Golden tests hold its exact output. */
#include <stdio.h>
void ast_dump(FILE *out, const ast_file *file);

#endif
