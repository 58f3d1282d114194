/* quantizer_fwdbwd.c: the quantizer's forward (lookup, z_q, loss value) and
 * backward (straight-through gradient to z, commitment and codebook terms,
 * projections), side by side. Search space and notation: quantizer.h.
 *
 * Loss (M = N*d elements, sg = stop-gradient, c_n = c_{i_n}):
 *   loss = a * mean((sg[c_n] - v_n)^2) + g * mean((c_n - sg[v_n])^2)
 *   LEGACY a = 1, g = beta;  CORRECTED a = beta, g = 1;  EMA: g = 0 (the
 *   codebook is not trained by gradient and neither reference reports it).
 * Backward of L = <dzq, zq> + w * loss:
 *   dq_n = P_out^T dzq_n          dP_out += dzq_n q_n^T, db_out += dzq_n   (q_n = c_n)
 *   dv_n = dq_n + w*a*2/M (v_n - c_n)                  (straight-through + commitment)
 *   dc_k = w*g*2/M sum_{i_n=k} (c_k - v_n)             (codebook term)
 *   cosine: du = (dv - v (v.dv)) / |u|, de = (dc - c (c.dc)) / |e|  (F.normalize's Jacobian)
 *   dP_in += du_n x_n^T, db_in += du_n, dx_n = P_in^T du_n.
 *
 * Legend: B, H, W, N = B*H*W, K codes, D channels of z, d lookup dimension. */
#include "quantizer_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

static void loss_coefs(const vq_codebook *cb, double *a, double *g)
{
    double beta = cb->opt.beta;
    int legacy = cb->opt.loss_form == VQ_LOSS_LEGACY;
    *a = legacy ? 1.0 : beta;
    *g = cb->opt.update == VQ_UPDATE_EMA ? 0.0 : (legacy ? beta : 1.0);
}

/* zq (B, D, H, W) = the output of code idx[n] at each position: c (K, d) the codes as searched,
 * projected by P_out into o (K, D) first when the codebook has a projection (o == c otherwise):
 * each code's output is formed once, then gathered. */
static void codes_to_output(float *zq, const int32_t *idx, const float *c, float *o, const vq_codebook *cb,
                            int B, int64_t HW)
{
    const int K = cb->K, D = cb->D, d = cb->d;
    if (o != c) {   /* o (K, D) = c (K, d) . P_out^T (d, D) + b_out */
        for (int k = 0; k < K; k++) memcpy(o + (int64_t)k * D, cb->proj_out_b, (size_t)D * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, K, D, d, 1.0f, c, d, cb->proj_out_w, d, 1.0f, o, D);
    }
    #pragma omp parallel for collapse(2) schedule(static) if ((int64_t)B * HW * D >= VQ_PARALLEL_MIN)
    for (int b = 0; b < B; b++)
        for (int ch = 0; ch < D; ch++) {
            float *dst = zq + ((int64_t)b * D + ch) * HW;
            const int32_t *ib = idx + (int64_t)b * HW;
            for (int64_t p = 0; p < HW; p++) dst[p] = o[(int64_t)ib[p] * D + ch];
        }
}

int vq_codebook_lookup(float *zq, const int32_t *idx, const vq_codebook *cb, int B, int H, int W)
{
    int rc = vq_quant_check(cb, "vq_codebook_lookup", B, H, W);
    if (rc) return rc;
    if (!idx || !zq) return vq_fail(VQ_ERR_ARG, "vq_codebook_lookup: NULL idx or zq");
    const int K = cb->K, D = cb->D, d = cb->d;
    const int64_t N = (int64_t)B * H * W;
    for (int64_t n = 0; n < N; n++)
        if (idx[n] < 0 || idx[n] >= K)
            return vq_fail(VQ_ERR_ARG, "vq_codebook_lookup: code %d at position %lld is outside 0..%d", (int)idx[n],
                           (long long)n, K - 1);
    float *c = vq_alloc((size_t)K * d * sizeof(float));                                 /* (K, d) */
    float *o = cb->proj_in_w ? vq_alloc((size_t)K * D * sizeof(float)) : c;            /* (K, D) */
    if (!c || !o) rc = vq_fail_context(VQ_ERR_NOMEM, "vq_codebook_lookup");
    else {
        vq_quant_search_codes(c, NULL, NULL, cb);
        codes_to_output(zq, idx, c, o, cb, B, (int64_t)H * W);
    }
    if (o != c) vq_free(o);
    vq_free(c);
    return rc;
}

int vq_quantize_forward(int32_t *idx, float *zq, float *loss,
                        const float *z, const vq_codebook *cb, int B, int H, int W)
{
    int rc = vq_quant_check(cb, "vq_quantize_forward", B, H, W);
    if (rc) return rc;
    if (!idx || !zq || !z) return vq_fail(VQ_ERR_ARG, "vq_quantize_forward: NULL idx, zq or z");
    const int K = cb->K, D = cb->D, d = cb->d;
    const int64_t HW = (int64_t)H * W, N = B * HW;
    const int proj = cb->proj_in_w != NULL;

    float *x = vq_alloc((size_t)N * D * sizeof(float));                   /* (N, D) */
    float *v = proj ? vq_alloc((size_t)N * d * sizeof(float)) : x;        /* (N, d) */
    float *c = vq_alloc((size_t)K * d * sizeof(float));                   /* (K, d) */
    float *csq = vq_alloc((size_t)K * sizeof(float));                     /* (K) */
    float *o = proj ? vq_alloc((size_t)K * D * sizeof(float)) : c;        /* (K, D) codes as output */
    if (!x || !v || !c || !csq || !o) { rc = vq_fail_context(VQ_ERR_NOMEM, "vq_quantize_forward"); goto out; }

    vq_quant_search_space(x, v, NULL, z, cb, B, H, W);
    vq_quant_search_codes(c, NULL, csq, cb);
    rc = vq_quant_nearest(idx, v, c, csq, N, d, K, cb->opt.tile_n, cb->opt.tile_k);
    if (rc) goto out;

    codes_to_output(zq, idx, c, o, cb, B, HW);

    /* Serial double sum: the same value for any thread count. */
    double s = 0.0;
    for (int64_t n = 0; n < N; n++) {
        const float *vn = v + n * d, *cn = c + (int64_t)idx[n] * d;
        for (int j = 0; j < d; j++) { double t = (double)vn[j] - cn[j]; s += t * t; }
    }
    double mse = s / ((double)N * d), a, g;
    loss_coefs(cb, &a, &g);
    if (!isfinite(mse)) {
        rc = vq_fail(VQ_ERR_NUMERIC, "vq_quantize_forward: quantization error is %g (non-finite z or codebook)", mse);
        goto out;
    }
    if (loss) *loss = (float)((a + g) * mse);
out:
    if (o != c) vq_free(o);
    if (v != x) vq_free(v);
    vq_free(x); vq_free(c); vq_free(csq);
    return rc;
}

/* (N, C) rows: out[j] += sum_n rows[n][j] */
static void add_colsum(float *out, const float *rows, int64_t N, int C)
{
    for (int j = 0; j < C; j++) {
        double s = 0.0;
        for (int64_t n = 0; n < N; n++) s += rows[n * C + j];
        out[j] += (float)s;
    }
}

/* r = (r - y (y.r)) / max(nrm, eps): gradient through y = u / max(|u|, eps). */
static void normalize_backward(float *r, const float *y, float nrm, int d)
{
    if (nrm > VQ_NORM_EPS) {
        double dot = 0.0;
        for (int j = 0; j < d; j++) dot += (double)y[j] * r[j];
        for (int j = 0; j < d; j++) r[j] = (float)((r[j] - y[j] * dot) / nrm);
    } else {
        for (int j = 0; j < d; j++) r[j] /= VQ_NORM_EPS;
    }
}

int vq_quantize_backward(const vq_codebook_grads *g, float *dz,
                         const float *dzq, const float *z, const int32_t *idx,
                         const vq_codebook *cb, int B, int H, int W, float loss_weight)
{
    int rc = vq_quant_check(cb, "vq_quantize_backward", B, H, W);
    if (rc) return rc;
    if (!dz || !dzq || !z || !idx) return vq_fail(VQ_ERR_ARG, "vq_quantize_backward: NULL dz, dzq, z or idx");
    const vq_codebook_grads none = { 0 };
    if (!g) g = &none;
    const int K = cb->K, D = cb->D, d = cb->d;
    const int64_t N = (int64_t)B * H * W;
    const int proj = cb->proj_in_w != NULL, cosine = cb->opt.distance == VQ_DIST_COSINE;
    for (int64_t n = 0; n < N; n++)
        if (idx[n] < 0 || idx[n] >= K)
            return vq_fail(VQ_ERR_ARG, "vq_quantize_backward: idx[%lld] = %d is outside [0, K=%d)",
                           (long long)n, idx[n], K);

    float *x = vq_alloc((size_t)N * D * sizeof(float));                   /* (N, D) */
    float *v = proj ? vq_alloc((size_t)N * d * sizeof(float)) : x;        /* (N, d) */
    float *unorm = cosine ? vq_alloc((size_t)N * sizeof(float)) : NULL;   /* (N) */
    float *c = vq_alloc((size_t)K * d * sizeof(float));                   /* (K, d) */
    float *cnorm = vq_alloc((size_t)K * sizeof(float));                   /* (K) */
    float *dq = vq_alloc((size_t)N * D * sizeof(float));                  /* (N, D), later dx */
    float *dv = proj ? vq_alloc((size_t)N * d * sizeof(float)) : dq;      /* (N, d) */
    float *cq = proj ? vq_alloc((size_t)N * d * sizeof(float)) : NULL;    /* (N, d) c_{i_n} */
    float *dc = vq_alloc((size_t)K * d * sizeof(float));                  /* (K, d) */
    if (!x || !v || (cosine && !unorm) || !c || !cnorm || !dq || !dv || (proj && !cq) || !dc) {
        rc = vq_fail_context(VQ_ERR_NOMEM, "vq_quantize_backward");
        goto out;
    }
    vq_quant_search_space(x, v, unorm, z, cb, B, H, W);
    vq_quant_search_codes(c, cnorm, NULL, cb);
    vq_quant_nchw_to_rows(dq, dzq, B, D, H, W);

    if (proj) {
        for (int64_t n = 0; n < N; n++) memcpy(cq + n * d, c + (int64_t)idx[n] * d, (size_t)d * sizeof(float));
        if (g->dproj_out_w) /* (D, d) += dq^T (D, N) . cq (N, d) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, D, d, (int)N, 1.0f, dq, D, cq, d, 1.0f,
                        g->dproj_out_w, d);
        if (g->dproj_out_b) add_colsum(g->dproj_out_b, dq, N, D);
        /* dv (N, d) = dq (N, D) . P_out (D, d) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, d, D, 1.0f, dq, D, cb->proj_out_w, d, 0.0f,
                    dv, d);
    }

    double a, gc;
    loss_coefs(cb, &a, &gc);
    const double s = 2.0 * (double)loss_weight / ((double)N * d);
    const float sa = (float)(s * a), sg = (float)(s * gc);
    #pragma omp parallel for schedule(static) if (N * d >= VQ_PARALLEL_MIN)
    for (int64_t n = 0; n < N; n++) {
        const float *vn = v + n * d, *cn = c + (int64_t)idx[n] * d;
        float *r = dv + n * d;
        for (int j = 0; j < d; j++) r[j] += sa * (vn[j] - cn[j]);
    }
    if (g->dembed && cb->opt.update == VQ_UPDATE_GRADIENT && sg != 0.0f) {
        /* Scatter over n is serial: deterministic, and only N*d adds. */
        for (int64_t n = 0; n < N; n++) {
            const float *vn = v + n * d;
            float *r = dc + (int64_t)idx[n] * d;
            const float *ck = c + (int64_t)idx[n] * d;
            for (int j = 0; j < d; j++) r[j] += sg * (ck[j] - vn[j]);
        }
        for (int k = 0; k < K; k++) {
            float *r = dc + (int64_t)k * d;
            if (cosine) normalize_backward(r, c + (int64_t)k * d, cnorm[k], d);
            for (int j = 0; j < d; j++) g->dembed[(int64_t)k * d + j] += r[j];
        }
    }
    if (cosine) {
        #pragma omp parallel for schedule(static) if (N * d >= VQ_PARALLEL_MIN)
        for (int64_t n = 0; n < N; n++) normalize_backward(dv + n * d, v + n * d, unorm[n], d);
    }
    float *dx = dv;
    if (proj) {
        if (g->dproj_in_w) /* (d, D) += du^T (d, N) . x (N, D) */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, D, (int)N, 1.0f, dv, d, x, D, 1.0f,
                        g->dproj_in_w, D);
        if (g->dproj_in_b) add_colsum(g->dproj_in_b, dv, N, d);
        /* dx (N, D) = du (N, d) . P_in (d, D), into dq's storage */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, D, d, 1.0f, dv, d, cb->proj_in_w, D, 0.0f,
                    dq, D);
        dx = dq;
    }
    vq_quant_rows_add_to_nchw(dz, dx, B, D, H, W);
out:
    if (v != x) vq_free(v);
    if (dv != dq) vq_free(dv);
    vq_free(x); vq_free(unorm); vq_free(c); vq_free(cnorm); vq_free(dq); vq_free(cq); vq_free(dc);
    return rc;
}
