/* toy_model.c: a hand-written model honouring model_desc.h (see toy_model.h
 * for the architecture). It is what vqc's generated code will look like: a
 * constant tensor table with slab offsets, one arena allocated at create(),
 * forward keeping what backward needs, backward accumulating into the grads
 * slab, and the quantizer (quantizer.h) called on arena buffers.
 *
 * Legend: B batch, C0 = 1 input channel, H0 = W0 = 32, C1 = 16 hidden
 * channels, H1 = W1 = 16 code map, D code dim, K codes, N = B*H1*W1. */
#include "toy_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"   /* vq_hash_fnv1a64 */
#include "kernels.h"
#include "quantizer.h"
#include "timing.h"

#ifndef TOY_D
#define TOY_D 8
#endif

enum { C0 = 1, H0 = 32, W0 = 32, C1 = 16, H1 = 16, W1 = 16, D = TOY_D, K = 32, KS = 4 };

/* params slab (floats); grads use the same offsets */
enum {
    OFF_W1 = 0,                       /* encoder.conv_in.weight (C1, C0, 4, 4) */
    OFF_B1 = OFF_W1 + C1 * C0 * KS * KS, /* encoder.conv_in.bias (C1) */
    OFF_W2 = OFF_B1 + C1,             /* quant_conv.weight (D, C1, 1, 1) */
    OFF_B2 = OFF_W2 + D * C1,         /* quant_conv.bias (D) */
    OFF_E = OFF_B2 + D,               /* quantize.embedding.weight (K, D) */
    OFF_W3 = OFF_E + K * D,           /* decoder.conv_out.weight (D, C0, 4, 4): ConvTranspose2d (Ci, Co, kh, kw) */
    OFF_B3 = OFF_W3 + D * C0 * KS * KS, /* decoder.conv_out.bias (C0) */
    N_PARAMS = OFF_B3 + C0,
};

#define TR VQ_ROLE_TRAINABLE
static const vq_tensor_desc tensors[] = {
    {"encoder.conv_in.weight", "encoder.conv_in", TR, 4, {C1, C0, KS, KS}, OFF_W1, C1 * C0 * KS * KS,
     {VQ_FILL_PYTORCH_DEFAULT, 0, 0, C0 * KS * KS}, "toy.vq:4:5"},
    {"encoder.conv_in.bias", "encoder.conv_in", TR, 1, {C1}, OFF_B1, C1,
     {VQ_FILL_PYTORCH_DEFAULT, 0, 0, C0 * KS * KS}, "toy.vq:4:5"},
    {"quant_conv.weight", "quant_conv", TR, 4, {D, C1, 1, 1}, OFF_W2, D * C1,
     {VQ_FILL_PYTORCH_DEFAULT, 0, 0, C1}, "toy.vq:6:5"},
    {"quant_conv.bias", "quant_conv", TR, 1, {D}, OFF_B2, D, {VQ_FILL_PYTORCH_DEFAULT, 0, 0, C1}, "toy.vq:6:5"},
    {"quantize.embedding.weight", "quantize", TR, 2, {K, D}, OFF_E, K * D, {VQ_FILL_CODEBOOK_UNIFORM, 0, 0, 0},
     "toy.vq:7:5"},
    /* ConvTranspose2d: torch's fan_in is dim 1 of (Ci, Co, kh, kw) times kh*kw = C0*16 */
    {"decoder.conv_out.weight", "decoder.conv_out", TR, 4, {D, C0, KS, KS}, OFF_W3, D * C0 * KS * KS,
     {VQ_FILL_PYTORCH_DEFAULT, 0, 0, C0 * KS * KS}, "toy.vq:8:5"},
    {"decoder.conv_out.bias", "decoder.conv_out", TR, 1, {C0}, OFF_B3, C0,
     {VQ_FILL_PYTORCH_DEFAULT, 0, 0, C0 * KS * KS}, "toy.vq:8:5"},
};
#define N_TENSORS ((int)(sizeof tensors / sizeof tensors[0]))

static const char *const loss_names[] = {"total", "rec", "q_loss", "perplexity"};
enum { L_TOTAL, L_REC, L_Q, L_PPL, N_LOSSES };

static const char *const op_names[] = {"encoder.conv_in (conv2d+relu)", "quant_conv (conv2d 1x1)",
                                       "quantize", "decoder.conv_out (conv_transpose2d)", "loss (l1)"};
enum { OP_CONV1, OP_CONV2, OP_QUANT, OP_CONVT, OP_LOSS, N_OPS };

#define MAX_STATE 8

struct vq_model {
    int max_batch;
    int B;                     /* batch of the last forward */
    int train_ready;           /* the last forward was TRAIN: backward may run */
    float *params, *grads;     /* (N_PARAMS) each */
    vq_codebook cb;            /* cb.embed points into params at OFF_E */
    vq_codebook_opts cb_opts;
    float loss[N_LOSSES];
    /* arena, sized for max_batch */
    float *arena;
    float *x;                  /* (B, C0, H0, W0) copy of the input */
    float *h1, *a1;            /* (B, C1, H1, W1) conv_in output, after relu */
    float *z, *zq;             /* (B, D, H1, W1) */
    float *y;                  /* (B, C0, H0, W0) reconstruction */
    float *dy;                 /* (B, C0, H0, W0) */
    float *dzq, *dz;           /* (B, D, H1, W1) */
    float *da1, *dh1;          /* (B, C1, H1, W1) */
    float *scratch;            /* (max of the convs' scratch) */
    int32_t *idx;              /* (B, H1, W1) */
    /* checkpoint state list (vq_codebook_state minus the embedding, which is a parameter) */
    vq_st_ref st[MAX_STATE];
    char st_names[MAX_STATE][64];
    int64_t st_shapes[MAX_STATE][2];
    int n_st;
    /* profiling */
    int profiling;
    double op_sec[N_OPS][2];
};

/* --- shapes --- */
static vq_conv2d_shape shape_conv1(int B)
{
    return (vq_conv2d_shape){B, C0, H0, W0, C1, KS, KS, 2, 2, 1, 1, 1, 1, H1, W1, 1};
}
static vq_conv2d_shape shape_conv2(int B)
{
    return (vq_conv2d_shape){B, C1, H1, W1, D, 1, 1, 1, 1, 0, 0, 0, 0, H1, W1, 1};
}
static vq_conv_transpose2d_shape shape_convt(int B)
{
    return (vq_conv_transpose2d_shape){B, D, H1, W1, C0, KS, KS, 2, 2, 1, 1, 0, 0, H0, W0, 1};
}

static size_t scratch_floats(int B)
{
    vq_conv2d_shape s1 = shape_conv1(B), s2 = shape_conv2(B);
    vq_conv_transpose2d_shape s3 = shape_convt(B);
    size_t a = vq_conv2d_scratch_floats(&s1), b = vq_conv2d_scratch_floats(&s2);
    size_t c = vq_conv_transpose2d_scratch_floats(&s3);
    size_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* Arena floats, each buffer rounded up to 16 floats (64 bytes). */
#define UP16(n) (((size_t)(n) + 15) & ~(size_t)15)
static size_t arena_floats(int B)
{
    size_t img = UP16((size_t)B * C0 * H0 * W0), hid = UP16((size_t)B * C1 * H1 * W1),
           code = UP16((size_t)B * D * H1 * W1), idx = UP16((size_t)B * H1 * W1);
    return 3 * img + 4 * hid + 4 * code + UP16(scratch_floats(B)) + idx; /* idx: int32 = float size */
}

static size_t toy_arena_bytes(int max_batch) { return arena_floats(max_batch) * sizeof(float); }

static void toy_destroy(vq_model *m)
{
    if (!m) return;
    m->cb.embed = NULL; /* borrowed from the params slab */
    vq_codebook_destroy(&m->cb);
    vq_free(m->params);
    vq_free(m->grads);
    vq_free(m->arena);
    free(m);
}

static void build_state_list(vq_model *m)
{
    vq_state_entry e[MAX_STATE];
    int n = vq_codebook_state(e, MAX_STATE, &m->cb);
    m->n_st = 0;
    for (int i = 0; i < n; i++) {
        if (!strcmp(e[i].name, "embed")) continue;
        int k = m->n_st++;
        snprintf(m->st_names[k], sizeof m->st_names[k], "quantize.%s", e[i].name);
        m->st_shapes[k][0] = e[i].shape[0];
        m->st_shapes[k][1] = e[i].shape[1];
        vq_dtype dt = e[i].dtype == VQ_STATE_F32 ? VQ_DT_F32 : e[i].dtype == VQ_STATE_I32 ? VQ_DT_I32 : VQ_DT_I64;
        m->st[k] = (vq_st_ref){m->st_names[k], dt, e[i].ndim, m->st_shapes[k], e[i].data};
    }
}

static int toy_create(vq_model **out, int max_batch)
{
    *out = NULL;
    if (max_batch <= 0) return vq_fail(VQ_ERR_ARG, "toy: max_batch %d must be positive", max_batch);
    vq_model *m = calloc(1, sizeof *m);
    if (!m) return vq_fail(VQ_ERR_NOMEM, "toy: out of memory");
    m->max_batch = max_batch;
    vq_conv2d_shape s1 = shape_conv1(max_batch), s2 = shape_conv2(max_batch);
    vq_conv_transpose2d_shape s3 = shape_convt(max_batch);
    int rc = vq_conv2d_check(&s1);
    if (!rc) rc = vq_conv2d_check(&s2);
    if (!rc) rc = vq_conv_transpose2d_check(&s3);
    if (rc) { toy_destroy(m); return rc; }
    m->params = vq_alloc(N_PARAMS * sizeof(float));
    m->grads = vq_alloc(N_PARAMS * sizeof(float));
    m->arena = vq_alloc(toy_arena_bytes(max_batch));
    if (!m->params || !m->grads || !m->arena) {
        toy_destroy(m);
        return vq_fail(VQ_ERR_NOMEM, "toy: out of memory for batch %d", max_batch);
    }
    /* taming VectorQuantizer2 (beta 0.25, legacy loss), plus dead-code restart */
    vq_codebook_opts_default(&m->cb_opts, K, D);
    m->cb_opts.restart_after = 30;
    if ((rc = vq_codebook_create(&m->cb, &m->cb_opts))) { toy_destroy(m); return rc; }
    vq_free(m->cb.embed);
    m->cb.embed = m->params + OFF_E; /* the embedding is a trainable parameter: it lives in the slab */

    int B = max_batch;
    float *p = m->arena;
#define TAKE(ptr, n) (ptr = (void *)p, p += UP16(n))
    TAKE(m->x, (size_t)B * C0 * H0 * W0);
    TAKE(m->y, (size_t)B * C0 * H0 * W0);
    TAKE(m->dy, (size_t)B * C0 * H0 * W0);
    TAKE(m->h1, (size_t)B * C1 * H1 * W1);
    TAKE(m->a1, (size_t)B * C1 * H1 * W1);
    TAKE(m->da1, (size_t)B * C1 * H1 * W1);
    TAKE(m->dh1, (size_t)B * C1 * H1 * W1);
    TAKE(m->z, (size_t)B * D * H1 * W1);
    TAKE(m->zq, (size_t)B * D * H1 * W1);
    TAKE(m->dz, (size_t)B * D * H1 * W1);
    TAKE(m->dzq, (size_t)B * D * H1 * W1);
    TAKE(m->scratch, scratch_floats(B));
    TAKE(m->idx, (size_t)B * H1 * W1);
#undef TAKE
    build_state_list(m);
    *out = m;
    return VQ_OK;
}

static float *toy_params(vq_model *m) { return m->params; }
static float *toy_grads(vq_model *m) { return m->grads; }
static void toy_zero_grads(vq_model *m) { memset(m->grads, 0, N_PARAMS * sizeof(float)); }

static int toy_state(vq_model *m, vq_st_ref *out, int max)
{
    if (max <= 0) return m->n_st;
    int n = m->n_st < max ? m->n_st : max;
    memcpy(out, m->st, (size_t)n * sizeof *out);
    return n;
}

static int toy_reset_state(vq_model *m, vq_rng *rng)
{
    (void)rng;
    memset(m->cb.usage_window, 0, K * sizeof(int64_t));
    memset(m->cb.steps_since_used, 0, K * sizeof(int32_t));
    m->cb.window_steps = m->cb.steps = 0;
    return VQ_OK;
}

#define OP_BEGIN double t_op = m->profiling ? vq_time_now() : 0.0
#define OP_END(op, dir) do { if (m->profiling) { m->op_sec[op][dir] += vq_time_now() - t_op; t_op = vq_time_now(); } } while (0)

/* x -> h1 -> a1 -> z -> (idx, zq, q_loss): what encode and forward share. */
static int encode_part(vq_model *m, const float *x, int B, float *q_loss)
{
    vq_conv2d_shape s1 = shape_conv1(B), s2 = shape_conv2(B);
    OP_BEGIN;
    vq_conv2d_forward(m->h1, x, m->params + OFF_W1, m->params + OFF_B1, &s1, m->scratch);
    vq_relu_forward(m->a1, m->h1, (size_t)B * C1 * H1 * W1);
    OP_END(OP_CONV1, 0);
    vq_conv2d_forward(m->z, m->a1, m->params + OFF_W2, m->params + OFF_B2, &s2, m->scratch);
    OP_END(OP_CONV2, 0);
    int rc = vq_quantize_forward(m->idx, m->zq, q_loss, m->z, &m->cb, B, H1, W1);
    OP_END(OP_QUANT, 0);
    return rc;
}

static int check_batch(const vq_model *m, int B, const char *fn)
{
    if (B <= 0 || B > m->max_batch)
        return vq_fail(VQ_ERR_ARG, "toy %s: batch %d outside [1, %d] (max_batch at create)", fn, B, m->max_batch);
    return VQ_OK;
}

static int toy_forward(vq_model *m, const float *x, int B, vq_mode mode, vq_rng *rng)
{
    (void)rng; /* no dropout in this model */
    int rc = check_batch(m, B, "forward");
    if (rc) return rc;
    m->train_ready = 0;
    size_t nx = (size_t)B * C0 * H0 * W0;
    memcpy(m->x, x, nx * sizeof(float));
    float q_loss = 0.0f, rec = 0.0f;
    if ((rc = encode_part(m, m->x, B, &q_loss))) return rc;
    vq_conv_transpose2d_shape s3 = shape_convt(B);
    OP_BEGIN;
    vq_conv_transpose2d_forward(m->y, m->zq, m->params + OFF_W3, m->params + OFF_B3, &s3, m->scratch);
    OP_END(OP_CONVT, 0);
    vq_l1_loss_forward(&rec, m->y, m->x, nx);
    OP_END(OP_LOSS, 0);
    int64_t counts[K] = {0};
    vq_usage_count(counts, m->idx, (int64_t)B * H1 * W1, K);
    int used;
    double ppl;
    vq_usage_stats(&used, &ppl, counts, K);
    m->loss[L_REC] = rec;
    m->loss[L_Q] = q_loss;
    m->loss[L_TOTAL] = rec + 1.0f * q_loss; /* codebook_weight 1 */
    m->loss[L_PPL] = (float)ppl;
    m->B = B;
    m->train_ready = mode == VQ_MODE_TRAIN;
    return VQ_OK;
}

static int toy_backward(vq_model *m)
{
    if (!m->train_ready) return vq_fail(VQ_ERR_ARG, "toy backward: needs a TRAIN forward first");
    int B = m->B;
    size_t nx = (size_t)B * C0 * H0 * W0, nh = (size_t)B * C1 * H1 * W1, nz = (size_t)B * D * H1 * W1;
    memset(m->dy, 0, nx * sizeof(float));
    memset(m->dzq, 0, nz * sizeof(float));
    memset(m->dz, 0, nz * sizeof(float));
    memset(m->da1, 0, nh * sizeof(float));
    memset(m->dh1, 0, nh * sizeof(float));
    vq_conv2d_shape s1 = shape_conv1(B), s2 = shape_conv2(B);
    vq_conv_transpose2d_shape s3 = shape_convt(B);
    float *g = m->grads;
    OP_BEGIN;
    vq_l1_loss_backward(m->dy, m->y, m->x, nx, 1.0f);
    OP_END(OP_LOSS, 1);
    vq_conv_transpose2d_backward_data(m->dzq, m->dy, m->params + OFF_W3, &s3, m->scratch);
    vq_conv_transpose2d_backward_weight(g + OFF_W3, g + OFF_B3, m->dy, m->zq, &s3, m->scratch);
    OP_END(OP_CONVT, 1);
    vq_codebook_grads cg = {.dembed = g + OFF_E};
    int rc = vq_quantize_backward(&cg, m->dz, m->dzq, m->z, m->idx, &m->cb, B, H1, W1, 1.0f);
    if (rc) return rc;
    OP_END(OP_QUANT, 1);
    vq_conv2d_backward_data(m->da1, m->dz, m->params + OFF_W2, &s2, m->scratch);
    vq_conv2d_backward_weight(g + OFF_W2, g + OFF_B2, m->dz, m->a1, &s2, m->scratch);
    OP_END(OP_CONV2, 1);
    vq_relu_backward(m->dh1, m->da1, m->h1, nh);
    vq_conv2d_backward_weight(g + OFF_W1, g + OFF_B1, m->dh1, m->x, &s1, m->scratch);
    OP_END(OP_CONV1, 1);
    return VQ_OK;
}

static const float *toy_loss_values(vq_model *m) { return m->loss; }
static const float *toy_recon(vq_model *m) { return m->y; }
static const int32_t *toy_indices(vq_model *m, int codebook) { return codebook == 0 ? m->idx : NULL; }

static int toy_encode(vq_model *m, int32_t *const *idx, const float *x, int B)
{
    int rc = check_batch(m, B, "encode");
    if (rc) return rc;
    m->train_ready = 0;
    if ((rc = encode_part(m, x, B, NULL))) return rc;
    memcpy(idx[0], m->idx, (size_t)B * H1 * W1 * sizeof(int32_t));
    return VQ_OK;
}

static int toy_decode(vq_model *m, float *out, const int32_t *const *idx, int B)
{
    int rc = check_batch(m, B, "decode");
    if (rc) return rc;
    m->train_ready = 0;
    const int64_t HW = H1 * W1;
    for (int64_t n = 0; n < B * HW; n++)
        if (idx[0][n] < 0 || idx[0][n] >= K)
            return vq_fail(VQ_ERR_ARG, "toy decode: index %d at position %lld outside [0, %d)", idx[0][n],
                           (long long)n, K);
    /* zq[b, :, p] = e_{idx[b, p]}: the quantizer's output for these codes */
    const float *e = m->params + OFF_E;
    for (int b = 0; b < B; b++)
        for (int ch = 0; ch < D; ch++)
            for (int64_t p = 0; p < HW; p++) m->zq[((int64_t)b * D + ch) * HW + p] = e[idx[0][b * HW + p] * D + ch];
    vq_conv_transpose2d_shape s3 = shape_convt(B);
    vq_conv_transpose2d_forward(out, m->zq, m->params + OFF_W3, m->params + OFF_B3, &s3, m->scratch);
    return VQ_OK;
}

static int toy_after_step(vq_model *m, int64_t step, vq_rng *rng)
{
    (void)step;
    int64_t N = (int64_t)m->B * H1 * W1;
    int rc = vq_usage_record(&m->cb, m->idx, N), n_restarted = 0;
    if (!rc) rc = vq_restart_dead_codes(&m->cb, &n_restarted, m->z, m->B, H1, W1, rng);
    return rc;
}

static void toy_profile(vq_model *m, int enable)
{
    m->profiling = enable;
    if (enable) memset(m->op_sec, 0, sizeof m->op_sec);
}
static const double *toy_op_seconds(vq_model *m) { return &m->op_sec[0][0]; }

static const vq_codebook_desc codebooks[] = {{"quantize", K, D, H1, W1, 4, NULL, 0}};
static const vq_slab_range ae_ranges[] = {{0, N_PARAMS}};
static const vq_optim_desc optimizers[] = {
    {"ae", "adam", 2e-3, 0, 0.5, 0.9, 1e-8, 0.0, 0.0, 0.0, "constant", 0, 0.0, ae_ranges, 1},
};

/* Per image, 2 flops per multiply-add. Forward: conv_in, quant_conv, the
 * quantizer's distance GEMM (K codes), conv_out. Training: forward plus
 * roughly twice that for backward (data + weight gradients). */
#define FLOPS_FWD (2.0 * (C1 * C0 * KS * KS * H1 * W1 + D * C1 * H1 * W1 + K * D * H1 * W1 + D * C0 * KS * KS * H1 * W1))

static vq_model_desc desc = {
    .abi = VQ_MODEL_ABI,
    .name = "toy_vq",
    .vqc_version = "hand-written",
    .source = "tests/driver/toy_model.c",
    .data = {C0, H0, W0, -1.0f, 1.0f, 1, 0},
    .tensors = tensors,
    .n_tensors = N_TENSORS,
    .n_params = N_PARAMS,
    .n_buffers = 0,
    .codebooks = codebooks,
    .n_codebooks = 1,
    .optimizers = optimizers,
    .n_optimizers = 1,
    .losses = {"l1", 1.0, 1.0, 0.0, 0, 0.0, 0.0, NULL, 0, NULL},
    .train = {16, 200, 1, 0, 0},
    .loss_names = loss_names,
    .n_losses = N_LOSSES,
    .flops_forward = FLOPS_FWD,
    .flops_train = 3.0 * FLOPS_FWD,
    .arena_bytes = toy_arena_bytes,
    .create = toy_create,
    .destroy = toy_destroy,
    .params = toy_params,
    .grads = toy_grads,
    .buffers = NULL,
    .state = toy_state,
    .reset_state = toy_reset_state,
    .zero_grads = toy_zero_grads,
    .forward = toy_forward,
    .backward = toy_backward,
    .loss_values = toy_loss_values,
    .recon = toy_recon,
    .indices = toy_indices,
    .encode = toy_encode,
    .decode = toy_decode,
    .after_step = toy_after_step,
    .n_ops = N_OPS,
    .op_names = op_names,
    .profile = toy_profile,
    .op_seconds = toy_op_seconds,
};

const vq_model_desc *toy_desc(void)
{
    /* vqc hashes the .vq source and -D values; the toy hashes a description of itself. */
    if (!desc.model_hash) {
        char s[160];
        int n = snprintf(s, sizeof s, "toy_vq 1: conv4x4s2(1->16) relu conv1x1(16->%d) vq(K=%d,D=%d) "
                         "convT4x4s2(%d->1) l1", D, K, D, D);
        desc.model_hash = vq_hash_fnv1a64(s, (size_t)n);
    }
    return &desc;
}
