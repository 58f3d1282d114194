/* attention.c: AttnBlock's softmax(q^T k / sqrt(C)) v, forward and backward (see attention.h).
 *
 * Legend: B batch, C channels, N positions; per image Q, K, V, O are (C, N)
 * row-major and S, Wt (the probabilities), dW are (N, N), row i = query i.
 *   S = Q^T K / sqrt(C);  Wt = softmax over rows;  O = V Wt^T
 * Backward (softmax Jacobian per row):
 *   dV = dO Wt;  dW = dO^T V;  dS = Wt * (dW - rowsum(dW * Wt))
 *   dQ = K dS^T / sqrt(C);  dK = Q dS / sqrt(C)
 * Inside a parallel region vq_sgemm_par and the row loops run serially.
 */
#include "attention.h"

#include <math.h>
#include <omp.h>

#include "conv_common.h"

/* Threads: images in parallel, each thread with single-threaded sgemm and its own
 * scratch slot, when the batch has at least as many images as threads; else one
 * image at a time with vq_sgemm_par and the row loops in parallel. */
size_t vq_attention_scratch_floats(int N) { return (size_t)vq_kernel_slots() * N * N; }

/* Row softmax of S (rows, N) in place. */
static void softmax_rows(float *S, int rows, int N, int par)
{
#pragma omp parallel for schedule(static) if (par && (size_t)rows * N > 16384 && !omp_in_parallel())
    for (int i = 0; i < rows; i++) {
        float *row = S + (size_t)i * N, mx = row[0];
        for (int j = 1; j < N; j++) mx = row[j] > mx ? row[j] : mx;
        double sum = 0.0;
        for (int j = 0; j < N; j++) { row[j] = expf(row[j] - mx); sum += row[j]; }
        float inv = (float)(1.0 / sum);
        for (int j = 0; j < N; j++) row[j] *= inv;
    }
}

/* dS = Wt * (dW - rowsum(dW * Wt)) in place of dW, rows of N. */
static void softmax_backward_rows(float *dS, const float *Wt, int N, int par)
{
#pragma omp parallel for schedule(static) if (par && (size_t)N * N > 16384 && !omp_in_parallel())
    for (int i = 0; i < N; i++) {
        float *row = dS + (size_t)i * N;
        const float *w = Wt + (size_t)i * N;
        double dot = 0.0;
        for (int j = 0; j < N; j++) dot += (double)row[j] * w[j];
        float d = (float)dot;
        for (int j = 0; j < N; j++) row[j] = w[j] * (row[j] - d);
    }
}

static void forward_image(float *out, float *Wt, const float *q, const float *k, const float *v, int C, int N,
                          float scale, int par)
{
    /* S (N, N) = scale * Q^T (N, C) K (C, N) */
    vq_sgemm_par(CblasTrans, CblasNoTrans, N, N, C, scale, q, N, k, N, 0.0f, Wt, N);
    softmax_rows(Wt, N, N, par);
    /* O (C, N) = V (C, N) Wt^T (N, N) */
    vq_sgemm_par(CblasNoTrans, CblasTrans, C, N, N, 1.0f, v, N, Wt, N, 0.0f, out, N);
}

void vq_attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                          int B, int C, int N)
{
    const float scale = 1.0f / sqrtf((float)C);
    const size_t CN = (size_t)C * N, NN = (size_t)N * N;
    const int nt = vq_kernel_threads();
    if (nt > 1 && B >= nt) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            forward_image(out + b * CN, probs + b * NN, q + b * CN, k + b * CN, v + b * CN, C, N, scale, 0);
        return;
    }
    for (int b = 0; b < B; b++)
        forward_image(out + b * CN, probs + b * NN, q + b * CN, k + b * CN, v + b * CN, C, N, scale, 1);
}

static void backward_image(float *dq, float *dk, float *dv, const float *dO, const float *q, const float *k,
                           const float *v, const float *Wt, int C, int N, float scale, float *dS, int par)
{
    if (dv)   /* dV (C, N) += dO (C, N) Wt (N, N) */
        vq_sgemm_par(CblasNoTrans, CblasNoTrans, C, N, N, 1.0f, dO, N, Wt, N, 1.0f, dv, N);
    if (!dq && !dk) return;
    /* dW (N, N) = dO^T (N, C) V (C, N) */
    vq_sgemm_par(CblasTrans, CblasNoTrans, N, N, C, 1.0f, dO, N, v, N, 0.0f, dS, N);
    softmax_backward_rows(dS, Wt, N, par);
    if (dq)   /* dQ (C, N) += scale * K (C, N) dS^T (N, N) */
        vq_sgemm_par(CblasNoTrans, CblasTrans, C, N, N, scale, k, N, dS, N, 1.0f, dq, N);
    if (dk)   /* dK (C, N) += scale * Q (C, N) dS (N, N) */
        vq_sgemm_par(CblasNoTrans, CblasNoTrans, C, N, N, scale, q, N, dS, N, 1.0f, dk, N);
}

void vq_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                           const float *k, const float *v, const float *probs, int B, int C, int N,
                           float *scratch)
{
    const float scale = 1.0f / sqrtf((float)C);
    const size_t CN = (size_t)C * N, NN = (size_t)N * N;
    const int nt = vq_kernel_threads();
#define IMG(p, b) ((p) ? (p) + (b) * CN : NULL)
    if (nt > 1 && B >= nt) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
        for (int b = 0; b < B; b++)
            backward_image(IMG(dq, b), IMG(dk, b), IMG(dv, b), dout + b * CN, q + b * CN, k + b * CN, v + b * CN,
                           probs + b * NN, C, N, scale, scratch + (size_t)omp_get_thread_num() * NN, 0);
        return;
    }
    for (int b = 0; b < B; b++)
        backward_image(IMG(dq, b), IMG(dk, b), IMG(dv, b), dout + b * CN, q + b * CN, k + b * CN, v + b * CN,
                       probs + b * NN, C, N, scale, scratch, 1);
#undef IMG
}
