/* progress.c: progress bar / log lines (see progress.h). */
#include "progress.h"

#include "timing.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#define TTY_REDRAW_S 0.1

void vq_progress_init(vq_progress *p, FILE *out, const char *label, int64_t start_step, int64_t total)
{
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = out && isatty(fileno(out));
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->start_step = start_step;
    p->total = total;
    p->every = total > 0 ? total / 20 : 100;
    if (p->every < 1) p->every = 1;
    p->interval_s = 30.0;
    p->t_start = p->t_last = vq_time_now();
    p->last_step = start_step;
}

/* Appends to buf at *len, never past cap - 1. */
static void add(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (k > 0) *len += (size_t)k < cap - *len ? (size_t)k : cap - *len - 1;
}

static void add_hms(char *buf, size_t cap, size_t *len, double s)
{
    if (!(s >= 0) || s > 359999) { add(buf, cap, len, "--:--:--"); return; }
    long t = (long)(s + 0.5);
    add(buf, cap, len, "%02ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
}

void vq_progress_format(const vq_progress *p, char *buf, size_t cap, int64_t step, double now,
                        const char *const *names, const double *values, int n)
{
    size_t len = 0;
    if (cap == 0) return;
    buf[0] = '\0';
    if (p->label[0]) add(buf, cap, &len, "%s ", p->label);
    double elapsed = now - p->t_start, done = (double)(step - p->start_step);
    double rate = elapsed > 0 && done > 0 ? done / elapsed : 0.0;
    if (p->total > 0) {
        add(buf, cap, &len, "%lld/%lld  %5.1f%%", (long long)step, (long long)p->total,
            100.0 * (double)step / (double)p->total);
    } else {
        add(buf, cap, &len, "%lld", (long long)step);
    }
    add(buf, cap, &len, rate >= 1.0 ? "  %.2f step/s" : "  %.3f step/s", rate);
    if (p->total > 0) {
        add(buf, cap, &len, "  ETA ");
        add_hms(buf, cap, &len, rate > 0 ? (double)(p->total - step) / rate : -1.0);
    }
    for (int i = 0; i < n; i++) add(buf, cap, &len, "  %s %.4g", names[i], values[i]);
}

int vq_progress_update(vq_progress *p, int64_t step, const char *const *names, const double *values, int n)
{
    if (!p->out) return 0;
    double now = vq_time_now();
    int last = p->total > 0 && step >= p->total;
    int due = p->tty ? now - p->t_last >= TTY_REDRAW_S
                     : step - p->last_step >= p->every || now - p->t_last >= p->interval_s;
    if (!due && !last) return 0;
    char line[512];
    vq_progress_format(p, line, sizeof line, step, now, names, values, n);
    if (p->tty) {
        fprintf(p->out, "\r%s\033[K", line); /* \033[K clears what a longer previous line left */
        p->drawn = 1;
    } else {
        fprintf(p->out, "%s\n", line);
    }
    fflush(p->out);
    p->t_last = now;
    p->last_step = step;
    return 1;
}

void vq_progress_finish(vq_progress *p)
{
    if (p->out && p->tty && p->drawn) {
        fputc('\n', p->out);
        fflush(p->out);
    }
    p->drawn = 0;
}
