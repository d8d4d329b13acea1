/*
 * conv_small.h - the packed convolution of output rows shorter than a
 * packed tile (conv_small.c), which nn_conv_packed_forward hands such
 * layers (internal to the runtime, not installed).
 */
#ifndef NN_CONV_SMALL_H
#define NN_CONV_SMALL_H

#include "gemm_engine.h"

// Whether conv_small.c takes p, its weights packed by
// nn_conv_pack_weights, in an AVX-512 build: a shape test, the same in
// every build.
int nn_conv_small_fits(const nn_conv_params *p);
#if defined(NN_GEMM_AVX512) // the only builds that have it
// One image: y = act(conv(x) + b + r), b and r may be NULL; wp packed.
void nn_conv_small_image(float *restrict y, const float *restrict x, const float *wp,
                         const float *b, const float *r, const nn_conv_params *p);
#endif

#endif
