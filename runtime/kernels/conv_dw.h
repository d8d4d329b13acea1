/*
 * conv_dw.h - the weight gradient of an unpadded stride-1 convolution by
 * dot products along output rows (internal to the runtime, not installed).
 * Built only when the runtime is compiled for AVX-512 (NN_CONV_DW_ROWS is
 * then 1); conv.c's backward asks nn_conv_dw_rows_fits() first and uses the
 * packed engine otherwise.
 */
#ifndef NN_CONV_DW_H
#define NN_CONV_DW_H

#include "nn.h"

#if !defined(NN_NO_SIMD) && defined(__AVX512F__)
#define NN_CONV_DW_ROWS 1
#else
#define NN_CONV_DW_ROWS 0
#endif

// Products per output channel (cg * kh * kw) whose input offsets the
// kernel keeps on the stack (4 KB).
#define NN_CONV_DW_MAX_K 1024

#if NN_CONV_DW_ROWS
// Whether nn_conv_dw_rows takes p: stride 1, no padding, output rows of
// 16 or more (shorter ones leave too many lanes idle: the packed engine is
// faster there), at most NN_CONV_DW_MAX_K products per output channel.
int nn_conv_dw_rows_fits(const nn_conv_params *p);

// dw (mg, cg, kh, kw) += sum over images, output pixels (i, j) and their
// taps of dy[o](i, j) * x[ci](i + u*dil_h, j + v*dil_w), for one group:
// x (cg, h, w) and dy (mg, oh, ow) of image 0, image n at x + n*x_image
// and dy + n*dy_image, images < count.
void nn_conv_dw_rows(float *dw, const float *dy, ptrdiff_t dy_image, const float *x,
                     ptrdiff_t x_image, int count, const nn_conv_params *p);
#endif

#endif
