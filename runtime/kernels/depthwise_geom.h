/*
 * depthwise_geom.h - the plane geometry shared by depthwise.c and
 * depthwise_avx512.c (internal to the runtime).
 */
#ifndef NN_DEPTHWISE_GEOM_H
#define NN_DEPTHWISE_GEOM_H

#include "nn.h"
#include "ranges.h"

// One plane-to-plane correlation:
//   out(i, j) = [bias +] sum_{u,v} k[u*ku + v*kv] * in(i*sh + u*dh - pt, j*sw + v*dw - pl)
// out: (oh, ow)  in: (h, w)  k: kh*kw taps, flipped when ku, kv < 0.
// Positions outside in read as 0. The forward uses it as is; dx at stride 1
// uses it with dY as in and the kernel flipped.
typedef struct {
  int oh, ow, h, w;
  int kh, kw, sh, sw, dh, dw, pt, pl;
  int ku, kv;
} plane_geom;

// The forward geometry of p, kernel not flipped.
static inline plane_geom forward_geom(const nn_conv_params *p)
{
  plane_geom g;
  g.oh = p->oh;
  g.ow = p->ow;
  g.h = p->h;
  g.w = p->w;
  g.kh = p->kh;
  g.kw = p->kw;
  g.sh = p->stride_h;
  g.sw = p->stride_w;
  g.dh = p->dil_h;
  g.dw = p->dil_w;
  g.pt = p->pad_t;
  g.pl = p->pad_l;
  g.ku = p->kw;
  g.kv = 1;
  return g;
}

#endif
