/* test_safetensors_hostile.c: malformed and hostile safetensors files are
 * rejected with the right message and without crashing (also run under
 * AddressSanitizer + UBSan by mk/checkpoint.mk): a table of hand-made headers,
 * truncation at many points, the header length field, bit flips at every
 * header bit, random byte corruption, and a few through real files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdint.h>

#include "safetensors.h"
#include "vq_common.h"
#include "ckpt_test_util.h"

/* A file: 8-byte little-endian header length, the header, data_len bytes. */
static unsigned char *make_file(const char *header, size_t hlen, size_t data_len, size_t *len)
{
    *len = 8 + hlen + data_len;
    unsigned char *b = calloc(1, *len);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, header, hlen);
    for (size_t i = 0; i < data_len; i++) b[8 + hlen + i] = (unsigned char)(i * 37);
    return b;
}

typedef struct hostile { const char *what, *header; size_t data_len; int code; const char *words; } hostile;

#define E(x) "\"" x "\""
#define T(name, dtype, shape, offs) E(name) ":{\"dtype\":" E(dtype) ",\"shape\":" shape ",\"data_offsets\":" offs "}"

static const hostile cases[] = {
    {"not JSON", "hello", 0, VQ_ERR_FORMAT, "does not start with '{'"},
    {"broken JSON", "{hello}", 0, VQ_ERR_FORMAT, "expected a string key"},
    {"unterminated", "{\"a\":{\"dtype\":\"F32\"", 0, VQ_ERR_FORMAT, "invalid JSON at end of text"},
    {"trailing garbage", "{} x", 0, VQ_ERR_FORMAT, "unexpected text after the JSON value"},
    {"two objects", "{}{}", 0, VQ_ERR_FORMAT, "unexpected text after the JSON value"},
    {"entry not an object", "{\"a\":1}", 0, VQ_ERR_FORMAT, "entry is a number"},
    {"duplicate tensor", "{" T("a", "F32", "[1]", "[0,4]") "," T("a", "F32", "[1]", "[4,8]") "}", 8, VQ_ERR_FORMAT,
     "duplicate key \"a\""},
    {"duplicate field", "{\"a\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
     VQ_ERR_FORMAT, "duplicate key \"dtype\""},
    {"duplicate metadata", "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, VQ_ERR_FORMAT, "duplicate key \"k\""},
    {"metadata number", "{\"__metadata__\":{\"k\":1}}", 0, VQ_ERR_FORMAT, "__metadata__ \"k\" is a number, expected a string"},
    {"metadata nested", "{\"__metadata__\":{\"k\":{}}}", 0, VQ_ERR_FORMAT, "__metadata__ \"k\" is a object"},
    {"metadata not object", "{\"__metadata__\":\"x\"}", 0, VQ_ERR_FORMAT, "__metadata__ is a string, expected an object"},
    {"metadata NUL", "{\"__metadata__\":{\"k\":\"a\\u0000b\"}}", 0, VQ_ERR_FORMAT, "NUL"},
    {"unknown dtype", "{" T("a", "F33", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "tensor \"a\": unknown dtype \"F33\""},
    {"lowercase dtype", "{" T("a", "f32", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "unknown dtype \"f32\""},
    {"dtype not string", "{\"a\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,4]}}", 4, VQ_ERR_FORMAT, "dtype is a number"},
    {"offsets beyond", "{" T("a", "F32", "[4]", "[0,16]") "}", 8, VQ_ERR_FORMAT,
     "data_offsets [0, 16] beyond the 8-byte data buffer"},
    {"offsets beyond 2^63", "{" T("a", "F32", "[1]", "[9223372036854775808,9223372036854775812]") "}", 4, VQ_ERR_FORMAT,
     "beyond the 4-byte data buffer"},
    {"begin > end", "{" T("a", "F32", "[1]", "[8,4]") "}", 8, VQ_ERR_FORMAT, "data_offsets [8, 4] has begin > end"},
    {"overlap", "{" T("a", "F32", "[4]", "[0,16]") "," T("b", "F32", "[4]", "[8,24]") "}", 24, VQ_ERR_FORMAT,
     "tensors \"a\" and \"b\" overlap"},
    {"same range", "{" T("a", "F32", "[2]", "[0,8]") "," T("b", "I32", "[2]", "[0,8]") "}", 8, VQ_ERR_FORMAT, "overlap"},
    {"size mismatch", "{" T("a", "F32", "[3]", "[0,16]") "}", 16, VQ_ERR_FORMAT,
     "shape (3,) of F32 needs 12 bytes, data_offsets [0, 16] hold 16"},
    {"size mismatch dtype", "{" T("a", "F16", "[4]", "[0,16]") "}", 16, VQ_ERR_FORMAT, "needs 8 bytes"},
    {"shape overflow", "{" T("a", "F32", "[4294967296,4294967296,16]", "[0,4]") "}", 4, VQ_ERR_FORMAT,
     "shape (4294967296, 4294967296, 16) has more bytes than 2^64"},
    {"bytes overflow", "{" T("a", "F32", "[4611686018427387904]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "more bytes than 2^64"},
    {"wrapping product", "{" T("a", "F32", "[4294967296,4294967296,0]", "[0,0]") "}", 0, VQ_OK, ""},
    {"shape negative", "{" T("a", "F32", "[-1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "shape[0] is -1"},
    {"shape float", "{" T("a", "F32", "[1.0]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "shape[0] is 1.0"},
    {"shape exponent", "{" T("a", "F32", "[1e0]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "shape[0] is 1e0"},
    {"shape 2^63", "{" T("a", "F32", "[9223372036854775808]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "in [0, 2^63)"},
    {"shape > 2^64", "{" T("a", "F32", "[99999999999999999999999]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "in [0, 2^63)"},
    {"shape string", "{" T("a", "F32", "[\"1\"]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "shape[0] is string"},
    {"shape not array", "{" T("a", "F32", "4", "[0,16]") "}", 16, VQ_ERR_FORMAT, "shape is a number"},
    {"too many dims", "{" T("a", "F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]") "}", 4, VQ_ERR_UNSUPPORTED, "9 dimensions"},
    {"leading zero", "{" T("a", "F32", "[01]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "leading zero"},
    {"one offset", "{" T("a", "F32", "[1]", "[0]") "}", 4, VQ_ERR_FORMAT, "data_offsets must be an array [begin, end]"},
    {"three offsets", "{" T("a", "F32", "[1]", "[0,4,4]") "}", 4, VQ_ERR_FORMAT, "data_offsets must be"},
    {"negative offset", "{" T("a", "F32", "[1]", "[-4,0]") "}", 4, VQ_ERR_FORMAT, "data_offsets[0] is not"},
    {"extra field", "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}}", 4, VQ_ERR_FORMAT,
     "unknown key \"x\""},
    {"missing shape", "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, VQ_ERR_FORMAT, "missing \"shape\""},
    {"hole", "{" T("a", "F32", "[1]", "[0,4]") "," T("b", "F32", "[1]", "[8,12]") "}", 12, VQ_ERR_FORMAT,
     "bytes [4, 8) belong to no tensor"},
    {"trailing bytes", "{" T("a", "F32", "[1]", "[0,4]") "}", 8, VQ_ERR_FORMAT, "bytes [4, 8) at the end"},
    {"empty name", "{" T("", "F32", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "empty name"},
    {"NUL in name", "{" T("a\\u0000b", "F32", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "contains a NUL"},
    {"bad UTF-8", "{" T("a\xff", "F32", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "invalid UTF-8"},
    {"overlong UTF-8", "{" T("\xc0\xaf", "F32", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "invalid UTF-8"},
    {"UTF-8 surrogate", "{" T("\xed\xa0\x80", "F32", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "invalid UTF-8"},
    {"lone surrogate", "{" T("\\ud800", "F32", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "surrogate"},
    {"raw newline", "{" T("a\nb", "F32", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "control character"},
    {"bad escape", "{" T("a\\x", "F32", "[1]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "unknown escape"},
    {"single quotes", "{'a':1}", 0, VQ_ERR_FORMAT, "expected a string key"},
    {"trailing comma", "{" T("a", "F32", "[1]", "[0,4]") ",}", 4, VQ_ERR_FORMAT, "expected a string key"},
    {"NaN literal", "{" T("a", "F32", "[NaN]", "[0,4]") "}", 4, VQ_ERR_FORMAT, "expected a value"},
    /* Valid: escapes decode, surrogate pairs, whitespace padding, an unsupported dtype that still validates. */
    {"escaped name", "{" T("a\\u00e9\\ud83d\\ude00\\n", "F32", "[1]", "[0,4]") "}    ", 4, VQ_OK, ""},
    {"F64 validates", "{" T("d", "F64", "[2]", "[0,16]") "}", 16, VQ_OK, ""},
};

static void test_hostile_headers(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hostile *c = &cases[i];
        size_t len;
        unsigned char *b = make_file(c->header, strlen(c->header), c->data_len, &len);
        vq_st_file f;
        vq_clear_error();
        int rc = vq_st_open_mem(&f, b, len, "bad.safetensors");
        if (rc != c->code || !strstr(vq_last_error(), c->words) || (rc && !strstr(vq_last_error(), "bad.safetensors"))) {
            print_error("case \"%s\": got %d \"%s\", want %d with \"%s\"\n", c->what, rc, vq_last_error(), c->code, c->words);
            fail();
        }
        if (!rc) {
            for (size_t k = 0; k < f.n_tensors; k++) {
                const vq_st_tensor *t = &f.tensors[k];
                const void *d = vq_st_get(&f, t->name, NULL, NULL);
                if (t->dtype == VQ_DT_F64) {
                    assert_null(d);
                    assert_error_has("dtype F64; vqrt loads F32, F16, BF16 (as F32), I32 and I64");
                }
            }
            vq_st_close(&f);
        }
        assert_null(f.tensors); /* a failed open leaves nothing behind */
        free(b);
    }
}

/* Nesting deeper than the parser's limit is an error, not a stack overflow. */
static void test_deep_nesting(void **state)
{
    (void)state;
    size_t depth = 100000, hl = 6 + 2 * depth;
    char *h = malloc(hl + 1);
    memcpy(h, "{\"a\":", 5);
    memset(h + 5, '[', depth);
    memset(h + 5 + depth, ']', depth);
    h[hl - 1] = '}';
    h[hl] = '\0';
    size_t len;
    unsigned char *b = make_file(h, hl, 0, &len);
    vq_st_file f;
    assert_int_equal(vq_st_open_mem(&f, b, len, "deep.safetensors"), VQ_ERR_FORMAT);
    assert_error_has("nesting deeper than 64 levels");
    free(b); free(h);
}

static void test_header_length_field(void **state)
{
    (void)state;
    const char *h = "{" T("a", "F32", "[1]", "[0,4]") "}";
    size_t len;
    unsigned char *b = make_file(h, strlen(h), 4, &len);
    vq_st_file f;
    assert_int_equal(vq_st_open_mem(&f, b, len, "ok.safetensors"), 0);
    vq_st_close(&f);
    struct { uint64_t n; const char *words; } bad[] = {
        {(uint64_t)1 << 63, "header length 9223372036854775808 exceeds the 100000000-byte limit"},
        {UINT64_MAX, "exceeds the 100000000-byte limit"},
        {100000001, "exceeds the 100000000-byte limit"},
        {len - 7, "runs past the end of the"},
        {1000, "runs past the end of the"},
        {0, "does not start with '{'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        for (int k = 0; k < 8; k++) b[k] = (unsigned char)(bad[i].n >> (8 * k));
        assert_int_equal(vq_st_open_mem(&f, b, len, "len.safetensors"), VQ_ERR_FORMAT);
        assert_error_has(bad[i].words);
    }
    assert_int_equal(vq_st_open_mem(&f, b, 0, "empty.safetensors"), VQ_ERR_FORMAT);
    assert_error_has("empty.safetensors: file is empty");
    assert_int_equal(vq_st_open_mem(&f, b, 5, "short.safetensors"), VQ_ERR_FORMAT);
    assert_error_has("file is 5 bytes, too short");
    free(b);
}

/* A small valid file written by vq_st_write, as bytes. */
static unsigned char *sample(size_t *len)
{
    char path[300];
    scratch_path(path, sizeof path, "sample.safetensors");
    float a[6] = {1, 2, 3, 4, 5, 6};
    uint16_t hb[3] = {0x3c00, 0x0001, 0x7e00};
    int64_t i64[2] = {7, -7}, s23[] = {2, 3}, s3[] = {3}, s2[] = {2};
    vq_st_ref t[] = {{"encoder.conv_in.weight", VQ_DT_F32, 2, s23, a}, {"h", VQ_DT_F16, 1, s3, hb},
                     {"n", VQ_DT_I64, 1, s2, i64}};
    vq_st_meta m[] = {{"step", "12"}};
    assert_int_equal(vq_st_write(path, t, 3, m, 1), 0);
    unsigned char *b = slurp(path, len);
    assert_non_null(b);
    return b;
}

/* Opens bytes; when accepted, touches every tensor's data (ASan checks the range). */
static int open_and_touch(const unsigned char *b, size_t len)
{
    vq_st_file f;
    int rc = vq_st_open_mem(&f, b, len, "fuzz.safetensors");
    if (rc) return rc;
    for (size_t k = 0; k < f.n_tensors; k++) {
        const vq_st_tensor *t = &f.tensors[k];
        const unsigned char *d = vq_st_get(&f, t->name, NULL, NULL);
        size_t es = t->dtype == VQ_DT_F16 || t->dtype == VQ_DT_BF16 ? 4 : vq_dtype_size(t->dtype);
        unsigned sum = 0;
        if (d) for (uint64_t i = 0; i < t->numel * es; i++) sum += d[i];
        (void)sum;
    }
    vq_st_close(&f);
    return 0;
}

static void test_truncated(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = sample(&len);
    size_t hl = b[0] | (size_t)b[1] << 8;
    size_t cuts[] = {0, 1, 4, 7, 8, 9, 8 + hl / 2, 8 + hl - 1, 8 + hl, 8 + hl + 1, 8 + hl + 4, len - 2, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        if (open_and_touch(b, cuts[i]) != VQ_ERR_FORMAT) {
            print_error("truncated to %zu of %zu bytes: accepted or wrong error: %s\n", cuts[i], len, vq_last_error());
            fail();
        }
    }
    /* Every length, quickly: no cut is accepted. */
    for (size_t cut = 0; cut < len; cut++) assert_int_not_equal(open_and_touch(b, cut), 0);
    assert_int_equal(open_and_touch(b, len), 0);

    /* The same through real files, including an empty one. */
    char path[300];
    scratch_path(path, sizeof path, "cut.safetensors");
    vq_st_file f;
    assert_int_equal(spit(path, b, 0), 0);
    assert_int_equal(vq_st_open(&f, path), VQ_ERR_FORMAT);
    assert_error_has("cut.safetensors: file is empty");
    assert_int_equal(spit(path, b, len - 1), 0);
    assert_int_equal(vq_st_open(&f, path), VQ_ERR_FORMAT);
    assert_error_has("cut.safetensors: ");
    assert_int_equal(spit(path, b, 8 + hl / 2), 0);
    assert_int_equal(vq_st_open(&f, path), VQ_ERR_FORMAT);
    assert_error_has("runs past the end");
    assert_int_equal(vq_st_open(&f, scratch), VQ_ERR_IO);
    assert_error_has("not a regular file");
    scratch_path(path, sizeof path, "missing.safetensors");
    assert_int_equal(vq_st_open(&f, path), VQ_ERR_IO);
    assert_error_has("missing.safetensors: cannot open: No such file or directory");
    free(b);
}

/* Every bit of the length field and the header flipped in turn: each result is
 * either a clean rejection or a file whose tensors are all within bounds. */
static void test_bit_flips(void **state)
{
    (void)state;
    size_t len;
    unsigned char *b = sample(&len);
    size_t hl = b[0] | (size_t)b[1] << 8, accepted = 0, rejected = 0;
    for (size_t pos = 0; pos < 8 + hl; pos++)
        for (int bit = 0; bit < 8; bit++) {
            b[pos] ^= (unsigned char)(1u << bit);
            int rc = open_and_touch(b, len);
            if (rc) assert_true(rc == VQ_ERR_FORMAT || rc == VQ_ERR_UNSUPPORTED);
            rc ? rejected++ : accepted++;
            b[pos] ^= (unsigned char)(1u << bit);
        }
    /* Random multi-byte corruption of the header. */
    vq_rng rng;
    vq_rng_seed(&rng, 2024);
    unsigned char *c = malloc(len);
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(c, b, len);
        int k = 1 + (int)vq_rng_below(&rng, 4);
        for (int j = 0; j < k; j++) c[8 + vq_rng_below(&rng, hl)] = (unsigned char)vq_rng_below(&rng, 256);
        int rc = open_and_touch(c, len);
        if (rc) assert_true(rc == VQ_ERR_FORMAT || rc == VQ_ERR_UNSUPPORTED);
        rc ? rejected++ : accepted++;
    }
    printf("corrupted headers: %zu rejected, %zu accepted (e.g. a changed name or metadata value)\n", rejected, accepted);
    assert_true(rejected > accepted);
    free(c); free(b);
}

static int setup(void **state) { (void)state; return scratch_make(); }
static int teardown(void **state) { (void)state; scratch_remove(); return 0; }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_headers),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_header_length_field),
        cmocka_unit_test(test_truncated),
        cmocka_unit_test(test_bit_flips),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
