/* fuse.c: the `fuse` pass: groups the IR nodes of the encoder, decoder and
 * discriminator into units that are emitted as one block each, and creates the
 * forward values (the discriminator's in their own memory segment).
 *
 *   group_norm -> swish/silu            one vq_group_norm_swish_* call
 *   conv2d|conv_transpose2d|group_norm|batch_norm|act_norm|add -> add(., r)
 *                                       the residual r added in place after
 *                                       the producer (its bias is already in
 *                                       the kernel's GEMM); no buffer for the sum
 *   ... -> relu|leaky_relu(slope>=0)|sigmoid|tanh
 *                                       applied in place after that; backward
 *                                       takes the derivative from the output
 *   elementwise -> elementwise -> ...   one loop forward; backward recomputes
 *                                       the chain from its input, so only the
 *                                       input is kept
 *   dropout(p = 0), reshape             identities: the output is the input's buffer
 * A node is folded only into the single consumer of an intermediate that is
 * not a graph output, so no other op ever reads a value that fusion removed.
 */
#include <string.h>

#include "../emit_ops.h"
#include "passes.h"

/* The only consumer of tensor t, or -1 (none, several, or t is a graph output). */
static int sole_consumer(const cg *g, int t)
{
    if (g->n_consumers[t] != 1) return -1;
    for (int i = 0; i < g->m->n_nodes; i++) {
        const ir_node *n = cg_node(g, i);
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] == t) return i;
    }
    return -1;
}

static void count_consumers(cg *g)
{
    const ir_model *m = g->m;
    for (int i = 0; i < m->n_nodes; i++) {
        const ir_node *n = cg_node(g, i);
        for (int k = 0; k < n->n_in; k++) g->n_consumers[n->in[k]]++;
    }
    /* graph outputs are read from outside (recon, z_q for decode, logits): never fold them away */
    for (int gk = 0; gk < IR_GRAPH_COUNT; gk++) {
        const ir_graph *gr = &m->graphs[gk];
        for (int k = 0; k < gr->n_out; k++) g->n_consumers[gr->out[k]] += 100;
    }
}

static int is_epilogue_producer(ir_op op)
{
    return op == IR_OP_CONV2D || op == IR_OP_CONV_TRANSPOSE2D || op == IR_OP_GROUP_NORM || op == IR_OP_BATCH_NORM ||
           op == IR_OP_ACT_NORM || op == IR_OP_ADD;
}

static int is_epilogue_act(const ir_node *n)
{
    switch (n->op) {
    case IR_OP_RELU: case IR_OP_SIGMOID: case IR_OP_TANH: return 1;
    case IR_OP_LEAKY_RELU: return cg_attr_float(n, "slope") >= 0.0;
    default: return 0;
    }
}

static void absorb(cg *g, unit *u, int node)
{
    if (u->n_fused < UNIT_MAX_FUSED) u->fused[u->n_fused++] = node;
    g->units[node].absorbed = 1;
}

int pass_fuse(cg *g)
{
    const ir_model *m = g->m;
    count_consumers(g);
    for (int i = 0; i < m->n_nodes; i++) {
        unit *u = &g->units[i];
        const ir_node *n = cg_node(g, i);
        u->node = i;
        u->res_tensor = u->res_node = u->act_node = -1;
        u->out = n->out[0];
        u->out2 = n->n_out > 1 ? n->out[1] : -1;
        for (int k = 0; k < 4; k++) u->saved[k] = -1;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        unit *u = &g->units[i];
        if (u->absorbed) continue;
        const ir_node *n = cg_node(g, i);
        if ((n->op == IR_OP_DROPOUT && cg_attr_float(n, "p") == 0.0) || n->op == IR_OP_RESHAPE) {
            u->how = FU_IDENTITY;
            g->n_identity++;
            continue;
        }
        if (n->op == IR_OP_GROUP_NORM) {
            int c = sole_consumer(g, u->out);
            if (c >= 0 && (cg_node(g, c)->op == IR_OP_SWISH || cg_node(g, c)->op == IR_OP_SILU)) {
                u->how = FU_GN_SWISH;
                absorb(g, u, c);
                u->out = cg_node(g, c)->out[0];
                g->n_fused_gn_swish++;
            }
        }
        if (is_epilogue_producer(n->op)) {
            int folded = 0;
            int c = sole_consumer(g, u->out);
            if (c >= 0 && cg_node(g, c)->op == IR_OP_ADD) {
                const ir_node *a = cg_node(g, c);
                int r = a->in[0] == u->out ? a->in[1] : a->in[0];
                int rp = m->tensors[r].producer;
                if (r != u->out && rp < i) {
                    u->res_tensor = r;
                    u->res_node = c;
                    absorb(g, u, c);
                    u->out = a->out[0];
                    folded = 1;
                }
            }
            c = sole_consumer(g, u->out);
            if (c >= 0 && is_epilogue_act(cg_node(g, c))) {
                u->act_node = c;
                absorb(g, u, c);
                u->out = cg_node(g, c)->out[0];
                folded = 1;
            }
            g->n_fused_epilogue += folded;
        }
        if (cg_is_elementwise(n->op)) {
            u->how = FU_CHAIN;
            int c;
            while (u->n_fused < UNIT_MAX_FUSED && (c = sole_consumer(g, u->out)) >= 0 &&
                   cg_is_elementwise(cg_node(g, c)->op)) {
                absorb(g, u, c);
                u->out = cg_node(g, c)->out[0];
            }
            if (u->n_fused) g->n_fused_chain++;
        }
    }

    /* forward values: the image, then each unit's output (identities share their input's) */
    const ir_graph *enc = &m->graphs[IR_ENCODER];
    int x = enc->in[0];
    g->x_val = g->tval[x] = cg_new_val(g, PV_ACT, cg_tensor_per_image(g, x), 0, x, "%%%d x (image)", x);
    const ir_graph *dg = &m->graphs[IR_DISCRIMINATOR];
    g->has_disc = dg->present && dg->n_in == 1 && dg->n_out == 1;
    g->disc_in_t = g->disc_out_t = g->disc_in_val = -1;
    if (g->has_disc) {
        g->disc_in_t = dg->in[0];
        g->disc_out_t = dg->out[0];
        g->disc_in_val = g->tval[g->disc_in_t] = cg_new_val(g, PV_ACT, cg_tensor_per_image(g, g->disc_in_t), 0,
                                                            g->disc_in_t, "%%%d discriminator input (x or x_hat)",
                                                            g->disc_in_t);
        g->vals[g->disc_in_val].segment = 1;
    }
    for (int i = 0; i < m->n_nodes; i++) {
        unit *u = &g->units[i];
        if (u->absorbed) continue;
        const ir_node *n = cg_node(g, i);
        int first_val = g->n_vals;
        if (u->how == FU_IDENTITY) {
            g->tval[u->out] = g->tval[n->in[0]];
            continue;
        }
        int v = cg_new_val(g, PV_ACT, cg_tensor_per_image(g, u->out), 0, u->out, "%%%d %s%s", u->out,
                           n->path ? n->path : ir_op_name(n->op), n->path ? "" : " out");
        g->tval[u->out] = v;
        /* an epilogue's intermediate results are the same buffer */
        g->tval[n->out[0]] = v;
        if (u->res_node >= 0) g->tval[cg_node(g, u->res_node)->out[0]] = v;
        if (u->out2 >= 0) {
            g->tval[u->out2] = cg_new_val(g, PV_INDEX, cg_tensor_per_image(g, u->out2), 0, u->out2, "%%%d %s.indices",
                                          u->out2, n->path ? n->path : "quantize");
        }
        if (cg_emitter(n->op)->plan) cg_emitter(n->op)->plan(g, u);
        if (n->graph == IR_DISCRIMINATOR)
            for (int k = first_val; k < g->n_vals; k++) g->vals[k].segment = 1;
    }
    g->recon_t = m->graphs[IR_DECODER].out[0];
    return 0;
}
