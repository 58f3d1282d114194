/* ops/elementwise.c: emitters of the elementwise ops: activation chains
 * (relu, leaky_relu, sigmoid, tanh, swish/silu, scale; one fused loop, the
 * backward recomputes the chain from its input), add, dropout, and the
 * identities (dropout p = 0, reshape) that share their input's buffer.
 * Forward and backward of each sit side by side; the scalar math for one op
 * (elem_fwd_expr, elem_deriv_expr) is also what in-place epilogues use.
 * Legend: n = B * (elements per image).
 */
#include "../emit_ops.h"

/* ---- scalar math: y = f(x), dy/dx = f'(x, y) ---- */

const char *elem_fwd_expr(emit_ctx *e, const ir_node *n, const char *x)
{
    switch (n->op) {
    case IR_OP_RELU: return e_fmt(e, "(%s > 0.0f ? %s : 0.0f)", x, x);
    case IR_OP_LEAKY_RELU: return e_fmt(e, "(%s > 0.0f ? %s : (float)%.9g * %s)", x, x, cg_attr_float(n, "slope"), x);
    case IR_OP_SIGMOID: return e_fmt(e, "(1.0f / (1.0f + expf(-%s)))", x);
    case IR_OP_TANH: return e_fmt(e, "tanhf(%s)", x);
    case IR_OP_SWISH: case IR_OP_SILU: return e_fmt(e, "(%s / (1.0f + expf(-%s)))", x, x);
    case IR_OP_SCALE: return e_fmt(e, "((float)%.9g * %s)", cg_attr_float(n, "factor"), x);
    default: return x;
    }
}

const char *elem_deriv_expr(emit_ctx *e, const ir_node *n, const char *x, const char *y)
{
    switch (n->op) {
    case IR_OP_RELU: return e_fmt(e, "(%s > 0.0f ? 1.0f : 0.0f)", y);
    case IR_OP_LEAKY_RELU: return e_fmt(e, "(%s > 0.0f ? 1.0f : (float)%.9g)", y, cg_attr_float(n, "slope"));
    case IR_OP_SIGMOID: return e_fmt(e, "(%s * (1.0f - %s))", y, y);
    case IR_OP_TANH: return e_fmt(e, "(1.0f - %s * %s)", y, y);
    /* swish' = s (1 + x (1 - s)), s = sigmoid(x) */
    case IR_OP_SWISH: case IR_OP_SILU:
        return e_fmt(e, "((1.0f / (1.0f + expf(-%s))) * (1.0f + %s * (1.0f - 1.0f / (1.0f + expf(-%s)))))", x, x, x);
    case IR_OP_SCALE: return e_fmt(e, "(float)%.9g", cg_attr_float(n, "factor"));
    default: return "1.0f";
    }
}

int elem_deriv_from_y(const ir_node *n)
{
    return n->op == IR_OP_RELU || n->op == IR_OP_SIGMOID || n->op == IR_OP_TANH ||
           (n->op == IR_OP_LEAKY_RELU && cg_attr_float(n, "slope") >= 0.0) || n->op == IR_OP_SCALE;
}

/* ---- chains: x -> f1 -> f2 -> ... -> y in one loop ---- */

static const ir_node *chain_node(const cg *g, const unit *u, int k)
{
    return cg_node(g, k == 0 ? u->node : u->fused[k - 1]);
}

static int chain_reads(const cg *g, const unit *u, int *vals)
{
    vals[0] = g->tval[cg_node(g, u->node)->in[0]];
    return 1;
}

/* v0 = x[i]; v1 = f1(v0); ...: the chain's values for element i */
static void chain_values(emit_ctx *e, const unit *u)
{
    int len = 1 + u->n_fused;
    cw_line(e->w, "const float v0 = x[i];");
    for (int k = 0; k < len; k++) {
        char prev[16];
        snprintf(prev, sizeof prev, "v%d", k);
        cw_line(e->w, "const float v%d = %s;  /* %s */", k + 1, elem_fwd_expr(e, chain_node(e->g, u, k), prev),
                ir_op_name(chain_node(e->g, u, k)->op));
    }
}

static void chain_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    cw_line(e->w, "const float *x = %s;  /* %s */", e_act(e, n->in[0]), e_shape(e, n->in[0]));
    cw_line(e->w, "float *y = %s;", e_act(e, u->out));
    cw_line(e->w, "const size_t n = %s;", e_numel(e, u->out));
    cw_line(e->w, "#pragma omp parallel for if (n > 32768)");
    cw_open(e->w, "for (size_t i = 0; i < n; i++)");
    chain_values(e, u);
    cw_line(e->w, "y[i] = v%d;", 1 + u->n_fused);
    cw_close(e->w, "");
}

static void chain_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    if (e->g->gval[n->in[0]] < 0) return;
    int len = 1 + u->n_fused;
    cw_line(e->w, "const float *x = %s;  /* %s */", e_act(e, n->in[0]), e_shape(e, n->in[0]));
    cw_line(e->w, "const float *dy = %s;", e_grad(e, u->out));
    cw_line(e->w, "float *dx = %s;", e_grad(e, n->in[0]));
    cw_line(e->w, "const size_t n = %s;", e_numel(e, u->out));
    cw_line(e->w, "#pragma omp parallel for if (n > 32768)");
    cw_open(e->w, "for (size_t i = 0; i < n; i++)");
    chain_values(e, u);
    cw_line(e->w, "float g = dy[i];");
    for (int k = len - 1; k >= 0; k--) {
        char xin[16], yout[16];
        snprintf(xin, sizeof xin, "v%d", k);
        snprintf(yout, sizeof yout, "v%d", k + 1);
        cw_line(e->w, "g *= %s;", elem_deriv_expr(e, chain_node(e->g, u, k), xin, yout));
    }
    for (int k = 0; k <= len; k++) cw_line(e->w, "(void)v%d;", k);
    cw_line(e->w, "dx[i] += g;");
    cw_close(e->w, "");
}

const cg_op_emit cg_emit_elementwise = {NULL, chain_reads, NULL, chain_fwd, chain_bwd, 0};

/* ---- add: y = a + b; da += dy, db += dy ---- */

static void add_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    cw_line(e->w, "vq_add_forward(%s, %s, %s, %s);", e_act(e, n->out[0]), e_act(e, n->in[0]), e_act(e, n->in[1]),
            e_numel(e, n->out[0]));
}

static void add_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    for (int k = 0; k < 2; k++)
        if (e->g->gval[n->in[k]] >= 0)
            cw_line(e->w, "vq_add_backward(%s, NULL, %s, %s);", e_grad(e, n->in[k]), e_grad(e, u->out),
                    e_numel(e, n->out[0]));
}

const cg_op_emit cg_emit_add = {NULL, NULL, NULL, add_fwd, add_bwd, 0};

/* ---- dropout (p > 0): saves the mask (0 or 1/(1-p)) ---- */

static void dropout_plan(cg *g, unit *u)
{
    const ir_node *n = cg_node(g, u->node);
    u->saved[u->n_saved++] = cg_new_val(g, PV_SAVED, cg_tensor_per_image(g, n->out[0]), 0, -1, "%s.mask",
                                        n->path ? n->path : "dropout");
}

static void dropout_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    cw_open(e->w, "if (mode == VQ_MODE_TRAIN)");
    cw_line(e->w, "vq_dropout_forward(%s, %s, %s, (float)%.9g, %s, rng);", e_act(e, n->out[0]), e_val(e, u->saved[0]),
            e_act(e, n->in[0]), cg_attr_float(n, "p"), e_numel(e, n->out[0]));
    cw_close(e->w, " else {");
    e->w->depth++;
    cw_line(e->w, "memcpy(%s, %s, %s * sizeof(float));", e_act(e, n->out[0]), e_act(e, n->in[0]),
            e_numel(e, n->out[0]));
    cw_close(e->w, "");
}

static void dropout_bwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)sym;
    const ir_node *n = cg_node(e->g, u->node);
    if (e->g->gval[n->in[0]] >= 0)
        cw_line(e->w, "vq_dropout_backward(%s, %s, %s, %s);", e_grad(e, n->in[0]), e_grad(e, u->out),
                e_val(e, u->saved[0]), e_numel(e, n->out[0]));
}

const cg_op_emit cg_emit_dropout = {dropout_plan, NULL, NULL, dropout_fwd, dropout_bwd, 0};

/* ---- identities: the output is the input's buffer, the gradient too ---- */

static void identity_fwd(emit_ctx *e, const unit *u, const char *sym)
{
    (void)e; (void)u; (void)sym;
}

const cg_op_emit cg_emit_identity = {NULL, NULL, NULL, identity_fwd, identity_fwd, 0};
