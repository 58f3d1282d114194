/* fuzz_codes.c: libFuzzer target for the CODES reader of `decode` (runtime/codes.c).
 *
 * Each input is read against three fixed codebook tables (one 1x1 code with
 * K=1; one 4x4 map with K=16, like the toy model; two codebooks of different
 * grids, like VQ-VAE-2), so one text file can be right for at most one.
 * Oracles:
 *  - a rejection's message names the input: it starts with its path and ':';
 *  - an accepted file re-serializes (vq_codes_write_stream) into text that
 *    reads back to the same indices and re-serializes to the same bytes
 *    (the writer's output is a fixed point of read-then-write);
 *  - every accepted index is in [0, K) (the reader's own promise).
 * Seeds: tests/fuzz/corpus/codes/ (written by make_seeds.py). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codes.h"
#include "fuzz_util.h"
#include "vq_common.h"

#define NAME "codes.txt"

static const vq_codebook_desc one[] = {{.name = "quantize", .K = 1, .D = 1, .grid_h = 1, .grid_w = 1}};
static const vq_codebook_desc toy[] = {{.name = "quantize", .K = 16, .D = 4, .grid_h = 4, .grid_w = 4}};
static const vq_codebook_desc two[] = {{.name = "quantize_t", .K = 512, .D = 8, .grid_h = 2, .grid_w = 3},
                                       {.name = "quantize_b", .K = 7, .D = 8, .grid_h = 4, .grid_w = 6}};
static const struct { const vq_codebook_desc *cbs; int n; } tables[] = {{one, 1}, {toy, 1}, {two, 2}};

enum { MAX_CODES = 24 };   /* largest gh*gw above */

/* Writes idx to a growing memory buffer; returns it (free()) and its size. */
static char *serialize(size_t *len, int32_t *const *idx, const vq_codebook_desc *cbs, int n)
{
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);
    FUZZ_CHECK(f);
    FUZZ_CHECK(vq_codes_write_stream(f, NAME, (const int32_t *const *)idx, cbs, n) == VQ_OK);
    FUZZ_CHECK(fclose(f) == 0);
    return buf;
}

/* Reads text[0..len) (len > 0) from memory. */
static int read_mem(int32_t *const *idx, char *text, size_t len, const vq_codebook_desc *cbs, int n)
{
    FILE *f = fmemopen(text, len, "r");
    FUZZ_CHECK(f);
    int rc = vq_codes_read_stream(idx, f, NAME, "fuzz", cbs, n);
    fclose(f);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int32_t a[2][MAX_CODES], b[2][MAX_CODES];
    int32_t *ia[2] = {a[0], a[1]}, *ib[2] = {b[0], b[1]};
    const char *path = fuzz_path(data, size);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
        const vq_codebook_desc *cbs = tables[t].cbs;
        int n = tables[t].n;
        memset(a, 0xff, sizeof a);
        /* The input goes through the path reader, as `decode` reads it. */
        int rc = vq_codes_read(ia, path, "fuzz", cbs, n);
        if (rc) {
            FUZZ_CHECK(strncmp(vq_last_error(), path, strlen(path)) == 0 && vq_last_error()[strlen(path)] == ':');
            continue;
        }
        for (int c = 0; c < n; c++)
            for (int i = 0; i < cbs[c].grid_h * cbs[c].grid_w; i++) FUZZ_CHECK(a[c][i] >= 0 && a[c][i] < cbs[c].K);
        size_t len1, len2;
        char *text1 = serialize(&len1, ia, cbs, n);
        memset(b, 0xff, sizeof b);
        FUZZ_CHECK(read_mem(ib, text1, len1, cbs, n) == VQ_OK);
        FUZZ_CHECK(memcmp(a, b, sizeof a) == 0);
        char *text2 = serialize(&len2, ib, cbs, n);
        FUZZ_CHECK(len1 == len2 && memcmp(text1, text2, len1) == 0);
        free(text1);
        free(text2);
    }
    return 0;
}
