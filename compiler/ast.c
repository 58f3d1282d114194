/* ast.c: the arena that owns a parse's memory, and `vqc --dump=ast`.
 *
 * The arena is a list of chunks handed out by bumping a pointer; nothing is
 * freed until the whole arena is. The dump is golden-tested: one node per line,
 * two spaces of indent per level, `@line:col` of the node's first character,
 * numbers with their original spelling, strings re-escaped. Labels without a
 * location (`then`, `else`, `do`) separate a node's groups of children.
 * Not here: constructing nodes (parser.y), giving them meaning (sema.c).
 */
#include "ast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct arena_chunk {
    struct arena_chunk *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} arena_chunk;

struct ast_arena {
    arena_chunk *head;
};

enum { CHUNK_BYTES = 64 * 1024 };

ast_arena *ast_arena_new(void)
{
    ast_arena *a = calloc(1, sizeof *a);
    if (!a) { fprintf(stderr, "vqc: out of memory\n"); abort(); }
    return a;
}

void ast_arena_free(ast_arena *a)
{
    if (!a) return;
    for (arena_chunk *c = a->head, *n; c; c = n) { n = c->next; free(c); }
    free(a);
}

void *ast_alloc(ast_arena *a, size_t bytes)
{
    size_t need = (bytes + 15) & ~(size_t)15;
    if (need < bytes) { fprintf(stderr, "vqc: out of memory\n"); abort(); }
    arena_chunk *c = a->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = need > CHUNK_BYTES ? need : CHUNK_BYTES;
        c = malloc(sizeof *c + cap);
        if (!c) { fprintf(stderr, "vqc: out of memory\n"); abort(); }
        c->used = 0; c->cap = cap; c->next = a->head; a->head = c;
    }
    void *p = c->data + c->used;
    c->used += need;
    memset(p, 0, bytes);
    return p;
}

char *ast_strdup(ast_arena *a, const char *s, size_t n)
{
    char *p = ast_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- dump ----------------------------------------------------------------- */

static void indent(FILE *out, int level) { fprintf(out, "%*s", 2 * level, ""); }
static void at(FILE *out, src_loc l) { fprintf(out, " @%d:%d\n", l.first_line, l.first_col); }

static void put_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        switch (*s) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\t': fputs("\\t", out); break;
        default: fputc(*s, out);
        }
    }
    fputc('"', out);
}

static void put_type(FILE *out, const ast_type *t)
{
    static const char *const names[] = {"int", "float", "bool", "string", "tensor", "list"};
    fputs(names[t->kind], out);
    if (t->kind == TY_LIST && t->elem) { fputc('<', out); put_type(out, t->elem); fputc('>', out); }
}

static const char *binop_text(int op)
{
    static const char *const t[] = {"+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=",
                                    "and", "or"};
    return op >= 0 && op <= BIN_OR ? t[op] : "?";
}

static void dump_expr(FILE *out, const ast_expr *e, int lv);

static void dump_path(FILE *out, const ast_path *p, int lv)
{
    indent(out, lv); fputs("path", out); at(out, p->loc);
    for (const ast_path_seg *s = p->first; s; s = s->next) {
        indent(out, lv + 1);
        if (s->name) { fprintf(out, ".%s", s->name); at(out, s->loc); }
        else { fputs("[]", out); at(out, s->loc); dump_expr(out, s->index, lv + 2); }
    }
}

static void dump_expr(FILE *out, const ast_expr *e, int lv)
{
    if (!e) { indent(out, lv); fputs("(null)\n", out); return; }
    indent(out, lv);
    switch (e->kind) {
    case EXPR_INT: fprintf(out, "int %s", e->text ? e->text : "?"); break;
    case EXPR_FLOAT: fprintf(out, "float %s", e->text ? e->text : "?"); break;
    case EXPR_STRING: fputs("string ", out); put_string(out, e->s ? e->s : ""); break;
    case EXPR_BOOL: fprintf(out, "bool %s", e->b ? "true" : "false"); break;
    case EXPR_NAME: fprintf(out, "name %s", e->s); break;
    case EXPR_LIST: fputs("list", out); break;
    case EXPR_UNARY: fprintf(out, "unary %s", e->op == 'n' ? "not" : "-"); break;
    case EXPR_BINARY: fprintf(out, "binary %s", binop_text(e->op)); break;
    case EXPR_COND: fputs("cond", out); break;
    case EXPR_CALL: fputs("call", out); break;
    case EXPR_INDEX: fputs("index", out); break;
    case EXPR_MEMBER: fprintf(out, "member .%s", e->s); break;
    case EXPR_AS: fputs("as", out); break;
    }
    at(out, e->loc);
    switch (e->kind) {
    case EXPR_LIST:
        for (const ast_expr *i = e->items; i; i = i->next) dump_expr(out, i, lv + 1);
        break;
    case EXPR_UNARY: dump_expr(out, e->lhs, lv + 1); break;
    case EXPR_BINARY: case EXPR_INDEX:
        dump_expr(out, e->lhs, lv + 1); dump_expr(out, e->rhs, lv + 1); break;
    case EXPR_COND:
        dump_expr(out, e->cond, lv + 1); dump_expr(out, e->lhs, lv + 1); dump_expr(out, e->rhs, lv + 1);
        break;
    case EXPR_CALL:
        dump_expr(out, e->lhs, lv + 1);
        for (const ast_arg *a = e->args; a; a = a->next) {
            indent(out, lv + 1);
            if (a->name) fprintf(out, "arg %s=", a->name); else fputs("arg", out);
            at(out, a->loc);
            dump_expr(out, a->value, lv + 2);
        }
        break;
    case EXPR_MEMBER: dump_expr(out, e->lhs, lv + 1); break;
    case EXPR_AS: dump_expr(out, e->lhs, lv + 1); dump_path(out, e->path, lv + 1); break;
    default: break;
    }
}

static void put_names(FILE *out, const ast_name *n)
{
    for (; n; n = n->next) fprintf(out, " %s%s", n->name, n->next ? "," : "");
}

static void dump_stmts(FILE *out, const ast_stmt *s, int lv);

static void dump_stmt(FILE *out, const ast_stmt *s, int lv)
{
    static const char *const kinds[] = {"assign", "let", "input", "output", "return", "for", "if",
                                        "assert", "expr", "error"};
    indent(out, lv);
    fputs(kinds[s->kind], out);
    if (s->kind == STMT_ASSIGN || s->kind == STMT_LET || s->kind == STMT_INPUT || s->kind == STMT_FOR)
        put_names(out, s->names);
    if (s->kind == STMT_ASSERT && s->message) { fputc(' ', out); put_string(out, s->message); }
    at(out, s->loc);
    switch (s->kind) {
    case STMT_OUTPUT:
        for (const ast_expr *v = s->value; v; v = v->next) dump_expr(out, v, lv + 1);
        break;
    case STMT_FOR:
        dump_expr(out, s->value, lv + 1);
        indent(out, lv + 1); fputs("do\n", out);
        dump_stmts(out, s->body, lv + 2);
        break;
    case STMT_IF:
        dump_expr(out, s->value, lv + 1);
        indent(out, lv + 1); fputs("then\n", out);
        dump_stmts(out, s->body, lv + 2);
        if (s->else_body) {
            indent(out, lv + 1); fputs("else\n", out);
            dump_stmts(out, s->else_body, lv + 2);
        }
        break;
    case STMT_INPUT: case STMT_ERROR: break;
    default:
        if (s->value) dump_expr(out, s->value, lv + 1);
    }
}

static void dump_stmts(FILE *out, const ast_stmt *s, int lv)
{
    for (; s; s = s->next) dump_stmt(out, s, lv);
}

void ast_dump(FILE *out, const ast_file *file)
{
    fprintf(out, "file %s\n", file->src && file->src->path ? file->src->path : "?");
    for (const ast_item *it = file->items; it; it = it->next) {
        indent(out, 1);
        switch (it->kind) {
        case ITEM_MODEL: fprintf(out, "model %s", it->name); break;
        case ITEM_IMPORT: fputs("import ", out); put_string(out, it->path); break;
        case ITEM_PARAM: fprintf(out, "param %s", it->name); break;
        case ITEM_LET: fprintf(out, "let %s", it->name); break;
        case ITEM_BLOCK: fprintf(out, "block %s", it->name); break;
        case ITEM_SECTION:
            fprintf(out, "section %s%s%s", it->section, it->name ? " " : "", it->name ? it->name : "");
            break;
        case ITEM_ERROR: fputs("error", out); break;
        }
        at(out, it->loc);
        if (it->type) { indent(out, 2); fputs("type ", out); put_type(out, it->type); at(out, it->type->loc); }
        for (const ast_formal *f = it->formals; f; f = f->next) {
            indent(out, 2); fprintf(out, "formal %s: ", f->name); put_type(out, f->type); at(out, f->loc);
            if (f->dflt) dump_expr(out, f->dflt, 3);
        }
        if (it->value) dump_expr(out, it->value, 2);
        dump_stmts(out, it->body, 2);
    }
}
