/* attention.c: AttnBlock's softmax(q^T k / sqrt(C)) v, forward and backward (see attention.h).
 *
 * Legend: B batch, C channels, N positions; per image Q, K, V, O are (C, N)
 * row-major and S, Wt (the probabilities), dW are (N, N), row i = query i.
 *   S = Q^T K / sqrt(C);  Wt = softmax over rows;  O = V Wt^T
 * Backward (softmax Jacobian per row):
 *   dV = dO Wt;  dW = dO^T V;  dS = Wt * (dW - rowsum(dW * Wt))
 *   dQ = K dS^T / sqrt(C);  dK = Q dS / sqrt(C)
 * sgemm calls sit outside the OpenMP softmax loops.
 */
#include "attention.h"

#include <cblas.h>
#include <math.h>

size_t vq_attention_scratch_floats(int N) { return (size_t)N * N; }

void vq_attention_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                          int B, int C, int N)
{
    const float scale = 1.0f / sqrtf((float)C);
    const size_t CN = (size_t)C * N, NN = (size_t)N * N;
    for (int b = 0; b < B; b++) {
        float *Wt = probs + b * NN;
        /* S (N, N) = scale * Q^T (N, C) K (C, N) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, C, scale,
                    q + b * CN, N, k + b * CN, N, 0.0f, Wt, N);
#pragma omp parallel for schedule(static) if (NN > 16384)
        for (int i = 0; i < N; i++) {
            float *row = Wt + (size_t)i * N, mx = row[0];
            for (int j = 1; j < N; j++) mx = row[j] > mx ? row[j] : mx;
            double sum = 0.0;
            for (int j = 0; j < N; j++) { row[j] = expf(row[j] - mx); sum += row[j]; }
            float inv = (float)(1.0 / sum);
            for (int j = 0; j < N; j++) row[j] *= inv;
        }
        /* O (C, N) = V (C, N) Wt^T (N, N) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, C, N, N, 1.0f,
                    v + b * CN, N, Wt, N, 0.0f, out + b * CN, N);
    }
}

void vq_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q,
                           const float *k, const float *v, const float *probs, int B, int C, int N,
                           float *scratch)
{
    const float scale = 1.0f / sqrtf((float)C);
    const size_t CN = (size_t)C * N, NN = (size_t)N * N;
    for (int b = 0; b < B; b++) {
        const float *Wt = probs + b * NN, *dO = dout + b * CN;
        if (dv)   /* dV (C, N) += dO (C, N) Wt (N, N) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, N, N, 1.0f,
                        dO, N, Wt, N, 1.0f, dv + b * CN, N);
        if (!dq && !dk) continue;
        float *dS = scratch;
        /* dW (N, N) = dO^T (N, C) V (C, N) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, N, C, 1.0f,
                    dO, N, v + b * CN, N, 0.0f, dS, N);
#pragma omp parallel for schedule(static) if (NN > 16384)
        for (int i = 0; i < N; i++) {
            float *row = dS + (size_t)i * N;
            const float *w = Wt + (size_t)i * N;
            double dot = 0.0;
            for (int j = 0; j < N; j++) dot += (double)row[j] * w[j];
            float d = (float)dot;
            for (int j = 0; j < N; j++) row[j] = w[j] * (row[j] - d);
        }
        if (dq)   /* dQ (C, N) += scale * K (C, N) dS^T (N, N) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, C, N, N, scale,
                        k + b * CN, N, dS, N, 1.0f, dq + b * CN, N);
        if (dk)   /* dK (C, N) += scale * Q (C, N) dS (N, N) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, N, N, scale,
                        q + b * CN, N, dS, N, 1.0f, dk + b * CN, N);
    }
}
