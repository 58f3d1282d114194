/* ir.h: the graph IR: a checked, fully elaborated model with every shape known.
 *
 * (Filled in by the checker's author: tensors, nodes in topological order,
 * parameters with their reference names, shapes and source locations,
 * codebooks, sections' settings.) Later stages (autodiff, passes, emit) read it.
 */
#ifndef VQC_IR_H
#define VQC_IR_H

#include <stdio.h>

typedef struct ir_model ir_model;

/* `vqc --dump=graph`: stable text, golden-tested. */
void ir_dump(FILE *out, const ir_model *m);
/* `vqc --dot`: Graphviz of the model graph. */
void ir_dot(FILE *out, const ir_model *m);
/* `vqc --summary`: parameters per module and in total, shapes at each stage, forward FLOPs. */
void ir_summary(FILE *out, const ir_model *m);
/* `vqc --dump=params`: one line per parameter/buffer tensor: name (shape) kind. */
void ir_dump_params(FILE *out, const ir_model *m);

#endif
