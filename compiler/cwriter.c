/* cwriter.c: indentation-aware text output and unique names for generated C
 * (see cwriter.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cwriter.h"

void cw_init(cwriter *w) { memset(w, 0, sizeof *w); }

void cw_free(cwriter *w)
{
    free(w->buf);
    for (int i = 0; i < w->n_names; i++) free(w->names[i]);
    free(w->names);
    memset(w, 0, sizeof *w);
}

const char *cw_text(const cwriter *w) { return w->buf ? w->buf : ""; }

static void put(cwriter *w, const char *s, size_t n)
{
    if (w->failed) return;
    if (w->len + n + 1 > w->cap) {
        size_t cap = w->cap ? w->cap : 4096;
        while (cap < w->len + n + 1) cap *= 2;
        char *b = realloc(w->buf, cap);
        if (!b) { w->failed = 1; return; }
        w->buf = b;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

static void vput(cwriter *w, const char *fmt, va_list ap)
{
    char small[1024];
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    if (n < 0) { w->failed = 1; return; }
    if ((size_t)n < sizeof small) { put(w, small, (size_t)n); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { w->failed = 1; return; }
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    put(w, big, (size_t)n);
    free(big);
}

static void indent(cwriter *w)
{
    for (int i = 0; i < w->depth; i++) put(w, "    ", 4);
}

void cw_line(cwriter *w, const char *fmt, ...)
{
    va_list ap;
    indent(w);
    va_start(ap, fmt);
    vput(w, fmt, ap);
    va_end(ap);
    put(w, "\n", 1);
}

void cw_raw(cwriter *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vput(w, fmt, ap);
    va_end(ap);
}

void cw_open(cwriter *w, const char *fmt, ...)
{
    va_list ap;
    indent(w);
    va_start(ap, fmt);
    vput(w, fmt, ap);
    va_end(ap);
    put(w, " {\n", 3);
    w->depth++;
}

void cw_close(cwriter *w, const char *suffix)
{
    if (w->depth > 0) w->depth--;
    indent(w);
    put(w, "}", 1);
    if (suffix) put(w, suffix, strlen(suffix));
    put(w, "\n", 1);
}

void cw_begin(cwriter *w)
{
    indent(w);
    put(w, "{\n", 2);
    w->depth++;
}

void cw_blank(cwriter *w) { put(w, "\n", 1); }

const char *cw_unique(cwriter *w, const char *base)
{
    char id[256];
    size_t n = 0;
    if (!base || !*base) base = "v";
    if (base[0] >= '0' && base[0] <= '9') id[n++] = '_';
    for (const char *p = base; *p && n < 200; p++) {
        char c = *p;
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        id[n++] = ok ? c : '_';
    }
    id[n] = '\0';
    char cand[272];
    snprintf(cand, sizeof cand, "%s", id);
    for (int k = 2;; k++) {
        int clash = 0;
        for (int i = 0; i < w->n_names && !clash; i++) clash = strcmp(w->names[i], cand) == 0;
        if (!clash) break;
        snprintf(cand, sizeof cand, "%s_%d", id, k);
    }
    if (w->n_names == w->cap_names) {
        int cap = w->cap_names ? 2 * w->cap_names : 64;
        char **g = realloc(w->names, (size_t)cap * sizeof *g);
        if (!g) { w->failed = 1; return "oom"; }
        w->names = g;
        w->cap_names = cap;
    }
    char *s = strdup(cand);
    if (!s) { w->failed = 1; return "oom"; }
    w->names[w->n_names++] = s;
    return s;
}

const char *cw_double(char *buf, double v)
{
    snprintf(buf, 40, "%.17g", v);
    if (!strpbrk(buf, ".eEni")) strcat(buf, ".0");   /* not for inf/nan: no such literal anyway */
    return buf;
}
