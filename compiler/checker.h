/* checker.h: what the checker's files share (internal to sema; not for
 * later stages, which read only ir.h).
 *
 *   values.c    compile-time values, scopes, expression evaluation, builtins
 *   elab.c      statements, block calls, loops, conditionals, instance paths
 *   opcall.c    one op call: arguments -> attributes -> shape -> node + params
 *   ops.c       the op table (attributes, shape rules, FLOPs, parameters)
 *   sections.c  config sections: keys, types, defaults, did-you-mean
 *   sema.c      the driver: items, imports, -D, graphs, final checks
 *   irbuild.c   appending tensors, nodes and params to the model
 */
#ifndef VQC_CHECKER_H
#define VQC_CHECKER_H

#include "ast.h"
#include "diag.h"
#include "ir.h"
#include "sema.h"

typedef struct checker checker;

/* ---- values -------------------------------------------------------------- */

/* V_POISON is the result of anything that already reported an error: every
 * operation on it yields poison silently, so one mistake gives one message. */
typedef enum vkind { V_POISON, V_NONE, V_INT, V_FLOAT, V_BOOL, V_STRING, V_LIST, V_TENSOR } vkind;

typedef struct value {
    vkind kind;
    int64_t i;
    double f;
    int b;
    const char *s;
    int n;                  /* V_LIST */
    struct value *items;    /* V_LIST */
    int t;                  /* V_TENSOR: tensor id */
} value;

value v_poison(void);
value v_none(void);
value v_int(int64_t i);
value v_float(double f);
value v_bool(int b);
value v_string(const char *s);
const char *vkind_name(vkind k);
/* A value's type as written in .vq: "int", "list<int>", "tensor". */
const char *value_type_str(checker *c, const value *v);
/* Does v fit a declared type (int widens to float)? Converts in place. */
int value_fits(value *v, const ast_type *ty);
const char *type_str(checker *c, const ast_type *ty);
void value_str(char *buf, size_t n, const value *v);

/* ---- scopes -------------------------------------------------------------- */

typedef enum bind_kind { B_PARAM, B_LET, B_FORMAL, B_LOCAL, B_LOOP } bind_kind;

typedef struct binding {
    const char *name;
    value v;
    src_loc loc;
    bind_kind kind;
    struct binding *next;
} binding;

/* Lookup goes block locals -> globals (lets, params); no nesting beyond. */
typedef struct scope {
    struct scope *parent;
    binding *first;
} scope;

binding *scope_find_local(scope *s, const char *name);
binding *scope_find(scope *s, const char *name);
binding *scope_bind(checker *c, scope *s, const char *name, value v, src_loc loc, bind_kind k);

/* ---- the checker's state ----------------------------------------------- */

typedef struct block_def {
    const char *name;
    const ast_item *item;
    struct block_def *next;
} block_def;

#define CALL_DEPTH_MAX 64
#define LOOP_MAX 100000          /* iterations of one loop */
#define NODES_MAX 1000000        /* guards against absurd unrolling */

struct checker {
    ast_arena *a;
    diag_sink *d;
    const sema_options *opt;
    ir_model *m;
    scope globals;
    block_def *blocks;
    int n_cb_decl;               /* codebooks declared (== m->n_codebooks) */

    /* elaboration state */
    ir_graph_kind graph;         /* the graph nodes go to */
    int in_graph;                /* 0 while evaluating params/lets/config keys */
    const char *prefix;          /* instance path of the enclosing call, "" at top */
    const ast_item *stack[CALL_DEPTH_MAX];
    src_loc stack_loc[CALL_DEPTH_MAX];
    int depth;
    int returned;                /* a `return` ran in the current block body */
    value ret;
    int too_big;                 /* NODES_MAX reported once */
    int import_failed;           /* an import did not parse: unknown blocks are not reported */
    int cap_tensors, cap_nodes, cap_params, cap_codebooks, cap_defs;   /* model array capacities */

    /* imports: files being read (cycle detection) and done */
    const char *import_stack[32];        /* canonical paths */
    const char *import_shown[32];        /* as found, for messages */
    int n_import_stack;
    const char **imported;
    int n_imported, cap_imported;
};

/* ---- evaluation (values.c) ------------------------------------------------ */

value eval(checker *c, scope *s, const ast_expr *e);
/* Evaluates an expression that must be a compile-time constant of `what`. */
int eval_int(checker *c, scope *s, const ast_expr *e, int64_t *out);
/* All visible names (for did-you-mean), NULL-terminated. */
const char **visible_names(checker *c, scope *s);
void did_you_mean_suffix(char *buf, size_t n, const char *name, const char *const *cands);

/* ---- elaboration (elab.c) ------------------------------------------------- */

/* Runs statements of a block/section body in scope s. */
void elab_body(checker *c, scope *s, const ast_stmt *body);
/* e is an EXPR_CALL whose callee is a block or op; path is its `as` or NULL. */
value elab_call(checker *c, scope *s, const ast_expr *call, const ast_path *path, src_loc as_loc);
/* `a + b` on tensors. */
value elab_add(checker *c, const ast_expr *e, value a, value b);
block_def *block_find(checker *c, const char *name);
/* `input x;` and `output a, b;` at the top of a graph section (sema.c). */
void graph_input(checker *c, scope *s, const ast_stmt *st);
void graph_output(checker *c, scope *s, const ast_stmt *st);
/* Joins prefix and an evaluated `as` path: "encoder" + down[1].block[0]. */
const char *path_eval(checker *c, scope *s, const ast_path *p, int *ok);

/* ---- ops (ops.c, opcall.c) ------------------------------------------------ */

value op_call(checker *c, scope *s, ir_op op, const ast_expr *call, const char *path, src_loc path_loc);
value op_call_values(checker *c, ir_op op, src_loc loc, const value *in, const src_loc *in_loc, int n_in);
int op_lookup(const char *name);            /* ir_op, or -1 */
const char *const *op_names(void);

/* ---- sections (sections.c) ------------------------------------------------ */

int section_is_config(const char *kind);
int section_is_graph(const char *kind, ir_graph_kind *g);
const char *const *section_kinds(void);
/* Checks a config section's keys and fills `out` (defaults included). */
void section_check(checker *c, const ast_item *it, ir_section *out);
/* A section absent from the file: every key at its default. */
void section_defaults(checker *c, const char *kind, ir_section *out);
/* After the graphs exist: optimizer params prefixes, adaptive_weight_layer. */
void sections_cross_check(checker *c, const ast_item *items_first);
int section_needs_name(const char *kind);

/* ---- IR building (irbuild.c) --------------------------------------------- */

int irb_tensor(checker *c, const ir_shape *s, ir_dtype dt, int producer, int out_index);
int irb_node(checker *c, ir_op op, const char *path, src_loc loc);
int irb_param(checker *c, const char *name, const ir_shape *s, ir_role role, ir_init init,
              int owner, int codebook, src_loc loc);
int irb_codebook_find(checker *c, const char *name);

/* ---- small helpers ---------------------------------------------------- */

char *c_strdup(checker *c, const char *s);
char *c_printf(checker *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Grows an arena array of elem bytes from *cap to at least n+1 elements. */
void *grow(checker *c, void *arr, int n, int *cap, size_t elem);
src_loc loc_none(void);
/* "a|b|c" -> {"a", "b", "c", NULL} */
const char *const *split_choices(checker *c, const char *choices);
/* A bare name (`mode=nearest`) is taken as written when it is one of `valid`
 * or names nothing in scope; otherwise it is evaluated and must be a string
 * (so a block can pass a choice through a string argument). */
int symbol_arg(checker *c, scope *s, const ast_expr *e, const char *const *valid, const char **out);

#endif
