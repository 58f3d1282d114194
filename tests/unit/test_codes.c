/* test_codes.c: the CODES reader and writer (runtime/codes.h).
 *
 * Every file here is written by hand in the test, with the indices it holds
 * spelled out, so expected values never come from the code under test. Bad
 * files each break one rule, and the test checks the status, the file:line
 * and the reason in the message. Tables: "toy" is one 2x3 codebook with K=5;
 * "two" adds a 1x2 codebook "b" with K=3 (two blocks, in order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include "codes.h"
#include "vq_common.h"

static const vq_codebook_desc toy[] = {{.name = "quantize", .K = 5, .D = 2, .grid_h = 2, .grid_w = 3}};
static const vq_codebook_desc two[] = {{.name = "quantize", .K = 5, .D = 2, .grid_h = 2, .grid_w = 3},
                                       {.name = "b", .K = 3, .D = 2, .grid_h = 1, .grid_w = 2}};
static char dir[] = "/tmp/vq_test_codes_XXXXXX";
static char path[300];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir)) return -1;
    snprintf(path, sizeof path, "%s/c.codes", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    return rmdir(dir);
}

static void put(const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void assert_msg(const char *needle)
{
    if (!strstr(vq_last_error(), needle)) {
        print_error("message \"%s\" lacks \"%s\"\n", vq_last_error(), needle);
        fail();
    }
}

static int32_t a[6], b[2];
static int32_t *idx[2] = {a, b};

static int read_text(const char *text, const vq_codebook_desc *cbs, int n)
{
    put(text, strlen(text));
    memset(a, 0x7f, sizeof a);
    memset(b, 0x7f, sizeof b);
    return vq_codes_read(idx, path, "toy_vq", cbs, n);
}

static void test_good_files(void **state)
{
    (void)state;
    assert_int_equal(read_text("codebook quantize 2 3 5\n0 1 2\n3 4 0\n", toy, 1), VQ_OK);
    const int32_t want[6] = {0, 1, 2, 3, 4, 0};
    assert_memory_equal(a, want, sizeof want);

    /* CRLF, blank lines, tabs, leading/trailing blanks, no final newline: same indices. */
    assert_int_equal(read_text("\r\n  codebook\tquantize 2 3 5  \r\n\n\t0 1\t2 \r\n\n3 4 0", toy, 1), VQ_OK);
    assert_memory_equal(a, want, sizeof want);

    assert_int_equal(read_text("codebook quantize 2 3 5\n4 4 4\n4 4 4\ncodebook b 1 2 3\n2 0\n", two, 2), VQ_OK);
    const int32_t want_a[6] = {4, 4, 4, 4, 4, 4}, want_b[2] = {2, 0};
    assert_memory_equal(a, want_a, sizeof want_a);
    assert_memory_equal(b, want_b, sizeof want_b);
}

static const struct bad {
    const char *text;
    int status;
    const char *msg;   /* expected in the message, after "c.codes:" */
} bad[] = {
    {"", VQ_ERR_FORMAT, "c.codes:1: file ends before codebook quantize"},
    {"\n\n", VQ_ERR_FORMAT, "c.codes:3: file ends before codebook quantize"},
    {"codebook quantize 2 3\n", VQ_ERR_FORMAT, "c.codes:1: expected 'codebook quantize 2 3 5', got 'codebook quantize 2 3'"},
    {"codebook quantize 2 3 5 6\n", VQ_ERR_FORMAT, "c.codes:1: expected 'codebook"},
    {"codebooks quantize 2 3 5\n", VQ_ERR_FORMAT, "c.codes:1: expected 'codebook"},
    {"codebook quantize 2 3 5x\n", VQ_ERR_FORMAT, "c.codes:1: expected 'codebook"},
    {"codebook quantise 2 3 5\n", VQ_ERR_MISMATCH, "c.codes:1: codebook 'quantise', model toy_vq expects 'quantize' here"},
    {"codebook quantize 3 2 5\n", VQ_ERR_MISMATCH,
     "c.codes:1: codebook quantize is 3x2 with K=5, model toy_vq expects 2x3 with K=5"},
    {"codebook quantize 2 3 6\n", VQ_ERR_MISMATCH, "is 2x3 with K=6, model toy_vq expects 2x3 with K=5"},
    {"codebook quantize 2 3 99999999999999999999999\n", VQ_ERR_MISMATCH, "with K=99999999999999999999"},
    {"codebook quantize 2 3 5\n0 1 2\n", VQ_ERR_FORMAT, "c.codes:3: file ends after 1 of 2 rows of codebook quantize"},
    {"codebook quantize 2 3 5\n0 1\n3 4 0\n", VQ_ERR_FORMAT, "c.codes:2: row 0 of codebook quantize has 2 indices, expected 3"},
    {"codebook quantize 2 3 5\n0 1 2\n3 4 0 1\n", VQ_ERR_FORMAT, "c.codes:3: more than 3 indices in row 1 of codebook quantize"},
    {"codebook quantize 2 3 5\n0 1 2\n3 4 5\n", VQ_ERR_MISMATCH, "c.codes:3: index 5 (column 2) out of range [0, 5) of codebook quantize"},
    {"codebook quantize 2 3 5\n0 -1 2\n3 4 0\n", VQ_ERR_MISMATCH, "c.codes:2: index -1 (column 1) out of range [0, 5)"},
    {"codebook quantize 2 3 5\n0 1 2\n3 4 4294967296\n", VQ_ERR_MISMATCH, "c.codes:3: index 4294967296 (column 2) out of range"},
    {"codebook quantize 2 3 5\n0 1 2\n3 4 1e0\n", VQ_ERR_FORMAT, "c.codes:3: malformed index '1e0' (column 2) in row 1"},
    {"codebook quantize 2 3 5\n0 1 2\n3 4 -\n", VQ_ERR_FORMAT, "c.codes:3: malformed index '-' (column 2)"},
    {"codebook quantize 2 3 5\n0,1,2\n3 4 0\n", VQ_ERR_FORMAT, "c.codes:2: malformed index '0,1,2' (column 0)"},
    {"codebook quantize 2 3 5\n0 1 2\n3 4 0\ncodebook b 1 2 3\n0 0\n", VQ_ERR_FORMAT,
     "c.codes:4: unexpected text after the last codebook"},
};

static void test_bad_files(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = read_text(bad[i].text, toy, 1);
        if (rc != bad[i].status || !strstr(vq_last_error(), bad[i].msg)) {
            print_error("case %zu: status %d (want %d), message \"%s\" lacks \"%s\"\n", i, rc, bad[i].status,
                        vq_last_error(), bad[i].msg);
            fail();
        }
    }
}

static void test_bad_two_codebooks(void **state)
{
    (void)state;
    /* The second block in the wrong place, too small, or missing. */
    assert_int_equal(read_text("codebook b 1 2 3\n0 0\ncodebook quantize 2 3 5\n0 0 0\n0 0 0\n", two, 2),
                     VQ_ERR_MISMATCH);
    assert_msg("c.codes:1: codebook 'b', model toy_vq expects 'quantize' here");
    assert_int_equal(read_text("codebook quantize 2 3 5\n0 0 0\n0 0 0\ncodebook b 1 2 3\n0 3\n", two, 2),
                     VQ_ERR_MISMATCH);
    assert_msg("c.codes:5: index 3 (column 1) out of range [0, 3) of codebook b");
    assert_int_equal(read_text("codebook quantize 2 3 5\n0 0 0\n0 0 0\n", two, 2), VQ_ERR_FORMAT);
    assert_msg("c.codes:4: file ends before codebook b");
}

static void test_nul_and_missing(void **state)
{
    (void)state;
    /* A NUL would hide the rest of its line from a C-string parser. */
    static const char nul[] = "codebook quantize 2 3 5\n0 1 2\0 9 9 9\n3 4 0\n";
    put(nul, sizeof nul - 1);
    assert_int_equal(vq_codes_read(idx, path, "toy_vq", toy, 1), VQ_ERR_FORMAT);
    assert_msg("c.codes:2: NUL byte");

    assert_int_equal(vq_codes_read(idx, "/nonexistent/x.codes", "toy_vq", toy, 1), VQ_ERR_IO);
    assert_msg("/nonexistent/x.codes: cannot open");
}

static void test_write_round_trip(void **state)
{
    (void)state;
    int32_t wa[6] = {4, 0, 3, 1, 2, 4}, wb[2] = {1, 2};
    const int32_t *w[2] = {wa, wb};
    assert_int_equal(vq_codes_write(path, w, two, 2), VQ_OK);
    /* The exact bytes of the format (codes.h), written out by hand. */
    static const char want[] = "codebook quantize 2 3 5\n4 0 3\n1 2 4\ncodebook b 1 2 3\n1 2\n";
    char got[256] = {0};
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(got, 1, sizeof got - 1, f);
    fclose(f);
    assert_int_equal(n, sizeof want - 1);
    assert_string_equal(got, want);
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    assert_int_equal(vq_codes_read(idx, path, "toy_vq", two, 2), VQ_OK);
    assert_memory_equal(a, wa, sizeof wa);
    assert_memory_equal(b, wb, sizeof wb);

    /* The writer refuses what the reader would refuse. */
    wb[1] = 3;
    assert_int_equal(vq_codes_write(path, w, two, 2), VQ_ERR_ARG);
    assert_msg("index 3 at (0, 1) of codebook b is outside [0, 3)");
}

/* A write that hits the file size limit (ulimit -f: EFBIG, SIGXFSZ ignored)
 * is reported, naming the file; run in a child so the limit stays there. */
static void test_write_failure(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {10, 10};
        if (setrlimit(RLIMIT_FSIZE, &rl)) _exit(3);
        int32_t wa[6] = {0}, wb[2] = {0};
        const int32_t *w[2] = {wa, wb};
        int rc = vq_codes_write(path, w, two, 2);
        _exit(rc == VQ_ERR_IO && strstr(vq_last_error(), "c.codes: write failed") ? 0 : 1);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_files),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_bad_two_codebooks),
        cmocka_unit_test(test_nul_and_missing),
        cmocka_unit_test(test_write_round_trip),
        cmocka_unit_test(test_write_failure),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
