/* conv_common.c: bias fill and bias gradient for the convolution kernels. */
#include "conv_common.h"

#include <string.h>

void vq_fill_bias(float *y, const float *b, int B, int C, size_t P)
{
#pragma omp parallel for collapse(2) schedule(static) if ((size_t)B * C * P > 32768)
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            float *yc = y + ((size_t)n * C + c) * P;
            if (!b) { memset(yc, 0, sizeof(float) * P); continue; }
            float v = b[c];
            for (size_t p = 0; p < P; p++) yc[p] = v;
        }
}

void vq_bias_backward(float *db, const float *dy, int B, int C, size_t P)
{
#pragma omp parallel for schedule(static) if ((size_t)B * C * P > 32768)
    for (int c = 0; c < C; c++) {
        double acc = 0.0;
        for (int n = 0; n < B; n++) {
            const float *d = dy + ((size_t)n * C + c) * P;
            for (size_t p = 0; p < P; p++) acc += d[p];
        }
        db[c] += (float)acc;
    }
}
