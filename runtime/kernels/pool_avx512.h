/*
 * pool_avx512.h - the two row loops of max pooling 3x3 stride 2 (pool.c's
 * max_plane_3x3_s2) with AVX-512 (internal to the runtime, not installed).
 * Built only when the runtime is compiled for AVX-512 (NN_POOL_AVX512 is
 * then 1); pool.c keeps its plain loops for every other build.
 *
 * Both take a tap for the running maximum as pool.c's max_step() does (v
 * replaces best when greater or NaN), in the same order, so the results
 * are the same bits.
 */
#ifndef NN_POOL_AVX512_H
#define NN_POOL_AVX512_H

#include "gemm_engine.h"

#if defined(NN_GEMM_AVX512)
#define NN_POOL_AVX512 1

// h[j] = max of x0[2j], x0[2j + 1], x0[2j + 2] in that order, j < n; x0
// holds 2n + 1 floats. h (n floats) and x0 do not overlap.
void nn_pool_max3_s2_avx512(float *h, const float *x0, int n);

// y[j] = max of a[j], b[j], c[j] in that order, j < n; b or c may be NULL
// (rows of the window outside x). y overlaps none of them.
void nn_pool_max_rows_avx512(float *y, const float *a, const float *b, const float *c, int n);

#else
#define NN_POOL_AVX512 0
#endif

#endif
