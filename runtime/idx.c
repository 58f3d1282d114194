/* idx.c: IDX reader over zlib's gz* interface (which also reads plain,
 * uncompressed files). See idx.h. Every count in the header is checked against
 * what the file really holds: short data is "truncated", extra data is an error
 * too, because either means the header and the payload disagree. */
#include "idx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

/* Upper bounds that keep n*h*w far from overflow and reject nonsense headers. */
#define IDX_MAX_SIDE 65536u
#define IDX_MAX_BYTES ((int64_t)1 << 40)

/* Read up to len bytes; returns bytes read (short at end of data) or -1 on a
 * gzip error (corrupt stream), with the zlib reason in *why. */
static int64_t gz_read_all(gzFile f, uint8_t *buf, int64_t len, const char **why)
{
    int64_t got = 0;
    while (got < len) {
        int64_t chunk = len - got;
        if (chunk > (1 << 30)) chunk = 1 << 30;
        int r = gzread(f, buf + got, (unsigned)chunk);
        if (r < 0) {
            int errnum;
            *why = gzerror(f, &errnum);
            return -1;
        }
        if (r == 0) break;
        got += r;
    }
    return got;
}

static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Open and read the magic plus `ndims` big-endian dimensions. */
static int read_header(gzFile *fp, uint32_t dims[3], const char *path, uint32_t magic, int ndims)
{
    gzFile f = gzopen(path, "rb");
    if (!f) return vq_fail(VQ_ERR_IO, "%s: cannot open: %s", path, errno ? strerror(errno) : "gzopen failed");
    uint8_t hdr[16];
    int64_t want = 4 + 4 * (int64_t)ndims;
    const char *why = NULL;
    int64_t got = gz_read_all(f, hdr, want, &why);
    if (got < 0) { /* why points into f: format it before gzclose frees it */
        int rc = vq_fail(VQ_ERR_FORMAT, "%s: corrupt gzip stream: %s", path, why);
        gzclose(f);
        return rc;
    }
    if (got < 4) {
        gzclose(f);
        return vq_fail(VQ_ERR_FORMAT, "%s: truncated: %lld bytes, too short for an IDX header", path, (long long)got);
    }
    uint32_t m = be32(hdr);
    if (m != magic) {
        gzclose(f);
        return vq_fail(VQ_ERR_FORMAT, "%s: wrong magic 0x%08x, expected 0x%08x (%s)", path, m, magic,
                       magic == VQ_IDX_MAGIC_IMAGES ? "unsigned-byte images, 3 dims" : "unsigned-byte labels, 1 dim");
    }
    if (got < want) {
        gzclose(f);
        return vq_fail(VQ_ERR_FORMAT, "%s: truncated: header needs %lld bytes, file has %lld", path,
                       (long long)want, (long long)got);
    }
    for (int i = 0; i < ndims; i++) dims[i] = be32(hdr + 4 + 4 * i);
    *fp = f;
    return 0;
}

/* Read exactly `bytes` of payload and check nothing follows it. `what`
 * describes the header's promise for the messages. */
static int read_payload(gzFile f, uint8_t *buf, int64_t bytes, const char *path, const char *what)
{
    const char *why = NULL;
    int64_t got = gz_read_all(f, buf, bytes, &why);
    if (got < 0) return vq_fail(VQ_ERR_FORMAT, "%s: corrupt gzip stream: %s", path, why);
    if (got < bytes)
        return vq_fail(VQ_ERR_FORMAT, "%s: truncated: header promises %s, file ends after %lld bytes of data", path,
                       what, (long long)got);
    uint8_t extra[4096];
    int64_t more = 0, r;
    while ((r = gz_read_all(f, extra, sizeof extra, &why)) > 0) more += r;
    if (r < 0) return vq_fail(VQ_ERR_FORMAT, "%s: corrupt gzip stream after the data: %s", path, why);
    if (more)
        return vq_fail(VQ_ERR_FORMAT, "%s: header promises %s, but %lld more bytes follow the data", path, what,
                       (long long)more);
    return 0;
}

int vq_idx_read_images(vq_idx_set *out, const char *path)
{
    memset(out, 0, sizeof *out);
    uint32_t d[3];
    gzFile f;
    int rc = read_header(&f, d, path, VQ_IDX_MAGIC_IMAGES, 3);
    if (rc) return rc;
    if (d[1] == 0 || d[2] == 0 || d[1] > IDX_MAX_SIDE || d[2] > IDX_MAX_SIDE) {
        gzclose(f);
        return vq_fail(VQ_ERR_FORMAT, "%s: implausible image size %ux%u", path, d[1], d[2]);
    }
    int64_t bytes = (int64_t)d[0] * d[1] * d[2];
    if (bytes > IDX_MAX_BYTES) {
        gzclose(f);
        return vq_fail(VQ_ERR_FORMAT, "%s: header promises %u images of %ux%u, more than 1 TiB", path, d[0], d[1],
                       d[2]);
    }
    char what[96];
    snprintf(what, sizeof what, "%u images of %ux%u", d[0], d[1], d[2]);
    uint8_t *px = vq_alloc_uninit((size_t)bytes); /* filled by read_payload or freed */
    if (!px) { gzclose(f); return vq_fail_context(VQ_ERR_NOMEM, "%s", path); }
    rc = read_payload(f, px, bytes, path, what);
    gzclose(f);
    if (rc) { vq_free(px); return rc; }
    out->pixels = px;
    out->n = d[0];
    out->h = (int)d[1];
    out->w = (int)d[2];
    return 0;
}

int vq_idx_read_labels(uint8_t **labels, int64_t *n, const char *path)
{
    *labels = NULL;
    *n = 0;
    uint32_t d[3];
    gzFile f;
    int rc = read_header(&f, d, path, VQ_IDX_MAGIC_LABELS, 1);
    if (rc) return rc;
    char what[64];
    snprintf(what, sizeof what, "%u labels", d[0]);
    uint8_t *lab = vq_alloc(d[0]);
    if (!lab) { gzclose(f); return vq_fail_context(VQ_ERR_NOMEM, "%s", path); }
    rc = read_payload(f, lab, d[0], path, what);
    gzclose(f);
    if (rc) { vq_free(lab); return rc; }
    *labels = lab;
    *n = d[0];
    return 0;
}

int vq_idx_load(vq_idx_set *out, const char *images_path, const char *labels_path)
{
    int rc = vq_idx_read_images(out, images_path);
    if (rc) return rc;
    int64_t nl;
    rc = vq_idx_read_labels(&out->labels, &nl, labels_path);
    if (rc) { vq_idx_free(out); return rc; }
    if (nl != out->n) {
        int64_t ni = out->n;
        vq_idx_free(out);
        return vq_fail(VQ_ERR_MISMATCH, "%s holds %lld images but %s holds %lld labels", images_path,
                       (long long)ni, labels_path, (long long)nl);
    }
    return 0;
}

int vq_fmnist_load(vq_idx_set *out, const char *dir, const char *split)
{
    memset(out, 0, sizeof *out);
    const char *stem;
    if (!split || !strcmp(split, "train")) stem = "train";
    else if (!strcmp(split, "test") || !strcmp(split, "t10k")) stem = "t10k";
    else return vq_fail(VQ_ERR_ARG, "Fashion-MNIST: unknown split \"%s\" (expected \"train\" or \"test\")", split);
    if (!dir) dir = VQ_FMNIST_DIR;
    char ip[4096], lp[4096];
    snprintf(ip, sizeof ip, "%s/%s-images-idx3-ubyte.gz", dir, stem);
    snprintf(lp, sizeof lp, "%s/%s-labels-idx1-ubyte.gz", dir, stem);
    int rc = vq_idx_load(out, ip, lp);
    if (rc) return rc;
    for (int64_t i = 0; i < out->n; i++) {
        if (out->labels[i] > 9) {
            int lab = out->labels[i];
            vq_idx_free(out);
            return vq_fail(VQ_ERR_FORMAT, "%s: label %d at index %lld is not a Fashion-MNIST class (0..9)", lp, lab,
                           (long long)i);
        }
    }
    return 0;
}

void vq_idx_free(vq_idx_set *s)
{
    if (!s) return;
    vq_free(s->pixels);
    vq_free(s->labels);
    memset(s, 0, sizeof *s);
}
