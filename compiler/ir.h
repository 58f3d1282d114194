/* ir.h: the graph IR: a checked, fully elaborated model with every shape known.
 *
 * sema_check() builds it; later stages (autodiff, fusion, memory planning, the
 * C emitter) read it and never see the syntax tree. Everything is flat and
 * indexed by small integers:
 *
 *   tensors[]    every activation (graph inputs, op outputs), its shape and
 *                which node produced it
 *   nodes[]      ops in topological order (a node's inputs are produced by
 *                earlier nodes or are graph inputs); each graph (encoder,
 *                decoder, discriminator) is one contiguous range of nodes
 *   params[]     parameter and buffer tensors with their PyTorch state_dict
 *                names, shapes, role, init rule and owning node
 *   codebooks[]  each `codebook NAME { ... }` with every option resolved
 *   sections     data, loss, train, optimizers: every key with its value and
 *                whether the value is a default (shown by --dump=graph)
 *
 * Dimension legend: B batch (symbolic, IR_BATCH), C channels, H, W spatial,
 * K codebook entries, D code dimension. Activation shapes include B as d[0]:
 * a conv output is (B, C, H, W); parameter shapes do not: (out, C, k, k).
 *
 * Memory: the model and everything it points to live in the ast_arena given
 * to sema_check (names and source locations point into it and its sources).
 */
#ifndef VQC_IR_H
#define VQC_IR_H

#include <stdint.h>
#include <stdio.h>
#include "ast.h"

#define IR_MAX_RANK 5
#define IR_BATCH (-1)              /* the symbolic batch dimension in shape.d[0] */

typedef struct ir_shape {
    int rank;
    int64_t d[IR_MAX_RANK];        /* d[0] == IR_BATCH for activations */
} ir_shape;

typedef enum ir_dtype { IR_F32, IR_I32 } ir_dtype;

typedef enum ir_op {
#define OP(id, name) id,
#include "ops.def"
#undef OP
    IR_OP_COUNT
} ir_op;

const char *ir_op_name(ir_op op);

/* A compile-time value stored in the IR: attributes, settings, params. */
typedef enum ir_vkind {
    IR_V_NONE,      /* "off" / not set (an optional key with no default) */
    IR_V_INT, IR_V_FLOAT, IR_V_BOOL,
    IR_V_STRING,    /* strings and enum choices (`l1`, `adam`, `nearest`) */
    IR_V_INTS,      /* list<int> (padding [t, b, l, r], reshape shape) */
    IR_V_FLOATS,    /* list<float> (betas, range) */
    IR_V_STRINGS,   /* list of names (optimizer params prefixes) */
} ir_vkind;

typedef struct ir_value {
    ir_vkind kind;
    int64_t i;
    double f;
    int b;
    const char *s;
    int n;                         /* list length */
    const int64_t *ints;
    const double *floats;
    const char *const *strs;
} ir_value;

/* An op attribute, in the op's canonical attribute order (ops.c); every
 * attribute is present, with is_default set when the .vq did not write it. */
typedef struct ir_attr {
    const char *name;
    ir_value v;
    int is_default;
} ir_attr;

/* A key of a config section (data, loss, train, optimizer, codebook) or a
 * compile-time `param`; is_default: not written (or, for params, not -D). */
typedef struct ir_setting {
    const char *key;
    ir_value v;
    int is_default;
    src_loc loc;                   /* where it was written (or the section's loc) */
} ir_setting;

typedef struct ir_section {
    const char *kind;              /* "data", "loss", "train", "optimizer", "codebook" */
    const char *name;              /* optimizer/codebook name, else NULL */
    int present;                   /* written in the .vq (else all defaults) */
    src_loc loc;
    int n_set;
    ir_setting *set;               /* in the table order of sections.c */
} ir_section;

/* Lookup helpers: the setting named `key`, or NULL. */
const ir_setting *ir_setting_find(const ir_section *s, const char *key);
int64_t ir_get_int(const ir_section *s, const char *key, int64_t fallback);
double ir_get_float(const ir_section *s, const char *key, double fallback);
const char *ir_get_string(const ir_section *s, const char *key, const char *fallback);

typedef enum ir_graph_kind { IR_ENCODER, IR_DECODER, IR_DISCRIMINATOR, IR_GRAPH_COUNT } ir_graph_kind;
const char *ir_graph_name(ir_graph_kind g);

typedef struct ir_tensor {
    int id;
    const char *name;              /* the .vq binding it was first bound to, or NULL */
    ir_shape shape;                /* (B, ...) */
    ir_dtype dtype;                /* IR_I32 only for quantize's indices */
    int producer;                  /* node id, or -1 for a graph input */
    int producer_out;              /* which output of the producer */
    ir_graph_kind graph;
} ir_tensor;

typedef enum ir_role { IR_TRAINABLE, IR_BUFFER } ir_role;

typedef enum ir_init_kind {
    IR_INIT_ZEROS,
    IR_INIT_ONES,
    IR_INIT_UNIFORM,               /* U(a, b) */
    IR_INIT_NORMAL,                /* N(a = mean, b = std) */
    IR_INIT_PYTORCH,               /* PyTorch's conv default: U(-1/sqrt(fan_in), +1/sqrt(fan_in))
                                      for weight (kaiming_uniform, a = sqrt 5) and bias; a, b hold the bounds */
    IR_INIT_KMEANS,                /* codebook: k-means on the first batch's encoder outputs */
    IR_INIT_COPY,                  /* a copy of param `source` after its init (EMA embed_avg) */
} ir_init_kind;

typedef struct ir_init {
    ir_init_kind kind;
    double a, b;
    int64_t fan_in;                /* IR_INIT_PYTORCH: as PyTorch computes it (conv_transpose: out*k*k) */
    int source;                    /* IR_INIT_COPY: param id */
} ir_init;

typedef struct ir_param {
    int id;
    const char *name;              /* PyTorch state_dict name: encoder.down.0.block.1.conv1.weight */
    const char *module;            /* summary group: first path segment, "discriminator" for its graph */
    ir_shape shape;                /* no batch dimension */
    ir_dtype dtype;                /* IR_I32 only for num_batches_tracked (int64 in PyTorch) */
    ir_role role;
    ir_init init;
    int owner;                     /* node id, or -1 (codebook tensors: the codebook's first quantize) */
    int codebook;                  /* codebook index, or -1 */
    src_loc loc;                   /* the op (or codebook) that created it */
} ir_param;

typedef struct ir_node {
    int id;
    ir_op op;
    ir_graph_kind graph;
    const char *path;              /* instance path ("encoder.down.0.block.1.conv1"), NULL when unnamed */
    src_loc loc;                   /* the op call in the .vq */
    int n_in;   const int *in;     /* tensor ids */
    int n_out;  const int *out;    /* tensor ids; quantize: z_q (B, D, H, W), indices (B, H, W) */
    int n_attr; const ir_attr *attr;   /* canonical order, defaults filled in */
    int n_param; const int *param; /* param ids, in creation order (weight, bias, buffers) */
    int codebook;                  /* quantize: codebook index, else -1 */
    int64_t flops;                 /* one forward pass, batch 1 (docs/language.md, "FLOPs") */
} ir_node;

const ir_attr *ir_attr_find(const ir_node *n, const char *name);

typedef struct ir_codebook {
    const char *name;
    src_loc loc;
    ir_section settings;           /* every key, defaults marked */
    /* the same, typed: */
    int64_t entries, dim;          /* K, D */
    int64_t lookup_dim;            /* 0 = off */
    double beta, decay, eps, restart_threshold;
    int64_t restart_after;
    const char *loss;              /* "legacy" | "corrected" */
    const char *update;            /* "gradient" | "ema" */
    const char *init;              /* "uniform" | "normal" | "kmeans" */
    const char *distance;          /* "l2" | "cosine" */
    const char *naming;            /* "taming" | "rosinality" */
    int n_param; const int *param; /* taming: embedding.weight (K, d); rosinality: embed (d, K),
                                      cluster_size (K), embed_avg (d, K); ema+taming adds the buffers;
                                      d = lookup_dim or D. lookup_dim adds, last, proj_in.weight (d, D),
                                      proj_in.bias (d), proj_out.weight (D, d), proj_out.bias (D) */
    int n_users; int node;         /* quantize nodes using it; the first one */
} ir_codebook;

typedef struct ir_graph {
    ir_graph_kind kind;
    int present;
    src_loc loc;
    int n_in;  const int *in;  const char *const *in_names;    /* encoder/discriminator: the image */
    int n_out; const int *out; const char *const *out_names;   /* encoder: quantize results */
    int first_node, n_nodes;
} ir_graph;

typedef struct ir_model {
    const char *name;              /* `model NAME;` */
    const src_file *src;           /* the main .vq */
    int n_defs; ir_setting *defs;  /* compile-time params, is_default = not overridden by -D */

    int n_tensors; ir_tensor *tensors;
    int n_nodes;   ir_node *nodes;
    int n_params;  ir_param *params;
    int n_codebooks; ir_codebook *codebooks;
    ir_graph graphs[IR_GRAPH_COUNT];

    ir_section data, loss, train;
    int n_optimizers; ir_section *optimizers;
    ir_shape image;                /* (B, channels, size, size): encoder input, decoder output */
} ir_model;

/* Printing shapes: "(B, 128, 16, 16)"; params in PyTorch tuple style "(128,)". */
void ir_shape_str(char *buf, size_t n, const ir_shape *s);
void ir_value_str(char *buf, size_t n, const ir_value *v);
int64_t ir_shape_numel(const ir_shape *s);      /* batch counted as 1 */

/* `vqc --dump=graph`: stable text, golden-tested. */
void ir_dump(FILE *out, const ir_model *m);
/* `vqc --dot`: Graphviz of the model graph. */
void ir_dot(FILE *out, const ir_model *m);
/* `vqc --summary`: parameters per module and in total, shapes at each stage, forward FLOPs. */
void ir_summary(FILE *out, const ir_model *m);
/* `vqc --dump=params`: one line per parameter/buffer tensor: name (shape) kind. */
void ir_dump_params(FILE *out, const ir_model *m);

#endif
