/* im2col.c: column transform and GEMM column tiling for the convolution
 * kernels (see im2col.h). The *_ld versions are serial: the conv kernels call
 * them from inside their own parallel regions, one tile per thread. The plain
 * versions are parallel over column rows (im2col) or image channels (col2im)
 * for callers on the main thread. */
#include "im2col.h"

#include <omp.h>
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

/* Short copies and fills as plain loops: rows of 8x8 and 16x16 images are 8-64
 * floats, where a memcpy/memset call costs more than the move. */
static inline void copy_f(float *restrict d, const float *restrict s, size_t n)
{
    if (n >= 64) { memcpy(d, s, sizeof(float) * n); return; }
    for (size_t i = 0; i < n; i++) d[i] = s[i];
}
static inline void zero_f(float *d, size_t n)
{
    if (n >= 64) { memset(d, 0, sizeof(float) * n); return; }
    for (size_t i = 0; i < n; i++) d[i] = 0.0f;
}

/* Column row of tap (ky, kx) of channel plane xc (H, W), output rows [r0, r0+R);
 * [lo, hi) = valid_cols(kx). */
static inline void im2col_tap(float *dst, const float *xc, const vq_col_geom *g, int ky, int kx, int lo, int hi,
                              int r0, int R)
{
    const int Wo = g->Wo, sw = g->sw;
    if (g->sh == 1 && sw == 1 && Wo == g->W) {
        /* Unit stride, output rows as wide as input rows: the valid rows of this tap
         * are one contiguous run of x shifted by kx - pl, so one copy moves them all
         * and only the lo/hi edge columns of each row are then zeroed (for 3x3 "same"
         * padding, one value per row). */
        int ra = g->pt - ky - r0, rb = g->H + g->pt - ky - r0;   /* rows r with 0 <= iy < H */
        if (ra < 0) ra = 0;
        if (rb > R) rb = R;
        if (ra >= rb || lo >= hi) { zero_f(dst, (size_t)R * Wo); return; }
        if (ra > 0) zero_f(dst, (size_t)ra * Wo);
        if (rb < R) zero_f(dst + (size_t)rb * Wo, (size_t)(R - rb) * Wo);
        int iy = r0 + ra - g->pt + ky;
        ptrdiff_t src = (ptrdiff_t)iy * g->W + (kx - g->pl);  /* x index of output column 0 of row ra */
        size_t from = (size_t)ra * Wo + lo, to = (size_t)(rb - 1) * Wo + hi;
        copy_f(dst + from, xc + src + lo, to - from);
        if (lo > 0 || hi < Wo)
            for (int r = ra; r < rb; r++) {
                float *d = dst + (size_t)r * Wo;
                for (int ox = 0; ox < lo; ox++) d[ox] = 0.0f;
                for (int ox = hi; ox < Wo; ox++) d[ox] = 0.0f;
            }
        return;
    }
    for (int r = 0; r < R; r++, dst += Wo) {
        int iy = (r0 + r) * g->sh - g->pt + ky;
        if (iy < 0 || iy >= g->H || lo >= hi) { zero_f(dst, (size_t)Wo); continue; }
        /* ix = ox*sw + base - iy*W; index from the row start so no pointer leaves the array. */
        ptrdiff_t base = (ptrdiff_t)iy * g->W + (kx - g->pl);
        for (int ox = 0; ox < lo; ox++) dst[ox] = 0.0f;
        if (sw == 1) copy_f(dst + lo, xc + base + lo, (size_t)(hi - lo));
        else for (int ox = lo; ox < hi; ox++) dst[ox] = xc[base + (ptrdiff_t)ox * sw];
        for (int ox = hi; ox < Wo; ox++) dst[ox] = 0.0f;
    }
}

/* Column row k (channel c, tap ky, kx) of output rows [r0, r0+R). */
static void im2col_row(float *dst, const float *x, const vq_col_geom *g, int k, int r0, int R)
{
    int c = k / (g->kh * g->kw), ky = (k / g->kw) % g->kh, kx = k % g->kw;
    int lo, hi;
    valid_cols(g, kx, &lo, &hi);
    im2col_tap(dst, x + (size_t)c * g->H * g->W, g, ky, kx, lo, hi, r0, R);
}

/* Channel c's taps of col (rows c*kh*kw ...) added back into x. */
static void col2im_channel(float *x, const float *col, size_t ldcol, const vq_col_geom *g, int c, int r0, int R)
{
    const int kk = g->kh * g->kw, Wo = g->Wo, sw = g->sw;
    float *xc = x + (size_t)c * g->H * g->W;
    for (int t = 0; t < kk; t++) {
        int ky = t / g->kw, kx = t % g->kw, lo, hi;
        valid_cols(g, kx, &lo, &hi);
        const float *src = col + ((size_t)c * kk + t) * ldcol;
        for (int r = 0; r < R; r++, src += Wo) {
            int iy = (r0 + r) * g->sh - g->pt + ky;
            if (iy < 0 || iy >= g->H) continue;
            ptrdiff_t base = (ptrdiff_t)iy * g->W + (kx - g->pl);
            if (sw == 1) { float *d = xc + base; for (int ox = lo; ox < hi; ox++) d[ox] += src[ox]; }
            else for (int ox = lo; ox < hi; ox++) xc[base + (ptrdiff_t)ox * sw] += src[ox];
        }
    }
}

void vq_im2col_rows(float *col, const float *x, const vq_col_geom *g, int r0, int R)
{
    const int K = g->C * g->kh * g->kw;
    const size_t ld = (size_t)R * g->Wo;
#pragma omp parallel for schedule(static) if (K > 1 && !omp_in_parallel())
    for (int k = 0; k < K; k++) im2col_row(col + (size_t)k * ld, x, g, k, r0, R);
}

void vq_im2col_rows_ld(float *col, size_t ldcol, const float *x, const vq_col_geom *g, int r0, int R)
{
    int lo[16], hi[16];   /* valid columns per kx, for kernels up to 16 wide */
    if (g->kw > 16) {
        for (int k = 0; k < g->C * g->kh * g->kw; k++) im2col_row(col + (size_t)k * ldcol, x, g, k, r0, R);
        return;
    }
    for (int kx = 0; kx < g->kw; kx++) valid_cols(g, kx, &lo[kx], &hi[kx]);
    const size_t HW = (size_t)g->H * g->W;
    for (int c = 0; c < g->C; c++)
        for (int ky = 0; ky < g->kh; ky++)
            for (int kx = 0; kx < g->kw; kx++, col += ldcol)
                im2col_tap(col, x + (size_t)c * HW, g, ky, kx, lo[kx], hi[kx], r0, R);
}

void vq_col2im_rows_add(float *x, const float *col, const vq_col_geom *g, int r0, int R)
{
    const size_t ld = (size_t)R * g->Wo;
    /* One thread per channel: taps of different channels never write the same pixel. */
#pragma omp parallel for schedule(static) if (g->C > 1 && !omp_in_parallel())
    for (int c = 0; c < g->C; c++) col2im_channel(x, col, ld, g, c, r0, R);
}

void vq_col2im_rows_add_ld(float *x, const float *col, size_t ldcol, const vq_col_geom *g, int r0, int R)
{
    for (int c = 0; c < g->C; c++) col2im_channel(x, col, ldcol, g, c, r0, R);
}

/* ---- tiling ----------------------------------------------------------------- */

int vq_col_tile_cols(size_t K, int Wo)
{
    size_t c = K ? VQ_COL_BUDGET_FLOATS / K : VQ_COL_MAX_COLS;
    if (c > VQ_COL_MAX_COLS) c = VQ_COL_MAX_COLS;
    if (c < (size_t)Wo) c = (size_t)Wo;
    return (int)c;
}

static int ceil_div(int a, int b) { return (a + b - 1) / b; }
static int round_up(int a, int b) { return ceil_div(a, b) * b; }

void vq_col_tiling_plan(vq_col_tiling *t, int B, int Ho, int Wo, size_t K, int nt)
{
    const int cols = vq_col_tile_cols(K, Wo);
    const size_t P = (size_t)Ho * Wo;
    if (nt < 1) nt = 1;
    t->B = B; t->Ho = Ho; t->Wo = Wo;
    if (P <= (size_t)cols) {                   /* whole images, several per tile */
        int m = (int)((size_t)cols / P);
        if (m > B) m = B;
        int tiles = ceil_div(B, m);
        if (tiles < B) tiles = round_up(tiles, nt) < B ? round_up(tiles, nt) : B;  /* balance */
        t->img_tiles = tiles;
        t->row_tiles = 1;
        if (tiles == B && B < nt) t->row_tiles = ceil_div(nt, B) < Ho ? ceil_div(nt, B) : Ho;
    } else {                                   /* bands of rows of one image */
        int rows = cols / Wo;
        t->img_tiles = B;
        t->row_tiles = ceil_div(Ho, rows);
        if (B % nt) {   /* the batch alone does not split evenly: make the bands do it */
            int r = round_up(t->row_tiles, nt);
            t->row_tiles = r < Ho ? r : Ho;
        }
    }
    int m = ceil_div(B, t->img_tiles), R = ceil_div(Ho, t->row_tiles);
    t->max_cols = m * R * Wo;
}

void vq_col_tile(const vq_col_tiling *t, int i, int *n0, int *m, int *r0, int *R)
{
    int it = i / t->row_tiles, rt = i % t->row_tiles;
    int a = (int)((long)it * t->B / t->img_tiles), b = (int)((long)(it + 1) * t->B / t->img_tiles);
    int ra = (int)((long)rt * t->Ho / t->row_tiles), rb = (int)((long)(rt + 1) * t->Ho / t->row_tiles);
    *n0 = a; *m = b - a; *r0 = ra; *R = rb - ra;
}
