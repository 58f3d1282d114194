/* checkpoint.h: what a vqc training checkpoint stores, on top of the
 * safetensors format (safetensors.h). Conventions (docs/runtime-checkpoint.md):
 *
 *   tensors   model parameters and buffers under their reference names
 *             ("encoder.conv_in.weight"); each optimizer's state arrays
 *             (optim.h: "step", "exp_avg", "exp_avg_sq", "momentum_buffer")
 *             under "optim.<optimizer>.<state>", e.g. "optim.ae.exp_avg" (S,) F32,
 *             "optim.disc.step" (1,) I64.
 *   metadata  format     "vqc-checkpoint-1"
 *             step       decimal training step
 *             rng        the 4 vq_rng words, 16 lowercase hex digits each, comma-separated
 *             model_hash 16 lowercase hex digits: vq_hash_fnv1a64 of the model description
 *             any other key: free-form (the writer's own notes)
 *
 * It is not an optimizer or a model: the caller (generated code, the driver)
 * supplies the tensor table. */
#ifndef VQ_CHECKPOINT_H
#define VQ_CHECKPOINT_H

#include "safetensors.h"
#include "vq_common.h"

#define VQ_CKPT_FORMAT "vqc-checkpoint-1"

typedef struct vq_ckpt_info {
    uint64_t step;
    vq_rng rng;
    uint64_t model_hash;
} vq_ckpt_info;

/* FNV-1a, 64-bit (Fowler, Noll, Vo): offset basis 0xcbf29ce484222325, prime
 * 0x100000001b3. A fingerprint to catch loading the wrong model, not a
 * cryptographic hash. */
uint64_t vq_hash_fnv1a64(const void *bytes, size_t n);

/* Saves tensors + the reserved metadata from info + extra free-form metadata
 * (whose keys must not be format/step/rng/model_hash), atomically (vq_st_write). */
int vq_ckpt_save(const char *path, const vq_st_ref *tensors, size_t n, const vq_ckpt_info *info,
                 const vq_st_meta *extra, size_t n_extra);

/* Parses format/step/rng/model_hash from an open file's metadata. Fails with
 * VQ_ERR_FORMAT naming the key when one is missing or malformed, or when
 * format is not VQ_CKPT_FORMAT. */
int vq_ckpt_info_get(const vq_st_file *f, vq_ckpt_info *info);

/* vq_st_open + vq_ckpt_info_get; when expected_hash is not NULL, a different
 * model_hash fails with VQ_ERR_MISMATCH. On failure *f is closed. */
int vq_ckpt_open(vq_st_file *f, const char *path, const uint64_t *expected_hash, vq_ckpt_info *info);

/* "optim.<optimizer>.<state>" into buf ("optim.ae.exp_avg"); VQ_ERR_ARG when
 * it does not fit in cap bytes or a part is empty. */
int vq_ckpt_optim_name(char *buf, size_t cap, const char *optimizer, const char *state);

#endif
