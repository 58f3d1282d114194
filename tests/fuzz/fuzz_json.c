/* fuzz_json.c: the strict JSON parser (json.c) alone, on arbitrary bytes.
 * fuzz_safetensors reaches it only behind an 8-byte length that must match;
 * here every mutation lands in the JSON.
 *
 * Oracles for an accepted text: the tree's strings are valid UTF-8 and
 * NUL-terminated at their length, object keys are unique and every key is
 * found by vq_json_get (when it has no NUL inside), integers that claim to be
 * uint64 print back to their source text, nesting is at most
 * VQ_JSON_MAX_DEPTH. On rejection: *out is NULL and the message names the text. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"
#include "json.h"
#include "vq_common.h"

static void check(const vq_json *v, int depth)
{
    FUZZ_CHECK(depth <= VQ_JSON_MAX_DEPTH);
    switch (v->type) {
    case VQ_JSON_STRING:
        FUZZ_CHECK(v->str && v->str[v->len] == '\0' && vq_utf8_valid(v->str, v->len));
        break;
    case VQ_JSON_NUMBER:
        FUZZ_CHECK(v->str && v->len > 0);
        if (v->is_uint) {
            char buf[32];
            snprintf(buf, sizeof buf, "%" PRIu64, v->u);
            FUZZ_CHECK(strcmp(buf, v->str) == 0);
        }
        break;
    case VQ_JSON_ARRAY:
        for (size_t i = 0; i < v->n; i++) check(v->items[i], depth + 1);
        break;
    case VQ_JSON_OBJECT:
        for (size_t i = 0; i < v->n; i++) {
            FUZZ_CHECK(vq_utf8_valid(v->keys[i], v->key_lens[i]));
            for (size_t j = 0; j < i; j++)
                FUZZ_CHECK(v->key_lens[i] != v->key_lens[j] || memcmp(v->keys[i], v->keys[j], v->key_lens[i]) != 0);
            if (strlen(v->keys[i]) == v->key_lens[i]) FUZZ_CHECK(vq_json_get(v, v->keys[i]) == v->items[i]);
            check(v->items[i], depth + 1);
        }
        break;
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vq_json *root = (vq_json *)1;
    if (vq_json_parse(&root, (const char *)data, size, "fuzz.json") != 0) {
        FUZZ_CHECK(root == NULL);
        FUZZ_CHECK(strstr(vq_last_error(), "fuzz.json") != NULL);
        return 0;
    }
    FUZZ_CHECK(root != NULL);
    check(root, 0); /* json.c counts the root as depth 0 and rejects depth > VQ_JSON_MAX_DEPTH */
    vq_json_free(root);
    return 0;
}
