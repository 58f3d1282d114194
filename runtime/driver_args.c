/* driver_args.c: the driver's command-line parsing and error printing.
 *
 * Options are declared as a table per subcommand (drv_opt); the parser fills
 * the variables, accepts "--opt value" and "--opt=value", and rejects unknown
 * options, missing values, malformed numbers, repeated options and extra
 * positional arguments with a message naming them (exit status 2). */
#include "driver_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int drv_usage_error(const drv *dv, const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s %s: error: ", dv->prog, cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s %s --help'.\n", dv->prog, cmd);
    return VQ_EXIT_USAGE;
}

int drv_fail(const drv *dv, const char *cmd)
{
    fprintf(stderr, "%s %s: error: %s\n", dv->prog, cmd, vq_last_error());
    return VQ_EXIT_ERROR;
}

int drv_require(const drv *dv, const char *cmd, const drv_opt *o)
{
    if (o->seen) return 1;
    drv_usage_error(dv, cmd, "missing required option %s", o->name);
    return 0;
}

static void print_help(const drv *dv, const drv_cmd_spec *spec, const drv_opt *opts, int n_opts)
{
    printf("usage: %s %s %s\n%s\n\noptions:\n", dv->prog, spec->name, spec->synopsis, spec->summary);
    for (int i = 0; i < n_opts; i++) {
        char lhs[64];
        snprintf(lhs, sizeof lhs, "%s%s%s%s%s", opts[i].alias ? opts[i].alias : "", opts[i].alias ? ", " : "",
                 opts[i].name, opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
        printf("  %-24s %s\n", lhs, opts[i].help);
    }
    printf("  %-24s %s\n", "--help", "show this help");
}

/* Whole-string numbers only: "12x", "", " 3" and out-of-range values are errors. */
static int parse_value(drv_opt *o, const char *v)
{
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case DRV_INT: {
        long x = strtol(v, &end, 10);
        if (!*v || *end || errno || x < INT32_MIN || x > INT32_MAX) return -1;
        *(int *)o->ptr = (int)x;
        return 0;
    }
    case DRV_I64: {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno) return -1;
        *(int64_t *)o->ptr = x;
        return 0;
    }
    case DRV_U64: {
        if (*v == '-') return -1;
        unsigned long long x = strtoull(v, &end, 10);
        if (!*v || *end || errno) return -1;
        *(uint64_t *)o->ptr = x;
        return 0;
    }
    case DRV_DOUBLE: {
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x)) return -1;
        *(double *)o->ptr = x;
        return 0;
    }
    case DRV_STR:
        if (!*v) return -1;
        *(const char **)o->ptr = v;
        return 0;
    case DRV_FLAG:
        return -1;
    }
    return -1;
}

static const char *type_word(drv_opt_type t)
{
    switch (t) {
    case DRV_INT: case DRV_I64: return "an integer";
    case DRV_U64: return "a non-negative integer";
    case DRV_DOUBLE: return "a finite number";
    default: return "a non-empty value";
    }
}

int drv_parse(const drv *dv, const drv_cmd_spec *spec, drv_opt *opts, int n_opts,
              int argc, char **argv, const char **pos, int *n_pos)
{
    *n_pos = 0;
    int only_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && strcmp(a, "--help") == 0) {
            print_help(dv, spec, opts, n_opts);
            return -1;
        }
        if (!only_pos && strcmp(a, "--") == 0) { only_pos = 1; continue; }
        if (only_pos || a[0] != '-' || a[1] == '\0') {
            if (*n_pos >= spec->max_pos) {
                if (spec->max_pos == 0)
                    return drv_usage_error(dv, spec->name, "unexpected argument '%s' (this command takes no file names)", a);
                return drv_usage_error(dv, spec->name, "unexpected extra argument '%s'", a);
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq && a[1] == '-' ? (size_t)(eq - a) : strlen(a);
        drv_opt *o = NULL;
        for (int k = 0; k < n_opts && !o; k++) {
            if ((strlen(opts[k].name) == len && strncmp(opts[k].name, a, len) == 0) ||
                (opts[k].alias && strlen(opts[k].alias) == len && strncmp(opts[k].alias, a, len) == 0))
                o = &opts[k];
        }
        if (!o) return drv_usage_error(dv, spec->name, "unknown option '%.*s'", (int)len, a);
        if (o->seen) return drv_usage_error(dv, spec->name, "option %s given twice", o->name);
        o->seen = 1;
        if (o->type == DRV_FLAG) {
            if (eq && a[1] == '-') return drv_usage_error(dv, spec->name, "option %s takes no value", o->name);
            *(int *)o->ptr = 1;
            continue;
        }
        const char *v;
        if (eq && a[1] == '-') v = eq + 1;
        else if (i + 1 < argc) v = argv[++i];
        else return drv_usage_error(dv, spec->name, "option %s needs a value (%s)", o->name, o->arg ? o->arg : "");
        if (parse_value(o, v))
            return drv_usage_error(dv, spec->name, "option %s: '%s' is not %s", o->name, v, type_word(o->type));
    }
    if (*n_pos < spec->min_pos)
        return drv_usage_error(dv, spec->name, "missing %s", spec->positional ? spec->positional : "arguments");
    return 0;
}
