/* ir_summary.c: `vqc --summary`: parameter counts per top-level module (the
 * first segment of the state_dict name; the discriminator's tensors, named
 * loss.discriminator.*, count as "discriminator") and in total, trainable vs
 * buffers; the tensor shape at each stage; forward FLOPs for batch 1.
 *
 * FLOPs follow ops.c's convention: a multiply-add is 2 FLOPs, bias adds 1,
 * norms 4 per element, softmax 3, other elementwise ops 1, data movement 0.
 */
#include <stdio.h>
#include <string.h>

#include "ir.h"

/* 29298176 -> "29,298,176" */
static void commas(char *buf, size_t n, int64_t v)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)(v < 0 ? -v : v));
    size_t len = strlen(raw), k = 0;
    if (v < 0 && k + 1 < n) buf[k++] = '-';
    for (size_t i = 0; i < len && k + 2 < n; i++) {
        buf[k++] = raw[i];
        if ((len - i - 1) % 3 == 0 && i + 1 < len) buf[k++] = ',';
    }
    buf[k] = 0;
}

static void flops_str(char *buf, size_t n, int64_t f)
{
    char c[40];
    commas(c, sizeof c, f);
    snprintf(buf, n, "%9.3f GFLOP  (%s)", (double)f / 1e9, c);
}

#define MAX_MODULES 64

void ir_summary(FILE *out, const ir_model *m)
{
    const char *mods[MAX_MODULES];
    int64_t train[MAX_MODULES] = {0}, buf[MAX_MODULES] = {0}, tt = 0, tb = 0;
    int n_mods = 0;
    for (int i = 0; i < m->n_params; i++) {
        const ir_param *p = &m->params[i];
        int k = 0;
        while (k < n_mods && strcmp(mods[k], p->module) != 0) k++;
        if (k == n_mods && n_mods < MAX_MODULES) mods[n_mods++] = p->module;
        if (k >= MAX_MODULES) continue;
        int64_t n = 1;
        for (int d = 0; d < p->shape.rank; d++) n *= p->shape.d[d];
        if (p->role == IR_TRAINABLE) { train[k] += n; tt += n; }
        else { buf[k] += n; tb += n; }
    }
    char a[40], b[40], s[96];
    fprintf(out, "model %s (%s)\n\n", m->name ? m->name : "?", m->src ? m->src->path : "?");
    fprintf(out, "%-28s %14s %14s\n", "parameters", "trainable", "buffers");
    for (int k = 0; k < n_mods; k++) {
        commas(a, sizeof a, train[k]);
        commas(b, sizeof b, buf[k]);
        fprintf(out, "  %-26s %14s %14s\n", mods[k], a, b);
    }
    commas(a, sizeof a, tt);
    commas(b, sizeof b, tb);
    fprintf(out, "  %-26s %14s %14s\n\n", "total", a, b);

    fprintf(out, "stages (B = batch)\n");
    ir_shape_str(s, sizeof s, &m->image);
    fprintf(out, "  %-26s %s\n", "image", s);
    const ir_graph *enc = &m->graphs[IR_ENCODER], *dec = &m->graphs[IR_DECODER], *dis = &m->graphs[IR_DISCRIMINATOR];
    for (int i = 0; i < enc->n_out; i++) {
        const ir_tensor *t = &m->tensors[enc->out[i]];
        ir_shape_str(s, sizeof s, &t->shape);
        fprintf(out, "  %-26s %s\n", enc->out_names[i], s);
        if (t->producer < 0) continue;
        const ir_node *q = &m->nodes[t->producer];
        if (q->codebook < 0 || q->n_out < 2) continue;
        const ir_codebook *cb = &m->codebooks[q->codebook];
        ir_shape_str(s, sizeof s, &m->tensors[q->out[1]].shape);
        char label[64];
        snprintf(label, sizeof label, "codes %s", cb->name);
        fprintf(out, "  %-26s %s of %lld entries (dim %lld)\n", label, s, (long long)cb->entries, (long long)cb->dim);
    }
    for (int i = 0; i < dec->n_out; i++) {
        ir_shape_str(s, sizeof s, &m->tensors[dec->out[i]].shape);
        fprintf(out, "  %-26s %s\n", "reconstruction", s);
    }
    for (int i = 0; i < dis->n_out; i++) {
        ir_shape_str(s, sizeof s, &m->tensors[dis->out[i]].shape);
        fprintf(out, "  %-26s %s\n", "logits", s);
    }

    fprintf(out, "\nforward FLOPs, batch 1 (multiply-add = 2)\n");
    int64_t total = 0;
    for (int g = 0; g < IR_GRAPH_COUNT; g++) {
        const ir_graph *gr = &m->graphs[g];
        if (!gr->present) continue;
        int64_t f = 0;
        for (int i = gr->first_node; i < gr->first_node + gr->n_nodes; i++) f += m->nodes[i].flops;
        if (g != IR_DISCRIMINATOR) total += f;
        flops_str(s, sizeof s, f);
        fprintf(out, "  %-26s %s\n", g == IR_DISCRIMINATOR ? "discriminator (1 image)" : ir_graph_name((ir_graph_kind)g), s);
    }
    flops_str(s, sizeof s, total);
    fprintf(out, "  %-26s %s\n", "encoder + decoder", s);
}
