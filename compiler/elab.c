/* elab.c: elaboration of bodies: statements, block calls, unrolled `for`
 * loops, `if/else`, and instance paths.
 *
 * Nothing is kept symbolic: a loop runs its body once per item, an `if`
 * takes one branch, a block call runs the block's body in a fresh scope under
 * the call's instance path ("encoder" + `as down[1].block[0]` ->
 * "encoder.down.1.block.0"). The ops met on the way become graph nodes in
 * execution order, which is a topological order.
 */
#include <stdio.h>
#include <string.h>

#include "checker.h"

block_def *block_find(checker *c, const char *name)
{
    for (block_def *b = c->blocks; b; b = b->next)
        if (strcmp(b->name, name) == 0) return b;
    return NULL;
}

/* ---- instance paths ------------------------------------------------------- */

const char *path_eval(checker *c, scope *s, const ast_path *p, int *ok)
{
    char buf[1024];
    size_t used = (size_t)snprintf(buf, sizeof buf, "%s", c->prefix);
    *ok = 1;
    for (const ast_path_seg *g = p->first; g; g = g->next) {
        const char *sep = used ? "." : "";
        if (g->name) {
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%s", sep, g->name);
        } else {
            int64_t i;
            if (!eval_int(c, s, g->index, &i)) { *ok = 0; return NULL; }
            if (i < 0) {
                diag_error(c->d, g->index->loc, "instance path index must be >= 0, got %lld", (long long)i);
                *ok = 0;
                return NULL;
            }
            used += (size_t)snprintf(buf + used, sizeof buf - used, "%s%lld", sep, (long long)i);
        }
        if (used >= sizeof buf) {
            diag_error(c->d, p->loc, "instance path is too long");
            *ok = 0;
            return NULL;
        }
    }
    return c_strdup(c, buf);
}

/* ---- block calls ------------------------------------------------------------- */

static const char *call_chain(checker *c, const ast_item *callee)
{
    char buf[512];
    size_t used = 0;
    int start = 0;
    while (start < c->depth && c->stack[start] != callee) start++;
    for (int i = start; i < c->depth && used < sizeof buf; i++)
        used += (size_t)snprintf(buf + used, sizeof buf - used, "%s -> ", c->stack[i]->name);
    if (used < sizeof buf) snprintf(buf + used, sizeof buf - used, "%s", callee->name);
    return c_strdup(c, buf);
}

static const ast_formal *formal_find(const ast_item *b, const char *name)
{
    for (const ast_formal *f = b->formals; f; f = f->next)
        if (strcmp(f->name, name) == 0) return f;
    return NULL;
}

/* Binds a call's arguments to the block's formals in scope bs; 0 on error. */
static int bind_args(checker *c, scope *caller, scope *bs, const ast_item *b, const ast_expr *call)
{
    int ok = 1, n_formals = 0;
    for (const ast_formal *f = b->formals; f; f = f->next) n_formals++;
    const ast_arg **given = ast_alloc(c->a, (size_t)(n_formals + 1) * sizeof *given);

    /* positional arguments fill the tensor formals in order */
    const ast_formal *next_tensor = b->formals;
    int n_pos = 0, n_tensor = 0;
    for (const ast_formal *f = b->formals; f; f = f->next) n_tensor += f->type->kind == TY_TENSOR;
    for (const ast_arg *a = call->args; a; a = a->next) {
        if (a->name) continue;
        n_pos++;
        while (next_tensor && next_tensor->type->kind != TY_TENSOR) next_tensor = next_tensor->next;
        if (!next_tensor) continue;
        int k = 0;
        for (const ast_formal *f = b->formals; f != next_tensor; f = f->next) k++;
        given[k] = a;
        next_tensor = next_tensor->next;
    }
    if (n_pos > n_tensor) {
        diag_error(c->d, call->loc, "block '%s' takes %d tensor argument%s by position, got %d "
                   "(compile-time arguments are passed by keyword)", b->name, n_tensor, n_tensor == 1 ? "" : "s", n_pos);
        ok = 0;
    }
    for (const ast_arg *a = call->args; a; a = a->next) {
        if (!a->name) continue;
        const ast_formal *f = formal_find(b, a->name);
        if (!f) {
            const char **names = ast_alloc(c->a, (size_t)(n_formals + 1) * sizeof *names);
            int k = 0;
            for (const ast_formal *g = b->formals; g; g = g->next) names[k++] = g->name;
            char dym[128];
            did_you_mean_suffix(dym, sizeof dym, a->name, names);
            diag_error(c->d, a->name_loc, "block '%s' has no argument '%s'%s", b->name, a->name, dym);
            ok = 0;
            continue;
        }
        int k = 0;
        for (const ast_formal *g = b->formals; g != f; g = g->next) k++;
        if (given[k]) {
            diag_error(c->d, a->name_loc, "argument '%s' given twice", a->name);
            diag_note(c->d, given[k]->name ? given[k]->name_loc : given[k]->loc, "first given here");
            ok = 0;
            continue;
        }
        given[k] = a;
    }

    int k = 0;
    for (const ast_formal *f = b->formals; f; f = f->next, k++) {
        value v;
        if (given[k]) {
            v = eval(c, caller, given[k]->value);
        } else if (f->dflt) {
            v = eval(c, bs, f->dflt);           /* defaults may use earlier formals and globals */
        } else {
            diag_error(c->d, call->loc, "block '%s' needs argument '%s'", b->name, f->name);
            diag_note(c->d, f->loc, "'%s' is declared here", f->name);
            ok = 0;
            v = v_poison();
        }
        if (v.kind == V_POISON) ok = 0;
        else if (!value_fits(&v, f->type)) {
            diag_error(c->d, given[k] ? given[k]->value->loc : f->dflt->loc,
                       "argument '%s' of block '%s' must be %s, got %s", f->name, b->name,
                       type_str(c, f->type), value_type_str(c, &v));
            ok = 0;
            v = v_poison();
        }
        scope_bind(c, bs, f->name, v, f->loc, B_FORMAL);
    }
    return ok;
}

static value block_call(checker *c, scope *s, const ast_item *b, const ast_expr *call, const ast_path *path)
{
    for (int i = 0; i < c->depth; i++)
        if (c->stack[i] == b) {
            diag_error(c->d, call->loc, "recursive block call: %s", call_chain(c, b));
            diag_note(c->d, b->name_loc, "block '%s' is defined here", b->name);
            return v_poison();
        }
    if (c->depth >= CALL_DEPTH_MAX) {
        diag_error(c->d, call->loc, "block calls nested deeper than %d", CALL_DEPTH_MAX);
        return v_poison();
    }
    const char *prefix = c->prefix;
    if (path) {
        int ok;
        prefix = path_eval(c, s, path, &ok);
        if (!ok) return v_poison();
    }
    scope bs = {&c->globals, NULL};
    if (!bind_args(c, s, &bs, b, call)) return v_poison();

    const char *saved_prefix = c->prefix;
    int saved_returned = c->returned;
    value saved_ret = c->ret;
    c->stack[c->depth] = b;
    c->stack_loc[c->depth] = call->loc;
    c->depth++;
    c->prefix = prefix;
    c->returned = 0;
    c->ret = v_none();

    elab_body(c, &bs, b->body);
    value r = c->ret;

    c->depth--;
    c->prefix = saved_prefix;
    c->returned = saved_returned;
    c->ret = saved_ret;
    return r;
}

value elab_call(checker *c, scope *s, const ast_expr *call, const ast_path *path, src_loc as_loc)
{
    const char *name = call->lhs->s;
    int op = op_lookup(name);
    if (op >= 0) {
        const char *full = NULL;
        if (path) {
            int ok;
            full = path_eval(c, s, path, &ok);
            if (!ok) return v_poison();
        }
        return op_call(c, s, (ir_op)op, call, full, as_loc);
    }
    block_def *b = block_find(c, name);
    if (b) {
        if (!c->in_graph) {
            diag_error(c->d, call->loc, "block '%s' can only be called in encoder, decoder and discriminator "
                       "sections and in blocks", name);
            return v_poison();
        }
        return block_call(c, s, b->item, call, path);
    }
    /* unknown: suggest among ops, blocks and builtins (unless an import failed
     * to parse: the block is probably there) */
    if (c->import_failed) return v_poison();
    int n = 0;
    for (block_def *d = c->blocks; d; d = d->next) n++;
    const char **cands = ast_alloc(c->a, (size_t)(n + IR_OP_COUNT + 16) * sizeof *cands);
    int k = 0;
    for (const char *const *o = op_names(); *o; o++) cands[k++] = *o;
    for (block_def *d = c->blocks; d; d = d->next) cands[k++] = d->name;
    static const char *const bi[] = {"len", "range", "min", "max", "channels", "height", "width", "in", "int", "float"};
    for (size_t i = 0; i < sizeof bi / sizeof bi[0]; i++) cands[k++] = bi[i];
    char dym[128];
    did_you_mean_suffix(dym, sizeof dym, name, cands);
    diag_error(c->d, call->lhs->loc, "unknown op or block '%s'%s", name, dym);
    /* evaluate the arguments anyway: their own mistakes are worth reporting */
    for (const ast_arg *a = call->args; a; a = a->next)
        if (a->value->kind != EXPR_NAME) (void)eval(c, s, a->value);
    return v_poison();
}

value elab_add(checker *c, const ast_expr *e, value a, value b)
{
    value in[2] = {a, b};
    src_loc locs[2] = {e->lhs->loc, e->rhs->loc};
    return op_call_values(c, IR_OP_ADD, e->loc, in, locs, 2);
}

/* ---- statements ------------------------------------------------------------------ */

static void assign(checker *c, scope *s, const ast_name *target, value v)
{
    if (v.kind == V_TENSOR && !c->m->tensors[v.t].name) c->m->tensors[v.t].name = target->name;
    binding *b = scope_find_local(s, target->name);
    if (b && (b->kind == B_LOCAL || b->kind == B_FORMAL || b->kind == B_LOOP)) {
        b->v = v;
        return;
    }
    if (b && b->kind == B_LET) {
        diag_error(c->d, target->loc, "cannot assign to '%s', a let", target->name);
        diag_note(c->d, b->loc, "'%s' is defined here", target->name);
        return;
    }
    scope_bind(c, s, target->name, v, target->loc, B_LOCAL);
}

static void stmt_assign(checker *c, scope *s, const ast_stmt *st)
{
    value v = eval(c, s, st->value);
    int n = 0;
    for (const ast_name *t = st->names; t; t = t->next) n++;
    if (n == 1) { assign(c, s, st->names, v); return; }
    /* a, b = f(...): unpack a list of n values */
    if (v.kind != V_POISON && (v.kind != V_LIST || v.n != n)) {
        diag_error(c->d, st->value->loc, "cannot unpack %s into %d names", value_type_str(c, &v), n);
        v = v_poison();
    }
    int i = 0;
    for (const ast_name *t = st->names; t; t = t->next, i++)
        assign(c, s, t, v.kind == V_POISON ? v : v.items[i]);
}

static void stmt_let(checker *c, scope *s, const ast_stmt *st)
{
    value v = eval(c, s, st->value);
    binding *b = scope_find_local(s, st->names->name);
    if (b && b->kind == B_LET && b->loc.first_line == st->names->loc.first_line &&
        b->loc.first_col == st->names->loc.first_col && b->loc.file == st->names->loc.file) {
        b->v = v;                               /* the same `let` run again by a loop */
        return;
    }
    if (b) {
        diag_error(c->d, st->names->loc, "'%s' is already defined", st->names->name);
        diag_note(c->d, b->loc, "previous definition is here");
        return;
    }
    scope_bind(c, s, st->names->name, v, st->names->loc, B_LET);
}

static void stmt_for(checker *c, scope *s, const ast_stmt *st)
{
    value it = eval(c, s, st->value);
    if (it.kind == V_POISON) return;
    if (it.kind != V_LIST) {
        diag_error(c->d, st->value->loc, "'for' needs a list or range(...), got %s", value_type_str(c, &it));
        return;
    }
    const ast_name *v1 = st->names, *v2 = st->names ? st->names->next : NULL;
    for (int i = 0; i < it.n && !c->returned; i++) {
        /* `for i, m in list`: i is the index, m the item; `for m in list`: the item */
        if (v2) {
            assign(c, s, v1, v_int(i));
            assign(c, s, v2, it.items[i]);
        } else {
            assign(c, s, v1, it.items[i]);
        }
        int errors = c->d->errors;
        elab_body(c, s, st->body);
        if (c->d->errors > errors) break;      /* the same mistake in every iteration: say it once */
    }
}

static void stmt_if(checker *c, scope *s, const ast_stmt *st)
{
    value cond = eval(c, s, st->value);
    if (cond.kind == V_POISON) return;
    if (cond.kind != V_BOOL) {
        diag_error(c->d, st->value->loc, "'if' needs a bool, got %s", value_type_str(c, &cond));
        return;
    }
    if (cond.b) elab_body(c, s, st->body);
    else if (st->else_body) elab_body(c, s, st->else_body);
}

static void stmt_assert(checker *c, scope *s, const ast_stmt *st)
{
    value cond = eval(c, s, st->value);
    if (cond.kind == V_POISON) return;
    if (cond.kind != V_BOOL) {
        diag_error(c->d, st->value->loc, "'assert' needs a bool, got %s", value_type_str(c, &cond));
        return;
    }
    if (!cond.b) diag_error(c->d, st->value->loc, "assertion failed%s%s", st->message ? ": " : "",
                            st->message ? st->message : "");
}

void elab_body(checker *c, scope *s, const ast_stmt *body)
{
    for (const ast_stmt *st = body; st && !c->returned; st = st->next) {
        switch (st->kind) {
        case STMT_ASSIGN: stmt_assign(c, s, st); break;
        case STMT_LET: stmt_let(c, s, st); break;
        case STMT_FOR: stmt_for(c, s, st); break;
        case STMT_IF: stmt_if(c, s, st); break;
        case STMT_ASSERT: stmt_assert(c, s, st); break;
        case STMT_EXPR: (void)eval(c, s, st->value); break;
        case STMT_INPUT:
        case STMT_OUTPUT:
            if (c->depth > 0 || !c->in_graph)
                diag_error(c->d, st->loc, "'%s' is only allowed at the top of an encoder, decoder or discriminator",
                           st->kind == STMT_INPUT ? "input" : "output");
            else if (st->kind == STMT_INPUT) graph_input(c, s, st);
            else graph_output(c, s, st);
            break;
        case STMT_RETURN:
            if (c->depth == 0) {
                diag_error(c->d, st->loc, "'return' is only allowed in a block; sections use 'output'");
                break;
            }
            c->ret = eval(c, s, st->value);
            c->returned = 1;
            break;
        case STMT_ERROR: break;
        }
    }
}
