/* memlimit.c: memory to train a planned model (memlimit.h), the `-o` refusal
 * when it exceeds --max-memory (default: physical RAM), and size parsing.
 *
 * The scratch estimate follows the runtime kernels without calling them (the
 * compiler does not link them into every tool): a convolution's column band
 * is K*R*Wo floats with K = C*kh*kw and R = max(1, min(Ho, budget / (K*Wo)))
 * (runtime/kernels/im2col.h, vq_col_tile_rows); attention's is N*N floats for
 * N = H*W positions (runtime/kernels/attention.c); conv_transpose2d's columns
 * are Co*kh*kw rows over the input's H x W grid (conv_transpose2d.c, geom_of).
 * Not counted: group_norm's throw-away dx when its input needs no gradient.
 */
#include "memlimit.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kernels/im2col.h"   /* VQ_COL_BUDGET_FLOATS: the kernels' column budget */

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* Floats of the column band for K column rows, Ho output rows of Wo. */
static int64_t col_band(int64_t K, int64_t Ho, int64_t Wo)
{
    int64_t per_row = K * Wo;
    if (per_row <= 0) return 0;
    int64_t rows = (int64_t)VQ_COL_BUDGET_FLOATS / per_row;
    if (rows < 1) rows = 1;
    if (rows > Ho) rows = Ho;
    return per_row * rows;
}

static int64_t scratch_floats(const ir_model *m)
{
    int64_t s = 16;   /* the generated plan_scratch's minimum */
    for (int i = 0; i < m->n_nodes; i++) {
        const ir_node *n = &m->nodes[i];
        if (n->n_in < 1 || n->n_out < 1) continue;
        const ir_shape *x = &m->tensors[n->in[0]].shape, *y = &m->tensors[n->out[0]].shape;
        if (x->rank != 4 || y->rank != 4) continue;
        if (n->op == IR_OP_CONV2D) {
            int64_t k = cg_attr_int(n, "kernel");
            s = max64(s, col_band(x->d[1] * k * k, y->d[2], y->d[3]));
        } else if (n->op == IR_OP_CONV_TRANSPOSE2D) {
            int64_t k = cg_attr_int(n, "kernel");
            s = max64(s, col_band(y->d[1] * k * k, x->d[2], x->d[3]));   /* columns over Co*k*k, one per input pixel */
        } else if (n->op == IR_OP_ATTENTION) {
            s = max64(s, x->d[2] * x->d[3] * x->d[2] * x->d[3]);
        }
    }
    return s;
}

void cg_memory_plan(cg_memory *out, const cg *g)
{
    const ir_model *m = g->m;
    memset(out, 0, sizeof *out);
    out->batch = ir_get_int(&m->train, "batch", 1);
    double B = (double)out->batch;
    out->arena = ((double)g->arena_per_image * B + (double)g->arena_fixed) * 4.0;
    out->naive = ((double)g->naive_per_image * B + (double)g->naive_fixed) * 4.0;
    out->scratch = (double)scratch_floats(m) * 4.0;
    out->slabs = (2.0 * (double)g->n_param_floats + (double)g->n_buffer_floats) * 4.0;
    int factor = 0;
    for (int o = 0; o < m->n_optimizers; o++) {
        const ir_section *os = &m->optimizers[o];
        const char *kind = ir_get_string(os, "kind", "adam");
        int f = strcmp(kind, "sgd") ? 2 : ir_get_float(os, "momentum", 0.0) > 0.0;
        if (f > factor) { factor = f; out->optim_kind = kind; }
    }
    out->optim = (double)factor * (double)g->n_param_floats * 4.0;
    out->total = out->arena + out->scratch + out->slabs + out->optim;
}

/* "1.50 GiB", "12.3 MiB", "512 bytes": the unit a person reads. */
static const char *human(char *buf, size_t n, double bytes)
{
    if (bytes >= 1024.0 * 1024 * 1024) snprintf(buf, n, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
    else if (bytes >= 1024.0 * 1024) snprintf(buf, n, "%.2f MiB", bytes / (1024.0 * 1024));
    else if (bytes >= 1024.0) snprintf(buf, n, "%.2f KiB", bytes / 1024.0);
    else snprintf(buf, n, "%.0f bytes", bytes);
    return buf;
}

static int has_def(const ir_model *m, const char *name)
{
    for (int i = 0; i < m->n_defs; i++)
        if (strcmp(m->defs[i].key, name) == 0) return 1;
    return 0;
}

int pass_memlimit(const cg *g, uint64_t limit)
{
    if (limit == 0) return 0;
    cg_memory mem;
    cg_memory_plan(&mem, g);
    if (mem.total <= (double)limit) return 0;
    const ir_model *m = g->m;
    const ir_setting *bs = ir_setting_find(&m->train, "batch");
    src_loc loc = bs && !bs->is_default ? bs->loc : (m->train.present ? m->train.loc : (src_loc){0});
    char a[32], b[32], c[32], d[32], e[32], f[32], t[32];
    diag_error(g->d, loc,
               "planned memory to train %s at batch %lld is %.0f bytes (%s), more than the limit of %llu bytes (%s)",
               m->name, (long long)mem.batch, mem.total, human(t, sizeof t, mem.total), (unsigned long long)limit,
               human(a, sizeof a, (double)limit));
    diag_note(g->d, (src_loc){0}, "activation arena %s, conv/attention scratch %s, parameters + gradients + buffers %s, "
                         "optimizer state %s",
              human(b, sizeof b, mem.arena), human(c, sizeof c, mem.scratch), human(d, sizeof d, mem.slabs),
              human(e, sizeof e, mem.optim));
    /* The largest batch that fits: only the arena's per-image part grows with B. */
    double fixed = mem.total - (double)g->arena_per_image * 4.0 * (double)mem.batch;
    double per = (double)g->arena_per_image * 4.0;
    double fit = per > 0 && (double)limit > fixed ? ((double)limit - fixed) / per : 0;
    const char *raise = "or raise the limit with --max-memory SIZE (e.g. 16G; 0: no limit)";
    if (fit >= 1.0) {
        long long n = fit < (double)mem.batch ? (long long)fit : (long long)mem.batch - 1;
        if (has_def(m, "batch"))
            diag_note(g->d, (src_loc){0}, "lower the batch with -D batch=%lld (the largest that fits), %s", n, raise);
        else
            diag_note(g->d, (src_loc){0}, "lower the training batch to %lld or less (train { batch = %lld; }), %s", n, n, raise);
    } else {
        diag_note(g->d, (src_loc){0}, "even batch 1 does not fit (%s without the batch's activations); %s",
                  human(f, sizeof f, fixed), raise);
    }
    return 1;
}

/* 1234567 -> "1,234,567" */
static const char *commas(char *buf, size_t n, double v)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", v);
    size_t len = strlen(digits), o = 0;
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

void cg_memory_print(FILE *out, const cg_memory *mem)
{
    char a[32], b[32], c[32];
    fprintf(out, "\nmemory to train, batch %lld (vqc -o refuses more than --max-memory, default: the machine's RAM)\n",
            (long long)mem->batch);
    fprintf(out, "  %-26s %12s  (%s bytes; naive sum %s)\n", "activation arena", human(a, sizeof a, mem->arena),
            commas(b, sizeof b, mem->arena), human(c, sizeof c, mem->naive));
    fprintf(out, "  %-26s %12s  (estimate)\n", "conv/attention scratch", human(a, sizeof a, mem->scratch));
    fprintf(out, "  %-26s %12s\n", "params + grads + buffers", human(a, sizeof a, mem->slabs));
    char label[64];
    snprintf(label, sizeof label, "optimizer state (%s)", mem->optim_kind ? mem->optim_kind : "none");
    fprintf(out, "  %-26s %12s\n", label, human(a, sizeof a, mem->optim));
    fprintf(out, "  %-26s %12s  (%s bytes)\n", "total", human(a, sizeof a, mem->total), commas(b, sizeof b, mem->total));
}

int cg_parse_size(const char *s, uint64_t *bytes)
{
    if (!s || !isdigit((unsigned char)s[0])) return -1;
    char *end;
    double v = strtod(s, &end);
    if (end == s || end != s + strspn(s, "0123456789.") || v < 0) return -1;   /* no hex, exponent, inf */
    double mult = 1;
    switch (toupper((unsigned char)*end)) {
    case 'K': mult = 1024.0; end++; break;
    case 'M': mult = 1024.0 * 1024; end++; break;
    case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
    case 'T': mult = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: break;
    }
    if (mult > 1 && toupper((unsigned char)end[0]) == 'I' && toupper((unsigned char)end[1]) == 'B') end += 2;
    else if (toupper((unsigned char)*end) == 'B') end++;
    if (*end) return -1;
    double total = v * mult;
    if (total >= 18446744073709551615.0) return -1;
    if (mult == 1 && total != (double)(uint64_t)total) return -1;   /* a fraction of a byte */
    *bytes = (uint64_t)total;
    return 0;
}

uint64_t cg_physical_memory(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGE_SIZE);
    if (pages <= 0 || size <= 0) return 0;
    return (uint64_t)pages * (uint64_t)size;
}
