/* lpips.h: the LPIPS perceptual distance (Zhang et al. 2018, "The Unreasonable
 * Effectiveness of Deep Features as a Perceptual Metric"), VGG16 variant, as
 * taming-transformers' VQGAN loss uses it (perceptual_weight * LPIPS(x, x_hat)),
 * forward and the backward to the reconstruction. Frozen weights: there is no
 * weight gradient and no training of LPIPS itself. Not a general VGG runner.
 *
 * Legend: B batch, C input channels (1 or 3), H, W input size, k = 1..5 taps
 * (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3) with C_k = 64, 128, 256, 512, 512
 * channels at H_k x W_k = H / 2^(k-1) x W / 2^(k-1) (floor at each pool).
 *
 *   x' = (x - shift) / scale                       ScalingLayer, per RGB channel
 *   f_k = VGG16 features of x' at tap k             conv3x3 + ReLU, 2x2 max-pools
 *   n_k = f_k / (sqrt(sum_c f_k^2) + 1e-10)          unit length over channels
 *   d(x, y) = sum_k mean_{h,w} sum_c lin_k[c] (n_k(x) - n_k(y))^2
 *
 * Dropout inside LPIPS's lin layers is not applied (eval mode, as `lpips` and
 * the brief specify; see docs/runtime-lpips.md for what taming's train mode does).
 * Weights: a safetensors file from scripts/import_lpips.py or the side file of
 * scripts/import_taming.py (33 tensors, docs/pretrained.md).
 *
 *     vq_lpips *lp;
 *     if (vq_lpips_load(&lp, "lpips.safetensors", 4, 3, 256, 256)) { puts(vq_last_error()); return 1; }
 *     vq_lpips_forward(lp, p, x, x_hat, B);      // p (B): one distance per image
 *     vq_lpips_backward(lp, dx_hat, dp);         // dx_hat (B, 3, 256, 256) += dp[b] * dp_b/dx_hat
 *     vq_lpips_free(lp);
 */
#ifndef VQ_LPIPS_H
#define VQ_LPIPS_H

#include <stddef.h>

typedef struct vq_lpips vq_lpips;

/* Reads the 33 LPIPS tensors from `path` and allocates every buffer for
 * batches of up to max_batch images of (C, H, W). Names are taming's,
 * "loss.perceptual_loss.net.slice1.0.weight", ..., "loss.perceptual_loss.lin4.model.1.weight",
 * "loss.perceptual_loss.scaling_layer.{shift,scale}", or the same without the
 * "loss.perceptual_loss." prefix (import_lpips.py --prefix ''); other tensors
 * in the file are ignored. C = 1 (grayscale, broadcast to RGB as taming's
 * ScalingLayer does by broadcasting) or 3; H, W >= 16 (five taps need the
 * four pools to leave at least 1x1). Fails naming the file and the missing
 * tensor(s) or the tensor with the wrong shape. On failure *out is NULL. */
int vq_lpips_load(vq_lpips **out, const char *path, int max_batch, int C, int H, int W);

/* d (B) = LPIPS(x[b], y[b]) per image. x is the real image, y the
 * reconstruction, both (B, C, H, W) with values in [-1, 1]; 1 <= B <= max_batch.
 * Saves y's activations and dd/dy per tap for vq_lpips_backward. */
int vq_lpips_forward(vq_lpips *lp, float *d, const float *x, const float *y, int B);

/* dy (B, C, H, W) += sum_b dd[b] * d(d[b])/dy for the last forward's B images
 * (accumulates). No gradient reaches x. VQ_ERR_ARG before any forward. */
int vq_lpips_backward(vq_lpips *lp, float *dy, const float *dd /* (B) */);

/* Bytes allocated for activations, saved gradients and scratch (the
 * weights, 14,716,166 floats = 56.1 MiB, not counted). */
size_t vq_lpips_activation_bytes(const vq_lpips *lp);

void vq_lpips_free(vq_lpips *lp);

#endif
