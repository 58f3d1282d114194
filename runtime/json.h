/* json.h: a small, strict JSON (RFC 8259) parser for file headers that come
 * from outside (the safetensors header). It builds a tree and rejects what a
 * lenient parser would let through: trailing garbage, duplicate object keys,
 * invalid UTF-8, unescaped control characters, leading zeros, nesting deeper
 * than VQ_JSON_MAX_DEPTH (so a hostile "[[[[..." cannot overflow the stack).
 *
 * It is not a general JSON library: no writer (see vq_json_write_string for
 * the one piece a writer needs), no floating-point conversion of numbers
 * (a number keeps its source text; non-negative integers are also decoded to
 * uint64, which is all a header needs).
 *
 *     vq_json *root;
 *     if (vq_json_parse(&root, text, len, "model.safetensors header")) return err;
 *     const vq_json *v = vq_json_get(root, "dtype");   // NULL when absent
 *     vq_json_free(root);
 */
#ifndef VQ_JSON_H
#define VQ_JSON_H

#include <stddef.h>
#include <stdint.h>

#define VQ_JSON_MAX_DEPTH 64

typedef enum vq_json_type {
    VQ_JSON_NULL, VQ_JSON_FALSE, VQ_JSON_TRUE, VQ_JSON_NUMBER,
    VQ_JSON_STRING, VQ_JSON_ARRAY, VQ_JSON_OBJECT,
} vq_json_type;

typedef struct vq_json vq_json;
struct vq_json {
    vq_json_type type;
    size_t offset;        /* byte offset of the value in the parsed text, for messages */
    /* STRING: decoded UTF-8, NUL-terminated (len excludes the NUL; it may
     * contain NUL bytes from "\u0000", which callers that want C strings reject).
     * NUMBER: the number's source text. */
    char *str;
    size_t len;
    /* NUMBER: is_uint is 1 when the text is a non-negative integer (no
     * fraction or exponent) that fits in uint64; then u holds it. */
    int is_uint;
    uint64_t u;
    /* ARRAY: n items. OBJECT: n members, keys[i] -> items[i] in file order,
     * key_lens[i] bytes each; sorted[] indexes them by key for lookup. */
    size_t n;
    vq_json **items;
    char **keys;
    size_t *key_lens;
    size_t *sorted;
};

/* Parse exactly one JSON value (surrounding whitespace allowed) from
 * text[0..len). `what` names the text in error messages ("x.safetensors
 * header"). On failure *out is NULL and the message gives the byte offset. */
int vq_json_parse(vq_json **out, const char *text, size_t len, const char *what);
void vq_json_free(vq_json *v);

/* Member of an object by key (NUL-terminated), or NULL. */
const vq_json *vq_json_get(const vq_json *obj, const char *key);
const char *vq_json_type_name(vq_json_type t);

/* 1 when s[0..n) is well-formed UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int vq_utf8_valid(const char *s, size_t n);

#endif
