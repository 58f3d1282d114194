/* vq_common.h: what every part of the runtime shares: status codes and the
 * last-error message, aligned allocation, and the seeded random generator.
 *
 * Errors: a library function returns 0 (VQ_OK) or a vq_status; it never calls
 * exit(). The human-readable reason (naming the file and the cause) is kept
 * per thread and read with vq_last_error(). Typical use:
 *
 *     if (vq_ckpt_load(&ck, path)) { fprintf(stderr, "%s\n", vq_last_error()); return 1; }
 */
#ifndef VQ_COMMON_H
#define VQ_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum vq_status {
    VQ_OK = 0,
    VQ_ERR_ARG,         /* the caller passed something invalid */
    VQ_ERR_NOMEM,       /* an allocation failed */
    VQ_ERR_IO,          /* open/read/write/fsync/rename failed (errno text in the message) */
    VQ_ERR_FORMAT,      /* a file's content is malformed or inconsistent */
    VQ_ERR_MISMATCH,    /* well-formed, but does not fit the model (name, shape, hash) */
    VQ_ERR_NUMERIC,     /* NaN or Inf where a finite number is required */
    VQ_ERR_UNSUPPORTED, /* valid but not handled (e.g. an unknown dtype) */
    VQ_ERR_INTERRUPTED, /* stopped by a signal */
} vq_status;

/* Record a formatted message as this thread's last error and return `code`. */
int vq_fail(vq_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with more context: "loading x.safetensors: <old>". */
int vq_fail_context(vq_status code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *vq_last_error(void);
void vq_clear_error(void);
const char *vq_status_name(vq_status code);

/* Element type of a named state array that checkpoints save (optimizer
 * moments, codebook EMA buffers and usage counters). */
typedef enum vq_state_dtype { VQ_STATE_F32, VQ_STATE_I32, VQ_STATE_I64 } vq_state_dtype;

/* 64-byte aligned (one cache line, one AVX-512 vector), zero-filled. NULL on
 * failure, with the last error set. Free with vq_free. */
void *vq_alloc(size_t bytes);
/* The same without zero-filling, for buffers a reader is about to fill: a
 * hostile header that promises gigabytes costs no memory until data arrives. */
void *vq_alloc_uninit(size_t bytes);
void vq_free(void *p);

/* Seeded generator: xoshiro256** seeded through splitmix64. The whole state is
 * four words, so checkpoints save it and a resumed run draws the same numbers. */
typedef struct vq_rng { uint64_t s[4]; } vq_rng;

void vq_rng_seed(vq_rng *rng, uint64_t seed);
uint64_t vq_rng_next(vq_rng *rng);
float vq_rng_uniform(vq_rng *rng);                    /* [0, 1), 24 random bits */
double vq_rng_uniform_double(vq_rng *rng);            /* [0, 1), 53 random bits */
float vq_rng_normal(vq_rng *rng, float mean, float std); /* Box-Muller, one draw per call */
uint64_t vq_rng_below(vq_rng *rng, uint64_t n);       /* uniform in [0, n), unbiased */
/* An independent stream for a sub-task (e.g. one per data worker). */
vq_rng vq_rng_split(vq_rng *rng);

#endif
