/* ir.c: small helpers over the IR: lookups of settings and attributes, and
 * printing shapes and values the same way in every dump. Building the IR is
 * irbuild.c; the dumps are ir_dump.c and ir_summary.c.
 */
#include <stdio.h>
#include <string.h>

#include "ir.h"

const char *ir_graph_name(ir_graph_kind g)
{
    static const char *const names[] = {"encoder", "decoder", "discriminator"};
    return names[g];
}

const ir_setting *ir_setting_find(const ir_section *s, const char *key)
{
    for (int i = 0; i < s->n_set; i++)
        if (strcmp(s->set[i].key, key) == 0) return &s->set[i];
    return NULL;
}

int64_t ir_get_int(const ir_section *s, const char *key, int64_t fallback)
{
    const ir_setting *v = ir_setting_find(s, key);
    return v && v->v.kind == IR_V_INT ? v->v.i : fallback;
}

double ir_get_float(const ir_section *s, const char *key, double fallback)
{
    const ir_setting *v = ir_setting_find(s, key);
    if (v && v->v.kind == IR_V_FLOAT) return v->v.f;
    if (v && v->v.kind == IR_V_INT) return (double)v->v.i;
    return fallback;
}

const char *ir_get_string(const ir_section *s, const char *key, const char *fallback)
{
    const ir_setting *v = ir_setting_find(s, key);
    return v && v->v.kind == IR_V_STRING ? v->v.s : fallback;
}

const ir_attr *ir_attr_find(const ir_node *n, const char *name)
{
    for (int i = 0; i < n->n_attr; i++)
        if (strcmp(n->attr[i].name, name) == 0) return &n->attr[i];
    return NULL;
}

int64_t ir_shape_numel(const ir_shape *s)
{
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) n *= s->d[i] == IR_BATCH ? 1 : s->d[i];
    return n;
}

/* Activations "(B, 128, 16, 16)"; parameters in PyTorch's tuple style "(128,)", "()". */
void ir_shape_str(char *buf, size_t n, const ir_shape *s)
{
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int i = 0; i < s->rank && used < n; i++) {
        if (s->d[i] == IR_BATCH) used += (size_t)snprintf(buf + used, n - used, "%sB", i ? ", " : "");
        else used += (size_t)snprintf(buf + used, n - used, "%s%lld", i ? ", " : "", (long long)s->d[i]);
    }
    if (used < n) snprintf(buf + used, n - used, s->rank == 1 ? ",)" : ")");
}

void ir_value_str(char *buf, size_t n, const ir_value *v)
{
    size_t used = 0;
    switch (v->kind) {
    case IR_V_NONE: snprintf(buf, n, "none"); return;
    case IR_V_INT: snprintf(buf, n, "%lld", (long long)v->i); return;
    case IR_V_FLOAT: snprintf(buf, n, "%g", v->f); return;
    case IR_V_BOOL: snprintf(buf, n, "%s", v->b ? "true" : "false"); return;
    case IR_V_STRING: snprintf(buf, n, "%s", v->s); return;
    case IR_V_INTS:
    case IR_V_FLOATS:
    case IR_V_STRINGS:
        used = (size_t)snprintf(buf, n, "[");
        for (int i = 0; i < v->n && used < n; i++) {
            const char *sep = i ? ", " : "";
            if (v->kind == IR_V_INTS) used += (size_t)snprintf(buf + used, n - used, "%s%lld", sep, (long long)v->ints[i]);
            else if (v->kind == IR_V_FLOATS) used += (size_t)snprintf(buf + used, n - used, "%s%g", sep, v->floats[i]);
            else used += (size_t)snprintf(buf + used, n - used, "%s%s", sep, v->strs[i]);
        }
        if (used < n) snprintf(buf + used, n - used, "]");
        return;
    }
}
