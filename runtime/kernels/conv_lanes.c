/*
 * conv_lanes.c - a convolution with few output channels (9 to 16) with the
 * channels across the lanes of one AVX-512 vector (internal; conv.c calls
 * it for unpadded stride-1 convolutions, directly or on its zero-padded
 * copy of a small image).
 *
 * Key idea: with 16 or fewer output channels the packed engine fills only
 * two strips of its 8-row micro-kernel and spends as long packing panels as
 * multiplying them (LeNet-5's second convolution). Here one vector holds
 * all output channels of one pixel, and a block of BLOCK pixels keeps
 * BLOCK such vectors in registers: per tap (ci, u, v) it loads the 16
 * weights of that tap once and multiplies them by each pixel's input,
 * broadcast straight from x. The weights are transposed first, (m, K) to
 * (K, 16) with zeros past m, into a buffer on the stack.
 *
 * Output rows of 8 to 12 pixels are a block each (LeNet-5's 10x10),
 * stored turned to (channel, pixel) in registers (conv_turn.h) when all 16
 * lanes are channels: 117 to 172 GFLOP/s on LeNet-5's second layer, which
 * the wide pixels below took at 8 a block, 36% of them dropped. Other rows
 * go by "wide" pixels, as in conv.c's is_wide(): wide pixel J = i*w + jj
 * (jj < w, not only ow) reads x[J + offset of the tap], so a block of
 * consecutive pixels reads consecutive floats through every tap, across
 * row ends. Wide pixels with jj >= ow are computed and dropped. The last
 * block ends at the last pixel, overlapping the one before it.
 *
 * Deliberately not here: other instruction sets (they keep the engine),
 * strides, padding (conv.c pads small images into a copy), and the
 * activation (conv.c applies it after, over y).
 */
#include "conv_lanes.h"

#if NN_CONV_LANES

#include "vec.h"
#include "conv_turn.h"

enum {
  BLOCK = 8,    // wide pixels in registers: BLOCK accumulators and one weight vector
  ROW_MAX = 12, // rows of 8 to 12 pixels are blocks of their own
};

int nn_conv_lanes_fits(const nn_conv_params *p)
{
  int k = p->c / p->group * p->kh * p->kw;
  int wide = (p->oh - 1) * p->w + p->ow;
  return p->group == 1 && p->m > LANES / 2 && p->m <= LANES && k <= NN_CONV_LANES_MAX_K &&
         wide >= BLOCK;
}

// acc[t] = bias + sum over taps q of wt[q] * x[t + off[q]], t < n.
static NN_ALWAYS_INLINE void block_taps(__m512 acc[ROW_MAX], const float *x, const float *wt,
                                        const int *off, int k, __m512 bias, const int n)
{
  for (int t = 0; t < n; t++)
    acc[t] = bias;
  for (int q = 0; q < k; q++) {
    __m512 wv = _mm512_loadu_ps(wt + q * LANES);
    const float *xq = x + off[q];
    for (int t = 0; t < n; t++)
      acc[t] = _mm512_fmadd_ps(_mm512_set1_ps(xq[t]), wv, acc[t]);
  }
}

// The same when the kw taps of a kernel row are adjacent in x (dilation 1
// along w): pixel t through tap v reads what pixel t + 1 reads through tap
// v - 1, so each kernel row broadcasts its n + KW - 1 inputs once instead
// of KW times. rows: kernel rows (c * kh), the first tap of row r at
// off[r * KW]. KW and n are constants at each call, so that the loops
// unroll and everything stays in registers.
static NN_ALWAYS_INLINE void block_rows(__m512 acc[ROW_MAX], const float *x, const float *wt,
                                        const int *off, int rows, __m512 bias, const int KW,
                                        const int n)
{
  for (int t = 0; t < n; t++)
    acc[t] = bias;
  for (int r = 0; r < rows; r++) {
    const float *xr = x + off[r * KW];
    const float *wr = wt + r * KW * LANES;
    __m512 xs[ROW_MAX + 7 - 1];
    for (int t = 0; t < n + KW - 1; t++)
      xs[t] = _mm512_set1_ps(xr[t]);
    for (int v = 0; v < KW; v++) {
      __m512 wv = _mm512_loadu_ps(wr + v * LANES);
      for (int t = 0; t < n; t++)
        acc[t] = _mm512_fmadd_ps(xs[t + v], wv, acc[t]);
    }
  }
}

// acc[t], t < n (BLOCK to ROW_MAX), for pixels x + t.
static void block_sums(__m512 acc[ROW_MAX], const float *x, const float *wt, const int *off,
                       const nn_conv_params *p, __m512 bias, int n)
{
  int rows = p->c * p->kh;
#define NN_SUMS(N)                                                                         \
  case N:                                                                                  \
    if (p->dil_w == 1 && p->kw == 3)                                                       \
      block_rows(acc, x, wt, off, rows, bias, 3, N);                                       \
    else if (p->dil_w == 1 && p->kw == 5)                                                  \
      block_rows(acc, x, wt, off, rows, bias, 5, N);                                       \
    else if (p->dil_w == 1 && p->kw == 7)                                                  \
      block_rows(acc, x, wt, off, rows, bias, 7, N);                                       \
    else                                                                                   \
      block_taps(acc, x, wt, off, rows * p->kw, bias, N);                                  \
    return;
  switch (n) {
    NN_SUMS(8) NN_SUMS(9) NN_SUMS(10) NN_SUMS(11) NN_SUMS(12)
  }
#undef NN_SUMS
}

void nn_conv_lanes(float *y, const float *x, const float *w, const float *b,
                   const nn_conv_params *p)
{
  int k = p->c * p->kh * p->kw, m = p->m;
  int plane = p->oh * p->ow, wide = (p->oh - 1) * p->w + p->ow;
  float wt[NN_CONV_LANES_MAX_K * LANES];
  int off[NN_CONV_LANES_MAX_K];
  // off[q]: where tap q = (ci, u, v) of wide pixel 0 reads x.
  for (int ci = 0, q = 0; ci < p->c; ci++)
    for (int u = 0; u < p->kh; u++)
      for (int v = 0; v < p->kw; v++, q++)
        off[q] = (ci * p->h + u * p->dil_h) * p->w + v * p->dil_w;
  for (int o = 0; o < m; o++)
    for (int q = 0; q < k; q++)
      wt[q * LANES + o] = w[(ptrdiff_t)o * k + q];
  for (int o = m; o < LANES; o++)
    for (int q = 0; q < k; q++)
      wt[q * LANES + o] = 0.0f;
  float bias_lanes[LANES];
  for (int o = 0; o < LANES; o++)
    bias_lanes[o] = b != NULL && o < m ? b[o] : 0.0f;
  __m512 bias = _mm512_loadu_ps(bias_lanes);
  if (p->ow >= BLOCK && p->ow <= ROW_MAX) { // a block a row: no pixel computed and dropped
    for (int i = 0; i < p->oh; i++) {
      __m512 acc[ROW_MAX], v[LANES];
      block_sums(acc, x + (ptrdiff_t)i * p->w, wt, off, p, bias, p->ow);
      for (int t = 0; t < LANES; t++)
        v[t] = t < p->ow && t < ROW_MAX ? acc[t] : _mm512_setzero_ps();
      if (m == LANES) {
        store_turned(y + (ptrdiff_t)i * p->ow, plane, v, lanes(p->ow), NULL, -INFINITY, INFINITY);
        continue;
      }
      float tile[ROW_MAX][LANES];
      for (int t = 0; t < p->ow; t++)
        _mm512_storeu_ps(tile[t], acc[t]);
      for (int o = 0; o < m; o++)
        for (int t = 0; t < p->ow; t++)
          y[(ptrdiff_t)o * plane + i * p->ow + t] = tile[t][o];
    }
    return;
  }
  for (int j0 = 0; j0 < wide; j0 += BLOCK) {
    int start = j0 + BLOCK <= wide ? j0 : wide - BLOCK; // the last block overlaps
    __m512 acc[ROW_MAX];
    block_sums(acc, x + start, wt, off, p, bias, BLOCK);
    float tile[BLOCK][LANES];
    for (int t = 0; t < BLOCK; t++)
      _mm512_storeu_ps(tile[t], acc[t]);
    int i = start / p->w, jj = start % p->w;
    for (int t = 0; t < BLOCK; t++) {
      if (jj < p->ow) {
        float *yp = y + i * p->ow + jj;
        for (int o = 0; o < m; o++)
          yp[(ptrdiff_t)o * plane] = tile[t][o];
      }
      if (++jj == p->w) {
        jj = 0;
        i++;
      }
    }
  }
}

#endif
