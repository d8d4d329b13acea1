/*
 * conv_pixels.h - convolutions with at most 8 output channels, output
 * pixels across the lanes of an AVX-512 vector (internal to the runtime,
 * not installed). Built only when the runtime is compiled for AVX-512
 * (NN_CONV_PIXELS is then 1); conv.c asks nn_conv_pixels_fits() first.
 */
#ifndef NN_CONV_PIXELS_H
#define NN_CONV_PIXELS_H

#include "nn.h"

#if !defined(NN_NO_SIMD) && defined(__AVX512F__)
#define NN_CONV_PIXELS 1
#else
#define NN_CONV_PIXELS 0
#endif

// Products per output (c/group * kh * kw) whose input offsets and weight
// indices the kernel tables: 8 KB of stack.
#define NN_CONV_PIXELS_MAX_K 1024
// Floats of the zero-padded copy of a padded input: 32 KB of stack.
#ifndef NN_CONV_PIXELS_PAD_FLOATS
#define NN_CONV_PIXELS_PAD_FLOATS 8192
#endif

#if NN_CONV_PIXELS
// Whether nn_conv_pixels takes p: stride 1, at most 8 output channels per
// group, K up to NN_CONV_PIXELS_MAX_K, output rows that fill at least 3/4
// of the vectors they take, and, when padded, a zero-padded copy of an
// image's input channels within NN_CONV_PIXELS_PAD_FLOATS.
int nn_conv_pixels_fits(const nn_conv_params *p);

// One image and group of a stride-1 convolution (padded or not), no
// activation:
// y (mg, oh, ow) = (accumulate ? y : b) + x (cg, h, w) (*) w (mg, cg, kh, kw),
// mg = m/group, cg = c/group; b may be NULL.
void nn_conv_pixels(float *y, const float *x, const float *w, const float *b,
                    int accumulate, const nn_conv_params *p);
#endif

#endif
