/* fuzz_vq.c: the whole front end on arbitrary bytes as a .vq file: scanner
 * and parser (parse_source), the AST printer, the checker (sema_check), and on
 * a model that checks, every printer vqc has (graph, params, summary, dot).
 *
 * parse.h promises "never crashes or hangs on any input bytes"; the oracles
 * add: a NULL tree or model comes with at least one reported error, and a
 * model is only returned when no error was reported. Diagnostics and dumps go
 * to /dev/null (printing them is exercised, not compared).
 *
 * Imports resolve relative to the input's name, "fuzz.vq" in the working
 * directory: scripts run this from an empty directory, so an import can only
 * name a missing file, a directory, or an absolute path. */
#include <stdint.h>
#include <stdio.h>

#include "ast.h"
#include "diag.h"
#include "ir.h"
#include "parse.h"
#include "sema.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    if (!devnull) FUZZ_CHECK((devnull = fopen("/dev/null", "w")) != NULL);
    diag_sink d;
    diag_init(&d, devnull);
    d.max_errors = 20; /* as the command line does */
    ast_arena *a = ast_arena_new();
    src_file *src = source_from_string(a, "fuzz.vq", (const char *)data, size);
    FUZZ_CHECK(src != NULL);
    ast_file *file = parse_source(a, src, &d);
    if (!file) {
        FUZZ_CHECK(d.errors > 0);
    } else {
        ast_dump(devnull, file);
        sema_options opt = {0};
        ir_model *m = sema_check(a, file, &opt, &d);
        if (!m) {
            FUZZ_CHECK(d.errors > 0);
        } else {
            FUZZ_CHECK(d.errors == 0);
            ir_dump(devnull, m);
            ir_dump_params(devnull, m);
            ir_summary(devnull, m);
            ir_dot(devnull, m);
        }
    }
    ast_arena_free(a);
    return 0;
}
