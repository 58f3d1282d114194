/* im2col.h: the column transform shared by conv2d and conv_transpose2d
 * (internal to the kernel library; generated code never calls it).
 *
 * What it is: im2col copies, for a band of output rows, every input value a
 * kernel tap reads into a (C*kh*kw, R*Wo) matrix so a convolution becomes one
 * sgemm; col2im is its adjoint (adds columns back into the image). Both work
 * on one image and a band of R output rows starting at r0, so the caller's
 * column buffer stays bounded (see vq_col_tile_rows).
 *
 * What it is not: no dilation, no groups, no allocation.
 *
 * Legend: C channels of the image read, H, W its size; Ho, Wo the grid of
 * kernel positions; K = C*kh*kw rows of the column matrix.
 */
#ifndef VQ_KERNELS_IM2COL_H
#define VQ_KERNELS_IM2COL_H

#include <stddef.h>

/* Geometry of one correlation: image (C, H, W) read at positions
 * (oy*sh - pt + ky, ox*sw - pl + kx) for oy < Ho, ox < Wo; out of range reads are 0.
 * Bottom/right padding is implied by Ho, Wo. */
typedef struct vq_col_geom {
    int C, H, W;
    int kh, kw, sh, sw, pt, pl;
    int Ho, Wo;
} vq_col_geom;

/* Upper bound on the column buffer a band may use: 1 Mi floats (4 MiB), unless
 * one output row alone needs more (K*Wo floats), in which case a band is one row. */
#define VQ_COL_BUDGET_FLOATS ((size_t)1 << 20)

/* Rows per band for K = C*kh*kw column rows: max(1, min(Ho, budget / (K*Wo))). */
int vq_col_tile_rows(const vq_col_geom *g);
/* Floats of the column buffer: K * tile_rows * Wo. */
size_t vq_col_scratch_floats(const vq_col_geom *g);

/* col (K, R*Wo) = the taps of output rows [r0, r0+R); x (C, H, W). */
void vq_im2col_rows(float *col, const float *x, const vq_col_geom *g, int r0, int R);
/* x (C, H, W) += the adjoint of vq_im2col_rows applied to col (K, R*Wo). */
void vq_col2im_rows_add(float *x, const float *col, const vq_col_geom *g, int r0, int R);

#endif
