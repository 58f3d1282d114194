/* safetensors.h: reading and writing the safetensors file format
 * (https://github.com/huggingface/safetensors, "Format" section):
 *
 *   bytes [0, 8)        N, the header length, unsigned 64-bit little-endian
 *   bytes [8, 8+N)      UTF-8 JSON object: {"name": {"dtype": "F32",
 *                       "shape": [d0, d1, ...], "data_offsets": [begin, end]},
 *                       ..., "__metadata__": {"key": "value", ...}}
 *   bytes [8+N, EOF)    the data buffer; offsets are relative to its start,
 *                       tensors are row-major, little-endian.
 *
 * The reader trusts nothing: it validates the whole header (dtypes, shapes,
 * sizes, offsets, overlaps, coverage of the buffer, metadata types) before
 * any tensor is handed out, and converts F16/BF16 to F32 on load.
 * The writer is atomic: a crash or a full disk leaves the previous file.
 * What a vqc checkpoint stores on top of this is in checkpoint.h.
 *
 * Host byte order must be little-endian (checked at compile time). */
#ifndef VQ_SAFETENSORS_H
#define VQ_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define VQ_ST_MAX_DIMS 8
/* Largest header accepted, as in the reference implementation (100 MB). */
#define VQ_ST_MAX_HEADER ((uint64_t)100000000)

typedef enum vq_dtype {
    VQ_DT_F32, VQ_DT_F16, VQ_DT_BF16, VQ_DT_I32, VQ_DT_I64,
    /* Valid safetensors dtypes that the reader sizes and validates but cannot
     * hand out (vq_st_get fails with VQ_ERR_UNSUPPORTED for them); U8 (PyTorch
     * uint8 buffers such as ActNorm's `initialized`) is read by vq_st_read into F32. */
    VQ_DT_F64, VQ_DT_I8, VQ_DT_U8, VQ_DT_I16, VQ_DT_U16, VQ_DT_U32, VQ_DT_U64,
    VQ_DT_BOOL, VQ_DT_F8_E4M3, VQ_DT_F8_E5M2,
    VQ_DT_COUNT
} vq_dtype;

const char *vq_dtype_name(vq_dtype dt);   /* "F32", ... */
size_t vq_dtype_size(vq_dtype dt);        /* bytes per element */

/* One tensor, for writing (data is read) and for vq_st_read_all (data is filled). */
typedef struct vq_st_ref {
    const char *name;
    vq_dtype dtype;
    int ndim;                 /* 0 (a scalar) .. VQ_ST_MAX_DIMS */
    const int64_t *shape;     /* ndim entries, each >= 0 */
    void *data;               /* numel * vq_dtype_size(dtype) bytes, row-major */
} vq_st_ref;

typedef struct vq_st_meta { const char *key, *value; } vq_st_meta;

/* Writes `path` atomically: the bytes go to "PATH.tmp.<pid>" in the same
 * directory, which is fsync'ed, renamed over PATH, and the directory fsync'ed.
 * On any failure the temporary file is removed, PATH is left as it was, and
 * the message names the path and the errno text.
 * Header order: "__metadata__" first (omitted when n_meta is 0), then the
 * tensors in the order given. Data layout: 8-byte dtypes first, then 4-, 2-,
 * 1-byte ones (given order within a size), so every tensor is aligned to its
 * element size; the header is space-padded so the buffer starts at a multiple of 8.
 * Writes beyond RLIMIT_FSIZE raise SIGXFSZ, which kills the process by
 * default: a program that wants EFBIG reported instead must ignore SIGXFSZ
 * (signal(SIGXFSZ, SIG_IGN)); this library never changes signal dispositions. */
int vq_st_write(const char *path, const vq_st_ref *tensors, size_t n,
                const vq_st_meta *meta, size_t n_meta);

/* A loaded tensor. data is F32 for F32/F16/BF16 files, int32_t for I32,
 * int64_t for I64, uint8_t for U8, NULL for the other dtypes; always aligned. */
typedef struct vq_st_tensor {
    char *name;
    vq_dtype dtype;           /* as stored in the file */
    int ndim;
    int64_t shape[VQ_ST_MAX_DIMS];
    uint64_t numel;
    uint64_t begin, end;      /* data_offsets in the file's buffer */
    void *data;
    int owned;                /* data was allocated (converted or realigned), not a view */
} vq_st_tensor;

typedef struct vq_st_file {
    char *label;              /* path, or the label given to vq_st_open_mem */
    size_t n_tensors;
    vq_st_tensor *tensors;    /* in header order */
    size_t *by_name;          /* indices into tensors[], sorted by name */
    size_t n_meta;
    char **meta_keys, **meta_values;  /* in header order */
    void *block;              /* the file bytes, data buffer 64-byte aligned */
} vq_st_file;

/* Reads and validates a whole file. On failure *f is empty (safe to close)
 * and the message names the file and the problem. */
int vq_st_open(vq_st_file *f, const char *path);
/* Same from bytes in memory (copied); `label` names them in messages. */
int vq_st_open_mem(vq_st_file *f, const void *bytes, size_t len, const char *label);
void vq_st_close(vq_st_file *f);

/* The tensor named `name`, or NULL (with the last error set). */
const vq_st_tensor *vq_st_find(const vq_st_file *f, const char *name);
/* Its data (see vq_st_tensor.data), shape and rank; NULL with an error when
 * missing or of an unsupported dtype. shape/ndim may be NULL. */
const void *vq_st_get(const vq_st_file *f, const char *name, const int64_t **shape, int *ndim);
/* Copies tensor `name` into dst after checking that its shape is exactly
 * (shape, ndim) and that it converts to `want` (VQ_DT_F32 accepts F32, F16,
 * BF16 and U8, all exactly; VQ_DT_I32 and VQ_DT_I64 need that exact dtype).
 * Mismatch message:
 * "x.safetensors: decoder.conv_out.weight: shape (3, 128, 3, 3) in file, model expects (1, 64, 3, 3)". */
int vq_st_read(const vq_st_file *f, const char *name, vq_dtype want,
               void *dst, const int64_t *shape, int ndim);
/* vq_st_check_names, then vq_st_read for each ref (dtype, shape, data). */
int vq_st_read_all(const vq_st_file *f, const vq_st_ref *refs, size_t n, int allow_unexpected);
/* Checks that every expected name is in the file and (unless
 * allow_unexpected) that the file has no other tensor. The message lists them:
 * "x.safetensors: 2 missing tensors: a.weight, a.bias; 1 unexpected tensor: b.weight". */
int vq_st_check_names(const vq_st_file *f, const char *const *expected, size_t n, int allow_unexpected);

/* Metadata value for key, or NULL when absent. */
const char *vq_st_meta_get(const vq_st_file *f, const char *key);

/* Formats "(3, 128, 3, 3)" ("()" for a scalar) into buf. */
void vq_st_format_shape(char *buf, size_t cap, const int64_t *shape, int ndim);

/* Half-precision conversions (exact: every F16/BF16 value is an F32 value;
 * subnormals, infinities and NaN payloads are kept). */
float vq_f16_to_f32(uint16_t h);
float vq_bf16_to_f32(uint16_t h);

#endif
