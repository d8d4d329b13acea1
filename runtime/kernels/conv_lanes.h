/*
 * conv_lanes.h - convolutions with 9 to 16 output channels across the lanes
 * of an AVX-512 vector (internal to the runtime, not installed). Built only
 * when the runtime is compiled for AVX-512 (NN_CONV_LANES is then 1); conv.c
 * asks nn_conv_lanes_fits() first.
 */
#ifndef NN_CONV_LANES_H
#define NN_CONV_LANES_H

#include "nn.h"

#if !defined(NN_NO_SIMD) && defined(__AVX512F__)
#define NN_CONV_LANES 1
#else
#define NN_CONV_LANES 0
#endif

// Products per output (c * kh * kw) that the transposed weights may hold:
// 16 KB of stack.
#define NN_CONV_LANES_MAX_K 256

#if NN_CONV_LANES
// Whether nn_conv_lanes takes p (one group, 9 to 16 output channels, K up
// to NN_CONV_LANES_MAX_K); p must also be unpadded with stride 1.
int nn_conv_lanes_fits(const nn_conv_params *p);

// y (m, oh, ow) = b + x (c, h, w) (*) w (m, c, kh, kw) for one image of an
// unpadded stride-1 convolution; no activation.
void nn_conv_lanes(float *y, const float *x, const float *w, const float *b,
                   const nn_conv_params *p);
#endif

#endif
