/* codes.h: the CODES text file that `encode` writes and `decode` reads: the
 * code indices of one image, one block per codebook in the model's order.
 *
 *     codebook NAME GH GW K
 *     GH rows of GW decimal indices in [0, K), separated by spaces or tabs
 *
 * Empty lines are ignored; "\r\n" line ends are accepted. The reader checks
 * the block names, grid sizes and K against the model's codebook table, every
 * row's length and every index's range, and names the file and line of the
 * first problem ("shirt.codes:3: index 32 (column 0) out of range [0, 32) of
 * codebook quantize"). What it is not: a container for several images, or a
 * place where the model's codebook table can be changed.
 *
 * Legend: gh, gw a codebook's code map, K its number of codes.
 *
 *     int32_t *idx[2] = {top, bottom};   // (gh*gw) each, allocated by the caller
 *     if (vq_codes_read(idx, "a.codes", "vqvae2", d->codebooks, d->n_codebooks))
 *         fprintf(stderr, "%s\n", vq_last_error());
 */
#ifndef VQ_CODES_H
#define VQ_CODES_H

#include <stdint.h>
#include <stdio.h>

#include "model_desc.h"   /* vq_codebook_desc */

/* Reads path into idx[c] (gh*gw, row-major) for each of the n codebooks cbs.
 * model names the model in mismatch messages (may be NULL). On error idx may
 * be partly written. VQ_ERR_IO (cannot open/read), VQ_ERR_FORMAT (not the
 * format), VQ_ERR_MISMATCH (well-formed, but not this model's codebooks or an
 * index out of range); the message starts with "path:line:". */
int vq_codes_read(int32_t *const *idx, const char *path, const char *model, const vq_codebook_desc *cbs, int n);
/* The same from an open stream; name is what messages call it. */
int vq_codes_read_stream(int32_t *const *idx, FILE *f, const char *name, const char *model,
                         const vq_codebook_desc *cbs, int n);

/* Writes idx (as above) to path, replacing it; VQ_ERR_IO names path and the
 * reason when a write fails (disk full, ulimit -f). Indices are written as
 * given, so a file the reader would reject is never produced silently:
 * an index outside [0, K) is VQ_ERR_ARG. */
int vq_codes_write(const char *path, const int32_t *const *idx, const vq_codebook_desc *cbs, int n);
/* The same to an open stream (not closed); name is what messages call it. */
int vq_codes_write_stream(FILE *f, const char *name, const int32_t *const *idx, const vq_codebook_desc *cbs, int n);

#endif
