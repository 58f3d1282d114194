/* safetensors.c: the safetensors reader (validation, F16/BF16 -> F32, lookup)
 * and the dtype table. The writer is in safetensors_write.c. See safetensors.h.
 *
 * Validation rules (decided here, documented in docs/runtime-checkpoint.md):
 * the tensors' byte ranges must tile the data buffer exactly (no overlap, no
 * hole, no trailing bytes), as the reference Rust implementation requires;
 * every entry has exactly the keys dtype, shape, data_offsets; names are
 * non-empty and free of NUL; "__metadata__" maps strings to strings. */
#include "safetensors.h"
#include "json.h"
#include "vq_common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c assumes a little-endian host (the format is little-endian)"
#endif

static const struct { const char *name; size_t size; } dtypes[VQ_DT_COUNT] = {
    [VQ_DT_F32] = {"F32", 4},   [VQ_DT_F16] = {"F16", 2},  [VQ_DT_BF16] = {"BF16", 2},
    [VQ_DT_I32] = {"I32", 4},   [VQ_DT_I64] = {"I64", 8},  [VQ_DT_F64] = {"F64", 8},
    [VQ_DT_I8] = {"I8", 1},     [VQ_DT_U8] = {"U8", 1},    [VQ_DT_I16] = {"I16", 2},
    [VQ_DT_U16] = {"U16", 2},   [VQ_DT_U32] = {"U32", 4},  [VQ_DT_U64] = {"U64", 8},
    [VQ_DT_BOOL] = {"BOOL", 1}, [VQ_DT_F8_E4M3] = {"F8_E4M3", 1}, [VQ_DT_F8_E5M2] = {"F8_E5M2", 1},
};

const char *vq_dtype_name(vq_dtype dt) { return (unsigned)dt < VQ_DT_COUNT ? dtypes[dt].name : "?"; }
size_t vq_dtype_size(vq_dtype dt) { return (unsigned)dt < VQ_DT_COUNT ? dtypes[dt].size : 0; }

/* Attached to their bytes at open. U8 (PyTorch's uint8 buffers: taming ActNorm's `initialized`)
 * only for vq_st_read into F32; vq_st_get hands out F32/I32/I64 alone. */
static int loadable(vq_dtype dt) { return dt <= VQ_DT_I64 || dt == VQ_DT_U8; }

/* IEEE 754 binary16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. */
float vq_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, bits;
    if (e == 0x1f) {
        bits = sign | 0x7f800000u | (m << 13);           /* inf, or NaN with its payload */
    } else if (e) {
        bits = sign | ((e - 15 + 127) << 23) | (m << 13);
    } else if (!m) {
        bits = sign;                                      /* +-0 */
    } else {
        /* Subnormal m * 2^-24: shift the leading 1 up to bit 10, lowering the exponent. */
        int shift = 0;
        while (!(m & 0x400)) { m <<= 1; shift++; }
        bits = sign | ((uint32_t)(127 - 14 - shift) << 23) | ((m & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

/* bfloat16 is the top half of a binary32. */
float vq_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

void vq_st_format_shape(char *buf, size_t cap, const int64_t *shape, int ndim)
{
    size_t n = 0;
    if (!cap) return;
    buf[0] = '\0';
    n += (size_t)snprintf(buf + n, cap - n, "(");
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < cap) n += (size_t)snprintf(buf + n, cap - n, ndim == 1 ? ",)" : ")");
}

void vq_st_close(vq_st_file *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->n_tensors; i++) {
        free(f->tensors[i].name);
        if (f->tensors[i].owned) vq_free(f->tensors[i].data);
    }
    for (size_t i = 0; i < f->n_meta; i++) { free(f->meta_keys[i]); free(f->meta_values[i]); }
    free(f->tensors); free(f->by_name); free(f->meta_keys); free(f->meta_values); free(f->label);
    vq_free(f->block);
    memset(f, 0, sizeof *f);
}

/* --- header validation ------------------------------------------------------ */

static int tensor_entry(vq_st_file *f, vq_st_tensor *t, const char *name, size_t name_len,
                        const vq_json *v, uint64_t data_len)
{
    const char *L = f->label;
    if (!name_len) return vq_fail(VQ_ERR_FORMAT, "%s: header has a tensor with an empty name", L);
    if (strlen(name) != name_len)
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor name \"%.200s\" contains a NUL character", L, name);
    if (!(t->name = strdup(name))) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory", L);
    if (v->type != VQ_JSON_OBJECT)
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": entry is a %s, expected an object", L, name,
                       vq_json_type_name(v->type));
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->keys[i], "dtype") && strcmp(v->keys[i], "shape") && strcmp(v->keys[i], "data_offsets"))
            return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": unknown key \"%.100s\" (expected dtype, shape, data_offsets)",
                           L, name, v->keys[i]);
    const vq_json *dt = vq_json_get(v, "dtype"), *sh = vq_json_get(v, "shape"), *off = vq_json_get(v, "data_offsets");
    if (!dt || !sh || !off)
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": missing \"%s\"", L, name,
                       !dt ? "dtype" : !sh ? "shape" : "data_offsets");

    if (dt->type != VQ_JSON_STRING)
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": dtype is a %s, expected a string", L, name,
                       vq_json_type_name(dt->type));
    int found = -1;
    for (int k = 0; k < VQ_DT_COUNT; k++)
        if (strlen(dtypes[k].name) == dt->len && !memcmp(dtypes[k].name, dt->str, dt->len)) found = k;
    if (found < 0)
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": unknown dtype \"%.40s\" "
                       "(safetensors dtypes: F32 F16 BF16 I32 I64 F64 I8 U8 I16 U16 U32 U64 BOOL F8_E4M3 F8_E5M2)",
                       L, name, dt->str);
    t->dtype = (vq_dtype)found;

    if (sh->type != VQ_JSON_ARRAY)
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": shape is a %s, expected an array", L, name,
                       vq_json_type_name(sh->type));
    if (sh->n > VQ_ST_MAX_DIMS)
        return vq_fail(VQ_ERR_UNSUPPORTED, "%s: tensor \"%.200s\": %zu dimensions, at most %d are supported",
                       L, name, sh->n, VQ_ST_MAX_DIMS);
    t->ndim = (int)sh->n;
    /* numel is computed in uint64 with an overflow check; a tensor with a zero
     * dimension has no elements whatever the other dimensions are, but each
     * dimension must still fit in int64. */
    uint64_t numel = 1;
    int overflow = 0, zero = 0;
    for (size_t i = 0; i < sh->n; i++) {
        const vq_json *d = sh->items[i];
        if (d->type != VQ_JSON_NUMBER || !d->is_uint || d->u > (uint64_t)INT64_MAX)
            return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": shape[%zu] is %.40s, expected an integer in [0, 2^63)",
                           L, name, i, d->type == VQ_JSON_NUMBER ? d->str : vq_json_type_name(d->type));
        t->shape[i] = (int64_t)d->u;
        if (!d->u) zero = 1;
        else if (numel > UINT64_MAX / d->u) overflow = 1;
        numel *= d->u;   /* may wrap; only used when neither flag is set */
    }
    size_t es = dtypes[t->dtype].size;
    if (zero) numel = 0;
    else if (!overflow && numel > UINT64_MAX / es) overflow = 1;
    if (overflow && !zero) {
        char s[256];
        vq_st_format_shape(s, sizeof s, t->shape, t->ndim);
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": shape %s has more bytes than 2^64", L, name, s);
    }
    t->numel = numel;

    if (off->type != VQ_JSON_ARRAY || off->n != 2)
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": data_offsets must be an array [begin, end]", L, name);
    for (int i = 0; i < 2; i++)
        if (off->items[i]->type != VQ_JSON_NUMBER || !off->items[i]->is_uint)
            return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": data_offsets[%d] is not a non-negative integer below 2^64",
                           L, name, i);
    t->begin = off->items[0]->u;
    t->end = off->items[1]->u;
    if (t->begin > t->end)
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": data_offsets [%llu, %llu] has begin > end", L, name,
                       (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_len)
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": data_offsets [%llu, %llu] beyond the %llu-byte data buffer",
                       L, name, (unsigned long long)t->begin, (unsigned long long)t->end, (unsigned long long)data_len);
    if (numel * es != t->end - t->begin) {
        char s[256];
        vq_st_format_shape(s, sizeof s, t->shape, t->ndim);
        return vq_fail(VQ_ERR_FORMAT, "%s: tensor \"%.200s\": shape %s of %s needs %llu bytes, data_offsets [%llu, %llu] hold %llu",
                       L, name, s, dtypes[t->dtype].name, (unsigned long long)(numel * es),
                       (unsigned long long)t->begin, (unsigned long long)t->end,
                       (unsigned long long)(t->end - t->begin));
    }
    return 0;
}

static int metadata(vq_st_file *f, const vq_json *m)
{
    const char *L = f->label;
    if (m->type != VQ_JSON_OBJECT)
        return vq_fail(VQ_ERR_FORMAT, "%s: __metadata__ is a %s, expected an object of strings", L,
                       vq_json_type_name(m->type));
    f->meta_keys = calloc(m->n ? m->n : 1, sizeof(char *));
    f->meta_values = calloc(m->n ? m->n : 1, sizeof(char *));
    if (!f->meta_keys || !f->meta_values) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory", L);
    for (size_t i = 0; i < m->n; i++) {
        const vq_json *v = m->items[i];
        if (v->type != VQ_JSON_STRING)
            return vq_fail(VQ_ERR_FORMAT, "%s: __metadata__ \"%.200s\" is a %s, expected a string", L, m->keys[i],
                           vq_json_type_name(v->type));
        if (strlen(m->keys[i]) != m->key_lens[i] || strlen(v->str) != v->len)
            return vq_fail(VQ_ERR_FORMAT, "%s: __metadata__ \"%.200s\" contains a NUL character", L, m->keys[i]);
        f->meta_keys[i] = strdup(m->keys[i]);
        f->meta_values[i] = strdup(v->str);
        f->n_meta = i + 1;
        if (!f->meta_keys[i] || !f->meta_values[i]) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory", L);
    }
    return 0;
}

/* The comparators read the tensor array from here (qsort has no context
 * argument in C11); thread-local so concurrent opens do not race. */
static _Thread_local const vq_st_tensor *sort_base;
static int by_offset(const void *a, const void *b)
{
    const vq_st_tensor *x = &sort_base[*(const size_t *)a], *y = &sort_base[*(const size_t *)b];
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}
static int by_name(const void *a, const void *b)
{
    return strcmp(sort_base[*(const size_t *)a].name, sort_base[*(const size_t *)b].name);
}

/* The byte ranges must tile [0, data_len) exactly. */
static int check_tiling(vq_st_file *f, uint64_t data_len)
{
    size_t n = f->n_tensors;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory", f->label);
    for (size_t i = 0; i < n; i++) order[i] = i;
    sort_base = f->tensors;
    qsort(order, n, sizeof *order, by_offset);
    uint64_t at = 0;
    int rc = 0;
    for (size_t k = 0; k < n && !rc; k++) {
        const vq_st_tensor *t = &f->tensors[order[k]];
        if (t->begin < at)
            rc = vq_fail(VQ_ERR_FORMAT, "%s: tensors \"%.200s\" and \"%.200s\" overlap (data_offsets [%llu, %llu] and [%llu, %llu])",
                         f->label, f->tensors[order[k - 1]].name, t->name,
                         (unsigned long long)f->tensors[order[k - 1]].begin, (unsigned long long)f->tensors[order[k - 1]].end,
                         (unsigned long long)t->begin, (unsigned long long)t->end);
        else if (t->begin > at)
            rc = vq_fail(VQ_ERR_FORMAT, "%s: data buffer bytes [%llu, %llu) belong to no tensor (before \"%.200s\")",
                         f->label, (unsigned long long)at, (unsigned long long)t->begin, t->name);
        else
            at = t->end;
    }
    if (!rc && at != data_len)
        rc = vq_fail(VQ_ERR_FORMAT, "%s: data buffer bytes [%llu, %llu) at the end of the file belong to no tensor",
                     f->label, (unsigned long long)at, (unsigned long long)data_len);
    free(order);
    return rc;
}

/* Makes each loadable tensor's data point at aligned F32/I32/I64 values. */
static int attach_data(vq_st_file *f, const unsigned char *data)
{
    for (size_t i = 0; i < f->n_tensors; i++) {
        vq_st_tensor *t = &f->tensors[i];
        if (!loadable(t->dtype)) continue;
        const unsigned char *src = data + t->begin;
        size_t es = dtypes[t->dtype].size;
        if (t->dtype == VQ_DT_F16 || t->dtype == VQ_DT_BF16) {
            if (t->numel > SIZE_MAX / 4) return vq_fail(VQ_ERR_NOMEM, "%s: tensor \"%.200s\" too large", f->label, t->name);
            float *o = vq_alloc((size_t)t->numel * 4);
            if (!o) return vq_fail_context(VQ_ERR_NOMEM, "%s: tensor \"%.200s\"", f->label, t->name);
            for (uint64_t k = 0; k < t->numel; k++) {
                uint16_t h = (uint16_t)(src[2 * k] | src[2 * k + 1] << 8);
                o[k] = t->dtype == VQ_DT_F16 ? vq_f16_to_f32(h) : vq_bf16_to_f32(h);
            }
            t->data = o; t->owned = 1;
        } else if (t->begin % es) {
            /* A valid but oddly placed tensor (after an F16 one, say): copy to aligned memory. */
            void *o = vq_alloc((size_t)(t->end - t->begin));
            if (!o) return vq_fail_context(VQ_ERR_NOMEM, "%s: tensor \"%.200s\"", f->label, t->name);
            memcpy(o, src, (size_t)(t->end - t->begin));
            t->data = o; t->owned = 1;
        } else {
            t->data = (void *)src;
        }
    }
    return 0;
}

static uint64_t le64(const unsigned char *b)
{
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--) x = x << 8 | b[i];
    return x;
}

/* Checks the 8-byte header length against the file size; *pad is where the
 * file bytes go in the 64-aligned block so that the data buffer is aligned. */
static int check_prefix(const char *label, const unsigned char *first8, uint64_t size, uint64_t *n, size_t *pad)
{
    if (size == 0) return vq_fail(VQ_ERR_FORMAT, "%s: file is empty (not a safetensors file)", label);
    if (size < 8)
        return vq_fail(VQ_ERR_FORMAT, "%s: file is %llu bytes, too short for the 8-byte header length", label,
                       (unsigned long long)size);
    *n = le64(first8);
    if (*n > VQ_ST_MAX_HEADER)
        return vq_fail(VQ_ERR_FORMAT, "%s: header length %llu exceeds the %llu-byte limit (not a safetensors file?)",
                       label, (unsigned long long)*n, (unsigned long long)VQ_ST_MAX_HEADER);
    if (*n > size - 8)
        return vq_fail(VQ_ERR_FORMAT, "%s: header length %llu runs past the end of the %llu-byte file (truncated?)",
                       label, (unsigned long long)*n, (unsigned long long)size);
    if (size > SIZE_MAX - 128) return vq_fail(VQ_ERR_NOMEM, "%s: file too large for this machine", label);
    *pad = (size_t)((64 - (8 + *n) % 64) % 64);
    return 0;
}

/* Validates the file whose `size` bytes sit at `bytes` (inside f->block). */
static int parse(vq_st_file *f, const unsigned char *bytes, uint64_t size, uint64_t hlen)
{
    const char *L = f->label;
    const unsigned char *data = bytes + 8 + hlen;
    uint64_t data_len = size - 8 - hlen;
    char what[512];
    snprintf(what, sizeof what, "%s: header", L);
    if (hlen == 0 || bytes[8] != '{')
        return vq_fail(VQ_ERR_FORMAT, "%s: header does not start with '{' (not a safetensors file?)", L);
    vq_json *root;
    int rc = vq_json_parse(&root, (const char *)bytes + 8, (size_t)hlen, what);
    if (rc) return rc;
    if (root->type != VQ_JSON_OBJECT) { vq_json_free(root); return vq_fail(VQ_ERR_FORMAT, "%s: header is not a JSON object", L); }

    f->tensors = calloc(root->n ? root->n : 1, sizeof *f->tensors);
    if (!f->tensors) { vq_json_free(root); return vq_fail(VQ_ERR_NOMEM, "%s: out of memory", L); }
    for (size_t i = 0; i < root->n && !rc; i++) {
        if (!strcmp(root->keys[i], "__metadata__") && root->key_lens[i] == 12) {
            rc = metadata(f, root->items[i]);
        } else {
            rc = tensor_entry(f, &f->tensors[f->n_tensors], root->keys[i], root->key_lens[i], root->items[i], data_len);
            f->n_tensors++;   /* counted even on failure, so close() frees its name */
        }
    }
    vq_json_free(root);
    if (rc) return rc;
    if ((rc = check_tiling(f, data_len))) return rc;

    /* Names are unique: the JSON parser rejects duplicate keys. */
    f->by_name = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *f->by_name);
    if (!f->by_name) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory", L);
    for (size_t i = 0; i < f->n_tensors; i++) f->by_name[i] = i;
    sort_base = f->tensors;
    qsort(f->by_name, f->n_tensors, sizeof *f->by_name, by_name);
    return attach_data(f, data);
}

int vq_st_open_mem(vq_st_file *f, const void *bytes, size_t len, const char *label)
{
    memset(f, 0, sizeof *f);
    if (!(f->label = strdup(label ? label : "(memory)"))) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    uint64_t n;
    size_t pad;
    unsigned char first8[8] = {0};
    if (len) memcpy(first8, bytes, len < 8 ? len : 8);
    int rc = check_prefix(f->label, first8, len, &n, &pad);
    if (!rc && !(f->block = vq_alloc(len + pad))) rc = vq_fail_context(VQ_ERR_NOMEM, "%s", f->label);
    if (!rc) {
        memcpy((unsigned char *)f->block + pad, bytes, len);
        rc = parse(f, (unsigned char *)f->block + pad, len, n);
    }
    if (rc) vq_st_close(f);
    return rc;
}

static int read_at(int fd, unsigned char *buf, size_t n, off_t at, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = pread(fd, buf + *got, n - *got > (1u << 30) ? (1u << 30) : n - *got, at + (off_t)*got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) break;
        *got += (size_t)r;
    }
    return 0;
}

int vq_st_open(vq_st_file *f, const char *path)
{
    memset(f, 0, sizeof *f);
    if (!(f->label = strdup(path))) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0) { rc = vq_fail(VQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno)); goto out; }
    if (fstat(fd, &st)) { rc = vq_fail(VQ_ERR_IO, "%s: cannot stat: %s", path, strerror(errno)); goto out; }
    if (!S_ISREG(st.st_mode)) { rc = vq_fail(VQ_ERR_IO, "%s: not a regular file", path); goto out; }
    uint64_t size = (uint64_t)st.st_size, n;
    unsigned char first8[8] = {0};
    size_t got, pad;
    if (read_at(fd, first8, size < 8 ? (size_t)size : 8, 0, &got)) { rc = vq_fail(VQ_ERR_IO, "%s: read failed: %s", path, strerror(errno)); goto out; }
    if ((rc = check_prefix(path, first8, size, &n, &pad))) goto out;
    if (!(f->block = vq_alloc((size_t)size + pad))) { rc = vq_fail_context(VQ_ERR_NOMEM, "%s", path); goto out; }
    unsigned char *bytes = (unsigned char *)f->block + pad;
    if (read_at(fd, bytes, (size_t)size, 0, &got)) { rc = vq_fail(VQ_ERR_IO, "%s: read failed: %s", path, strerror(errno)); goto out; }
    if (got != size) {
        rc = vq_fail(VQ_ERR_IO, "%s: file shrank from %llu to %zu bytes while being read", path, (unsigned long long)size, got);
        goto out;
    }
    rc = parse(f, bytes, size, n);
out:
    if (fd >= 0) close(fd);
    if (rc) vq_st_close(f);
    return rc;
}

/* --- lookup ------------------------------------------------------------------ */

static const vq_st_tensor *lookup(const vq_st_file *f, const char *name)
{
    size_t lo = 0, hi = f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vq_st_tensor *t = &f->tensors[f->by_name[mid]];
        int c = strcmp(t->name, name);
        if (!c) return t;
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

const vq_st_tensor *vq_st_find(const vq_st_file *f, const char *name)
{
    const vq_st_tensor *t = lookup(f, name);
    if (!t) vq_fail(VQ_ERR_MISMATCH, "%s: no tensor named \"%.200s\"", f->label, name);
    return t;
}

const void *vq_st_get(const vq_st_file *f, const char *name, const int64_t **shape, int *ndim)
{
    const vq_st_tensor *t = vq_st_find(f, name);
    if (!t) return NULL;
    if (t->dtype > VQ_DT_I64) {
        vq_fail(VQ_ERR_UNSUPPORTED, "%s: tensor \"%.200s\" has dtype %s; vqrt loads F32, F16, BF16 (as F32), I32 and I64",
                f->label, name, dtypes[t->dtype].name);
        return NULL;
    }
    if (shape) *shape = t->shape;
    if (ndim) *ndim = t->ndim;
    return t->data;
}

const char *vq_st_meta_get(const vq_st_file *f, const char *key)
{
    for (size_t i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_values[i];
    return NULL;
}

int vq_st_read(const vq_st_file *f, const char *name, vq_dtype want, void *dst, const int64_t *shape, int ndim)
{
    const vq_st_tensor *t = vq_st_find(f, name);
    if (!t) return VQ_ERR_MISMATCH;
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char a[256], b[256];
        vq_st_format_shape(a, sizeof a, t->shape, t->ndim);
        vq_st_format_shape(b, sizeof b, shape, ndim);
        return vq_fail(VQ_ERR_MISMATCH, "%s: %.200s: shape %s in file, model expects %s", f->label, name, a, b);
    }
    int ok = want == VQ_DT_F32 ? (t->dtype == VQ_DT_F32 || t->dtype == VQ_DT_F16 || t->dtype == VQ_DT_BF16 ||
                                  t->dtype == VQ_DT_U8)
                               : t->dtype == want;
    if (!ok || (want != VQ_DT_F32 && want != VQ_DT_I32 && want != VQ_DT_I64))
        return vq_fail(VQ_ERR_MISMATCH, "%s: %.200s: dtype %s in file, model expects %s", f->label, name,
                       dtypes[t->dtype].name, vq_dtype_name(want));
    if (want == VQ_DT_F32 && t->dtype == VQ_DT_U8) {   /* every byte value is exact in float */
        for (uint64_t k = 0; k < t->numel; k++) ((float *)dst)[k] = ((const uint8_t *)t->data)[k];
        return 0;
    }
    size_t es = want == VQ_DT_F32 ? 4 : dtypes[want].size;
    if (t->numel) memcpy(dst, t->data, (size_t)t->numel * es);
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Appends name to a bounded list "a, b, c" and counts what did not fit. */
static void list_add(char *buf, size_t cap, size_t *shown, const char *name)
{
    size_t n = strlen(buf);
    if (*shown < 8 && n + strlen(name) + 3 < cap) {
        snprintf(buf + n, cap - n, "%s%s", *shown ? ", " : "", name);
        (*shown)++;
    }
}

int vq_st_check_names(const vq_st_file *f, const char *const *expected, size_t n, int allow_unexpected)
{
    const char **sorted = malloc((n ? n : 1) * sizeof *sorted);
    if (!sorted) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    memcpy(sorted, expected, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, cmp_str);
    for (size_t i = 1; i < n; i++)
        if (!strcmp(sorted[i - 1], sorted[i])) {
            int rc = vq_fail(VQ_ERR_ARG, "%s: the model lists tensor \"%.200s\" twice", f->label, sorted[i]);
            free(sorted);
            return rc;
        }
    char miss[400] = "", unexp[400] = "";
    size_t n_miss = 0, n_unexp = 0, shown_m = 0, shown_u = 0;
    for (size_t i = 0; i < n; i++)
        if (!lookup(f, expected[i])) { n_miss++; list_add(miss, sizeof miss, &shown_m, expected[i]); }
    if (!allow_unexpected)
        for (size_t i = 0; i < f->n_tensors; i++) {
            const char *name = f->tensors[i].name;
            if (!bsearch(&name, sorted, n, sizeof *sorted, cmp_str)) { n_unexp++; list_add(unexp, sizeof unexp, &shown_u, name); }
        }
    free(sorted);
    if (!n_miss && !n_unexp) return 0;
    char m[450] = "", u[450] = "";
    if (n_miss)
        snprintf(m, sizeof m, "%zu missing tensor%s: %s%s", n_miss, n_miss > 1 ? "s" : "", miss,
                 n_miss > shown_m ? ", ..." : "");
    if (n_unexp)
        snprintf(u, sizeof u, "%zu unexpected tensor%s: %s%s", n_unexp, n_unexp > 1 ? "s" : "", unexp,
                 n_unexp > shown_u ? ", ..." : "");
    return vq_fail(VQ_ERR_MISMATCH, "%s: %s%s%s", f->label, m, n_miss && n_unexp ? "; " : "", u);
}

int vq_st_read_all(const vq_st_file *f, const vq_st_ref *refs, size_t n, int allow_unexpected)
{
    const char **names = calloc(n ? n : 1, sizeof *names);
    if (!names) return vq_fail(VQ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) names[i] = refs[i].name;
    int rc = vq_st_check_names(f, names, n, allow_unexpected);
    free(names);
    for (size_t i = 0; i < n && !rc; i++)
        rc = vq_st_read(f, refs[i].name, refs[i].dtype, refs[i].data, refs[i].shape, refs[i].ndim);
    return rc;
}
