/* parser.y: the .vq grammar (docs/language.md, "Grammar summary").
 *
 * A pure parser over the reentrant scanner (lexer.l). Actions only build AST
 * nodes that carry locations; names, types and shapes are checked later (sema).
 * Two start tokens select what is parsed: a whole file, or one expression
 * (the VALUE of `-D NAME=VALUE`).
 *
 * Error recovery: a statement resyncs at ';', a body at '}', a top-level item
 * at ';' or '}', so one mistake does not hide the next. Every semantic value
 * lives in the parse's arena, so values that recovery drops need no
 * %destructor: the arena frees them all at once.
 *
 * Syntax errors are worded by yyreport_syntax_error below: what was expected
 * (with LAC the list is exact), and what was found; a token missing at the end
 * of a line is reported just after the last token of that line.
 */
%code requires {
#include "ast.h"
#include "diag.h"
#include "lex.h"

/* A token's value: identifiers and strings in s (strings decoded), numbers in i or f
 * with their spelling in text. */
typedef struct vq_token { const char *s; const char *text; int64_t i; double f; } vq_token;

/* Lists are built left-recursively (a flat parser stack) with a tail pointer. */
typedef struct item_list { ast_item *first, *last; } item_list;
typedef struct stmt_list { ast_stmt *first, *last; } stmt_list;
typedef struct expr_list { ast_expr *first, *last; } expr_list;
typedef struct arg_list { ast_arg *first, *last; } arg_list;
typedef struct name_list { ast_name *first, *last; } name_list;
typedef struct formal_list { ast_formal *first, *last; } formal_list;
}

%code {
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include "lexer.h"
#include "parse.h"

/* Deep nesting must end in a diagnostic, not a crashed stack: bison's own stack
 * grows up to this many entries (about 4 per bracket level), then yyerror says
 * "memory exhausted", which is reworded below. */
#define YYMAXDEPTH 4000

#define LS ((lex_state *)yyget_extra(scanner))

/* Default location of a rule: from its first to its last symbol; an empty rule sits
 * just after the previous symbol. */
#define YYLLOC_DEFAULT(Cur, Rhs, N)                                            \
    do {                                                                       \
        if (N) {                                                               \
            (Cur).file = YYRHSLOC(Rhs, 1).file;                                \
            (Cur).first_line = YYRHSLOC(Rhs, 1).first_line;                    \
            (Cur).first_col = YYRHSLOC(Rhs, 1).first_col;                      \
            (Cur).last_line = YYRHSLOC(Rhs, N).last_line;                      \
            (Cur).last_col = YYRHSLOC(Rhs, N).last_col;                        \
        } else {                                                               \
            (Cur).file = YYRHSLOC(Rhs, 0).file;                                \
            (Cur).first_line = (Cur).last_line = YYRHSLOC(Rhs, 0).last_line;   \
            (Cur).first_col = YYRHSLOC(Rhs, 0).last_col + 1;                   \
            (Cur).last_col = YYRHSLOC(Rhs, 0).last_col;                        \
        }                                                                      \
    } while (0)

static void yyerror(src_loc *loc, yyscan_t scanner, const char *msg);

static ast_expr *mk_expr(lex_state *ls, expr_kind k, src_loc loc);
static ast_expr *mk_binary(lex_state *ls, int op, ast_expr *l, ast_expr *r, src_loc loc);
static ast_expr *mk_unary(lex_state *ls, int op, ast_expr *e, src_loc loc);
static ast_expr *mk_call(lex_state *ls, ast_expr *callee, ast_arg *args, src_loc loc);
static ast_expr *mk_as(lex_state *ls, ast_expr *e, ast_path *p, src_loc loc);
static void depth_of(lex_state *ls, ast_expr *e, const ast_expr *child);
static ast_item *mk_item(lex_state *ls, item_kind k, src_loc loc);
static ast_stmt *mk_stmt(lex_state *ls, stmt_kind k, src_loc loc);
static ast_name *mk_name(lex_state *ls, const char *name, src_loc loc);
static ast_type *mk_type(lex_state *ls, const char *name, src_loc loc);
static ast_type *mk_list_type(lex_state *ls, const char *name, src_loc name_loc, ast_type *elem, src_loc loc);
static ast_path_seg *mk_seg(lex_state *ls, const char *name, ast_expr *index, src_loc loc);
static void path_add(ast_path *p, ast_path_seg *s);
static void path_add_float(lex_state *ls, ast_path *p, vq_token t, src_loc loc);
static ast_formal *mk_formal(lex_state *ls, const char *name, ast_type *t, ast_expr *dflt, src_loc loc);

#define APPEND(L, X) do { if ((L).last) (L).last->next = (X); else (L).first = (X); (L).last = (X); } while (0)
#define ONE(L, X) do { (L).first = (L).last = (X); } while (0)
}

%define api.pure full
%define api.location.type {src_loc}
%locations
%define parse.error custom
%define parse.lac full
%expect 0
%lex-param {yyscan_t scanner}
%parse-param {yyscan_t scanner}

%union {
    vq_token tok;
    ast_item *item;
    ast_stmt *stmt;
    ast_expr *expr;
    ast_arg *arg;
    ast_type *type;
    ast_path *path;
    ast_formal *formal;
    item_list items;
    stmt_list stmts;
    expr_list exprs;
    arg_list args;
    name_list names;
    formal_list formals;
}

%token START_FILE START_EXPR
%token MODEL "model" IMPORT "import" PARAM "param" LET "let" BLOCK "block"
%token INPUT "input" OUTPUT "output" RETURN "return" FOR "for" IN "in" IF "if" ELSE "else"
%token AS "as" TRUE "true" FALSE "false" AND "and" OR "or" NOT "not" ASSERT "assert"
%token EQ "==" NE "!=" LE "<=" GE ">=" IDIV "//"
%token <tok> IDENT "identifier" INT "integer" FLOAT "float" STRING "string"

%type <items> items
%type <item> item
%type <stmts> stmts body
%type <stmt> stmt if_stmt
%type <expr> expr cond or_e and_e not_e cmp sum term unary postfix primary
%type <exprs> exprs
%type <args> args args_opt
%type <arg> arg
%type <names> names
%type <type> type
%type <formals> formals formals_opt
%type <formal> formal
%type <path> path
%type <tok> word

%%

start
    : START_FILE items          { LS->items = $2.first; }
    | START_EXPR expr           { LS->expr = $2; }
    ;

items
    : %empty                    { $$.first = $$.last = NULL; }
    | items item                { $$ = $1; APPEND($$, $2); }
    ;

item
    : "model" IDENT ';'
        { $$ = mk_item(LS, ITEM_MODEL, @$); $$->name = $2.s; $$->name_loc = @2; }
    | "import" STRING ';'
        { $$ = mk_item(LS, ITEM_IMPORT, @$); $$->path = $2.s; $$->name_loc = @2; }
    | "param" IDENT ':' type '=' expr ';'
        { $$ = mk_item(LS, ITEM_PARAM, @$); $$->name = $2.s; $$->name_loc = @2; $$->type = $4; $$->value = $6; }
    | "param" IDENT ':' IDENT '<' type ">=" expr ';'    /* `list<int>= [1]`: '>=' is one token */
        { $$ = mk_item(LS, ITEM_PARAM, @$); $$->name = $2.s; $$->name_loc = @2;
          $$->type = mk_list_type(LS, $4.s, @4, $6, @4); $$->value = $8; }
    | "let" IDENT '=' expr ';'
        { $$ = mk_item(LS, ITEM_LET, @$); $$->name = $2.s; $$->name_loc = @2; $$->value = $4; }
    | "block" IDENT '(' formals_opt ')' body
        { $$ = mk_item(LS, ITEM_BLOCK, @$); $$->name = $2.s; $$->name_loc = @2;
          $$->formals = $4.first; $$->body = $6.first; }
    | IDENT body
        { $$ = mk_item(LS, ITEM_SECTION, @$); $$->section = $1.s; $$->section_loc = @1; $$->body = $2.first; }
    | IDENT IDENT body
        { $$ = mk_item(LS, ITEM_SECTION, @$); $$->section = $1.s; $$->section_loc = @1;
          $$->name = $2.s; $$->name_loc = @2; $$->body = $3.first; }
    | error ';'                 { $$ = mk_item(LS, ITEM_ERROR, @$); }
    | error '}'                 { $$ = mk_item(LS, ITEM_ERROR, @$); }
    ;

type
    : IDENT                     { $$ = mk_type(LS, $1.s, @1); }
    | IDENT '<' type '>'        { $$ = mk_list_type(LS, $1.s, @1, $3, @$); }
    ;

formals_opt
    : %empty                    { $$.first = $$.last = NULL; }
    | formals
    ;

formals
    : formal                    { ONE($$, $1); }
    | formals ',' formal        { $$ = $1; APPEND($$, $3); }
    ;

formal
    : IDENT ':' type            { $$ = mk_formal(LS, $1.s, $3, NULL, @$); }
    | IDENT ':' type '=' expr   { $$ = mk_formal(LS, $1.s, $3, $5, @$); }
    | IDENT ':' IDENT '<' type ">=" expr
        { $$ = mk_formal(LS, $1.s, mk_list_type(LS, $3.s, @3, $5, @3), $7, @$); }
    ;

body
    : '{' stmts '}'             { $$ = $2; }
    | '{' stmts error '}'       { $$ = $2; }
    ;

stmts
    : %empty                    { $$.first = $$.last = NULL; }
    | stmts stmt                { $$ = $1; APPEND($$, $2); }
    ;

stmt
    : names '=' expr ';'
        { $$ = mk_stmt(LS, STMT_ASSIGN, @$); $$->names = $1.first; $$->value = $3; }
    | "let" IDENT '=' expr ';'
        { $$ = mk_stmt(LS, STMT_LET, @$); $$->names = mk_name(LS, $2.s, @2); $$->value = $4; }
    | "input" names ';'
        { $$ = mk_stmt(LS, STMT_INPUT, @$); $$->names = $2.first; }
    | "output" exprs ';'
        { $$ = mk_stmt(LS, STMT_OUTPUT, @$); $$->value = $2.first; }
    | "return" expr ';'
        { $$ = mk_stmt(LS, STMT_RETURN, @$); $$->value = $2; }
    | "for" IDENT "in" expr body
        { $$ = mk_stmt(LS, STMT_FOR, @$); $$->names = mk_name(LS, $2.s, @2); $$->value = $4; $$->body = $5.first; }
    | "for" IDENT ',' IDENT "in" expr body
        { $$ = mk_stmt(LS, STMT_FOR, @$); $$->names = mk_name(LS, $2.s, @2);
          $$->names->next = mk_name(LS, $4.s, @4); $$->value = $6; $$->body = $7.first; }
    | if_stmt
    | "assert" expr ';'
        { $$ = mk_stmt(LS, STMT_ASSERT, @$); $$->value = $2; }
    | "assert" expr ',' STRING ';'
        { $$ = mk_stmt(LS, STMT_ASSERT, @$); $$->value = $2; $$->message = $4.s; }
    | expr ';'
        { $$ = mk_stmt(LS, STMT_EXPR, @$); $$->value = $1; }
    | error ';'
        { $$ = mk_stmt(LS, STMT_ERROR, @$); }
    ;

if_stmt
    : "if" expr body
        { $$ = mk_stmt(LS, STMT_IF, @$); $$->value = $2; $$->body = $3.first; }
    | "if" expr body "else" body
        { $$ = mk_stmt(LS, STMT_IF, @$); $$->value = $2; $$->body = $3.first; $$->else_body = $5.first; }
    | "if" expr body "else" if_stmt
        { $$ = mk_stmt(LS, STMT_IF, @$); $$->value = $2; $$->body = $3.first; $$->else_body = $5; }
    ;

names
    : IDENT                     { ONE($$, mk_name(LS, $1.s, @1)); }
    | names ',' IDENT           { $$ = $1; APPEND($$, mk_name(LS, $3.s, @3)); }
    ;

exprs
    : expr                      { ONE($$, $1); }
    | exprs ',' expr            { $$ = $1; APPEND($$, $3); }
    ;

/* Precedence, loosest first: ?:, or, and, not, comparisons (non-associative),
 * + -, * / // %, unary -, postfix (call, index, member) with an optional `as path`. */
expr: cond ;

cond
    : or_e
    | or_e '?' expr ':' cond
        { $$ = mk_expr(LS, EXPR_COND, @$); $$->cond = $1; $$->lhs = $3; $$->rhs = $5;
          depth_of(LS, $$, $1); depth_of(LS, $$, $3); depth_of(LS, $$, $5); }
    ;

or_e
    : and_e
    | or_e "or" and_e           { $$ = mk_binary(LS, BIN_OR, $1, $3, @$); }
    ;

and_e
    : not_e
    | and_e "and" not_e         { $$ = mk_binary(LS, BIN_AND, $1, $3, @$); }
    ;

not_e
    : cmp
    | "not" not_e               { $$ = mk_unary(LS, 'n', $2, @$); }
    ;

cmp
    : sum
    | sum "==" sum              { $$ = mk_binary(LS, BIN_EQ, $1, $3, @$); }
    | sum "!=" sum              { $$ = mk_binary(LS, BIN_NE, $1, $3, @$); }
    | sum '<' sum               { $$ = mk_binary(LS, BIN_LT, $1, $3, @$); }
    | sum "<=" sum              { $$ = mk_binary(LS, BIN_LE, $1, $3, @$); }
    | sum '>' sum               { $$ = mk_binary(LS, BIN_GT, $1, $3, @$); }
    | sum ">=" sum              { $$ = mk_binary(LS, BIN_GE, $1, $3, @$); }
    ;

sum
    : term
    | sum '+' term              { $$ = mk_binary(LS, BIN_ADD, $1, $3, @$); }
    | sum '-' term              { $$ = mk_binary(LS, BIN_SUB, $1, $3, @$); }
    ;

term
    : unary
    | term '*' unary            { $$ = mk_binary(LS, BIN_MUL, $1, $3, @$); }
    | term '/' unary            { $$ = mk_binary(LS, BIN_DIV, $1, $3, @$); }
    | term "//" unary           { $$ = mk_binary(LS, BIN_IDIV, $1, $3, @$); }
    | term '%' unary            { $$ = mk_binary(LS, BIN_MOD, $1, $3, @$); }
    ;

unary
    : '-' unary                 { $$ = mk_unary(LS, '-', $2, @$); }
    | postfix
    | postfix "as" path         { $$ = mk_as(LS, $1, $3, @$); }
    ;

postfix
    : primary
    | postfix '(' args_opt ')'  { $$ = mk_call(LS, $1, $3.first, @$); }
    | "in" '(' args_opt ')'     /* the builtin in(list, v); `in` is otherwise a keyword */
        { ast_expr *callee = mk_expr(LS, EXPR_NAME, @1); callee->s = "in";
          $$ = mk_call(LS, callee, $3.first, @$); }
    | postfix '[' expr ']'
        { $$ = mk_expr(LS, EXPR_INDEX, @$); $$->lhs = $1; $$->rhs = $3; depth_of(LS, $$, $1); depth_of(LS, $$, $3); }
    | postfix '.' word
        { $$ = mk_expr(LS, EXPR_MEMBER, @$); $$->lhs = $1; $$->s = $3.s; depth_of(LS, $$, $1); }
    ;

primary
    : INT                       { $$ = mk_expr(LS, EXPR_INT, @$); $$->i = $1.i; $$->text = $1.text; }
    | FLOAT                     { $$ = mk_expr(LS, EXPR_FLOAT, @$); $$->f = $1.f; $$->text = $1.text; }
    | STRING                    { $$ = mk_expr(LS, EXPR_STRING, @$); $$->s = $1.s; $$->text = $1.text; }
    | "true"                    { $$ = mk_expr(LS, EXPR_BOOL, @$); $$->b = 1; }
    | "false"                   { $$ = mk_expr(LS, EXPR_BOOL, @$); $$->b = 0; }
    | IDENT                     { $$ = mk_expr(LS, EXPR_NAME, @$); $$->s = $1.s; }
    | '[' ']'                   { $$ = mk_expr(LS, EXPR_LIST, @$); }
    | '[' exprs ']'
        { $$ = mk_expr(LS, EXPR_LIST, @$); $$->items = $2.first;
          for (ast_expr *i = $2.first; i; i = i->next) depth_of(LS, $$, i); }
    | '(' expr ')'              { $$ = $2; }
    ;

args_opt
    : %empty                    { $$.first = $$.last = NULL; }
    | args
    ;

args
    : arg                       { ONE($$, $1); }
    | args ',' arg              { $$ = $1; APPEND($$, $3); }
    ;

arg
    : expr
        { $$ = ast_alloc(LS->arena, sizeof *$$); $$->loc = @$; $$->value = $1; }
    | IDENT '=' expr
        { $$ = ast_alloc(LS->arena, sizeof *$$); $$->loc = @$; $$->name = $1.s; $$->name_loc = @1; $$->value = $3; }
    ;

/* After '.' and as a path's first segment a keyword is just a name: taming's
 * state_dict says `down.0.block.1`. */
word
    : IDENT
    | "model"     { $$.s = $$.text = "model"; $$.i = 0; $$.f = 0; }
    | "import"    { $$.s = $$.text = "import"; $$.i = 0; $$.f = 0; }
    | "param"     { $$.s = $$.text = "param"; $$.i = 0; $$.f = 0; }
    | "let"       { $$.s = $$.text = "let"; $$.i = 0; $$.f = 0; }
    | "block"     { $$.s = $$.text = "block"; $$.i = 0; $$.f = 0; }
    | "input"     { $$.s = $$.text = "input"; $$.i = 0; $$.f = 0; }
    | "output"    { $$.s = $$.text = "output"; $$.i = 0; $$.f = 0; }
    | "return"    { $$.s = $$.text = "return"; $$.i = 0; $$.f = 0; }
    | "for"       { $$.s = $$.text = "for"; $$.i = 0; $$.f = 0; }
    | "in"        { $$.s = $$.text = "in"; $$.i = 0; $$.f = 0; }
    | "if"        { $$.s = $$.text = "if"; $$.i = 0; $$.f = 0; }
    | "else"      { $$.s = $$.text = "else"; $$.i = 0; $$.f = 0; }
    | "as"        { $$.s = $$.text = "as"; $$.i = 0; $$.f = 0; }
    | "true"      { $$.s = $$.text = "true"; $$.i = 0; $$.f = 0; }
    | "false"     { $$.s = $$.text = "false"; $$.i = 0; $$.f = 0; }
    | "and"       { $$.s = $$.text = "and"; $$.i = 0; $$.f = 0; }
    | "or"        { $$.s = $$.text = "or"; $$.i = 0; $$.f = 0; }
    | "not"       { $$.s = $$.text = "not"; $$.i = 0; $$.f = 0; }
    | "assert"    { $$.s = $$.text = "assert"; $$.i = 0; $$.f = 0; }
    ;

/* An instance path: `enc.conv1`, `down[i].block[j]`, `down.0.block`. */
path
    : word
        { $$ = ast_alloc(LS->arena, sizeof *$$); $$->loc = @$; path_add($$, mk_seg(LS, $1.s, NULL, @1)); }
    | path '.' word             { $$ = $1; $$->loc = @$; path_add($$, mk_seg(LS, $3.s, NULL, @3)); }
    | path '.' INT
        { $$ = $1; $$->loc = @$; ast_expr *i = mk_expr(LS, EXPR_INT, @3); i->i = $3.i; i->text = $3.text;
          path_add($$, mk_seg(LS, NULL, i, @3)); }
    | path '.' FLOAT            { $$ = $1; $$->loc = @$; path_add_float(LS, $$, $3, @3); }
    | path '[' expr ']'
        { $$ = $1; $$->loc = @$; src_loc l = @2; l.last_line = @4.last_line; l.last_col = @4.last_col;
          path_add($$, mk_seg(LS, NULL, $3, l)); }
    ;

%%

/* ---- node constructors ------------------------------------------------------ */

static void depth_of(lex_state *ls, ast_expr *e, const ast_expr *child)
{
    if (!child || child->depth + 1 <= e->depth) return;
    e->depth = child->depth + 1;
    if (e->depth > AST_MAX_EXPR_DEPTH && !ls->depth_reported) {
        ls->depth_reported = 1;
        diag_error(ls->diag, e->loc, "expression nested too deeply (more than %d levels)", AST_MAX_EXPR_DEPTH);
    }
}

static ast_expr *mk_expr(lex_state *ls, expr_kind k, src_loc loc)
{
    ast_expr *e = ast_alloc(ls->arena, sizeof *e);
    e->kind = k;
    e->loc = loc;
    e->depth = 1;
    return e;
}

static ast_expr *mk_binary(lex_state *ls, int op, ast_expr *l, ast_expr *r, src_loc loc)
{
    ast_expr *e = mk_expr(ls, EXPR_BINARY, loc);
    e->op = op; e->lhs = l; e->rhs = r;
    depth_of(ls, e, l);
    depth_of(ls, e, r);
    return e;
}

static ast_expr *mk_unary(lex_state *ls, int op, ast_expr *x, src_loc loc)
{
    ast_expr *e = mk_expr(ls, EXPR_UNARY, loc);
    e->op = op; e->lhs = x;
    depth_of(ls, e, x);
    return e;
}

static ast_expr *mk_call(lex_state *ls, ast_expr *callee, ast_arg *args, src_loc loc)
{
    ast_expr *e = mk_expr(ls, EXPR_CALL, loc);
    e->lhs = callee; e->args = args;
    depth_of(ls, e, callee);
    for (ast_arg *a = args; a; a = a->next) depth_of(ls, e, a->value);
    return e;
}

static ast_expr *mk_as(lex_state *ls, ast_expr *x, ast_path *p, src_loc loc)
{
    ast_expr *e = mk_expr(ls, EXPR_AS, loc);
    e->lhs = x; e->path = p;
    depth_of(ls, e, x);
    for (ast_path_seg *s = p->first; s; s = s->next) depth_of(ls, e, s->index);
    return e;
}

static ast_item *mk_item(lex_state *ls, item_kind k, src_loc loc)
{
    ast_item *it = ast_alloc(ls->arena, sizeof *it);
    it->kind = k;
    it->loc = loc;
    return it;
}

static ast_stmt *mk_stmt(lex_state *ls, stmt_kind k, src_loc loc)
{
    ast_stmt *s = ast_alloc(ls->arena, sizeof *s);
    s->kind = k;
    s->loc = loc;
    return s;
}

static ast_name *mk_name(lex_state *ls, const char *name, src_loc loc)
{
    ast_name *n = ast_alloc(ls->arena, sizeof *n);
    n->name = name;
    n->loc = loc;
    return n;
}

/* The type names are a closed set of words (not keywords, so `list` and `tensor`
 * stay usable as names elsewhere); a misspelling is a syntax error here. */
static const char *const type_names[] = {"int", "float", "bool", "string", "tensor", "list", NULL};

static ast_type *mk_type(lex_state *ls, const char *name, src_loc loc)
{
    ast_type *t = ast_alloc(ls->arena, sizeof *t);
    t->loc = loc;
    t->kind = TY_INT;
    for (int k = 0; type_names[k]; k++)
        if (strcmp(name, type_names[k]) == 0) t->kind = (type_kind)k;
    if (t->kind == TY_INT && strcmp(name, "int") != 0) {
        const char *close = diag_closest(name, type_names);
        if (close)
            diag_error(ls->diag, loc, "unknown type '%s'; did you mean '%s'?", name, close);
        else
            diag_error(ls->diag, loc, "unknown type '%s' (types: int, float, bool, string, tensor, list<T>)", name);
    } else if (t->kind == TY_LIST) {
        diag_error(ls->diag, loc, "'list' needs an element type, as in list<int>");
    }
    return t;
}

static ast_type *mk_list_type(lex_state *ls, const char *name, src_loc name_loc, ast_type *elem, src_loc loc)
{
    ast_type *t = ast_alloc(ls->arena, sizeof *t);
    t->loc = loc;
    t->kind = TY_LIST;
    t->elem = elem;
    if (strcmp(name, "list") != 0)
        diag_error(ls->diag, name_loc, "only 'list' takes an element type; '%s<...>' is not a type", name);
    return t;
}

static ast_formal *mk_formal(lex_state *ls, const char *name, ast_type *t, ast_expr *dflt, src_loc loc)
{
    ast_formal *f = ast_alloc(ls->arena, sizeof *f);
    f->loc = loc;
    f->name = name;
    f->type = t;
    f->dflt = dflt;
    return f;
}

static ast_path_seg *mk_seg(lex_state *ls, const char *name, ast_expr *index, src_loc loc)
{
    ast_path_seg *s = ast_alloc(ls->arena, sizeof *s);
    s->loc = loc;
    s->name = name;
    s->index = index;
    return s;
}

static void path_add(ast_path *p, ast_path_seg *s)
{
    ast_path_seg **tail = &p->first;
    while (*tail) tail = &(*tail)->next;
    *tail = s;
}

/* `down.0.1` scans as `down` `.` `0.1`: split the float back into two index segments. */
static void path_add_float(lex_state *ls, ast_path *p, vq_token t, src_loc loc)
{
    const char *dot = strchr(t.text, '.');
    if (!dot || strpbrk(t.text, "eE")) {
        diag_error(ls->diag, loc, "'%s' is not a path segment (write a name or an index: .0, [i])", t.text);
        return;
    }
    for (int part = 0; part < 2; part++) {
        const char *s = part ? dot + 1 : t.text;
        size_t n = part ? strlen(dot + 1) : (size_t)(dot - t.text);
        src_loc l = loc;
        if (part) l.first_col = loc.first_col + (int)(dot - t.text) + 1;
        else l.last_col = loc.first_col + (int)n - 1;
        int64_t v = 0;
        for (size_t k = 0; k < n && v < INT64_MAX / 100; k++) v = v * 10 + (s[k] - '0');
        ast_expr *i = mk_expr(ls, EXPR_INT, l);
        i->i = v;
        i->text = ast_strdup(ls->arena, s, n);
        path_add(p, mk_seg(ls, NULL, i, l));
    }
}

/* ---- syntax errors ----------------------------------------------------------- */

static void yyerror(src_loc *loc, yyscan_t scanner, const char *msg)
{
    lex_state *ls = LS;
    if (strcmp(msg, "memory exhausted") == 0)
        diag_error(ls->diag, *loc, "nesting too deep: the parser's stack limit (%d entries) was reached",
                   YYMAXDEPTH);
    else
        diag_error(ls->diag, *loc, "%s", msg);
}

static int is_keyword(yysymbol_kind_t k)
{
    return k >= YYSYMBOL_MODEL && k <= YYSYMBOL_ASSERT;
}

/* A token as expected: "';'", "identifier", "'for'". */
static void put_expected(char *buf, size_t n, yysymbol_kind_t k)
{
    switch (k) {
    case YYSYMBOL_YYEOF: snprintf(buf, n, "end of file"); return;
    case YYSYMBOL_IDENT: snprintf(buf, n, "identifier"); return;
    case YYSYMBOL_INT: snprintf(buf, n, "integer"); return;
    case YYSYMBOL_FLOAT: snprintf(buf, n, "float"); return;
    case YYSYMBOL_STRING: snprintf(buf, n, "string"); return;
    default: break;
    }
    const char *name = yysymbol_name(k);
    size_t len = strlen(name);
    if (len >= 2 && name[0] == '"' && name[len - 1] == '"') snprintf(buf, n, "'%.*s'", (int)len - 2, name + 1);
    else if (name[0] == '\'') snprintf(buf, n, "%s", name);
    else snprintf(buf, n, "'%s'", name);
}

/* A token as found, from its source text: "identifier 'h'", "keyword 'for'", "')'". */
static void put_found(char *buf, size_t n, lex_state *ls, yysymbol_kind_t k, size_t off, size_t len)
{
    const char *text = ls->src->text + off;
    int shown = len > 32 ? 32 : (int)len;
    const char *more = len > 32 ? "..." : "";
    if (k == YYSYMBOL_YYEOF) snprintf(buf, n, "end of file");
    else if (k == YYSYMBOL_IDENT) snprintf(buf, n, "identifier '%.*s%s'", shown, text, more);
    else if (is_keyword(k)) snprintf(buf, n, "keyword '%.*s'", shown, text);
    else if (k == YYSYMBOL_INT || k == YYSYMBOL_FLOAT) snprintf(buf, n, "number '%.*s%s'", shown, text, more);
    else if (k == YYSYMBOL_STRING) snprintf(buf, n, "string %.*s%s", shown, text, more);
    else snprintf(buf, n, "'%.*s'", shown, text);
}

/* Groups of expected tokens, by their display names (see put_expected). */
/* ('not' binds looser than arithmetic, so it is not expected after '+'; it is
 * dropped with the group when present.) */
static const char *const expr_start[] = {"integer", "float", "string", "'true'", "'false'", "identifier",
                                         "'in'", "'-'", "'('", "'['", NULL};
static const char *const not_kw[] = {"'not'", NULL};
static const char *const stmt_start[] = {"'let'", "'input'", "'output'", "'return'", "'for'", "'if'",
                                         "'assert'", NULL};
static const char *const item_start[] = {"'model'", "'import'", "'param'", "'let'", "'block'", "identifier", NULL};
/* Tokens that continue an expression after an operand. */
static const char *const continuers[] = {"'+'", "'-'", "'*'", "'/'", "'//'", "'%'", "'=='", "'!='", "'<'",
                                         "'<='", "'>'", "'>='", "'and'", "'or'", "'?'", "'('", "'['", "'.'",
                                         "'as'", NULL};

enum { MAX_EXPECTED = YYNTOKENS };

static int find(char names[][16], int n, const char *want)
{
    for (int i = 0; i < n; i++) if (strcmp(names[i], want) == 0) return i;
    return -1;
}

static int has_all(char names[][16], int n, const char *const *group)
{
    for (; *group; group++) if (find(names, n, *group) < 0) return 0;
    return 1;
}

static int drop_all(char names[][16], int n, const char *const *group)
{
    for (; *group; group++) {
        int i = find(names, n, *group);
        if (i >= 0) { memmove(names[i], names[i + 1], (size_t)(n - i - 1) * sizeof names[0]); n--; }
    }
    return n;
}

/* Words the expected-token list for a person: whole groups become "statement",
 * "expression" or "declaration or section", and the tokens that could continue
 * an expression are left out (they are rarely the fix). Returns 0 when the list
 * is too long to be useful. */
static int describe_expected(const yypcontext_t *ctx, char *buf, size_t bufn)
{
    yysymbol_kind_t kinds[MAX_EXPECTED];
    char names[MAX_EXPECTED][16];
    int n = yypcontext_expected_tokens(ctx, kinds, MAX_EXPECTED);
    if (n <= 0) return 0;
    for (int i = 0; i < n; i++) put_expected(names[i], sizeof names[i], kinds[i]);

    const char *groups[3];
    int ng = 0;
    if (has_all(names, n, stmt_start) && has_all(names, n, expr_start)) {
        groups[ng++] = "statement";
        n = drop_all(names, n, stmt_start);
        n = drop_all(names, n, expr_start);
        n = drop_all(names, n, not_kw);
    } else if (has_all(names, n, expr_start)) {
        groups[ng++] = "expression";
        n = drop_all(names, n, expr_start);
        n = drop_all(names, n, not_kw);
    }
    if (has_all(names, n, item_start)) {
        groups[ng++] = "declaration or section";
        n = drop_all(names, n, item_start);
    }
    int after_operand = find(names, n, "'+'") >= 0 && find(names, n, "'*'") >= 0;
    if (after_operand) n = drop_all(names, n, continuers);

    /* The likeliest fixes first: ';', ',', then closing brackets, then the rest. */
    static const char *const first[] = {"';'", "','", "')'", "']'", "'}'", NULL};
    int order = 0;
    for (int f = 0; first[f]; f++) {
        int i = find(names, n, first[f]);
        if (i < 0) continue;
        char tmp[16];
        memcpy(tmp, names[i], sizeof tmp);
        memmove(names[order + 1], names[order], (size_t)(i - order) * sizeof names[0]);
        memcpy(names[order++], tmp, sizeof tmp);
    }
    const char *all[MAX_EXPECTED + 3];
    int total = 0;
    for (int i = 0; i < ng; i++) all[total++] = groups[i];
    for (int i = 0; i < n; i++) all[total++] = names[i];
    if (total == 0 && after_operand) all[total++] = "an operator";
    if (total == 0 || total > 5) return 0;
    size_t used = 0;
    for (int i = 0; i < total; i++) {
        const char *sep = i == 0 ? "" : i == total - 1 ? " or " : ", ";
        used += (size_t)snprintf(buf + used, bufn - used, "%s%s", sep, all[i]);
        if (used >= bufn) break;
    }
    return 1;
}

static int yyreport_syntax_error(const yypcontext_t *ctx, yyscan_t scanner)
{
    lex_state *ls = LS;
    yysymbol_kind_t look = yypcontext_token(ctx);
    src_loc at = *yypcontext_location(ctx);
    char expected[256], found[96];
    int have_expected = describe_expected(ctx, expected, sizeof expected);
    put_found(found, sizeof found, ls, look, ls->cur_off, ls->cur_len);

    int has_prev = ls->prev_kind > 0 && ls->prev_kind != START_FILE && ls->prev_kind != START_EXPR;
    int at_line_end = has_prev && (look == YYSYMBOL_YYEOF || at.first_line > ls->prev_loc.last_line);
    /* Quiet where a lexical error already explained the trouble; the parse fails anyway. */
    if ((look == YYSYMBOL_YYEOF && ls->error_at_eof) ||
        (ls->error_line && ls->error_line == (at_line_end ? ls->prev_loc.last_line : at.first_line)))
        return 0;
    if (look != YYSYMBOL_YYEOF && ls->cur_unmatched) {
        diag_error(ls->diag, at, "unmatched %s: no bracket is open here", found);
        return 0;
    }
    if (at_line_end && have_expected) {
        /* Something is missing at the end of a line (or of the file): point just after
         * the line's last token, where it belongs. */
        src_loc after = lex_span(ls->src, ls->prev_loc.last_line, ls->prev_loc.last_col + 1,
                                 ls->prev_loc.last_col + 1);
        char prev[96];
        int plen = ls->prev_len > 32 ? 32 : (int)ls->prev_len;
        snprintf(prev, sizeof prev, "'%.*s%s'", plen, ls->src->text + ls->prev_off, ls->prev_len > 32 ? "..." : "");
        if (look == YYSYMBOL_YYEOF)
            diag_error(ls->diag, after, "expected %s after %s, found end of file", expected, prev);
        else
            diag_error(ls->diag, after, "expected %s after %s", expected, prev);
    } else if (have_expected) {
        diag_error(ls->diag, at, "expected %s, found %s", expected, found);
    } else {
        diag_error(ls->diag, at, "unexpected %s", found);
    }
    if (look == YYSYMBOL_YYEOF && ls->n_open > 0 && ls->n_open <= LEX_MAX_OPEN) {
        int top = ls->n_open - 1;
        diag_note(ls->diag, ls->open_loc[top], "to match this '%c'", ls->open_kind[top]);
    }
    return 0;
}

/* ---- entry points (parse.h) ---------------------------------------------------- */

src_loc lex_span(const src_file *src, int line, int c0, int c1)
{
    src_loc l = { src, line, c0, line, c1 };
    return l;
}

static int run_parser(lex_state *ls, ast_arena *a, const src_file *src, diag_sink *d, int start)
{
    yyscan_t scanner;
    if (source_check_encoding(src, d)) return -1;
    if (lex_open(&scanner, ls, a, src, d, start)) {
        src_loc none = { src, 0, 0, 0, 0 };
        diag_error(d, none, "out of memory while scanning");
        return -1;
    }
    int rc = yyparse(scanner);
    lex_close(scanner);
    return rc;
}

ast_file *parse_source(ast_arena *a, const src_file *src, diag_sink *d)
{
    int before = d->errors;
    lex_state ls;
    int rc = run_parser(&ls, a, src, d, START_FILE);
    if (rc == 0 && d->errors == before && !ls.items)
        diag_error(d, lex_span(src, 1, 1, 1),
                   "empty model file: expected 'model NAME;' and the model's sections");
    if (rc > 0 && d->errors == before)
        diag_error(d, lex_span(src, 1, 1, 1), "syntax error");    /* not expected: every path reports */
    if (rc != 0 || d->errors != before) return NULL;
    ast_file *f = ast_alloc(a, sizeof *f);
    f->src = src;
    f->items = ls.items;
    return f;
}

ast_expr *parse_expr_source(ast_arena *a, const src_file *src, diag_sink *d)
{
    int before = d->errors;
    lex_state ls;
    int rc = run_parser(&ls, a, src, d, START_EXPR);
    if (rc > 0 && d->errors == before) diag_error(d, lex_span(src, 1, 1, 1), "syntax error");
    if (rc != 0 || d->errors != before) return NULL;
    return ls.expr;
}
