/* im2col.c: column transform for the convolution kernels (see im2col.h).
 * Parallel over column rows (im2col) or image channels (col2im), so callers
 * must invoke it outside any OpenMP region and never from inside sgemm. */
#include "im2col.h"

#include <stddef.h>
#include <string.h>

int vq_col_tile_rows(const vq_col_geom *g)
{
    size_t per_row = (size_t)g->C * g->kh * g->kw * (size_t)g->Wo;
    size_t r = per_row ? VQ_COL_BUDGET_FLOATS / per_row : (size_t)g->Ho;
    if (r < 1) r = 1;
    if (r > (size_t)g->Ho) r = (size_t)g->Ho;
    return (int)r;
}

size_t vq_col_scratch_floats(const vq_col_geom *g)
{
    return (size_t)g->C * g->kh * g->kw * (size_t)vq_col_tile_rows(g) * (size_t)g->Wo;
}

/* Output columns ox in [*lo, *hi) read ix = ox*sw - pl + kx inside [0, W). */
static void valid_cols(const vq_col_geom *g, int kx, int *lo, int *hi)
{
    int off = kx - g->pl;                 /* ix = ox*sw + off */
    int a = off >= 0 ? 0 : (-off + g->sw - 1) / g->sw;
    int b = g->W - off <= 0 ? 0 : (g->W - off + g->sw - 1) / g->sw; /* first ox with ix >= W */
    if (b > g->Wo) b = g->Wo;
    if (a > b) a = b;
    *lo = a; *hi = b;
}

void vq_im2col_rows(float *col, const float *x, const vq_col_geom *g, int r0, int R)
{
    const int K = g->C * g->kh * g->kw, Wo = g->Wo, sw = g->sw;
    const size_t HW = (size_t)g->H * g->W;
#pragma omp parallel for schedule(static) if (K > 1)
    for (int k = 0; k < K; k++) {
        int c = k / (g->kh * g->kw), ky = (k / g->kw) % g->kh, kx = k % g->kw;
        int lo, hi;
        valid_cols(g, kx, &lo, &hi);
        const float *xc = x + (size_t)c * HW;
        float *dst = col + (size_t)k * R * Wo;
        for (int r = 0; r < R; r++, dst += Wo) {
            int iy = (r0 + r) * g->sh - g->pt + ky;
            if (iy < 0 || iy >= g->H || lo >= hi) { memset(dst, 0, sizeof(float) * Wo); continue; }
            /* ix = ox*sw + base - iy*W; index from the row start so no pointer leaves the array. */
            ptrdiff_t base = (ptrdiff_t)iy * g->W + (kx - g->pl);
            for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
            if (sw == 1) memcpy(dst + lo, xc + base + lo, sizeof(float) * (hi - lo));
            else for (int ox = lo; ox < hi; ox++) dst[ox] = xc[base + (ptrdiff_t)ox * sw];
            for (int ox = hi; ox < Wo; ox++) dst[ox] = 0.0f;
        }
    }
}

void vq_col2im_rows_add(float *x, const float *col, const vq_col_geom *g, int r0, int R)
{
    const int kk = g->kh * g->kw, Wo = g->Wo, sw = g->sw;
    const size_t HW = (size_t)g->H * g->W;
    /* One thread per channel: taps of different channels never write the same pixel. */
#pragma omp parallel for schedule(static) if (g->C > 1)
    for (int c = 0; c < g->C; c++) {
        float *xc = x + (size_t)c * HW;
        for (int t = 0; t < kk; t++) {
            int ky = t / g->kw, kx = t % g->kw, lo, hi;
            valid_cols(g, kx, &lo, &hi);
            const float *src = col + ((size_t)c * kk + t) * R * Wo;
            for (int r = 0; r < R; r++, src += Wo) {
                int iy = (r0 + r) * g->sh - g->pt + ky;
                if (iy < 0 || iy >= g->H) continue;
                ptrdiff_t base = (ptrdiff_t)iy * g->W + (kx - g->pl);
                for (int ox = lo; ox < hi; ox++) xc[base + (ptrdiff_t)ox * sw] += src[ox];
            }
        }
    }
}
