/*
 * conv_small.c - packed Conv over output rows of 5 to 7 pixels (resnet18's
 * 7x7 layers), where conv_packed.c's tiles of 14 pixels would run half
 * empty. See conv_small.h.
 *
 * Key idea: a tile is one output row by two packed blocks of output
 * channels (7 pixels by 64 channels, 28 accumulators); per tap it loads
 * four vectors of weights and broadcasts seven inputs, from a zero-padded
 * copy of a chunk of input channels on the stack. Such layers have many
 * input channels and few pixels, so a block's weights (1.2 MB for 512
 * channels of 3x3) would not stay in L2 while the rows pass over them:
 * the input channels go a chunk at a time (288 taps: a block's 72 KB of
 * them serve every row from L1 and L2), each chunk copied once for all
 * blocks, and the partial sums wait in y, in the block's place, (pixel,
 * channel) order. The last chunk's tiles add r, clamp and store turned, as
 * conv_packed.c's do, taking the partial sums from the stack. Each weight
 * is read from memory once, each input once; the next block's weights are
 * prefetched while a block runs (they come from memory in a network).
 *
 * Taps whose input row lies above or below x are left out of the tile's
 * range; columns are padded with zeros, so the loop has no test.
 *
 * Measured against the engine (im2col + 8x32 products) on this host's
 * Zen 5: 512 channels of 3x3 on 7x7, 250-260 against 195 GFLOP/s; 256 to
 * 512 channels at stride 2 from 14x14, 240-250 against 190. Rows of 4
 * and 8 ran slower than on the engine: they stay there.
 *
 * Deliberately not here: other rows (conv_packed.c and the engine), 1x1
 * kernels (a plain product: the engine), groups, dilations, the backward,
 * and builds without AVX-512: the packing does not depend on the build
 * (the compiler decides it), so there conv_packed.c's tiles take these
 * layers, within 10% of the engine either way on this host (AVX2 5 to 11%
 * slower, SSE 7% slower to 8% faster).
 */
#include "conv_small.h"

#include "vec.h"
#include "conv_turn.h"

// Floats of stack for a chunk of zero-padded input channels (32 KB).
#ifndef NN_CONV_SMALL_FLOATS
#define NN_CONV_SMALL_FLOATS 8192
#endif

enum {
  PACK = NN_CONV_PACK_WIDTH,
  SMR = 7,                 // pixels of a tile: a whole row, MIN_ROW of them at least
  MIN_ROW = 5,             // rows of 4 (tiles of 16 multiply-adds) run faster on the engine
  TILE_CH = 2 * PACK,      // output channels of a tile: packs A and B
  TAPS_PER_CHUNK = 288,    // products per input chunk: 32 channels of 3x3
  SMALL_PIXELS = 128,      // output pixels of a plane at most
  MAX_TAPS = 256,
};

int nn_conv_small_fits(const nn_conv_params *p)
{
  int row_len = (p->ow - 1) * p->stride_w + p->kw;
  return p->group == 1 && p->dil_h == 1 && p->dil_w == 1 && p->stride_w <= 2 &&
         p->m % (PACK / 2) == 0 && p->kh * p->kw <= MAX_TAPS && p->ow >= MIN_ROW && p->ow <= SMR &&
         p->oh * p->ow <= SMALL_PIXELS &&
         (long)((p->oh - 1) * p->stride_h + p->kh) * row_len <= NN_CONV_SMALL_FLOATS;
}

#if defined(NN_GEMM_AVX512)

// A chunk of input channels, padded: channel ci's row r (input row r -
// pad_t) at buf + ci*chan_stride + r*row_len, column j holding x's column
// j - pad_l.
typedef struct {
  const float *buf;
  int chan_stride, row_len;
  int channels; // of the chunk
  int taps;     // kh * kw
  int t0, t1;   // taps of the current output row: rows inside x
  int *tap_off;       // tap t of the current row reads (row0 + u)*row_len + v
  // The next block's weights, on their way to L1 while this one runs:
  // per input channel a tile prefetches `lines` lines of each pack from
  // its own part of them.
  uintptr_t pf_a, pf_b;
  int lines;
  // The clamp of the output (the activation in registers): read after
  // the products, so that gcc keeps no vector register for them.
  float lo, hi;
} chunk;

// part(mr, width) = bias or part + the tile's products (first or not),
// width = (na + nb)*VLEN; the last chunk stores them at y + j*plane + i
// instead, with r (y's layout, or NULL) added, clamped to [ck->lo,
// ck->hi]. Weights of pack A (na vectors a tap) at wa, of pack B (nb) at
// wb; inputs of pixel i at xrow + i*sw.
static NN_ALWAYS_INLINE void tile(float *part, float *y, ptrdiff_t plane, const chunk *ck,
                                  const float *xrow, const float *wa, const float *wb,
                                  const float *bias, int first, int last, const float *r,
                                  const int mr, const int na, const int nb, const int sw)
{
  enum { NVMAX = TILE_CH / VLEN };
  // Weight vectors held in registers: all, unless the accumulators, the
  // weights and the input take more than the 32 registers (7 by 4: gcc
  // would spill three accumulators, whose loads and stores cost 6%).
  const int held = mr * (na + nb) + na + nb + 1 > 32 ? na + nb - 1 : na + nb;
  vec acc[SMR][NVMAX];
  NN_UNROLL for (int i = 0; i < mr; i++)
    NN_UNROLL for (int q = 0; q < na + nb; q++)
      acc[i][q] = !first ? vload(part + i * (na + nb) * VLEN + q * VLEN)
                  : bias != NULL ? vload(bias + q * VLEN) : vzero();
  const int *tap0 = ck->tap_off + ck->t0, *tap1 = ck->tap_off + ck->t1;
  const float *xc = xrow, *wac = wa + ck->t0 * na * VLEN, *wbc = wb + ck->t0 * nb * VLEN;
  ptrdiff_t a_stride = (ptrdiff_t)ck->taps * na * VLEN, b_stride = (ptrdiff_t)ck->taps * nb * VLEN;
  uintptr_t pf_a = ck->pf_a, pf_b = ck->pf_b;
  for (int ci = 0; ci < ck->channels;
       ci++, xc += ck->chan_stride, wac += a_stride, wbc += b_stride) {
    for (int l = 0; l < ck->lines; l++, pf_a += 64, pf_b += 64) {
      _mm_prefetch((const char *)pf_a, _MM_HINT_T0);
      if (nb > 0)
        _mm_prefetch((const char *)pf_b, _MM_HINT_T0);
    }
    const float *wat = wac, *wbt = wbc;
    NN_NO_UNROLL for (const int *tap = tap0; tap < tap1;
                      tap++, wat += na * VLEN, wbt += nb * VLEN) {
      const float *xt = xc + *tap;
      vec wv[NVMAX];
      NN_UNROLL for (int q = 0; q < na; q++)
        wv[q] = vload(wat + q * VLEN);
      NN_UNROLL for (int q = 0; q < held - na; q++)
        wv[na + q] = vload(wbt + q * VLEN);
      NN_UNROLL for (int i = 0; i < mr; i++) {
        vec in = vsplat(xt[i * sw]);
        NN_UNROLL for (int q = 0; q < held; q++)
          acc[i][q] = vmuladd(in, wv[q], acc[i][q]);
        if (held < na + nb) { // the last vector, read by each pixel
          const float *w_last = wbt + (nb - 1) * VLEN;
          __asm__ __volatile__("" : "+r"(w_last)); // a new address each time: no common load
          acc[i][held] = vmuladd(in, vload(w_last), acc[i][held]);
        }
      }
    }
  }
  if (!last) {
    NN_UNROLL for (int i = 0; i < mr; i++)
      NN_UNROLL for (int q = 0; q < na + nb; q++)
        vstore(part + i * (na + nb) * VLEN + q * VLEN, acc[i][q]);
    return;
  }
  float lo = ck->lo, hi = ck->hi;
  if (r == NULL) // else after adding r
    NN_UNROLL for (int i = 0; i < mr; i++)
      NN_UNROLL for (int q = 0; q < na + nb; q++)
        acc[i][q] = vclamp(vsplat(lo), vsplat(hi), acc[i][q]);
  NN_UNROLL for (int q = 0; q < na + nb; q++) {
    vec v[LANES];
    NN_UNROLL for (int i = 0; i < LANES; i++)
      v[i] = i < mr ? acc[i][q] : vzero();
    store_turned(y + q * LANES * plane, plane, v, lanes(mr),
                 r != NULL ? r + q * LANES * plane : NULL, lo, hi);
  }
}

// tile() with constants for its pixels, its vectors of pack A and B and
// the stride (1 or 2).
static void tile_any(float *part, float *y, ptrdiff_t plane, const chunk *ck, const float *xrow,
                     const float *wa, const float *wb, const float *bias, int first, int last,
                     const float *r, int mr, int na, int nb, int sw)
{
#define NN_TILE_ARGS part, y, plane, ck, xrow, wa, wb, bias, first, last, r
#define NN_TILE_W(n, a, b)                                                                 \
  if (na == a && nb == b) {                                                                \
    if (sw == 1)                                                                           \
      tile(NN_TILE_ARGS, n, a, b, 1);                                                      \
    else                                                                                   \
      tile(NN_TILE_ARGS, n, a, b, 2);                                                      \
    return;                                                                                \
  }
#define NN_TILE(n)                                                                         \
  case n:                                                                                  \
    NN_TILE_W(n, 2, 2) NN_TILE_W(n, 2, 1) NN_TILE_W(n, 2, 0) NN_TILE_W(n, 1, 0) return;
  switch (mr) { // MIN_ROW..SMR
    NN_TILE(5) NN_TILE(6) NN_TILE(7)
  }
#undef NN_TILE
#undef NN_TILE_W
#undef NN_TILE_ARGS
}

// Copies channels c0.. (ck->channels of them) of x's input rows iy0..
// (rows of them, those inside x) into the chunk, between its padding.
static void fill_chunk(float *buf, const chunk *ck, const float *x, int c0, int iy0, int rows,
                       const nn_conv_params *p)
{
  int left = p->pad_l < ck->row_len ? p->pad_l : ck->row_len;
  int n = ck->row_len - left < p->w ? ck->row_len - left : p->w;
  int r0 = iy0 < 0 ? -iy0 : 0, r1 = p->h - iy0 < rows ? p->h - iy0 : rows;
  for (int ci = 0; ci < ck->channels; ci++)
    for (int r = r0; r < r1; r++) {
      float *dst = buf + (ptrdiff_t)ci * ck->chan_stride + r * ck->row_len + left;
      const float *src = x + ((ptrdiff_t)(c0 + ci) * p->h + iy0 + r) * p->w;
      for (int j = 0; j < n; j += LANES) // rows are short: a masked move or two
        _mm512_mask_storeu_ps(dst + j, lanes(n - j), _mm512_maskz_loadu_ps(lanes(n - j), src + j));
    }
}

// The tiles of channels o0.. (na + nb vectors: packs A and B) for the
// chunk of input channels c0..: partial sums pixel by pixel at part (tile
// width floats each), y and r at the last chunk.
static void block_of_chunk(float *y, float *part, chunk *ck, const float *wp, const float *b,
                           const float *r, int o0, int c0, int first, int last,
                           uintptr_t pf_a, const nn_conv_params *p)
{
  int taps = ck->taps, row_len = ck->row_len;
  int na = (p->m - o0 < PACK ? p->m - o0 : PACK) / VLEN;
  int nb = p->m - o0 <= PACK ? 0 : (p->m - o0 - PACK < PACK ? p->m - o0 - PACK : PACK) / VLEN;
  ptrdiff_t k = (ptrdiff_t)p->c * taps, plane = (ptrdiff_t)p->oh * p->ow;
  const float *wa = wp + o0 * k + (ptrdiff_t)c0 * taps * na * VLEN;
  const float *wb = nb > 0 ? wp + (o0 + PACK) * k + (ptrdiff_t)c0 * taps * nb * VLEN : wa;
  uintptr_t pf_b = pf_a + (uintptr_t)(PACK * k * sizeof(float));
  int width = (na + nb) * VLEN;
  for (int oy = 0; oy < p->oh; oy++) { // a tile each
    int iy = oy * p->stride_h - p->pad_t; // input row of tap row u = 0
    int u0 = iy < 0 ? -iy : 0, u1 = p->h - iy < p->kh ? p->h - iy : p->kh;
    if (u1 < u0)
      u1 = u0; // every tap row outside x: the bias alone
    for (int t = u0 * p->kw; t < u1 * p->kw; t++)
      ck->tap_off[t] = (oy * p->stride_h + t / p->kw) * row_len + t % p->kw;
    ck->t0 = u0 * p->kw, ck->t1 = u1 * p->kw;
    ptrdiff_t at = o0 * plane + (ptrdiff_t)oy * p->ow;
    uintptr_t skip = (uintptr_t)oy * ck->channels * ck->lines * 64;
    ck->pf_a = pf_a + skip, ck->pf_b = pf_b + skip;
    tile_any(part + oy * p->ow * width, y + at, plane, ck, ck->buf, wa, wb,
             b != NULL ? b + o0 : NULL, first, last, r != NULL ? r + at : NULL, p->ow, na, nb,
             p->stride_w);
  }
}

void nn_conv_small_image(float *restrict y, const float *restrict x, const float *wp,
                         const float *b, const float *r, const nn_conv_params *p)
{
  float buf[NN_CONV_SMALL_FLOATS];
  float last_part[SMALL_PIXELS * TILE_CH];
  int offs[MAX_TAPS];
  int taps = p->kh * p->kw, row_len = (p->ow - 1) * p->stride_w + p->kw;
  int rows = (p->oh - 1) * p->stride_h + p->kh, iy0 = -p->pad_t;
  ptrdiff_t k = (ptrdiff_t)p->c * taps, plane = (ptrdiff_t)p->oh * p->ow;
  float lo, hi;
  int clamped = act_as_clamp(p, &lo, &hi);
  for (int i = 0; i < NN_CONV_SMALL_FLOATS; i++)
    buf[i] = 0.0f; // the padding columns stay zero: rows are copied between them
  int per_chunk = TAPS_PER_CHUNK / taps > 0 ? TAPS_PER_CHUNK / taps : 1;
  if ((long)per_chunk * rows * row_len > NN_CONV_SMALL_FLOATS)
    per_chunk = NN_CONV_SMALL_FLOATS / (rows * row_len);
  chunk ck = {buf, rows * row_len, row_len, 0, taps, 0, 0, offs, 0, 0, 0, lo, hi};
  for (int c0 = 0; c0 < p->c; c0 += per_chunk) {
    ck.channels = p->c - c0 < per_chunk ? p->c - c0 : per_chunk;
    fill_chunk(buf, &ck, x, c0, iy0, rows, p);
    int first = c0 == 0, last = c0 + ck.channels == p->c;
    int c2 = c0 + ck.channels, next = p->c - c2 < per_chunk ? p->c - c2 : per_chunk;
    for (int o0 = 0; o0 < p->m; o0 += TILE_CH) {
      // While this block runs, the next one's weights for this chunk, or
      // (the last block) the first block's for the next chunk.
      int o2 = o0 + TILE_CH < p->m ? o0 + TILE_CH : 0, c3 = o2 > 0 ? c0 : c2;
      long slice = o2 > 0 || c2 < p->c ? (long)(o2 > 0 ? ck.channels : next) * taps * PACK : 0;
      long per_tile = (long)ck.channels * p->oh;
      ck.lines = (int)((slice * (long)sizeof(float) / 64 + per_tile - 1) / per_tile);
      // (an address only: past the last block's end when nothing is next)
      uintptr_t pf_a = (uintptr_t)wp + sizeof(float) * (uintptr_t)(o2 * k + (ptrdiff_t)c3 * taps * PACK);
      // Partial sums wait in y, in the block's place, (pixel, channel);
      // the last chunk reads them from the stack, as it stores y turned.
      float *part = y + o0 * plane;
      int width = p->m - o0 < TILE_CH ? p->m - o0 : TILE_CH;
      if (last && !first)
        for (ptrdiff_t i = 0; i < plane * width; i++)
          last_part[i] = part[i];
      block_of_chunk(y, last ? last_part : part, &ck, wp, b, r, o0, c0, first, last, pf_a, p);
    }
  }
  if (!clamped)
    nn_act_forward(y, y, (ptrdiff_t)p->m * plane, p->act, p->act_alpha, p->act_beta);
}

#endif
