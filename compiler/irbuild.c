/* irbuild.c: appending tensors, nodes and parameters to the model while the
 * checker elaborates. Parameter names are checked for uniqueness here: two
 * instances with the same path would make two tensors with one state_dict
 * name. Arrays grow in the arena (old copies are left there; a model is
 * built once).
 */
#include <string.h>

#include "checker.h"

int irb_tensor(checker *c, const ir_shape *s, ir_dtype dt, int producer, int out_index)
{
    ir_model *m = c->m;
    m->tensors = grow(c, m->tensors, m->n_tensors, &c->cap_tensors, sizeof *m->tensors);
    ir_tensor *t = &m->tensors[m->n_tensors];
    memset(t, 0, sizeof *t);
    t->id = m->n_tensors;
    t->shape = *s;
    t->dtype = dt;
    t->producer = producer;
    t->producer_out = out_index;
    t->graph = c->graph;
    return m->n_tensors++;
}

int irb_node(checker *c, ir_op op, const char *path, src_loc loc)
{
    ir_model *m = c->m;
    if (m->n_nodes >= NODES_MAX) {
        if (!c->too_big) diag_error(c->d, loc, "the model has more than %d ops; is a loop bound wrong?", NODES_MAX);
        c->too_big = 1;
        return -1;
    }
    m->nodes = grow(c, m->nodes, m->n_nodes, &c->cap_nodes, sizeof *m->nodes);
    ir_node *n = &m->nodes[m->n_nodes];
    memset(n, 0, sizeof *n);
    n->id = m->n_nodes;
    n->op = op;
    n->graph = c->graph;
    n->path = path;
    n->loc = loc;
    n->codebook = -1;
    return m->n_nodes++;
}

/* Summary group: the first path segment, or "discriminator" for its graph. */
static const char *module_of(checker *c, const char *name, int codebook)
{
    if (codebook < 0 && c->in_graph && c->graph == IR_DISCRIMINATOR) return "discriminator";
    const char *dot = strchr(name, '.');
    return dot ? ast_strdup(c->a, name, (size_t)(dot - name)) : name;
}

int irb_param(checker *c, const char *name, const ir_shape *s, ir_role role, ir_init init,
              int owner, int codebook, src_loc loc)
{
    ir_model *m = c->m;
    for (int i = 0; i < m->n_params; i++)
        if (strcmp(m->params[i].name, name) == 0) {
            diag_error(c->d, loc, "duplicate parameter name '%s': two instances have the same path", name);
            diag_note(c->d, m->params[i].loc, "the first '%s' is created here", name);
            return -1;
        }
    m->params = grow(c, m->params, m->n_params, &c->cap_params, sizeof *m->params);
    ir_param *p = &m->params[m->n_params];
    memset(p, 0, sizeof *p);
    p->id = m->n_params;
    p->name = name;
    p->module = module_of(c, name, codebook);
    p->shape = *s;
    p->dtype = IR_F32;
    p->role = role;
    p->init = init;
    p->owner = owner;
    p->codebook = codebook;
    p->loc = loc;
    return m->n_params++;
}

int irb_codebook_find(checker *c, const char *name)
{
    for (int i = 0; i < c->m->n_codebooks; i++)
        if (strcmp(c->m->codebooks[i].name, name) == 0) return i;
    return -1;
}
