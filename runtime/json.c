/* json.c: strict recursive-descent JSON parser (RFC 8259). See json.h.
 * Recursion is bounded by VQ_JSON_MAX_DEPTH; every allocation is checked and
 * a failed parse frees what it built. */
#include "json.h"
#include "vq_common.h"

#include <stdlib.h>
#include <string.h>

typedef struct parser {
    const unsigned char *s;
    size_t len, pos;
    const char *what;
} parser;

static int perr(const parser *p, const char *msg)
{
    if (p->pos >= p->len)
        return vq_fail(VQ_ERR_FORMAT, "%s: invalid JSON at end of text (byte %zu): %s", p->what, p->pos, msg);
    unsigned c = p->s[p->pos];
    if (c >= 0x20 && c < 0x7f)
        return vq_fail(VQ_ERR_FORMAT, "%s: invalid JSON at byte %zu ('%c'): %s", p->what, p->pos, (int)c, msg);
    return vq_fail(VQ_ERR_FORMAT, "%s: invalid JSON at byte %zu (0x%02x): %s", p->what, p->pos, c, msg);
}

const char *vq_json_type_name(vq_json_type t)
{
    switch (t) {
    case VQ_JSON_NULL: return "null";
    case VQ_JSON_FALSE: case VQ_JSON_TRUE: return "boolean";
    case VQ_JSON_NUMBER: return "number";
    case VQ_JSON_STRING: return "string";
    case VQ_JSON_ARRAY: return "array";
    case VQ_JSON_OBJECT: return "object";
    }
    return "?";
}

/* Length of the UTF-8 sequence at s (n bytes available), 0 when malformed. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return 1;
    size_t k; unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) k = 2;
    else if (c >= 0xe0 && c <= 0xef) { k = 3; if (c == 0xe0) lo = 0xa0; if (c == 0xed) hi = 0x9f; }
    else if (c >= 0xf0 && c <= 0xf4) { k = 4; if (c == 0xf0) lo = 0x90; if (c == 0xf4) hi = 0x8f; }
    else return 0;
    if (n < k) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < k; i++) if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return k;
}

int vq_utf8_valid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_seq(u + i, n - i);
        if (!k) return 0;
        i += k;
    }
    return 1;
}

static void skip_ws(parser *p)
{
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static vq_json *new_node(parser *p, vq_json_type t)
{
    vq_json *v = calloc(1, sizeof *v);
    if (!v) { vq_fail(VQ_ERR_NOMEM, "%s: out of memory parsing JSON", p->what); return NULL; }
    v->type = t;
    v->offset = p->pos;
    return v;
}

void vq_json_free(vq_json *v)
{
    if (!v) return;
    for (size_t i = 0; i < v->n; i++) {
        vq_json_free(v->items[i]);
        if (v->keys) free(v->keys[i]);
    }
    free(v->items); free(v->keys); free(v->key_lens); free(v->sorted); free(v->str);
    free(v);
}

static int hex4(parser *p, unsigned *out)
{
    if (p->len - p->pos < 4) return perr(p, "truncated \\u escape");
    unsigned x = 0;
    for (int i = 0; i < 4; i++) {
        unsigned c = p->s[p->pos], d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return perr(p, "expected 4 hex digits after \\u");
        x = x * 16 + d;
        p->pos++;
    }
    *out = x;
    return 0;
}

static size_t put_utf8(unsigned char *o, unsigned cp)
{
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    if (cp < 0x800) { o[0] = (unsigned char)(0xc0 | cp >> 6); o[1] = (unsigned char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | cp >> 12); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 63));
        o[2] = (unsigned char)(0x80 | (cp & 63)); return 3;
    }
    o[0] = (unsigned char)(0xf0 | cp >> 18); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 63));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 63)); o[3] = (unsigned char)(0x80 | (cp & 63));
    return 4;
}

/* Parses a string at p->pos (which is '"'); *out is malloc'd, NUL-terminated.
 * The decoded form is never longer than the source, so one allocation of the
 * source length suffices. */
static int parse_string(parser *p, char **out, size_t *out_len)
{
    size_t start = ++p->pos, end = start;
    /* Find the closing quote first to size the buffer. */
    while (end < p->len && p->s[end] != '"') end += (p->s[end] == '\\') ? 2 : 1;
    if (end >= p->len) { p->pos = p->len; return perr(p, "unterminated string"); }
    unsigned char *o = malloc(end - start + 1);
    if (!o) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory parsing JSON", p->what);
    size_t n = 0;
    while (p->pos < end) {
        unsigned c = p->s[p->pos];
        if (c < 0x20) { free(o); return perr(p, "control character in string (must be escaped)"); }
        if (c == '\\') {
            p->pos++;
            unsigned e = p->s[p->pos++];
            switch (e) {
            case '"': o[n++] = '"'; break;
            case '\\': o[n++] = '\\'; break;
            case '/': o[n++] = '/'; break;
            case 'b': o[n++] = '\b'; break;
            case 'f': o[n++] = '\f'; break;
            case 'n': o[n++] = '\n'; break;
            case 'r': o[n++] = '\r'; break;
            case 't': o[n++] = '\t'; break;
            case 'u': {
                unsigned cp, lo;
                if (hex4(p, &cp)) { free(o); return VQ_ERR_FORMAT; }
                if (cp >= 0xdc00 && cp <= 0xdfff) { free(o); return perr(p, "unpaired low surrogate in \\u escape"); }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (p->pos + 2 > end || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                        free(o); return perr(p, "high surrogate not followed by a low surrogate");
                    }
                    p->pos += 2;
                    if (hex4(p, &lo)) { free(o); return VQ_ERR_FORMAT; }
                    if (lo < 0xdc00 || lo > 0xdfff) { free(o); return perr(p, "high surrogate not followed by a low surrogate"); }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                /* A \u escape of <= 6 source bytes yields <= 3 bytes; a
                 * surrogate pair of 12 yields 4, so the buffer is big enough. */
                n += put_utf8(o + n, cp);
                break;
            }
            default:
                p->pos--; free(o); return perr(p, "unknown escape in string");
            }
            continue;
        }
        size_t k = utf8_seq(p->s + p->pos, end - p->pos);
        if (!k) { free(o); return perr(p, "invalid UTF-8 in string"); }
        memcpy(o + n, p->s + p->pos, k);
        n += k; p->pos += k;
    }
    if (p->pos != end) { free(o); return perr(p, "escape runs past the end of the string"); }
    p->pos++; /* closing quote */
    o[n] = '\0';
    *out = (char *)o; *out_len = n;
    return 0;
}

static int parse_number(parser *p, vq_json *v)
{
    size_t start = p->pos;
    int neg = 0, integral = 1;
    if (p->s[p->pos] == '-') { neg = 1; p->pos++; }
    if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') return perr(p, "expected a digit");
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') return perr(p, "leading zero in number");
    } else {
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        integral = 0; p->pos++;
        if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') return perr(p, "expected a digit after '.'");
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        integral = 0; p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') return perr(p, "expected a digit in exponent");
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9') p->pos++;
    }
    size_t n = p->pos - start;
    v->str = malloc(n + 1);
    if (!v->str) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory parsing JSON", p->what);
    memcpy(v->str, p->s + start, n);
    v->str[n] = '\0';
    v->len = n;
    if (integral && !neg) {
        uint64_t x = 0; int ok = 1;
        for (size_t i = 0; i < n; i++) {
            uint64_t d = (uint64_t)(v->str[i] - '0');
            if (x > (UINT64_MAX - d) / 10) { ok = 0; break; }
            x = x * 10 + d;
        }
        v->is_uint = ok; v->u = ok ? x : 0;
    }
    return 0;
}

static int literal(parser *p, const char *word)
{
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n)) return perr(p, "unexpected character");
    p->pos += n;
    return 0;
}

/* Grow arrays holding n entries to hold one more. */
static int grow(parser *p, vq_json *v, size_t *cap, int object)
{
    if (v->n < *cap) return 0;
    size_t nc = *cap ? *cap * 2 : 4;
    vq_json **items = realloc(v->items, nc * sizeof *items);
    if (!items) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory parsing JSON", p->what);
    v->items = items;
    if (object) {
        char **keys = realloc(v->keys, nc * sizeof *keys);
        if (!keys) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory parsing JSON", p->what);
        v->keys = keys;
        size_t *kl = realloc(v->key_lens, nc * sizeof *kl);
        if (!kl) return vq_fail(VQ_ERR_NOMEM, "%s: out of memory parsing JSON", p->what);
        v->key_lens = kl;
    }
    *cap = nc;
    return 0;
}

static int keycmp(const char *a, size_t na, const char *b, size_t nb)
{
    int c = memcmp(a, b, na < nb ? na : nb);
    if (c) return c;
    return na < nb ? -1 : na > nb;
}

/* qsort has no context argument in C11, so sort an index with a merge sort. */
static void sort_keys(const vq_json *v, size_t *idx, size_t *tmp, size_t n)
{
    if (n < 2) return;
    size_t h = n / 2;
    sort_keys(v, idx, tmp, h);
    sort_keys(v, idx + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (keycmp(v->keys[idx[j]], v->key_lens[idx[j]], v->keys[idx[i]], v->key_lens[idx[i]]) < 0) tmp[k++] = idx[j++];
        else tmp[k++] = idx[i++];
    }
    while (i < h) tmp[k++] = idx[i++];
    while (j < n) tmp[k++] = idx[j++];
    memcpy(idx, tmp, n * sizeof *idx);
}

static int parse_value(parser *p, vq_json **out, int depth);

static int parse_array(parser *p, vq_json *v, int depth)
{
    size_t cap = 0;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') { p->pos++; return 0; }
    for (;;) {
        int rc;
        if ((rc = grow(p, v, &cap, 0))) return rc;
        if ((rc = parse_value(p, &v->items[v->n], depth + 1))) return rc;
        v->n++;
        skip_ws(p);
        if (p->pos >= p->len) return perr(p, "unterminated array");
        if (p->s[p->pos] == ']') { p->pos++; return 0; }
        if (p->s[p->pos] != ',') return perr(p, "expected ',' or ']' in array");
        p->pos++;
    }
}

static int parse_object(parser *p, vq_json *v, int depth)
{
    size_t cap = 0;
    int rc;
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') { p->pos++; return 0; }
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"') return perr(p, "expected a string key in object");
        if ((rc = grow(p, v, &cap, 1))) return rc;
        size_t key_at = p->pos;
        if ((rc = parse_string(p, &v->keys[v->n], &v->key_lens[v->n]))) return rc;
        v->items[v->n] = NULL;
        v->n++;              /* counted now so a failure below frees the key */
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') return perr(p, "expected ':' after object key");
        p->pos++;
        if ((rc = parse_value(p, &v->items[v->n - 1], depth + 1))) return rc;
        v->items[v->n - 1]->offset = key_at;
        skip_ws(p);
        if (p->pos >= p->len) return perr(p, "unterminated object");
        if (p->s[p->pos] == '}') { p->pos++; break; }
        if (p->s[p->pos] != ',') return perr(p, "expected ',' or '}' in object");
        p->pos++;
    }
    /* Sorted index: duplicate keys become neighbours, and lookup is a binary search. */
    v->sorted = malloc(v->n * sizeof *v->sorted);
    size_t *tmp = malloc(v->n * sizeof *tmp);
    if (!v->sorted || !tmp) { free(tmp); return vq_fail(VQ_ERR_NOMEM, "%s: out of memory parsing JSON", p->what); }
    for (size_t i = 0; i < v->n; i++) v->sorted[i] = i;
    sort_keys(v, v->sorted, tmp, v->n);
    free(tmp);
    for (size_t i = 1; i < v->n; i++) {
        size_t a = v->sorted[i - 1], b = v->sorted[i];
        if (!keycmp(v->keys[a], v->key_lens[a], v->keys[b], v->key_lens[b])) {
            size_t later = a > b ? a : b;
            return vq_fail(VQ_ERR_FORMAT, "%s: invalid JSON at byte %zu: duplicate key \"%.200s\" in object",
                           p->what, v->items[later]->offset, v->keys[a]);
        }
    }
    return 0;
}

static int parse_value(parser *p, vq_json **out, int depth)
{
    *out = NULL;
    skip_ws(p);
    if (p->pos >= p->len) return perr(p, "expected a value");
    if (depth > VQ_JSON_MAX_DEPTH) return perr(p, "nesting deeper than 64 levels");
    unsigned char c = p->s[p->pos];
    vq_json *v;
    int rc = 0;
    switch (c) {
    case '{': if (!(v = new_node(p, VQ_JSON_OBJECT))) return VQ_ERR_NOMEM; rc = parse_object(p, v, depth); break;
    case '[': if (!(v = new_node(p, VQ_JSON_ARRAY))) return VQ_ERR_NOMEM; rc = parse_array(p, v, depth); break;
    case '"':
        if (!(v = new_node(p, VQ_JSON_STRING))) return VQ_ERR_NOMEM;
        rc = parse_string(p, &v->str, &v->len);
        break;
    case 't': if (!(v = new_node(p, VQ_JSON_TRUE))) return VQ_ERR_NOMEM; rc = literal(p, "true"); break;
    case 'f': if (!(v = new_node(p, VQ_JSON_FALSE))) return VQ_ERR_NOMEM; rc = literal(p, "false"); break;
    case 'n': if (!(v = new_node(p, VQ_JSON_NULL))) return VQ_ERR_NOMEM; rc = literal(p, "null"); break;
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            if (!(v = new_node(p, VQ_JSON_NUMBER))) return VQ_ERR_NOMEM;
            rc = parse_number(p, v);
            break;
        }
        return perr(p, "expected a value");
    }
    if (rc) { vq_json_free(v); return rc; }
    *out = v;
    return 0;
}

int vq_json_parse(vq_json **out, const char *text, size_t len, const char *what)
{
    parser p = { (const unsigned char *)text, len, 0, what ? what : "JSON" };
    *out = NULL;
    vq_json *v;
    int rc = parse_value(&p, &v, 0);
    if (rc) return rc;
    skip_ws(&p);
    if (p.pos != p.len) { vq_json_free(v); return perr(&p, "unexpected text after the JSON value"); }
    *out = v;
    return 0;
}

const vq_json *vq_json_get(const vq_json *obj, const char *key)
{
    if (!obj || obj->type != VQ_JSON_OBJECT) return NULL;
    size_t kn = strlen(key), lo = 0, hi = obj->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2, i = obj->sorted[mid];
        int c = keycmp(obj->keys[i], obj->key_lens[i], key, kn);
        if (!c) return obj->items[i];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}
