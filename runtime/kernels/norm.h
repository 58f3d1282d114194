/* norm.h: group normalization (nn.GroupNorm, optionally fused with a following
 * swish) and batch normalization (nn.BatchNorm2d, training and eval).
 *
 * Legend: B batch, C channels, H, W spatial, G groups, Cg = C/G channels per
 * group, P = H*W.
 *
 * Statistics use PyTorch's biased variance (divide by the element count) and
 * are accumulated in double. Saved for backward (the memory planner allocates):
 *   group_norm:  mean (B, G), rstd (B, G) = 1/sqrt(var + eps)
 *   batch_norm (training): mean (C), invstd (C) of the batch
 * The fused group_norm+swish saves the same two tensors; backward recomputes
 * the pre-activation from x, so it needs no third buffer.
 */
#ifndef VQ_KERNELS_NORM_H
#define VQ_KERNELS_NORM_H

#include <stddef.h>
#include <stdint.h>

typedef struct vq_group_norm_shape {
    int B, C, H, W;
    int G;          /* groups; C % G == 0 */
    float eps;      /* taming uses 1e-6 */
    int affine;     /* 1: gamma, beta (C) are applied */
} vq_group_norm_shape;

int vq_group_norm_check(const vq_group_norm_shape *s);

/* y = (x - mean) * rstd * gamma + beta per (b, group) */
void vq_group_norm_forward(float *y,            /* (B, C, H, W) */
                           float *mean,         /* (B, G) saved */
                           float *rstd,         /* (B, G) saved */
                           const float *x,      /* (B, C, H, W) */
                           const float *gamma,  /* (C), NULL when !affine */
                           const float *beta,   /* (C), NULL when !affine */
                           const vq_group_norm_shape *s);
/* dx += ..., dgamma += ..., dbeta += ... (dgamma/dbeta may be NULL; ignored when !affine) */
void vq_group_norm_backward(float *dx,            /* (B, C, H, W) */
                            float *dgamma,        /* (C) or NULL */
                            float *dbeta,         /* (C) or NULL */
                            const float *dy,      /* (B, C, H, W) */
                            const float *x,       /* (B, C, H, W) */
                            const float *mean,    /* (B, G) from forward */
                            const float *rstd,    /* (B, G) from forward */
                            const float *gamma,   /* (C) or NULL */
                            const vq_group_norm_shape *s);

/* y = swish(group_norm(x)) = z * sigmoid(z), in one pass; same saved tensors. */
void vq_group_norm_swish_forward(float *y, float *mean, float *rstd, const float *x,
                                 const float *gamma, const float *beta, const vq_group_norm_shape *s);
void vq_group_norm_swish_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                                  const float *x, const float *mean, const float *rstd,
                                  const float *gamma, const float *beta, const vq_group_norm_shape *s);

typedef struct vq_batch_norm_shape {
    int B, C, H, W;
    float eps;       /* 1e-5 */
    float momentum;  /* 0.1; running = (1 - m) * running + m * batch_stat (momentum=None is not supported) */
    int affine;
} vq_batch_norm_shape;

int vq_batch_norm_check(const vq_batch_norm_shape *s);

/* Training mode: normalize with the batch's mean and biased variance; update
 * running_mean and running_var (with the UNBIASED batch variance, B*P/(B*P-1))
 * and increment *num_batches_tracked, as PyTorch. */
void vq_batch_norm_forward_train(float *y,                 /* (B, C, H, W) */
                                 float *mean,              /* (C) saved */
                                 float *invstd,            /* (C) saved */
                                 float *running_mean,      /* (C) updated in place */
                                 float *running_var,       /* (C) updated in place */
                                 int64_t *num_batches_tracked, /* (1) updated, may be NULL */
                                 const float *x,           /* (B, C, H, W) */
                                 const float *gamma,       /* (C) or NULL when !affine */
                                 const float *beta,        /* (C) or NULL when !affine */
                                 const vq_batch_norm_shape *s);
/* Eval mode: y = (x - running_mean) / sqrt(running_var + eps) * gamma + beta. */
void vq_batch_norm_forward_eval(float *y, const float *x, const float *running_mean,
                                const float *running_var, const float *gamma, const float *beta,
                                const vq_batch_norm_shape *s);
/* Training-mode backward: dx, dgamma, dbeta accumulate (dgamma/dbeta may be NULL). */
void vq_batch_norm_backward(float *dx,            /* (B, C, H, W) */
                            float *dgamma,        /* (C) or NULL */
                            float *dbeta,         /* (C) or NULL */
                            const float *dy,      /* (B, C, H, W) */
                            const float *x,       /* (B, C, H, W) */
                            const float *mean,    /* (C) from forward_train */
                            const float *invstd,  /* (C) from forward_train */
                            const float *gamma,   /* (C) or NULL */
                            const vq_batch_norm_shape *s);

#endif
