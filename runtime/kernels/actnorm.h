/* actnorm.h: activation normalization (Glow, Kingma & Dhariwal 2018, sec. 3.1) as
 * taming-transformers' ActNorm in the PatchGAN discriminator: a per-channel affine map
 * with a data-dependent initialization.
 *
 *   y = scale * (x + loc)                       loc, scale (C) (stored (1, C, 1, 1))
 *   init (first training batch):  loc = -mean_c(x),  scale = 1 / (std_c(x) + 1e-6)
 * with mean and the UNBIASED standard deviation (torch.std's default, divide by N-1)
 * over the N = B*H*W values of channel c. Once the init ran, ActNorm is a plain affine
 * layer with trainable loc and scale; whether it ran is the caller's `initialized` flag.
 *
 * Legend: B batch, C channels, H, W spatial, P = H*W, N = B*P.
 * Not here: the logdet and reverse of Glow's flow (the discriminator uses neither).
 */
#ifndef VQ_KERNELS_ACTNORM_H
#define VQ_KERNELS_ACTNORM_H

#include <stddef.h>

#define VQ_ACTNORM_STD_EPS 1e-6   /* taming: scale = 1 / (std + 1e-6) */

typedef struct vq_actnorm_shape {
    int B, C, H, W;
} vq_actnorm_shape;

/* Sizes positive and B*H*W >= 2 (an unbiased std of one value is NaN). */
int vq_actnorm_check(const vq_actnorm_shape *s);

/* The data-dependent init from the batch x: writes loc and scale (statistics in double). */
void vq_actnorm_init(float *loc,          /* (C) written: -mean */
                     float *scale,        /* (C) written: 1 / (std + 1e-6) */
                     const float *x,      /* (B, C, H, W) */
                     const vq_actnorm_shape *s);

/* y = scale * (x + loc); y may be x. */
void vq_actnorm_forward(float *y,            /* (B, C, H, W) */
                        const float *x,      /* (B, C, H, W) */
                        const float *loc,    /* (C) */
                        const float *scale,  /* (C) */
                        const vq_actnorm_shape *s);

/* Accumulates (+=): dx = scale * dy, dloc = sum_{b,p} dy * scale,
 * dscale = sum_{b,p} dy * (x + loc). Any of dx, dloc, dscale may be NULL. */
void vq_actnorm_backward(float *dx,           /* (B, C, H, W) or NULL */
                         float *dloc,         /* (C) or NULL */
                         float *dscale,       /* (C) or NULL */
                         const float *dy,     /* (B, C, H, W) */
                         const float *x,      /* (B, C, H, W) the forward's input */
                         const float *loc,    /* (C) */
                         const float *scale,  /* (C) */
                         const vq_actnorm_shape *s);

#endif
