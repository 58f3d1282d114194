/* conv2d_co1.c: forward and weight gradient of a conv2d with one output channel
 * (the PatchGAN's logits conv, 512 -> 1; vqgan_fmnist's grayscale conv_out),
 * as small GEMMs over the kernel taps instead of im2col + a matrix-vector product.
 *
 * Why: with Co = 1 the im2col GEMM has M = 1, so building the column matrix
 * (K x P floats per image, K = Ci*kh*kw = 8192 for taming's discriminator)
 * moves as much memory as the product reads and sgemm runs at a few GFLOP/s
 * (measured 11 ms for vqgan_fmnist's conv_out forward, 75 MFLOP, one thread).
 * Here the channel sum is the GEMM and the taps are its rows:
 *   forward   T (kk, HW) = w^T (kk, Ci) x_b (Ci, HW), then
 *             y[b, oy, ox] = bias + sum over taps t = (ky, kx) of T[t, iy*W + ix]
 *             with iy = oy*sh + ky - pt, ix = ox*sw + kx - pl inside the image;
 *   weight    D (HW, kk): D[iy*W + ix, t] = dy[b, oy, ox] for the one output that
 *             reads input pixel (iy, ix) through tap t (0 if none), then
 *             dw (Ci, kk) += x_b (Ci, HW) D (HW, kk).
 * Backward data stays in conv2d.c (a correlation over dy, already fast for Co = 1).
 *
 * Legend: B batch, Ci input channels, H, W input, HW = H*W, Ho, Wo output,
 * kk = kh*kw taps. Threads: forward by image (T in the thread's scratch slot),
 * weight gradient by blocks of input channels (each thread owns rows of dw).
 */
#include "conv2d_co1.h"

#include <omp.h>
#include <string.h>

#include "conv_common.h"

size_t vq_conv2d_co1_slot_floats(const vq_conv2d_shape *s)
{
    size_t n = (size_t)s->kh * s->kw * s->H * s->W;   /* T (kk, HW) or D (HW, kk) */
    return (n + 15) / 16 * 16;
}

void vq_conv2d_co1_forward(float *y, const float *x, const float *w, const float *b,
                           const vq_conv2d_shape *s, float *scratch)
{
    const int Ci = s->Ci, H = s->H, W = s->W, Ho = s->Ho, Wo = s->Wo, kh = s->kh, kw = s->kw, kk = kh * kw;
    const size_t HW = (size_t)H * W, slot = vq_conv2d_co1_slot_floats(s);
    const float bv = s->bias && b ? b[0] : 0.0f;
    const int nt = vq_kernel_threads();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int n = 0; n < s->B; n++) {
        float *T = scratch + (size_t)omp_get_thread_num() * slot;   /* (kk, HW) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, kk, (int)HW, Ci, 1.0f, w, kk,
                    x + (size_t)n * Ci * HW, (int)HW, 0.0f, T, (int)HW);
        float *yn = y + (size_t)n * Ho * Wo;
        for (int i = 0; i < Ho * Wo; i++) yn[i] = bv;
        for (int ky = 0; ky < kh; ky++)
            for (int oy = 0; oy < Ho; oy++) {
                const int iy = oy * s->stride_h + ky - s->pad_top;
                if (iy < 0 || iy >= H) continue;
                for (int kx = 0; kx < kw; kx++) {
                    const float *Tr = T + (size_t)(ky * kw + kx) * HW + (size_t)iy * W;
                    for (int ox = 0; ox < Wo; ox++) {
                        const int ix = ox * s->stride_w + kx - s->pad_left;
                        if (ix >= 0 && ix < W) yn[(size_t)oy * Wo + ox] += Tr[ix];
                    }
                }
            }
    }
}

/* D (HW, kk) of image n: dy scattered to the input pixel each tap reads. */
static void scatter_taps(float *D, const float *dyn, const vq_conv2d_shape *s)
{
    const int H = s->H, W = s->W, kh = s->kh, kw = s->kw, kk = kh * kw;
    memset(D, 0, sizeof(float) * (size_t)H * W * kk);
    for (int oy = 0; oy < s->Ho; oy++)
        for (int ky = 0; ky < kh; ky++) {
            const int iy = oy * s->stride_h + ky - s->pad_top;
            if (iy < 0 || iy >= H) continue;
            for (int ox = 0; ox < s->Wo; ox++)
                for (int kx = 0; kx < kw; kx++) {
                    const int ix = ox * s->stride_w + kx - s->pad_left;
                    if (ix >= 0 && ix < W) D[((size_t)iy * W + ix) * kk + ky * kw + kx] = dyn[(size_t)oy * s->Wo + ox];
                }
        }
}

void vq_conv2d_co1_backward_weight(float *dw, float *db, const float *dy, const float *x,
                                   const vq_conv2d_shape *s, float *scratch)
{
    const int Ci = s->Ci, kk = s->kh * s->kw;
    const size_t HW = (size_t)s->H * s->W, P = (size_t)s->Ho * s->Wo, slot = vq_conv2d_co1_slot_floats(s);
    if (db && s->bias) vq_bias_backward(db, dy, s->B, 1, P);
    const int nt = vq_kernel_threads();
    const int nb = Ci < nt ? Ci : nt;
#pragma omp parallel for num_threads(nt) schedule(static, 1) if (nt > 1)
    for (int cb = 0; cb < nb; cb++) {
        const int c0 = (int)((long)cb * Ci / nb), c1 = (int)((long)(cb + 1) * Ci / nb);
        float *D = scratch + (size_t)omp_get_thread_num() * slot;   /* (HW, kk) */
        for (int n = 0; n < s->B; n++) {
            scatter_taps(D, dy + (size_t)n * P, s);
            /* dw[c0..c1] (c, kk) += x_n[c0..c1] (c, HW) D (HW, kk) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, c1 - c0, kk, (int)HW, 1.0f,
                        x + ((size_t)n * Ci + c0) * HW, (int)HW, D, kk, 1.0f, dw + (size_t)c0 * kk, kk);
        }
    }
}
