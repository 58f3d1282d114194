/* test_diag.c: the diagnostics format (diag.h): header, excerpt and underline,
 * notes, carets at the start and past the end of a line, spans over several
 * lines, tabs and multi-byte characters in the line, command-line errors, the
 * max_errors cutoff, and diag_closest.
 *
 * Every expected text is written out by hand from the format in diag.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "parse.h"

typedef struct capture { char *buf; size_t len; FILE *f; diag_sink d; ast_arena *a; } capture;

static void cap_open(capture *c)
{
    memset(c, 0, sizeof *c);
    c->f = open_memstream(&c->buf, &c->len);
    diag_init(&c->d, c->f);
    c->a = ast_arena_new();
}

static const char *cap_text(capture *c) { fflush(c->f); return c->buf; }

static void cap_close(capture *c)
{
    fclose(c->f);
    free(c->buf);
    ast_arena_free(c->a);
}

static src_loc span(const src_file *f, int l0, int c0, int l1, int c1)
{
    src_loc l = { f, l0, c0, l1, c1 };
    return l;
}

static void test_error_with_excerpt(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    const char *text = "model m;\n    h = conv3d(x, out=64) as c;\n";
    src_file *f = source_from_string(c.a, "model.vq", text, strlen(text));
    diag_error(&c.d, span(f, 2, 9, 2, 14), "unknown op '%s'; did you mean '%s'?", "conv3d", "conv2d");
    assert_string_equal(cap_text(&c),
                        "model.vq:2:9: error: unknown op 'conv3d'; did you mean 'conv2d'?\n"
                        "    2 |     h = conv3d(x, out=64) as c;\n"
                        "      |         ^~~~~~\n");
    assert_int_equal(c.d.errors, 1);
    cap_close(&c);
}

static void test_note_and_warning(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    const char *text = "let a = 1;\nlet a = 2;\n";
    src_file *f = source_from_string(c.a, "x.vq", text, strlen(text));
    diag_error(&c.d, span(f, 2, 5, 2, 5), "'a' is defined twice");
    diag_note(&c.d, span(f, 1, 5, 1, 5), "previous definition is here");
    diag_warning(&c.d, span(f, 1, 9, 1, 9), "unused");
    assert_string_equal(cap_text(&c),
                        "x.vq:2:5: error: 'a' is defined twice\n"
                        "    2 | let a = 2;\n"
                        "      |     ^\n"
                        "x.vq:1:5: note: previous definition is here\n"
                        "    1 | let a = 1;\n"
                        "      |     ^\n"
                        "x.vq:1:9: warning: unused\n"
                        "    1 | let a = 1;\n"
                        "      |         ^\n");
    assert_int_equal(c.d.errors, 1);
    assert_int_equal(c.d.warnings, 1);
    cap_close(&c);
}

static void test_caret_at_line_start_and_past_end(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    const char *text = "abc\n";
    src_file *f = source_from_string(c.a, "t.vq", text, strlen(text));
    diag_error(&c.d, span(f, 1, 1, 1, 1), "start");
    diag_error(&c.d, span(f, 1, 4, 1, 3), "just past the end");       /* zero-width, after 'c' */
    diag_error(&c.d, span(f, 2, 1, 2, 0), "on the empty last line");
    assert_string_equal(cap_text(&c),
                        "t.vq:1:1: error: start\n"
                        "    1 | abc\n"
                        "      | ^\n"
                        "t.vq:1:4: error: just past the end\n"
                        "    1 | abc\n"
                        "      |    ^\n"
                        "t.vq:2:1: error: on the empty last line\n"
                        "    2 |\n"
                        "      | ^\n");
    cap_close(&c);
}

static void test_span_over_lines_underlines_to_end_of_line(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    const char *text = "x = f(a,\n      b);\n";
    src_file *f = source_from_string(c.a, "t.vq", text, strlen(text));
    diag_error(&c.d, span(f, 1, 5, 2, 8), "call spans lines");
    assert_string_equal(cap_text(&c),
                        "t.vq:1:5: error: call spans lines\n"
                        "    1 | x = f(a,\n"
                        "      |     ^~~~\n");
    cap_close(&c);
}

static void test_tabs_are_mirrored(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    const char *text = "\tx =\tyy;\n";
    src_file *f = source_from_string(c.a, "t.vq", text, strlen(text));
    diag_error(&c.d, span(f, 1, 6, 1, 7), "tab");     /* "yy": columns 6..7 */
    assert_string_equal(cap_text(&c),
                        "t.vq:1:6: error: tab\n"
                        "    1 | \tx =\tyy;\n"
                        "      | \t   \t^~\n");
    cap_close(&c);
}

static void test_multibyte_and_invalid_bytes(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    /* "é" is 2 bytes (columns 2..3) but one character on screen: one space under it. */
    const char *text = "\"\xc3\xa9\" \xff x\r\n";
    src_file *f = source_from_string(c.a, "t.vq", text, strlen(text));
    diag_error(&c.d, span(f, 1, 8, 1, 8), "x");
    assert_string_equal(cap_text(&c),
                        "t.vq:1:8: error: x\n"
                        "    1 | \"\xc3\xa9\" ? x\n"
                        "      |       ^\n");
    cap_close(&c);
}

static void test_no_file_and_no_line(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    src_loc none = {0};
    diag_error(&c.d, none, "-D %s: expected NAME=VALUE", "foo");
    src_file *f = source_from_string(c.a, "lib.vq", "", 0);
    src_loc file_only = { f, 0, 0, 0, 0 };
    diag_error(&c.d, file_only, "cannot open");
    assert_string_equal(cap_text(&c), "vqc: error: -D foo: expected NAME=VALUE\nlib.vq: error: cannot open\n");
    cap_close(&c);
}

static void test_wide_line_numbers(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    size_t n = 123456;
    char *text = malloc(n + 2);
    memset(text, '\n', n);
    memcpy(text + n - 1, "ab", 2);                    /* line 123456 is "ab" */
    text[n + 1] = '\0';
    src_file *f = source_from_string(c.a, "big.vq", text, n + 1);
    diag_error(&c.d, span(f, 123456, 2, 123456, 2), "deep");
    assert_string_equal(cap_text(&c),
                        "big.vq:123456:2: error: deep\n"
                        "123456 | ab\n"
                        "       |  ^\n");
    free(text);
    cap_close(&c);
}

static void test_max_errors_cutoff(void **state)
{
    (void)state;
    capture c;
    cap_open(&c);
    c.d.max_errors = 2;
    src_loc none = {0};
    diag_error(&c.d, none, "one");
    diag_error(&c.d, none, "two");
    assert_false(diag_stopped(&c.d));
    diag_error(&c.d, none, "three");
    diag_note(&c.d, none, "note of three");
    diag_error(&c.d, none, "four");
    assert_true(diag_stopped(&c.d));
    assert_int_equal(c.d.errors, 4);
    assert_string_equal(cap_text(&c),
                        "vqc: error: one\nvqc: error: two\n"
                        "vqc: error: too many errors (more than 2); stopping\n");
    cap_close(&c);
}

static void test_closest(void **state)
{
    (void)state;
    const char *const ops[] = {"conv2d", "conv_transpose2d", "relu", "group_norm", NULL};
    assert_string_equal(diag_closest("conv3d", ops), "conv2d");
    assert_null(diag_closest("rleu", ops));                             /* 2 edits, len 4: limit 1 */
    assert_string_equal(diag_closest("reluu", ops), "relu");            /* 1 edit */
    assert_string_equal(diag_closest("groupnorm", ops), "group_norm");
    assert_null(diag_closest("xyz", ops));
    assert_null(diag_closest("softmax", ops));
    const char *const ab[] = {"ab", "ac", NULL};
    assert_string_equal(diag_closest("aa", ab), "ab");                  /* tie: the first one */
    const char *const len[] = {"length", NULL};
    assert_string_equal(diag_closest("lenght", len), "length");         /* 2 edits, limit 6/3 = 2 */
    assert_null(diag_closest("lngtx_", len));                           /* +e, x->h, -_: 3 edits > 2 */
    assert_null(diag_closest("x", NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_with_excerpt),
        cmocka_unit_test(test_note_and_warning),
        cmocka_unit_test(test_caret_at_line_start_and_past_end),
        cmocka_unit_test(test_span_over_lines_underlines_to_end_of_line),
        cmocka_unit_test(test_tabs_are_mirrored),
        cmocka_unit_test(test_multibyte_and_invalid_bytes),
        cmocka_unit_test(test_no_file_and_no_line),
        cmocka_unit_test(test_wide_line_numbers),
        cmocka_unit_test(test_max_errors_cutoff),
        cmocka_unit_test(test_closest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
