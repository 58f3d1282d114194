/* test_checkpoint.c: safetensors writing/reading and checkpoint conventions.
 *
 *   - F16/BF16 -> F32 for every bit pattern, against the IEEE formulas
 *   - round trip of several dtypes/shapes + metadata through vq_st_write
 *   - files made by the independent numpy writer (tests/fixtures/ckpt/make_safetensors.py)
 *   - checkpoint metadata (step, rng, model_hash), FNV-1a test vectors, name checks
 *   - SIGKILL during saves leaves a loadable previous checkpoint
 *   - a write failing with EFBIG (RLIMIT_FSIZE) reports it and keeps the old file
 * Hostile inputs are in test_safetensors_hostile.c. Also built with
 * -fsanitize=address,undefined by mk/checkpoint.mk. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

#include "checkpoint.h"
#include "safetensors.h"
#include "vq_common.h"
#include "ckpt_test_util.h"

static uint32_t bits_of(float f) { uint32_t b; memcpy(&b, &f, 4); return b; }

/* --- half precision ------------------------------------------------------- */

/* binary16 value from its fields (IEEE 754-2008 section 3.4), written independently
 * of vq_f16_to_f32: subnormal m * 2^-24, normal (1024 + m) * 2^(e - 25). */
static void test_f16_every_pattern(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t s = h >> 15, e = (h >> 10) & 31, m = h & 1023;
        float got = vq_f16_to_f32((uint16_t)h);
        if (e == 31 && m) {
            assert_true(isnan(got));
            assert_int_equal(bits_of(got), (s << 31) | 0x7f800000u | (m << 13)); /* payload kept */
            continue;
        }
        double v = e == 31 ? INFINITY : e == 0 ? ldexp(m, -24) : ldexp(1024 + m, (int)e - 25);
        float want = (float)(s ? -v : v);
        assert_int_equal(bits_of(got), bits_of(want)); /* bitwise: -0 stays -0 */
    }
}

/* bfloat16: 8 exponent bits (bias 127), 7 mantissa bits. */
static void test_bf16_every_pattern(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        uint32_t s = h >> 15, e = (h >> 7) & 255, m = h & 127;
        float got = vq_bf16_to_f32((uint16_t)h);
        if (e == 255 && m) { assert_true(isnan(got)); assert_int_equal(bits_of(got), h << 16); continue; }
        double v = e == 255 ? INFINITY : e == 0 ? ldexp(m, -133) : ldexp(128 + m, (int)e - 134);
        float want = (float)(s ? -v : v);
        assert_int_equal(bits_of(got), bits_of(want));
    }
}

/* --- round trip ------------------------------------------------------------ */

static void test_round_trip(void **state)
{
    (void)state;
    char path[300];
    scratch_path(path, sizeof path, "rt.safetensors");
    vq_rng rng;
    vq_rng_seed(&rng, 7);
    float a[2 * 3 * 4 * 5], scalar = -0.0f, one[1] = {3.25f};
    float *w = malloc(3 * 128 * 3 * 3 * sizeof *w);
    int32_t i32[7] = {INT32_MIN, -5, 0, 1, 2, 3, INT32_MAX};
    int64_t i64[3 * 2] = {INT64_MIN, -1, 0, 1, ((int64_t)1 << 53) + 1, INT64_MAX};
    for (size_t i = 0; i < 120; i++) a[i] = vq_rng_normal(&rng, 0, 1);
    for (size_t i = 0; i < 3 * 128 * 9; i++) w[i] = (float)i;
    a[3] = NAN; a[4] = INFINITY; a[5] = 1e-45f; /* stored bit for bit */
    int64_t sa[] = {2, 3, 4, 5}, s7[] = {7}, s32[] = {3, 2}, s0[] = {0, 4}, s1[] = {1}, sw[] = {3, 128, 3, 3};
    /* Given order mixes element sizes; the writer reorders the data, not the header. */
    vq_st_ref t[] = {
        {"one", VQ_DT_F32, 1, s1, one},
        {"ints32", VQ_DT_I32, 1, s7, i32},
        {"a.b.c", VQ_DT_F32, 4, sa, a},
        {"ints64", VQ_DT_I64, 2, s32, i64},
        {"scalar", VQ_DT_F32, 0, NULL, &scalar},
        {"empty", VQ_DT_F32, 2, s0, NULL},
        {"decoder.conv_out.weight", VQ_DT_F32, 4, sw, w},
    };
    size_t n = sizeof t / sizeof t[0];
    vq_st_meta meta[] = {{"k", "v"}, {"empty", ""}, {"tricky", "\"q\" \\ \n\t\x01 na\xc3\xafve \xe2\x98\x83"}};
    assert_int_equal(vq_st_write(path, t, n, meta, 3), 0);
    assert_int_equal(scratch_count("rt.safetensors.tmp"), 0);

    /* Layout: header length a multiple of 8, so the buffer starts 8-aligned. */
    size_t len;
    unsigned char *raw = slurp(path, &len);
    assert_non_null(raw);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    assert_int_equal(hl % 8, 0);
    assert_int_equal(raw[8], '{');
    free(raw);

    vq_st_file f;
    assert_int_equal(vq_st_open(&f, path), 0);
    assert_int_equal(f.n_tensors, n);
    for (size_t i = 0; i < n; i++) {
        const vq_st_tensor *x = &f.tensors[i];
        assert_string_equal(x->name, t[i].name);     /* header order = given order */
        assert_int_equal(x->dtype, t[i].dtype);
        assert_int_equal(x->ndim, t[i].ndim);
        for (int d = 0; d < x->ndim; d++) assert_int_equal(x->shape[d], t[i].shape[d]);
        size_t es = vq_dtype_size(x->dtype);
        assert_int_equal(x->begin % es, 0);          /* aligned to its element size */
        assert_int_equal((uintptr_t)x->data % es, 0);
        assert_false(x->owned);                      /* aligned F32/I32/I64: a view, no copy */
        if (x->numel) assert_memory_equal(x->data, t[i].data, x->numel * es);
    }
    const int64_t *shape;
    int ndim;
    const float *sc = vq_st_get(&f, "scalar", &shape, &ndim);
    assert_non_null(sc);
    assert_int_equal(ndim, 0);
    assert_int_equal(bits_of(*sc), 0x80000000u);
    assert_int_equal(f.n_meta, 3);
    assert_string_equal(vq_st_meta_get(&f, "k"), "v");
    assert_string_equal(vq_st_meta_get(&f, "empty"), "");
    assert_string_equal(vq_st_meta_get(&f, "tricky"), meta[2].value);
    assert_null(vq_st_meta_get(&f, "absent"));

    /* vq_st_read: shape and dtype checks with the model's view. */
    float *dst = malloc(3 * 128 * 9 * sizeof *dst);
    int64_t want_w[] = {3, 128, 3, 3}, wrong_w[] = {1, 64, 3, 3};
    assert_int_equal(vq_st_read(&f, "decoder.conv_out.weight", VQ_DT_F32, dst, want_w, 4), 0);
    assert_memory_equal(dst, w, 3 * 128 * 9 * sizeof *dst);
    assert_int_equal(vq_st_read(&f, "decoder.conv_out.weight", VQ_DT_F32, dst, wrong_w, 4), VQ_ERR_MISMATCH);
    assert_error_has("rt.safetensors: decoder.conv_out.weight: shape (3, 128, 3, 3) in file, model expects (1, 64, 3, 3)");
    assert_int_equal(vq_st_read(&f, "ints32", VQ_DT_I64, dst, s7, 1), VQ_ERR_MISMATCH);
    assert_error_has("ints32: dtype I32 in file, model expects I64");
    assert_int_equal(vq_st_read(&f, "nope", VQ_DT_F32, dst, s7, 1), VQ_ERR_MISMATCH);
    assert_error_has("no tensor named \"nope\"");

    /* Missing / unexpected names. */
    const char *all[] = {"one", "ints32", "a.b.c", "ints64", "scalar", "empty", "decoder.conv_out.weight"};
    assert_int_equal(vq_st_check_names(&f, all, 7, 0), 0);
    const char *some[] = {"one", "a.b.c", "ghost.weight", "ghost.bias"};
    assert_int_equal(vq_st_check_names(&f, some, 4, 1), VQ_ERR_MISMATCH);
    assert_error_has("2 missing tensors: ghost.weight, ghost.bias");
    assert_int_equal(vq_st_check_names(&f, some, 4, 0), VQ_ERR_MISMATCH);
    assert_error_has("2 missing tensors: ghost.weight, ghost.bias; 5 unexpected tensors: ints32, ints64, scalar, empty, decoder.conv_out.weight");
    const char *dup[] = {"one", "one"};
    assert_int_equal(vq_st_check_names(&f, dup, 2, 1), VQ_ERR_ARG);

    /* vq_st_read_all fills every destination. */
    float got_one = 0;
    int32_t got32[7];
    vq_st_ref back[] = {{"one", VQ_DT_F32, 1, s1, &got_one}, {"ints32", VQ_DT_I32, 1, s7, got32}};
    assert_int_equal(vq_st_read_all(&f, back, 2, 1), 0);
    assert_true(got_one == 3.25f);
    assert_memory_equal(got32, i32, sizeof i32);
    vq_st_close(&f);
    vq_st_close(&f); /* closing twice is harmless */

    /* Writer argument errors come before any I/O. */
    vq_st_ref twice[] = {{"x", VQ_DT_F32, 1, s1, one}, {"x", VQ_DT_F32, 1, s1, one}};
    assert_int_equal(vq_st_write(path, twice, 2, NULL, 0), VQ_ERR_ARG);
    assert_error_has("duplicate tensor name \"x\"");
    vq_st_ref bad_name[] = {{"\xff", VQ_DT_F32, 1, s1, one}};
    assert_int_equal(vq_st_write(path, bad_name, 1, NULL, 0), VQ_ERR_ARG);
    int64_t neg[] = {-1};
    vq_st_ref negative[] = {{"x", VQ_DT_F32, 1, neg, one}};
    assert_int_equal(vq_st_write(path, negative, 1, NULL, 0), VQ_ERR_ARG);
    free(w); free(dst);
}

/* --- the independent numpy writer -------------------------------------------- */

static void run_fixture_script(void)
{
    char cmd[600];
    if (access("/usr/bin/python3", X_OK)) {
        print_error("/usr/bin/python3 is missing: it (with numpy) is required to make the fixtures\n");
        fail();
    }
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 tests/fixtures/ckpt/make_safetensors.py %s", scratch);
    int rc = system(cmd);
    if (rc != 0) {
        print_error("'%s' failed (status %d): run from the repository root, with numpy installed\n", cmd, rc);
        fail();
    }
}

static void test_numpy_files(void **state)
{
    (void)state;
    run_fixture_script();
    char path[300];
    scratch_path(path, sizeof path, "numpy_mixed.safetensors");
    vq_st_file f;
    if (vq_st_open(&f, path)) { print_error("%s\n", vq_last_error()); fail(); }
    assert_int_equal(f.n_tensors, 13);
    const int64_t *shape;
    int ndim;

    const float *ramp = vq_st_get(&f, "ramp", &shape, &ndim);
    assert_non_null(ramp);
    assert_int_equal(ndim, 3);
    assert_int_equal(shape[0], 2); assert_int_equal(shape[1], 3); assert_int_equal(shape[2], 4);
    for (int i = 0; i < 24; i++) assert_true(ramp[i] == 0.5f * (float)i - 3.0f);

    const int32_t *i32 = vq_st_get(&f, "ints32", NULL, NULL);
    assert_non_null(i32);
    assert_true(i32[0] == INT32_MIN && i32[1] == -1 && i32[2] == 0 && i32[3] == 1 && i32[4] == INT32_MAX);
    const int64_t *i64 = vq_st_get(&f, "ints64", NULL, NULL);
    assert_non_null(i64);
    assert_int_equal((uintptr_t)i64 % 8, 0); /* misplaced in the file: copied to aligned memory */
    assert_true(i64[0] == INT64_MIN && i64[1] == -1 && i64[2] == ((int64_t)1 << 40) + 3 && i64[3] == INT64_MAX);

    /* F16 bit patterns 0x0000 0x8000 0x0001 0x03ff 0x0400 0x3c00 0x7bff 0x7c00 0xfc00 0xc000. */
    const float *h = vq_st_get(&f, "halfs", NULL, NULL);
    assert_non_null(h);
    const float want_h[] = {0.0f, -0.0f, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f, 1.0f, 65504.0f, INFINITY, -INFINITY, -2.0f};
    for (int i = 0; i < 10; i++) assert_int_equal(bits_of(h[i]), bits_of(want_h[i]));
    /* BF16 bit patterns 0x3f80 0xc000 0x7f80 0x0001 0x3e20 0x8000. */
    const float *bh = vq_st_get(&f, "bhalfs", NULL, NULL);
    assert_non_null(bh);
    const float want_bh[] = {1.0f, -2.0f, INFINITY, 0x1p-133f, 0.15625f, -0.0f};
    for (int i = 0; i < 6; i++) assert_int_equal(bits_of(bh[i]), bits_of(want_bh[i]));

    /* Every F16 pattern against numpy's float16 -> float32 (NaN payloads included). */
    const float *all = vq_st_get(&f, "all_f16", NULL, NULL), *ref = vq_st_get(&f, "all_f16_as_f32", NULL, NULL);
    assert_non_null(all); assert_non_null(ref);
    for (int i = 0; i < 65536; i++)
        if (bits_of(all[i]) != bits_of(ref[i])) {
            print_error("F16 0x%04x: got %08x, numpy %08x\n", i, bits_of(all[i]), bits_of(ref[i]));
            fail();
        }
    const float *rb = vq_st_get(&f, "rand_bf16", NULL, NULL), *rbr = vq_st_get(&f, "rand_bf16_as_f32", NULL, NULL);
    assert_non_null(rb); assert_non_null(rbr);
    assert_memory_equal(rb, rbr, 4 * 33 * sizeof(float));

    const float *sc = vq_st_get(&f, "scalar", &shape, &ndim);
    assert_non_null(sc);
    assert_int_equal(ndim, 0);
    assert_true(*sc == 42.5f);
    assert_non_null(vq_st_get(&f, "empty", &shape, &ndim));
    assert_int_equal(ndim, 2);
    assert_int_equal(shape[0], 0); assert_int_equal(shape[1], 3);
    const float *odd = vq_st_get(&f, "odd_f16", NULL, NULL);
    assert_non_null(odd);
    assert_true(odd[0] == 1.0f && odd[1] == 2.0f && odd[2] == 3.0f);
    float wt[18];
    int64_t ws[] = {1, 2, 3, 3};
    assert_int_equal(vq_st_read(&f, "decoder.conv_out.weight", VQ_DT_F32, wt, ws, 4), 0);
    for (int i = 0; i < 18; i++) assert_true(wt[i] == -1.25f);

    assert_string_equal(vq_st_meta_get(&f, "note"), "na\xc3\xafve \"quoted\" \\ back\nnew line \xe2\x98\x83");
    vq_ckpt_info info;
    assert_int_equal(vq_ckpt_info_get(&f, &info), 0);
    assert_int_equal(info.step, 1234);
    assert_true(info.rng.s[0] == 0x0123456789abcdefull && info.rng.s[1] == 0xfedcba9876543210ull &&
                info.rng.s[2] == 1 && info.rng.s[3] == 0x8000000000000000ull);
    assert_true(info.model_hash == 0xdeadbeefull);
    vq_st_close(&f);

    scratch_path(path, sizeof path, "numpy_minimal.safetensors");
    assert_int_equal(vq_st_open(&f, path), 0);
    assert_int_equal(f.n_tensors, 1);
    assert_int_equal(f.n_meta, 0);
    const float *wv = vq_st_get(&f, "w", NULL, NULL);
    assert_non_null(wv);
    assert_true(wv[0] == 1.5f && wv[1] == -2.5f);
    vq_st_close(&f);

    scratch_path(path, sizeof path, "numpy_empty.safetensors");
    assert_int_equal(vq_st_open(&f, path), 0);
    assert_int_equal(f.n_tensors, 0);
    vq_st_close(&f);
}

/* --- checkpoint conventions ------------------------------------------------- */

static void test_checkpoint_metadata(void **state)
{
    (void)state;
    /* Published FNV-1a 64 test vectors (Fowler/Noll/Vo reference code). */
    assert_true(vq_hash_fnv1a64("", 0) == 0xcbf29ce484222325ull);
    assert_true(vq_hash_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
    assert_true(vq_hash_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);

    char path[300], name[64];
    scratch_path(path, sizeof path, "meta.safetensors");
    const char *desc = "model vqgan_f16 { ... }";
    vq_ckpt_info info = {.step = 18446744073709551615ull, .model_hash = vq_hash_fnv1a64(desc, strlen(desc))};
    vq_rng_seed(&info.rng, 99);
    for (int i = 0; i < 5; i++) vq_rng_next(&info.rng);
    float wv[4] = {1, 2, 3, 4}, m[4] = {0.5f, 0.25f, 0, 0};
    int64_t optstep = 17, s4[] = {4}, s1[] = {1};
    assert_int_equal(vq_ckpt_optim_name(name, sizeof name, "ae", "exp_avg"), 0);
    assert_string_equal(name, "optim.ae.exp_avg");
    char tiny[8];
    assert_int_equal(vq_ckpt_optim_name(tiny, sizeof tiny, "ae", "exp_avg"), VQ_ERR_ARG);
    vq_st_ref t[] = {{"encoder.conv_in.weight", VQ_DT_F32, 1, s4, wv}, {name, VQ_DT_F32, 1, s4, m},
                     {"optim.ae.step", VQ_DT_I64, 1, s1, &optstep}};
    vq_st_meta extra[] = {{"data_position", "4096"}};
    assert_int_equal(vq_ckpt_save(path, t, 3, &info, extra, 1), 0);
    vq_st_meta reserved[] = {{"step", "1"}};
    assert_int_equal(vq_ckpt_save(path, t, 3, &info, reserved, 1), VQ_ERR_ARG);
    assert_error_has("\"step\" is reserved");

    vq_st_file f;
    vq_ckpt_info back;
    uint64_t h = info.model_hash, other = h ^ 1;
    assert_int_equal(vq_ckpt_open(&f, path, &h, &back), 0);
    assert_true(back.step == info.step && back.model_hash == h);
    assert_memory_equal(back.rng.s, info.rng.s, sizeof info.rng.s);
    /* The resumed generator continues the same stream. */
    assert_true(vq_rng_next(&back.rng) == vq_rng_next(&info.rng));
    assert_string_equal(vq_st_meta_get(&f, "format"), "vqc-checkpoint-1");
    assert_string_equal(vq_st_meta_get(&f, "data_position"), "4096");
    const int64_t *os = vq_st_get(&f, "optim.ae.step", NULL, NULL);
    assert_non_null(os);
    assert_int_equal(*os, 17);
    vq_st_close(&f);
    assert_int_equal(vq_ckpt_open(&f, path, &other, &back), VQ_ERR_MISMATCH);
    assert_error_has("checkpoint is for model");

    /* A plain safetensors file is not a checkpoint; malformed reserved keys are named. */
    struct { vq_st_meta meta[4]; size_t n; const char *words; } bad[] = {
        {{{"x", "y"}}, 1, "no \"format\""},
        {{{"format", "vqc-checkpoint-0"}}, 1, "format \"vqc-checkpoint-0\""},
        {{{"format", VQ_CKPT_FORMAT}, {"step", "01"}}, 2, "\"step\" is malformed"},
        {{{"format", VQ_CKPT_FORMAT}, {"step", "1"}, {"rng", "1,2,3,4"}}, 3, "\"rng\" is malformed"},
        {{{"format", VQ_CKPT_FORMAT}, {"step", "1"}, {"rng", "0000000000000000,0000000000000001,000000000000000g,0000000000000003"}}, 3, "\"rng\" is malformed"},
        {{{"format", VQ_CKPT_FORMAT}, {"step", "1"}, {"rng", "0000000000000000,0000000000000001,0000000000000002,0000000000000003"}}, 3, "\"model_hash\" is missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(vq_st_write(path, t, 1, bad[i].meta, bad[i].n), 0);
        assert_int_equal(vq_ckpt_open(&f, path, NULL, &back), VQ_ERR_FORMAT);
        assert_error_has(bad[i].words);
    }
}

/* --- SIGKILL while saving -------------------------------------------------------
 * Version v of the checkpoint: "big" (BIG,) F32 with big[i] = (i * 7 + v * 13) % 1000003,
 * "version" (1,) I64 = v, step = v. Any mixture of two versions fails the check. */
#define BIG (2 << 20) /* 8 MiB of floats: a save takes a while */

static void fill_version(float *big, int64_t v)
{
    for (int64_t i = 0; i < BIG; i++) big[i] = (float)((i * 7 + v * 13) % 1000003);
}

static int save_version(const char *path, float *big, int64_t v)
{
    int64_t sb[] = {BIG}, s1[] = {1};
    vq_st_ref t[] = {{"big", VQ_DT_F32, 1, sb, big}, {"version", VQ_DT_I64, 1, s1, &v}};
    vq_ckpt_info info = {.step = (uint64_t)v, .model_hash = 42};
    vq_rng_seed(&info.rng, (uint64_t)v);
    return vq_ckpt_save(path, t, 2, &info, NULL, 0);
}

/* Loads path and returns its version, failing the test unless it is intact. */
static int64_t check_version(const char *path)
{
    vq_st_file f;
    vq_ckpt_info info;
    if (vq_ckpt_open(&f, path, NULL, &info)) { print_error("%s\n", vq_last_error()); fail(); }
    const int64_t *v = vq_st_get(&f, "version", NULL, NULL);
    const float *big = vq_st_get(&f, "big", NULL, NULL);
    assert_non_null(v); assert_non_null(big);
    assert_int_equal(*v, (int64_t)info.step);
    for (int64_t i = 0; i < BIG; i++)
        if (big[i] != (float)((i * 7 + *v * 13) % 1000003)) {
            print_error("%s: version %lld, big[%lld] = %g is torn\n", path, (long long)*v, (long long)i, big[i]);
            fail();
        }
    int64_t r = *v;
    vq_st_close(&f);
    return r;
}

static void test_kill_during_save(void **state)
{
    (void)state;
    char path[300];
    scratch_path(path, sizeof path, "kill.safetensors");
    float *big = vq_alloc((size_t)BIG * sizeof *big);
    assert_non_null(big);
    fill_version(big, 0);
    assert_int_equal(save_version(path, big, 0), 0);

    vq_rng rng;
    vq_rng_seed(&rng, (uint64_t)time(NULL));
    int64_t last = 0;
    int rounds = 8, caught = 0, advanced = 0;
    /* About half the kills land mid-save; rounds continue (up to 32) until one has. */
    int r;
    for (r = 1; r <= rounds || (!caught && r <= 32); r++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            /* Saves versions 1000r + 1, 1000r + 2, ... until killed. */
            for (int64_t v = 1000 * r + 1;; v++) {
                fill_version(big, v);
                if (save_version(path, big, v)) { fprintf(stderr, "child: %s\n", vq_last_error()); _exit(2); }
            }
        }
        struct timespec ts = {0, (long)(5 + vq_rng_below(&rng, 250)) * 1000000L};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        caught += scratch_count("kill.safetensors.tmp.") > 0;
        int64_t v = check_version(path);
        /* Either the previous version or one this child finished. */
        assert_true(v == last || (v > 1000 * r && v < 1000 * (r + 1)));
        advanced += v != last;
        last = v;
        /* The dead child's temporary file is what the driver would clean up. */
        char tmp[400];
        snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
        unlink(tmp);
    }
    printf("kill test: %d rounds, %d killed mid-save (temp file left), %d with a newer version\n",
           r - 1, caught, advanced);
    /* Otherwise the test would not have exercised what it claims to. */
    assert_true(caught >= 1);
    vq_free(big);
}

/* --- a write that fails ----------------------------------------------------------- */

static void test_write_fails_efbig(void **state)
{
    (void)state;
    char path[300], tmp[400];
    scratch_path(path, sizeof path, "fsize.safetensors");
    float small[16];
    for (int i = 0; i < 16; i++) small[i] = (float)i;
    int64_t s16[] = {16}, sbig[] = {1 << 18};
    vq_st_ref old[] = {{"w", VQ_DT_F32, 1, s16, small}};
    assert_int_equal(vq_st_write(path, old, 1, NULL, 0), 0);
    size_t n_before;
    unsigned char *before = slurp(path, &n_before);
    assert_non_null(before);

    for (int ignore = 1; ignore >= 0; ignore--) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            struct rlimit core = {0, 0}, fsize = {4096, 4096};
            setrlimit(RLIMIT_CORE, &core);
            if (ignore) signal(SIGXFSZ, SIG_IGN);
            if (setrlimit(RLIMIT_FSIZE, &fsize)) _exit(3);
            float *big = calloc(1 << 18, sizeof *big);
            vq_st_ref t[] = {{"w", VQ_DT_F32, 1, sbig, big}};
            int rc = vq_st_write(path, t, 1, NULL, 0);
            char m[1100];
            snprintf(m, sizeof m, "%d %s", rc, vq_last_error());
            if (write(fds[1], m, strlen(m)) < 0) _exit(4);
            snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
            _exit(access(tmp, F_OK) == 0 ? 5 : 0);   /* the temp file must be gone */
        }
        close(fds[1]);
        char msg[1100] = "";
        ssize_t got = read(fds[0], msg, sizeof msg - 1);
        close(fds[0]);
        msg[got > 0 ? got : 0] = '\0';
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (ignore) {
            /* SIGXFSZ ignored: write() returns EFBIG and the error names the path. */
            if (!WIFEXITED(status) || WEXITSTATUS(status)) { print_error("child status %d: %s\n", status, msg); fail(); }
            char want[1400];
            snprintf(want, sizeof want, "%d writing %s: data of %s.tmp.%ld failed: %s", VQ_ERR_IO, path, path,
                     (long)pid, strerror(EFBIG));
            if (strncmp(msg, want, strlen(want))) { print_error("got \"%s\"\nwant \"%s...\"\n", msg, want); fail(); }
        } else {
            /* Default disposition: the kernel kills the writer (what the driver must avoid). */
            assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGXFSZ);
            snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)pid);
            unlink(tmp);
        }
        size_t n_after;
        unsigned char *after = slurp(path, &n_after);
        assert_non_null(after);
        assert_int_equal(n_after, n_before);
        assert_memory_equal(after, before, n_before);
        free(after);
    }
    free(before);

    /* Other failures: a missing directory, a directory in the way. */
    char nodir[400], isdir[300];
    snprintf(nodir, sizeof nodir, "%s/no/such/dir/x.safetensors", scratch);
    assert_int_equal(vq_st_write(nodir, old, 1, NULL, 0), VQ_ERR_IO);
    assert_error_has(nodir);
    assert_error_has(strerror(ENOENT));
    scratch_path(isdir, sizeof isdir, "adir");
    assert_int_equal(mkdir(isdir, 0755), 0);
    assert_int_equal(vq_st_write(isdir, old, 1, NULL, 0), VQ_ERR_IO);
    assert_error_has("rename of");
    assert_int_equal(scratch_count("adir.tmp"), 0);
    rmdir(isdir);
}

static int setup(void **state) { (void)state; return scratch_make(); }
static int teardown(void **state) { (void)state; scratch_remove(); return 0; }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f16_every_pattern),
        cmocka_unit_test(test_bf16_every_pattern),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_numpy_files),
        cmocka_unit_test(test_checkpoint_metadata),
        cmocka_unit_test(test_kill_during_save),
        cmocka_unit_test(test_write_fails_efbig),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
