/* quantizer.h: the vector quantizer of VQGAN (taming-transformers) and VQ-VAE-2
 * (rosinality): nearest-code lookup, straight-through backward, EMA codebook
 * update, dead-code restart, k-means init, usage statistics.
 *
 * It is not a layer of the model graph: the generated model calls these
 * functions with its own activation and gradient buffers. Forward keeps only
 * the chosen indices; backward recomputes the rest from z.
 *
 * Dimension legend:
 *   B batch, H, W spatial, N = B*H*W vectors, K codes, D channels of z,
 *   d lookup dimension (d == D unless an in/out projection is used).
 * z and z_q are NCHW float32 (B, D, H, W); the embedding is (K, d) row-major
 * (taming's nn.Embedding layout; rosinality keeps (d, K), see vq_embed_from_dk).
 *
 * The search space: x_n = z[b, :, h, w] (D); u_n = P_in x_n + b_in (d) with a
 * projection, else x_n; v_n = u_n / max(|u_n|, 1e-12) with cosine distance,
 * else u_n. Codes are searched as c_k = e_k (or e_k / max(|e_k|, 1e-12) for
 * cosine). Index i_n = argmin_k |v_n - c_k|^2, lowest k on exact ties.
 * z_q[b, :, h, w] = P_out q_n + b_out (or q_n), with q_n = v_n + sg(c_{i_n} - v_n). */
#ifndef VQ_QUANTIZER_H
#define VQ_QUANTIZER_H

#include <stdint.h>

#include "vq_common.h"

typedef enum vq_loss_form {
    /* mean((sg[zq]-z)^2) + beta*mean((zq-sg[z])^2): taming legacy=True (default there) */
    VQ_LOSS_LEGACY = 0,
    /* beta*mean((sg[zq]-z)^2) + mean((zq-sg[z])^2): the VQ-VAE paper's form */
    VQ_LOSS_CORRECTED = 1,
} vq_loss_form;

typedef enum vq_update_rule {
    VQ_UPDATE_GRADIENT = 0, /* the embedding is a parameter trained by the optimizer */
    VQ_UPDATE_EMA = 1,      /* rosinality's exponential moving average (vq_ema_update) */
} vq_update_rule;

typedef enum vq_distance { VQ_DIST_L2 = 0, VQ_DIST_COSINE = 1 } vq_distance;

typedef enum vq_init {
    VQ_INIT_UNIFORM = 0, /* uniform(-1/K, 1/K): taming */
    VQ_INIT_NORMAL = 1,  /* N(0, 1): rosinality's torch.randn */
    VQ_INIT_KMEANS = 2,  /* k-means++ seeding, then Lloyd iterations, on given z */
} vq_init;

typedef struct vq_codebook_opts {
    int K, D;
    int lookup_dim;          /* d; 0 or D: no projection. 0 < d < D adds P_in, P_out */
    float beta;              /* commitment/codebook weight, see vq_loss_form */
    vq_loss_form loss_form;
    vq_update_rule update;
    double decay, eps;       /* EMA only: rosinality 0.99, 1e-5. Double like the Python
                              * floats of the references, so the float32 update rounds
                              * its scalars as torch does ((float)decay, (float)(1-decay)). */
    vq_distance distance;
    vq_init init;
    int kmeans_iters;        /* Lloyd iterations after k-means++ (VQ_INIT_KMEANS) */
    int restart_after;       /* re-seed codes unused for this many recorded steps; 0 = off */
    float restart_threshold; /* EMA only: re-seed codes with cluster_size below this; 0 = off */
    int tile_n, tile_k;      /* distance block rows x codes; 0 = 256 x 1024 */
} vq_codebook_opts;

/* taming's VectorQuantizer2 defaults: beta 0.25, legacy loss, gradient update,
 * l2, uniform init, no projection, no restart; decay 0.99, eps 1e-5 ready for EMA. */
void vq_codebook_opts_default(vq_codebook_opts *opt, int K, int D);

/* All state is plain arrays (see vq_codebook_state for the checkpoint list). */
typedef struct vq_codebook {
    vq_codebook_opts opt;    /* validated copy; tile_n/tile_k resolved */
    int K, D, d;
    float *embed;            /* (K, d) */
    float *proj_in_w;        /* (d, D), NULL without projection (nn.Linear layout) */
    float *proj_in_b;        /* (d) */
    float *proj_out_w;       /* (D, d) */
    float *proj_out_b;       /* (D) */
    float *cluster_size;     /* (K) EMA only, else NULL */
    float *embed_avg;        /* (K, d) EMA only, else NULL */
    int64_t *usage_window;   /* (K) assignments since vq_usage_reset_window */
    int32_t *steps_since_used; /* (K) recorded steps since the code was last chosen */
    int64_t window_steps;    /* steps recorded into usage_window */
    int64_t steps;           /* steps recorded in total */
} vq_codebook;

/* Gradient buffers for backward; each may be NULL to skip it. Accumulated (+=). */
typedef struct vq_codebook_grads {
    float *dembed;           /* (K, d) gradient update only; ignored under EMA */
    float *dproj_in_w;       /* (d, D) */
    float *dproj_in_b;       /* (d) */
    float *dproj_out_w;      /* (D, d) */
    float *dproj_out_b;      /* (D) */
} vq_codebook_grads;

/* Validates opt and allocates zeroed state. On failure cb is left empty. */
int vq_codebook_create(vq_codebook *cb, const vq_codebook_opts *opt);
void vq_codebook_destroy(vq_codebook *cb);

/* Fills the embedding by opt.init (and the projections as nn.Linear does:
 * uniform(+-1/sqrt(fan_in))). z (B, D, H, W) is needed only for VQ_INIT_KMEANS
 * (N >= K); pass NULL otherwise. EMA buffers start as rosinality's:
 * cluster_size = 0, embed_avg = embed. */
int vq_codebook_init(vq_codebook *cb, vq_rng *rng, const float *z, int B, int H, int W);

/* Forward. idx (N) int32, zq (B, D, H, W), loss (scalar, may be NULL).
 * Gradient update: loss = (1 + beta) * mse (both forms have this value; they
 * differ in gradients). EMA: only the commitment term, 1 * mse (LEGACY, =
 * rosinality's diff) or beta * mse (CORRECTED, = taming's EMAVectorQuantizer).
 * mse = mean over N*d of (v_n - c_{i_n})^2. */
int vq_quantize_forward(int32_t *idx, float *zq, float *loss,
                        const float *z, const vq_codebook *cb, int B, int H, int W);

/* Decode: zq (B, D, H, W) = the codes idx (B*H*W, each in 0..K-1) exactly as the forward
 * outputs them (normalized for cosine distance, then P_out c + b_out with a projection), so
 * decoding the indices of a forward gives that forward's zq bit for bit. */
int vq_codebook_lookup(float *zq, const int32_t *idx, const vq_codebook *cb, int B, int H, int W);

/* Backward of L = <dzq, zq> + loss_weight * loss. dz (B, D, H, W) += straight-
 * through dzq plus the commitment gradient; g->dembed += the codebook term's
 * gradient (gradient update only); projections get theirs. idx from forward. */
int vq_quantize_backward(const vq_codebook_grads *g, float *dz,
                         const float *dzq, const float *z, const int32_t *idx,
                         const vq_codebook *cb, int B, int H, int W, float loss_weight);

/* rosinality's Quantize.forward training update, in the search space:
 *   cluster_size = decay*cluster_size + (1-decay)*counts
 *   embed_avg    = decay*embed_avg + (1-decay)*sum_{i_n=k} v_n
 *   n = sum(cluster_size); cs = (cluster_size + eps) / (n + K*eps) * n
 *   embed = embed_avg / cs */
int vq_ema_update(vq_codebook *cb, const float *z, const int32_t *idx, int B, int H, int W);

/* Records one training step's indices: usage_window += counts, steps_since_used
 * reset for chosen codes and incremented for the others. */
int vq_usage_record(vq_codebook *cb, const int32_t *idx, int64_t N);
void vq_usage_reset_window(vq_codebook *cb);

/* Re-seeds dead codes (steps_since_used >= restart_after, or under EMA
 * cluster_size < restart_threshold) with search-space vectors v_n of random
 * rows of this batch z. Under EMA, cluster_size[k] = max(restart_threshold, 1)
 * and embed_avg[k] = v_n * cluster_size[k]. steps_since_used[k] = 0. The
 * optimizer's moments for those rows are the caller's to reset. */
int vq_restart_dead_codes(vq_codebook *cb, int *n_restarted, const float *z,
                          int B, int H, int W, vq_rng *rng);

/* Statistics of a count vector (K): codes with count > 0 and perplexity
 * exp(-sum p log p), p = counts / sum(counts) (0 log 0 = 0; all-zero: 0 used, 1). */
void vq_usage_stats(int *n_used, double *perplexity, const int64_t *counts, int K);
/* counts (K) += histogram of idx (N); for an evaluation set. */
int vq_usage_count(int64_t *counts, const int32_t *idx, int64_t N, int K);

/* Layout conversion for checkpoint import/export: taming (K, d) <-> rosinality (d, K).
 * Also for embed_avg. dst and src must not overlap. */
void vq_embed_from_dk(float *dst_kd, const float *src_dk, int K, int d);
void vq_embed_to_dk(float *dst_dk, const float *src_kd, int K, int d);

/* Checkpoint list: every array that a resumed run needs, by name, with dtype
 * and shape. Entries for absent arrays (no projection, no EMA) are omitted.
 * Returns the number written (at most max; call with max 0 to count). */
typedef struct vq_state_entry {
    const char *name;        /* "embed", "cluster_size", ... */
    void *data;
    vq_state_dtype dtype;
    int ndim;
    int64_t shape[2];
} vq_state_entry;
int vq_codebook_state(vq_state_entry *out, int max, vq_codebook *cb);

/* k-means++ seeding then `iters` Lloyd steps. centers (K, d) out, x (N, d)
 * rows, N >= K. distortion (may be NULL) = mean over N of min squared distance
 * after the last step. Empty clusters keep their previous center. */
int vq_kmeans(float *centers, double *distortion, const float *x, int64_t N, int d, int K,
              int iters, vq_rng *rng);

#endif
