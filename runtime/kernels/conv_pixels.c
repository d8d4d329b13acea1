/*
 * conv_pixels.c - a convolution with few output channels (1 to 8) with
 * output pixels across the lanes of an AVX-512 vector (internal; conv.c
 * calls it for stride-1 convolutions that nn_conv_pixels_fits()).
 *
 * Key idea: with 8 or fewer output channels the packed engine fills one
 * strip of its micro-kernel, and channels across lanes (conv_lanes.c)
 * would leave half of each vector empty. Here a vector holds 16
 * neighbouring pixels of one output row (a "segment"; the last of a row is
 * masked), and a tile keeps its mo output channels of `rows` segments in
 * registers: per tap (u, ci, v) it loads each segment's inputs once, x
 * shifted by the tap, and multiplies them by the tap's weight of each
 * channel, broadcast. Weights are read where they are, inputs and weights
 * through tables indexed by tap. Segments past the last are masked off
 * entirely, so every tile has the same shape.
 *
 * Taps go kernel row by kernel row (u, then input channel, then kernel
 * column), so that those of the kernel rows that read only padding for
 * every segment of a tile, at the top and bottom of a padded image, are a
 * prefix and a suffix of the tables, which the tile skips: a third of the
 * first and last tiles' products on the activations CNN's dilated layer
 * (3x3, dilation 2, padding 2, two output rows a tile). That order also
 * ran faster by itself (8x20x20 unpadded, dilation 2: 1.37 to 1.25 us
 * against channel by channel); with the skipping the padded 8x16x16 layer
 * went from 1.57 to 1.35 us.
 *
 * A padded input is first copied into a zero-padded image on the stack,
 * rows a whole number of vectors apart, with masked loads and aligned
 * stores (nn_fill and a call of nn_copy per row took 0.37 us on a 16x16
 * image of 8 channels, a quarter of the products' time; this takes about
 * 0.2). Taking the padding into each load's mask instead, with masks per
 * segment and tap worked out per tile, ran 7% slower on that image and 3x
 * slower on LeNet-5's first layer (25 taps of one channel: the masks cost
 * more than the products).
 *
 * Deliberately not here: other instruction sets (they keep the engine),
 * strides, rows that would leave more than a quarter of the lanes empty
 * (rows of 8, 20, ...), and the activation (conv.c applies it after, over
 * y).
 */
#include "conv_pixels.h"

#if NN_CONV_PIXELS

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

enum {
  LANES = 16,
  MAX_MO = 8,   // output channels in a tile
  MAX_ROWS = 8, // segments in a tile
};

// Segments per tile for mo channels: at least 8 accumulators (chains to
// keep both FMA units busy), at most 24, so that they, the segments' inputs
// and one broadcast weight fit the 32 vector registers. Two segments for 8
// channels measured 7% faster than three (16x16 images: no empty segments).
static int rows_for(int mo)
{
  static const int rows[MAX_MO + 1] = {0, 8, 4, 4, 4, 4, 4, 3, 2};
  return rows[mo];
}

// The input rows and columns the windows reach: x's own when unpadded and
// every window lies inside x, else those of a zero-padded copy.
static int reach_h(const nn_conv_params *p)
{
  return p->oh + (p->kh - 1) * p->dil_h;
}

static int reach_w(const nn_conv_params *p)
{
  return p->ow + (p->kw - 1) * p->dil_w;
}

// Row pitch of the padded copy: whole vectors, so that its stores are aligned.
static int copy_pitch(const nn_conv_params *p)
{
  return (reach_w(p) + LANES - 1) / LANES * LANES;
}

static int needs_copy(const nn_conv_params *p)
{
  return p->pad_t != 0 || p->pad_l != 0 || reach_h(p) > p->h || reach_w(p) > p->w;
}

int nn_conv_pixels_fits(const nn_conv_params *p)
{
  int cg = p->c / p->group, k = cg * p->kh * p->kw;
  int vectors = (p->ow + LANES - 1) / LANES;
  return p->stride_h == 1 && p->stride_w == 1 && p->m / p->group <= MAX_MO &&
         k <= NN_CONV_PIXELS_MAX_K && 4 * p->ow >= 3 * LANES * vectors &&
         (!needs_copy(p) || (long)cg * reach_h(p) * copy_pitch(p) <= NN_CONV_PIXELS_PAD_FLOATS);
}

// Where a segment reads (x at its first pixel, channel 0, tap (0, 0)) and
// writes (y at its first pixel, channel 0), and its lanes.
typedef struct {
  const float *x;
  float *y;
  __mmask16 lanes;
} segment;

// The lanes below n (none below 0, all from 16 on).
static __mmask16 first_lanes(int n)
{
  n = n < 0 ? 0 : n > LANES ? LANES : n;
  return (__mmask16)((1u << n) - 1u);
}

// The products of a tile, taps in the order (u, ci, v) of kernel row, input
// channel and kernel column, so that those of kernel rows u0 <= u < u1 are
// one range [first, last): tap t reads x[off[t]] and multiplies it by
// w[o*k + wq[t]] for output channel o.
typedef struct {
  const int *off, *wq;
  int k, first, last;
} tap_set;

// The tile's mo channels of its rows segments: from b (or y when
// accumulate), plus every tap of t's range.
static inline __attribute__((always_inline)) void tile(const segment *s, const float *w,
                                                       const float *b, int accumulate,
                                                       const tap_set *t, ptrdiff_t out_plane,
                                                       const int mo, const int rows)
{
  __m512 acc[MAX_MO][MAX_ROWS];
  for (int o = 0; o < mo; o++)
    for (int r = 0; r < rows; r++)
      acc[o][r] = accumulate ? _mm512_maskz_loadu_ps(s[r].lanes, s[r].y + o * out_plane)
                             : _mm512_set1_ps(b != NULL ? b[o] : 0.0f);
  const int *off = t->off, *wq = t->wq;
  ptrdiff_t k = t->k;
  for (int q = t->first; q < t->last; q++) {
    __m512 in[MAX_ROWS];
    for (int r = 0; r < rows; r++)
      in[r] = _mm512_maskz_loadu_ps(s[r].lanes, s[r].x + off[q]);
    const float *wt = w + wq[q];
    for (int o = 0; o < mo; o++) {
      __m512 wv = _mm512_set1_ps(wt[o * k]);
      for (int r = 0; r < rows; r++)
        acc[o][r] = _mm512_fmadd_ps(wv, in[r], acc[o][r]);
    }
  }
  for (int o = 0; o < mo; o++)
    for (int r = 0; r < rows; r++)
      _mm512_mask_storeu_ps(s[r].y + o * out_plane, s[r].lanes, acc[o][r]);
}

// The kernel rows [u0, u1) that reach one of x's rows from some output row
// of i_first..i_last (an empty range when none does).
static void live_rows(int *u0, int *u1, int i_first, int i_last, const nn_conv_params *p)
{
  // Kernel row u reads x's rows i + u*dil_h - pad_t for i in the range.
  int lo = p->pad_t - i_last, hi = p->h - 1 + p->pad_t - i_first, d = p->dil_h;
  *u0 = lo <= 0 ? 0 : (lo + d - 1) / d;
  *u1 = hi < 0 ? 0 : hi / d + 1;
  if (*u1 > p->kh)
    *u1 = p->kh;
  if (*u1 < *u0)
    *u1 = *u0;
}

// Every segment of the image, rows of them at a time, with mo constant;
// x (cg, xh, xw) holds every window.
static inline __attribute__((always_inline)) void all_tiles(float *y, const float *x, int xw,
                                                            const float *w, const float *b,
                                                            int accumulate, const int *off,
                                                            const int *wq, const nn_conv_params *p,
                                                            const int mo)
{
  const int rows = rows_for(mo);
  int per_row = (p->ow + LANES - 1) / LANES, count = p->oh * per_row;
  ptrdiff_t out_plane = (ptrdiff_t)p->oh * p->ow;
  int per_u = p->c / p->group * p->kw; // taps of one kernel row
  tap_set t = {off, wq, per_u * p->kh, 0, 0};
  for (int first = 0; first < count; first += rows) {
    segment s[MAX_ROWS];
    for (int r = 0; r < rows; r++) {
      int g = first + r < count ? first + r : count - 1;
      int i = g / per_row, jj = g % per_row * LANES;
      s[r].x = x + (ptrdiff_t)i * xw + jj;
      s[r].y = y + (ptrdiff_t)i * p->ow + jj;
      s[r].lanes = first + r < count ? first_lanes(p->ow - jj) : 0;
    }
    int last = first + rows - 1 < count ? first + rows - 1 : count - 1, u0, u1;
    live_rows(&u0, &u1, first / per_row, last / per_row, p);
    t.first = u0 * per_u;
    t.last = u1 * per_u;
    tile(s, w, b, accumulate, &t, out_plane, mo, rows);
  }
}

// xp (cg, reach_h, copy_pitch) = x shifted by the padding, zeros around
// (and x's rows past the last window dropped), written a whole aligned
// vector at a time; columns past reach_w are never read.
static void pad_image(float *xp, const float *x, const nn_conv_params *p)
{
  enum { MAX_VECTORS = NN_CONV_PIXELS_PAD_FLOATS / LANES };
  int cg = p->c / p->group, hp = reach_h(p), wp = copy_pitch(p);
  int vectors = wp / LANES;
  // Vector jv of a copied row is x's columns jv*16 - pad_l + lane: those
  // inside x, the same lanes on every row.
  __mmask16 inside[MAX_VECTORS];
  for (int jv = 0; jv < vectors; jv++) {
    int col = jv * LANES - p->pad_l; // of lane 0
    inside[jv] = (__mmask16)(first_lanes(p->w - col) & (__mmask16)~first_lanes(-col));
  }
  // Rows of the copy above x, x's own rows, rows below x.
  int top = p->pad_t < hp ? p->pad_t : hp;
  int rows = p->h < hp - top ? p->h : hp - top;
  int bottom = hp - top - rows;
  __m512 zero = _mm512_setzero_ps();
  float *out = xp;
  for (int ci = 0; ci < cg; ci++) {
    for (int v = 0; v < top * vectors; v++, out += LANES)
      _mm512_store_ps(out, zero);
    // Lane 0 of vector jv reads x's column jv*16 - pad_l, which may lie
    // before the row (its lane is then off): addresses formed as integers.
    uintptr_t in = (uintptr_t)(x + (ptrdiff_t)ci * p->h * p->w) -
                   (uintptr_t)p->pad_l * sizeof(float);
    for (int r = 0; r < rows; r++, in += (uintptr_t)p->w * sizeof(float))
      for (int jv = 0; jv < vectors; jv++, out += LANES) {
        const float *src = (const float *)(in + (uintptr_t)jv * LANES * sizeof(float));
        _mm512_store_ps(out, _mm512_maskz_loadu_ps(inside[jv], src));
      }
    for (int v = 0; v < bottom * vectors; v++, out += LANES)
      _mm512_store_ps(out, zero);
  }
}

// The convolution of x (cg, xh, xw), which holds every window: a switch
// to all_tiles with mo constant.
static void convolve(float *y, const float *x, int xh, int xw, const float *w, const float *b,
                     int accumulate, const nn_conv_params *p)
{
  int off[NN_CONV_PIXELS_MAX_K], wq[NN_CONV_PIXELS_MAX_K];
  int cg = p->c / p->group, t = 0;
  for (int u = 0; u < p->kh; u++)
    for (int ci = 0; ci < cg; ci++)
      for (int v = 0; v < p->kw; v++, t++) {
        off[t] = ci * xh * xw + u * p->dil_h * xw + v * p->dil_w;
        wq[t] = (ci * p->kh + u) * p->kw + v;
      }
  switch (p->m / p->group) {
  case 1: all_tiles(y, x, xw, w, b, accumulate, off, wq, p, 1); break;
  case 2: all_tiles(y, x, xw, w, b, accumulate, off, wq, p, 2); break;
  case 3: all_tiles(y, x, xw, w, b, accumulate, off, wq, p, 3); break;
  case 4: all_tiles(y, x, xw, w, b, accumulate, off, wq, p, 4); break;
  case 5: all_tiles(y, x, xw, w, b, accumulate, off, wq, p, 5); break;
  case 6: all_tiles(y, x, xw, w, b, accumulate, off, wq, p, 6); break;
  case 7: all_tiles(y, x, xw, w, b, accumulate, off, wq, p, 7); break;
  default: all_tiles(y, x, xw, w, b, accumulate, off, wq, p, 8); break;
  }
}

// Out of line, so that only this path carries the copy on its stack.
static __attribute__((noinline)) void convolve_padded(float *y, const float *x,
                                                      const float *w, const float *b,
                                                      int accumulate, const nn_conv_params *p)
{
  float xp[NN_CONV_PIXELS_PAD_FLOATS] __attribute__((aligned(64)));
  pad_image(xp, x, p);
  convolve(y, xp, reach_h(p), copy_pitch(p), w, b, accumulate, p);
}

void nn_conv_pixels(float *y, const float *x, const float *w, const float *b,
                    int accumulate, const nn_conv_params *p)
{
  if (needs_copy(p))
    convolve_padded(y, x, w, b, accumulate, p);
  else
    convolve(y, x, p->h, p->w, w, b, accumulate, p);
}

#endif
