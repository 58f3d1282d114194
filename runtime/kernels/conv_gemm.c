/* conv_gemm.c: AVX-512 implicit-GEMM correlation (see conv_gemm.h).
 *
 * Legend: M rows of A, Kc = C*kh*kw, P = Ho*Wo, N = B*P columns, MR x NR the
 * register tile, KB the reduction block, Mp = M rounded up to MR, q a column
 * (q = n*P + oy*Wo + ox), j a column inside a panel.
 *
 * Scratch (floats): Ap (Mp*Kc) A in row panels, then per slot a packed block
 * Bp (KB, NR) and an accumulator panel Cb (Mp, NR).
 */
#include "conv_gemm.h"

#include <limits.h>
#include <omp.h>
#include <stdint.h>

#include "conv_common.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define VQ_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,fma")))
#define HAVE_NATIVE 1
#else
#define HAVE_NATIVE 0
#endif

enum { MR = 8, NR = 48, KB = 256 };

static size_t round16(size_t n) { return (n + 15) / 16 * 16; }
static size_t mp_of(int M) { return ((size_t)M + MR - 1) / MR * MR; }

/* Floats of one correlation's work area. */
static size_t need_floats(int M, int Kc)
{
    return round16(mp_of(M) * (size_t)Kc) + (size_t)vq_kernel_slots() * ((size_t)KB * NR + mp_of(M) * NR);
}

size_t vq_conv_gemm_after_slots(const vq_conv2d_shape *s, size_t slots_floats, size_t after)
{
    const int kk = s->kh * s->kw;
    size_t f = need_floats(s->Co, s->Ci * kk), b = need_floats(s->Ci, s->Co * kk);
    size_t n = f > b ? f : b;
    if (n <= slots_floats) return after;
    n += (size_t)s->Ci * s->Co * kk;
    return n > after ? n : after;
}

/* Measured (kernels_model_bench ab, 2 threads, Zen 5; blas ms / native ms):
 * 3x3 stride 1 with N >= 4M: 1.1-1.6x (fwd), 1.1-1.5x (backward data); stride 2:
 * 1.2-2x; conv_in (Kc = 27): 1.7x. Losses, left to im2col + OpenBLAS:
 * N < 2M, i.e. few column panels for a large A (f16@256's 512-channel 16x16
 * layers, B = 1: 0.6-0.86x; the PatchGAN's 4x4 / 3x3 tail: 0.6-1.0x), because
 * A (up to 9 MB) is packed per call and streamed from L3 once per panel, and
 * 1x1 unpadded stride 1 (0.85-1.0x), where the old path reads the image in
 * place with no im2col at all; Kc < 24 (backward data of a 1-channel conv_out or
 * logits conv: Kc = 9, 16; 0.67-0.8x), where the accumulator panel's round
 * trip and the write-out outweigh the few FMAs; and planes of more than
 * 128 x 128 positions (f16@256, B = 1: 0.9-1.05x), where a 48-column panel
 * touches a different 4 KiB page for every channel row it reads and writes. */
int vq_conv_gemm_wins(int M, const vq_col_geom *g, int B, int pointwise)
{
    const size_t N = (size_t)B * g->Ho * g->Wo;
    return HAVE_NATIVE && g->kw <= 16 && g->kh * g->kw <= KB && !pointwise && N >= 2 * (size_t)M &&
           g->C * g->kh * g->kw >= 24 && (size_t)g->Ho * g->Wo <= 128 * 128;
}

#if HAVE_NATIVE

/* A run of one panel's columns along one output row: panel columns [j, j+len)
 * are positions ox0.. of row oy of image n; the image is read from
 * in + base + (ci*H + ky)*W + kx + t*sw (t < len) where rows iy0 + ky are in range. */
typedef struct run {
    ptrdiff_t base;   /* n*C*H*W + iy0*W + ix0 */
    int iy0, ix0;     /* oy*sh - pt, ox0*sw - pl; iy0 = INT_MIN/2: padding columns past N */
    int j, len;
    int n, p0;        /* image and position of the first column (epilogue) */
} run;

/* Cuts panel columns [q0, q0 + nq) into runs; the rest of the NR columns (the last
 * panel) is one zero run. Returns the number of runs (<= NR + 1). */
static int panel_runs(run *r, size_t q0, int nq, const vq_col_geom *g)
{
    const size_t P = (size_t)g->Ho * g->Wo, CHW = (size_t)g->C * g->H * g->W;
    int nr = 0, j = 0;
    while (j < nq) {
        size_t q = q0 + (size_t)j;
        int n = (int)(q / P), p = (int)(q % P), oy = p / g->Wo, ox = p % g->Wo;
        int len = g->Wo - ox < nq - j ? g->Wo - ox : nq - j;
        run *u = &r[nr++];
        u->iy0 = oy * g->sh - g->pt; u->ix0 = ox * g->sw - g->pl;
        u->base = (ptrdiff_t)((size_t)n * CHW) + (ptrdiff_t)u->iy0 * g->W + u->ix0;
        u->j = j; u->len = len; u->n = n; u->p0 = p;
        j += len;
    }
    if (j < NR) {
        run *u = &r[nr++];
        u->base = 0; u->iy0 = INT_MIN / 2; u->ix0 = 0; u->j = j; u->len = NR - j; u->n = -1; u->p0 = 0;
    }
    return nr;
}

static VQ_AVX512 inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << n) - 1); }

/* Bp (nch*kh*kw, NR) = the rows of input channels [c0, c0 + nch) of the panel's
 * column matrix: the image values each tap reads, 0 where it reads padding.
 * One run at a time: its lane masks depend only on kx (which input columns
 * exist) and its zero rows only on ky, so both are made once per run; a row
 * then costs one masked load and store per 16 columns (stride 2: two loads and
 * a permute that keeps the even lanes; wider strides: a gather). */
static VQ_AVX512 void pack_cols(float *Bp, const float *in, const run *r, int nr, int c0, int nch,
                                const vq_col_geom *g)
{
    const int kh = g->kh, kw = g->kw, sw = g->sw, W = g->W;
    const size_t HW = (size_t)g->H * W;
    const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i step = _mm512_mullo_epi32(iota, _mm512_set1_epi32(sw));   /* input column of lane t: t*sw */
    const __m512i even = _mm512_add_epi32(iota, iota);                       /* permute: lanes 0, 2, .., 30 */
    const __m512i Wv = _mm512_set1_epi32(W);
    const __m512 zero = _mm512_setzero_ps();
    for (int s = 0; s < nr; s++) {
        const run *u = &r[s];
        const int nc = (u->len + 15) / 16;
        /* msk: lanes of output columns whose input column exists (sw = 2: of the first
         * 16 input columns of the chunk; msk2: of the next 16); kw <= 16 (vq_conv_gemm_wins) */
        __mmask16 keep[NR / 16], msk[16][NR / 16], msk2[16][NR / 16];
        for (int c = 0; c < nc; c++) {
            keep[c] = lanes(u->len - 16 * c);
            for (int kx = 0; kx < kw; kx++) {
                const int ix = u->ix0 + kx + 16 * c * sw;
                if (sw == 2) {
                    msk[kx][c] = _mm512_cmplt_epu32_mask(_mm512_add_epi32(_mm512_set1_epi32(ix), iota), Wv);
                    msk2[kx][c] = _mm512_cmplt_epu32_mask(_mm512_add_epi32(_mm512_set1_epi32(ix + 16), iota), Wv);
                } else
                    msk[kx][c] = _mm512_cmplt_epu32_mask(_mm512_add_epi32(_mm512_set1_epi32(ix), step), Wv) & keep[c];
            }
        }
        float *d = Bp + u->j;
        /* the masked-off lanes are never read, so src may point outside the image */
        const float *src = in + u->base + (ptrdiff_t)((size_t)c0 * HW);
        for (int ci = 0; ci < nch; ci++, src += HW)
            for (int ky = 0; ky < kh; ky++) {
                if ((unsigned)(u->iy0 + ky) >= (unsigned)g->H) {
                    for (int kx = 0; kx < kw; kx++, d += NR)
                        for (int c = 0; c < nc; c++) _mm512_mask_storeu_ps(d + 16 * c, keep[c], zero);
                    continue;
                }
                const float *row = src + (ptrdiff_t)ky * W;
                if (sw == 1)
                    for (int kx = 0; kx < kw; kx++, d += NR)
                        for (int c = 0; c < nc; c++)
                            _mm512_mask_storeu_ps(d + 16 * c, keep[c],
                                                  _mm512_maskz_loadu_ps(msk[kx][c], row + kx + 16 * c));
                else if (sw == 2)
                    for (int kx = 0; kx < kw; kx++, d += NR)
                        for (int c = 0; c < nc; c++) {
                            const float *p = row + kx + 32 * c;
                            __m512 lo = _mm512_maskz_loadu_ps(msk[kx][c], p);
                            __m512 hi = _mm512_maskz_loadu_ps(msk2[kx][c], p + 16);
                            _mm512_mask_storeu_ps(d + 16 * c, keep[c], _mm512_permutex2var_ps(lo, even, hi));
                        }
                else
                    for (int kx = 0; kx < kw; kx++, d += NR)
                        for (int c = 0; c < nc; c++)
                            _mm512_mask_storeu_ps(d + 16 * c, keep[c],
                                                  _mm512_mask_i32gather_ps(zero, msk[kx][c], step,
                                                                           row + kx + 16 * c * sw, 4));
            }
    }
}

/* Ap[mb][k][i] = A[mb*MR + i][k], 0 for rows >= M; row panels [mb0, mb1). */
static void pack_a(float *Ap, const float *A, int M, int Kc, int mb0, int mb1)
{
    for (int mb = mb0; mb < mb1; mb++) {
        float *d = Ap + (size_t)mb * Kc * MR;
        for (int i = 0; i < MR; i++) {
            const int row = mb * MR + i;
            if (row < M) {
                const float *a = A + (size_t)row * Kc;
                for (int k = 0; k < Kc; k++) d[(size_t)k * MR + i] = a[k];
            } else
                for (int k = 0; k < Kc; k++) d[(size_t)k * MR + i] = 0.0f;
        }
    }
}

/* C (MR, NR; ld NR) (+)= Ap block (kb, MR) x Bp (kb, NR); first: C = product. */
static VQ_AVX512 void kernel_8x48(int kb, const float *a, const float *b, float *C, int first)
{
#define ROWREGS(i) __m512 c##i##0, c##i##1, c##i##2;
    ROWREGS(0) ROWREGS(1) ROWREGS(2) ROWREGS(3) ROWREGS(4) ROWREGS(5) ROWREGS(6) ROWREGS(7)
#define LOADROW(i)                                                                                  \
    if (first) c##i##0 = c##i##1 = c##i##2 = _mm512_setzero_ps();                                   \
    else {                                                                                          \
        c##i##0 = _mm512_loadu_ps(C + i * NR); c##i##1 = _mm512_loadu_ps(C + i * NR + 16);         \
        c##i##2 = _mm512_loadu_ps(C + i * NR + 32);                                                 \
    }
    LOADROW(0) LOADROW(1) LOADROW(2) LOADROW(3) LOADROW(4) LOADROW(5) LOADROW(6) LOADROW(7)
#define FMAROW(i)                                                                                   \
    {                                                                                               \
        __m512 ai = _mm512_set1_ps(a[i]);                                                           \
        c##i##0 = _mm512_fmadd_ps(ai, b0, c##i##0); c##i##1 = _mm512_fmadd_ps(ai, b1, c##i##1);     \
        c##i##2 = _mm512_fmadd_ps(ai, b2, c##i##2);                                                 \
    }
#pragma GCC unroll 4
    for (int k = 0; k < kb; k++) {
        __m512 b0 = _mm512_loadu_ps(b), b1 = _mm512_loadu_ps(b + 16), b2 = _mm512_loadu_ps(b + 32);
        FMAROW(0) FMAROW(1) FMAROW(2) FMAROW(3) FMAROW(4) FMAROW(5) FMAROW(6) FMAROW(7)
        a += MR; b += NR;
    }
#define STOREROW(i)                                                                                 \
    _mm512_storeu_ps(C + i * NR, c##i##0); _mm512_storeu_ps(C + i * NR + 16, c##i##1);             \
    _mm512_storeu_ps(C + i * NR + 32, c##i##2);
    STOREROW(0) STOREROW(1) STOREROW(2) STOREROW(3) STOREROW(4) STOREROW(5) STOREROW(6) STOREROW(7)
#undef ROWREGS
#undef LOADROW
#undef FMAROW
#undef STOREROW
}

/* out rows [m0, m1) of the panel's columns (runs r) = bias + Cb, or += Cb. Runs of
 * one output row of one image are contiguous in out, and so are consecutive rows. */
static VQ_AVX512 void write_out(float *out, const float *Cb, const run *r, int nr, int M, int m0, int m1,
                                size_t P, const float *bias, int accumulate)
{
    for (int s = 0; s < nr;) {
        if (r[s].n < 0) break;
        int e = s + 1, len = r[s].len;   /* merge the runs of one image */
        while (e < nr && r[e].n == r[s].n) len += r[e++].len;
        for (int m = m0; m < m1; m++) {
            float *o = out + ((size_t)r[s].n * M + m) * P + r[s].p0;
            const float *c = Cb + (size_t)m * NR + r[s].j;
            const __m512 bv = _mm512_set1_ps(bias ? bias[m] : 0.0f);
            for (int t = 0; t < len; t += 16) {
                __mmask16 k = lanes(len - t);
                __m512 v = _mm512_maskz_loadu_ps(k, c + t);
                v = accumulate ? _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, o + t)) : _mm512_add_ps(v, bv);
                _mm512_mask_storeu_ps(o + t, k, v);
            }
        }
        s = e;
    }
}

void vq_conv_gemm_correlate(float *out, const float *in, const float *A, const float *bias, int M,
                            const vq_col_geom *g, int B, int accumulate, float *scratch, size_t slots_floats)
{
    const int Kc = g->C * g->kh * g->kw;
    const size_t P = (size_t)g->Ho * g->Wo, N = (size_t)B * P, Mp = mp_of(M);
    float *ws = need_floats(M, Kc) <= slots_floats ? scratch : scratch + slots_floats + (size_t)M * Kc;
    float *Ap = ws, *slot0 = ws + round16(Mp * (size_t)Kc);
    const size_t slot = (size_t)KB * NR + Mp * NR;
    const int nt = vq_kernel_threads(), mblocks = (int)(Mp / MR);
    const long panels = (long)((N + NR - 1) / NR);
    /* few panels: also split A's row panels so every thread has work (each group
     * packs its own copy of the panel's columns) */
    int mgroups = 1;
    if (panels < 4L * nt) {
        mgroups = (int)((4L * nt + panels - 1) / panels);
        if (mgroups > mblocks) mgroups = mblocks;
    }
    /* reduction blocks of whole input channels, balanced, at most KB rows */
    const int kk = g->kh * g->kw, nkb = (Kc + KB - 1) / KB;
    const int cpb = (g->C + nkb - 1) / nkb < KB / kk ? (g->C + nkb - 1) / nkb : KB / kk;
    const long items = panels * mgroups;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
#pragma omp for schedule(static)
        for (int mb = 0; mb < mblocks; mb++) pack_a(Ap, A, M, Kc, mb, mb + 1);
        float *Bp = slot0 + (size_t)omp_get_thread_num() * slot, *Cb = Bp + (size_t)KB * NR;
        run r[NR + 1];
#pragma omp for schedule(dynamic, 1)
        for (long it = 0; it < items; it++) {
            const long pn = it / mgroups;
            const int mg = (int)(it % mgroups);
            const int mb0 = (int)((long)mg * mblocks / mgroups), mb1 = (int)((long)(mg + 1) * mblocks / mgroups);
            const size_t q0 = (size_t)pn * NR;
            const int nq = N - q0 < NR ? (int)(N - q0) : NR;
            const int nr = panel_runs(r, q0, nq, g);
            for (int c0 = 0; c0 < g->C; c0 += cpb) {
                const int nch = g->C - c0 < cpb ? g->C - c0 : cpb, k0 = c0 * kk, kn = nch * kk;
                pack_cols(Bp, in, r, nr, c0, nch, g);
                for (int mb = mb0; mb < mb1; mb++)
                    kernel_8x48(kn, Ap + ((size_t)mb * Kc + k0) * MR, Bp, Cb + (size_t)mb * MR * NR, k0 == 0);
            }
            const int m1 = mb1 * MR < M ? mb1 * MR : M;
            write_out(out, Cb, r, nr, M, mb0 * MR, m1, P, bias, accumulate);
        }
    }
}

#else

void vq_conv_gemm_correlate(float *out, const float *in, const float *A, const float *bias, int M,
                            const vq_col_geom *g, int B, int accumulate, float *scratch, size_t slots_floats)
{
    (void)out; (void)in; (void)A; (void)bias; (void)M; (void)g; (void)B; (void)accumulate;
    (void)scratch; (void)slots_floats;
}

#endif
