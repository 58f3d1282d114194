/* conv_wgrad.c: conv2d weight gradient dw^T (K, Co) += col (K, N) dy^T (N, Co)
 * with an AVX-512 register-tiled microkernel (method and legend: conv_wgrad.h).
 *
 * Extra legend: MR = 12 rows of K per tile (rp = 12/kw pairs), a panel is 32
 * output channels (the last one 16 when Co rounded up to 16 leaves 16), m and R
 * the images and output rows of a chunk, Wp, band the width and rows of the
 * padded x copy of one chunk-image, nv = panel width / 16.
 *
 * Slot of one thread: col (cols16 int32: each pixel's offset into x or xpad),
 * dT (panels pa..pb, each [cols][16*nv]), then xpad (m, ci range, band, Wp)
 * unless the conv has no padding (x is read in place).
 */
#include "conv_wgrad.h"

#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

#include "conv_common.h"

#define WG_TARGET __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
#define WG_MR 12
#define WG_NR 32
#define WG_NBLK 256   /* pixels summed in one register chain before the float add (accuracy) */
/* A chunk's packed buffers (dT for every panel + the padded x rows) fit this
 * many floats (4 MiB, like an im2col slot), and it has at most WG_MAX_COLS
 * columns so a thread's dT panels (cols x 32 floats, 256 KiB each) stay in L2
 * while every k-block streams them (1024 / 2048 / 4096 measured alike, 2048
 * a few % ahead on the tiny@32 shapes). */
#define WG_BUDGET_FLOATS ((size_t)1 << 20)
#define WG_MAX_COLS 2048
/* x rows of a group of k-blocks kept in L2 (256 KiB) while the thread's panels
 * pass over them; dw rows are then walked forward within a panel. Against
 * k-blocks-outer order this took the transposed adds into dw (an 8 MiB dw on
 * the PatchGAN's 256->512) from 27% of the time to 6%. */
#define WG_L2_FLOATS ((size_t)1 << 16)

typedef struct wg_plan {
    int kw, kh, rp;          /* pairs per k-block: 12 / kw */
    int npairs, nkb, npan;   /* Ci*kh pairs, k-blocks, channel panels */
    int Co16;                /* Co rounded up to 16 */
    int m, R;                /* chunk: m whole images (R = Ho) or one image's band of R rows */
    int img_chunks, row_chunks;
    int Wp, band;            /* padded x of one chunk-image: band rows of Wp */
    int direct;              /* no padding: the kernel reads x itself */
    int G;                   /* k-blocks per group (loop order in run_thread) */
    int kb_major;            /* items numbered k-block-major (see item_of) */
    size_t cols, cols16;     /* the widest chunk, m*R*Wo; rounded up to 16 */
} wg_plan;

static int cdiv(int a, int b) { return (a + b - 1) / b; }

static void plan_of(wg_plan *p, const vq_conv2d_shape *s)
{
    memset(p, 0, sizeof *p);
    p->kw = s->kw; p->kh = s->kh; p->rp = WG_MR / s->kw;
    p->npairs = s->Ci * s->kh;
    p->nkb = cdiv(p->npairs, p->rp);
    p->Co16 = cdiv(s->Co, 16) * 16;
    p->npan = cdiv(p->Co16, WG_NR);
    p->Wp = (s->Wo - 1) * s->stride_w + s->kw;
    p->direct = !s->pad_top && !s->pad_bottom && !s->pad_left && !s->pad_right;
    const size_t P = (size_t)s->Ho * s->Wo, dT_row = (size_t)p->npan * WG_NR;
    const size_t x_img = p->direct ? 0 : (size_t)s->Ci * ((s->Ho - 1) * s->stride_h + s->kh) * p->Wp;
    const size_t per_img = dT_row * P + x_img;
    if (per_img <= WG_BUDGET_FLOATS && P <= WG_MAX_COLS) {
        size_t m = WG_BUDGET_FLOATS / per_img, mc = WG_MAX_COLS / P;
        if (mc < m) m = mc;
        if (m > (size_t)s->B) m = s->B;
        p->img_chunks = cdiv(s->B, (int)m);
        p->m = cdiv(s->B, p->img_chunks);
        p->R = s->Ho; p->row_chunks = 1;
    } else {
        const size_t row = dT_row * s->Wo + (p->direct ? 0 : (size_t)s->Ci * s->stride_h * p->Wp);
        const size_t fixed = p->direct || s->kh <= s->stride_h ? 0 : (size_t)s->Ci * (s->kh - s->stride_h) * p->Wp;
        size_t R = WG_BUDGET_FLOATS > fixed + row ? (WG_BUDGET_FLOATS - fixed) / row : 1;
        if (R > (size_t)(WG_MAX_COLS / s->Wo)) R = WG_MAX_COLS / s->Wo;
        if (R < 1) R = 1;
        if (R > (size_t)s->Ho) R = s->Ho;
        p->row_chunks = cdiv(s->Ho, (int)R);
        p->R = cdiv(s->Ho, p->row_chunks);
        p->m = 1; p->img_chunks = s->B;
    }
    p->band = (p->R - 1) * s->stride_h + s->kh;
    p->cols = (size_t)p->m * p->R * s->Wo;
    p->cols16 = (p->cols + 15) / 16 * 16;
    /* x floats one k-block reads: about rp/kh + 1 channels of the chunk */
    const size_t x_kb = ((size_t)p->rp / s->kh + 1) * p->m *
                        (p->direct ? (size_t)p->R * s->stride_h * s->W : (size_t)p->band * p->Wp);
    const size_t G = WG_L2_FLOATS / (x_kb ? x_kb : 1);
    p->G = G < 1 ? 1 : G > (size_t)p->nkb ? p->nkb : (int)G;
    /* split the channels when a chunk's x rows outweigh its dT (deep layers on small images) */
    p->kb_major = !p->direct && (size_t)s->Ci * p->band * p->Wp > (size_t)p->npan * WG_NR * p->R * s->Wo;
}

static size_t dT_floats(const wg_plan *p) { return (size_t)p->npan * WG_NR * p->cols; }

size_t vq_conv_wgrad_slot_floats(const vq_conv2d_shape *s)
{
    wg_plan p;
    plan_of(&p, s);
    size_t x = p.direct ? 0 : (size_t)p.m * s->Ci * p.band * p.Wp;
    return p.cols16 + (dT_floats(&p) + x + 15) / 16 * 16;   /* col table (int32), dT, xpad */
}

/* Measured (kernels_model_bench tiny32/fmnist/f16 ab, 2 threads, blas/native):
 * 3x3 and k4 shapes of batch 32 gain 1.15-2.2x, Co = 3 included (56 vs 27
 * GFLOP/s: a 16-wide panel 3/16 used still beats an sgemm with 3 rows), 1x1
 * 1.2-1.3x; f16@256 (batch 1) gains 1.07-1.46x down to 32x32 but loses on its
 * 16x16 layers (256 pixels: 0.91-0.94x; each 12x32 tile then sums only 256
 * columns, while OpenBLAS's one-image im2col is cheap), so one image of
 * <= 256 pixels stays on the old path. Co = 1 never gets here (conv2d_co1.c);
 * kw > 4 has no kernel; the pixel offsets of a chunk must fit int32. */
int vq_conv_wgrad_fits(const vq_conv2d_shape *s)
{
    if (s->kw > 4) return 0;
    if (s->B == 1 && (size_t)s->Ho * s->Wo <= 256) return 0;
    wg_plan p;
    plan_of(&p, s);
    const size_t img = p.direct ? (size_t)s->Ci * s->H * s->W : (size_t)s->Ci * p.band * p.Wp;
    return (size_t)p.m * img < ((size_t)1 << 31) - 1;
}

/* ---- packing ---------------------------------------------------------- */

/* r (16 rows of 16) transposed in place: r[j] lane i = old r[i] lane j. */
static inline WG_TARGET void transpose16(__m512 r[16])
{
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 2]);
        __m512d c = _mm512_castps_pd(t[i + 1]), d = _mm512_castps_pd(t[i + 3]);
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, b));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, b));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(c, d));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(c, d));
    }
    for (int i = 0; i < 4; i++) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 8; i++) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}

/* dst (L, ld) columns 0..15 = src (rows, L; row stride lds)^T, rows past `rows`
 * (<= 16, may be <= 0) as zeros. */
static WG_TARGET void pack_transposed(float *dst, size_t ld, const float *src, size_t lds, int rows, int L)
{
    for (int n = 0; n < L; n += 16) {
        const int c = L - n < 16 ? L - n : 16;
        const __mmask16 k = (__mmask16)((1u << c) - 1);
        __m512 r[16];
        for (int i = 0; i < 16; i++)
            r[i] = i < rows ? _mm512_maskz_loadu_ps(k, src + i * lds + n) : _mm512_setzero_ps();
        transpose16(r);
        for (int j = 0; j < c; j++) _mm512_storeu_ps(dst + (size_t)(n + j) * ld, r[j]);
    }
}

/* Panel pan of the chunk (images n0.., rows r0..r0+R) of dy: dT [m*R*Wo][w], w = 32 or 16. */
static void pack_panel(float *dT, const float *dy, const vq_conv2d_shape *s, const wg_plan *p, int pan,
                       int n0, int m, int r0, int R)
{
    const int co0 = pan * WG_NR, w = p->Co16 - co0 < WG_NR ? p->Co16 - co0 : WG_NR, L = R * s->Wo;
    const size_t P = (size_t)s->Ho * s->Wo;
    for (int j = 0; j < m; j++)
        for (int v = 0; v < w; v += 16) {
            const float *src = dy + ((size_t)(n0 + j) * s->Co + co0 + v) * P + (size_t)r0 * s->Wo;
            pack_transposed(dT + (size_t)j * L * w + v, w, src, P, s->Co - co0 - v, L);
        }
}

/* xpad (m, c1-c0, band, Wp) = x rows r0*sh-pt .. of channels c0..c1, columns -pl.., zeros outside. */
static WG_TARGET void pad_rows(float *xp, const float *x, const vq_conv2d_shape *s, const wg_plan *p, int c0, int c1,
                     int n0, int m, int r0)
{
    const int Wp = p->Wp, y0 = r0 * s->stride_h - s->pad_top, pl = s->pad_left;
    const int lo = pl, hi = s->W + pl < Wp ? s->W + pl : Wp;   /* columns of xpad that hold x */
    for (int j = 0; j < m; j++)
        for (int c = c0; c < c1; c++) {
            const float *xc = x + ((size_t)(n0 + j) * s->Ci + c) * s->H * s->W;
            float *d = xp + ((size_t)j * (c1 - c0) + (c - c0)) * p->band * Wp;
            for (int r = 0; r < p->band; r++, d += Wp) {
                const int iy = y0 + r;
                if (iy < 0 || iy >= s->H || hi <= lo) { memset(d, 0, sizeof(float) * Wp); continue; }
                const float *src = xc + (size_t)iy * s->W - pl;
                if (Wp <= 64) {   /* short rows (small images): masked 16-wide moves, no libc calls */
                    for (int i = 0; i < Wp; i += 16) {
                        const int n = Wp - i < 16 ? Wp - i : 16;
                        const int a = lo > i ? lo - i : 0, b = hi - i < n ? hi - i : n;   /* x lanes [a, b) */
                        const __mmask16 mx = b > a ? (__mmask16)(((1u << b) - 1) & ~((1u << a) - 1)) : 0;
                        _mm512_mask_storeu_ps(d + i, (__mmask16)((1u << n) - 1), _mm512_maskz_loadu_ps(mx, src + i));
                    }
                    continue;
                }
                memset(d, 0, sizeof(float) * lo);
                memcpy(d + lo, src + lo, sizeof(float) * (hi - lo));
                memset(d + hi, 0, sizeof(float) * (Wp - hi));
            }
        }
}

/* ---- microkernel ------------------------------------------------------ */

/* out (12, 32) = sum over the chunk's N columns of the 12 col rows times the
 * dT panel columns (nv*16 wide). Column n of pair i, tap kx is
 * xb[off[i] + col[n] + kx]: col (the pixel's offset, one table per chunk) makes
 * the loop one flat run over the pixels of all images and rows, so rows of 3
 * or 4 pixels (the PatchGAN's last layers) cost no row set-up. */
static inline __attribute__((always_inline)) WG_TARGET void tile(const int kw, const int nv, float *out,
                                                               const float *xb, const ptrdiff_t *off,
                                                               const int32_t *col, int N, const float *dT)
{
    const int rp = WG_MR / kw;
    __m512 a0[WG_MR], a1[WG_MR];
#pragma GCC unroll 12
    for (int i = 0; i < WG_MR; i++) { a0[i] = _mm512_setzero_ps(); a1[i] = _mm512_setzero_ps(); }
    /* one pointer per pair, kx as the displacement: base + index*4 + disp addressing */
    const float *pp[WG_MR];
#pragma GCC unroll 12
    for (int i = 0; i < rp; i++) pp[i] = xb + off[i];
    for (int n = 0; n < N; n++, dT += 16 * nv) {
        const ptrdiff_t c = col[n];
        const __m512 d0 = _mm512_loadu_ps(dT);
        const __m512 d1 = nv > 1 ? _mm512_loadu_ps(dT + 16) : d0;
#pragma GCC unroll 12
        for (int i = 0; i < rp; i++)
#pragma GCC unroll 4
            for (int kx = 0; kx < kw; kx++) {
                const __m512 v = _mm512_set1_ps(pp[i][c + kx]);
                a0[i * kw + kx] = _mm512_fmadd_ps(v, d0, a0[i * kw + kx]);
                if (nv > 1) a1[i * kw + kx] = _mm512_fmadd_ps(v, d1, a1[i * kw + kx]);
            }
    }
#pragma GCC unroll 12
    for (int i = 0; i < WG_MR; i++) {
        _mm512_store_ps(out + i * WG_NR, a0[i]);
        _mm512_store_ps(out + i * WG_NR + 16, a1[i]);
    }
}

typedef void (*wg_kernel)(float *, const float *, const ptrdiff_t *, const int32_t *, int, const float *);
#define WG_KERNEL(KW, NV)                                                                       \
    static WG_TARGET void tile_##KW##_##NV(float *o, const float *xb, const ptrdiff_t *off,     \
                                           const int32_t *col, int N, const float *dT)          \
    { tile(KW, NV, o, xb, off, col, N, dT); }
WG_KERNEL(1, 1) WG_KERNEL(1, 2) WG_KERNEL(2, 1) WG_KERNEL(2, 2)
WG_KERNEL(3, 1) WG_KERNEL(3, 2) WG_KERNEL(4, 1) WG_KERNEL(4, 2)
static const wg_kernel kernels[4][2] = {
    {tile_1_1, tile_1_2}, {tile_2_1, tile_2_2}, {tile_3_1, tile_3_2}, {tile_4_1, tile_4_2}};

/* ---- driver ----------------------------------------------------------- */

/* d[c][k] (row stride K) += out[k][c] for c < nco (<= 32, may exceed 32: clipped), k < nk (<= 12). */
static WG_TARGET void add_transposed(float *d, int K, const float *out, int nco, int nk)
{
    const __mmask16 km = (__mmask16)((1u << nk) - 1);
    for (int h = 0; h < 2 && h * 16 < nco; h++) {
        __m512 r[16];
        for (int i = 0; i < 16; i++) r[i] = i < WG_MR ? _mm512_load_ps(out + i * WG_NR + h * 16) : _mm512_setzero_ps();
        transpose16(r);
        const int n = nco - h * 16 < 16 ? nco - h * 16 : 16;
        for (int c = 0; c < n; c++) {
            float *dc = d + (size_t)(h * 16 + c) * K;
            _mm512_mask_storeu_ps(dc, km, _mm512_add_ps(_mm512_maskz_loadu_ps(km, dc), r[c]));
            _mm_prefetch((const char *)(dc + 16), _MM_HINT_T0);   /* the next k-block's segment of this row */
        }
    }
}

static int panel_nv(const wg_plan *p, int pan) { return p->Co16 - pan * WG_NR < WG_NR ? 1 : 2; }

/* Tile (pan, kb) as an item number: panel-major (threads split the panels, each
 * pads all the x rows it reads) or k-block-major (threads split the channels,
 * each packs every dT panel), whichever duplicates less (plan_of). */
static int item_of(const wg_plan *p, int pan, int kb) { return p->kb_major ? kb * p->npan + pan : pan * p->nkb + kb; }
static int item_panel(const wg_plan *p, int it) { return p->kb_major ? it % p->npan : it / p->nkb; }

/* Thread t of nt owns items [*ia, *ib), cut by cost (nv). */
static void items_of(const wg_plan *p, int t, int nt, int *ia, int *ib)
{
    long total = 0;
    for (int pan = 0; pan < p->npan; pan++) total += (long)panel_nv(p, pan) * p->nkb;
    const long lo = total * t / nt, hi = total * (t + 1) / nt;
    long acc = 0;
    *ia = *ib = p->npan * p->nkb;
    int a_set = 0;
    for (int it = 0; it < p->npan * p->nkb; it++) {
        if (!a_set && acc >= lo) { *ia = it; a_set = 1; }
        if (acc >= hi) { *ib = it; break; }
        acc += panel_nv(p, item_panel(p, it));
    }
    if (!a_set) *ia = *ib;
}

static void run_thread(float *dw, const float *dy, const float *x, const vq_conv2d_shape *s, const wg_plan *p,
                       float *slot, int t, int nt)
{
    int ia, ib;
    items_of(p, t, nt, &ia, &ib);
    if (ia >= ib) return;
    const int K = s->Ci * s->kh * s->kw, kw = s->kw;
    int pa, pb, kb_lo, kb_hi;   /* hulls of the owned panels and k-blocks */
    if (p->kb_major) {
        kb_lo = ia / p->npan; kb_hi = (ib - 1) / p->npan;
        pa = kb_lo == kb_hi ? ia % p->npan : 0; pb = kb_lo == kb_hi ? (ib - 1) % p->npan : p->npan - 1;
    } else {
        pa = ia / p->nkb; pb = (ib - 1) / p->nkb;
        kb_lo = pa == pb ? ia % p->nkb : 0; kb_hi = pa == pb ? (ib - 1) % p->nkb : p->nkb - 1;
    }
    const int q_hi = (kb_hi + 1) * p->rp < p->npairs ? (kb_hi + 1) * p->rp : p->npairs;
    const int c0 = kb_lo * p->rp / s->kh, c1 = (q_hi - 1) / s->kh + 1;
    const size_t HW = (size_t)s->H * s->W, pstride = WG_NR * p->cols;
    int32_t *col = (int32_t *)slot;   /* (cols) */
    float *dT = slot + p->cols16, *xp = dT + (size_t)(pb - pa + 1) * pstride;
    float out[WG_MR * WG_NR] __attribute__((aligned(64))), acc[WG_MR * WG_NR] __attribute__((aligned(64)));
    ptrdiff_t off[WG_MR];
    for (int ch = 0; ch < p->img_chunks * p->row_chunks; ch++) {
        const int n0 = ch / p->row_chunks * p->m, r0 = ch % p->row_chunks * p->R;
        const int m = s->B - n0 < p->m ? s->B - n0 : p->m, R = s->Ho - r0 < p->R ? s->Ho - r0 : p->R;
        for (int pan = pa; pan <= pb; pan++) pack_panel(dT + (pan - pa) * pstride, dy, s, p, pan, n0, m, r0, R);
        /* col[n] for pixel n = (j, oy, ox) of the chunk: its offset from xb (first tap of channel cb) */
        const float *xb;
        ptrdiff_t img, row;
        int cb = c0;   /* channel of xb's first plane */
        if (p->direct) {
            xb = x + (size_t)n0 * s->Ci * HW + (size_t)r0 * s->stride_h * s->W;
            img = (ptrdiff_t)(s->Ci * HW); row = (ptrdiff_t)s->stride_h * s->W;
            cb = 0;
        } else {
            pad_rows(xp, x, s, p, c0, c1, n0, m, r0);
            xb = xp;
            img = (ptrdiff_t)(c1 - c0) * p->band * p->Wp; row = (ptrdiff_t)s->stride_h * p->Wp;
        }
        int N = 0;
        for (int j = 0; j < m; j++)
            for (int oy = 0; oy < R; oy++)
                for (int ox = 0; ox < s->Wo; ox++) col[N++] = (int32_t)(j * img + oy * row + (ptrdiff_t)ox * s->stride_w);
        const ptrdiff_t cs = p->direct ? (ptrdiff_t)HW : (ptrdiff_t)p->band * p->Wp;
        const ptrdiff_t rs = p->direct ? s->W : p->Wp;
        /* groups of G k-blocks whose x rows stay in L2 while every owned panel passes; within a
         * panel the k-blocks in order, so each dw row is walked forward (prefetched in add_transposed) */
        for (int kg = kb_lo; kg <= kb_hi; kg += p->G)
        for (int pan = pa; pan <= pb; pan++)
        for (int kb = kg; kb < kg + p->G && kb <= kb_hi; kb++) {
            const int it = item_of(p, pan, kb), nv = panel_nv(p, pan);
            if (it < ia || it >= ib) continue;
            const int q0 = kb * p->rp, nq = p->npairs - q0 < p->rp ? p->npairs - q0 : p->rp;
            for (int i = 0; i < p->rp; i++) {
                const int q = q0 + (i < nq ? i : nq - 1);   /* past the last pair: any valid row, dropped */
                off[i] = (q / s->kh - cb) * cs + (q % s->kh) * rs;
            }
            /* the chunk's pixels in runs of WG_NBLK, each summed in registers and the runs
             * added in float: a sum of N terms in one register chain had twice the rounding
             * error of OpenBLAS's blocked one (and moved the 2-step GAN parity loss by 2e-3) */
            const float *dTp = dT + (pan - pa) * pstride;
            const int first = N < WG_NBLK ? N : WG_NBLK;
            kernels[kw - 1][nv - 1](acc, xb, off, col, first, dTp);
            for (int nb = first; nb < N; nb += WG_NBLK) {
                const int len = N - nb < WG_NBLK ? N - nb : WG_NBLK;
                kernels[kw - 1][nv - 1](out, xb, off, col + nb, len, dTp + (size_t)nb * 16 * nv);
                for (int i = 0; i < WG_MR * WG_NR; i++) acc[i] += out[i];
            }
            add_transposed(dw + (size_t)pan * WG_NR * K + (size_t)q0 * kw, K, acc, s->Co - pan * WG_NR, nq * kw);
        }
    }
}

void vq_conv_wgrad(float *dw, const float *dy, const float *x, const vq_conv2d_shape *s, float *scratch)
{
    wg_plan p;
    plan_of(&p, s);
    const size_t slot = vq_conv_wgrad_slot_floats(s);
    const int nt = vq_kernel_threads();
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        run_thread(dw, dy, x, s, &p, scratch + (size_t)t * slot, t, n);
    }
}
