/* diag.c: printing errors, warnings and notes about .vq sources (format in diag.h).
 *
 * An excerpt is the source line as written (tabs kept, control characters and
 * bytes that are not UTF-8 shown as '?') and an underline that mirrors it: a tab
 * above gives a tab below and a multi-byte character one space, so the caret
 * sits under the right character in a terminal. Columns in src_loc count bytes.
 * Not here: deciding what is wrong (every other stage), colours.
 */
#include "diag.h"
#include "utf8.h"

#include <stdarg.h>
#include <stdint.h>
#include <string.h>

void diag_init(diag_sink *d, FILE *out)
{
    memset(d, 0, sizeof *d);
    d->out = out;
}

int diag_stopped(const diag_sink *d) { return d->stopped; }

/* Finds line `line` (1-based) of `f`: its start and length without the newline
 * (and without a '\r' before it). A line past the end is empty. */
static void find_line(const src_file *f, int line, const char **start, size_t *len)
{
    const char *p = f->text, *end = f->text + f->size;
    for (int l = 1; l < line && p < end; l++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) { p = end; break; }
        p = nl + 1;
    }
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    if (n > 0 && p[n - 1] == '\r') n--;
    *start = p;
    *len = n;
}

/* One display unit of a line: a valid UTF-8 character, or a single byte. */
static int unit_len(const unsigned char *p, size_t n, int *printable)
{
    uint32_t cp;
    utf8_error err;
    int k = utf8_decode(p, n, &cp, &err);
    if (k == 0) { *printable = 0; return 1; }
    *printable = !(cp < 0x20 && cp != '\t') && cp != 0x7F;
    return k;
}

static void excerpt(diag_sink *d, src_loc loc)
{
    const char *line;
    size_t len;
    find_line(loc.file, loc.first_line, &line, &len);
    char num[16];
    int width = snprintf(num, sizeof num, "%d", loc.first_line);
    if (width < 5) width = 5;
    FILE *o = d->out;
    fprintf(o, "%*d |", width, loc.first_line);
    if (len) fputc(' ', o);
    const unsigned char *u = (const unsigned char *)line;
    for (size_t p = 0; p < len;) {
        int ok, k = unit_len(u + p, len - p, &ok);
        if (ok) fwrite(u + p, 1, (size_t)k, o); else fputc('?', o);
        p += (size_t)k;
    }
    fputc('\n', o);

    long first = loc.first_col < 1 ? 1 : loc.first_col;
    long last = loc.last_line > loc.first_line ? (long)len : loc.last_col;
    if (last < first) last = first;
    fprintf(o, "%*s | ", width, "");
    int marked = 0;
    for (size_t p = 0; p < len;) {
        int ok, k = unit_len(u + p, len - p, &ok);
        long c0 = (long)p + 1, c1 = (long)p + k;       /* the unit's byte columns */
        if (c1 < first) fputc(u[p] == '\t' ? '\t' : ' ', o);
        else if (c0 <= last) { fputc(marked ? '~' : '^', o); marked = 1; }
        else break;
        p += (size_t)k;
    }
    if (!marked) {                                     /* the span starts at or past the line's end */
        for (long c = (long)len + 1; c < first; c++) fputc(' ', o);
        fputc('^', o);
    }
    fputc('\n', o);
}

static void report(diag_sink *d, const char *kind, src_loc loc, const char *fmt, va_list ap)
{
    FILE *o = d->out;
    if (!loc.file) fputs("vqc: ", o);
    else if (loc.first_line <= 0) fprintf(o, "%s: ", loc.file->path);
    else fprintf(o, "%s:%d:%d: ", loc.file->path, loc.first_line, loc.first_col);
    fprintf(o, "%s: ", kind);
    vfprintf(o, fmt, ap);
    fputc('\n', o);
    if (loc.file && loc.first_line > 0) excerpt(d, loc);
    fflush(o);
}

void diag_error(diag_sink *d, src_loc loc, const char *fmt, ...)
{
    d->errors++;
    if (d->stopped) { d->muted = 1; return; }
    if (d->max_errors > 0 && d->errors > d->max_errors) {
        d->stopped = 1;
        d->muted = 1;
        fprintf(d->out, "vqc: error: too many errors (more than %d); stopping\n", d->max_errors);
        fflush(d->out);
        return;
    }
    d->muted = 0;
    va_list ap;
    va_start(ap, fmt);
    report(d, "error", loc, fmt, ap);
    va_end(ap);
}

void diag_warning(diag_sink *d, src_loc loc, const char *fmt, ...)
{
    d->warnings++;
    if (d->stopped) { d->muted = 1; return; }
    d->muted = 0;
    va_list ap;
    va_start(ap, fmt);
    report(d, "warning", loc, fmt, ap);
    va_end(ap);
}

void diag_note(diag_sink *d, src_loc loc, const char *fmt, ...)
{
    if (d->muted || d->stopped) return;
    va_list ap;
    va_start(ap, fmt);
    report(d, "note", loc, fmt, ap);
    va_end(ap);
}

/* Levenshtein distance with two rows; names longer than 63 bytes are never "close". */
static int edit_distance(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 63 || nb > 63) return 1 << 20;
    int prev[64], cur[64];
    for (size_t j = 0; j <= nb; j++) prev[j] = (int)j;
    for (size_t i = 1; i <= na; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= nb; j++) {
            int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            int del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (nb + 1) * sizeof *prev);
    }
    return prev[nb];
}

const char *diag_closest(const char *name, const char *const *candidates)
{
    int limit = (int)strlen(name) / 3;
    if (limit < 1) limit = 1;
    const char *best = NULL;
    int best_d = limit + 1;
    for (; candidates && *candidates; candidates++) {
        int dist = edit_distance(name, *candidates);
        if (dist < best_d) { best_d = dist; best = *candidates; }
    }
    return best;
}
