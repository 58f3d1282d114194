/* conv_transpose2d.c: nn.ConvTranspose2d forward and backward (see conv_transpose2d.h).
 *
 * Legend: B batch, Ci, Co channels, H, W input, Ho, Wo output, Kt = Co*kh*kw,
 * R input rows per band, P = Ho*Wo, HW = H*W.
 *
 * The column geometry is that of the conv2d this op is the adjoint of: it reads
 * the output grid (Co, Ho, Wo) at (iy*sh - ph + ky, ix*sw - pw + kx) for each
 * input position (iy, ix); taps falling outside [0, Ho) x [0, Wo) are dropped.
 *
 * Threads (no model we tune uses this op, so it keeps the simple scheme): one
 * band at a time, each sgemm split over the threads by vq_sgemm_par, im2col and
 * col2im parallel over rows / channels.
 */
#include "conv_transpose2d.h"

#include "conv_common.h"
#include "im2col.h"
#include "vq_common.h"

static vq_col_geom geom_of(const vq_conv_transpose2d_shape *s)
{
    vq_col_geom g = {s->Co, s->Ho, s->Wo, s->kh, s->kw, s->stride_h, s->stride_w,
                     s->pad_h, s->pad_w, s->H, s->W};
    return g;
}

int vq_conv_transpose2d_check(const vq_conv_transpose2d_shape *s)
{
    if (!s) return vq_fail(VQ_ERR_ARG, "conv_transpose2d: shape is NULL");
    if (s->B < 1 || s->Ci < 1 || s->H < 1 || s->W < 1 || s->Co < 1 || s->kh < 1 || s->kw < 1)
        return vq_fail(VQ_ERR_ARG, "conv_transpose2d: sizes must be positive (B=%d Ci=%d H=%d W=%d Co=%d k=%dx%d)",
                       s->B, s->Ci, s->H, s->W, s->Co, s->kh, s->kw);
    if (s->stride_h < 1 || s->stride_w < 1 || s->pad_h < 0 || s->pad_w < 0)
        return vq_fail(VQ_ERR_ARG, "conv_transpose2d: stride must be positive and padding >= 0");
    if (s->out_pad_h < 0 || s->out_pad_w < 0 || s->out_pad_h >= s->stride_h || s->out_pad_w >= s->stride_w)
        return vq_fail(VQ_ERR_ARG, "conv_transpose2d: output_padding (%d, %d) must be >= 0 and < stride (%d, %d)",
                       s->out_pad_h, s->out_pad_w, s->stride_h, s->stride_w);
    int ho = (s->H - 1) * s->stride_h - 2 * s->pad_h + s->kh + s->out_pad_h;
    int wo = (s->W - 1) * s->stride_w - 2 * s->pad_w + s->kw + s->out_pad_w;
    if (ho < 1 || wo < 1)
        return vq_fail(VQ_ERR_ARG, "conv_transpose2d: padding leaves an empty output (%dx%d)", ho, wo);
    if (ho != s->Ho || wo != s->Wo)
        return vq_fail(VQ_ERR_ARG, "conv_transpose2d: output size %dx%d given, the geometry gives %dx%d",
                       s->Ho, s->Wo, ho, wo);
    if (s->bias != 0 && s->bias != 1) return vq_fail(VQ_ERR_ARG, "conv_transpose2d: bias flag must be 0 or 1");
    return 0;
}

size_t vq_conv_transpose2d_scratch_floats(const vq_conv_transpose2d_shape *s)
{
    vq_col_geom g = geom_of(s);
    return vq_col_scratch_floats(&g);
}

void vq_conv_transpose2d_forward(float *y, const float *x, const float *w, const float *b,
                                 const vq_conv_transpose2d_shape *s, float *scratch)
{
    const int Ci = s->Ci, Kt = s->Co * s->kh * s->kw, W = s->W;
    const size_t P = (size_t)s->Ho * s->Wo, HW = (size_t)s->H * W;
    vq_col_geom g = geom_of(s);
    const int R = vq_col_tile_rows(&g);
    vq_fill_bias(y, s->bias ? b : NULL, s->B, s->Co, P);
    for (int n = 0; n < s->B; n++) {
        const float *xn = x + (size_t)n * Ci * HW;
        float *yn = y + (size_t)n * s->Co * P;
        for (int r0 = 0; r0 < s->H; r0 += R) {
            int r = s->H - r0 < R ? s->H - r0 : R, N = r * W;
            /* col (Kt, N) = w^T (Kt, Ci) x_n[:, band] (Ci, N; ld HW) */
            vq_sgemm_par(CblasTrans, CblasNoTrans, Kt, N, Ci, 1.0f,
                        w, Kt, xn + (size_t)r0 * W, (int)HW, 0.0f, scratch, N);
            vq_col2im_rows_add(yn, scratch, &g, r0, r);
        }
    }
}

void vq_conv_transpose2d_backward_data(float *dx, const float *dy, const float *w,
                                       const vq_conv_transpose2d_shape *s, float *scratch)
{
    const int Ci = s->Ci, Kt = s->Co * s->kh * s->kw, W = s->W;
    const size_t P = (size_t)s->Ho * s->Wo, HW = (size_t)s->H * W;
    vq_col_geom g = geom_of(s);
    const int R = vq_col_tile_rows(&g);
    for (int n = 0; n < s->B; n++) {
        const float *dyn = dy + (size_t)n * s->Co * P;
        float *dxn = dx + (size_t)n * Ci * HW;
        for (int r0 = 0; r0 < s->H; r0 += R) {
            int r = s->H - r0 < R ? s->H - r0 : R, N = r * W;
            vq_im2col_rows(scratch, dyn, &g, r0, r);
            /* dx_n[:, band] (Ci, N; ld HW) += w (Ci, Kt) col (Kt, N) */
            vq_sgemm_par(CblasNoTrans, CblasNoTrans, Ci, N, Kt, 1.0f,
                        w, Kt, scratch, N, 1.0f, dxn + (size_t)r0 * W, (int)HW);
        }
    }
}

void vq_conv_transpose2d_backward_weight(float *dw, float *db, const float *dy, const float *x,
                                         const vq_conv_transpose2d_shape *s, float *scratch)
{
    const int Ci = s->Ci, Kt = s->Co * s->kh * s->kw, W = s->W;
    const size_t P = (size_t)s->Ho * s->Wo, HW = (size_t)s->H * W;
    vq_col_geom g = geom_of(s);
    const int R = vq_col_tile_rows(&g);
    if (db && s->bias) vq_bias_backward(db, dy, s->B, s->Co, P);
    for (int n = 0; n < s->B; n++) {
        const float *dyn = dy + (size_t)n * s->Co * P;
        const float *xn = x + (size_t)n * Ci * HW;
        for (int r0 = 0; r0 < s->H; r0 += R) {
            int r = s->H - r0 < R ? s->H - r0 : R, N = r * W;
            vq_im2col_rows(scratch, dyn, &g, r0, r);
            /* dw (Ci, Kt) += x_n[:, band] (Ci, N; ld HW) col^T (N, Kt) */
            vq_sgemm_par(CblasNoTrans, CblasTrans, Ci, Kt, N, 1.0f,
                        xn + (size_t)r0 * W, (int)HW, scratch, N, 1.0f, dw, Kt);
        }
    }
}
