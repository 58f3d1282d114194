/* emit_ops.c: the generator's op table, indexed by the ops.def ids. The
 * emitters themselves live in compiler/ops/<family>.c. An op with no entry
 * would be reported by cg_build at its .vq location.
 */
#include "emit_ops.h"

static const cg_op_emit *const table[IR_OP_COUNT] = {
    [IR_OP_CONV2D] = &cg_emit_conv2d,
    [IR_OP_CONV_TRANSPOSE2D] = &cg_emit_conv_transpose2d,
    [IR_OP_PAD] = &cg_emit_pad,
    [IR_OP_GROUP_NORM] = &cg_emit_group_norm,
    [IR_OP_BATCH_NORM] = &cg_emit_batch_norm,
    [IR_OP_SWISH] = &cg_emit_elementwise,
    [IR_OP_SILU] = &cg_emit_elementwise,
    [IR_OP_RELU] = &cg_emit_elementwise,
    [IR_OP_SIGMOID] = &cg_emit_elementwise,
    [IR_OP_TANH] = &cg_emit_elementwise,
    [IR_OP_LEAKY_RELU] = &cg_emit_elementwise,
    [IR_OP_SCALE] = &cg_emit_elementwise,
    [IR_OP_ADD] = &cg_emit_add,
    [IR_OP_CONCAT] = &cg_emit_concat,
    [IR_OP_UPSAMPLE] = &cg_emit_upsample,
    [IR_OP_AVG_POOL] = &cg_emit_avg_pool,
    [IR_OP_ATTENTION] = &cg_emit_attention,
    [IR_OP_MATMUL] = &cg_emit_matmul,
    [IR_OP_SOFTMAX] = &cg_emit_softmax,
    [IR_OP_TRANSPOSE] = &cg_emit_transpose,
    [IR_OP_RESHAPE] = &cg_emit_identity,
    [IR_OP_DROPOUT] = &cg_emit_dropout,
    [IR_OP_QUANTIZE] = &cg_emit_quantize,
    [IR_OP_ACT_NORM] = &cg_emit_act_norm,
};

static const cg_op_emit none = {0};

const cg_op_emit *cg_emitter(ir_op op)
{
    return (op >= 0 && op < IR_OP_COUNT && table[op]) ? table[op] : &none;
}
