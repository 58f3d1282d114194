/* lpips.c: LPIPS (VGG16) distance and its gradient w.r.t. the reconstruction
 * (see lpips.h and docs/runtime-lpips.md). Not trainable: weights are frozen.
 *
 * Legend: B batch, C input channels, H, W input size; level L = 0..4 is the
 * part of VGG16 before tap L+1 (relu1_2 ... relu5_3), with C_L = 64, 128, 256,
 * 512, 512 channels at H_L x W_L (H_0 = H, H_L = H_{L-1} / 2 after a 2x2 max
 * pool, stride 2). P_L = H_L * W_L.
 *
 * Per image b, forward runs x through VGG16 (ping-pong in image b's first two
 * activation slots) and keeps only n_L(x) in the tap slot; then it runs y,
 * keeping every post-ReLU conv output (ReLU and max-pool backward read them),
 * and at each tap replaces n_L(x) by dd/df_L(y) (the derivative of this
 * image's distance w.r.t. the tap's features). Backward scales those by the
 * upstream dd[b] and runs the VGG backward (ReLU mask, conv backward data,
 * max-pool backward), images one at a time, then the ScalingLayer's 1/scale.
 * Pool outputs are not kept: conv backward_data needs only the weights.
 */
#include "lpips.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "activation.h"
#include "conv2d.h"
#include "pool_max.h"
#include "safetensors.h"
#include "vq_common.h"

#define N_CONV 13
#define N_LEVEL 5
#define N_TENSORS (2 * N_CONV + N_LEVEL + 2)
#define LPIPS_PREFIX "loss.perceptual_loss."
#define LPIPS_EPS 1e-10f   /* normalize_tensor's eps */
#define TAP_BLOCK 256      /* positions per block in the tap loops */

/* torchvision vgg16().features index of each conv (LPIPS keeps that index in its names) */
static const int conv_index[N_CONV] = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};
static const int conv_level[N_CONV] = {0, 0, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4};
static const int level_ch[N_LEVEL] = {64, 128, 256, 512, 512};
static const int level_first[N_LEVEL] = {0, 2, 4, 7, 10};   /* first conv of each level */
static const int level_last[N_LEVEL] = {1, 3, 6, 9, 12};    /* its last conv: the tap */

struct vq_lpips {
    int max_batch, C, H, W;
    int Hl[N_LEVEL], Wl[N_LEVEL];
    size_t Pl[N_LEVEL];
    float shift[3], scale[3];
    float *weights;                     /* slab holding the tensors below */
    const float *w[N_CONV], *b[N_CONV]; /* (Co, Ci, 3, 3), (Co) */
    const float *lin[N_LEVEL];          /* (C_L): lin_L.model.1.weight (1, C_L, 1, 1) */
    vq_conv2d_shape conv[N_CONV];       /* batch 1: images go one at a time */
    float *slab;                        /* everything below */
    float *act;                         /* (max_batch, act_stride): post-ReLU conv outputs */
    size_t act_off[N_CONV], act_stride; /* slot j (C_L, H_L, W_L) */
    float *tap;                         /* (max_batch, tap_stride): n_L(x), then dd/df_L(y) */
    size_t tap_off[N_LEVEL], tap_stride;
    float *gA, *gB;                     /* (64, H, W) each: gradients; scaled input / pool out in forward */
    float *scratch;                     /* (max conv scratch) */
    size_t slab_floats;
    int last_B;                         /* images of the last forward, 0 before one */
};

static size_t up16(size_t n) { return (n + 15) & ~(size_t)15; }   /* keep every slot 64-byte aligned */

static int conv_cin(int j)
{
    int L = conv_level[j];
    if (j == 0) return 3;
    return j == level_first[L] ? level_ch[L - 1] : level_ch[L];
}

/* ------------------------------------------------------------------ load -- */

/* The 33 names in read order: slices (weight, bias per conv), lin0..4, shift, scale. */
static void tensor_names(char names[N_TENSORS][96], const char *prefix)
{
    int n = 0;
    for (int j = 0; j < N_CONV; j++) {
        snprintf(names[n++], 96, "%snet.slice%d.%d.weight", prefix, conv_level[j] + 1, conv_index[j]);
        snprintf(names[n++], 96, "%snet.slice%d.%d.bias", prefix, conv_level[j] + 1, conv_index[j]);
    }
    for (int L = 0; L < N_LEVEL; L++) snprintf(names[n++], 96, "%slin%d.model.1.weight", prefix, L);
    snprintf(names[n++], 96, "%sscaling_layer.shift", prefix);
    snprintf(names[n++], 96, "%sscaling_layer.scale", prefix);
}

static int has_tensor(const vq_st_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return 1;
    return 0;
}

static int read_weights(vq_lpips *lp, const vq_st_file *f, const char *path)
{
    /* taming's prefix unless the file has LPIPS's bare names (import_lpips.py --prefix '') */
    const char *prefix = LPIPS_PREFIX;
    if (!has_tensor(f, LPIPS_PREFIX "net.slice1.0.weight") && has_tensor(f, "net.slice1.0.weight")) prefix = "";
    char names[N_TENSORS][96];
    const char *ptrs[N_TENSORS];
    tensor_names(names, prefix);
    for (int i = 0; i < N_TENSORS; i++) ptrs[i] = names[i];
    int rc = vq_st_check_names(f, ptrs, N_TENSORS, 1);
    if (rc) return vq_fail_context(rc, "lpips: %s is not an LPIPS (VGG16) weights file", path);

    size_t total = 0;
    for (int j = 0; j < N_CONV; j++)
        total += up16((size_t)level_ch[conv_level[j]] * conv_cin(j) * 9) + up16(level_ch[conv_level[j]]);
    for (int L = 0; L < N_LEVEL; L++) total += up16(level_ch[L]);
    lp->weights = vq_alloc(total * sizeof(float));
    if (!lp->weights) return vq_fail_context(VQ_ERR_NOMEM, "lpips: weights (%zu floats)", total);

    float *p = lp->weights;
    int n = 0;
    for (int j = 0; j < N_CONV; j++) {
        int64_t co = level_ch[conv_level[j]], ci = conv_cin(j);
        int64_t ws[4] = {co, ci, 3, 3}, bs[1] = {co};
        if ((rc = vq_st_read(f, names[n++], VQ_DT_F32, p, ws, 4))) return vq_fail_context(rc, "lpips");
        lp->w[j] = p; p += up16((size_t)(co * ci * 9));
        if ((rc = vq_st_read(f, names[n++], VQ_DT_F32, p, bs, 1))) return vq_fail_context(rc, "lpips");
        lp->b[j] = p; p += up16((size_t)co);
    }
    for (int L = 0; L < N_LEVEL; L++) {
        int64_t ls[4] = {1, level_ch[L], 1, 1};
        if ((rc = vq_st_read(f, names[n++], VQ_DT_F32, p, ls, 4))) return vq_fail_context(rc, "lpips");
        lp->lin[L] = p; p += up16((size_t)level_ch[L]);
    }
    int64_t ss[4] = {1, 3, 1, 1};
    if ((rc = vq_st_read(f, names[n++], VQ_DT_F32, lp->shift, ss, 4))) return vq_fail_context(rc, "lpips");
    if ((rc = vq_st_read(f, names[n++], VQ_DT_F32, lp->scale, ss, 4))) return vq_fail_context(rc, "lpips");
    for (int c = 0; c < 3; c++)
        if (!isfinite(lp->shift[c]) || !isfinite(lp->scale[c]) || lp->scale[c] == 0.0f)
            return vq_fail(VQ_ERR_NUMERIC, "lpips: %s: %s: scale must be finite and nonzero, shift finite "
                           "(channel %d: shift %g, scale %g)", path, names[n - 1], c,
                           (double)lp->shift[c], (double)lp->scale[c]);
    return 0;
}

/* Shapes, slot offsets and the one slab of activations, tap gradients and scratch. */
static int plan_buffers(vq_lpips *lp)
{
    for (int L = 0; L < N_LEVEL; L++) {
        lp->Hl[L] = L ? lp->Hl[L - 1] / 2 : lp->H;
        lp->Wl[L] = L ? lp->Wl[L - 1] / 2 : lp->W;
        lp->Pl[L] = (size_t)lp->Hl[L] * lp->Wl[L];
    }
    size_t scratch = 0;
    lp->act_stride = 0;
    for (int j = 0; j < N_CONV; j++) {
        int L = conv_level[j];
        vq_conv2d_shape s = {.B = 1, .Ci = conv_cin(j), .H = lp->Hl[L], .W = lp->Wl[L], .Co = level_ch[L],
                             .kh = 3, .kw = 3, .stride_h = 1, .stride_w = 1, .pad_top = 1, .pad_bottom = 1,
                             .pad_left = 1, .pad_right = 1, .Ho = lp->Hl[L], .Wo = lp->Wl[L], .bias = 1};
        int rc = vq_conv2d_check(&s);
        if (rc) return vq_fail_context(rc, "lpips: conv features.%d", conv_index[j]);
        lp->conv[j] = s;
        size_t sf = vq_conv2d_scratch_floats(&s);
        if (sf > scratch) scratch = sf;
        lp->act_off[j] = lp->act_stride;
        lp->act_stride += up16((size_t)level_ch[L] * lp->Pl[L]);
    }
    lp->tap_stride = 0;
    for (int L = 0; L < N_LEVEL; L++) {
        lp->tap_off[L] = lp->tap_stride;
        lp->tap_stride += up16((size_t)level_ch[L] * lp->Pl[L]);
    }
    size_t g = up16((size_t)64 * lp->Pl[0]);   /* largest tensor: level 0; >= 3 H W */
    size_t mb = (size_t)lp->max_batch;
    lp->slab_floats = mb * lp->act_stride + mb * lp->tap_stride + 2 * g + up16(scratch);
    lp->slab = vq_alloc(lp->slab_floats * sizeof(float));
    if (!lp->slab)
        return vq_fail_context(VQ_ERR_NOMEM, "lpips: activations for %d images of %dx%d (%zu MiB)", lp->max_batch,
                               lp->H, lp->W, lp->slab_floats * sizeof(float) >> 20);
    lp->act = lp->slab;
    lp->tap = lp->act + mb * lp->act_stride;
    lp->gA = lp->tap + mb * lp->tap_stride;
    lp->gB = lp->gA + g;
    lp->scratch = lp->gB + g;
    return 0;
}

int vq_lpips_load(vq_lpips **out, const char *path, int max_batch, int C, int H, int W)
{
    if (!out || !path) return vq_fail(VQ_ERR_ARG, "vq_lpips_load: out and path must not be NULL");
    *out = NULL;
    if (max_batch < 1 || (C != 1 && C != 3) || H < 16 || W < 16)
        return vq_fail(VQ_ERR_ARG, "lpips: batch %d of (%d, %d, %d) not supported: need batch >= 1, 1 or 3 "
                       "channels, H and W >= 16 (VGG16's four 2x2 pools before relu5_3)", max_batch, C, H, W);
    vq_lpips *lp = calloc(1, sizeof *lp);
    if (!lp) return vq_fail(VQ_ERR_NOMEM, "lpips: out of memory");
    lp->max_batch = max_batch; lp->C = C; lp->H = H; lp->W = W;
    vq_st_file f;
    int rc = vq_st_open(&f, path);
    if (rc) { free(lp); return vq_fail_context(rc, "lpips"); }
    rc = read_weights(lp, &f, path);
    vq_st_close(&f);
    if (!rc) rc = plan_buffers(lp);
    if (rc) { vq_lpips_free(lp); return rc; }
    *out = lp;
    return 0;
}

void vq_lpips_free(vq_lpips *lp)
{
    if (!lp) return;
    vq_free(lp->weights);
    vq_free(lp->slab);
    free(lp);
}

size_t vq_lpips_activation_bytes(const vq_lpips *lp) { return lp ? lp->slab_floats * sizeof(float) : 0; }

/* --------------------------------------------------------------- forward -- */

/* out (3, H, W) = (in - shift) / scale; a 1-channel input is broadcast to the three. */
static void scale_input(const vq_lpips *lp, float *out, const float *in)
{
    size_t P = lp->Pl[0];
    for (int c = 0; c < 3; c++) {
        const float *src = in + (lp->C == 3 ? (size_t)c * P : 0);
        float *dst = out + (size_t)c * P;
        float sh = lp->shift[c], sc = lp->scale[c];
        for (size_t i = 0; i < P; i++) dst[i] = (src[i] - sh) / sc;
    }
}

static void conv_relu(const vq_lpips *lp, float *out, const float *in, int j)
{
    const vq_conv2d_shape *s = &lp->conv[j];
    vq_conv2d_forward(out, in, lp->w[j], lp->b[j], s, lp->scratch);
    vq_relu_forward(out, out, (size_t)s->Co * s->Ho * s->Wo);   /* in place; out > 0 iff in > 0 */
}

static void pool(const vq_lpips *lp, float *out, const float *in, int L /* level being entered */)
{
    vq_max_pool2d_forward(out, in, 1, level_ch[L - 1], lp->Hl[L - 1], lp->Wl[L - 1], 2, 2, lp->Hl[L], lp->Wl[L]);
}

static long n_blocks(size_t P) { return (long)((P + TAP_BLOCK - 1) / TAP_BLOCK); }

/* n (C, P) = f / (sqrt(sum_c f^2) + eps): normalize_tensor. Blocks of positions,
 * channels outer, so the inner loops run over contiguous memory. */
static void tap_normalize(float *n, const float *f, int C, size_t P)
{
#pragma omp parallel for schedule(static) if ((size_t)C * P > 32768)
    for (long bi = 0; bi < n_blocks(P); bi++) {
        size_t p0 = (size_t)bi * TAP_BLOCK, np = P - p0 < TAP_BLOCK ? P - p0 : TAP_BLOCK;
        float den[TAP_BLOCK] = {0};
        for (int c = 0; c < C; c++) {
            const float *fc = f + (size_t)c * P + p0;
            for (size_t p = 0; p < np; p++) den[p] += fc[p] * fc[p];
        }
        for (size_t p = 0; p < np; p++) den[p] = sqrtf(den[p]) + LPIPS_EPS;
        for (int c = 0; c < C; c++) {
            const float *fc = f + (size_t)c * P + p0;
            float *nc = n + (size_t)c * P + p0;
            for (size_t p = 0; p < np; p++) nc[p] = fc[p] / den[p];
        }
    }
}

/* One tap of image b. In: g = n(x) (C, P), f = f(y) (C, P). Returns
 * mean_p sum_c lin[c] (n(x) - n(y))^2 and leaves in g its derivative w.r.t. f:
 *   gn_c = dd/dn_c(y) = -2 lin[c] (n_c(x) - n_c(y)) / P
 *   dd/df_c = gn_c / (s + eps) - f_c (sum_c' gn_c' f_c') / ((s + eps)^2 s),  s = |f| over channels.
 * Where s = 0 every f_c is 0, so the ReLU that made f masks that position's
 * gradient anyway (PyTorch gets NaN there from sqrt'(0) and the mask turns it
 * into 0); we write 0 directly. */
static double tap_distance(float *g, const float *f, const float *lin, int C, size_t P)
{
    const float two_over_p = 2.0f / (float)P;
    double total = 0.0;
#pragma omp parallel for schedule(static) reduction(+ : total) if ((size_t)C * P > 32768)
    for (long bi = 0; bi < n_blocks(P); bi++) {
        size_t p0 = (size_t)bi * TAP_BLOCK, np = P - p0 < TAP_BLOCK ? P - p0 : TAP_BLOCK;
        float s[TAP_BLOCK] = {0}, den[TAP_BLOCK], dot[TAP_BLOCK] = {0}, acc[TAP_BLOCK] = {0};
        for (int c = 0; c < C; c++) {
            const float *fc = f + (size_t)c * P + p0;
            for (size_t p = 0; p < np; p++) s[p] += fc[p] * fc[p];
        }
        for (size_t p = 0; p < np; p++) { s[p] = sqrtf(s[p]); den[p] = s[p] + LPIPS_EPS; }
        for (int c = 0; c < C; c++) {
            const float *fc = f + (size_t)c * P + p0;
            float *gc = g + (size_t)c * P + p0, w = lin[c];
            for (size_t p = 0; p < np; p++) {
                float diff = gc[p] - fc[p] / den[p];
                acc[p] += w * diff * diff;
                gc[p] = -two_over_p * w * diff;
                dot[p] += gc[p] * fc[p];
            }
        }
        for (size_t p = 0; p < np; p++) dot[p] = s[p] > 0.0f ? dot[p] / (den[p] * den[p] * s[p]) : 0.0f;
        for (int c = 0; c < C; c++) {
            const float *fc = f + (size_t)c * P + p0;
            float *gc = g + (size_t)c * P + p0;
            for (size_t p = 0; p < np; p++) gc[p] = s[p] > 0.0f ? gc[p] / den[p] - fc[p] * dot[p] : 0.0f;
        }
        double part = 0.0;
        for (size_t p = 0; p < np; p++) part += acc[p];
        total += part;
    }
    return total / (double)P;
}

/* x path of one image: n_L(x) into the tap slots; the image's first two
 * activation slots (64 x H x W each, the largest) are the ping-pong buffers. */
static void forward_x(vq_lpips *lp, float *act, float *tap)
{
    float *bufA = act + lp->act_off[0], *bufB = act + lp->act_off[1];
    const float *cur = lp->gA;
    for (int L = 0; L < N_LEVEL; L++) {
        float *out;
        if (L) { out = cur == bufA ? bufB : bufA; pool(lp, out, cur, L); cur = out; }
        for (int j = level_first[L]; j <= level_last[L]; j++) {
            out = cur == bufA ? bufB : bufA;
            conv_relu(lp, out, cur, j);
            cur = out;
        }
        tap_normalize(tap + lp->tap_off[L], cur, level_ch[L], lp->Pl[L]);
    }
}

/* y path of one image: keeps every conv output, returns the distance. */
static double forward_y(vq_lpips *lp, float *act, float *tap)
{
    double d = 0.0;
    const float *cur = lp->gA;
    for (int L = 0; L < N_LEVEL; L++) {
        if (L) { pool(lp, lp->gB, cur, L); cur = lp->gB; }
        for (int j = level_first[L]; j <= level_last[L]; j++) {
            conv_relu(lp, act + lp->act_off[j], cur, j);
            cur = act + lp->act_off[j];
        }
        d += tap_distance(tap + lp->tap_off[L], cur, lp->lin[L], level_ch[L], lp->Pl[L]);
    }
    return d;
}

int vq_lpips_forward(vq_lpips *lp, float *d, const float *x, const float *y, int B)
{
    if (!lp || !d || !x || !y) return vq_fail(VQ_ERR_ARG, "vq_lpips_forward: NULL argument");
    if (B < 1 || B > lp->max_batch)
        return vq_fail(VQ_ERR_ARG, "lpips: batch of %d images, loaded for 1..%d", B, lp->max_batch);
    lp->last_B = 0;
    size_t img = (size_t)lp->C * lp->Pl[0];
    for (int b = 0; b < B; b++) {
        float *act = lp->act + (size_t)b * lp->act_stride, *tap = lp->tap + (size_t)b * lp->tap_stride;
        scale_input(lp, lp->gA, x + (size_t)b * img);
        forward_x(lp, act, tap);
        scale_input(lp, lp->gA, y + (size_t)b * img);
        d[b] = (float)forward_y(lp, act, tap);
    }
    lp->last_B = B;
    return 0;
}

/* -------------------------------------------------------------- backward -- */

/* g = 0 where the ReLU output a is 0 (ReLU backward from its output). */
static void relu_mask(float *g, const float *a, size_t n)
{
#pragma omp parallel for simd schedule(static) if (n > 32768)
    for (size_t i = 0; i < n; i++) g[i] = a[i] > 0.0f ? g[i] : 0.0f;
}

static void axpy_tap(float *g, const float *t, float alpha, size_t n, int add)
{
    if (add) for (size_t i = 0; i < n; i++) g[i] += alpha * t[i];
    else     for (size_t i = 0; i < n; i++) g[i] = alpha * t[i];
}

int vq_lpips_backward(vq_lpips *lp, float *dy, const float *dd)
{
    if (!lp || !dy || !dd) return vq_fail(VQ_ERR_ARG, "vq_lpips_backward: NULL argument");
    if (!lp->last_B) return vq_fail(VQ_ERR_ARG, "vq_lpips_backward: no forward pass to differentiate");
    size_t P0 = lp->Pl[0], img = (size_t)lp->C * P0;
    for (int b = 0; b < lp->last_B; b++) {
        if (dd[b] == 0.0f) continue;   /* nothing to add */
        const float *act = lp->act + (size_t)b * lp->act_stride, *tap = lp->tap + (size_t)b * lp->tap_stride;
        float *g = lp->gA;             /* gradient of the current tensor; the other buffer takes the next */
        for (int L = N_LEVEL - 1; L >= 0; L--) {
            size_t n = (size_t)level_ch[L] * lp->Pl[L];
            axpy_tap(g, tap + lp->tap_off[L], dd[b], n, L < N_LEVEL - 1);
            for (int j = level_last[L]; j >= level_first[L]; j--) {
                const vq_conv2d_shape *s = &lp->conv[j];
                float *next = g == lp->gA ? lp->gB : lp->gA;
                relu_mask(g, act + lp->act_off[j], (size_t)s->Co * s->Ho * s->Wo);
                memset(next, 0, sizeof(float) * s->Ci * s->H * s->W);
                vq_conv2d_backward_data(next, g, lp->w[j], s, lp->scratch);
                g = next;
            }
            if (L) {   /* through the max pool into the previous level's tap */
                float *next = g == lp->gA ? lp->gB : lp->gA;
                memset(next, 0, sizeof(float) * level_ch[L - 1] * lp->Pl[L - 1]);
                vq_max_pool2d_backward(next, g, act + lp->act_off[level_last[L - 1]], 1, level_ch[L - 1],
                                       lp->Hl[L - 1], lp->Wl[L - 1], 2, 2, lp->Hl[L], lp->Wl[L]);
                g = next;
            }
        }
        /* g = dd/dx' (3, H, W); x' = (y - shift) / scale, a grayscale y feeds all three */
        float *dyb = dy + (size_t)b * img;
        for (int c = 0; c < 3; c++) {
            float *dst = dyb + (lp->C == 3 ? (size_t)c * P0 : 0);
            const float *src = g + (size_t)c * P0;
            float inv = 1.0f / lp->scale[c];
            for (size_t i = 0; i < P0; i++) dst[i] += src[i] * inv;
        }
    }
    return 0;
}
