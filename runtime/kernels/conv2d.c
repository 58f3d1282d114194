/* conv2d.c: nn.Conv2d forward and backward via banded im2col + sgemm (see conv2d.h).
 *
 * Legend: B batch, Ci, Co channels, H, W input, Ho, Wo output, K = Ci*kh*kw,
 * R rows of output per band, P = Ho*Wo.
 *
 * Every sgemm is issued outside OpenMP regions (OpenBLAS has its own threads);
 * im2col/col2im between them are OpenMP-parallel.
 */
#include "conv2d.h"

#include <cblas.h>

#include "conv_common.h"
#include "im2col.h"
#include "vq_common.h"

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

size_t vq_conv2d_scratch_floats(const vq_conv2d_shape *s)
{
    if (is_pointwise(s)) return 0;
    vq_col_geom g = geom_of(s);
    return vq_col_scratch_floats(&g);
}

void vq_conv2d_forward(float *y, const float *x, const float *w, const float *b,
                       const vq_conv2d_shape *s, float *scratch)
{
    const int Co = s->Co, K = s->Ci * s->kh * s->kw, Wo = s->Wo;
    const size_t P = (size_t)s->Ho * Wo, HW = (size_t)s->H * s->W;
    vq_fill_bias(y, s->bias ? b : NULL, s->B, Co, P);
    if (is_pointwise(s)) {
        for (int n = 0; n < s->B; n++)   /* y_n (Co, P) += w (Co, Ci) x_n (Ci, P) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, (int)P, s->Ci, 1.0f,
                        w, s->Ci, x + (size_t)n * s->Ci * HW, (int)HW, 1.0f, y + (size_t)n * Co * P, (int)P);
        return;
    }
    vq_col_geom g = geom_of(s);
    const int R = vq_col_tile_rows(&g);
    for (int n = 0; n < s->B; n++) {
        const float *xn = x + (size_t)n * s->Ci * HW;
        float *yn = y + (size_t)n * Co * P;
        for (int r0 = 0; r0 < s->Ho; r0 += R) {
            int r = s->Ho - r0 < R ? s->Ho - r0 : R, N = r * Wo;
            vq_im2col_rows(scratch, xn, &g, r0, r);
            /* y_n[:, band] (Co, N; ld P) += w (Co, K) col (K, N) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, N, K, 1.0f,
                        w, K, scratch, N, 1.0f, yn + (size_t)r0 * Wo, (int)P);
        }
    }
}

void vq_conv2d_backward_data(float *dx, const float *dy, const float *w,
                             const vq_conv2d_shape *s, float *scratch)
{
    const int Co = s->Co, K = s->Ci * s->kh * s->kw, Wo = s->Wo;
    const size_t P = (size_t)s->Ho * Wo, HW = (size_t)s->H * s->W;
    if (is_pointwise(s)) {
        for (int n = 0; n < s->B; n++)   /* dx_n (Ci, P) += w^T (Ci, Co) dy_n (Co, P) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, s->Ci, (int)P, Co, 1.0f,
                        w, s->Ci, dy + (size_t)n * Co * P, (int)P, 1.0f, dx + (size_t)n * s->Ci * HW, (int)HW);
        return;
    }
    vq_col_geom g = geom_of(s);
    const int R = vq_col_tile_rows(&g);
    for (int n = 0; n < s->B; n++) {
        const float *dyn = dy + (size_t)n * Co * P;
        float *dxn = dx + (size_t)n * s->Ci * HW;
        for (int r0 = 0; r0 < s->Ho; r0 += R) {
            int r = s->Ho - r0 < R ? s->Ho - r0 : R, N = r * Wo;
            /* dcol (K, N) = w^T (K, Co) dy_n[:, band] (Co, N; ld P) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, N, Co, 1.0f,
                        w, K, dyn + (size_t)r0 * Wo, (int)P, 0.0f, scratch, N);
            vq_col2im_rows_add(dxn, scratch, &g, r0, r);
        }
    }
}

void vq_conv2d_backward_weight(float *dw, float *db, const float *dy, const float *x,
                               const vq_conv2d_shape *s, float *scratch)
{
    const int Co = s->Co, K = s->Ci * s->kh * s->kw, Wo = s->Wo;
    const size_t P = (size_t)s->Ho * Wo, HW = (size_t)s->H * s->W;
    if (db && s->bias) vq_bias_backward(db, dy, s->B, Co, P);
    if (is_pointwise(s)) {
        for (int n = 0; n < s->B; n++)   /* dw (Co, Ci) += dy_n (Co, P) x_n^T (P, Ci) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, s->Ci, (int)P, 1.0f,
                        dy + (size_t)n * Co * P, (int)P, x + (size_t)n * s->Ci * HW, (int)HW, 1.0f, dw, s->Ci);
        return;
    }
    vq_col_geom g = geom_of(s);
    const int R = vq_col_tile_rows(&g);
    for (int n = 0; n < s->B; n++) {
        const float *xn = x + (size_t)n * s->Ci * HW;
        const float *dyn = dy + (size_t)n * Co * P;
        for (int r0 = 0; r0 < s->Ho; r0 += R) {
            int r = s->Ho - r0 < R ? s->Ho - r0 : R, N = r * Wo;
            vq_im2col_rows(scratch, xn, &g, r0, r);
            /* dw (Co, K) += dy_n[:, band] (Co, N; ld P) col^T (N, K) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, K, N, 1.0f,
                        dyn + (size_t)r0 * Wo, (int)P, scratch, N, 1.0f, dw, K);
        }
    }
}
