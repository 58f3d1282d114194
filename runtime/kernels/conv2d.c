/* conv2d.c: nn.Conv2d forward and backward via tiled im2col + sgemm (see conv2d.h).
 *
 * Legend: B batch, Ci, Co channels, H, W input, Ho, Wo output, K = Ci*kh*kw,
 * Kt = Co*kh*kw, kk = kh*kw, P = Ho*Wo, HW = H*W, N columns of one tile.
 *
 * Threads (conv_common.h): nt = vq_kernel_threads(); every thread takes whole
 * tiles (im2col into its own scratch slot, then a single-threaded sgemm), so
 * OpenBLAS's pool never runs next to ours. Tiles (im2col.h) are m images side
 * by side or a band of rows of one image.
 *   forward          y tile (Co, N) = w (Co, K) col (K, N)
 *   backward data    stride 1: the adjoint is itself a stride-1 correlation of
 *                    dy with the flipped, transposed kernel wf (Ci, Kt) and
 *                    padding k-1-p, so it is tiled exactly like forward and adds
 *                    straight into dx (no col2im, no races); see
 *                    bwd_by_correlation for when it is not used.
 *                    otherwise: dcol = w^T dy_band then col2im, split over
 *                    (image, input-channel block) so no two threads add into
 *                    the same pixels.
 *   backward weight  dw (Co, K) += dy_tile col^T, split over blocks of dw
 *                    (input-channel blocks x output-channel blocks): each thread
 *                    owns its block of dw, so no reduction is needed.
 *
 * Scratch: slots of slot_floats() each (one per thread, vq_kernel_slots()),
 * then, when backward data runs as a correlation, wf (Ci, Kt).
 */
#include "conv2d.h"

#include <omp.h>
#include <string.h>

#include "conv2d_co1.h"
#include "conv_common.h"
#include "conv_wgrad.h"
#include "conv_gemm.h"
#include "im2col.h"
#include "vq_common.h"

/* One output channel: forward and weight gradient as GEMMs over the taps (conv2d_co1.c). */
static int use_co1(const vq_conv2d_shape *s) { return s->Co == 1 && VQ_CONV2D_CO1_GEMM; }

static vq_col_geom geom_of(const vq_conv2d_shape *s)
{
    vq_col_geom g = {s->Ci, s->H, s->W, s->kh, s->kw, s->stride_h, s->stride_w,
                     s->pad_top, s->pad_left, s->Ho, s->Wo};
    return g;
}

/* 1x1, stride 1, no padding: the image (Ci, H*W) is already the column matrix. */
static int is_pointwise(const vq_conv2d_shape *s)
{
    return s->kh == 1 && s->kw == 1 && s->stride_h == 1 && s->stride_w == 1 &&
           s->pad_top == 0 && s->pad_bottom == 0 && s->pad_left == 0 && s->pad_right == 0;
}

int vq_conv2d_check(const vq_conv2d_shape *s)
{
    if (!s) return vq_fail(VQ_ERR_ARG, "conv2d: shape is NULL");
    if (s->B < 1 || s->Ci < 1 || s->H < 1 || s->W < 1 || s->Co < 1 || s->kh < 1 || s->kw < 1)
        return vq_fail(VQ_ERR_ARG, "conv2d: sizes must be positive (B=%d Ci=%d H=%d W=%d Co=%d k=%dx%d)",
                       s->B, s->Ci, s->H, s->W, s->Co, s->kh, s->kw);
    if (s->stride_h < 1 || s->stride_w < 1)
        return vq_fail(VQ_ERR_ARG, "conv2d: stride must be positive (%d, %d)", s->stride_h, s->stride_w);
    if (s->pad_top < 0 || s->pad_bottom < 0 || s->pad_left < 0 || s->pad_right < 0)
        return vq_fail(VQ_ERR_ARG, "conv2d: padding must be >= 0");
    int hp = s->H + s->pad_top + s->pad_bottom, wp = s->W + s->pad_left + s->pad_right;
    if (hp < s->kh || wp < s->kw)
        return vq_fail(VQ_ERR_ARG, "conv2d: kernel %dx%d larger than padded input %dx%d", s->kh, s->kw, hp, wp);
    int ho = (hp - s->kh) / s->stride_h + 1, wo = (wp - s->kw) / s->stride_w + 1;
    if (ho != s->Ho || wo != s->Wo)
        return vq_fail(VQ_ERR_ARG, "conv2d: output size %dx%d given, the geometry gives %dx%d",
                       s->Ho, s->Wo, ho, wo);
    if (s->bias != 0 && s->bias != 1) return vq_fail(VQ_ERR_ARG, "conv2d: bias flag must be 0 or 1");
    return 0;
}

/* Geometry of backward data's correlation over dy (stride 1): image (Co, Ho, Wo)
 * read at (iy - (kh-1-pt) + ky', ...) for the H x W grid of dx. */
static vq_col_geom geom_t_of(const vq_conv2d_shape *s)
{
    vq_col_geom g = {s->Co, s->Ho, s->Wo, s->kh, s->kw, 1, 1, s->kh - 1 - s->pad_top,
                     s->kw - 1 - s->pad_left, s->H, s->W};
    return g;
}

/* Backward data as a correlation over dy (stride 1 only). Its im2col moves Co*kh*kw rows over
 * the H x W grid, col2im's path Ci*kh*kw rows over Ho x Wo (written by sgemm, then scattered):
 * take the correlation unless it moves more and its rows are not one contiguous copy
 * (im2col.c's fast case needs Wo == W). Measured: 3x3 "same" convs and Co = 1 gain 10-90%,
 * the PatchGAN's k4 128->256 on 8x8 -> 7x7 loses 2x with it. */
static int bwd_by_correlation(const vq_conv2d_shape *s)
{
    return s->stride_h == 1 && s->stride_w == 1 && (s->Co <= s->Ci || s->Wo == s->W) &&
           s->Ci >= 8;   /* its sgemm has Ci rows: an RGB input (Ci = 3) runs at a third of the col2im path */
}

/* Floats of one tile's slot for K column rows, an Mout-row side buffer (used only by
 * multi-image tiles, i.e. when two images fit a tile), P positions per image. */
static size_t slot_need(size_t K, size_t Mout, int Wo, size_t P)
{
    size_t cols = (size_t)vq_col_tile_cols(K, Wo);
    return K * cols + (2 * P <= cols ? Mout * cols : 0);
}

static size_t slot_floats(const vq_conv2d_shape *s)
{
    const size_t K = (size_t)s->Ci * s->kh * s->kw, Kt = (size_t)s->Co * s->kh * s->kw;
    const size_t P = (size_t)s->Ho * s->Wo, HW = (size_t)s->H * s->W;
    size_t a = slot_need(K, s->Co, s->Wo, P);                       /* forward, backward weight */
    size_t b = bwd_by_correlation(s) ? slot_need(Kt, s->Ci, s->W, HW)          /* backward data, correlation */
                                     : K * (size_t)vq_col_tile_cols(K, s->Wo);  /* backward data, col2im */
    size_t m = a > b ? a : b;
    return (m + 15) / 16 * 16;   /* keep every slot 64-byte aligned */
}

size_t vq_conv2d_scratch_floats(const vq_conv2d_shape *s)
{
    size_t wf = bwd_by_correlation(s) ? (size_t)s->Ci * s->Co * s->kh * s->kw : 0;
    size_t slot = slot_floats(s);
    if (use_co1(s) && vq_conv2d_co1_slot_floats(s) > slot) slot = vq_conv2d_co1_slot_floats(s);
    if (vq_conv_wgrad_slot_floats(s) > slot) slot = vq_conv_wgrad_slot_floats(s);   /* native backward weight */
    wf = vq_conv_gemm_after_slots(s, (size_t)vq_kernel_slots() * slot_floats(s), wf);   /* native path: conv_gemm.h */
    return (size_t)vq_kernel_slots() * slot + wf;
}

/* The operand columns of tile (n0, m, r0, R) of image batch x (C, H, W) read by
 * geometry g: for a 1x1 unit-stride unpadded conv of one image, x itself (ld HW);
 * else im2col into col (ld N). */
static const float *tile_cols(float *col, int *ld, const float *x, const vq_col_geom *g, int pw,
                              int n0, int m, int r0, int R)
{
    const size_t HW = (size_t)g->H * g->W, N = (size_t)m * R * g->Wo;
    if (pw && m == 1) { *ld = (int)HW; return x + (size_t)n0 * g->C * HW + (size_t)r0 * g->Wo; }
    for (int j = 0; j < m; j++)
        vq_im2col_rows_ld(col + (size_t)j * R * g->Wo, N, x + (size_t)(n0 + j) * g->C * HW, g, r0, R);
    *ld = (int)N;
    return col;
}

/* out (B, M, Ho, Wo) tile (+)= A (M, Kc) times the columns of in (B, C, H, W) under g.
 * accumulate 0: out = bias + A col (bias may be NULL: 0); 1: out += A col. */
static void correlate(float *out, const float *in, const float *A, const float *bias, int M,
                      const vq_col_geom *g, int B, int pw, int accumulate, float *scratch, size_t slot)
{
    const int Kc = g->C * g->kh * g->kw, Wo = g->Wo;
    const size_t P = (size_t)g->Ho * Wo;
    if (vq_conv_native() && vq_conv_gemm_wins(M, g, B, pw)) {   /* implicit GEMM, AVX-512 (conv_gemm.h) */
        vq_conv_gemm_correlate(out, in, A, bias, M, g, B, accumulate, scratch, (size_t)vq_kernel_slots() * slot);
        return;
    }
    const int nt = vq_kernel_threads();
    vq_col_tiling t;
    vq_col_tiling_plan(&t, B, g->Ho, Wo, (size_t)Kc, nt);
    const int cols = vq_col_tile_cols((size_t)Kc, Wo);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int i = 0; i < vq_col_tiles(&t); i++) {
        int n0, m, r0, R;
        vq_col_tile(&t, i, &n0, &m, &r0, &R);
        float *col = scratch + (size_t)omp_get_thread_num() * slot;
        const int N = m * R * Wo;
        int ld;
        const float *Bm = tile_cols(col, &ld, in, g, pw, n0, m, r0, R);
        if (m == 1) {   /* write the band of out in place (ld P) */
            float *o = out + (size_t)n0 * M * P + (size_t)r0 * Wo;
            if (!accumulate)
                for (int c = 0; c < M; c++) {
                    float v = bias ? bias[c] : 0.0f, *oc = o + (size_t)c * P;
                    for (int p = 0; p < N; p++) oc[p] = v;
                }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, Kc, 1.0f, A, Kc, Bm, ld, 1.0f, o, (int)P);
            continue;
        }
        /* m images side by side: product into the side buffer (M, N), then out per image */
        float *tmp = col + (size_t)Kc * cols;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, Kc, 1.0f, A, Kc, Bm, ld, 0.0f, tmp, N);
        for (int j = 0; j < m; j++)
            for (int c = 0; c < M; c++) {
                const float *src = tmp + (size_t)c * N + (size_t)j * P;
                float *oc = out + ((size_t)(n0 + j) * M + c) * P;
                if (accumulate) for (size_t p = 0; p < P; p++) oc[p] += src[p];
                else {
                    float v = bias ? bias[c] : 0.0f;
                    for (size_t p = 0; p < P; p++) oc[p] = src[p] + v;
                }
            }
    }
}

void vq_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                       const vq_conv2d_shape *s, float *scratch)
{
    if (use_co1(s)) { vq_conv2d_co1_forward(y, x, w, b, s, scratch); return; }
    vq_col_geom g = geom_of(s);
    correlate(y, x, w, s->bias ? b : NULL, s->Co, &g, s->B, is_pointwise(s), 0, scratch, slot_floats(s));
}

/* dx (+)= the adjoint of the conv applied to dy; accumulate 0 overwrites dx. */
static void backward_data(float *dx, const float *dy, const float *w, const vq_conv2d_shape *s, float *scratch,
                          int accumulate);

void vq_conv2d_backward_data(float *dx, const float *dy, const float *w,
                             const vq_conv2d_shape *s, float *scratch)
{
    backward_data(dx, dy, w, s, scratch, 1);
}

void vq_conv2d_backward_data_set(float *dx, const float *dy, const float *w,
                                 const vq_conv2d_shape *s, float *scratch)
{
    backward_data(dx, dy, w, s, scratch, 0);
}

static void backward_data(float *dx, const float *dy, const float *w, const vq_conv2d_shape *s, float *scratch,
                          int accumulate)
{
    const int Co = s->Co, Ci = s->Ci, kk = s->kh * s->kw, K = Ci * kk, Kt = Co * kk;
    const size_t P = (size_t)s->Ho * s->Wo, HW = (size_t)s->H * s->W, slot = slot_floats(s);
    if (bwd_by_correlation(s)) {
        /* wf[ci][co][ky'][kx'] = w[co][ci][kh-1-ky'][kw-1-kx'] */
        float *wf = scratch + (size_t)vq_kernel_slots() * slot;
        const int nt = vq_kernel_threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && (size_t)Ci * Kt > 65536)
        for (int ci = 0; ci < Ci; ci++)
            for (int co = 0; co < Co; co++)
                for (int t = 0; t < kk; t++)
                    wf[(size_t)ci * Kt + (size_t)co * kk + t] = w[(size_t)co * K + (size_t)ci * kk + (kk - 1 - t)];
        vq_col_geom g = geom_t_of(s);
        correlate(dx, dy, wf, NULL, Ci, &g, s->B, is_pointwise(s), accumulate, scratch, slot);
        return;
    }
    if (!accumulate) memset(dx, 0, sizeof(float) * (size_t)s->B * Ci * HW);   /* col2im adds */
    vq_col_geom g = geom_of(s);
    const int nt = vq_kernel_threads();
    vq_col_tiling t;
    vq_col_tiling_plan(&t, s->B, s->Ho, s->Wo, (size_t)K, nt);
    if (t.row_tiles == 1 && t.img_tiles < s->B) {
        /* Small images (the PatchGAN's last layers: 4x4 -> 3x3): a per-image sgemm would have
         * N = P (9) columns and run at a sixth of the rate, so m whole images go side by side:
         * dyt (Co, m*P) gathered, dcol (K, m*P) = w^T dyt, then col2im per image. Tiles hold
         * disjoint images, so no two threads add into the same pixels. */
        const int cols = vq_col_tile_cols((size_t)K, s->Wo);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
        for (int i = 0; i < vq_col_tiles(&t); i++) {
            int n0, m, r0, R;
            vq_col_tile(&t, i, &n0, &m, &r0, &R);
            const int N = m * (int)P;
            float *col = scratch + (size_t)omp_get_thread_num() * slot, *dyt = col + (size_t)K * cols;
            for (int co = 0; co < Co; co++)
                for (int j = 0; j < m; j++)
                    memcpy(dyt + (size_t)co * N + (size_t)j * P, dy + ((size_t)(n0 + j) * Co + co) * P,
                           sizeof(float) * P);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, Co, 1.0f, w, K, dyt, N, 0.0f, col, N);
            for (int j = 0; j < m; j++)
                vq_col2im_rows_add_ld(dx + (size_t)(n0 + j) * Ci * HW, col + (size_t)j * P, (size_t)N, &g, 0, s->Ho);
        }
        return;
    }
    /* larger images: per (image, channel block), bands of rows: dcol = w[:, block]^T dy_band, col2im */
    int ncb = s->B >= nt ? 1 : (nt + s->B - 1) / s->B;
    if (ncb > Ci) ncb = Ci;
    const int R = vq_col_tile_cols((size_t)K, s->Wo) / s->Wo;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (int it = 0; it < s->B * ncb; it++) {
        const int n = it / ncb, cb = it % ncb;
        const int c0 = (int)((long)cb * Ci / ncb), c1 = (int)((long)(cb + 1) * Ci / ncb);
        vq_col_geom gb = g;
        gb.C = c1 - c0;
        float *col = scratch + (size_t)omp_get_thread_num() * slot;
        const float *dyn = dy + (size_t)n * Co * P;
        float *dxn = dx + (size_t)n * Ci * HW + (size_t)c0 * HW;
        for (int r0 = 0; r0 < s->Ho; r0 += R) {
            int r = s->Ho - r0 < R ? s->Ho - r0 : R, N = r * s->Wo;
            /* dcol (Kb, N) = w[:, c0*kk..c1*kk]^T (Kb, Co) dy_n[:, band] (Co, N; ld P) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, gb.C * kk, N, Co, 1.0f,
                        w + (size_t)c0 * kk, K, dyn + (size_t)r0 * s->Wo, (int)P, 0.0f, col, N);
            vq_col2im_rows_add_ld(dxn, col, (size_t)N, &gb, r0, r);
        }
    }
}

void vq_conv2d_backward_weight(float *dw, float *db, const float *dy, const float *x,
                               const vq_conv2d_shape *s, float *scratch)
{
    const int Co = s->Co, Ci = s->Ci, kk = s->kh * s->kw, K = Ci * kk, Wo = s->Wo;
    const size_t P = (size_t)s->Ho * Wo, HW = (size_t)s->H * s->W, slot = slot_floats(s);
    const int pw = is_pointwise(s);
    if (use_co1(s)) { vq_conv2d_co1_backward_weight(dw, db, dy, x, s, scratch); return; }
    if (db && s->bias) vq_bias_backward(db, dy, s->B, Co, P);
    if (vq_conv_native() && vq_conv_wgrad_fits(s)) { vq_conv_wgrad(dw, dy, x, s, scratch); return; }
    const int nt = vq_kernel_threads();
    /* blocks of dw: ncb input-channel blocks x nco output-channel blocks, one per thread */
    int ncb = Ci < nt ? Ci : nt, nco = nt / ncb;
    if (nco > Co) nco = Co;
    if (nco < 1) nco = 1;
    vq_col_tiling t;   /* tiles as large as the slot allows: the reduction runs over columns */
    vq_col_tiling_plan(&t, s->B, s->Ho, Wo, (size_t)K, 1);
    const int cols = vq_col_tile_cols((size_t)K, Wo);
    vq_col_geom g = geom_of(s);
#pragma omp parallel for num_threads(nt) schedule(static, 1) if (nt > 1)
    for (int blk = 0; blk < ncb * nco; blk++) {
        const int cb = blk / nco, ob = blk % nco;
        const int c0 = (int)((long)cb * Ci / ncb), c1 = (int)((long)(cb + 1) * Ci / ncb);
        const int o0 = (int)((long)ob * Co / nco), o1 = (int)((long)(ob + 1) * Co / nco);
        vq_col_geom gb = g;
        gb.C = c1 - c0;
        float *col = scratch + (size_t)omp_get_thread_num() * slot, *dyt = col + (size_t)K * cols;
        for (int i = 0; i < vq_col_tiles(&t); i++) {
            int n0, m, r0, R;
            vq_col_tile(&t, i, &n0, &m, &r0, &R);
            const int N = m * R * Wo;
            const float *cm;   /* col (Kb, N): taps of channels c0..c1 (images are Ci*HW apart) */
            int ldc;
            if (pw && m == 1) { cm = x + (size_t)n0 * Ci * HW + (size_t)c0 * HW + (size_t)r0 * Wo; ldc = (int)HW; }
            else {
                for (int j = 0; j < m; j++)
                    vq_im2col_rows_ld(col + (size_t)j * R * Wo, (size_t)N,
                                      x + (size_t)(n0 + j) * Ci * HW + (size_t)c0 * HW, &gb, r0, R);
                cm = col; ldc = N;
            }
            const float *dm;
            int ldd;
            if (m == 1) { dm = dy + (size_t)n0 * Co * P + (size_t)o0 * P + (size_t)r0 * Wo; ldd = (int)P; }
            else {   /* gather dy rows o0..o1 of the m images side by side (o1-o0, N) */
                for (int o = o0; o < o1; o++)
                    for (int j = 0; j < m; j++)
                        memcpy(dyt + (size_t)(o - o0) * N + (size_t)j * P,
                               dy + ((size_t)(n0 + j) * Co + o) * P, sizeof(float) * P);
                dm = dyt; ldd = N;
            }
            /* dw[o0..o1, c0*kk..c1*kk] (ld K) += dy_tile (Co_b, N) col^T (N, Kb) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, o1 - o0, gb.C * kk, N, 1.0f, dm, ldd,
                        cm, ldc, 1.0f, dw + (size_t)o0 * K + (size_t)c0 * kk, K);
        }
    }
}
