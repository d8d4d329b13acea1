/*
 * conv_rows.h - convolutions of few input channels (a first layer on an RGB
 * image), by bands of output rows over a zero-padded, stride-split copy of
 * the input rows a band reads (internal to the runtime, not installed).
 * conv.c asks nn_conv_rows_fits() first.
 */
#ifndef NN_CONV_ROWS_H
#define NN_CONV_ROWS_H

#include "gemm_engine.h"

// Floats of stack for a band's copy of its input rows (32 KB).
#ifndef NN_CONV_ROWS_FLOATS
#define NN_CONV_ROWS_FLOATS 8192
#endif

// Whether nn_conv_rows takes p: at most 4 input channels per group,
// horizontal stride 1 or 2, output rows of at least two engine panels, and
// a copy of one output row's inputs within NN_CONV_ROWS_FLOATS.
int nn_conv_rows_fits(const nn_conv_params *p);

// y (mg, oh, ow) = ep(w (mg, cg, kh, kw) (*) x (cg, h, w)) for one image
// and group of p.
void nn_conv_rows(float *y, const float *x, const float *w, const nn_gemm_epilogue *ep,
                  const nn_conv_params *p);

#endif
