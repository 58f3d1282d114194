/* toy_model.h: a tiny VQ autoencoder written by hand against model_desc.h:
 * the prototype of what vqc will generate (gen/X.h declares X_desc()), used
 * to test the generic driver.
 *
 *   x (B, 1, 32, 32) -> conv 4x4 s2 p1, 1->16 -> relu -> conv 1x1, 16->D
 *   -> quantize (K=32 codes of D, taming VectorQuantizer2, beta 0.25)
 *   -> conv_transpose 4x4 s2 p1, D->1 -> x_hat (B, 1, 32, 32)
 *   loss: total = mean|x_hat - x| + q_loss
 *
 * TOY_D (default 8) plays the role of a -D value: building with another D
 * gives another model hash and tensor table (the mismatch test uses D=4). */
#ifndef TOY_MODEL_H
#define TOY_MODEL_H

#include "model_desc.h"

const vq_model_desc *toy_desc(void);

#endif
