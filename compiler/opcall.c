/* opcall.c: checking one op call and adding it to the graph.
 *
 * Arguments -> tensor inputs (positional) and attributes (keyword, checked
 * against the op table's types, ranges and defaults) -> the op's shape rule
 * -> a node with its output tensors, FLOPs and named parameters. What the
 * rules themselves say about each op is in ops.c.
 */
#include <string.h>

#include "ops.h"

static int range_ok(checker *c, const op_info *op, const attr_spec *sp, double x, src_loc loc)
{
    static const char *const what[] = {"", "> 0", ">= 0", "in [0, 1)"};
    int ok = sp->range == R_ANY || (sp->range == R_POS && x > 0) || (sp->range == R_NONNEG && x >= 0) ||
             (sp->range == R_PROB && x >= 0 && x < 1);
    if (!ok) diag_error(c->d, loc, "attribute '%s' of %s must be %s, got %g", sp->name, op->name, what[sp->range], x);
    return ok;
}

static int64_t *ints_of(checker *c, const value *v, int n)
{
    int64_t *r = ast_alloc(c->a, (size_t)(n ? n : 1) * sizeof *r);
    for (int i = 0; i < n; i++) r[i] = v->items[i].i;
    return r;
}

static int list_of_ints(const value *v)
{
    if (v->kind != V_LIST) return 0;
    for (int i = 0; i < v->n; i++)
        if (v->items[i].kind != V_INT) return 0;
    return 1;
}

/* Evaluates one keyword attribute into `out`; 0 after reporting. */
static int attr_eval(checker *c, scope *s, op_ctx *o, const attr_spec *sp, const ast_expr *e, ir_attr *out)
{
    const op_info *op = &op_table[o->op];
    out->name = sp->name;
    out->is_default = 0;
    if (sp->type == AT_ENUM || sp->type == AT_CODEBOOK) {
        const char *name;
        const char **valid = ast_alloc(c->a, (size_t)(c->m->n_codebooks + 1) * sizeof *valid);
        for (int i = 0; i < c->m->n_codebooks; i++) valid[i] = c->m->codebooks[i].name;
        if (!symbol_arg(c, s, e, sp->type == AT_ENUM ? split_choices(c, sp->choices) : valid, &name)) return 0;
        out->v.kind = IR_V_STRING;
        out->v.s = name;
        if (sp->type == AT_CODEBOOK) {
            o->cb = irb_codebook_find(c, name);
            if (o->cb >= 0) return 1;
            const char **names = ast_alloc(c->a, (size_t)(c->m->n_codebooks + 1) * sizeof *names);
            for (int i = 0; i < c->m->n_codebooks; i++) names[i] = c->m->codebooks[i].name;
            char dym[128];
            did_you_mean_suffix(dym, sizeof dym, name, names);
            diag_error(c->d, e->loc, "unknown codebook '%s'%s", name, dym);
            return 0;
        }
        const char *const *choices = split_choices(c, sp->choices);
        for (int i = 0; choices[i]; i++)
            if (strcmp(choices[i], name) == 0) return 1;
        char dym[128];
        did_you_mean_suffix(dym, sizeof dym, name, choices);
        diag_error(c->d, e->loc, "'%s' is not a valid %s for %s (one of: %s)%s", name, sp->name, op->name,
                   sp->choices, dym);
        return 0;
    }
    value v = eval(c, s, e);
    if (v.kind == V_POISON) return 0;
    switch (sp->type) {
    case AT_INT:
        if (v.kind != V_INT) break;
        out->v.kind = IR_V_INT;
        out->v.i = v.i;
        return range_ok(c, op, sp, (double)v.i, e->loc);
    case AT_FLOAT:
        if (v.kind != V_INT && v.kind != V_FLOAT) break;
        out->v.kind = IR_V_FLOAT;
        out->v.f = v.kind == V_INT ? (double)v.i : v.f;
        return range_ok(c, op, sp, out->v.f, e->loc);
    case AT_BOOL:
        if (v.kind != V_BOOL) break;
        out->v.kind = IR_V_BOOL;
        out->v.b = v.b;
        return 1;
    case AT_INTS:
        if (!list_of_ints(&v)) break;
        out->v.kind = IR_V_INTS;
        out->v.n = v.n;
        out->v.ints = ints_of(c, &v, v.n);
        return 1;
    case AT_PADDING: {
        /* int p -> [p, p, p, p]; [ph, pw] -> [ph, ph, pw, pw]; [t, b, l, r] as is */
        int64_t p[4];
        if (v.kind == V_INT) p[0] = p[1] = p[2] = p[3] = v.i;
        else if (list_of_ints(&v) && v.n == 2) { p[0] = p[1] = v.items[0].i; p[2] = p[3] = v.items[1].i; }
        else if (list_of_ints(&v) && v.n == 4) for (int i = 0; i < 4; i++) p[i] = v.items[i].i;
        else {
            diag_error(c->d, e->loc, "attribute '%s' of %s must be an int, [ph, pw] or [top, bottom, left, right]",
                       sp->name, op->name);
            return 0;
        }
        for (int i = 0; i < 4; i++)
            if (!range_ok(c, op, sp, (double)p[i], e->loc)) return 0;
        int64_t *q = ast_alloc(c->a, sizeof p);
        memcpy(q, p, sizeof p);
        out->v.kind = IR_V_INTS;
        out->v.n = 4;
        out->v.ints = q;
        return 1;
    }
    default: break;
    }
    static const char *const tnames[] = {"int", "float", "bool", "name", "int or list<int>", "list<int>", "codebook"};
    diag_error(c->d, e->loc, "attribute '%s' of %s must be %s, got %s", sp->name, op->name, tnames[sp->type],
               value_type_str(c, &v));
    return 0;
}

static void attr_default(checker *c, const attr_spec *sp, ir_attr *out)
{
    out->name = sp->name;
    out->is_default = 1;
    switch (sp->type) {
    case AT_INT: out->v.kind = IR_V_INT; out->v.i = sp->di; break;
    case AT_FLOAT: out->v.kind = IR_V_FLOAT; out->v.f = sp->df; break;
    case AT_BOOL: out->v.kind = IR_V_BOOL; out->v.b = (int)sp->di; break;
    case AT_ENUM: out->v.kind = IR_V_STRING; out->v.s = sp->ds; break;
    case AT_PADDING: {
        int64_t *q = ast_alloc(c->a, 4 * sizeof *q);
        for (int i = 0; i < 4; i++) q[i] = sp->di;
        out->v.kind = IR_V_INTS; out->v.n = 4; out->v.ints = q;
        break;
    }
    default: out->v.kind = IR_V_NONE; break;
    }
}

/* Shape rule, parameters, node. `path` is the full instance path or NULL. */
static value op_finish(checker *c, op_ctx *o, const char *path, src_loc path_loc)
{
    const op_info *op = &op_table[o->op];
    o->n_out = 1;
    o->out_dt[0] = o->out_dt[1] = IR_F32;
    if (!op->shape(o)) return v_poison();

    param_spec ps[OP_MAX_PARAM];
    int np = op->params ? op->params(o, ps) : 0;
    if (np > 0 && !path) {
        diag_error(c->d, o->loc, "op '%s' creates parameters and needs a name: add 'as NAME'", op->name);
        return v_poison();
    }
    if (np == 0 && path) {
        diag_error(c->d, path_loc, "op '%s' creates no parameters and cannot be named with 'as'", op->name);
        return v_poison();
    }

    /* two instances with one path would give two tensors one state_dict name */
    if (np > 0) {
        const char *first = c_printf(c, "%s.%s", path, ps[0].suffix);
        for (int i = 0; i < c->m->n_params; i++)
            if (strcmp(c->m->params[i].name, first) == 0) {
                diag_error(c->d, path_loc, "duplicate instance path '%s': parameter '%s' already exists", path, first);
                diag_note(c->d, c->m->params[i].loc, "the first '%s' is created here", first);
                return v_poison();
            }
    }
    int id = irb_node(c, o->op, path, o->loc);
    if (id < 0) return v_poison();
    ir_node *n = &c->m->nodes[id];
    int *in = ast_alloc(c->a, (size_t)(o->n_in ? o->n_in : 1) * sizeof *in);
    for (int i = 0; i < o->n_in; i++) in[i] = o->in_t[i];
    int *out = ast_alloc(c->a, (size_t)o->n_out * sizeof *out);
    ir_attr *attrs = ast_alloc(c->a, (size_t)(op->n_attrs ? op->n_attrs : 1) * sizeof *attrs);
    memcpy(attrs, o->attr, (size_t)op->n_attrs * sizeof *attrs);
    int *params = ast_alloc(c->a, (size_t)(np ? np : 1) * sizeof *params);
    int nparams = 0;
    for (int i = 0; i < np; i++) {
        int p = irb_param(c, c_printf(c, "%s.%s", path, ps[i].suffix), &ps[i].shape, ps[i].role, ps[i].init,
                          id, -1, o->loc);
        if (p >= 0) {
            c->m->params[p].dtype = ps[i].dt;
            params[nparams++] = p;
        }
    }
    n = &c->m->nodes[id];
    n->n_in = o->n_in;
    n->in = in;
    n->n_attr = op->n_attrs;
    n->attr = attrs;
    n->n_param = nparams;
    n->param = params;
    n->codebook = o->op == IR_OP_QUANTIZE ? o->cb : -1;
    for (int i = 0; i < o->n_out; i++) {
        ir_shape sh = o->out[i];
        for (int d = sh.rank; d < IR_MAX_RANK; d++) sh.d[d] = 0;
        out[i] = irb_tensor(c, &sh, o->out_dt[i], id, i);
    }
    n = &c->m->nodes[id];
    n->n_out = o->n_out;
    n->out = out;
    n->flops = op->flops(o);
    if (o->op == IR_OP_QUANTIZE) {
        ir_codebook *cb = &c->m->codebooks[o->cb];
        if (cb->n_users++ == 0) {
            cb->node = id;
            for (int i = 0; i < cb->n_param; i++) c->m->params[cb->param[i]].owner = id;
        }
    }
    value r = {0};
    r.kind = V_TENSOR;
    r.t = out[0];
    return r;
}

/* Loads a tensor value's shape and id into input slot i. */
static int load_input(checker *c, op_ctx *o, int i, const value *v, src_loc loc)
{
    const op_info *op = &op_table[o->op];
    if (v->kind != V_TENSOR) {
        diag_error(c->d, loc, "input %d of %s must be a tensor, got %s", i + 1, op->name, value_type_str(c, v));
        return 0;
    }
    o->in[i] = c->m->tensors[v->t].shape;
    o->in_t[i] = v->t;
    o->in_loc[i] = loc;
    return 1;
}

static int check_arity(checker *c, const op_info *op, int n, src_loc loc)
{
    if (n >= op->min_in && (op->max_in < 0 || n <= op->max_in)) return 1;
    if (op->max_in < 0)
        diag_error(c->d, loc, "op '%s' takes at least %d tensor inputs, got %d", op->name, op->min_in, n);
    else if (op->min_in == op->max_in)
        diag_error(c->d, loc, "op '%s' takes %d tensor input%s, got %d", op->name, op->min_in,
                   op->min_in == 1 ? "" : "s", n);
    else
        diag_error(c->d, loc, "op '%s' takes %d to %d tensor inputs, got %d", op->name, op->min_in, op->max_in, n);
    return 0;
}

static int in_graph_check(checker *c, const char *what, src_loc loc)
{
    if (c->in_graph) return 1;
    diag_error(c->d, loc, "%s can only be used in encoder, decoder and discriminator sections and in blocks", what);
    return 0;
}

value op_call(checker *c, scope *s, ir_op opk, const ast_expr *call, const char *path, src_loc path_loc)
{
    const op_info *op = &op_table[opk];
    op_ctx o;
    memset(&o, 0, sizeof o);
    o.c = c;
    o.op = opk;
    o.loc = call->loc;
    o.cb = -1;
    if (!in_graph_check(c, c_printf(c, "op '%s'", op->name), call->loc)) return v_poison();

    int ok = 1, n_pos = 0;
    int seen[OP_MAX_ATTR] = {0};
    int unknown = 0;            /* a misspelled attribute is likely the missing one: no second error */
    const ast_arg *seen_arg[OP_MAX_ATTR] = {0};
    for (const ast_arg *a = call->args; a; a = a->next) {
        if (a->name) continue;
        value v = eval(c, s, a->value);
        if (n_pos < OP_MAX_IN) {
            if (v.kind == V_POISON) ok = 0;
            else if (ok) ok = load_input(c, &o, n_pos, &v, a->value->loc);
        }
        n_pos++;
    }
    if (!check_arity(c, op, n_pos, call->loc)) ok = 0;
    o.n_in = n_pos < OP_MAX_IN ? n_pos : OP_MAX_IN;

    for (const ast_arg *a = call->args; a; a = a->next) {
        if (!a->name) continue;
        int k = -1;
        for (int i = 0; i < op->n_attrs; i++)
            if (strcmp(op->attrs[i].name, a->name) == 0) k = i;
        if (k < 0) {
            const char *names[OP_MAX_ATTR + 1] = {0};
            for (int i = 0; i < op->n_attrs; i++) names[i] = op->attrs[i].name;
            char dym[128];
            did_you_mean_suffix(dym, sizeof dym, a->name, names);
            diag_error(c->d, a->name_loc, "op '%s' has no attribute '%s'%s", op->name, a->name, dym);
            ok = 0;
            unknown = 1;
            continue;
        }
        if (seen[k]) {
            diag_error(c->d, a->name_loc, "attribute '%s' given twice", a->name);
            diag_note(c->d, seen_arg[k]->name_loc, "first given here");
            ok = 0;
            continue;
        }
        seen[k] = 1;
        seen_arg[k] = a;
        o.attr_loc[k] = a->value->loc;
        if (!attr_eval(c, s, &o, &op->attrs[k], a->value, &o.attr[k])) ok = 0;
    }
    for (int i = 0; i < op->n_attrs; i++) {
        if (seen[i]) continue;
        o.attr_loc[i] = call->loc;
        if (op->attrs[i].required) {
            if (!unknown) diag_error(c->d, call->loc, "op '%s' needs attribute '%s'", op->name, op->attrs[i].name);
            ok = 0;
        }
        attr_default(c, &op->attrs[i], &o.attr[i]);
    }
    if (!ok) return v_poison();
    return op_finish(c, &o, path, path_loc);
}

value op_call_values(checker *c, ir_op opk, src_loc loc, const value *in, const src_loc *in_loc, int n_in)
{
    op_ctx o;
    memset(&o, 0, sizeof o);
    o.c = c;
    o.op = opk;
    o.loc = loc;
    o.cb = -1;
    o.n_in = n_in;
    if (!in_graph_check(c, c_printf(c, "op '%s'", op_table[opk].name), loc)) return v_poison();
    for (int i = 0; i < n_in; i++) {
        if (in[i].kind == V_POISON) return v_poison();
        if (!load_input(c, &o, i, &in[i], in_loc[i])) return v_poison();
    }
    return op_finish(c, &o, NULL, loc_none());
}
