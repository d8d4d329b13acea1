/*
 * depthwise.h - the depthwise convolution path of nn_conv_forward and
 * nn_conv_backward (internal to the runtime, not installed).
 *
 * Depthwise means one input channel per group (c / group == 1), any
 * multiplier m / group, any kernel size, stride, dilation and padding.
 * conv.c dispatches here; the parameters and shapes are nn.h's
 * nn_conv_params, unchanged, and so are the results (to rounding: the
 * taps are summed in another order). Both functions use a few KB of stack
 * (under 4 KB on Cortex-M, under 6 KB with AVX-512) and nothing else.
 */
#ifndef NN_DEPTHWISE_H
#define NN_DEPTHWISE_H

#include "nn.h"

// y (n, m, oh, ow) = act(b + x (n, c, h, w) (*) w (m, 1, kh, kw)), c == group.
void nn_depthwise_forward(float *restrict y, const float *restrict x, const float *w,
                          const float *b, const nn_conv_params *p);

// dx (n, c, h, w), dw (m, 1, kh, kw), db (m) += gradients from dy (n, m, oh, ow);
// any of dx, dw, db may be NULL; p->act must be NN_ACT_NONE.
void nn_depthwise_backward(float *dx, float *dw, float *db, const float *dy,
                           const float *x, const float *w, const nn_conv_params *p);


// With AVX-512, the forward of most depthwise shapes goes through masked
// row vectors (depthwise_avx512.c): stride 1 along rows (any dilation) or
// 2 (dilation 1), at most 16 taps a kernel row.
#if !defined(NN_NO_SIMD) && defined(__AVX512F__)
#define NN_DEPTHWISE_ROWVEC 1
int nn_depthwise_rowvec_takes(const nn_conv_params *p);
void nn_depthwise_rowvec_forward(float *y, const float *x, const float *w, const float *b,
                                 const nn_conv_params *p);
#else
#define NN_DEPTHWISE_ROWVEC 0
#endif

#endif
