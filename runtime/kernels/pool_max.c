/* pool_max.c: max pooling, forward and backward (see pool_max.h).
 * Legend: B batch, C channels, H, W input, Ho, Wo output. Each (b, c) plane is
 * independent, so loops are parallel over planes. */
#include "pool_max.h"

#include <math.h>
#include <stddef.h>

#include "vq_common.h"

#define PAR_IF(elems) if ((size_t)(elems) > 32768)

int vq_max_pool2d_check(int H, int W, int k, int st, int Ho, int Wo)
{
    if (k < 1 || st < 1 || H < k || W < k)
        return vq_fail(VQ_ERR_ARG, "max_pool2d: kernel %d, stride %d do not fit a %dx%d input", k, st, H, W);
    if (Ho != (H - k) / st + 1 || Wo != (W - k) / st + 1)
        return vq_fail(VQ_ERR_ARG, "max_pool2d: output %dx%d given, the geometry gives %dx%d",
                       Ho, Wo, (H - k) / st + 1, (W - k) / st + 1);
    return 0;
}

/* Offset (in the plane) of the first maximum of the window at (oy, ox):
 * strict > keeps the first of equal values; NaN wins, as in PyTorch. */
static inline size_t window_argmax(const float *xp, int W, int k, int st, int oy, int ox)
{
    size_t best = (size_t)oy * st * W + (size_t)ox * st;
    float m = xp[best];
    if (isnan(m)) return best;
    for (int a = 0; a < k; a++)
        for (int b = 0; b < k; b++) {
            size_t i = (size_t)(oy * st + a) * W + (size_t)ox * st + b;
            float v = xp[i];
            if (v > m || isnan(v)) {
                best = i; m = v;
                if (isnan(v)) return best;
            }
        }
    return best;
}

void vq_max_pool2d_forward(float *y, const float *x, int B, int C, int H, int W, int k, int st, int Ho, int Wo)
{
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * C * H * W)
    for (long pl = 0; pl < (long)B * C; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * Ho * Wo;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) yp[(size_t)oy * Wo + ox] = xp[window_argmax(xp, W, k, st, oy, ox)];
    }
}

void vq_max_pool2d_backward(float *dx, const float *dy, const float *x, int B, int C, int H, int W, int k, int st,
                            int Ho, int Wo)
{
#pragma omp parallel for schedule(static) PAR_IF((size_t)B * C * H * W)
    for (long pl = 0; pl < (long)B * C; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        const float *dyp = dy + (size_t)pl * Ho * Wo;
        float *dxp = dx + (size_t)pl * H * W;
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) dxp[window_argmax(xp, W, k, st, oy, ox)] += dyp[(size_t)oy * Wo + ox];
    }
}
