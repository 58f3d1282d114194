/* main.c: the vqc command line (docs/cli.md).
 *
 *   vqc [options] MODEL.vq [-o DIR]
 *
 * Reads and parses the model (stopping at syntax errors), prints the AST if
 * asked, runs the checker (sema_check) with the -D overrides and -I dirs, then
 * prints the requested dumps. Exit status: 0 ok, 1 an error in the model (or a
 * file that cannot be written), 2 a usage error.
 * Not here: any knowledge of the language beyond "NAME=VALUE" for -D.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "diag.h"
#include "parse.h"
#include "codegen.h"
#include "passes/memlimit.h"
#include "sema.h"

#ifndef VQC_VERSION
#define VQC_VERSION "unknown"
#endif

enum { EXIT_MODEL = 1, EXIT_USAGE = 2 };

typedef struct cli {
    const char *model;
    const char *out_dir;
    int check, summary, dot;
    int dump_ast, dump_graph, dump_params, dump_plan;
    vqc_define *defines;
    int n_defines;
    const char **includes;
    int n_includes;
    char *cmdline;              /* argv joined, for the generated files' provenance */
    const char *argv0;
    const char *max_memory;     /* --max-memory SIZE as given, or NULL (the machine's RAM) */
    long long recompute_min;    /* --recompute: floats per image (codegen.h cg.recompute_min) */
} cli;

static const char usage_text[] =
    "usage: vqc [options] MODEL.vq [-o DIR]\n"
    "\n"
    "Checks a .vq model and (later) compiles it to C.\n"
    "\n"
    "  --check            check the model and stop (no code generation)\n"
    "  -D NAME=VALUE      override a `param` (repeatable; also -DNAME=VALUE)\n"
    "  -I DIR             search DIR for imports, after the importing file's dir (repeatable)\n"
    "  --dump=ast         print the syntax tree (after parsing; the checker does not run)\n"
    "  --dump=graph       print the checked model graph\n"
    "  --dump=params      print every parameter and buffer with its shape\n"
    "  --dump=plan        print the training plan: fusions, kept values, memory plan\n"
    "  --summary          parameters per module, shapes per stage, forward FLOPs\n"
    "  --dot              the model graph in Graphviz format\n"
    "  -o DIR             write the generated C into DIR (DIR/<model>.c, .h, main.c, Makefile)\n"
    "  --max-memory SIZE  refuse (-o) a model that needs more memory to train at its batch\n"
    "                     (bytes, or 512M, 16G; 0: no limit; default: the machine's RAM)\n"
    "  --recompute=WHAT   group_norm outputs that backward rebuilds instead of keeping:\n"
    "                     auto (>= 8 MiB per image, the default), all, none, or a size per image\n"
    "  --help             this text\n"
    "  --version          print the version\n"
    "\n"
    "Exit status: 0 ok, 1 errors in the model, 2 bad command line.\n";

static const char *const option_names[] = {"--check", "--dump", "--summary", "--dot", "--help", "--version",
                                           "--max-memory", "--recompute", "-D", "-I", "-o", NULL};
static const char *const dump_names[] = {"ast", "graph", "params", "plan", NULL};

static const src_loc no_loc = {0};

static int usage_error(diag_sink *d, const char *fmt, const char *a, const char *b)
{
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b ? b : "");
    diag_error(d, no_loc, "%s", msg);
    return EXIT_USAGE;
}

static int is_name(const char *s, size_t n)
{
    if (n == 0 || !((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_')) return 0;
    for (size_t i = 1; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return 0;
    }
    return 1;
}

/* -D NAME=VALUE: only the split and the name are checked here; the value is an
 * expression that the checker parses and types against the param. */
static int add_define(cli *c, diag_sink *d, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq) return usage_error(d, "-D %s: expected NAME=VALUE (as in -D n_embed=1024)", arg, NULL);
    size_t n = (size_t)(eq - arg);
    if (n == 0) return usage_error(d, "-D %s: missing the parameter name before '='", arg, NULL);
    char name[128];
    snprintf(name, sizeof name, "%.*s", (int)(n < 100 ? n : 100), arg);
    if (!is_name(arg, n)) return usage_error(d, "-D %s: '%s' is not a parameter name", arg, name);
    if (eq[1] == '\0') return usage_error(d, "-D %s: missing the value after '='", arg, NULL);
    for (int i = 0; i < c->n_defines; i++)
        if (strcmp(c->defines[i].name, name) == 0)
            return usage_error(d, "-D %s: parameter '%s' is already set by an earlier -D", arg, name);
    vqc_define *grown = realloc(c->defines, (size_t)(c->n_defines + 1) * sizeof *grown);
    char *copy = strdup(name);
    if (!grown || !copy) { free(copy); if (grown) c->defines = grown; return usage_error(d, "out of memory%s", "", NULL); }
    c->defines = grown;
    c->defines[c->n_defines].name = copy;
    c->defines[c->n_defines].value = eq + 1;
    c->n_defines++;
    return 0;
}

static int add_include(cli *c, diag_sink *d, const char *dir)
{
    const char **grown = realloc(c->includes, (size_t)(c->n_includes + 1) * sizeof *grown);
    if (!grown) return usage_error(d, "out of memory%s", "", NULL);
    c->includes = grown;
    c->includes[c->n_includes++] = dir;
    return 0;
}

static int set_dump(cli *c, diag_sink *d, const char *what)
{
    if (strcmp(what, "ast") == 0) c->dump_ast = 1;
    else if (strcmp(what, "graph") == 0) c->dump_graph = 1;
    else if (strcmp(what, "params") == 0) c->dump_params = 1;
    else if (strcmp(what, "plan") == 0) c->dump_plan = 1;
    else {
        const char *close = diag_closest(what, dump_names);
        if (close) return usage_error(d, "unknown dump '%s'; did you mean '%s'? (ast, graph, params or plan)", what, close);
        return usage_error(d, "unknown dump '%s' (expected ast, graph, params or plan)%s", what, NULL);
    }
    return 0;
}

static int unknown_option(diag_sink *d, const char *arg)
{
    char head[64];
    snprintf(head, sizeof head, "%.*s", (int)strcspn(arg, "="), arg);
    const char *close = diag_closest(head, option_names);
    if (close) return usage_error(d, "unknown option '%s'; did you mean '%s'?", arg, close);
    return usage_error(d, "unknown option '%s' (vqc --help lists the options)%s", arg, NULL);
}

/* An option's argument: attached (-DX=1) or the next word (-D X=1). */
static const char *option_value(int argc, char **argv, int *i, size_t prefix, diag_sink *d, int *rc)
{
    const char *arg = argv[*i];
    if (arg[prefix]) return arg + prefix;
    if (*i + 1 >= argc) { *rc = usage_error(d, "option %s needs an argument", arg, NULL); return NULL; }
    return argv[++*i];
}

/* Returns 0, EXIT_USAGE, or -1 for "done, exit 0" (--help, --version). */
static int parse_args(cli *c, diag_sink *d, int argc, char **argv)
{
    int options_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int rc = 0;
        if (options_done || arg[0] != '-' || arg[1] == '\0') {
            if (c->model) return usage_error(d, "more than one model file: '%s' and '%s'", c->model, arg);
            c->model = arg;
        } else if (strcmp(arg, "--") == 0) {
            options_done = 1;
        } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            fputs(usage_text, stdout);
            return -1;
        } else if (strcmp(arg, "--version") == 0) {
            printf("vqc %s\n", VQC_VERSION);
            return -1;
        } else if (strcmp(arg, "--check") == 0) {
            c->check = 1;
        } else if (strcmp(arg, "--summary") == 0) {
            c->summary = 1;
        } else if (strcmp(arg, "--dot") == 0) {
            c->dot = 1;
        } else if (strncmp(arg, "--dump=", 7) == 0) {
            if ((rc = set_dump(c, d, arg + 7))) return rc;
        } else if (strcmp(arg, "--dump") == 0) {
            return usage_error(d, "--dump needs a value: --dump=ast, graph, params or plan%s", "", NULL);
        } else if (strcmp(arg, "--max-memory") == 0 || strncmp(arg, "--max-memory=", 13) == 0) {
            const char *v = arg[12] == '=' ? arg + 13 : (i + 1 < argc ? argv[++i] : NULL);
            uint64_t bytes;
            if (!v) return usage_error(d, "option --max-memory needs a size (bytes, or 512M, 16G; 0: no limit)%s", "", NULL);
            if (cg_parse_size(v, &bytes))
                return usage_error(d, "--max-memory %s: expected a size such as 4096, 512M or 16G (0: no limit)", v, NULL);
            c->max_memory = v;
        } else if (strncmp(arg, "--recompute=", 12) == 0) {
            const char *v = arg + 12;
            uint64_t bytes;
            if (strcmp(v, "auto") == 0) c->recompute_min = CG_RECOMPUTE_AUTO;
            else if (strcmp(v, "all") == 0) c->recompute_min = 0;
            else if (strcmp(v, "none") == 0) c->recompute_min = -1;
            else if (cg_parse_size(v, &bytes) == 0) c->recompute_min = (long long)(bytes / 4);
            else return usage_error(d, "--recompute=%s: expected auto, all, none or a size per image such as 8M", v, NULL);
        } else if (strcmp(arg, "--recompute") == 0) {
            return usage_error(d, "--recompute needs a value: --recompute=auto, all, none or a size such as 8M%s", "", NULL);
        } else if (strncmp(arg, "-D", 2) == 0) {
            const char *v = option_value(argc, argv, &i, 2, d, &rc);
            if (!v || (rc = add_define(c, d, v))) return rc ? rc : EXIT_USAGE;
        } else if (strncmp(arg, "-I", 2) == 0) {
            const char *v = option_value(argc, argv, &i, 2, d, &rc);
            if (!v || (rc = add_include(c, d, v))) return rc ? rc : EXIT_USAGE;
        } else if (strncmp(arg, "-o", 2) == 0) {
            const char *v = option_value(argc, argv, &i, 2, d, &rc);
            if (!v) return rc;
            c->out_dir = v;
        } else {
            return unknown_option(d, arg);
        }
    }
    if (!c->model)
        return usage_error(d, "no model file given (usage: vqc [options] MODEL.vq [-o DIR]; see vqc --help)%s", "", NULL);
    return 0;
}

/* --summary's memory lines: the plan is built with its diagnostics discarded,
 * since a model the generator cannot handle yet still has a summary. */
static void print_memory(const ir_model *m, int64_t recompute_min)
{
    FILE *null = fopen("/dev/null", "w");
    if (!null) return;
    diag_sink quiet;
    diag_init(&quiet, null);
    cg g;
    if (cg_build(&g, m, &quiet, recompute_min) == 0 && !quiet.errors) {
        cg_memory mem;
        cg_memory_plan(&mem, &g);
        cg_memory_print(stdout, &mem);
    } else {
        printf("\nmemory to train: no plan (the code generator does not handle this model yet)\n");
    }
    cg_free(&g);
    fclose(null);
}

static int run(cli *c, diag_sink *d, ast_arena *a)
{
    src_file *src = source_read(a, c->model, no_loc, d);
    if (!src) return EXIT_MODEL;
    ast_file *file = parse_source(a, src, d);
    if (!file) return EXIT_MODEL;
    if (c->dump_ast) {
        ast_dump(stdout, file);
        fflush(stdout);
    }
    int wants_model = c->check || c->summary || c->dot || c->dump_graph || c->dump_params || c->dump_plan ||
                      c->out_dir || !c->dump_ast;
    if (!wants_model) return 0;

    sema_options opt = { c->defines, c->n_defines, c->includes, c->n_includes };
    ir_model *m = sema_check(a, file, &opt, d);
    if (!m || d->errors) return EXIT_MODEL;
    if (c->dump_graph) ir_dump(stdout, m);
    if (c->dump_params) ir_dump_params(stdout, m);
    if (c->summary) {
        ir_summary(stdout, m);
        print_memory(m, c->recompute_min);
    }
    if (c->dot) ir_dot(stdout, m);
    fflush(stdout);
    if (c->dump_plan) {
        cg g;
        int bad = cg_build(&g, m, d, c->recompute_min);
        if (!bad) cg_dump_plan(stdout, &g);
        cg_free(&g);
        fflush(stdout);
        if (bad) return EXIT_MODEL;
    }
    /* Code generation is the default action, and -o's; the other actions ask only for checking. */
    int only_inspect = c->check || c->summary || c->dot || c->dump_graph || c->dump_params || c->dump_ast;
    if (c->out_dir || (!only_inspect && !c->dump_plan)) {
        if (!c->out_dir) {
            diag_error(d, no_loc, "code generation needs an output directory: vqc %s -o DIR", c->model);
            return EXIT_USAGE;
        }
        uint64_t limit = cg_physical_memory();
        if (c->max_memory) cg_parse_size(c->max_memory, &limit);   /* checked by parse_args */
        codegen_opts o = {c->out_dir, c->cmdline, c->model, c->argv0, limit, c->recompute_min};
        if (cg_generate(m, &o, d)) return EXIT_MODEL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    diag_sink d;
    diag_init(&d, stderr);
    d.max_errors = 20;
    cli c;
    memset(&c, 0, sizeof c);
    size_t len = 1;
    for (int i = 0; i < argc; i++) len += strlen(argv[i]) + 1;
    c.cmdline = calloc(len, 1);
    for (int i = 0; c.cmdline && i < argc; i++) {
        if (i) strcat(c.cmdline, " ");
        strcat(c.cmdline, argv[i]);
    }
    c.argv0 = argv[0];
    c.recompute_min = CG_RECOMPUTE_AUTO;
    int rc = parse_args(&c, &d, argc, argv);
    if (rc == 0) {
        ast_arena *a = ast_arena_new();
        rc = run(&c, &d, a);
        ast_arena_free(a);
    } else if (rc < 0) {
        rc = 0;
    }
    for (int i = 0; i < c.n_defines; i++) free((char *)c.defines[i].name);
    free(c.defines);
    free(c.includes);
    free(c.cmdline);
    return rc;
}
