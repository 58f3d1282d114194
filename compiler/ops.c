/* ops.c: the one op table: for every op its arity, attributes (type, default,
 * range), shape rule, FLOP count and the parameters it creates.
 *
 * Dimension legend: B batch (symbolic), C input channels, O output channels,
 * H, W input size, H', W' output size, k kernel, s stride, N = H*W positions.
 * FLOP convention (batch 1, docs/language.md "FLOPs"): a multiply-add is 2;
 * a bias add 1 per output; norms 4 per element, softmax 3, other elementwise
 * ops 1; pure data movement (pad, upsample, concat, reshape, transpose,
 * dropout at inference) 0.
 */
#include <math.h>
#include <string.h>

#include "ops.h"

/* ---- attribute access -------------------------------------------------- */

static int attr_index(const op_ctx *o, const char *name)
{
    const op_info *op = &op_table[o->op];
    for (int i = 0; i < op->n_attrs; i++)
        if (strcmp(op->attrs[i].name, name) == 0) return i;
    return -1;
}
const ir_attr *op_attr(const op_ctx *o, const char *name) { return &o->attr[attr_index(o, name)]; }
int64_t op_int(const op_ctx *o, const char *name) { return op_attr(o, name)->v.i; }
double op_float(const op_ctx *o, const char *name) { return op_attr(o, name)->v.f; }
const char *op_str(const op_ctx *o, const char *name) { return op_attr(o, name)->v.s; }
src_loc op_attr_loc(const op_ctx *o, const char *name) { return o->attr_loc[attr_index(o, name)]; }

/* ---- shape helpers --------------------------------------------------------- */

static ir_shape shape4(int64_t c, int64_t h, int64_t w)
{
    ir_shape s = {4, {IR_BATCH, c, h, w, 0}};
    return s;
}

static int64_t numel1(const ir_shape *s) { return ir_shape_numel(s); }

static const char *shp(const op_ctx *o, const ir_shape *s)
{
    char buf[96];
    ir_shape_str(buf, sizeof buf, s);
    return c_strdup(o->c, buf);
}

/* Every spatial op wants (B, C, H, W). */
static int want4(op_ctx *o, int i)
{
    if (o->in[i].rank == 4) return 1;
    diag_error(o->c->d, o->in_loc[i], "%s needs a (B, C, H, W) tensor, got %s", op_table[o->op].name,
               shp(o, &o->in[i]));
    return 0;
}

/* Output size of a window op along one axis: (n + pads - k) / s + 1, > 0. */
static int window_out(op_ctx *o, const char *axis, int64_t n, int64_t pads, int64_t k, int64_t s, int64_t *out)
{
    int64_t span = n + pads - k;
    if (span < 0) {
        diag_error(o->c->d, o->loc, "%s: spatial size becomes <= 0: input %s %lld (padded %lld) is smaller than kernel %lld",
                   op_table[o->op].name, axis, (long long)n, (long long)(n + pads), (long long)k);
        return 0;
    }
    *out = span / s + 1;
    return 1;
}

static int same_shape(op_ctx *o)
{
    if (!want4(o, 0)) return 0;
    o->out[0] = o->in[0];
    return 1;
}

/* ---- conv2d ------------------------------------------------------------------ */

static const attr_spec conv2d_attrs[] = {
    {.name = "out", .type = AT_INT, .required = 1, .range = R_POS},
    {.name = "kernel", .type = AT_INT, .required = 1, .range = R_POS},
    {.name = "stride", .type = AT_INT, .di = 1, .range = R_POS},
    {.name = "padding", .type = AT_PADDING, .di = 0, .range = R_NONNEG},
    {.name = "bias", .type = AT_BOOL, .di = 1},
    {.name = "init", .type = AT_ENUM, .ds = "pytorch", .choices = "pytorch|normal"},
    {.name = "init_std", .type = AT_FLOAT, .df = 0.02, .range = R_POS},
};

/* (B, C, H, W) -> (B, O, H', W'), H' = (H + top + bottom - k) / s + 1 */
static int conv2d_shape(op_ctx *o)
{
    if (!want4(o, 0)) return 0;
    const int64_t *p = op_attr(o, "padding")->v.ints;
    int64_t k = op_int(o, "kernel"), s = op_int(o, "stride"), h, w;
    if (!window_out(o, "height", o->in[0].d[2], p[0] + p[1], k, s, &h)) return 0;
    if (!window_out(o, "width", o->in[0].d[3], p[2] + p[3], k, s, &w)) return 0;
    o->out[0] = shape4(op_int(o, "out"), h, w);
    return 1;
}

static int64_t conv2d_flops(const op_ctx *o)
{
    int64_t k = op_int(o, "kernel"), outn = numel1(&o->out[0]);
    return 2 * o->in[0].d[1] * k * k * outn + (op_attr(o, "bias")->v.b ? outn : 0);
}

static ir_init pytorch_init(int64_t fan_in)
{
    ir_init i = {.kind = IR_INIT_PYTORCH, .a = -1.0 / sqrt((double)fan_in), .b = 1.0 / sqrt((double)fan_in), .fan_in = fan_in};
    return i;
}

static ir_shape pshape(int rank, int64_t a, int64_t b, int64_t c, int64_t d)
{
    ir_shape s = {rank, {a, b, c, d, 0}};
    return s;
}

/* weight (O, C, k, k), bias (O); PyTorch fan_in = C*k*k for both. */
static int conv_params(const op_ctx *o, param_spec *p, int64_t w0, int64_t w1, int64_t fan_in, int64_t nbias)
{
    int64_t k = op_int(o, "kernel");
    p[0] = (param_spec){"weight", pshape(4, w0, w1, k, k), IR_F32, IR_TRAINABLE, pytorch_init(fan_in)};
    if (strcmp(op_str(o, "init"), "normal") == 0)
        p[0].init = (ir_init){.kind = IR_INIT_NORMAL, .a = 0.0, .b = op_float(o, "init_std")};
    if (!op_attr(o, "bias")->v.b) return 1;
    p[1] = (param_spec){"bias", pshape(1, nbias, 0, 0, 0), IR_F32, IR_TRAINABLE, pytorch_init(fan_in)};
    return 2;
}

static int conv2d_params(const op_ctx *o, param_spec *p)
{
    int64_t c = o->in[0].d[1], out = op_int(o, "out"), k = op_int(o, "kernel");
    return conv_params(o, p, out, c, c * k * k, out);
}

/* ---- conv_transpose2d ---------------------------------------------------------- */

static const attr_spec convt_attrs[] = {
    {.name = "out", .type = AT_INT, .required = 1, .range = R_POS},
    {.name = "kernel", .type = AT_INT, .required = 1, .range = R_POS},
    {.name = "stride", .type = AT_INT, .di = 1, .range = R_POS},
    {.name = "padding", .type = AT_INT, .di = 0, .range = R_NONNEG},
    {.name = "output_padding", .type = AT_INT, .di = 0, .range = R_NONNEG},
    {.name = "bias", .type = AT_BOOL, .di = 1},
    {.name = "init", .type = AT_ENUM, .ds = "pytorch", .choices = "pytorch|normal"},
    {.name = "init_std", .type = AT_FLOAT, .df = 0.02, .range = R_POS},
};

/* (B, C, H, W) -> (B, O, H', W'), H' = (H - 1) s - 2 p + k + output_padding */
static int convt_shape(op_ctx *o)
{
    if (!want4(o, 0)) return 0;
    int64_t k = op_int(o, "kernel"), s = op_int(o, "stride"), p = op_int(o, "padding");
    int64_t op = op_int(o, "output_padding");
    if (op >= s) {
        diag_error(o->c->d, op_attr_loc(o, "output_padding"),
                   "conv_transpose2d: output_padding %lld must be smaller than stride %lld", (long long)op, (long long)s);
        return 0;
    }
    int64_t h = (o->in[0].d[2] - 1) * s - 2 * p + k + op, w = (o->in[0].d[3] - 1) * s - 2 * p + k + op;
    if (h <= 0 || w <= 0) {
        diag_error(o->c->d, o->loc, "conv_transpose2d: spatial size becomes <= 0 (%lld x %lld)", (long long)h, (long long)w);
        return 0;
    }
    o->out[0] = shape4(op_int(o, "out"), h, w);
    return 1;
}

/* each input position scatters C*O*k*k multiply-adds */
static int64_t convt_flops(const op_ctx *o)
{
    int64_t k = op_int(o, "kernel");
    int64_t in_pos = o->in[0].d[2] * o->in[0].d[3];
    return 2 * o->in[0].d[1] * op_int(o, "out") * k * k * in_pos + (op_attr(o, "bias")->v.b ? numel1(&o->out[0]) : 0);
}

/* weight (C, O, k, k) as PyTorch stores it; PyTorch's fan_in is weight.size(1)*k*k = O*k*k. */
static int convt_params(const op_ctx *o, param_spec *p)
{
    int64_t c = o->in[0].d[1], out = op_int(o, "out"), k = op_int(o, "kernel");
    return conv_params(o, p, c, out, out * k * k, out);
}

/* ---- pad ---------------------------------------------------------------------------- */

static const attr_spec pad_attrs[] = {
    {.name = "left", .type = AT_INT, .range = R_NONNEG},
    {.name = "right", .type = AT_INT, .range = R_NONNEG},
    {.name = "top", .type = AT_INT, .range = R_NONNEG},
    {.name = "bottom", .type = AT_INT, .range = R_NONNEG},
    {.name = "value", .type = AT_FLOAT, .df = 0.0},
};

static int pad_shape(op_ctx *o)
{
    if (!want4(o, 0)) return 0;
    o->out[0] = shape4(o->in[0].d[1], o->in[0].d[2] + op_int(o, "top") + op_int(o, "bottom"),
                       o->in[0].d[3] + op_int(o, "left") + op_int(o, "right"));
    return 1;
}

static int64_t zero_flops(const op_ctx *o) { (void)o; return 0; }
static int64_t elem_flops(const op_ctx *o) { return numel1(&o->out[0]); }
static int64_t norm_flops(const op_ctx *o) { return 4 * numel1(&o->out[0]); }

/* ---- group_norm, batch_norm ----------------------------------------------------------- */

static const attr_spec group_norm_attrs[] = {
    {.name = "groups", .type = AT_INT, .required = 1, .range = R_POS},
    {.name = "eps", .type = AT_FLOAT, .df = 1e-5, .range = R_POS},
    {.name = "affine", .type = AT_BOOL, .di = 1},
};

static int group_norm_shape(op_ctx *o)
{
    if (!want4(o, 0)) return 0;
    int64_t g = op_int(o, "groups"), ch = o->in[0].d[1];
    if (ch % g != 0) {
        diag_error(o->c->d, op_attr_loc(o, "groups"), "group_norm: groups=%lld does not divide %lld channels",
                   (long long)g, (long long)ch);
        return 0;
    }
    o->out[0] = o->in[0];
    return 1;
}

static int affine_params(const op_ctx *o, param_spec *p)
{
    int64_t ch = o->in[0].d[1];
    if (!op_attr(o, "affine")->v.b) return 0;
    p[0] = (param_spec){"weight", pshape(1, ch, 0, 0, 0), IR_F32, IR_TRAINABLE, {.kind = IR_INIT_ONES}};
    p[1] = (param_spec){"bias", pshape(1, ch, 0, 0, 0), IR_F32, IR_TRAINABLE, {.kind = IR_INIT_ZEROS}};
    return 2;
}

static const attr_spec batch_norm_attrs[] = {
    {.name = "eps", .type = AT_FLOAT, .df = 1e-5, .range = R_POS},
    {.name = "momentum", .type = AT_FLOAT, .df = 0.1, .range = R_NONNEG},
    {.name = "affine", .type = AT_BOOL, .di = 1},
    {.name = "init", .type = AT_ENUM, .ds = "pytorch", .choices = "pytorch|normal"},
    {.name = "init_std", .type = AT_FLOAT, .df = 0.02, .range = R_POS},
};

/* weight, bias (C) when affine; buffers running_mean (C) 0, running_var (C) 1,
 * num_batches_tracked () 0 (int64 in PyTorch). init=normal: weight N(1, std) (pix2pix). */
static int batch_norm_params(const op_ctx *o, param_spec *p)
{
    int64_t ch = o->in[0].d[1];
    int n = affine_params(o, p);
    if (n && strcmp(op_str(o, "init"), "normal") == 0)
        p[0].init = (ir_init){.kind = IR_INIT_NORMAL, .a = 1.0, .b = op_float(o, "init_std")};
    p[n++] = (param_spec){"running_mean", pshape(1, ch, 0, 0, 0), IR_F32, IR_BUFFER, {.kind = IR_INIT_ZEROS}};
    p[n++] = (param_spec){"running_var", pshape(1, ch, 0, 0, 0), IR_F32, IR_BUFFER, {.kind = IR_INIT_ONES}};
    p[n++] = (param_spec){"num_batches_tracked", pshape(0, 0, 0, 0, 0), IR_I32, IR_BUFFER, {.kind = IR_INIT_ZEROS}};
    return n;
}

/* ---- act_norm -------------------------------------------------------------------------- */

/* taming's ActNorm (Glow): loc (1, C, 1, 1) 0 and scale (1, C, 1, 1) 1, trainable, set from
 * the first training batch (runtime/kernels/actnorm.h); buffer initialized () 0, a uint8 in
 * PyTorch, 1 once that init ran. */
static int act_norm_params(const op_ctx *o, param_spec *p)
{
    int64_t ch = o->in[0].d[1];
    p[0] = (param_spec){"loc", pshape(4, 1, ch, 1, 1), IR_F32, IR_TRAINABLE, {.kind = IR_INIT_ZEROS}};
    p[1] = (param_spec){"scale", pshape(4, 1, ch, 1, 1), IR_F32, IR_TRAINABLE, {.kind = IR_INIT_ONES}};
    p[2] = (param_spec){"initialized", pshape(0, 0, 0, 0, 0), IR_I32, IR_BUFFER, {.kind = IR_INIT_ZEROS}};
    return 3;
}

/* ---- activations ---------------------------------------------------------------------- */

static const attr_spec leaky_attrs[] = {
    {.name = "slope", .type = AT_FLOAT, .df = 0.01},
};

static const attr_spec dropout_attrs[] = {
    {.name = "p", .type = AT_FLOAT, .df = 0.5, .range = R_PROB},
};

static int any_shape(op_ctx *o) { o->out[0] = o->in[0]; return 1; }

/* ---- add, concat ------------------------------------------------------------------------- */

static int shapes_equal(const ir_shape *a, const ir_shape *b)
{
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

static int add_shape(op_ctx *o)
{
    if (!shapes_equal(&o->in[0], &o->in[1])) {
        diag_error(o->c->d, o->in_loc[0], "shape mismatch in add: %s and %s", shp(o, &o->in[0]), shp(o, &o->in[1]));
        diag_note(o->c->d, o->in_loc[1], "the other operand, of shape %s, is here", shp(o, &o->in[1]));
        return 0;
    }
    o->out[0] = o->in[0];
    return 1;
}

/* (B, C1, H, W), (B, C2, H, W), ... -> (B, C1 + C2 + ..., H, W) */
static int concat_shape(op_ctx *o)
{
    int64_t ch = 0;
    for (int i = 0; i < o->n_in; i++) {
        if (!want4(o, i)) return 0;
        if (o->in[i].d[2] != o->in[0].d[2] || o->in[i].d[3] != o->in[0].d[3]) {
            diag_error(o->c->d, o->in_loc[i], "concat: spatial size of %s differs from the first input's %s",
                       shp(o, &o->in[i]), shp(o, &o->in[0]));
            diag_note(o->c->d, o->in_loc[0], "the first input is here");
            return 0;
        }
        ch += o->in[i].d[1];
    }
    o->out[0] = shape4(ch, o->in[0].d[2], o->in[0].d[3]);
    return 1;
}

/* ---- upsample, avg_pool --------------------------------------------------------------------- */

static const attr_spec upsample_attrs[] = {
    {.name = "scale", .type = AT_INT, .di = 2, .range = R_POS},
    {.name = "mode", .type = AT_ENUM, .ds = "nearest", .choices = "nearest"},
};

static int upsample_shape(op_ctx *o)
{
    if (!want4(o, 0)) return 0;
    int64_t s = op_int(o, "scale");
    o->out[0] = shape4(o->in[0].d[1], o->in[0].d[2] * s, o->in[0].d[3] * s);
    return 1;
}

static const attr_spec avg_pool_attrs[] = {
    {.name = "kernel", .type = AT_INT, .required = 1, .range = R_POS},
    {.name = "stride", .type = AT_INT, .di = 0, .range = R_POS},   /* default: = kernel */
};

static int avg_pool_shape(op_ctx *o)
{
    if (!want4(o, 0)) return 0;
    ir_attr *st = &o->attr[attr_index(o, "stride")];
    if (st->is_default) st->v.i = op_int(o, "kernel");
    int64_t k = op_int(o, "kernel"), s = st->v.i, h, w;
    if (!window_out(o, "height", o->in[0].d[2], 0, k, s, &h)) return 0;
    if (!window_out(o, "width", o->in[0].d[3], 0, k, s, &w)) return 0;
    o->out[0] = shape4(o->in[0].d[1], h, w);
    return 1;
}

static int64_t avg_pool_flops(const op_ctx *o)
{
    int64_t k = op_int(o, "kernel");
    return k * k * numel1(&o->out[0]);
}

/* ---- attention, matmul, softmax, transpose, reshape, scale ------------------------------------- */

/* q, k, v (B, C, H, W) -> (B, C, H, W): out[:, i] = sum_j softmax_j(q_i . k_j / sqrt C) v_j */
static int attention_shape(op_ctx *o)
{
    for (int i = 0; i < 3; i++)
        if (!want4(o, i)) return 0;
    for (int i = 1; i < 3; i++)
        if (!shapes_equal(&o->in[0], &o->in[i])) {
            diag_error(o->c->d, o->in_loc[i], "attention: %s has shape %s but q has %s", i == 1 ? "k" : "v",
                       shp(o, &o->in[i]), shp(o, &o->in[0]));
            diag_note(o->c->d, o->in_loc[0], "q is here");
            return 0;
        }
    o->out[0] = o->in[0];
    return 1;
}

/* q.k and w.v are N*N*C multiply-adds each; scaling 1 and softmax 3 per score */
static int64_t attention_flops(const op_ctx *o)
{
    int64_t n = o->in[0].d[2] * o->in[0].d[3], ch = o->in[0].d[1];
    return 2 * (2 * n * n * ch) + 4 * n * n;
}

/* a (B, M, K) x b (B, K, N) -> (B, M, N) */
static int matmul_shape(op_ctx *o)
{
    const ir_shape *a = &o->in[0], *b = &o->in[1];
    if (a->rank != 3 || b->rank != 3 || a->d[2] != b->d[1]) {
        diag_error(o->c->d, o->loc, "matmul needs (B, M, K) and (B, K, N), got %s and %s", shp(o, a), shp(o, b));
        return 0;
    }
    ir_shape r = {3, {IR_BATCH, a->d[1], b->d[2], 0, 0}};
    o->out[0] = r;
    return 1;
}

static int64_t matmul_flops(const op_ctx *o) { return 2 * o->in[0].d[1] * o->in[0].d[2] * o->in[1].d[2]; }

static const attr_spec softmax_attrs[] = {
    {.name = "dim", .type = AT_INT, .di = -1},
};

static int softmax_shape(op_ctx *o)
{
    int64_t dim = op_int(o, "dim"), r = o->in[0].rank;
    if (dim < -(r - 1) || dim == 0 || dim >= r) {
        diag_error(o->c->d, op_attr_loc(o, "dim"), "softmax: dim %lld is not a dimension of %s (1..%lld, or negative)",
                   (long long)dim, shp(o, &o->in[0]), (long long)(r - 1));
        return 0;
    }
    o->out[0] = o->in[0];
    return 1;
}

static int64_t softmax_flops(const op_ctx *o) { return 3 * numel1(&o->out[0]); }

/* swaps the last two dimensions: (B, M, N) -> (B, N, M) */
static int transpose_shape(op_ctx *o)
{
    int r = o->in[0].rank;
    if (r < 3) {
        diag_error(o->c->d, o->in_loc[0], "transpose needs at least 2 dimensions besides B, got %s", shp(o, &o->in[0]));
        return 0;
    }
    o->out[0] = o->in[0];
    o->out[0].d[r - 1] = o->in[0].d[r - 2];
    o->out[0].d[r - 2] = o->in[0].d[r - 1];
    return 1;
}

static const attr_spec reshape_attrs[] = {
    {.name = "shape", .type = AT_INTS, .required = 1},
};

/* shape lists the dimensions after B; one may be -1 (inferred) */
static int reshape_shape(op_ctx *o)
{
    const ir_attr *a = op_attr(o, "shape");
    int64_t known = 1, total = numel1(&o->in[0]);
    int infer = -1;
    if (a->v.n < 1 || a->v.n > IR_MAX_RANK - 1) {
        diag_error(o->c->d, op_attr_loc(o, "shape"), "reshape: shape needs 1 to %d dimensions", IR_MAX_RANK - 1);
        return 0;
    }
    ir_shape r = {a->v.n + 1, {IR_BATCH, 0, 0, 0, 0}};
    for (int i = 0; i < a->v.n; i++) {
        int64_t d = a->v.ints[i];
        if (d == -1 && infer < 0) { infer = i + 1; continue; }
        if (d <= 0) {
            diag_error(o->c->d, op_attr_loc(o, "shape"), "reshape: dimension %lld must be > 0 (or one -1)", (long long)d);
            return 0;
        }
        r.d[i + 1] = d;
        known *= d;
    }
    if (infer > 0) r.d[infer] = known ? total / known : 0;
    if (ir_shape_numel(&r) != total) {
        diag_error(o->c->d, op_attr_loc(o, "shape"), "reshape: %s has %lld elements per image, the new shape %lld",
                   shp(o, &o->in[0]), (long long)total, (long long)ir_shape_numel(&r));
        return 0;
    }
    o->out[0] = r;
    return 1;
}

static const attr_spec scale_attrs[] = {
    {.name = "factor", .type = AT_FLOAT, .required = 1},
};

/* ---- quantize ------------------------------------------------------------------------------ */

static const attr_spec quantize_attrs[] = {
    {.name = "codebook", .type = AT_CODEBOOK, .required = 1},
};

/* x (B, D, H, W) -> z_q (B, D, H, W) straight-through, indices (B, H, W) int */
static int quantize_shape(op_ctx *o)
{
    if (!want4(o, 0)) return 0;
    const ir_codebook *cb = &o->c->m->codebooks[o->cb];
    if (o->in[0].d[1] != cb->dim) {
        diag_error(o->c->d, o->in_loc[0], "quantize: input has %lld channels but codebook '%s' has dim %lld",
                   (long long)o->in[0].d[1], cb->name, (long long)cb->dim);
        diag_note(o->c->d, cb->loc, "codebook '%s' is declared here", cb->name);
        return 0;
    }
    o->n_out = 2;
    o->out[0] = o->in[0];
    ir_shape idx = {3, {IR_BATCH, o->in[0].d[2], o->in[0].d[3], 0, 0}};
    o->out[1] = idx;
    o->out_dt[1] = IR_I32;
    return 1;
}

/* per position: K distances of D multiply-adds (|z|^2 + |e|^2 - 2 z.e), then K compares */
static int64_t quantize_flops(const op_ctx *o)
{
    const ir_codebook *cb = &o->c->m->codebooks[o->cb];
    int64_t n = o->in[0].d[2] * o->in[0].d[3];
    return n * (2 * cb->entries * cb->dim + cb->entries);
}

/* ---- the table ------------------------------------------------------------------------------- */

#define ATTRS(a) a, (int)(sizeof a / sizeof a[0])
#define NOATTRS NULL, 0

const op_info op_table[IR_OP_COUNT] = {
    [IR_OP_CONV2D]           = {"conv2d", 1, 1, ATTRS(conv2d_attrs), conv2d_shape, conv2d_flops, conv2d_params},
    [IR_OP_CONV_TRANSPOSE2D] = {"conv_transpose2d", 1, 1, ATTRS(convt_attrs), convt_shape, convt_flops, convt_params},
    [IR_OP_PAD]              = {"pad", 1, 1, ATTRS(pad_attrs), pad_shape, zero_flops, NULL},
    [IR_OP_GROUP_NORM]       = {"group_norm", 1, 1, ATTRS(group_norm_attrs), group_norm_shape, norm_flops, affine_params},
    [IR_OP_BATCH_NORM]       = {"batch_norm", 1, 1, ATTRS(batch_norm_attrs), same_shape, norm_flops, batch_norm_params},
    [IR_OP_SWISH]            = {"swish", 1, 1, NOATTRS, any_shape, elem_flops, NULL},
    [IR_OP_SILU]             = {"silu", 1, 1, NOATTRS, any_shape, elem_flops, NULL},
    [IR_OP_RELU]             = {"relu", 1, 1, NOATTRS, any_shape, elem_flops, NULL},
    [IR_OP_SIGMOID]          = {"sigmoid", 1, 1, NOATTRS, any_shape, elem_flops, NULL},
    [IR_OP_TANH]             = {"tanh", 1, 1, NOATTRS, any_shape, elem_flops, NULL},
    [IR_OP_LEAKY_RELU]       = {"leaky_relu", 1, 1, ATTRS(leaky_attrs), any_shape, elem_flops, NULL},
    [IR_OP_ADD]              = {"add", 2, 2, NOATTRS, add_shape, elem_flops, NULL},
    [IR_OP_CONCAT]           = {"concat", 2, -1, NOATTRS, concat_shape, zero_flops, NULL},
    [IR_OP_UPSAMPLE]         = {"upsample", 1, 1, ATTRS(upsample_attrs), upsample_shape, zero_flops, NULL},
    [IR_OP_AVG_POOL]         = {"avg_pool", 1, 1, ATTRS(avg_pool_attrs), avg_pool_shape, avg_pool_flops, NULL},
    [IR_OP_ATTENTION]        = {"attention", 3, 3, NOATTRS, attention_shape, attention_flops, NULL},
    [IR_OP_MATMUL]           = {"matmul", 2, 2, NOATTRS, matmul_shape, matmul_flops, NULL},
    [IR_OP_SOFTMAX]          = {"softmax", 1, 1, ATTRS(softmax_attrs), softmax_shape, softmax_flops, NULL},
    [IR_OP_TRANSPOSE]        = {"transpose", 1, 1, NOATTRS, transpose_shape, zero_flops, NULL},
    [IR_OP_RESHAPE]          = {"reshape", 1, 1, ATTRS(reshape_attrs), reshape_shape, zero_flops, NULL},
    [IR_OP_SCALE]            = {"scale", 1, 1, ATTRS(scale_attrs), any_shape, elem_flops, NULL},
    [IR_OP_DROPOUT]          = {"dropout", 1, 1, ATTRS(dropout_attrs), any_shape, zero_flops, NULL},
    [IR_OP_QUANTIZE]         = {"quantize", 1, 1, ATTRS(quantize_attrs), quantize_shape, quantize_flops, NULL},
    [IR_OP_ACT_NORM]         = {"act_norm", 1, 1, NOATTRS, same_shape, norm_flops, act_norm_params},
};

const char *ir_op_name(ir_op op) { return op_table[op].name; }

int op_lookup(const char *name)
{
    for (int i = 0; i < IR_OP_COUNT; i++)
        if (strcmp(op_table[i].name, name) == 0) return i;
    return -1;
}

const char *const *op_names(void)
{
    static const char *names[IR_OP_COUNT + 1];
    for (int i = 0; i < IR_OP_COUNT; i++) names[i] = op_table[i].name;
    return names;
}
