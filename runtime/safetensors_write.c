/* safetensors_write.c: the atomic safetensors writer. See safetensors.h.
 *
 * Durability follows the usual POSIX recipe: write PATH.tmp.<pid>, fsync it,
 * rename(2) it over PATH (atomic within one file system), fsync the directory
 * so the rename itself survives a power cut. A process killed at any moment
 * leaves either the old PATH or the new one, plus at worst a stale
 * PATH.tmp.<pid> (which the next save by a process with that pid replaces). */
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

/* A growing byte string; on allocation failure `failed` is set and appends stop. */
typedef struct sbuf { char *s; size_t n, cap; int failed; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) { b->failed = 1; return; }
        b->s = p; b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_u64(sbuf *b, uint64_t x) { char t[32]; snprintf(t, sizeof t, "%llu", (unsigned long long)x); sb_str(b, t); }

/* A JSON string literal; s must be valid UTF-8 (checked by the caller). */
static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"') sb_put(b, "\\\"", 2);
        else if (c == '\\') sb_put(b, "\\\\", 2);
        else if (c < 0x20) { char t[8]; snprintf(t, sizeof t, "\\u%04x", c); sb_put(b, t, 6); }
        else sb_put(b, s, 1);
    }
    sb_put(b, "\"", 1);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

/* Rejects what would make an unreadable or ambiguous file, before any I/O. */
static int check_args(const char *path, const vq_st_ref *t, size_t n, const vq_st_meta *meta, size_t n_meta,
                      uint64_t *bytes)
{
    for (size_t i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (!name || !*name) return vq_fail(VQ_ERR_ARG, "writing %s: tensor %zu has no name", path, i);
        if (!strcmp(name, "__metadata__") || !vq_utf8_valid(name, strlen(name)))
            return vq_fail(VQ_ERR_ARG, "writing %s: invalid tensor name \"%.200s\"", path, name);
        if ((unsigned)t[i].dtype >= VQ_DT_COUNT)
            return vq_fail(VQ_ERR_ARG, "writing %s: tensor \"%.200s\": invalid dtype %d", path, name, (int)t[i].dtype);
        if (t[i].ndim < 0 || t[i].ndim > VQ_ST_MAX_DIMS || (t[i].ndim && !t[i].shape))
            return vq_fail(VQ_ERR_ARG, "writing %s: tensor \"%.200s\": rank %d out of [0, %d]", path, name,
                           t[i].ndim, VQ_ST_MAX_DIMS);
        uint64_t numel = 1;
        for (int d = 0; d < t[i].ndim; d++) {
            if (t[i].shape[d] < 0)
                return vq_fail(VQ_ERR_ARG, "writing %s: tensor \"%.200s\": negative dimension", path, name);
            uint64_t x = (uint64_t)t[i].shape[d];
            if (x && numel > UINT64_MAX / x) return vq_fail(VQ_ERR_ARG, "writing %s: tensor \"%.200s\": shape overflows", path, name);
            numel *= x;
        }
        uint64_t es = vq_dtype_size(t[i].dtype);
        if (numel > (UINT64_MAX - *bytes) / es)
            return vq_fail(VQ_ERR_ARG, "writing %s: tensor \"%.200s\": size overflows", path, name);
        if (numel && !t[i].data) return vq_fail(VQ_ERR_ARG, "writing %s: tensor \"%.200s\": no data", path, name);
        *bytes += numel * es;
    }
    for (size_t i = 0; i < n_meta; i++)
        if (!meta[i].key || !meta[i].value || !vq_utf8_valid(meta[i].key, strlen(meta[i].key)) ||
            !vq_utf8_valid(meta[i].value, strlen(meta[i].value)))
            return vq_fail(VQ_ERR_ARG, "writing %s: metadata entry %zu is missing or not UTF-8", path, i);
    /* Duplicates: sort copies of the names and compare neighbours. */
    size_t m = n > n_meta ? n : n_meta;
    const char **names = malloc((m ? m : 1) * sizeof *names);
    if (!names) return vq_fail(VQ_ERR_NOMEM, "writing %s: out of memory", path);
    int rc = 0;
    for (int pass = 0; pass < 2 && !rc; pass++) {
        size_t k = pass ? n_meta : n;
        for (size_t i = 0; i < k; i++) names[i] = pass ? meta[i].key : t[i].name;
        qsort(names, k, sizeof *names, cmp_str);
        for (size_t i = 1; i < k && !rc; i++)
            if (!strcmp(names[i - 1], names[i]))
                rc = vq_fail(VQ_ERR_ARG, "writing %s: duplicate %s \"%.200s\"", path, pass ? "metadata key" : "tensor name",
                             names[i]);
    }
    free(names);
    return rc;
}

static uint64_t numel_of(const vq_st_ref *t)
{
    uint64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (uint64_t)t->shape[d];
    return n;
}

static int write_all(int fd, const void *buf, uint64_t n)
{
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : (size_t)n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -1;
        if (w == 0) { errno = EIO; return -1; }
        p += w; n -= (uint64_t)w;
    }
    return 0;
}

/* The directory holding path ("." when it has no slash), malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int vq_st_write(const char *path, const vq_st_ref *t, size_t n, const vq_st_meta *meta, size_t n_meta)
{
    uint64_t data_bytes = 0;
    int rc = check_args(path, t, n, meta, n_meta, &data_bytes);
    if (rc) return rc;

    /* Data layout: larger elements first keeps each tensor aligned to its
     * element size given an 8-aligned buffer start. */
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    uint64_t *begin = malloc((n ? n : 1) * sizeof *begin);
    sbuf h = {0};
    char *tmp = NULL, *dir = NULL;
    int fd = -1;
    if (!order || !begin) { rc = vq_fail(VQ_ERR_NOMEM, "writing %s: out of memory", path); goto out; }
    size_t k = 0;
    uint64_t at = 0;
    for (size_t size = 8; size >= 1; size /= 2)
        for (size_t i = 0; i < n; i++)
            if (vq_dtype_size(t[i].dtype) == size) {
                order[k++] = i;
                begin[i] = at;
                at += numel_of(&t[i]) * size;
            }

    sb_str(&h, "{");
    if (n_meta) {
        sb_str(&h, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i) sb_str(&h, ",");
            sb_json_string(&h, meta[i].key);
            sb_str(&h, ":");
            sb_json_string(&h, meta[i].value);
        }
        sb_str(&h, "}");
    }
    for (size_t i = 0; i < n; i++) {
        if (i || n_meta) sb_str(&h, ",");
        sb_json_string(&h, t[i].name);
        sb_str(&h, ":{\"dtype\":\"");
        sb_str(&h, vq_dtype_name(t[i].dtype));
        sb_str(&h, "\",\"shape\":[");
        for (int d = 0; d < t[i].ndim; d++) { if (d) sb_str(&h, ","); sb_u64(&h, (uint64_t)t[i].shape[d]); }
        sb_str(&h, "],\"data_offsets\":[");
        sb_u64(&h, begin[i]);
        sb_str(&h, ",");
        sb_u64(&h, begin[i] + numel_of(&t[i]) * vq_dtype_size(t[i].dtype));
        sb_str(&h, "]}");
    }
    sb_str(&h, "}");
    while (!h.failed && h.n % 8) sb_str(&h, " ");
    if (h.failed) { rc = vq_fail(VQ_ERR_NOMEM, "writing %s: out of memory building the header", path); goto out; }
    if (h.n > VQ_ST_MAX_HEADER) { rc = vq_fail(VQ_ERR_ARG, "writing %s: header of %zu bytes exceeds the limit", path, h.n); goto out; }

    size_t tl = strlen(path) + 32;
    if (!(tmp = malloc(tl)) || !(dir = dir_of(path))) { rc = vq_fail(VQ_ERR_NOMEM, "writing %s: out of memory", path); goto out; }
    snprintf(tmp, tl, "%s.tmp.%ld", path, (long)getpid());
    /* A stale temp file with our pid can only come from a dead process that had the same pid. */
    unlink(tmp);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) { rc = vq_fail(VQ_ERR_IO, "writing %s: cannot create %s: %s", path, tmp, strerror(errno)); goto out; }

    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)h.n >> (8 * i));
    const char *step = "header";
    if (write_all(fd, len8, 8) || write_all(fd, h.s, h.n)) goto io_error;
    step = "data";
    for (size_t j = 0; j < n; j++) {
        const vq_st_ref *r = &t[order[j]];
        if (write_all(fd, r->data, numel_of(r) * vq_dtype_size(r->dtype))) goto io_error;
    }
    step = "fsync";
    if (fsync(fd)) goto io_error;
    step = "close";
    int cfd = fd;
    fd = -1;
    if (close(cfd)) goto io_error;
    step = "rename";
    if (rename(tmp, path)) goto io_error;
    free(tmp);
    tmp = NULL;   /* renamed: nothing to remove any more */

    /* Make the rename durable. Some file systems refuse fsync on a directory
     * (EINVAL); the rename is then as durable as that file system makes it. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) { rc = vq_fail(VQ_ERR_IO, "writing %s: saved, but cannot open directory %s to fsync it: %s", path, dir, strerror(errno)); goto out; }
    if (fsync(dfd) && errno != EINVAL) rc = vq_fail(VQ_ERR_IO, "writing %s: saved, but fsync of directory %s failed: %s", path, dir, strerror(errno));
    close(dfd);
    goto out;

io_error:
    rc = vq_fail(VQ_ERR_IO, "writing %s: %s of %s failed: %s (previous %s left unchanged)", path, step, tmp, strerror(errno), path);
out:
    if (fd >= 0) close(fd);
    if (tmp) unlink(tmp);
    free(tmp); free(dir); free(h.s); free(order); free(begin);
    return rc;
}
