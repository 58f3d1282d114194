/* test_sema.c: the checker on small in-memory models: compile-time evaluation
 * (arithmetic, overflow, comparisons, lists, builtins), the shape rule of
 * each op, elaboration (loops, instance paths, conditionals, block calls)
 * and a few errors. Expected values are worked out by hand in the comments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ast.h"
#include "diag.h"
#include "ir.h"
#include "parse.h"
#include "sema.h"

typedef struct run {
    ast_arena *a;
    ir_model *m;
    char *diag;          /* everything the checker printed */
    size_t diag_len;
    int errors;
} run;

static void run_free(run *r)
{
    ast_arena_free(r->a);
    free(r->diag);
}

static run check_src(const char *text, const vqc_define *defs, int n_defs)
{
    run r = {0};
    r.a = ast_arena_new();
    FILE *mem = open_memstream(&r.diag, &r.diag_len);
    diag_sink d;
    diag_init(&d, mem);
    src_file *src = source_from_string(r.a, "t.vq", text, strlen(text));
    ast_file *f = parse_source(r.a, src, &d);
    if (f) {
        sema_options opt = {defs, n_defs, NULL, 0};
        r.m = sema_check(r.a, f, &opt, &d);
    }
    fclose(mem);
    r.errors = d.errors;
    return r;
}

/* A valid model around an encoder body: 3x16x16 images, codebook q (8 x 4). */
static run check_enc(const char *prelude, const char *encoder_body)
{
    char buf[8192];
    snprintf(buf, sizeof buf,
             "model t;\n%s\n"
             "data { channels = 3; resolution = 16; }\n"
             "codebook q { entries = 8; dim = 4; }\n"
             "encoder {\n input x;\n%s\n}\n"
             "decoder { input z; output conv_transpose2d(z, out=3, kernel=4, stride=4) as dec; }\n",
             prelude, encoder_body);
    return check_src(buf, NULL, 0);
}

static const char *param_value(const run *r, const char *name)
{
    for (int i = 0; r->m && i < r->m->n_defs; i++)
        if (strcmp(r->m->defs[i].key, name) == 0) return r->m->defs[i].v.s;
    return "<missing>";
}

static const ir_node *node_at(const run *r, const char *path)
{
    for (int i = 0; r->m && i < r->m->n_nodes; i++)
        if (r->m->nodes[i].path && strcmp(r->m->nodes[i].path, path) == 0) return &r->m->nodes[i];
    return NULL;
}

static const ir_node *first_op(const run *r, ir_op op)
{
    for (int i = 0; r->m && i < r->m->n_nodes; i++)
        if (r->m->nodes[i].op == op) return &r->m->nodes[i];
    return NULL;
}

static void assert_shape(const run *r, const ir_node *n, int out, const char *want)
{
    assert_non_null(n);
    char buf[96];
    ir_shape_str(buf, sizeof buf, &r->m->tensors[n->out[out]].shape);
    assert_string_equal(buf, want);
}

#define ENC_TAIL " z = quantize(h, codebook=q);\n output z;"

/* ---- evaluation ---------------------------------------------------------------- */

static void test_eval_arithmetic(void **state)
{
    (void)state;
    run r = check_enc("param a: int = 2 + 3 * 4;\n"          /* 14: * before + */
                      "param b: int = -7 // 2;\n"              /* -4: floor division */
                      "param c: int = -7 % 2;\n"               /* 1: sign of the divisor */
                      "param d: float = 7.0 / 2;\n"            /* 3.5 */
                      "param e: int = [1, 2, 3][-1];\n"        /* 3 */
                      "param f: int = len([1, 2, 3]) + min(3, 1, 2) + max([1, 5]);\n"   /* 3 + 1 + 5 */
                      "param g: bool = in([1, 2], 2) and not (1 > 2);\n"
                      "param h: int = true ? 1 : 2;\n"
                      "param i: list<int> = range(2, 10, 3);\n" /* [2, 5, 8] */
                      "param j: list<int> = [1] + [2];\n"
                      "param k: bool = \"abc\" < \"abd\";\n"
                      "param l: float = 1;\n"                  /* int widens to float */
                      "let m = 4;\n"
                      "param n: int = m * m;\n",
                      " h = conv2d(x, out=4, kernel=4, stride=4) as enc;\n" ENC_TAIL);
    assert_int_equal(r.errors, 0);
    assert_string_equal(param_value(&r, "a"), "14");
    assert_string_equal(param_value(&r, "b"), "-4");
    assert_string_equal(param_value(&r, "c"), "1");
    assert_string_equal(param_value(&r, "d"), "3.5");
    assert_string_equal(param_value(&r, "e"), "3");
    assert_string_equal(param_value(&r, "f"), "9");
    assert_string_equal(param_value(&r, "g"), "true");
    assert_string_equal(param_value(&r, "h"), "1");
    assert_string_equal(param_value(&r, "i"), "[2, 5, 8]");
    assert_string_equal(param_value(&r, "j"), "[1, 2]");
    assert_string_equal(param_value(&r, "k"), "true");
    assert_string_equal(param_value(&r, "l"), "1");
    assert_string_equal(param_value(&r, "n"), "16");
    run_free(&r);
}

static void test_eval_errors(void **state)
{
    (void)state;
    /* INT64_MAX + 1, 2^62 * 2, int / int, division by zero, index out of range: five errors */
    run r = check_enc("param a: int = 9223372036854775807 + 1;\n"
                      "param b: int = 4611686018427387904 * 2;\n"
                      "param c: int = 7 / 2;\n"
                      "param d: int = 1 // 0;\n"
                      "param e: int = [1, 2][2];\n",
                      " h = conv2d(x, out=4, kernel=4, stride=4) as enc;\n" ENC_TAIL);
    assert_null(r.m);
    assert_int_equal(r.errors, 5);
    assert_non_null(strstr(r.diag, "integer overflow in 9223372036854775807 + 1"));
    assert_non_null(strstr(r.diag, "integer overflow in 4611686018427387904 * 2"));
    assert_non_null(strstr(r.diag, "use '//'"));
    assert_non_null(strstr(r.diag, "division by zero"));
    assert_non_null(strstr(r.diag, "index 2 out of range for a list of 2"));
    run_free(&r);
}

static void test_eval_poison_no_cascade(void **state)
{
    (void)state;
    /* one unknown name used three times downstream: exactly one error */
    run r = check_enc("param a: int = nope + 1;\nlet b = a * 2;\nparam c: int = b + a;\n",
                      " h = conv2d(x, out=4, kernel=4, stride=4) as enc;\n" ENC_TAIL);
    assert_int_equal(r.errors, 1);
    assert_non_null(strstr(r.diag, "unknown name 'nope'"));
    run_free(&r);
}

static void test_defines(void **state)
{
    (void)state;
    const char *src = "model t;\nparam n: int = 8;\nparam f: float = 0.5;\n"
                      "data { channels = 3; resolution = 16; }\ncodebook q { entries = n; dim = 4; }\n"
                      "encoder { input x; h = conv2d(x, out=4, kernel=4, stride=4) as enc; z = quantize(h, codebook=q); output z; }\n"
                      "decoder { input z; output conv_transpose2d(z, out=3, kernel=4, stride=4) as dec; }\n";
    vqc_define ok[] = {{"n", "4 * 4"}, {"f", "2"}};
    run r = check_src(src, ok, 2);
    assert_int_equal(r.errors, 0);
    assert_int_equal(r.m->codebooks[0].entries, 16);
    assert_string_equal(param_value(&r, "f"), "2");     /* an int -D widens to float */
    assert_int_equal(r.m->defs[0].is_default, 0);
    run_free(&r);

    vqc_define bad[] = {{"m", "3"}, {"n", "1.5"}};
    r = check_src(src, bad, 2);
    assert_null(r.m);
    assert_int_equal(r.errors, 2);
    assert_non_null(strstr(r.diag, "the model has no param 'm'; did you mean 'n'?"));
    assert_non_null(strstr(r.diag, "param 'n' is int, not float"));
    run_free(&r);
}

/* ---- shape rules ----------------------------------------------------------------- */

static void test_shape_conv_padding_forms(void **state)
{
    (void)state;
    /* 16x16: k3 s2 pad [t0 b1 l0 r1] -> (16+1-3)//2+1 = 8; k3 pad [1, 2] -> H 16, W 16+4-3+1 = 18;
     * k3 pad 1 -> 16; conv_transpose k4 s2 p1: (16-1)*2 - 2 + 4 = 32 */
    run r = check_enc("", " a = conv2d(x, out=5, kernel=3, stride=2, padding=[0, 1, 0, 1]) as a;\n"
                          " b = conv2d(x, out=6, kernel=3, padding=[1, 2]) as b;\n"
                          " c = conv2d(x, out=7, kernel=3, padding=1, bias=false) as c;\n"
                          " d = conv_transpose2d(x, out=2, kernel=4, stride=2, padding=1) as d;\n"
                          " h = conv2d(x, out=4, kernel=4, stride=4) as enc;\n" ENC_TAIL);
    assert_int_equal(r.errors, 0);
    assert_shape(&r, node_at(&r, "a"), 0, "(B, 5, 8, 8)");
    assert_shape(&r, node_at(&r, "b"), 0, "(B, 6, 16, 18)");
    assert_shape(&r, node_at(&r, "c"), 0, "(B, 7, 16, 16)");
    assert_shape(&r, node_at(&r, "d"), 0, "(B, 2, 32, 32)");
    assert_int_equal(node_at(&r, "c")->n_param, 1);             /* no bias */
    /* conv_transpose weight is (in, out, k, k) = (3, 2, 4, 4) */
    const ir_param *w = &r.m->params[node_at(&r, "d")->param[0]];
    assert_string_equal(w->name, "d.weight");
    assert_int_equal(w->shape.d[0], 3);
    assert_int_equal(w->shape.d[1], 2);
    /* FLOPs of a: 2 * C 3 * k 3 * 3 * out 5 * 8 * 8 + bias 5 * 64 = 17280 + 320 */
    assert_int_equal(node_at(&r, "a")->flops, 17600);
    run_free(&r);
}

static void test_shape_taming_downsample_256(void **state)
{
    (void)state;
    /* taming's Downsample at 256: pad right/bottom 1, k3 s2: (256 + 1 - 3) // 2 + 1 = 128 */
    const char *src = "model t;\ndata { channels = 3; resolution = 256; }\ncodebook q { entries = 8; dim = 3; }\n"
                      "encoder { input x; h = conv2d(x, out=3, kernel=3, stride=2, padding=[0, 1, 0, 1]) as down;\n"
                      " z = quantize(h, codebook=q); output z; }\n"
                      "decoder { input z; output upsample(z); }\n";
    run r = check_src(src, NULL, 0);
    assert_int_equal(r.errors, 0);
    assert_shape(&r, node_at(&r, "down"), 0, "(B, 3, 128, 128)");
    run_free(&r);
}

static void test_shape_other_ops(void **state)
{
    (void)state;
    run r = check_enc("", " p = pad(x, left=1, right=2, top=3);\n"                 /* (3, 19, 19) */
                          " g = group_norm(x, groups=3) as gn;\n"
                          " n = batch_norm(x) as bn;\n"
                          " c = concat(x, g, n);\n"                                  /* 9 channels */
                          " u = upsample(x, scale=2);\n"                             /* 32x32 */
                          " ap = avg_pool(x, kernel=2);\n"                           /* stride = kernel: 8x8 */
                          " at = attention(x, x, x);\n"
                          " r = reshape(x, shape=[3, -1]);\n"                        /* (3, 256) */
                          " t = transpose(r);\n"                                     /* (256, 3) */
                          " mm = matmul(t, r);\n"                                    /* (256, 256) */
                          " sm = softmax(mm, dim=-1);\n"
                          " l = leaky_relu(scale(x, factor=0.5), slope=0.2);\n"
                          " h = conv2d(x, out=4, kernel=4, stride=4) as enc;\n" ENC_TAIL);
    assert_int_equal(r.errors, 0);
    assert_shape(&r, first_op(&r, IR_OP_PAD), 0, "(B, 3, 19, 19)");
    assert_shape(&r, first_op(&r, IR_OP_CONCAT), 0, "(B, 9, 16, 16)");
    assert_shape(&r, first_op(&r, IR_OP_UPSAMPLE), 0, "(B, 3, 32, 32)");
    assert_shape(&r, first_op(&r, IR_OP_AVG_POOL), 0, "(B, 3, 8, 8)");
    assert_int_equal(ir_attr_find(first_op(&r, IR_OP_AVG_POOL), "stride")->v.i, 2);
    assert_shape(&r, first_op(&r, IR_OP_ATTENTION), 0, "(B, 3, 16, 16)");
    assert_shape(&r, first_op(&r, IR_OP_RESHAPE), 0, "(B, 3, 256)");
    assert_shape(&r, first_op(&r, IR_OP_TRANSPOSE), 0, "(B, 256, 3)");
    assert_shape(&r, first_op(&r, IR_OP_MATMUL), 0, "(B, 256, 256)");
    assert_shape(&r, first_op(&r, IR_OP_QUANTIZE), 0, "(B, 4, 4, 4)");
    assert_shape(&r, first_op(&r, IR_OP_QUANTIZE), 1, "(B, 4, 4)");
    /* batch_norm: weight, bias + running_mean, running_var, num_batches_tracked (buffers) */
    const ir_node *bn = node_at(&r, "bn");
    assert_int_equal(bn->n_param, 5);
    assert_string_equal(r.m->params[bn->param[4]].name, "bn.num_batches_tracked");
    assert_int_equal(r.m->params[bn->param[4]].role, IR_BUFFER);
    assert_int_equal(r.m->params[bn->param[4]].shape.rank, 0);
    assert_int_equal(r.m->params[bn->param[2]].role, IR_BUFFER);
    assert_int_equal(r.m->params[bn->param[0]].role, IR_TRAINABLE);
    /* defaults recorded: group_norm eps 1e-5, marked as default */
    const ir_attr *eps = ir_attr_find(node_at(&r, "gn"), "eps");
    assert_true(eps->is_default);
    assert_true(eps->v.f == 1e-5);
    run_free(&r);
}

static void test_shape_errors(void **state)
{
    (void)state;
    run r = check_enc("", " a = group_norm(x, groups=2) as gn;\n"          /* 2 does not divide 3 */
                          " b = conv2d(x, out=4, kernel=0) as c0;\n"        /* kernel 0 */
                          " c = conv2d(x, out=4, kernel=17) as c1;\n"       /* 16 < 17: empty */
                          " d = x + conv2d(x, out=4, kernel=1) as c2;\n"    /* (3,..) + (4,..) */
                          " e = quantize(x, codebook=q);\n"                 /* 3 channels, dim 4 */
                          " h = conv2d(x, out=4, kernel=4, stride=4) as enc;\n" ENC_TAIL);
    assert_null(r.m);
    assert_int_equal(r.errors, 5);
    assert_non_null(strstr(r.diag, "groups=2 does not divide 3 channels"));
    assert_non_null(strstr(r.diag, "attribute 'kernel' of conv2d must be > 0, got 0"));
    assert_non_null(strstr(r.diag, "spatial size becomes <= 0"));
    assert_non_null(strstr(r.diag, "shape mismatch in add: (B, 3, 16, 16) and (B, 4, 16, 16)"));
    assert_non_null(strstr(r.diag, "note: the other operand"));
    assert_non_null(strstr(r.diag, "input has 3 channels but codebook 'q' has dim 4"));
    run_free(&r);
}

/* ---- elaboration ----------------------------------------------------------------- */

static void test_elab_loops_paths(void **state)
{
    (void)state;
    run r = check_enc("block Res(x: tensor, out: int) {\n"
                      "  h = conv2d(x, out=out, kernel=1) as conv1;\n"
                      "  if channels(x) != out { x = conv2d(x, out=out, kernel=1) as skip; }\n"
                      "  return x + h;\n}\n"
                      "block Stack(x: tensor, mult: list<int>) {\n"
                      "  for i, m in mult { for j in range(2) { x = Res(x, out=m) as down[i].block[j]; } }\n"
                      "  return x;\n}\n",
                      " h = Stack(x, mult=[3, 5]) as enc;\n"
                      " h = conv2d(h, out=4, kernel=4, stride=4) as proj;\n" ENC_TAIL);
    assert_int_equal(r.errors, 0);
    /* level 0 keeps 3 channels (no skip); level 1 block 0 goes 3 -> 5 (skip), block 1 5 -> 5 */
    assert_non_null(node_at(&r, "enc.down.0.block.0.conv1"));
    assert_non_null(node_at(&r, "enc.down.0.block.1.conv1"));
    assert_null(node_at(&r, "enc.down.0.block.0.skip"));
    assert_non_null(node_at(&r, "enc.down.1.block.0.skip"));
    assert_null(node_at(&r, "enc.down.1.block.1.skip"));
    assert_shape(&r, node_at(&r, "enc.down.1.block.1.conv1"), 0, "(B, 5, 16, 16)");
    /* nodes are in execution order: each input is produced earlier */
    for (int i = 0; i < r.m->n_nodes; i++)
        for (int k = 0; k < r.m->nodes[i].n_in; k++)
            assert_true(r.m->tensors[r.m->nodes[i].in[k]].producer < i);
    run_free(&r);
}

static void test_elab_errors(void **state)
{
    (void)state;
    run r = check_enc("block A(x: tensor) { return B(x); }\nblock B(x: tensor) { return A(x); }\n",
                      " y = A(x);\n"
                      " a = conv2d(x, out=4, kernel=1) as same;\n"
                      " b = conv2d(x, out=4, kernel=1) as same;\n"      /* duplicate parameter names */
                      " for i in range(200000) { }\n"                   /* absurd loop */
                      " for i in 3.5 { }\n"
                      " c = relu(x) as r;\n"                            /* no parameters: no name */
                      " d = conv2d(x, out=4, kernel=1);\n"              /* parameters: needs a name */
                      " h = conv2d(x, out=4, kernel=4, stride=4) as enc;\n" ENC_TAIL);
    assert_null(r.m);
    assert_non_null(strstr(r.diag, "recursive block call: A -> B -> A"));
    assert_non_null(strstr(r.diag, "duplicate instance path 'same'"));
    assert_non_null(strstr(r.diag, "exceeds the limit of 100000 iterations"));
    assert_non_null(strstr(r.diag, "'for' needs a list or range(...), got float"));
    assert_non_null(strstr(r.diag, "creates no parameters and cannot be named"));
    assert_non_null(strstr(r.diag, "creates parameters and needs a name"));
    assert_int_equal(r.errors, 6);
    run_free(&r);
}

static void test_sections_defaults(void **state)
{
    (void)state;
    run r = check_enc("", " h = conv2d(x, out=4, kernel=4, stride=4) as enc;\n" ENC_TAIL);
    assert_int_equal(r.errors, 0);
    const ir_codebook *cb = &r.m->codebooks[0];
    assert_true(cb->beta == 0.25);
    assert_string_equal(cb->naming, "taming");
    assert_true(ir_setting_find(&cb->settings, "beta")->is_default);
    assert_false(ir_setting_find(&cb->settings, "entries")->is_default);
    /* the codebook's table: q.embedding.weight (8, 4), U(-1/8, 1/8) */
    const ir_param *w = &r.m->params[cb->param[0]];
    assert_string_equal(w->name, "q.embedding.weight");
    assert_int_equal(w->shape.d[0], 8);
    assert_true(w->init.kind == IR_INIT_UNIFORM && w->init.b == 0.125);
    assert_int_equal(ir_get_int(&r.m->train, "batch", -1), 8);
    assert_string_equal(ir_get_string(&r.m->loss, "reconstruction", ""), "l1");
    run_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_eval_arithmetic),
        cmocka_unit_test(test_eval_errors),
        cmocka_unit_test(test_eval_poison_no_cascade),
        cmocka_unit_test(test_defines),
        cmocka_unit_test(test_shape_conv_padding_forms),
        cmocka_unit_test(test_shape_taming_downsample_256),
        cmocka_unit_test(test_shape_other_ops),
        cmocka_unit_test(test_shape_errors),
        cmocka_unit_test(test_elab_loops_paths),
        cmocka_unit_test(test_elab_errors),
        cmocka_unit_test(test_sections_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
