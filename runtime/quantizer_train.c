/* quantizer_train.c: what happens to a codebook between training steps besides
 * the optimizer: rosinality's EMA update, usage bookkeeping, dead-code restart,
 * and the usage statistics (codes used, perplexity). Notation: quantizer.h.
 *
 * Legend: B, H, W, N = B*H*W, K codes, D channels of z, d lookup dimension. */
#include "quantizer_internal.h"
#include "metrics.h"

#include <math.h>
#include <string.h>

static int check_idx(const int32_t *idx, int64_t N, int K, const char *fn)
{
    if (!idx) return vq_fail(VQ_ERR_ARG, "%s: NULL idx", fn);
    for (int64_t n = 0; n < N; n++)
        if (idx[n] < 0 || idx[n] >= K)
            return vq_fail(VQ_ERR_ARG, "%s: idx[%lld] = %d is outside [0, K=%d)", fn, (long long)n, idx[n], K);
    return VQ_OK;
}

/* v (N, d) of z in the search space; caller frees *x (and *v if different). */
static int search_rows(float **x, float **v, const float *z, const vq_codebook *cb, int B, int H, int W)
{
    int64_t N = (int64_t)B * H * W;
    *x = vq_alloc((size_t)N * cb->D * sizeof(float));
    *v = cb->proj_in_w ? vq_alloc((size_t)N * cb->d * sizeof(float)) : *x;
    if (!*x || !*v) {
        if (*v != *x) vq_free(*v);
        vq_free(*x);
        return VQ_ERR_NOMEM;
    }
    vq_quant_search_space(*x, *v, NULL, z, cb, B, H, W);
    return VQ_OK;
}

int vq_ema_update(vq_codebook *cb, const float *z, const int32_t *idx, int B, int H, int W)
{
    int rc = vq_quant_check(cb, "vq_ema_update", B, H, W);
    if (rc) return rc;
    if (cb->opt.update != VQ_UPDATE_EMA)
        return vq_fail(VQ_ERR_ARG, "vq_ema_update: the codebook was created with the gradient update");
    if (!z) return vq_fail(VQ_ERR_ARG, "vq_ema_update: NULL z");
    const int K = cb->K, d = cb->d;
    const int64_t N = (int64_t)B * H * W;
    if ((rc = check_idx(idx, N, K, "vq_ema_update"))) return rc;
    float *x, *v;
    double *sum = vq_alloc(((size_t)K * d + K) * sizeof(double)); /* (K, d) then counts (K) */
    if (!sum || search_rows(&x, &v, z, cb, B, H, W)) {
        vq_free(sum);
        return vq_fail_context(VQ_ERR_NOMEM, "vq_ema_update");
    }
    double *cnt = sum + (size_t)K * d;
    for (int64_t n = 0; n < N; n++) {
        double *r = sum + (int64_t)idx[n] * d;
        const float *vn = v + n * d;
        for (int j = 0; j < d; j++) r[j] += vn[j];
        cnt[idx[n]] += 1.0;
    }
    /* torch: x.mul_(decay).add_(y, alpha=1 - decay), each Python scalar cast to float. */
    const float decay = (float)cb->opt.decay, alpha = (float)(1.0 - cb->opt.decay);
    double n_total = 0.0;
    for (int k = 0; k < K; k++) {
        float cs = cb->cluster_size[k] * decay;
        cb->cluster_size[k] = cs + alpha * (float)cnt[k];
        n_total += cb->cluster_size[k];
        for (int j = 0; j < d; j++) {
            float *ea = cb->embed_avg + (int64_t)k * d + j;
            float t = *ea * decay;
            *ea = t + alpha * (float)sum[(int64_t)k * d + j];
        }
    }
    /* Laplace smoothing keeps an unused code's divisor away from zero:
     * (cluster_size + eps) / (n + K*eps) * n, with K*eps formed in double as in Python. */
    const float n = (float)n_total, eps = (float)cb->opt.eps, den = n + (float)(cb->K * cb->opt.eps);
    for (int k = 0; k < K; k++) {
        float cs = (cb->cluster_size[k] + eps) / den * n;
        for (int j = 0; j < d; j++) cb->embed[(int64_t)k * d + j] = cb->embed_avg[(int64_t)k * d + j] / cs;
    }
    if (v != x) vq_free(v);
    vq_free(x);
    vq_free(sum);
    return VQ_OK;
}

int vq_usage_count(int64_t *counts, const int32_t *idx, int64_t N, int K)
{
    int rc = check_idx(idx, N, K, "vq_usage_count");
    if (rc) return rc;
    for (int64_t n = 0; n < N; n++) counts[idx[n]]++;
    return VQ_OK;
}

int vq_usage_record(vq_codebook *cb, const int32_t *idx, int64_t N)
{
    if (!cb || !cb->embed) return vq_fail(VQ_ERR_ARG, "vq_usage_record: codebook is not created");
    const int K = cb->K;
    int rc = check_idx(idx, N, K, "vq_usage_record");
    if (rc) return rc;
    int64_t *cnt = vq_alloc((size_t)K * sizeof(int64_t));
    if (!cnt) return vq_fail_context(VQ_ERR_NOMEM, "vq_usage_record");
    vq_usage_count(cnt, idx, N, K);
    for (int k = 0; k < K; k++) {
        cb->usage_window[k] += cnt[k];
        if (cnt[k]) cb->steps_since_used[k] = 0;
        else if (cb->steps_since_used[k] < INT32_MAX) cb->steps_since_used[k]++;
    }
    cb->window_steps++;
    cb->steps++;
    vq_free(cnt);
    return VQ_OK;
}

void vq_usage_reset_window(vq_codebook *cb)
{
    memset(cb->usage_window, 0, (size_t)cb->K * sizeof(int64_t));
    cb->window_steps = 0;
}

void vq_usage_stats(int *n_used, double *perplexity, const int64_t *counts, int K)
{
    /* One definition of usage and perplexity for the whole runtime (metrics.c);
     * here an empty window reads as perplexity 1 (one "code", no information). */
    vq_codebook_stats s;
    vq_codebook_stats_compute(&s, counts, K);
    if (n_used) *n_used = s.used;
    if (perplexity) *perplexity = s.total > 0 ? s.perplexity : 1.0;
}

int vq_restart_dead_codes(vq_codebook *cb, int *n_restarted, const float *z,
                          int B, int H, int W, vq_rng *rng)
{
    int rc = vq_quant_check(cb, "vq_restart_dead_codes", B, H, W);
    if (rc) return rc;
    if (!z || !rng) return vq_fail(VQ_ERR_ARG, "vq_restart_dead_codes: NULL z or rng");
    const int K = cb->K, d = cb->d;
    const int64_t N = (int64_t)B * H * W;
    const int after = cb->opt.restart_after;
    const float thr = cb->opt.restart_threshold;
    int dead = 0;
    float *x = NULL, *v = NULL;
    for (int k = 0; k < K; k++) {
        int is_dead = (after > 0 && cb->steps_since_used[k] >= after) ||
                      (cb->cluster_size && thr > 0.0f && cb->cluster_size[k] < thr);
        if (!is_dead) continue;
        if (!x && search_rows(&x, &v, z, cb, B, H, W))
            return vq_fail_context(VQ_ERR_NOMEM, "vq_restart_dead_codes");
        const float *src = v + (int64_t)vq_rng_below(rng, (uint64_t)N) * d;
        memcpy(cb->embed + (int64_t)k * d, src, (size_t)d * sizeof(float));
        if (cb->cluster_size) {
            /* Give the revived code the weight of a live one, so the next EMA
             * normalization keeps it near the sample instead of inflating it. */
            float w = thr > 1.0f ? thr : 1.0f;
            cb->cluster_size[k] = w;
            for (int j = 0; j < d; j++) cb->embed_avg[(int64_t)k * d + j] = src[j] * w;
        }
        cb->steps_since_used[k] = 0;
        dead++;
    }
    if (v != x) vq_free(v);
    vq_free(x);
    if (n_restarted) *n_restarted = dead;
    return VQ_OK;
}
