/* test_lexer.c: the scanner (lexer.l) on its own: token kinds, values and
 * locations, the `//` rule (division after an operand on the same line, a
 * comment anywhere else), and every lexical error with its location; also the
 * UTF-8 decoder and the encoding check that runs before scanning.
 *
 * Expected columns are counted by hand from the input strings (1-based bytes,
 * a tab is one column). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lex.h"
#include "parse.h"
#include "parser.h"
#include "lexer.h"
#include "utf8.h"

enum { MAX_TOKENS = 64 };

typedef struct scan {
    int kind[MAX_TOKENS];
    src_loc loc[MAX_TOKENS];
    YYSTYPE val[MAX_TOKENS];
    int n;
    char *diag_text;
    size_t diag_len;
    int errors;
    ast_arena *a;
} scan;

/* Scans `text` to the end, recording every token (the final 0 included). */
static void scan_text(scan *s, const char *text, size_t len)
{
    memset(s, 0, sizeof *s);
    s->a = ast_arena_new();
    FILE *f = open_memstream(&s->diag_text, &s->diag_len);
    diag_sink d;
    diag_init(&d, f);
    src_file *src = source_from_string(s->a, "t.vq", text, len);
    lex_state ls;
    yyscan_t sc;
    assert_int_equal(lex_open(&sc, &ls, s->a, src, &d, 0), 0);
    for (;;) {
        YYSTYPE v;
        src_loc l;
        memset(&v, 0, sizeof v);
        int k = yylex(&v, &l, sc);
        assert_true(s->n < MAX_TOKENS);
        s->kind[s->n] = k; s->loc[s->n] = l; s->val[s->n] = v; s->n++;
        if (k == 0) break;
    }
    lex_close(sc);
    fclose(f);
    s->errors = d.errors;
}

static void scan_free(scan *s)
{
    free(s->diag_text);
    ast_arena_free(s->a);
}

static void check_loc(const src_loc *l, int l0, int c0, int l1, int c1)
{
    assert_int_equal(l->first_line, l0);
    assert_int_equal(l->first_col, c0);
    assert_int_equal(l->last_line, l1);
    assert_int_equal(l->last_col, c1);
}

static void test_kinds_and_locations(void **state)
{
    (void)state;
    scan s;
    /*          123456789012345 */
    scan_text(&s, "model m;\n\tx = a_1[2];\n", 22);
    int want[] = {MODEL, IDENT, ';', IDENT, '=', IDENT, '[', INT, ']', ';', 0};
    assert_int_equal(s.n, 11);
    for (int i = 0; i < 11; i++) assert_int_equal(s.kind[i], want[i]);
    check_loc(&s.loc[0], 1, 1, 1, 5);     /* model */
    check_loc(&s.loc[1], 1, 7, 1, 7);     /* m */
    check_loc(&s.loc[3], 2, 2, 2, 2);     /* x after a tab: column 2 */
    check_loc(&s.loc[5], 2, 6, 2, 8);     /* a_1 */
    check_loc(&s.loc[7], 2, 10, 2, 10);   /* 2 */
    assert_string_equal(s.val[5].tok.s, "a_1");
    assert_int_equal(s.val[7].tok.i, 2);
    check_loc(&s.loc[10], 3, 1, 3, 0);    /* end of file: after the last newline */
    assert_int_equal(s.errors, 0);
    scan_free(&s);
}

static void test_keywords_and_operators(void **state)
{
    (void)state;
    scan s;
    const char *text = "model import param let block input output return for in if else as true false and or not "
                       "assert models == != <= >= < > + - * / % ? : = , . ( ) { }";
    scan_text(&s, text, strlen(text));
    int want[] = {MODEL, IMPORT, PARAM, LET, BLOCK, INPUT, OUTPUT, RETURN, FOR, IN, IF, ELSE, AS, TRUE,
                  FALSE, AND, OR, NOT, ASSERT, IDENT, EQ, NE, LE, GE, '<', '>', '+', '-', '*', '/', '%',
                  '?', ':', '=', ',', '.', '(', ')', '{', '}', 0};
    int n = (int)(sizeof want / sizeof want[0]);
    assert_int_equal(s.n, n);
    for (int i = 0; i < n; i++) assert_int_equal(s.kind[i], want[i]);
    assert_int_equal(s.errors, 0);
    scan_free(&s);
}

static void test_numbers_and_strings(void **state)
{
    (void)state;
    scan s;
    const char *text = "9223372036854775807 0.5 4.5e-6 1e3 2E+2 \"a\\\"b\\\\c\\nd\\te\" \"\xc3\xa9\"";
    scan_text(&s, text, strlen(text));
    assert_int_equal(s.kind[0], INT);
    assert_true(s.val[0].tok.i == INT64_MAX);
    assert_int_equal(s.kind[1], FLOAT);
    assert_true(s.val[1].tok.f == 0.5);
    assert_string_equal(s.val[2].tok.text, "4.5e-6");     /* spelling kept for dumps */
    assert_true(s.val[2].tok.f == 4.5e-6);
    assert_true(s.val[3].tok.f == 1000.0);
    assert_true(s.val[4].tok.f == 200.0);
    assert_int_equal(s.kind[5], STRING);
    assert_string_equal(s.val[5].tok.s, "a\"b\\c\nd\te");
    assert_string_equal(s.val[6].tok.s, "\xc3\xa9");      /* UTF-8 inside strings is fine */
    assert_int_equal(s.errors, 0);
    scan_free(&s);
}

static void test_double_slash(void **state)
{
    (void)state;
    scan s;
    /* after an operand on the same line: division; after ';', '(' or at a line start: comment */
    const char *text = "a // 2; // note\nf(x) // y\n// whole line\n[1] //\nb";
    scan_text(&s, text, strlen(text));
    int want[] = {IDENT, IDIV, INT, ';', IDENT, '(', IDENT, ')', IDIV, IDENT, '[', INT, ']', IDIV, IDENT, 0};
    int n = (int)(sizeof want / sizeof want[0]);
    assert_int_equal(s.n, n);
    for (int i = 0; i < n; i++) assert_int_equal(s.kind[i], want[i]);
    check_loc(&s.loc[1], 1, 3, 1, 4);
    check_loc(&s.loc[2], 1, 6, 1, 6);     /* scanning resumed right after the two slashes */
    check_loc(&s.loc[14], 5, 1, 5, 1);
    scan_free(&s);

    scan_text(&s, "x;\n// a\n/* b\nc */ y", 19);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.kind[2], IDENT);
    check_loc(&s.loc[2], 4, 6, 4, 6);     /* columns and lines counted through comments */
    scan_free(&s);
}

/* Scans text that has exactly one lexical error; checks the message and location. */
static void check_error(const char *text, const char *message, int line, int col)
{
    scan s;
    scan_text(&s, text, strlen(text));
    char head[64];
    snprintf(head, sizeof head, "t.vq:%d:%d: error: ", line, col);
    if (s.errors != 1 || !s.diag_text || strncmp(s.diag_text, head, strlen(head)) != 0 ||
        !strstr(s.diag_text, message))
        fail_msg("input %s: got %d errors:\n%s\nwanted %s%s", text, s.errors, s.diag_text ? s.diag_text : "",
                 head, message);
    scan_free(&s);
}

static void test_lexical_errors(void **state)
{
    (void)state;
    check_error("a /* open\n\n", "unterminated comment: this '/*' has no matching '*/'", 1, 3);
    check_error("x = \"abc\ny", "unterminated string", 1, 5);
    check_error("x = \"ab\\", "unterminated string", 1, 5);
    check_error("\"a\\qb\"", "invalid escape '\\q' in string", 1, 3);
    check_error("\"\\\xc3\xa9\"", "invalid escape '\\\xc3\xa9' in string", 1, 2);
    check_error("\"a\x01\"", "control character 0x01 in string", 1, 3);
    check_error("  9223372036854775808", "integer literal 9223372036854775808 does not fit in 64 bits", 1, 3);
    check_error("1e999", "number 1e999 is too large for a float", 1, 1);
    check_error("x = 1e;", "malformed number '1e': the exponent has no digits", 1, 5);
    check_error("2.5E+", "malformed number '2.5E+'", 1, 1);
    check_error("0x10", "malformed number '0x10' (numbers are decimal", 1, 1);
    check_error("a @ b", "unexpected character '@'", 1, 3);
    check_error("a\x7f", "unexpected byte 0x7F", 1, 2);
    check_error("\tcaf\xc3\xa9", "non-ASCII character U+00E9 '\xc3\xa9' outside a string or comment", 1, 5);
    check_error("a && b", "'&&' is not an operator; write 'and'", 1, 3);
    check_error("a || b", "'||' is not an operator; write 'or'", 1, 3);
    check_error("!a", "'!' is not an operator; write 'not'", 1, 1);
}

static void test_error_tokens_keep_scanning(void **state)
{
    (void)state;
    scan s;
    scan_text(&s, "a && b 0x1 c", 12);
    int want[] = {IDENT, AND, IDENT, INT, IDENT, 0};
    assert_int_equal(s.n, 6);
    for (int i = 0; i < 6; i++) assert_int_equal(s.kind[i], want[i]);
    assert_int_equal(s.errors, 2);
    scan_free(&s);
}

static void test_utf8_decode(void **state)
{
    (void)state;
    uint32_t cp;
    utf8_error e;
    assert_int_equal(utf8_decode((const unsigned char *)"A", 1, &cp, &e), 1);
    assert_int_equal(cp, 'A');
    assert_int_equal(utf8_decode((const unsigned char *)"\xc3\xa9", 2, &cp, &e), 2);
    assert_int_equal(cp, 0xE9);
    assert_int_equal(utf8_decode((const unsigned char *)"\xe2\x82\xac", 3, &cp, &e), 3);
    assert_int_equal(cp, 0x20AC);
    assert_int_equal(utf8_decode((const unsigned char *)"\xf0\x9f\x98\x80", 4, &cp, &e), 4);
    assert_int_equal(cp, 0x1F600);
    assert_int_equal(utf8_decode((const unsigned char *)"\xf4\x8f\xbf\xbf", 4, &cp, &e), 4);
    assert_int_equal(cp, 0x10FFFF);
    struct { const char *bytes; int n; utf8_error want; } bad[] = {
        {"\x80", 1, UTF8_BAD_LEAD}, {"\xff", 1, UTF8_BAD_LEAD}, {"\xf5\x80\x80\x80", 4, UTF8_BAD_LEAD},
        {"\xc0\xaf", 2, UTF8_OVERLONG}, {"\xc1\xbf", 2, UTF8_OVERLONG}, {"\xe0\x80\xaf", 3, UTF8_OVERLONG},
        {"\xf0\x80\x80\xaf", 4, UTF8_OVERLONG}, {"\xed\xa0\x80", 3, UTF8_SURROGATE},
        {"\xed\xbf\xbf", 3, UTF8_SURROGATE}, {"\xf4\x90\x80\x80", 4, UTF8_TOO_BIG},
        {"\xe2\x82", 2, UTF8_TRUNCATED}, {"\xe2\x82x", 3, UTF8_TRUNCATED}, {"\xc3", 1, UTF8_TRUNCATED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        e = UTF8_OK;
        assert_int_equal(utf8_decode((const unsigned char *)bad[i].bytes, (size_t)bad[i].n, &cp, &e), 0);
        assert_int_equal(e, bad[i].want);
    }
}

static int encoding_errors(const char *text, size_t n, char **out)
{
    ast_arena *a = ast_arena_new();
    size_t len;
    FILE *f = open_memstream(out, &len);
    diag_sink d;
    diag_init(&d, f);
    int count = source_check_encoding(source_from_string(a, "t.vq", text, n), &d);
    fclose(f);
    ast_arena_free(a);
    return count;
}

static void test_encoding_check(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(encoding_errors("a \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\n", 14, &out), 0);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(encoding_errors("ab\0c\n", 5, &out), 1);
    assert_non_null(strstr(out, "t.vq:1:3: error: NUL byte in source"));
    free(out);
    /* two bad bytes on line 1 (both counted, one reported), one on line 2 */
    assert_int_equal(encoding_errors("\xff\xfe\nx\xed\xa0\x80", 7, &out), 5);
    assert_non_null(strstr(out, "t.vq:1:1: error: invalid UTF-8 (invalid byte, byte 0xFF)"));
    assert_non_null(strstr(out, "t.vq:2:2: error: invalid UTF-8 (encoded surrogate, byte 0xED)"));
    assert_null(strstr(out, "0xFE"));
    free(out);
    assert_int_equal(encoding_errors("x\xe2\x82", 3, &out), 2);   /* truncated at end of buffer */
    assert_non_null(strstr(out, "t.vq:1:2: error: invalid UTF-8 (truncated sequence"));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds_and_locations),
        cmocka_unit_test(test_keywords_and_operators),
        cmocka_unit_test(test_numbers_and_strings),
        cmocka_unit_test(test_double_slash),
        cmocka_unit_test(test_lexical_errors),
        cmocka_unit_test(test_error_tokens_keep_scanning),
        cmocka_unit_test(test_utf8_decode),
        cmocka_unit_test(test_encoding_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
