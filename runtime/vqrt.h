/* vqrt.h: the vqc runtime's public header. Generated models and the driver
 * include this one file; it pulls in each part of the runtime.
 *
 * Dimension legend used across the runtime:
 *   B batch, C channels, H, W height and width, N = B*H*W vectors to quantize,
 *   K codebook entries, D code dimension.
 * Tensors are float32, NCHW, contiguous, unless a comment says otherwise. */
#ifndef VQRT_H
#define VQRT_H

#include "vq_common.h"
#include "idx.h"
#include "image.h"
#include "dataset.h"
#include "optim.h"
#include "schedule.h"
#include "metrics.h"
#include "threads.h"
#include "progress.h"
#include "timing.h"
#include "quantizer.h"
#include "checkpoint.h"
#include "kernels/kernels.h"
#include "driver.h"
#include "lpips.h"
#include "train_step.h"
#include "codes.h"

#endif
