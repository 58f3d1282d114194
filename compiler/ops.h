/* ops.h: the op table's types. One entry per op (ops.def ids) in ops.c holds
 * its arity, attributes (type, default, range), shape rule, FLOP count and
 * parameter creation; later stages hang their emitters off the same ids.
 *
 * Shapes handled by the rules include the batch dimension B as d[0].
 */
#ifndef VQC_OPS_H
#define VQC_OPS_H

#include "checker.h"

typedef enum atype {
    AT_INT, AT_FLOAT, AT_BOOL,
    AT_ENUM,        /* a bare name or string from `choices` ("nearest", "pytorch|normal") */
    AT_PADDING,     /* int, [ph, pw] or [top, bottom, left, right]; stored as 4 ints t, b, l, r */
    AT_INTS,        /* list<int> */
    AT_CODEBOOK,    /* the name of a `codebook` section */
} atype;

typedef enum arange { R_ANY, R_POS, R_NONNEG, R_PROB /* [0, 1) */ } arange;

typedef struct attr_spec {
    const char *name;
    atype type;
    int required;
    int64_t di; double df; const char *ds;   /* default (bools in di) */
    const char *choices;                     /* AT_ENUM: "a|b|c" */
    arange range;
} attr_spec;

#define OP_MAX_IN 8
#define OP_MAX_ATTR 8
#define OP_MAX_PARAM 6

/* One op call being checked: inputs' shapes, attributes (canonical order,
 * defaults filled), and what the rule computes. */
typedef struct op_ctx {
    checker *c;
    ir_op op;
    src_loc loc;                       /* the call */
    int n_in;
    ir_shape in[OP_MAX_IN];
    int in_t[OP_MAX_IN];               /* the inputs' tensor ids */
    src_loc in_loc[OP_MAX_IN];
    ir_attr attr[OP_MAX_ATTR];
    src_loc attr_loc[OP_MAX_ATTR];     /* the value's location, or the call's for defaults */
    int n_out;
    ir_shape out[2];
    ir_dtype out_dt[2];
    int cb;                            /* quantize: codebook index */
} op_ctx;

typedef struct param_spec {
    const char *suffix;                /* "weight", "bias", "running_mean", ... */
    ir_shape shape;
    ir_dtype dt;
    ir_role role;
    ir_init init;
} param_spec;

typedef struct op_info {
    const char *name;
    int min_in, max_in;                /* tensor inputs; max_in -1: any number */
    const attr_spec *attrs;
    int n_attrs;
    int (*shape)(op_ctx *o);           /* 0 after reporting an error */
    int64_t (*flops)(const op_ctx *o); /* batch 1 */
    int (*params)(const op_ctx *o, param_spec *out);   /* count; NULL: none */
} op_info;

extern const op_info op_table[IR_OP_COUNT];

/* Attribute access by name inside rules (the names are the table's). */
const ir_attr *op_attr(const op_ctx *o, const char *name);
int64_t op_int(const op_ctx *o, const char *name);
double op_float(const op_ctx *o, const char *name);
const char *op_str(const op_ctx *o, const char *name);
src_loc op_attr_loc(const op_ctx *o, const char *name);

#endif
