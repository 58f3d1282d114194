/* codes.c: reading and writing CODES text files (format in codes.h).
 *
 * The reader is a hand-written tokenizer, not sscanf: "%d" on an overlong
 * number is undefined behaviour, and a line must be checked to its end.
 * Every error names "file:line:" (the line a file ends on, plus one, when it
 * ends early). Legend: gh, gw a codebook's code map, K its number of codes. */
#include "codes.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vq_common.h"

/* Longest piece of a bad line quoted in a message. */
#define QUOTE 60

typedef struct reader {
    FILE *f;
    const char *name;              /* for messages */
    char *line;                    /* getline's buffer, the current line without its end */
    size_t cap;
    int ln;                        /* 1-based number of the current line */
} reader;

static int is_blank(char c) { return c == ' ' || c == '\t'; }

/* The next line holding more than blanks into r->line; 1 found, 0 at end of
 * file, or a status (a NUL byte inside a line is a format error, since
 * everything after it would be ignored unseen). */
static int next_line(reader *r, int *rc)
{
    ssize_t len;
    *rc = VQ_OK;
    while ((len = getline(&r->line, &r->cap, r->f)) > 0) {
        r->ln++;
        while (len > 0 && (r->line[len - 1] == '\n' || r->line[len - 1] == '\r')) r->line[--len] = '\0';
        if (strlen(r->line) != (size_t)len) {
            *rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: NUL byte in a line of text", r->name, r->ln);
            return 0;
        }
        const char *p = r->line;
        while (is_blank(*p)) p++;
        if (*p) return 1;
    }
    if (ferror(r->f)) *rc = vq_fail(VQ_ERR_IO, "%s:%d: read error: %s", r->name, r->ln + 1, strerror(errno));
    return 0;
}

/* The token at *p (after blanks) as [start, start+*n); advances *p past it.
 * *n is 0 at the end of the line. */
static const char *token(const char **p, int *n)
{
    const char *s = *p;
    while (is_blank(*s)) s++;
    const char *e = s;
    while (*e && !is_blank(*e)) e++;
    *p = e;
    *n = (int)(e - s);
    return s;
}

/* A token of an optional sign and 1..n decimal digits as *v; saturates at
 * +-LONG_MAX/2 (far outside any K) so that overlong numbers stay "out of
 * range" instead of overflowing. 0 when the token is not such a number. */
static int parse_long(const char *s, int n, long *v)
{
    int i = 0, neg = 0;
    if (i < n && (s[i] == '-' || s[i] == '+')) neg = s[i++] == '-';
    if (i == n) return 0;
    long x = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return 0;
        if (x < LONG_MAX / 20) x = x * 10 + (s[i] - '0');
    }
    *v = neg ? -x : x;
    return 1;
}

static int check_table(const char *who, const vq_codebook_desc *cbs, int n)
{
    if (n < 0 || (n > 0 && !cbs)) return vq_fail(VQ_ERR_ARG, "%s: bad codebook table", who);
    for (int c = 0; c < n; c++)
        if (!cbs[c].name || !cbs[c].name[0] || strpbrk(cbs[c].name, " \t\r\n") || cbs[c].grid_h <= 0 ||
            cbs[c].grid_w <= 0 || cbs[c].K <= 0)
            return vq_fail(VQ_ERR_ARG, "%s: codebook %d of the table has no usable name or size", who, c);
    return VQ_OK;
}

/* "codebook NAME GH GW K" matching cb, at r->line. */
static int read_header(reader *r, const vq_codebook_desc *cb, const char *model)
{
    const char *p = r->line, *tok[5];
    int len[5], t;
    for (t = 0; t < 5; t++) {
        tok[t] = token(&p, &len[t]);
        if (!len[t]) break;
    }
    int extra;
    token(&p, &extra);
    long h, w, k;
    if (t < 5 || extra || len[0] != 8 || memcmp(tok[0], "codebook", 8) || !parse_long(tok[2], len[2], &h) ||
        !parse_long(tok[3], len[3], &w) || !parse_long(tok[4], len[4], &k))
        return vq_fail(VQ_ERR_FORMAT, "%s:%d: expected 'codebook %s %d %d %d', got '%.*s'", r->name, r->ln,
                       cb->name, cb->grid_h, cb->grid_w, cb->K, QUOTE, r->line);
    if ((size_t)len[1] != strlen(cb->name) || memcmp(tok[1], cb->name, (size_t)len[1]))
        return vq_fail(VQ_ERR_MISMATCH, "%s:%d: codebook '%.*s', model %s expects '%s' here", r->name, r->ln,
                       len[1] < QUOTE ? len[1] : QUOTE, tok[1], model, cb->name);
    if (h != cb->grid_h || w != cb->grid_w || k != cb->K)
        return vq_fail(VQ_ERR_MISMATCH, "%s:%d: codebook %s is %.*sx%.*s with K=%.*s, model %s expects %dx%d with K=%d",
                       r->name, r->ln, cb->name, len[2] < 20 ? len[2] : 20, tok[2], len[3] < 20 ? len[3] : 20, tok[3],
                       len[4] < 20 ? len[4] : 20, tok[4], model, cb->grid_h, cb->grid_w, cb->K);
    return VQ_OK;
}

/* Row y of codebook cb (gw indices in [0, K)) at r->line into row[0..gw). */
static int read_row(reader *r, int32_t *row, const vq_codebook_desc *cb, int y)
{
    const char *p = r->line;
    for (int x = 0;; x++) {
        int n;
        const char *s = token(&p, &n);
        if (x == cb->grid_w) {
            if (n) return vq_fail(VQ_ERR_FORMAT, "%s:%d: more than %d indices in row %d of codebook %s", r->name,
                                  r->ln, cb->grid_w, y, cb->name);
            return VQ_OK;
        }
        long v;
        if (!n)
            return vq_fail(VQ_ERR_FORMAT, "%s:%d: row %d of codebook %s has %d indices, expected %d", r->name, r->ln,
                           y, cb->name, x, cb->grid_w);
        if (!parse_long(s, n, &v))
            return vq_fail(VQ_ERR_FORMAT, "%s:%d: malformed index '%.*s' (column %d) in row %d of codebook %s",
                           r->name, r->ln, n < QUOTE ? n : QUOTE, s, x, y, cb->name);
        if (v < 0 || v >= cb->K)
            return vq_fail(VQ_ERR_MISMATCH, "%s:%d: index %.*s (column %d) out of range [0, %d) of codebook %s",
                           r->name, r->ln, n < QUOTE ? n : QUOTE, s, x, cb->K, cb->name);
        row[x] = (int32_t)v;
    }
}

int vq_codes_read_stream(int32_t *const *idx, FILE *f, const char *name, const char *model,
                         const vq_codebook_desc *cbs, int n)
{
    if (!name) name = "codes";
    if (!model) model = "(unnamed)";
    int rc = check_table(name, cbs, n);
    if (rc) return rc;
    if (!idx || !f) return vq_fail(VQ_ERR_ARG, "%s: no stream or no index buffers", name);
    reader r = {f, name, NULL, 0, 0};
    for (int c = 0; c < n && !rc; c++) {
        const vq_codebook_desc *cb = &cbs[c];
        if (!next_line(&r, &rc)) {
            if (!rc) rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: file ends before codebook %s", name, r.ln + 1, cb->name);
            break;
        }
        rc = read_header(&r, cb, model);
        for (int y = 0; y < cb->grid_h && !rc; y++) {
            if (!next_line(&r, &rc)) {
                if (!rc)
                    rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: file ends after %d of %d rows of codebook %s", name, r.ln + 1,
                                 y, cb->grid_h, cb->name);
                break;
            }
            rc = read_row(&r, idx[c] + (size_t)y * cb->grid_w, cb, y);
        }
    }
    if (!rc && next_line(&r, &rc)) rc = vq_fail(VQ_ERR_FORMAT, "%s:%d: unexpected text after the last codebook", name, r.ln);
    free(r.line);
    return rc;
}

int vq_codes_read(int32_t *const *idx, const char *path, const char *model, const vq_codebook_desc *cbs, int n)
{
    FILE *f = fopen(path, "r");
    if (!f) return vq_fail(VQ_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc = vq_codes_read_stream(idx, f, path, model, cbs, n);
    fclose(f);
    return rc;
}

int vq_codes_write_stream(FILE *f, const char *name, const int32_t *const *idx, const vq_codebook_desc *cbs, int n)
{
    if (!name) name = "codes";
    int rc = check_table(name, cbs, n);
    if (rc) return rc;
    if (!idx || !f) return vq_fail(VQ_ERR_ARG, "%s: no stream or no indices", name);
    for (int c = 0; c < n; c++) {
        const vq_codebook_desc *cb = &cbs[c];
        for (size_t i = 0; i < (size_t)cb->grid_h * cb->grid_w; i++)
            if (idx[c][i] < 0 || idx[c][i] >= cb->K)
                return vq_fail(VQ_ERR_ARG, "%s: index %d at (%zu, %zu) of codebook %s is outside [0, %d)", name,
                               idx[c][i], i / cb->grid_w, i % cb->grid_w, cb->name, cb->K);
    }
    for (int c = 0; c < n; c++) {
        const vq_codebook_desc *cb = &cbs[c];
        fprintf(f, "codebook %s %d %d %d\n", cb->name, cb->grid_h, cb->grid_w, cb->K);
        for (int y = 0; y < cb->grid_h; y++)
            for (int x = 0; x < cb->grid_w; x++)
                fprintf(f, "%d%c", idx[c][(size_t)y * cb->grid_w + x], x + 1 < cb->grid_w ? ' ' : '\n');
    }
    if (fflush(f) != 0 || ferror(f)) return vq_fail(VQ_ERR_IO, "%s: write failed: %s", name, strerror(errno));
    return VQ_OK;
}

int vq_codes_write(const char *path, const int32_t *const *idx, const vq_codebook_desc *cbs, int n)
{
    FILE *f = fopen(path, "w");
    if (!f) return vq_fail(VQ_ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    int rc = vq_codes_write_stream(f, path, idx, cbs, n);
    if (fclose(f) != 0 && !rc) rc = vq_fail(VQ_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    return rc;
}
