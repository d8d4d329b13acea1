/*
 * pool_shapes.h - the table of pooling shapes that test_pool.c and
 * test_grad_pool.c run their fast paths over (against one-cell-at-a-time
 * definitions), the parameters the compiler would pass for each, and what
 * both definitions share: the taps of a window and the mixed inputs.
 */
#ifndef POOL_SHAPES_H
#define POOL_SHAPES_H

#include "nn.h"

#include <math.h>

// n c h w, kh kw, strides, dilations, pads t l b r, ceil_mode.
static const int pool_shapes[][15] = {
    {2, 3, 28, 28, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0}, // LeNet: planes fold into one
    {1, 4, 10, 10, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0}, // rows of 5
    {2, 2, 9, 11, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0},  // odd: last row, column unread
    {1, 2, 9, 11, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1},  // ceil: extra row, column
    {1, 1, 4, 100, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0}, // rows of 50
    {1, 3, 17, 19, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0}, // ResNet's stem pool
    {1, 2, 16, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1}, // ceil with pads
    {1, 2, 15, 15, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0}, // 3x3 stride 2, no pads
    {1, 1, 9, 70, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0},  // rows of 35
    {1, 2, 7, 112, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0}, // rows of 56: ResNet's own
    {1, 1, 6, 35, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0},  // rows of 17: one past 16
    {1, 1, 5, 33, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, 0},  // rows of 16
    {2, 2, 12, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0}, // 3x3 stride 1, pad 1
    {1, 1, 6, 40, 3, 3, 1, 1, 1, 1, 0, 2, 0, 1, 0},  // asymmetric pads
    {1, 2, 13, 14, 3, 3, 2, 2, 2, 2, 2, 1, 1, 2, 0}, // dilation 2
    {1, 2, 11, 12, 2, 2, 1, 1, 2, 2, 1, 1, 1, 1, 1}, // dilation 2, ceil
    {2, 2, 1, 40, 1, 3, 1, 2, 1, 1, 0, 1, 0, 1, 0},  // 1-D
    {1, 1, 1, 700, 1, 3, 1, 1, 1, 1, 0, 1, 0, 1, 0}, // 1-D, rows of 698
    {1, 1, 3, 600, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 0}, // 3x3, rows of 299
    {1, 2, 20, 40, 2, 3, 2, 1, 1, 1, 0, 1, 0, 1, 0}, // unequal strides
    {1, 2, 9, 9, 3, 3, 3, 3, 1, 1, 0, 0, 0, 0, 1},   // 3x3 stride 3, ceil
    {1, 1, 30, 30, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 0}, // 5x5, pad 2
    {2, 3, 6, 6, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0},   // tiny planes
    {1, 1, 3, 3, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 0},   // windows of padding only
};

enum { POOL_SHAPES = (int)(sizeof pool_shapes / sizeof pool_shapes[0]) };

// Parameters as the compiler passes them (compiler/ops/window.c): explicit
// pads, and with ceil_mode one more cell when the windows do not end on
// the padding, unless that cell would start inside the end padding.
static inline nn_pool_params pool_shape(const int *a, int include_pad)
{
  int n = a[0], c = a[1], h = a[2], w = a[3], kh = a[4], kw = a[5], sh = a[6], sw = a[7];
  int dh = a[8], dw = a[9], pt = a[10], pl = a[11], pb = a[12], pr = a[13], ceil_mode = a[14];
  nn_pool_params p = {.n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw,
                      .stride_h = sh, .stride_w = sw, .dil_h = dh, .dil_w = dw,
                      .pad_t = pt, .pad_l = pl, .pad_b = pb, .pad_r = pr,
                      .count_include_pad = include_pad};
  int span_h = h + pt + pb - (kh - 1) * dh - 1, span_w = w + pl + pr - (kw - 1) * dw - 1;
  p.oh = (ceil_mode ? (span_h + sh - 1) / sh : span_h / sh) + 1;
  p.ow = (ceil_mode ? (span_w + sw - 1) / sw : span_w / sw) + 1;
  if (ceil_mode && (p.oh - 1) * sh >= h + pt)
    p.oh--;
  if (ceil_mode && (p.ow - 1) * sw >= w + pl)
    p.ow--;
  return p;
}

// The window's taps inside x, in raster order, as offsets in the plane;
// *in_pad counts its taps inside the explicit padding.
static inline int window_taps(const nn_pool_params *p, int i, int j, int *at, int *in_pad)
{
  int count = 0;
  *in_pad = 0;
  for (int u = 0; u < p->kh; u++)
    for (int v = 0; v < p->kw; v++) {
      int r = i * p->stride_h - p->pad_t + u * p->dil_h;
      int c = j * p->stride_w - p->pad_l + v * p->dil_w;
      if (r >= -p->pad_t && r < p->h + p->pad_b && c >= -p->pad_l && c < p->w + p->pad_r)
        (*in_pad)++;
      if (r >= 0 && r < p->h && c >= 0 && c < p->w)
        at[count++] = r * p->w + c;
    }
  return count;
}

// Small integers, so windows have ties, and now and then -inf, +inf, a NaN
// of either sign or a zero of either sign.
static inline void fill_mixed(float *x, int count, unsigned seed)
{
  static const float special[6] = {-INFINITY, INFINITY, NAN, -NAN, 0.0f, -0.0f};
  for (int i = 0; i < count; i++) {
    seed = seed * 1103515245u + 12345u;
    unsigned r = seed >> 8;
    x[i] = r % 13 == 0 ? special[(r / 13) % 6] : (float)((int)(r % 7) - 3);
  }
}

#endif
