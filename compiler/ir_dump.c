/* ir_dump.c: the IR as text: `--dump=graph` (every node with its shapes,
 * attributes with defaults marked, instance path and .vq location, then the
 * sections' settings), `--dump=params` (state_dict names) and `--dot`
 * (Graphviz). The text is stable: golden tests hold it.
 */
#include <stdio.h>
#include <string.h>

#include "ir.h"

static void loc_str(char *buf, size_t n, src_loc l)
{
    if (l.file) snprintf(buf, n, "%s:%d:%d", l.file->path, l.first_line, l.first_col);
    else snprintf(buf, n, "-");
}

static void init_str(char *buf, size_t n, const ir_model *m, const ir_init *i)
{
    switch (i->kind) {
    case IR_INIT_ZEROS: snprintf(buf, n, "zeros"); break;
    case IR_INIT_ONES: snprintf(buf, n, "ones"); break;
    case IR_INIT_UNIFORM: snprintf(buf, n, "uniform(%g, %g)", i->a, i->b); break;
    case IR_INIT_NORMAL: snprintf(buf, n, "normal(%g, %g)", i->a, i->b); break;
    case IR_INIT_PYTORCH: snprintf(buf, n, "pytorch(fan_in=%lld)", (long long)i->fan_in); break;
    case IR_INIT_KMEANS: snprintf(buf, n, "kmeans"); break;
    case IR_INIT_COPY: snprintf(buf, n, "copy(%s)", m->params[i->source].name); break;
    }
}

static void dump_param(FILE *out, const ir_model *m, const ir_param *p, const char *indent)
{
    char sh[96], in[128];
    ir_shape_str(sh, sizeof sh, &p->shape);
    init_str(in, sizeof in, m, &p->init);
    fprintf(out, "%sparam %s %s %s%s %s\n", indent, p->name, sh, p->role == IR_TRAINABLE ? "trainable" : "buffer",
            p->dtype == IR_I32 ? " int" : "", in);
}

static void dump_section(FILE *out, const ir_section *s)
{
    if (s->name) fprintf(out, "%s %s%s\n", s->kind, s->name, s->present ? "" : " (absent: all defaults)");
    else fprintf(out, "%s%s\n", s->kind, s->present ? "" : " (absent: all defaults)");
    for (int i = 0; i < s->n_set; i++) {
        char v[256];
        ir_value_str(v, sizeof v, &s->set[i].v);
        fprintf(out, "  %s = %s%s\n", s->set[i].key, v, s->set[i].is_default ? "  (default)" : "");
    }
}

static void tensor_ref(char *buf, size_t n, const ir_model *m, int t)
{
    char sh[96];
    ir_shape_str(sh, sizeof sh, &m->tensors[t].shape);
    snprintf(buf, n, "%%%d %s%s", t, sh, m->tensors[t].dtype == IR_I32 ? " int" : "");
}

static void dump_node(FILE *out, const ir_model *m, const ir_node *n)
{
    char where[256], buf[160];
    loc_str(where, sizeof where, n->loc);
    fprintf(out, "  n%d %s(", n->id, ir_op_name(n->op));
    for (int i = 0; i < n->n_in; i++) fprintf(out, "%s%%%d", i ? ", " : "", n->in[i]);
    fprintf(out, ") ->");
    for (int i = 0; i < n->n_out; i++) {
        tensor_ref(buf, sizeof buf, m, n->out[i]);
        fprintf(out, "%s %s", i ? "," : "", buf);
    }
    fprintf(out, "  %s  @ %s\n", n->path ? n->path : "-", where);
    if (n->n_attr) {
        fprintf(out, "     ");
        for (int i = 0; i < n->n_attr; i++) {
            char v[160];
            ir_value_str(v, sizeof v, &n->attr[i].v);
            fprintf(out, " %s=%s%s", n->attr[i].name, v, n->attr[i].is_default ? "*" : "");
        }
        fprintf(out, "\n");
    }
    for (int i = 0; i < n->n_param; i++) dump_param(out, m, &m->params[n->param[i]], "      ");
}

void ir_dump(FILE *out, const ir_model *m)
{
    char buf[256];
    fprintf(out, "model %s (%s)\n", m->name ? m->name : "?", m->src ? m->src->path : "?");
    fprintf(out, "(attributes marked * and keys marked (default) were not written)\n\n");
    fprintf(out, "params\n");
    for (int i = 0; i < m->n_defs; i++)
        fprintf(out, "  %s = %s%s\n", m->defs[i].key, m->defs[i].v.s, m->defs[i].is_default ? "" : "  (-D)");
    fprintf(out, "\n");
    dump_section(out, &m->data);
    ir_shape_str(buf, sizeof buf, &m->image);
    fprintf(out, "  image %s\n\n", buf);
    for (int i = 0; i < m->n_codebooks; i++) {
        const ir_codebook *cb = &m->codebooks[i];
        dump_section(out, &cb->settings);
        for (int j = 0; j < cb->n_param; j++) dump_param(out, m, &m->params[cb->param[j]], "  ");
        fprintf(out, "\n");
    }
    for (int g = 0; g < IR_GRAPH_COUNT; g++) {
        const ir_graph *gr = &m->graphs[g];
        if (!gr->present) continue;
        fprintf(out, "%s\n", ir_graph_name((ir_graph_kind)g));
        for (int i = 0; i < gr->n_in; i++) {
            tensor_ref(buf, sizeof buf, m, gr->in[i]);
            fprintf(out, "  input %s = %s\n", gr->in_names[i], buf);
        }
        for (int i = gr->first_node; i < gr->first_node + gr->n_nodes; i++) dump_node(out, m, &m->nodes[i]);
        for (int i = 0; i < gr->n_out; i++) {
            tensor_ref(buf, sizeof buf, m, gr->out[i]);
            fprintf(out, "  output %s = %s\n", gr->out_names[i], buf);
        }
        fprintf(out, "\n");
    }
    dump_section(out, &m->loss);
    fprintf(out, "\n");
    for (int i = 0; i < m->n_optimizers; i++) {
        dump_section(out, &m->optimizers[i]);
        fprintf(out, "\n");
    }
    dump_section(out, &m->train);
}

void ir_dump_params(FILE *out, const ir_model *m)
{
    for (int i = 0; i < m->n_params; i++) {
        char sh[96];
        ir_shape_str(sh, sizeof sh, &m->params[i].shape);
        fprintf(out, "%s %s %s\n", m->params[i].name, sh, m->params[i].role == IR_TRAINABLE ? "trainable" : "buffer");
    }
}

void ir_dot(FILE *out, const ir_model *m)
{
    fprintf(out, "digraph \"%s\" {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n",
            m->name ? m->name : "model");
    fprintf(out, "  edge [fontname=\"monospace\", fontsize=8];\n");
    for (int g = 0; g < IR_GRAPH_COUNT; g++) {
        const ir_graph *gr = &m->graphs[g];
        if (!gr->present) continue;
        fprintf(out, "  subgraph cluster_%s {\n    label=\"%s\";\n", ir_graph_name((ir_graph_kind)g),
                ir_graph_name((ir_graph_kind)g));
        for (int i = 0; i < gr->n_in; i++)
            if (m->tensors[gr->in[i]].producer < 0)
                fprintf(out, "    t%d [shape=ellipse, label=\"%s\"];\n", gr->in[i], gr->in_names[i]);
        for (int i = gr->first_node; i < gr->first_node + gr->n_nodes; i++) {
            const ir_node *n = &m->nodes[i];
            fprintf(out, "    n%d [label=\"%s%s%s\"];\n", n->id, ir_op_name(n->op), n->path ? "\\n" : "",
                    n->path ? n->path : "");
        }
        for (int i = 0; i < gr->n_out; i++)
            fprintf(out, "    out_%d_%d [shape=ellipse, label=\"%s\"];\n", g, i, gr->out_names[i]);
        fprintf(out, "  }\n");
    }
    /* edges: producer -> consumer, labelled with the tensor's shape */
    for (int i = 0; i < m->n_nodes; i++) {
        const ir_node *n = &m->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            const ir_tensor *t = &m->tensors[n->in[k]];
            char sh[96];
            ir_shape_str(sh, sizeof sh, &t->shape);
            if (t->producer >= 0) fprintf(out, "  n%d -> n%d [label=\"%s\"];\n", t->producer, n->id, sh);
            else fprintf(out, "  t%d -> n%d [label=\"%s\"];\n", t->id, n->id, sh);
        }
    }
    for (int g = 0; g < IR_GRAPH_COUNT; g++) {
        const ir_graph *gr = &m->graphs[g];
        for (int i = 0; gr->present && i < gr->n_out; i++) {
            const ir_tensor *t = &m->tensors[gr->out[i]];
            if (t->producer >= 0) fprintf(out, "  n%d -> out_%d_%d;\n", t->producer, g, i);
        }
    }
    fprintf(out, "}\n");
}
