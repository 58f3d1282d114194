/* driver.h: the generic command-line program around a model (model_desc.h).
 * A compiled model's whole main is
 *
 *     #include "vqrt.h"
 *     #include "toy.h"
 *     int main(int argc, char **argv) { return vq_driver_main(argc, argv, toy_desc()); }
 *
 * and gives the subcommands init, train, eval, reconstruct, encode, decode,
 * info and bench (docs/driver.md). Exit status: 0 success, 1 runtime error
 * (the message is vq_last_error()'s, naming the file and the reason), 2 bad
 * command line (the message names the argument).
 *
 * What it is not: a library routine. vq_driver_main prints, installs signal
 * handlers (SIGINT/SIGTERM: checkpoint and stop; SIGXFSZ ignored) and may
 * re-execute the program once to pick the OpenBLAS kernel (threads.h). The
 * pieces below it that tests use directly are plain library functions. */
#ifndef VQ_DRIVER_H
#define VQ_DRIVER_H

#include "model_desc.h"

#define VQ_EXIT_OK 0
#define VQ_EXIT_ERROR 1
#define VQ_EXIT_USAGE 2

int vq_driver_main(int argc, char **argv, const vq_model_desc *desc);

/* Checks a description's internal consistency (ABI, tensor offsets inside
 * the slabs and not overlapping, numel = product of shape, unique names,
 * codebooks pointing at (K, D) tensors, optimizer ranges inside params,
 * function pointers present). VQ_ERR_ARG naming the first problem. */
int vq_model_desc_check(const vq_model_desc *d);

/* Fills params (n_params) and buffers (n_buffers) by each tensor's init rule,
 * in table order, from rng. VQ_FILL_MODEL tensors are left untouched. */
int vq_model_init_weights(const vq_model_desc *d, float *params, float *buffers, vq_rng *rng);

#endif
