/* test_parser.c: the grammar (parser.y) through parse_source and
 * parse_expr_source: the tree of each construct, operator precedence and
 * associativity, error recovery that reports several errors in one run, the
 * max_errors stop, the empty file, and a seeded fuzz smoke test (random and
 * mutated inputs must never crash; a tree comes back exactly when no error was
 * reported).
 *
 * Expected trees are written by hand from docs/language.md's grammar. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "vq_common.h"

typedef struct run { ast_arena *a; diag_sink d; FILE *f; char *out; size_t len; } run;

static ast_file *parse(run *r, const char *text)
{
    memset(r, 0, sizeof *r);
    r->a = ast_arena_new();
    r->f = open_memstream(&r->out, &r->len);
    diag_init(&r->d, r->f);
    src_file *src = source_from_string(r->a, "t.vq", text, strlen(text));
    ast_file *file = parse_source(r->a, src, &r->d);
    fflush(r->f);
    return file;
}

static ast_expr *parse_expr(run *r, const char *text)
{
    memset(r, 0, sizeof *r);
    r->a = ast_arena_new();
    r->f = open_memstream(&r->out, &r->len);
    diag_init(&r->d, r->f);
    src_file *src = source_from_string(r->a, "<command line>", text, strlen(text));
    ast_expr *e = parse_expr_source(r->a, src, &r->d);
    fflush(r->f);
    return e;
}

static void done(run *r)
{
    fclose(r->f);
    free(r->out);
    ast_arena_free(r->a);
}

/* A fully parenthesized rendering of an expression, to check the tree's shape. */
static void show(const ast_expr *e, char *buf, size_t n)
{
    static const char *const ops[] = {"+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or"};
    char a[256], b[256], c[256];
    switch (e->kind) {
    case EXPR_INT: case EXPR_FLOAT: snprintf(buf, n, "%s", e->text); break;
    case EXPR_STRING: snprintf(buf, n, "\"%s\"", e->s); break;
    case EXPR_BOOL: snprintf(buf, n, "%s", e->b ? "true" : "false"); break;
    case EXPR_NAME: snprintf(buf, n, "%s", e->s); break;
    case EXPR_UNARY: show(e->lhs, a, sizeof a); snprintf(buf, n, "(%s %s)", e->op == 'n' ? "not" : "-", a); break;
    case EXPR_BINARY:
        show(e->lhs, a, sizeof a); show(e->rhs, b, sizeof b);
        snprintf(buf, n, "(%s %s %s)", a, ops[e->op], b);
        break;
    case EXPR_COND:
        show(e->cond, a, sizeof a); show(e->lhs, b, sizeof b); show(e->rhs, c, sizeof c);
        snprintf(buf, n, "(%s ? %s : %s)", a, b, c);
        break;
    case EXPR_INDEX: show(e->lhs, a, sizeof a); show(e->rhs, b, sizeof b); snprintf(buf, n, "%s[%s]", a, b); break;
    case EXPR_MEMBER: show(e->lhs, a, sizeof a); snprintf(buf, n, "%s.%s", a, e->s); break;
    case EXPR_LIST: {
        size_t used = (size_t)snprintf(buf, n, "[");
        for (const ast_expr *i = e->items; i; i = i->next) {
            show(i, a, sizeof a);
            used += (size_t)snprintf(buf + used, n - used, "%s%s", a, i->next ? ", " : "");
        }
        snprintf(buf + used, n - used, "]");
        break;
    }
    case EXPR_CALL: {
        show(e->lhs, a, sizeof a);
        size_t used = (size_t)snprintf(buf, n, "%s(", a);
        for (const ast_arg *g = e->args; g; g = g->next) {
            show(g->value, b, sizeof b);
            used += (size_t)snprintf(buf + used, n - used, "%s%s%s%s", g->name ? g->name : "", g->name ? "=" : "",
                                     b, g->next ? ", " : "");
        }
        snprintf(buf + used, n - used, ")");
        break;
    }
    case EXPR_AS: {
        show(e->lhs, a, sizeof a);
        size_t used = (size_t)snprintf(buf, n, "(%s as ", a);
        for (const ast_path_seg *s = e->path->first; s; s = s->next) {
            if (s->name) used += (size_t)snprintf(buf + used, n - used, "%s%s", s == e->path->first ? "" : ".", s->name);
            else { show(s->index, b, sizeof b); used += (size_t)snprintf(buf + used, n - used, "[%s]", b); }
        }
        snprintf(buf + used, n - used, ")");
        break;
    }
    }
}

static void check_expr(const char *text, const char *want)
{
    run r;
    ast_expr *e = parse_expr(&r, text);
    if (!e) fail_msg("%s: did not parse:\n%s", text, r.out);
    char got[1024];
    show(e, got, sizeof got);
    if (strcmp(got, want) != 0) fail_msg("%s: got %s, want %s", text, got, want);
    done(&r);
}

static void test_precedence(void **state)
{
    (void)state;
    check_expr("1 + 2 * 3", "(1 + (2 * 3))");
    check_expr("1 - 2 - 3", "((1 - 2) - 3)");
    check_expr("a // 2 % 3 * 4", "(((a // 2) % 3) * 4)");
    check_expr("-a * b", "((- a) * b)");
    check_expr("- - a", "(- (- a))");
    check_expr("a + b == c * d", "((a + b) == (c * d))");
    check_expr("not a == b and c or d", "(((not (a == b)) and c) or d)");
    check_expr("a or b and c", "(a or (b and c))");
    check_expr("c ? 1 : d ? 2 : 3", "(c ? 1 : (d ? 2 : 3))");
    check_expr("a < b ? x + 1 : y", "((a < b) ? (x + 1) : y)");
    check_expr("f(x)[1].w", "f(x)[1].w");
    check_expr("f(x, out=2 * c)", "f(x, out=(2 * c))");
    check_expr("a + f(x) as p.q", "(a + (f(x) as p.q))");
    check_expr("g(h) as down[i + 1].block.0", "(g(h) as down[(i + 1)].block[0])");
    check_expr("g(h) as d.0.1", "(g(h) as d[0][1])");
    check_expr("[1, [2.5, \"s\"], true, []]", "[1, [2.5, \"s\"], true, []]");
    check_expr("(1 + 2) * 3", "((1 + 2) * 3)");
    check_expr("in(ch_mult, 2)", "in(ch_mult, 2)");
    check_expr("decoder.conv_out.weight", "decoder.conv_out.weight");
}

static void test_items(void **state)
{
    (void)state;
    run r;
    ast_file *f = parse(&r, "model tiny;\nimport \"lib/t.vq\";\nparam n: list<int> = [1];\nlet k = n;\n"
                            "block B(x: tensor, out: int = 4) { return x; }\ncodebook q { dim = 4; }\nloss { }\n");
    assert_non_null(f);
    ast_item *it = f->items;
    assert_int_equal(it->kind, ITEM_MODEL);
    assert_string_equal(it->name, "tiny");
    assert_int_equal(it->name_loc.first_col, 7);
    it = it->next;
    assert_int_equal(it->kind, ITEM_IMPORT);
    assert_string_equal(it->path, "lib/t.vq");
    it = it->next;
    assert_int_equal(it->kind, ITEM_PARAM);
    assert_int_equal(it->type->kind, TY_LIST);
    assert_int_equal(it->type->elem->kind, TY_INT);
    assert_int_equal(it->value->kind, EXPR_LIST);
    assert_int_equal(it->loc.first_line, 3);
    assert_int_equal(it->loc.last_col, 25);              /* the item's span ends at its ';' */
    it = it->next;
    assert_int_equal(it->kind, ITEM_LET);
    it = it->next;
    assert_int_equal(it->kind, ITEM_BLOCK);
    assert_string_equal(it->formals->name, "x");
    assert_int_equal(it->formals->type->kind, TY_TENSOR);
    assert_null(it->formals->dflt);
    assert_int_equal(it->formals->next->dflt->i, 4);
    assert_int_equal(it->body->kind, STMT_RETURN);
    it = it->next;
    assert_int_equal(it->kind, ITEM_SECTION);
    assert_string_equal(it->section, "codebook");
    assert_string_equal(it->name, "q");
    assert_int_equal(it->body->kind, STMT_ASSIGN);
    it = it->next;
    assert_string_equal(it->section, "loss");
    assert_null(it->name);
    assert_null(it->body);
    assert_null(it->next);
    assert_int_equal(r.d.errors, 0);
    done(&r);
}

static void test_statements(void **state)
{
    (void)state;
    run r;
    ast_file *f = parse(&r, "encoder {\n input x, y;\n a, b = s(x);\n let k = 2;\n for i, m in l { f(i); }\n"
                            " if a { } else if b { } else { output a, b; }\n assert k > 1, \"why\";\n}\n");
    assert_non_null(f);
    ast_stmt *s = f->items->body;
    assert_int_equal(s->kind, STMT_INPUT);
    assert_string_equal(s->names->name, "x");
    assert_string_equal(s->names->next->name, "y");
    s = s->next;
    assert_int_equal(s->kind, STMT_ASSIGN);
    assert_string_equal(s->names->next->name, "b");
    assert_int_equal(s->value->kind, EXPR_CALL);
    s = s->next;
    assert_int_equal(s->kind, STMT_LET);
    s = s->next;
    assert_int_equal(s->kind, STMT_FOR);
    assert_string_equal(s->names->name, "i");
    assert_string_equal(s->names->next->name, "m");
    assert_int_equal(s->body->kind, STMT_EXPR);
    s = s->next;
    assert_int_equal(s->kind, STMT_IF);
    assert_null(s->body);
    assert_int_equal(s->else_body->kind, STMT_IF);                    /* else if: one nested IF */
    assert_int_equal(s->else_body->else_body->kind, STMT_OUTPUT);
    assert_string_equal(s->else_body->else_body->value->next->s, "b");
    s = s->next;
    assert_int_equal(s->kind, STMT_ASSERT);
    assert_string_equal(s->message, "why");
    assert_null(s->next);
    done(&r);
}

static void test_recovery_reports_several_errors(void **state)
{
    (void)state;
    run r;
    ast_file *f = parse(&r, "model m;\nencoder {\n  a = ;\n  b = 1;\n  c = (2;\n  d = 3;\n}\nparam p: int = ;\n"
                            "decoder { e = f(,); }\n");
    assert_null(f);
    assert_int_equal(r.d.errors, 4);
    assert_non_null(strstr(r.out, "t.vq:3:7: error: expected expression, found ';'"));
    assert_non_null(strstr(r.out, "t.vq:5:9: error: expected ')', found ';'"));
    assert_non_null(strstr(r.out, "t.vq:8:16: error: expected expression, found ';'"));
    assert_non_null(strstr(r.out, "t.vq:9:17: error: expected expression or ')', found ','"));
    done(&r);
}

static void test_max_errors_stops(void **state)
{
    (void)state;
    char text[4096] = "encoder {\n";
    for (int i = 0; i < 50; i++) strcat(text, " x = ;\n");
    strcat(text, "}\n");
    run r;
    memset(&r, 0, sizeof r);
    r.a = ast_arena_new();
    r.f = open_memstream(&r.out, &r.len);
    diag_init(&r.d, r.f);
    r.d.max_errors = 5;
    assert_null(parse_source(r.a, source_from_string(r.a, "t.vq", text, strlen(text)), &r.d));
    fflush(r.f);
    int shown = 0;
    for (const char *p = r.out; (p = strstr(p, ": error: expected")); p++) shown++;
    assert_int_equal(shown, 5);
    assert_non_null(strstr(r.out, "too many errors (more than 5); stopping"));
    assert_true(r.d.errors <= 7);          /* the parser stopped soon after */
    done(&r);
}

static void test_empty_and_expr_errors(void **state)
{
    (void)state;
    run r;
    assert_null(parse(&r, "  \n// nothing\n"));
    assert_non_null(strstr(r.out, "t.vq:1:1: error: empty model file"));
    done(&r);
    assert_null(parse_expr(&r, ""));
    assert_non_null(strstr(r.out, "<command line>:1:1: error: expected expression, found end of file"));
    done(&r);
    assert_null(parse_expr(&r, "[1, 2"));
    assert_non_null(strstr(r.out, "<command line>:1:6: error: expected ',' or ']' after '2', found end of file"));
    done(&r);
    assert_null(parse_expr(&r, "1; 2"));
    assert_int_equal(r.d.errors, 1);
    done(&r);
    ast_expr *e = parse_expr(&r, "[1, 2, 2]");
    assert_non_null(e);
    assert_int_equal(e->items->next->next->i, 2);
    done(&r);
}

/* ---- fuzz smoke test ------------------------------------------------------------- */

static const char seed_model[] =
    "model tiny;\nparam ch: int = 32;\nlet k = ch // 2 + 1;\n"
    "block R(x: tensor, out: int, p: float = 0.0) {\n  h = conv2d(x, out=out, kernel=3) as c[0].d;\n"
    "  if channels(x) != out { x = conv2d(x, out=out, kernel=1) as nin; }\n  return x + h;\n}\n"
    "encoder { input x; for i, m in [1, 2] { x = R(x, out=m * ch) as down[i]; } output x; }\n"
    "data { range = [-1.0, 1.0]; dataset = \"a\\n\"; } /* c */ // e\n";

static const char *const fragments[] = {"(", ")", "[", "]", "{", "}", ";", ",", "=", "//", "/*", "*/", "\"",
                                        "\\", "as", "for", "1e", "0x", "\xc3\xa9", "\xff", "\xed\xa0\x80",
                                        "\n", "\t", "-", "not", "?", ":", "99999999999999999999", "\0"};

static void test_fuzz_no_crash(void **state)
{
    (void)state;
    vq_rng rng;
    vq_rng_seed(&rng, 20240601);
    FILE *null = fopen("/dev/null", "w");
    assert_non_null(null);
    char buf[2048];
    size_t seed_len = sizeof seed_model - 1;
    run r;                                                 /* the unmutated seed is a valid file */
    assert_non_null(parse(&r, seed_model));
    done(&r);
    /* VQC_FUZZ_ITERS runs a longer campaign by hand (e.g. 200000 under ASan). */
    const char *env = getenv("VQC_FUZZ_ITERS");
    int iters = env ? atoi(env) : 4000;
    for (int iter = 0; iter < iters; iter++) {
        size_t n;
        int mode = (int)vq_rng_below(&rng, 4);
        if (mode == 0) {                                   /* random bytes, biased to ASCII */
            n = vq_rng_below(&rng, 200);
            for (size_t i = 0; i < n; i++) {
                uint64_t r = vq_rng_next(&rng);
                buf[i] = (char)((r & 3) ? 0x20 + (r >> 8) % 95 : (r >> 8) & 0xFF);
            }
        } else {                                           /* the seed model, mutated */
            memcpy(buf, seed_model, seed_len);
            n = seed_len;
            int edits = 1 + (int)vq_rng_below(&rng, 6);
            for (int e = 0; e < edits && n > 0; e++) {
                size_t at = vq_rng_below(&rng, n);
                int op = (int)vq_rng_below(&rng, 4);
                if (op == 0) buf[at] = (char)vq_rng_below(&rng, 256);
                else if (op == 1) { memmove(buf + at, buf + at + 1, n - at - 1); n--; }
                else if (op == 2) n = at;                  /* truncate */
                else {
                    const char *frag = fragments[vq_rng_below(&rng, sizeof fragments / sizeof fragments[0])];
                    size_t fl = strlen(frag) ? strlen(frag) : 1;
                    if (n + fl < sizeof buf) {
                        memmove(buf + at + fl, buf + at, n - at);
                        memcpy(buf + at, frag, fl);
                        n += fl;
                    }
                }
            }
        }
        ast_arena *a = ast_arena_new();
        diag_sink d;
        diag_init(&d, null);
        d.max_errors = (iter & 1) ? 20 : 0;
        ast_file *f = parse_source(a, source_from_string(a, "fuzz.vq", buf, n), &d);
        if ((f != NULL) != (d.errors == 0)) fail_msg("iteration %d: tree %p with %d errors", iter, (void *)f, d.errors);
        if (f) ast_dump(null, f);
        ast_expr *e = parse_expr_source(a, source_from_string(a, "<command line>", buf, n < 40 ? n : 40), &d);
        (void)e;
        ast_arena_free(a);
    }
    fclose(null);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_items),
        cmocka_unit_test(test_statements),
        cmocka_unit_test(test_recovery_reports_several_errors),
        cmocka_unit_test(test_max_errors_stops),
        cmocka_unit_test(test_empty_and_expr_errors),
        cmocka_unit_test(test_fuzz_no_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
