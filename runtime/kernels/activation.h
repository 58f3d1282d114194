/* activation.h: elementwise activations and the two elementwise linear ops
 * (add, scale), forward and backward, over n contiguous floats of any shape.
 *
 * Saved for backward: swish, relu, leaky_relu read the input x; sigmoid and
 * tanh read their output y (their derivatives are functions of y). softplus
 * (numerically stable, PyTorch's threshold 20 included) reads x.
 * Backward accumulates: dx += dy * f'(.). The generator fuses simple
 * elementwise chains itself; these are the reference building blocks.
 */
#ifndef VQ_KERNELS_ACTIVATION_H
#define VQ_KERNELS_ACTIVATION_H

#include <stddef.h>

/* swish / silu: y = x * sigmoid(x) */
void vq_swish_forward(float *y /* (n) */, const float *x /* (n) */, size_t n);
void vq_swish_backward(float *dx /* (n) */, const float *dy /* (n) */, const float *x /* (n) */, size_t n);

/* relu: y = max(x, 0); derivative 0 at x = 0, as PyTorch */
void vq_relu_forward(float *y, const float *x, size_t n);
void vq_relu_backward(float *dx, const float *dy, const float *x, size_t n);

/* leaky_relu: y = x > 0 ? x : slope * x */
void vq_leaky_relu_forward(float *y, const float *x, float slope, size_t n);
void vq_leaky_relu_backward(float *dx, const float *dy, const float *x, float slope, size_t n);

/* sigmoid: y = 1 / (1 + exp(-x)); backward from y: dx += dy * y * (1 - y) */
void vq_sigmoid_forward(float *y, const float *x, size_t n);
void vq_sigmoid_backward(float *dx, const float *dy, const float *y, size_t n);

/* tanh; backward from y: dx += dy * (1 - y^2) */
void vq_tanh_forward(float *y, const float *x, size_t n);
void vq_tanh_backward(float *dx, const float *dy, const float *y, size_t n);

/* softplus: y = log(1 + exp(x)), = x when x > 20 (PyTorch's threshold); dx += dy * sigmoid(x) */
void vq_softplus_forward(float *y, const float *x, size_t n);
void vq_softplus_backward(float *dx, const float *dy, const float *x, size_t n);
/* One stable value: max(x, 0) + log1p(exp(-|x|)). */
float vq_softplusf(float x);

/* add: y = a + b (same shapes); backward da += dy, db += dy (either may be NULL) */
void vq_add_forward(float *y, const float *a, const float *b, size_t n);
void vq_add_backward(float *da, float *db, const float *dy, size_t n);

/* scale: y = alpha * x; backward dx += alpha * dy */
void vq_scale_forward(float *y, const float *x, float alpha, size_t n);
void vq_scale_backward(float *dx, const float *dy, float alpha, size_t n);

#endif
