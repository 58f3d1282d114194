/* metrics_csv.c: the CSV training log (see metrics.h): header from column
 * names, one flushed row per call, append mode that checks the header of the
 * file it continues. Not a general CSV library: numbers only, no quoting. */
#include "metrics.h"

#include "vq_common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct vq_csv {
    FILE *f;
    int n_columns;
    char *path;
};

/* "a,b,c" for the columns; NULL (message set) on a bad name or no memory. */
static char *header_line(const char *path, const char *const *columns, int n)
{
    size_t len = 1;
    for (int i = 0; i < n; i++) {
        if (!columns[i] || !columns[i][0]) {
            vq_fail(VQ_ERR_ARG, "%s: column %d has no name", path, i);
            return NULL;
        }
        if (strpbrk(columns[i], ",\"\r\n")) {
            vq_fail(VQ_ERR_ARG, "%s: column name '%s' contains a comma, quote or line break", path, columns[i]);
            return NULL;
        }
        len += strlen(columns[i]) + 1;
    }
    char *h = malloc(len);
    if (!h) {
        vq_fail(VQ_ERR_NOMEM, "%s: out of memory", path);
        return NULL;
    }
    h[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (i) strcat(h, ",");
        strcat(h, columns[i]);
    }
    return h;
}

/* Reads the first line of f (without its newline) into a malloc'd string. */
static char *first_line(FILE *f)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t got = getline(&line, &cap, f);
    if (got < 0) {
        free(line);
        return NULL;
    }
    while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r')) line[--got] = '\0';
    return line;
}

/* Cuts a trailing line that has no newline (a row cut short by a crash).
 * size > 0 is the file's length; *kept is what remains. */
static int drop_partial_line(FILE *f, const char *path, long size, long *kept)
{
    long end = size;
    while (end > 0) {
        if (fseek(f, end - 1, SEEK_SET)) break;
        int ch = fgetc(f);
        if (ch == '\n') break;
        end--;
    }
    *kept = end;
    if (end == size) return VQ_OK;
    if (fflush(f) || ftruncate(fileno(f), end))
        return vq_fail(VQ_ERR_IO, "%s: cannot cut the partial last line: %s", path, strerror(errno));
    return VQ_OK;
}

int vq_csv_open(vq_csv **out, const char *path, const char *const *columns, int n_columns, int append)
{
    *out = NULL;
    if (n_columns < 1) return vq_fail(VQ_ERR_ARG, "%s: a CSV log needs at least one column", path);
    char *header = header_line(path, columns, n_columns);
    if (!header) return VQ_ERR_ARG;
    FILE *f = NULL;
    int rc = VQ_OK, write_header = 1;
    if (append && (f = fopen(path, "r+"))) {
        if (fseek(f, 0, SEEK_END)) {
            rc = vq_fail(VQ_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
            goto done;
        }
        long size = ftell(f);
        if (size > 0) {
            rewind(f);
            char *have = first_line(f);
            if (!have || strcmp(have, header) != 0) {
                rc = vq_fail(VQ_ERR_MISMATCH, "%s: its header '%s' differs from this run's columns '%s'", path,
                             have ? have : "", header);
                free(have);
                goto done;
            }
            free(have);
            long kept;
            if ((rc = drop_partial_line(f, path, size, &kept))) goto done;
            write_header = kept == 0; /* only an unterminated header was there */
        }
        if (fseek(f, 0, SEEK_END)) {
            rc = vq_fail(VQ_ERR_IO, "%s: cannot seek: %s", path, strerror(errno));
            goto done;
        }
    } else {
        f = fopen(path, "w");
        if (!f) {
            rc = vq_fail(VQ_ERR_IO, "%s: cannot open for writing: %s", path, strerror(errno));
            goto done;
        }
    }
    if (write_header && (fprintf(f, "%s\n", header) < 0 || fflush(f))) {
        rc = vq_fail(VQ_ERR_IO, "%s: cannot write the header: %s", path, strerror(errno));
        goto done;
    }
    vq_csv *w = malloc(sizeof *w);
    char *p = strdup(path);
    if (!w || !p) {
        free(w);
        free(p);
        rc = vq_fail(VQ_ERR_NOMEM, "%s: out of memory", path);
        goto done;
    }
    *w = (vq_csv){f, n_columns, p};
    *out = w;
    f = NULL;
done:
    if (f) fclose(f);
    free(header);
    return rc;
}

int vq_csv_write(vq_csv *w, const double *values)
{
    for (int i = 0; i < w->n_columns; i++)
        if (fprintf(w->f, i ? ",%.9g" : "%.9g", values[i]) < 0)
            return vq_fail(VQ_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    if (fputc('\n', w->f) == EOF || fflush(w->f))
        return vq_fail(VQ_ERR_IO, "%s: write failed: %s", w->path, strerror(errno));
    return VQ_OK;
}

int vq_csv_close(vq_csv *w)
{
    if (!w) return VQ_OK;
    int rc = VQ_OK;
    if (fclose(w->f)) rc = vq_fail(VQ_ERR_IO, "%s: close failed: %s", w->path, strerror(errno));
    free(w->path);
    free(w);
    return rc;
}
