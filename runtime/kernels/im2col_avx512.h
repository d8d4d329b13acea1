/*
 * im2col_avx512.h - the rows of an im2col panel gathered with AVX-512 masked
 * loads (internal to the runtime, not installed). Built only when the
 * runtime is compiled for AVX-512 with the engine's 32-column panels
 * (NN_IM2COL_AVX512 is then 1); im2col.c's nn_pack_im2col() uses it for
 * strides 1 and 2 and its own loops otherwise, conv_rows.c for its bands.
 */
#ifndef NN_IM2COL_AVX512_H
#define NN_IM2COL_AVX512_H

#include "gemm_engine.h"

#if defined(NN_GEMM_AVX512) && NN_NR == 32
#define NN_IM2COL_AVX512 1
#else
#define NN_IM2COL_AVX512 0
#endif

// One piece of a packed row: out[dst + c] = plane[src + c*stride_w], c < len.
typedef struct {
  int dst, src, len;
} nn_im2col_piece;

#if NN_IM2COL_AVX512
// Rows first, first + step, ... (below kc) of the panel bp (NN_NR floats
// each), zeros outside the pieces: row q = first + i*step reads the pieces
// (which lie inside [0, NN_NR) of the row and inside the object x points
// into) relative to x + i*plane, or to x + row_off[q] when row_off is not
// NULL (plane unused). stride_w is 1 or 2.
void nn_im2col_rows_avx512(float *bp, const float *x, ptrdiff_t plane, const int *row_off,
                           int first, int step, int kc, const nn_im2col_piece *pieces,
                           int npieces, int stride_w);
#endif

#endif
