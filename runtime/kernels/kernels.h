/* kernels.h: the op kernels that vqc's generated code calls (umbrella header).
 *
 * Conventions (docs/runtime-kernels.md): float32 NCHW contiguous tensors;
 * arguments go outputs, inputs, weights, shape, scratch; gradients take a `d`
 * prefix and backward ACCUMULATES (+=) into them; forward writes what backward
 * needs into caller-provided buffers; no kernel allocates: those that need
 * scratch expose vq_<op>_scratch_floats(). Shape structs are validated once by
 * vq_<op>_check(), which returns 0 or a vq_status with vq_last_error() set;
 * the kernels themselves trust a checked shape and return nothing.
 */
#ifndef VQ_KERNELS_H
#define VQ_KERNELS_H

#include "activation.h"
#include "actnorm.h"
#include "attention.h"
#include "conv2d.h"
#include "conv_transpose2d.h"
#include "dropout.h"
#include "loss.h"
#include "norm.h"
#include "pool_max.h"
#include "resample.h"

#endif
