/* resample.c: nearest upsampling, average pooling, constant padding and channel
 * concatenation, forward and backward (see resample.h).
 * Legend: B batch, C channels, H, W input, Ho, Wo output, P = H*W.
 * Each (b, c) plane is independent, so loops are parallel over planes. */
#include "resample.h"

#include <string.h>

#include "vq_common.h"

#define PAR_IF(elems) if ((size_t)(elems) > 32768)

void vq_upsample_nearest_forward(float *y, const float *x, int B, int C, int H, int W, int s)
{
    const int Wo = W * s;
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * C * H * W * s * s)
    for (long pl = 0; pl < (long)B * C; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * H * s * Wo;
        for (int iy = 0; iy < H; iy++) {
            float *row = yp + (size_t)iy * s * Wo;
            for (int ix = 0; ix < W; ix++)
                for (int j = 0; j < s; j++) row[ix * s + j] = xp[(size_t)iy * W + ix];
            for (int j = 1; j < s; j++) memcpy(row + (size_t)j * Wo, row, sizeof(float) * Wo);
        }
    }
}

void vq_upsample_nearest_backward(float *dx, const float *dy, int B, int C, int H, int W, int s)
{
    const int Wo = W * s;
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * C * H * W * s * s)
    for (long pl = 0; pl < (long)B * C; pl++) {
        float *dxp = dx + (size_t)pl * H * W;
        const float *dyp = dy + (size_t)pl * H * s * Wo;
        for (int iy = 0; iy < H; iy++)
            for (int ix = 0; ix < W; ix++) {
                float acc = 0.0f;
                for (int a = 0; a < s; a++)
                    for (int b = 0; b < s; b++) acc += dyp[((size_t)iy * s + a) * Wo + ix * s + b];
                dxp[(size_t)iy * W + ix] += acc;
            }
    }
}

int vq_avg_pool_check(int H, int W, int k, int st, int Ho, int Wo)
{
    if (k < 1 || st < 1 || H < k || W < k)
        return vq_fail(VQ_ERR_ARG, "avg_pool: kernel %d, stride %d do not fit a %dx%d input", k, st, H, W);
    if (Ho != (H - k) / st + 1 || Wo != (W - k) / st + 1)
        return vq_fail(VQ_ERR_ARG, "avg_pool: output %dx%d given, the geometry gives %dx%d",
                       Ho, Wo, (H - k) / st + 1, (W - k) / st + 1);
    return 0;
}

void vq_avg_pool_forward(float *y, const float *x, int B, int C, int H, int W, int k, int st, int Ho, int Wo)
{
    const float inv = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * C * H * W)
    for (long pl = 0; pl < (long)B * C; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                float acc = 0.0f;
                for (int a = 0; a < k; a++)
                    for (int b = 0; b < k; b++) acc += xp[(size_t)(oy * st + a) * W + ox * st + b];
                yp[(size_t)oy * Wo + ox] = acc * inv;
            }
    }
}

void vq_avg_pool_backward(float *dx, const float *dy, int B, int C, int H, int W, int k, int st, int Ho, int Wo)
{
    const float inv = 1.0f / (float)(k * k);
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * C * H * W)
    for (long pl = 0; pl < (long)B * C; pl++) {
        float *dxp = dx + (size_t)pl * H * W;
        const float *dyp = dy + (size_t)pl * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                float g = dyp[(size_t)oy * Wo + ox] * inv;
                for (int a = 0; a < k; a++)
                    for (int b = 0; b < k; b++) dxp[(size_t)(oy * st + a) * W + ox * st + b] += g;
            }
    }
}

int vq_pad_check(const vq_pad_shape *s)
{
    if (!s) return vq_fail(VQ_ERR_ARG, "pad: shape is NULL");
    if (s->B < 1 || s->C < 1 || s->H < 1 || s->W < 1)
        return vq_fail(VQ_ERR_ARG, "pad: sizes must be positive");
    if (s->top < 0 || s->bottom < 0 || s->left < 0 || s->right < 0)
        return vq_fail(VQ_ERR_ARG, "pad: negative padding (cropping) is not supported");
    return 0;
}

void vq_pad_forward(float *y, const float *x, const vq_pad_shape *s)
{
    const int H = s->H, W = s->W, Ho = H + s->top + s->bottom, Wo = W + s->left + s->right;
    const float v = s->value;
#pragma omp parallel for schedule(static) PAR_IF((size_t)s->B * s->C * Ho * Wo)
    for (long pl = 0; pl < (long)s->B * s->C; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++) {
            float *row = yp + (size_t)oy * Wo;
            int iy = oy - s->top;
            if (iy < 0 || iy >= H) { for (int ox = 0; ox < Wo; ox++) row[ox] = v; continue; }
            for (int ox = 0; ox < s->left; ox++) row[ox] = v;
            memcpy(row + s->left, xp + (size_t)iy * W, sizeof(float) * W);
            for (int ox = s->left + W; ox < Wo; ox++) row[ox] = v;
        }
    }
}

void vq_pad_backward(float *dx, const float *dy, const vq_pad_shape *s)
{
    const int H = s->H, W = s->W, Ho = H + s->top + s->bottom, Wo = W + s->left + s->right;
#pragma omp parallel for schedule(static) PAR_IF((size_t)s->B * s->C * H * W)
    for (long pl = 0; pl < (long)s->B * s->C; pl++) {
        float *dxp = dx + (size_t)pl * H * W;
        const float *dyp = dy + (size_t)pl * Ho * Wo;
        for (int iy = 0; iy < H; iy++) {
            const float *src = dyp + (size_t)(iy + s->top) * Wo + s->left;
            float *dst = dxp + (size_t)iy * W;
            for (int ix = 0; ix < W; ix++) dst[ix] += src[ix];
        }
    }
}

void vq_concat_channels_forward(float *y, const float *const *xs, const int *Cs, int n, int B, size_t P)
{
    int Ct = 0;
    for (int i = 0; i < n; i++) Ct += Cs[i];
    for (int b = 0; b < B; b++) {
        float *dst = y + (size_t)b * Ct * P;
        for (int i = 0; i < n; i++) {
            size_t len = (size_t)Cs[i] * P;
            memcpy(dst, xs[i] + (size_t)b * len, sizeof(float) * len);
            dst += len;
        }
    }
}

void vq_concat_channels_backward(float *const *dxs, const float *dy, const int *Cs, int n, int B, size_t P)
{
    int Ct = 0;
    for (int i = 0; i < n; i++) Ct += Cs[i];
    for (int b = 0; b < B; b++) {
        const float *src = dy + (size_t)b * Ct * P;
        for (int i = 0; i < n; i++) {
            size_t len = (size_t)Cs[i] * P;
            if (dxs[i]) {
                float *dst = dxs[i] + (size_t)b * len;
#pragma omp parallel for simd schedule(static) PAR_IF(len)
                for (size_t j = 0; j < len; j++) dst[j] += src[j];
            }
            src += len;
        }
    }
}
