/* values.c: compile-time values, scopes and expression evaluation.
 *
 * Values are ints (64-bit, overflow is an error), floats, bools, strings,
 * lists and tensors (an id into the model's tensor table). Evaluation of an
 * op or block call is handed to elab.c; everything else is here, including
 * the builtins len, range, min, max, channels, height, width, in, int, float.
 * Anything that failed is poison (V_POISON) and propagates without a second
 * message.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checker.h"

value v_poison(void) { value v = {0}; v.kind = V_POISON; return v; }
value v_none(void) { value v = {0}; v.kind = V_NONE; return v; }
value v_int(int64_t i) { value v = {0}; v.kind = V_INT; v.i = i; return v; }
value v_float(double f) { value v = {0}; v.kind = V_FLOAT; v.f = f; return v; }
value v_bool(int b) { value v = {0}; v.kind = V_BOOL; v.b = !!b; return v; }
value v_string(const char *s) { value v = {0}; v.kind = V_STRING; v.s = s; return v; }

const char *vkind_name(vkind k)
{
    static const char *const names[] = {"<error>", "nothing", "int", "float", "bool", "string", "list", "tensor"};
    return names[k];
}

const char *value_type_str(checker *c, const value *v)
{
    if (v->kind != V_LIST) return vkind_name(v->kind);
    if (v->n == 0) return "list";
    return c_printf(c, "list<%s>", value_type_str(c, &v->items[0]));
}

const char *type_str(checker *c, const ast_type *ty)
{
    static const char *const names[] = {"int", "float", "bool", "string", "tensor", "list"};
    if (ty->kind != TY_LIST) return names[ty->kind];
    return c_printf(c, "list<%s>", ty->elem ? type_str(c, ty->elem) : "?");
}

int value_fits(value *v, const ast_type *ty)
{
    if (v->kind == V_POISON) return 1;
    switch (ty->kind) {
    case TY_INT: return v->kind == V_INT;
    case TY_FLOAT:
        if (v->kind == V_INT) { *v = v_float((double)v->i); return 1; }
        return v->kind == V_FLOAT;
    case TY_BOOL: return v->kind == V_BOOL;
    case TY_STRING: return v->kind == V_STRING;
    case TY_TENSOR: return v->kind == V_TENSOR;
    case TY_LIST:
        if (v->kind != V_LIST) return 0;
        for (int i = 0; i < v->n; i++)
            if (ty->elem && !value_fits(&v->items[i], ty->elem)) return 0;
        return 1;
    }
    return 0;
}

void value_str(char *buf, size_t n, const value *v)
{
    switch (v->kind) {
    case V_INT: snprintf(buf, n, "%lld", (long long)v->i); return;
    case V_FLOAT: snprintf(buf, n, "%g", v->f); return;
    case V_BOOL: snprintf(buf, n, "%s", v->b ? "true" : "false"); return;
    case V_STRING: snprintf(buf, n, "\"%s\"", v->s); return;
    case V_LIST: {
        size_t used = (size_t)snprintf(buf, n, "[");
        for (int i = 0; i < v->n && used < n; i++) {
            char item[64];
            value_str(item, sizeof item, &v->items[i]);
            used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? ", " : "", item);
        }
        if (used < n) snprintf(buf + used, n - used, "]");
        return;
    }
    default: snprintf(buf, n, "%s", vkind_name(v->kind));
    }
}

/* ---- scopes --------------------------------------------------------------- */

binding *scope_find_local(scope *s, const char *name)
{
    for (binding *b = s->first; b; b = b->next)
        if (strcmp(b->name, name) == 0) return b;
    return NULL;
}

binding *scope_find(scope *s, const char *name)
{
    for (; s; s = s->parent) {
        binding *b = scope_find_local(s, name);
        if (b) return b;
    }
    return NULL;
}

binding *scope_bind(checker *c, scope *s, const char *name, value v, src_loc loc, bind_kind k)
{
    binding *b = ast_alloc(c->a, sizeof *b);
    b->name = name;
    b->v = v;
    b->loc = loc;
    b->kind = k;
    b->next = s->first;
    s->first = b;
    return b;
}

const char **visible_names(checker *c, scope *s)
{
    int n = 0;
    for (scope *t = s; t; t = t->parent)
        for (binding *b = t->first; b; b = b->next) n++;
    const char **names = ast_alloc(c->a, (size_t)(n + 1) * sizeof *names);
    n = 0;
    for (scope *t = s; t; t = t->parent)
        for (binding *b = t->first; b; b = b->next) names[n++] = b->name;
    return names;
}

void did_you_mean_suffix(char *buf, size_t n, const char *name, const char *const *cands)
{
    const char *best = diag_closest(name, cands);
    if (best) snprintf(buf, n, "; did you mean '%s'?", best);
    else buf[0] = 0;
}

/* ---- arithmetic ------------------------------------------------------------- */

static const char *binop_str(int op)
{
    static const char *const s[] = {"+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or"};
    return s[op];
}

static int is_num(const value *v) { return v->kind == V_INT || v->kind == V_FLOAT; }
static double num(const value *v) { return v->kind == V_INT ? (double)v->i : v->f; }

static value int_arith(checker *c, const ast_expr *e, int64_t a, int64_t b)
{
    int64_t r = 0;
    int ovf = 0;
    switch (e->op) {
    case BIN_ADD: ovf = __builtin_add_overflow(a, b, &r); break;
    case BIN_SUB: ovf = __builtin_sub_overflow(a, b, &r); break;
    case BIN_MUL: ovf = __builtin_mul_overflow(a, b, &r); break;
    case BIN_DIV:
        diag_error(c->d, e->loc, "'/' on two ints; use '//' for integer division or write a float");
        return v_poison();
    case BIN_IDIV:
    case BIN_MOD:
        if (b == 0) { diag_error(c->d, e->rhs->loc, "division by zero"); return v_poison(); }
        if (a == INT64_MIN && b == -1) { ovf = 1; break; }
        /* floor division and a modulo with the divisor's sign, as in Python */
        r = e->op == BIN_IDIV ? a / b - ((a % b != 0) && ((a < 0) != (b < 0)))
                              : ((a % b) + b) % b;
        break;
    default: break;
    }
    if (ovf) {
        diag_error(c->d, e->loc, "integer overflow in %lld %s %lld", (long long)a, binop_str(e->op), (long long)b);
        return v_poison();
    }
    return v_int(r);
}

static value float_arith(checker *c, const ast_expr *e, double a, double b)
{
    switch (e->op) {
    case BIN_ADD: return v_float(a + b);
    case BIN_SUB: return v_float(a - b);
    case BIN_MUL: return v_float(a * b);
    case BIN_DIV:
    case BIN_IDIV:
    case BIN_MOD:
        if (b == 0) { diag_error(c->d, e->rhs->loc, "division by zero"); return v_poison(); }
        if (e->op == BIN_DIV) return v_float(a / b);
        if (e->op == BIN_IDIV) return v_float(floor(a / b));
        return v_float(a - b * floor(a / b));
    default: return v_poison();
    }
}

static int values_equal(const value *a, const value *b)
{
    if (is_num(a) && is_num(b)) return num(a) == num(b);
    if (a->kind != b->kind) return 0;
    switch (a->kind) {
    case V_BOOL: return a->b == b->b;
    case V_STRING: return strcmp(a->s, b->s) == 0;
    case V_TENSOR: return a->t == b->t;
    case V_LIST:
        if (a->n != b->n) return 0;
        for (int i = 0; i < a->n; i++)
            if (!values_equal(&a->items[i], &b->items[i])) return 0;
        return 1;
    default: return 1;
    }
}

static value eval_binary(checker *c, scope *s, const ast_expr *e)
{
    if (e->op == BIN_AND || e->op == BIN_OR) {
        value a = eval(c, s, e->lhs);
        if (a.kind == V_POISON) return a;
        if (a.kind != V_BOOL) {
            diag_error(c->d, e->lhs->loc, "'%s' needs bool operands, got %s", binop_str(e->op), value_type_str(c, &a));
            return v_poison();
        }
        if ((e->op == BIN_AND) != a.b) return a;        /* short-circuit */
        value b = eval(c, s, e->rhs);
        if (b.kind == V_POISON) return b;
        if (b.kind != V_BOOL) {
            diag_error(c->d, e->rhs->loc, "'%s' needs bool operands, got %s", binop_str(e->op), value_type_str(c, &b));
            return v_poison();
        }
        return b;
    }
    value a = eval(c, s, e->lhs), b = eval(c, s, e->rhs);
    if (a.kind == V_POISON || b.kind == V_POISON) return v_poison();

    if (e->op == BIN_EQ || e->op == BIN_NE) {
        int eq = values_equal(&a, &b);
        return v_bool(e->op == BIN_EQ ? eq : !eq);
    }
    if (e->op >= BIN_LT && e->op <= BIN_GE) {
        int cmp;
        if (is_num(&a) && is_num(&b)) cmp = num(&a) < num(&b) ? -1 : num(&a) > num(&b);
        else if (a.kind == V_STRING && b.kind == V_STRING) cmp = strcmp(a.s, b.s);
        else goto bad;
        switch (e->op) {
        case BIN_LT: return v_bool(cmp < 0);
        case BIN_LE: return v_bool(cmp <= 0);
        case BIN_GT: return v_bool(cmp > 0);
        default: return v_bool(cmp >= 0);
        }
    }
    if (a.kind == V_INT && b.kind == V_INT) return int_arith(c, e, a.i, b.i);
    if (is_num(&a) && is_num(&b)) return float_arith(c, e, num(&a), num(&b));
    if (e->op == BIN_ADD && a.kind == V_TENSOR && b.kind == V_TENSOR) return elab_add(c, e, a, b);
    if (e->op == BIN_ADD && a.kind == V_STRING && b.kind == V_STRING)
        return v_string(c_printf(c, "%s%s", a.s, b.s));
    if (e->op == BIN_ADD && a.kind == V_LIST && b.kind == V_LIST) {
        value r = a;
        r.n = a.n + b.n;
        r.items = ast_alloc(c->a, (size_t)(r.n ? r.n : 1) * sizeof *r.items);
        if (a.n) memcpy(r.items, a.items, (size_t)a.n * sizeof *r.items);
        if (b.n) memcpy(r.items + a.n, b.items, (size_t)b.n * sizeof *r.items);
        return r;
    }
bad:
    diag_error(c->d, e->loc, "operator '%s' is not defined on %s and %s", binop_str(e->op),
               value_type_str(c, &a), value_type_str(c, &b));
    return v_poison();
}

/* ---- builtins -------------------------------------------------------------- */

typedef value (*builtin_fn)(checker *c, const ast_expr *call, value *args, const src_loc *locs, int n);

static int want_int(checker *c, const value *v, src_loc loc, const char *fn)
{
    if (v->kind == V_INT) return 1;
    diag_error(c->d, loc, "%s() needs an int here, got %s", fn, value_type_str(c, v));
    return 0;
}

static value bi_len(checker *c, const ast_expr *call, value *a, const src_loc *l, int n)
{
    (void)call; (void)n;
    if (a[0].kind == V_LIST) return v_int(a[0].n);
    if (a[0].kind == V_STRING) return v_int((int64_t)strlen(a[0].s));
    diag_error(c->d, l[0], "len() needs a list or string, got %s", value_type_str(c, &a[0]));
    return v_poison();
}

/* range(n), range(a, b), range(a, b, step): a list of ints, at most LOOP_MAX. */
static value bi_range(checker *c, const ast_expr *call, value *a, const src_loc *l, int n)
{
    int64_t lo = 0, hi, step = 1;
    for (int i = 0; i < n; i++)
        if (!want_int(c, &a[i], l[i], "range")) return v_poison();
    if (n == 1) hi = a[0].i;
    else { lo = a[0].i; hi = a[1].i; }
    if (n == 3) step = a[2].i;
    if (step == 0) { diag_error(c->d, l[2], "range() step must not be zero"); return v_poison(); }
    /* count without overflow: compute in long double-free integer math */
    int64_t count = 0;
    if (step > 0 && hi > lo) count = (int64_t)(((uint64_t)hi - (uint64_t)lo - 1) / (uint64_t)step + 1);
    if (step < 0 && hi < lo) count = (int64_t)(((uint64_t)lo - (uint64_t)hi - 1) / (uint64_t)(-(step + 1) + 1) + 1);
    if (count > LOOP_MAX || count < 0) {
        diag_error(c->d, call->loc, "range of %lld elements exceeds the limit of %d iterations",
                   (long long)count, LOOP_MAX);
        return v_poison();
    }
    value r = {0};
    r.kind = V_LIST;
    r.n = (int)count;
    r.items = ast_alloc(c->a, (size_t)(count ? count : 1) * sizeof *r.items);
    for (int64_t i = 0; i < count; i++) r.items[i] = v_int(lo + i * step);
    return r;
}

static value minmax(checker *c, const ast_expr *call, value *a, const src_loc *l, int n, int want_max)
{
    const char *fn = want_max ? "max" : "min";
    if (n == 1 && a[0].kind == V_LIST) { n = a[0].n; a = a[0].items; l = NULL; }
    if (n == 0) { diag_error(c->d, call->loc, "%s() of an empty list", fn); return v_poison(); }
    value best = a[0];
    for (int i = 0; i < n; i++) {
        if (!is_num(&a[i])) {
            diag_error(c->d, l ? l[i] : call->loc, "%s() needs numbers, got %s", fn, value_type_str(c, &a[i]));
            return v_poison();
        }
        int better = want_max ? num(&a[i]) > num(&best) : num(&a[i]) < num(&best);
        if (better) best = a[i];
    }
    return best;
}
static value bi_min(checker *c, const ast_expr *e, value *a, const src_loc *l, int n) { return minmax(c, e, a, l, n, 0); }
static value bi_max(checker *c, const ast_expr *e, value *a, const src_loc *l, int n) { return minmax(c, e, a, l, n, 1); }

static value tensor_dim(checker *c, value *a, const src_loc *l, int dim, const char *fn)
{
    if (a[0].kind != V_TENSOR) {
        diag_error(c->d, l[0], "%s() needs a tensor, got %s", fn, value_type_str(c, &a[0]));
        return v_poison();
    }
    const ir_shape *s = &c->m->tensors[a[0].t].shape;
    if (s->rank != 4) {
        diag_error(c->d, l[0], "%s() needs a (B, C, H, W) tensor, got rank %d", fn, s->rank);
        return v_poison();
    }
    return v_int(s->d[dim]);
}
static value bi_channels(checker *c, const ast_expr *e, value *a, const src_loc *l, int n) { (void)e; (void)n; return tensor_dim(c, a, l, 1, "channels"); }
static value bi_height(checker *c, const ast_expr *e, value *a, const src_loc *l, int n) { (void)e; (void)n; return tensor_dim(c, a, l, 2, "height"); }
static value bi_width(checker *c, const ast_expr *e, value *a, const src_loc *l, int n) { (void)e; (void)n; return tensor_dim(c, a, l, 3, "width"); }

static value bi_in(checker *c, const ast_expr *e, value *a, const src_loc *l, int n)
{
    (void)e; (void)n;
    if (a[0].kind != V_LIST) {
        diag_error(c->d, l[0], "in() needs a list first, got %s", value_type_str(c, &a[0]));
        return v_poison();
    }
    for (int i = 0; i < a[0].n; i++)
        if (values_equal(&a[0].items[i], &a[1])) return v_bool(1);
    return v_bool(0);
}

static value bi_int(checker *c, const ast_expr *e, value *a, const src_loc *l, int n)
{
    (void)e; (void)n;
    if (a[0].kind == V_INT) return a[0];
    if (a[0].kind == V_FLOAT && a[0].f > -9.2e18 && a[0].f < 9.2e18) return v_int((int64_t)a[0].f);
    diag_error(c->d, l[0], "int() needs a number in range, got %s", value_type_str(c, &a[0]));
    return v_poison();
}

static value bi_float(checker *c, const ast_expr *e, value *a, const src_loc *l, int n)
{
    (void)e; (void)n;
    if (is_num(&a[0])) return v_float(num(&a[0]));
    diag_error(c->d, l[0], "float() needs a number, got %s", value_type_str(c, &a[0]));
    return v_poison();
}

static const struct builtin {
    const char *name;
    int min_args, max_args;     /* -1: any number */
    builtin_fn fn;
} builtins[] = {
    {"len", 1, 1, bi_len},           {"range", 1, 3, bi_range},
    {"min", 1, -1, bi_min},          {"max", 1, -1, bi_max},
    {"channels", 1, 1, bi_channels}, {"height", 1, 1, bi_height},
    {"width", 1, 1, bi_width},       {"in", 2, 2, bi_in},
    {"int", 1, 1, bi_int},           {"float", 1, 1, bi_float},
};

static const struct builtin *builtin_find(const char *name)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strcmp(builtins[i].name, name) == 0) return &builtins[i];
    return NULL;
}

static value call_builtin(checker *c, scope *s, const struct builtin *b, const ast_expr *e)
{
    int n = 0, poisoned = 0;
    for (const ast_arg *a = e->args; a; a = a->next) n++;
    if (n < b->min_args || (b->max_args >= 0 && n > b->max_args)) {
        if (b->min_args == b->max_args)
            diag_error(c->d, e->loc, "%s() takes %d argument%s, got %d", b->name, b->min_args,
                       b->min_args == 1 ? "" : "s", n);
        else
            diag_error(c->d, e->loc, "%s() takes %d to %d arguments, got %d", b->name, b->min_args,
                       b->max_args < 0 ? 99 : b->max_args, n);
        return v_poison();
    }
    value *args = ast_alloc(c->a, (size_t)(n + 1) * sizeof *args);
    src_loc *locs = ast_alloc(c->a, (size_t)(n + 1) * sizeof *locs);
    int i = 0;
    for (const ast_arg *a = e->args; a; a = a->next, i++) {
        if (a->name) {
            diag_error(c->d, a->name_loc, "%s() takes no keyword arguments", b->name);
            return v_poison();
        }
        args[i] = eval(c, s, a->value);
        locs[i] = a->value->loc;
        poisoned |= args[i].kind == V_POISON;
    }
    if (poisoned) return v_poison();
    return b->fn(c, e, args, locs, n);
}

static int is_builtin(const char *name) { return builtin_find(name) != NULL; }

/* ---- evaluation ------------------------------------------------------------- */

static value eval_name(checker *c, scope *s, const ast_expr *e)
{
    binding *b = scope_find(s, e->s);
    if (b) return b->v;
    char dym[128];
    did_you_mean_suffix(dym, sizeof dym, e->s, visible_names(c, s));
    if (op_lookup(e->s) >= 0 || block_find(c, e->s) || is_builtin(e->s))
        diag_error(c->d, e->loc, "'%s' is an op or block; call it with arguments", e->s);
    else
        diag_error(c->d, e->loc, "unknown name '%s'%s", e->s, dym);
    return v_poison();
}

static value eval_call(checker *c, scope *s, const ast_expr *e, const ast_path *path, src_loc as_loc)
{
    if (e->lhs == NULL || e->lhs->kind != EXPR_NAME) {
        diag_error(c->d, e->loc, "only ops, blocks and builtins can be called");
        return v_poison();
    }
    const char *name = e->lhs->s;
    const struct builtin *b = builtin_find(name);
    if (b) {
        if (path) {
            diag_error(c->d, as_loc, "builtin %s() creates no instance and cannot be named with 'as'", name);
            return v_poison();
        }
        return call_builtin(c, s, b, e);
    }
    return elab_call(c, s, e, path, as_loc);
}

value eval(checker *c, scope *s, const ast_expr *e)
{
    switch (e->kind) {
    case EXPR_INT: return v_int(e->i);
    case EXPR_FLOAT: return v_float(e->f);
    case EXPR_STRING: return v_string(e->s);
    case EXPR_BOOL: return v_bool(e->b);
    case EXPR_NAME: return eval_name(c, s, e);
    case EXPR_LIST: {
        int n = 0, poisoned = 0;
        for (const ast_expr *it = e->items; it; it = it->next) n++;
        value r = {0};
        r.kind = V_LIST;
        r.n = n;
        r.items = ast_alloc(c->a, (size_t)(n ? n : 1) * sizeof *r.items);
        n = 0;
        for (const ast_expr *it = e->items; it; it = it->next) {
            r.items[n] = eval(c, s, it);
            poisoned |= r.items[n].kind == V_POISON;
            if (n > 0 && !poisoned && r.items[n].kind != r.items[0].kind &&
                !(is_num(&r.items[n]) && is_num(&r.items[0]))) {
                diag_error(c->d, it->loc, "list items must have one type: %s after %s",
                           value_type_str(c, &r.items[n]), value_type_str(c, &r.items[0]));
                poisoned = 1;
            }
            n++;
        }
        if (poisoned) return v_poison();
        /* a list mixing ints and floats is a list of floats */
        int any_float = 0;
        for (int i = 0; i < r.n; i++) any_float |= r.items[i].kind == V_FLOAT;
        if (any_float)
            for (int i = 0; i < r.n; i++) r.items[i] = v_float(num(&r.items[i]));
        return r;
    }
    case EXPR_UNARY: {
        value a = eval(c, s, e->lhs);
        if (a.kind == V_POISON) return a;
        if (e->op == '-') {
            if (a.kind == V_INT) {
                if (a.i == INT64_MIN) { diag_error(c->d, e->loc, "integer overflow in negation"); return v_poison(); }
                return v_int(-a.i);
            }
            if (a.kind == V_FLOAT) return v_float(-a.f);
            diag_error(c->d, e->loc, "unary '-' needs a number, got %s", value_type_str(c, &a));
            return v_poison();
        }
        if (a.kind != V_BOOL) {
            diag_error(c->d, e->loc, "'not' needs a bool, got %s", value_type_str(c, &a));
            return v_poison();
        }
        return v_bool(!a.b);
    }
    case EXPR_BINARY: return eval_binary(c, s, e);
    case EXPR_COND: {
        value cond = eval(c, s, e->cond);
        if (cond.kind == V_POISON) return cond;
        if (cond.kind != V_BOOL) {
            diag_error(c->d, e->cond->loc, "condition must be a bool, got %s", value_type_str(c, &cond));
            return v_poison();
        }
        return eval(c, s, cond.b ? e->lhs : e->rhs);
    }
    case EXPR_CALL: return eval_call(c, s, e, NULL, loc_none());
    case EXPR_INDEX: {
        value a = eval(c, s, e->lhs), i = eval(c, s, e->rhs);
        if (a.kind == V_POISON || i.kind == V_POISON) return v_poison();
        if (a.kind != V_LIST) {
            diag_error(c->d, e->lhs->loc, "only lists can be indexed, not %s", value_type_str(c, &a));
            return v_poison();
        }
        if (i.kind != V_INT) {
            diag_error(c->d, e->rhs->loc, "list index must be an int, got %s", value_type_str(c, &i));
            return v_poison();
        }
        int64_t k = i.i < 0 ? i.i + a.n : i.i;       /* -1 is the last item, as in Python */
        if (k < 0 || k >= a.n) {
            diag_error(c->d, e->rhs->loc, "index %lld out of range for a list of %d", (long long)i.i, a.n);
            return v_poison();
        }
        return a.items[k];
    }
    case EXPR_MEMBER:
        diag_error(c->d, e->loc, "'.' names a parameter path and is only allowed in key values and 'as'");
        return v_poison();
    case EXPR_AS:
        if (e->lhs && e->lhs->kind == EXPR_CALL) return eval_call(c, s, e->lhs, e->path, e->path->loc);
        diag_error(c->d, e->path ? e->path->loc : e->loc, "only op and block calls can be named with 'as'");
        return v_poison();
    }
    return v_poison();
}

int eval_int(checker *c, scope *s, const ast_expr *e, int64_t *out)
{
    value v = eval(c, s, e);
    if (v.kind == V_POISON) return 0;
    if (v.kind != V_INT) {
        diag_error(c->d, e->loc, "expected an int, got %s", value_type_str(c, &v));
        return 0;
    }
    *out = v.i;
    return 1;
}

/* ---- helpers ---------------------------------------------------------------- */

char *c_strdup(checker *c, const char *s) { return ast_strdup(c->a, s, strlen(s)); }

char *c_printf(checker *c, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return c_strdup(c, buf);
}

void *grow(checker *c, void *arr, int n, int *cap, size_t elem)
{
    if (n < *cap) return arr;
    int ncap = *cap ? *cap * 2 : 16;
    void *p = ast_alloc(c->a, (size_t)ncap * elem);
    if (arr && n) memcpy(p, arr, (size_t)n * elem);
    *cap = ncap;
    return p;
}

src_loc loc_none(void) { src_loc l = {0}; return l; }

const char *const *split_choices(checker *c, const char *choices)
{
    const char **out = ast_alloc(c->a, 17 * sizeof *out);
    int n = 0;
    const char *p = choices;
    while (*p && n < 16) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        out[n++] = ast_strdup(c->a, p, len);
        p += len + (bar != NULL);
    }
    return out;
}

int symbol_arg(checker *c, scope *s, const ast_expr *e, const char *const *valid, const char **out)
{
    if (e->kind == EXPR_NAME) {
        int is_valid = 0;
        for (int i = 0; valid && valid[i]; i++) is_valid |= strcmp(valid[i], e->s) == 0;
        if (is_valid || !scope_find(s, e->s)) { *out = e->s; return 1; }
    }
    value v = eval(c, s, e);
    if (v.kind == V_POISON) return 0;
    if (v.kind != V_STRING) {
        diag_error(c->d, e->loc, "expected a name, got %s", value_type_str(c, &v));
        return 0;
    }
    *out = v.s;
    return 1;
}
