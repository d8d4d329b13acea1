/*
 * im2col.h - the columns of an image as the rows of a matrix, gathered one
 * panel at a time for the packed engine (internal to the runtime, not
 * installed): conv.c's convolutions are products with X = im2col(x), which
 * is never stored.
 */
#ifndef NN_IM2COL_H
#define NN_IM2COL_H

#include "gemm_engine.h"

// One image and group: x or dx (cg, h, w), as the engine's b_src or y_dst.
typedef struct {
  const float *x;
  float *dx;
  const nn_conv_params *p;
} nn_conv_image;

// Kernel tap of row kidx of X: channel ci, offsets (du, dv) from the
// output pixel's top-left input position.
typedef struct {
  int ci, du, dv;
} nn_conv_tap;

static inline nn_conv_tap nn_conv_tap_of(int kidx, const nn_conv_params *p)
{
  int taps = p->kh * p->kw;
  int u = kidx % taps / p->kw, v = kidx % p->kw;
  nn_conv_tap t = {kidx / taps, u * p->dil_h - p->pad_t, v * p->dil_w - p->pad_l};
  return t;
}

// X (cg*kh*kw, oh*ow) of the nn_conv_image b_src: X(k, j) is the input
// that output pixel j reads through tap k % (kh*kw) of channel
// k / (kh*kw), 0 in the padding. An nn_pack_fn.
void nn_pack_im2col(float *bp, const void *b_src, int k0, int kc, int j0, int nr);

// X^T (oh*ow, cg*kh*kw), for the weights' gradient dY X^T. An nn_pack_fn.
void nn_pack_im2col_t(float *bp, const void *b_src, int k0, int kc, int j0, int nr);

// The inverse for gradients, an nn_unpack_fn into the nn_conv_image y_dst:
// each entry of a tile of dX(K, N) is added into the dx position that X's
// entry was read from (col2im); positions in the padding are dropped.
void nn_scatter_col2im(void *y_dst, const float *tile, int i0, int mr, int j0, int nr);

#endif
