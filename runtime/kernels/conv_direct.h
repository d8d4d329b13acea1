/*
 * conv_direct.h - the scalar-core convolution of conv_direct.c (internal to
 * the runtime, not installed): nn_conv_forward and nn_conv_backward, same
 * parameters and semantics, taken when the runtime is built with
 * -DNN_CONV_DIRECT.
 */
#ifndef NN_CONV_DIRECT_H
#define NN_CONV_DIRECT_H

#include "nn.h"

void nn_conv_direct_forward(float *restrict y, const float *restrict x, const float *w,
                            const float *b, const nn_conv_params *p);
// dx and dw only: conv.c adds db.
void nn_conv_direct_backward(float *dx, float *dw, const float *dy, const float *x,
                             const float *w, const nn_conv_params *p);

#endif
