/* quantizer.c: the codebook object: options, allocation, initialization,
 * checkpoint list, layout conversion, and the search-space transform shared by
 * forward, backward and the training updates. The lookup itself is in
 * quantizer_search.c, forward/backward in quantizer_fwdbwd.c, EMA / usage /
 * restart in quantizer_train.c, k-means in kmeans.c.
 *
 * Legend: B, H, W batch and spatial, N = B*H*W, K codes, D channels of z,
 * d lookup dimension. */
#include "quantizer_internal.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void vq_codebook_opts_default(vq_codebook_opts *opt, int K, int D)
{
    memset(opt, 0, sizeof *opt);
    opt->K = K;
    opt->D = D;
    opt->lookup_dim = 0;
    opt->beta = 0.25f;
    opt->loss_form = VQ_LOSS_LEGACY;
    opt->update = VQ_UPDATE_GRADIENT;
    opt->decay = 0.99;
    opt->eps = 1e-5;
    opt->distance = VQ_DIST_L2;
    opt->init = VQ_INIT_UNIFORM;
    opt->kmeans_iters = 10;
}

static int check_opts(const vq_codebook_opts *o)
{
    const char *w = "quantizer options";
    if (o->K <= 0 || o->D <= 0)
        return vq_fail(VQ_ERR_ARG, "%s: K (%d) and D (%d) must be positive", w, o->K, o->D);
    if (o->lookup_dim < 0 || o->lookup_dim > o->D)
        return vq_fail(VQ_ERR_ARG, "%s: lookup_dim %d must be in [0, D=%d]", w, o->lookup_dim, o->D);
    if (!(o->beta >= 0.0f) || !isfinite(o->beta))
        return vq_fail(VQ_ERR_ARG, "%s: beta %g must be finite and >= 0", w, (double)o->beta);
    if (o->loss_form != VQ_LOSS_LEGACY && o->loss_form != VQ_LOSS_CORRECTED)
        return vq_fail(VQ_ERR_ARG, "%s: unknown loss_form %d", w, (int)o->loss_form);
    if (o->update != VQ_UPDATE_GRADIENT && o->update != VQ_UPDATE_EMA)
        return vq_fail(VQ_ERR_ARG, "%s: unknown update rule %d", w, (int)o->update);
    if (o->distance != VQ_DIST_L2 && o->distance != VQ_DIST_COSINE)
        return vq_fail(VQ_ERR_ARG, "%s: unknown distance %d", w, (int)o->distance);
    if (o->init != VQ_INIT_UNIFORM && o->init != VQ_INIT_NORMAL && o->init != VQ_INIT_KMEANS)
        return vq_fail(VQ_ERR_ARG, "%s: unknown init %d", w, (int)o->init);
    if (o->update == VQ_UPDATE_EMA && !(o->decay > 0.0 && o->decay < 1.0))
        return vq_fail(VQ_ERR_ARG, "%s: EMA decay %g must be in (0, 1)", w, o->decay);
    if (o->update == VQ_UPDATE_EMA && !(o->eps > 0.0))
        return vq_fail(VQ_ERR_ARG, "%s: EMA eps %g must be > 0", w, o->eps);
    if (o->init == VQ_INIT_KMEANS && o->kmeans_iters < 0)
        return vq_fail(VQ_ERR_ARG, "%s: kmeans_iters %d must be >= 0", w, o->kmeans_iters);
    if (o->restart_after < 0)
        return vq_fail(VQ_ERR_ARG, "%s: restart_after %d must be >= 0", w, o->restart_after);
    if (!(o->restart_threshold >= 0.0f))
        return vq_fail(VQ_ERR_ARG, "%s: restart_threshold %g must be >= 0", w, (double)o->restart_threshold);
    if (o->restart_threshold > 0.0f && o->update != VQ_UPDATE_EMA)
        return vq_fail(VQ_ERR_ARG, "%s: restart_threshold reads EMA cluster_size; it needs update = EMA "
                       "(use restart_after with the gradient update)", w);
    if (o->tile_n < 0 || o->tile_k < 0)
        return vq_fail(VQ_ERR_ARG, "%s: tile sizes %d x %d must be >= 0 (0 = default)", w, o->tile_n, o->tile_k);
    return VQ_OK;
}

int vq_codebook_create(vq_codebook *cb, const vq_codebook_opts *opt)
{
    memset(cb, 0, sizeof *cb);
    int rc = check_opts(opt);
    if (rc) return rc;
    cb->opt = *opt;
    if (!cb->opt.tile_n) cb->opt.tile_n = VQ_DEFAULT_TILE_N;
    if (!cb->opt.tile_k) cb->opt.tile_k = VQ_DEFAULT_TILE_K;
    int K = opt->K, D = opt->D, d = opt->lookup_dim ? opt->lookup_dim : opt->D;
    cb->K = K; cb->D = D; cb->d = d;
    int ok = 1;
    ok &= !!(cb->embed = vq_alloc((size_t)K * d * sizeof(float)));
    if (d < D) {
        ok &= !!(cb->proj_in_w = vq_alloc((size_t)d * D * sizeof(float)));
        ok &= !!(cb->proj_in_b = vq_alloc((size_t)d * sizeof(float)));
        ok &= !!(cb->proj_out_w = vq_alloc((size_t)D * d * sizeof(float)));
        ok &= !!(cb->proj_out_b = vq_alloc((size_t)D * sizeof(float)));
    }
    if (opt->update == VQ_UPDATE_EMA) {
        ok &= !!(cb->cluster_size = vq_alloc((size_t)K * sizeof(float)));
        ok &= !!(cb->embed_avg = vq_alloc((size_t)K * d * sizeof(float)));
    }
    ok &= !!(cb->usage_window = vq_alloc((size_t)K * sizeof(int64_t)));
    ok &= !!(cb->steps_since_used = vq_alloc((size_t)K * sizeof(int32_t)));
    if (!ok) {
        vq_codebook_destroy(cb);
        return vq_fail_context(VQ_ERR_NOMEM, "creating a %d x %d codebook", K, d);
    }
    return VQ_OK;
}

void vq_codebook_destroy(vq_codebook *cb)
{
    vq_free(cb->embed);
    vq_free(cb->proj_in_w); vq_free(cb->proj_in_b);
    vq_free(cb->proj_out_w); vq_free(cb->proj_out_b);
    vq_free(cb->cluster_size); vq_free(cb->embed_avg);
    vq_free(cb->usage_window); vq_free(cb->steps_since_used);
    memset(cb, 0, sizeof *cb);
}

int vq_quant_check(const vq_codebook *cb, const char *fn, int B, int H, int W)
{
    if (!cb || !cb->embed)
        return vq_fail(VQ_ERR_ARG, "%s: codebook is not created", fn);
    if (B <= 0 || H <= 0 || W <= 0)
        return vq_fail(VQ_ERR_ARG, "%s: z shape (%d, %d, %d, %d) must be positive", fn, B, cb->D, H, W);
    if ((int64_t)B * H * W > INT32_MAX)
        return vq_fail(VQ_ERR_ARG, "%s: N = %d*%d*%d vectors exceeds int32 indices", fn, B, H, W);
    return VQ_OK;
}

/* nn.Linear's default: weight and bias uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
static void init_linear(float *w, float *b, int out, int in, vq_rng *rng)
{
    float bound = 1.0f / sqrtf((float)in);
    for (int64_t i = 0; i < (int64_t)out * in; i++) w[i] = bound * (2.0f * vq_rng_uniform(rng) - 1.0f);
    for (int i = 0; i < out; i++) b[i] = bound * (2.0f * vq_rng_uniform(rng) - 1.0f);
}

int vq_codebook_init(vq_codebook *cb, vq_rng *rng, const float *z, int B, int H, int W)
{
    if (!cb || !cb->embed || !rng) return vq_fail(VQ_ERR_ARG, "vq_codebook_init: NULL codebook or rng");
    int K = cb->K, d = cb->d;
    int64_t Kd = (int64_t)K * d;
    /* Projections first: k-means runs in the projected space. */
    if (cb->proj_in_w) {
        init_linear(cb->proj_in_w, cb->proj_in_b, d, cb->D, rng);
        init_linear(cb->proj_out_w, cb->proj_out_b, cb->D, d, rng);
    }
    switch (cb->opt.init) {
    case VQ_INIT_UNIFORM:
        for (int64_t i = 0; i < Kd; i++) cb->embed[i] = (2.0f * vq_rng_uniform(rng) - 1.0f) / (float)K;
        break;
    case VQ_INIT_NORMAL:
        for (int64_t i = 0; i < Kd; i++) cb->embed[i] = vq_rng_normal(rng, 0.0f, 1.0f);
        break;
    case VQ_INIT_KMEANS: {
        if (!z) return vq_fail(VQ_ERR_ARG, "vq_codebook_init: k-means init needs encoder outputs z, got NULL");
        int rc = vq_quant_check(cb, "vq_codebook_init", B, H, W);
        if (rc) return rc;
        int64_t N = (int64_t)B * H * W;
        if (N < K)
            return vq_fail(VQ_ERR_ARG, "vq_codebook_init: k-means init needs at least K=%d vectors, z has %lld",
                           K, (long long)N);
        float *x = vq_alloc((size_t)N * cb->D * sizeof(float));
        float *v = cb->d < cb->D ? vq_alloc((size_t)N * d * sizeof(float)) : x;
        if (!x || !v) { vq_free(x); return vq_fail_context(VQ_ERR_NOMEM, "k-means init"); }
        vq_quant_search_space(x, v, NULL, z, cb, B, H, W);
        rc = vq_kmeans(cb->embed, NULL, v, N, d, K, cb->opt.kmeans_iters, rng);
        if (v != x) vq_free(v);
        vq_free(x);
        if (rc) return vq_fail_context(rc, "vq_codebook_init");
        break;
    }
    }
    if (cb->embed_avg) {
        memcpy(cb->embed_avg, cb->embed, (size_t)Kd * sizeof(float));
        memset(cb->cluster_size, 0, (size_t)K * sizeof(float));
    }
    memset(cb->usage_window, 0, (size_t)K * sizeof(int64_t));
    memset(cb->steps_since_used, 0, (size_t)K * sizeof(int32_t));
    cb->window_steps = cb->steps = 0;
    return VQ_OK;
}

void vq_quant_search_space(float *x, float *v, float *unorm, const float *z,
                           const vq_codebook *cb, int B, int H, int W)
{
    const int D = cb->D, d = cb->d;
    const int64_t HW = (int64_t)H * W, N = B * HW;
    vq_quant_nchw_to_rows(x, z, B, D, H, W);
    if (cb->proj_in_w) {
        /* v (N, d) = x (N, D) . P_in^T (D, d) + b_in */
        for (int64_t n = 0; n < N; n++) memcpy(v + n * d, cb->proj_in_b, (size_t)d * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, d, D,
                    1.0f, x, D, cb->proj_in_w, D, 1.0f, v, d);
    } else if (v != x) {
        memcpy(v, x, (size_t)N * D * sizeof(float));
    }
    if (cb->opt.distance == VQ_DIST_COSINE) {
        #pragma omp parallel for schedule(static) if (N * d >= VQ_PARALLEL_MIN)
        for (int64_t n = 0; n < N; n++) {
            float *r = v + n * d;
            double s = 0.0;
            for (int j = 0; j < d; j++) s += (double)r[j] * r[j];
            float nr = (float)sqrt(s);
            if (unorm) unorm[n] = nr;
            float inv = 1.0f / (nr > VQ_NORM_EPS ? nr : VQ_NORM_EPS);
            for (int j = 0; j < d; j++) r[j] *= inv;
        }
    }
}

void vq_quant_nchw_to_rows(float *rows, const float *t, int B, int C, int H, int W)
{
    const int64_t HW = (int64_t)H * W;
    /* One explicit transposition, so the GEMMs see contiguous rows. */
    #pragma omp parallel for collapse(2) schedule(static) if (B * C * HW >= VQ_PARALLEL_MIN)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            const float *src = t + ((int64_t)b * C + c) * HW;
            float *dst = rows + (int64_t)b * HW * C + c;
            for (int64_t p = 0; p < HW; p++) dst[p * C] = src[p];
        }
}

void vq_quant_rows_add_to_nchw(float *t, const float *rows, int B, int C, int H, int W)
{
    const int64_t HW = (int64_t)H * W;
    #pragma omp parallel for collapse(2) schedule(static) if (B * C * HW >= VQ_PARALLEL_MIN)
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++) {
            float *dst = t + ((int64_t)b * C + c) * HW;
            const float *src = rows + (int64_t)b * HW * C + c;
            for (int64_t p = 0; p < HW; p++) dst[p] += src[p * C];
        }
}

void vq_quant_search_codes(float *c, float *cnorm, float *csq, const vq_codebook *cb)
{
    const int K = cb->K, d = cb->d;
    const int cosine = cb->opt.distance == VQ_DIST_COSINE;
    for (int k = 0; k < K; k++) {
        const float *e = cb->embed + (int64_t)k * d;
        float *r = c + (int64_t)k * d;
        double s = 0.0;
        for (int j = 0; j < d; j++) s += (double)e[j] * e[j];
        float nr = (float)sqrt(s);
        if (cnorm) cnorm[k] = nr;
        float scale = cosine ? 1.0f / (nr > VQ_NORM_EPS ? nr : VQ_NORM_EPS) : 1.0f;
        double q = 0.0;
        for (int j = 0; j < d; j++) { r[j] = e[j] * scale; q += (double)r[j] * r[j]; }
        if (csq) csq[k] = (float)q;
    }
}

void vq_embed_from_dk(float *dst_kd, const float *src_dk, int K, int d)
{
    for (int k = 0; k < K; k++)
        for (int j = 0; j < d; j++) dst_kd[(int64_t)k * d + j] = src_dk[(int64_t)j * K + k];
}

void vq_embed_to_dk(float *dst_dk, const float *src_kd, int K, int d)
{
    for (int j = 0; j < d; j++)
        for (int k = 0; k < K; k++) dst_dk[(int64_t)j * K + k] = src_kd[(int64_t)k * d + j];
}

int vq_codebook_state(vq_state_entry *out, int max, vq_codebook *cb)
{
    vq_state_entry all[11];
    int n = 0;
#define ADD(nm, ptr, dt, nd, s0, s1) \
    if (ptr) all[n++] = (vq_state_entry){ nm, (void *)(ptr), dt, nd, { s0, s1 } }
    ADD("embed", cb->embed, VQ_STATE_F32, 2, cb->K, cb->d);
    ADD("proj_in.weight", cb->proj_in_w, VQ_STATE_F32, 2, cb->d, cb->D);
    ADD("proj_in.bias", cb->proj_in_b, VQ_STATE_F32, 1, cb->d, 0);
    ADD("proj_out.weight", cb->proj_out_w, VQ_STATE_F32, 2, cb->D, cb->d);
    ADD("proj_out.bias", cb->proj_out_b, VQ_STATE_F32, 1, cb->D, 0);
    ADD("cluster_size", cb->cluster_size, VQ_STATE_F32, 1, cb->K, 0);
    ADD("embed_avg", cb->embed_avg, VQ_STATE_F32, 2, cb->K, cb->d);
    ADD("usage_window", cb->usage_window, VQ_STATE_I64, 1, cb->K, 0);
    ADD("steps_since_used", cb->steps_since_used, VQ_STATE_I32, 1, cb->K, 0);
    ADD("window_steps", &cb->window_steps, VQ_STATE_I64, 0, 0, 0);
    ADD("steps", &cb->steps, VQ_STATE_I64, 0, 0, 0);
#undef ADD
    for (int i = 0; i < n && i < max; i++) out[i] = all[i];
    return n < max || max == 0 ? n : max;
}
