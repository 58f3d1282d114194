/* emit_expr.c: the expression helpers the op emitters share (emit_ops.h):
 * pointers to values, parameters and gradients inside the generated
 * functions, element counts and shape text. In generated code:
 *   A   the activation arena, MB its max batch, F its fixed part, S the scratch
 *   P, G, BU   the params, grads and buffers slabs;  B the running batch
 */
#include <stdarg.h>
#include <string.h>

#include "emit_ops.h"

static char *slot(emit_ctx *e)
{
    char *s = e->ring[e->ring_i];
    e->ring_i = (e->ring_i + 1) % 32;
    return s;
}

const char *e_fmt(emit_ctx *e, const char *fmt, ...)
{
    char *s = slot(e);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s, sizeof e->ring[0], fmt, ap);
    va_end(ap);
    return s;
}

const char *e_val(emit_ctx *e, int v)
{
    if (v < 0) return "NULL";
    const pv *p = &e->g->vals[v];
    if (p->per_image) return e_fmt(e, "(A + (size_t)%lld * MB)", (long long)p->offset);
    return e_fmt(e, "(F + %lld)", (long long)p->offset);
}

const char *e_act(emit_ctx *e, int t)
{
    if (e->in_backward && t >= 0 && e->g->rval[t] >= 0) return e_val(e, e->g->rval[t]);
    return e_val(e, e->g->tval[t]);
}
const char *e_grad(emit_ctx *e, int t) { return e_val(e, e->g->gval[t]); }

const char *e_param(emit_ctx *e, int p)
{
    if (p < 0) return "NULL";
    const ir_param *ip = &e->g->m->params[p];
    return e_fmt(e, "(%s + %lld)", ip->role == IR_TRAINABLE ? "P" : "BU", (long long)e->g->param_off[p]);
}

const char *e_dparam(emit_ctx *e, int p)
{
    if (p < 0 || e->g->m->params[p].role != IR_TRAINABLE || e->no_param_grads) return "NULL";
    return e_fmt(e, "(G + %lld)", (long long)e->g->param_off[p]);
}

const char *e_numel(emit_ctx *e, int t) { return e_fmt(e, "((size_t)B * %lld)", (long long)cg_tensor_per_image(e->g, t)); }

const char *e_shape(emit_ctx *e, int t)
{
    char buf[96];
    ir_shape_str(buf, sizeof buf, &e->g->m->tensors[t].shape);
    return e_fmt(e, "%s", buf);
}

int e_node_param(const cg *g, const ir_node *n, const char *suffix)
{
    size_t ls = strlen(suffix);
    for (int i = 0; i < n->n_param; i++) {
        const char *name = g->m->params[n->param[i]].name;
        size_t ln = strlen(name);
        if (ln > ls && name[ln - ls - 1] == '.' && strcmp(name + ln - ls, suffix) == 0) return n->param[i];
    }
    return -1;
}
