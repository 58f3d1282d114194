/* source.c: reading .vq sources into memory and checking their encoding.
 *
 * A source is read whole into the arena with a terminating NUL (the scanner
 * still goes by size, so a NUL inside is seen, and rejected). The encoding
 * check runs before scanning: every NUL and every byte sequence that is not
 * strict UTF-8 is an error at its line and column, at most one per line so a
 * binary file gives a short report.
 * Not here: scanning (lexer.l), import resolution (sema).
 */
#include "lex.h"
#include "parse.h"
#include "utf8.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum { MAX_SOURCE_BYTES = 64 << 20 };   /* a model file is a few KiB; this only stops accidents */

static src_file *make_source(ast_arena *a, const char *path, size_t size)
{
    src_file *f = ast_alloc(a, sizeof *f);
    f->path = ast_strdup(a, path, strlen(path));
    char *text = ast_alloc(a, size + 1);
    f->text = text;
    f->size = size;
    return f;
}

src_file *source_from_string(ast_arena *a, const char *path, const char *text, size_t size)
{
    src_file *f = make_source(a, path, size);
    memcpy((char *)f->text, text, size);
    return f;
}

src_file *source_read(ast_arena *a, const char *path, src_loc from, diag_sink *d)
{
    FILE *fp = fopen(path, "rb");
    struct stat st;
    const char *why = NULL;
    if (!fp) why = strerror(errno);
    else if (fstat(fileno(fp), &st) != 0) why = strerror(errno);
    else if (S_ISDIR(st.st_mode)) why = "is a directory";
    else if (!S_ISREG(st.st_mode)) why = "not a regular file";
    else if (st.st_size > MAX_SOURCE_BYTES) why = "file too large (over 64 MiB)";
    if (why) {
        diag_error(d, from, "%s: cannot open: %s", path, why);
        if (fp) fclose(fp);
        return NULL;
    }
    size_t size = (size_t)st.st_size;
    src_file *f = make_source(a, path, size);
    size_t got = fread((char *)f->text, 1, size, fp);
    int err = ferror(fp);
    fclose(fp);
    if (got != size || err) {
        diag_error(d, from, "%s: cannot open: read failed", path);
        return NULL;
    }
    return f;
}

int source_check_encoding(const src_file *src, diag_sink *d)
{
    const unsigned char *p = (const unsigned char *)src->text;
    size_t n = src->size;
    int line = 1, col = 1, reported_line = 0, count = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '\n') { line++; col = 1; i++; continue; }
        if (c == 0 || c >= 0x80) {
            uint32_t cp;
            utf8_error err = UTF8_OK;
            int k = c == 0 ? 0 : utf8_decode(p + i, n - i, &cp, &err);
            if (k == 0) {
                if (reported_line != line && !diag_stopped(d)) {
                    src_loc at = lex_span(src, line, col, col);
                    if (c == 0)
                        diag_error(d, at, "NUL byte in source (is this a binary file?)");
                    else
                        diag_error(d, at, "invalid UTF-8 (%s, byte 0x%02X); source files must be UTF-8",
                                   utf8_error_text(err), c);
                    reported_line = line;
                }
                count++;
                i++;
                col++;
                continue;
            }
            i += (size_t)k;
            col += k;
            continue;
        }
        i++;
        col++;
    }
    return count;
}
