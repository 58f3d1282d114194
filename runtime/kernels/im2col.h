/* im2col.h: the column transform shared by conv2d and conv_transpose2d, and
 * the tiling of a convolution's GEMM columns into per-thread pieces (internal
 * to the kernel library; generated code never calls it).
 *
 * What it is: im2col copies, for a band of output rows, every input value a
 * kernel tap reads into a (C*kh*kw, R*Wo) matrix so a convolution becomes one
 * sgemm; col2im is its adjoint (adds columns back into the image). Both work
 * on one image and a band of R output rows starting at r0, so the caller's
 * column buffer stays bounded.
 *
 * Tiles: the GEMM's N dimension is every output position of the batch,
 * B*Ho*Wo. A tile is either m whole images (small images: several are put
 * side by side in one column matrix, so each sgemm is wide enough to run at
 * speed) or a band of R rows of one image (large images). Each tile's columns
 * fit a slot of about VQ_COL_BUDGET_FLOATS floats, and there are enough tiles
 * for every thread.
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

/* Column floats of one thread's tile: 1 Mi floats (4 MiB), unless one output
 * row alone needs more (K*Wo floats), in which case a band is one row. */
#define VQ_COL_BUDGET_FLOATS ((size_t)1 << 20)
/* At most this many GEMM columns per tile (bounds the side buffers of
 * multi-image tiles and keeps the tiles of tiny-K convs numerous). */
#define VQ_COL_MAX_COLS 4096

/* Rows per band for K = C*kh*kw column rows: max(1, min(Ho, budget / (K*Wo))). */
int vq_col_tile_rows(const vq_col_geom *g);
/* Floats of the column buffer: K * tile_rows * Wo. */
size_t vq_col_scratch_floats(const vq_col_geom *g);

/* col (K, R*Wo) = the taps of output rows [r0, r0+R); x (C, H, W). OpenMP-parallel. */
void vq_im2col_rows(float *col, const float *x, const vq_col_geom *g, int r0, int R);
/* x (C, H, W) += the adjoint of vq_im2col_rows applied to col (K, R*Wo). OpenMP-parallel. */
void vq_col2im_rows_add(float *x, const float *col, const vq_col_geom *g, int r0, int R);
/* Serial versions whose column matrix has row stride ldcol (>= R*Wo): several
 * images' bands can sit side by side in one matrix. */
void vq_im2col_rows_ld(float *col, size_t ldcol, const float *x, const vq_col_geom *g, int r0, int R);
void vq_col2im_rows_add_ld(float *x, const float *col, size_t ldcol, const vq_col_geom *g, int r0, int R);

/* How the B*Ho*Wo columns of one GEMM are cut (see the top of this file). */
typedef struct vq_col_tiling {
    int B, Ho, Wo;
    int img_tiles;   /* the batch is cut into this many groups of whole images (balanced) */
    int row_tiles;   /* each group's rows into this many bands (> 1 only when groups are single images) */
    int max_cols;    /* the widest tile, in columns */
} vq_col_tiling;

/* Columns a tile may have for K column rows: clamp(budget / K, Wo, VQ_COL_MAX_COLS)
 * (never below one output row). */
int vq_col_tile_cols(size_t K, int Wo);
/* Plans tiles of at most vq_col_tile_cols(K, Wo) columns, at least nt of them
 * when the batch and rows allow it. */
void vq_col_tiling_plan(vq_col_tiling *t, int B, int Ho, int Wo, size_t K, int nt);
static inline int vq_col_tiles(const vq_col_tiling *t) { return t->img_tiles * t->row_tiles; }
/* Tile i: images [*n0, *n0 + *m), rows [*r0, *r0 + *R) of each. */
void vq_col_tile(const vq_col_tiling *t, int i, int *n0, int *m, int *r0, int *R);

#endif
