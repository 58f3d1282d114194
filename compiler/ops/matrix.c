/* ops/matrix.c: emitters of matmul, softmax and transpose, forward and backward
 * side by side: the pieces of an attention written out by hand in a .vq
 * (reshape and scale, the other ops of that family, are an identity and an
 * elementwise chain: ops/elementwise.c). The loops are emitted inline with every
 * size a constant; matmul calls OpenBLAS's cblas_sgemm once per image.
 * Not here: the fused attention op (ops/attention.c), which never materializes
 * the transposes.
 *
 * Legend: B batch; matmul a (B, M, K) x b (B, K, N) -> c (B, M, N);
 * softmax over one dimension of length L, the tensor viewed as (O, L, I) with
 * O = B * (dims before it) and I = (dims after it); transpose swaps the last
 * two dimensions: (O, R, Q) -> (O, Q, R), O = B * (dims before them).
 * Saved: nothing of their own; backward reads matmul's inputs a, b and
 * softmax's output y (keep.c keeps exactly those).
 */
#include "../emit_ops.h"

static const ir_shape *shape_of(const cg *g, int t) { return &g->m->tensors[t].shape; }

/* Product of the dimensions [from, to) after B (index 0 is B: skipped). */
static int64_t dims(const ir_shape *s, int from, int to)
{
    int64_t p = 1;
    for (int i = from < 1 ? 1 : from; i < to; i++) p *= s->d[i];
    return p;
}

/* ---- matmul: per image c (M, N) = a (M, K) b (K, N) ---- */

static int matmul_reads(const cg *g, const unit *u, int *vals)
{
    const ir_node *n = cg_node(g, u->node);
    vals[0] = g->tval[n->in[0]];
    vals[1] = g->tval[n->in[1]];
    return 2;
}

/* "const int M = .., K = .., N = ..;" and the per-image strides */
static void matmul_sizes(emit_ctx *e, const ir_node *n)
{
    const ir_shape *a = shape_of(e->g, n->in[0]), *b = shape_of(e->g, n->in[1]);
    long long M = a->d[1], K = a->d[2], N = b->d[2];
    cw_line(e->w, "const int M = %lld, K = %lld, N = %lld;", M, K, N);
    cw_line(e->w, "const size_t MK = %lld, KN = %lld, MN = %lld;", M * K, K * N, M * N);
}

/* Images in parallel, each sgemm single-threaded, when OpenBLAS runs single-
 * threaded (vq_threads_set, as the driver does); else OpenBLAS threads each call. */
static void image_loop(emit_ctx *e)
{
    cw_line(e->w, "#pragma omp parallel for schedule(static) if (B > 1 && openblas_get_num_threads() == 1)");
    cw_open(e->w, "for (int i = 0; i < B; i++)");
}

static void matmul_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    matmul_sizes(e, n);
    cw_line(e->w, "const float *a = %s;  /* %s */", e_act(e, n->in[0]), e_shape(e, n->in[0]));
    cw_line(e->w, "const float *b = %s;  /* %s */", e_act(e, n->in[1]), e_shape(e, n->in[1]));
    cw_line(e->w, "float *c = %s;  /* %s */", e_act(e, n->out[0]), e_shape(e, n->out[0]));
    image_loop(e);
    cw_line(e->w, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a + i * MK, K, b + i * KN, N, "
                  "0.0f, c + i * MN, N);");
    cw_close(e->w, "");
}

/* da (M, K) += dc (M, N) b^T (N, K);  db (K, N) += a^T (K, M) dc (M, N).
 * matmul(a, a) gives one buffer both sums: the two calls run in turn per image. */
static void matmul_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    int ga = e->g->gval[n->in[0]] >= 0, gb = e->g->gval[n->in[1]] >= 0;
    if (!ga && !gb) return;
    matmul_sizes(e, n);
    cw_line(e->w, "const float *a = %s, *b = %s;", e_act(e, n->in[0]), e_act(e, n->in[1]));
    cw_line(e->w, "const float *dc = %s;  /* %s */", e_grad(e, u->out), e_shape(e, u->out));
    if (ga) cw_line(e->w, "float *da = %s;", e_grad(e, n->in[0]));
    if (gb) cw_line(e->w, "float *db = %s;", e_grad(e, n->in[1]));
    cw_line(e->w, "(void)a; (void)b;");
    image_loop(e);
    if (ga)
        cw_line(e->w, "cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, K, N, 1.0f, dc + i * MN, N, b + i * KN, N, "
                      "1.0f, da + i * MK, K);");
    if (gb)
        cw_line(e->w, "cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, M, 1.0f, a + i * MK, K, dc + i * MN, N, "
                      "1.0f, db + i * KN, N);");
    cw_close(e->w, "");
}

const cg_op_emit cg_emit_matmul = {NULL, matmul_reads, NULL, matmul_fwd, matmul_bwd, 0};

/* ---- softmax over dim: y = exp(x - max) / sum exp(x - max) ---- */

static int softmax_reads(const cg *g, const unit *u, int *vals)
{
    vals[0] = g->tval[cg_node(g, u->node)->out[0]];
    return 1;
}

/* "const size_t outer = .., len = .., inner = ..;": the (O, L, I) view (not I: complex.h's macro, which
 * cblas.h pulls in) */
static void softmax_sizes(emit_ctx *e, const ir_node *n)
{
    const ir_shape *s = shape_of(e->g, n->in[0]);
    int64_t dim = cg_attr_int(n, "dim");
    int d = (int)(dim < 0 ? s->rank + dim : dim);
    cw_line(e->w, "const size_t outer = (size_t)B * %lld, len = %lld, inner = %lld;  /* softmax over dim %d of %s */",
            (long long)dims(s, 1, d), (long long)s->d[d], (long long)dims(s, d + 1, s->rank), d, e_shape(e, n->in[0]));
}

static void softmax_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    softmax_sizes(e, n);
    cw_line(e->w, "const float *x = %s;", e_act(e, n->in[0]));
    cw_line(e->w, "float *y = %s;", e_act(e, n->out[0]));
    cw_line(e->w, "#pragma omp parallel for schedule(static) if (outer * len * inner > 32768)");
    cw_open(e->w, "for (size_t r = 0; r < outer * inner; r++)");
    cw_line(e->w, "const float *xr = x + (r / inner) * len * inner + r %% inner;");
    cw_line(e->w, "float *yr = y + (r / inner) * len * inner + r %% inner;");
    cw_line(e->w, "float mx = xr[0];");
    cw_line(e->w, "for (size_t l = 1; l < len; l++) mx = xr[l * inner] > mx ? xr[l * inner] : mx;");
    cw_line(e->w, "double sum = 0.0;");
    cw_line(e->w, "for (size_t l = 0; l < len; l++) { yr[l * inner] = expf(xr[l * inner] - mx); sum += yr[l * inner]; }");
    cw_line(e->w, "const float inv = (float)(1.0 / sum);");
    cw_line(e->w, "for (size_t l = 0; l < len; l++) yr[l * inner] *= inv;");
    cw_close(e->w, "");
}

/* dx += y * (dy - sum_l dy * y), the softmax Jacobian applied along the dimension */
static void softmax_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    if (e->g->gval[n->in[0]] < 0) return;
    softmax_sizes(e, n);
    cw_line(e->w, "const float *y = %s, *dy = %s;", e_act(e, n->out[0]), e_grad(e, u->out));
    cw_line(e->w, "float *dx = %s;", e_grad(e, n->in[0]));
    cw_line(e->w, "#pragma omp parallel for schedule(static) if (outer * len * inner > 32768)");
    cw_open(e->w, "for (size_t r = 0; r < outer * inner; r++)");
    cw_line(e->w, "const size_t o = (r / inner) * len * inner + r %% inner;");
    cw_line(e->w, "double dot = 0.0;");
    cw_line(e->w, "for (size_t l = 0; l < len; l++) dot += (double)dy[o + l * inner] * y[o + l * inner];");
    cw_line(e->w, "for (size_t l = 0; l < len; l++) dx[o + l * inner] += y[o + l * inner] * (dy[o + l * inner] - (float)dot);");
    cw_close(e->w, "");
}

const cg_op_emit cg_emit_softmax = {NULL, softmax_reads, NULL, softmax_fwd, softmax_bwd, 0};

/* ---- transpose: y[o, q, r] = x[o, r, q]; dx[o, r, q] += dy[o, q, r] ---- */

static void transpose_sizes(emit_ctx *e, const ir_node *n)
{
    const ir_shape *s = shape_of(e->g, n->in[0]);
    cw_line(e->w, "const size_t O = (size_t)B * %lld, R = %lld, Q = %lld;  /* %s -> %s */",
            (long long)dims(s, 1, s->rank - 2), (long long)s->d[s->rank - 2], (long long)s->d[s->rank - 1],
            e_shape(e, n->in[0]), e_shape(e, n->out[0]));
}

static void transpose_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    transpose_sizes(e, n);
    cw_line(e->w, "const float *x = %s;", e_act(e, n->in[0]));
    cw_line(e->w, "float *y = %s;", e_act(e, n->out[0]));
    cw_line(e->w, "#pragma omp parallel for schedule(static) if (O * R * Q > 32768)");
    cw_open(e->w, "for (size_t o = 0; o < O; o++)");
    cw_line(e->w, "for (size_t r = 0; r < R; r++)");
    cw_line(e->w, "    for (size_t q = 0; q < Q; q++) y[(o * Q + q) * R + r] = x[(o * R + r) * Q + q];");
    cw_close(e->w, "");
}

static void transpose_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    if (e->g->gval[n->in[0]] < 0) return;
    transpose_sizes(e, n);
    cw_line(e->w, "const float *dy = %s;", e_grad(e, u->out));
    cw_line(e->w, "float *dx = %s;", e_grad(e, n->in[0]));
    cw_line(e->w, "#pragma omp parallel for schedule(static) if (O * R * Q > 32768)");
    cw_open(e->w, "for (size_t o = 0; o < O; o++)");
    cw_line(e->w, "for (size_t r = 0; r < R; r++)");
    cw_line(e->w, "    for (size_t q = 0; q < Q; q++) dx[(o * R + r) * Q + q] += dy[(o * Q + q) * R + r];");
    cw_close(e->w, "");
}

const cg_op_emit cg_emit_transpose = {NULL, NULL, NULL, transpose_fwd, transpose_bwd, 0};
