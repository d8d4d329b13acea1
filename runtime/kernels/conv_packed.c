/*
 * conv_packed.c - Conv with weights packed at compile time, output
 * channels across the vector lanes (nn_conv_pack_weights and
 * nn_conv_packed_forward in nn.h).
 *
 * Key idea: with its weights in blocks of NN_CONV_PACK_WIDTH (32) output
 * channels, each tap's 32 weights side by side, a convolution needs no
 * im2col gather. A tile of MR consecutive output pixels of one row and one
 * block of channels lives in vector registers (AVX-512: 14 pixels, 28
 * registers); per tap (channel, u, v) it loads the tap's 32 weights once
 * and multiplies them by each pixel's input, broadcast from memory: 28
 * multiply-adds for 16 loads, none split across cache lines. The inputs
 * come from a ring of the kh zero-padded input rows that the current
 * output row reads, per channel, on the stack: each input row is copied
 * once per pass, and the padding costs no test in the loop; rows above or
 * below the image are left out of the tap range. A tile goes to y turned
 * to (channel, pixel) order, in registers on AVX-512 (16x16 transposes).
 * Blocks are taken in groups whose weights stay in L2 while the group
 * passes over the image, its tiles prefetching the next group's weights
 * (cold in a network whose weights outgrow the caches: 7 to 8% on
 * resnet18's 14x14 layers alone). Each tile takes all the input channels
 * in one pass, its block's weights coming from L2: taking them a chunk at
 * a time (a chunk's weights serving a row's tiles from L1, their partial
 * sums waiting on the stack) was 3 to 4% slower on resnet18's 56x56 and
 * 28x28 layers in the network. A residual tensor r (the other operand of
 * an Add after the Conv) joins the tile on its way out, before the
 * activation. In a network x, y and r come cold from L3 or memory (the
 * layers before wrote them): the next row's input rows and each tile's
 * lines of y and r are prefetched ahead of use (5 to 19% on resnet18's
 * layers with them flushed; 3 to 4% on the network).
 *
 * Written once over vec.h's vector vocabulary: AVX2 and SSE run tiles of
 * 6 pixels by 16 and 8 channels (12 accumulators). Portable C builds (no
 * vector unit the runtime knows) take the engine path below.
 *
 * The compiler packs only what this path takes (nn_conv_packs()), and only
 * for x86-64 (--target x86-64); AVX-512 builds hand rows of 5 to 7 pixels
 * to conv_small.c, which suits them better; other shapes, a ring larger than
 * NN_CONV_PACKED_FLOATS in a build that lowers it, and portable builds run
 * one engine product per block with the packed weights as a strided A:
 * correct, but several times slower than nn_conv_forward (8x in a
 * portable build on an x86 host: the engine gathers its im2col panels
 * again for every few rows).
 *
 * Deliberately not here: the backward (training keeps W unpacked), groups
 * and dilations (conv.c), and threads.
 */
#include "nn.h"

#include "gemm_engine.h"
#include "im2col.h"
#include "vec.h"
#include "conv_turn.h"
#include "conv_small.h"

#include <stdint.h>

// Floats of stack for the ring of padded input rows (56 KB):
// c * kh * ((ow - 1) * stride_w + kw). resnet18's largest is 13824.
#ifndef NN_CONV_PACKED_FLOATS
#define NN_CONV_PACKED_FLOATS 14336
#endif
// Floats of packed weights that one pass over the image multiplies (384
// KB, to stay in L2): whole blocks, at least one.
#ifndef NN_CONV_PACKED_GROUP_FLOATS
#define NN_CONV_PACKED_GROUP_FLOATS 98304
#endif

// The direct path needs vector registers: portable C builds take the engine.
#if defined(NN_GEMM_PORTABLE)
#define DIRECT 0
#else
#define DIRECT 1
#endif

enum {
  PACK = NN_CONV_PACK_WIDTH,
  // A tile: MR pixels by TILE_CH channels of a block, MR*TILE_CH/VLEN
  // accumulators, TILE_CH/VLEN weights and one input in registers (32 of
  // them on AVX-512, 16 on AVX2 and SSE).
#if defined(NN_GEMM_AVX512)
  MR = 14, TILE_CH = 32,
#elif defined(NN_GEMM_AVX2)
  MR = 6, TILE_CH = 16,
#else // SSE (portable C takes the engine: see nn_conv_packed_forward)
  MR = 6, TILE_CH = 8,
#endif
  NV = TILE_CH / VLEN,
  MAX_TAPS = 256, // kh*kw: 16x16
};

// Whether the direct path takes p: what the ring and the tiles can hold.
static int direct_fits(const nn_conv_params *p)
{
  int row_len = (p->ow - 1) * p->stride_w + p->kw;
  return p->group == 1 && p->dil_h == 1 && p->dil_w == 1 && p->stride_w <= 2 &&
         p->m % (PACK / 2) == 0 && p->kh * p->kw <= MAX_TAPS &&
         (long)p->c * p->kh * row_len <= NN_CONV_PACKED_FLOATS;
}

// Packing pays where the direct path is faster than the engine on plain
// weights: kernels larger than 1x1, rows of a whole AVX-512 tile, and the
// short rows that conv_small.c takes on AVX-512 (elsewhere the direct
// path's tiles take them, within 10% of the engine: 7 pixels are half an
// AVX-512 tile here, an AVX2 tile and a half).
int nn_conv_packs(const nn_conv_params *p)
{
  return p->kh * p->kw > 1 && direct_fits(p) && (p->ow >= 14 || nn_conv_small_fits(p));
}

// Block o0 holds output channels o0.. (width min(32, m - o0)), tap-major:
// wp[o0*K + q*width + j] = w[(o0 + j)*K + q], K = c*kh*kw.
void nn_conv_pack_weights(float *wp, const float *w, const nn_conv_params *p)
{
  ptrdiff_t k = (ptrdiff_t)p->c * p->kh * p->kw;
  for (int o0 = 0; o0 < p->m; o0 += PACK) {
    int width = p->m - o0 < PACK ? p->m - o0 : PACK;
    float *block = wp + o0 * k;
    for (ptrdiff_t q = 0; q < k; q++)
      for (int j = 0; j < width; j++)
        block[q * width + j] = w[(o0 + j) * k + q];
  }
}

// One image, one block of width output channels, through the engine:
// y (width, oh*ow) = act(bias + A * im2col(x) + r), A(j, q) =
// block[q*width + j], r of y's shape or NULL.
static void block_by_engine(float *y, const float *x, const float *block, int width,
                            const float *bias, const float *r, const nn_conv_params *p)
{
  int plane = p->oh * p->ow, k = p->c * p->kh * p->kw;
  for (int j = 0; j < width; j++)
    nn_fill(y + (ptrdiff_t)j * plane, bias != NULL ? bias[j] : 0.0f, plane);
  nn_conv_image im = {x, NULL, p};
  nn_gemm_engine(y, plane, NULL, block, 1, width, 1.0f, nn_pack_im2col, &im, width, plane, k);
  for (ptrdiff_t i = 0; r != NULL && i < (ptrdiff_t)width * plane; i++)
    y[i] += r[i];
  nn_act_forward(y, y, (ptrdiff_t)width * plane, p->act, p->act_alpha, p->act_beta);
}

#if DIRECT

// The ring: for each channel, kh zero-padded input rows of row_len
// floats, input row iy in slot iy % kh, padded column j holding x's
// column j - pad_l. A tile reads tap (u, v) of channel ci for pixel r at
// rows + ci*chan_stride + tap_off[t] + (ox0 + r)*sw, t = u*kw + v.
// The input rows that the next output row copies into the ring, a few
// cache lines at a time: `rows` rows of `bytes` bytes, `stride` bytes
// apart from `first`; row `row`, line `line` next. (Zen's prefetches all
// fill L1, so these go out during the row's last block, close to use.)
typedef struct {
  const char *first;
  ptrdiff_t stride;
  int rows, bytes, row, line;
} ahead_rows;

typedef struct {
  const float *rows;   // the ring
  int chan_stride;     // kh * row_len
  int sw;              // stride_w
  int t0, t1;          // taps of this output row: rows inside x
  const int *tap_off;  // tap t reads slot(iy)*row_len + v
  int c, taps;
  // The next group's weights, on their way to L2 (on Zen, L1 too) while
  // this group runs: each tile prefetches two lines per input channel.
  const char *pf, *pf_end;
  // The next output row's new input rows (cold in a network: the layer
  // before wrote them), per_channel lines per input channel of a tile.
  ahead_rows ahead;
  int per_channel;
} band;

// Prefetches the next n lines of the rows ahead.
static void prefetch_ahead(ahead_rows *a, int n)
{
  for (; n > 0 && a->row < a->rows; n--) {
    const char *at = a->first + a->row * a->stride;
    int skew = (int)((uintptr_t)at & 63); // the row's offset in its first line
    _mm_prefetch(at + (a->line == 0 ? 0 : 64 * a->line - skew), _MM_HINT_T0);
    if (64 * ++a->line >= skew + a->bytes)
      a->line = 0, a->row++;
  }
}

// Prefetches the lines of y that a tile of `channels` channels and mr
// pixels at y will store, for writing, and those of r (NULL: none) that it
// will add: in a network they come cold, and a store that misses holds up
// the ones behind it.
static void prefetch_tile_out(const float *y, const float *r, ptrdiff_t plane, int channels,
                              int mr)
{
  for (int j = 0; j < channels; j++) {
    const float *yj = y + j * plane;
    _mm_prefetch((const char *)yj, _MM_HINT_ET0);
    _mm_prefetch((const char *)(yj + mr - 1), _MM_HINT_ET0);
    if (r != NULL) {
      _mm_prefetch((const char *)(r + j * plane), _MM_HINT_T0);
      _mm_prefetch((const char *)(r + j * plane + mr - 1), _MM_HINT_T0);
    }
  }
}

// y(nv*VLEN, mr) at y + j*plane + r = clamp(bias + products) for pixels
// ox0.. of the current output row and the channels of the block at
// `block` (rows of width floats per tap), the tile in registers from the
// first product to the store; plus r (y's layout, or NULL) before the
// clamp.
static NN_ALWAYS_INLINE void tile(float *y, ptrdiff_t plane, const band *bd,
                                  const float *block, int ox0, const float *bias,
                                  const float *r, float lo, float hi,
                                  const int mr, const int width, const int sw)
{
  enum { NVMAX = NV };
  const int nv = (width < TILE_CH ? width : TILE_CH) / VLEN;
  vec acc[MR][NVMAX];
  NN_UNROLL for (int i = 0; i < mr; i++)
    NN_UNROLL for (int q = 0; q < nv; q++)
      acc[i][q] = bias != NULL ? vload(bias + q * VLEN) : vzero();
  // Pointers that step, so that the loops keep few integers live: gcc
  // otherwise parks one in a vector register and spills an accumulator.
  const float *xc = bd->rows + (ptrdiff_t)ox0 * sw, *wc = block + bd->t0 * width;
  const int *tap0 = bd->tap_off + bd->t0, *tap1 = bd->tap_off + bd->t1;
  const char *pf = bd->pf;
  ptrdiff_t w_stride = (ptrdiff_t)bd->taps * width;
  for (int ci = 0; ci < bd->c; ci++, xc += bd->chan_stride, wc += w_stride) {
    if (pf != NULL) {
      _mm_prefetch(pf, _MM_HINT_T1);
      _mm_prefetch(pf + 64, _MM_HINT_T1);
      pf += 128;
    }
    const float *wt = wc;
    NN_NO_UNROLL for (const int *tap = tap0; tap < tap1; tap++, wt += width) {
      const float *xt = xc + *tap;
      vec wv[NVMAX];
      NN_UNROLL for (int q = 0; q < nv; q++)
        wv[q] = vload(wt + q * VLEN);
      NN_UNROLL for (int i = 0; i < mr; i++) {
        vec in = vsplat(xt[i * sw]);
        NN_UNROLL for (int q = 0; q < nv; q++)
          acc[i][q] = vmuladd(in, wv[q], acc[i][q]);
      }
    }
  }
  if (r == NULL) // else after adding r
    NN_UNROLL for (int i = 0; i < mr; i++)
      NN_UNROLL for (int q = 0; q < nv; q++)
        acc[i][q] = vclamp(vsplat(lo), vsplat(hi), acc[i][q]);
#if defined(NN_GEMM_AVX512)
  NN_UNROLL for (int q = 0; q < nv; q++) {
    vec v[LANES];
    NN_UNROLL for (int i = 0; i < LANES; i++)
      v[i] = i < mr ? acc[i][q] : vzero();
    store_turned(y + q * LANES * plane, plane, v, (__mmask16)((1u << mr) - 1),
                 r != NULL ? r + q * LANES * plane : NULL, lo, hi);
  }
#else
  float out[MR][TILE_CH];
  NN_UNROLL for (int i = 0; i < mr; i++)
    NN_UNROLL for (int q = 0; q < nv; q++)
      vstore(out[i] + q * VLEN, acc[i][q]);
  for (int j = 0; j < nv * VLEN; j++)
    for (int i = 0; i < mr; i++) {
      float v = out[i][j];
      if (r != NULL) { // clamp as vclamp: NaN stays
        v += r[j * plane + i];
        v = lo > v ? lo : v;
        v = hi < v ? hi : v;
      }
      y[j * plane + i] = v;
    }
#endif
}

// tile() with constants for its pixels, the block's width (32 or 16) and
// the stride (1 or 2).
static void tile_any(float *y, ptrdiff_t plane, const band *bd, const float *block, int ox0,
                     const float *bias, const float *r, float lo, float hi, int mr,
                     int width)
{
#define NN_TILE_ARGS y, plane, bd, block, ox0, bias, r, lo, hi
  // Cases past MR (AVX2, SSE) never run; their pixels are clamped to MR
  // all the same, so that no tile is compiled with more accumulators.
#define NN_TILE(n)                                                                         \
  case n:                                                                                  \
    if (n > MR)                                                                            \
      return;                                                                              \
    if (width == PACK && bd->sw == 1)                                                      \
      tile(NN_TILE_ARGS, n < MR ? n : MR, PACK, 1);                                        \
    else if (width == PACK)                                                                \
      tile(NN_TILE_ARGS, n < MR ? n : MR, PACK, 2);                                        \
    else if (bd->sw == 1)                                                                  \
      tile(NN_TILE_ARGS, n < MR ? n : MR, PACK / 2, 1);                                    \
    else                                                                                   \
      tile(NN_TILE_ARGS, n < MR ? n : MR, PACK / 2, 2);                                    \
    return;
  switch (mr) {
    NN_TILE(1) NN_TILE(2) NN_TILE(3) NN_TILE(4) NN_TILE(5) NN_TILE(6) NN_TILE(7)
    NN_TILE(8) NN_TILE(9) NN_TILE(10) NN_TILE(11) NN_TILE(12) NN_TILE(13) NN_TILE(14)
  }
#undef NN_TILE
#undef NN_TILE_ARGS
}

// Copies input row iy of every channel into its ring slot, between the
// slot's padding (zeros that the ring got once: see blocks_direct).
static void fill_slot(float *ring, int row_len, const float *x, int iy, const nn_conv_params *p)
{
  int left = p->pad_l < row_len ? p->pad_l : row_len;
  int n = row_len - left < p->w ? row_len - left : p->w;
  for (int ci = 0; ci < p->c; ci++) {
    float *dst = ring + ((ptrdiff_t)ci * p->kh + iy % p->kh) * row_len;
    const float *src = x + ((ptrdiff_t)ci * p->h + iy) * p->w;
#if defined(NN_GEMM_AVX512)
    // A few masked moves per row (rows are short, and there are c of them).
    for (int j = 0; j < n; j += 16) {
      __mmask16 m = lanes(n - j);
      _mm512_mask_storeu_ps(dst + left + j, m, _mm512_maskz_loadu_ps(m, src + j));
    }
#else
    for (int j = 0; j < n; j++)
      dst[left + j] = src[j];
#endif
  }
}

// Output channels o0.. (width of them, 16 or 32) of output row oy, tile
// by tile, over the ring as bd leaves it; clamped to [lo, hi].
static void row_of_block(float *y, band *bd, const float *block, int o0, int width,
                         const float *b, const float *r, float lo, float hi, int oy,
                         int last_block, const nn_conv_params *p)
{
  ptrdiff_t plane = (ptrdiff_t)p->oh * p->ow, at = o0 * plane + (ptrdiff_t)oy * p->ow;
  float *yrow = y + at;
  const float *rrow = r != NULL ? r + at : NULL;
  int tiles = (p->ow + MR - 1) / MR;
  long step = 128L * p->c; // a tile's part of the next group's weights
  for (int c = 0; c < width; c += TILE_CH)
    for (int i = 0; i < tiles; i++) {
      // Tiles of equal width (to one pixel): 28 pixels are two of 14.
      int ox0 = (int)((long)p->ow * i / tiles), ox1 = (int)((long)p->ow * (i + 1) / tiles);
      if (last_block)
        prefetch_ahead(&bd->ahead, bd->per_channel * p->c);
      prefetch_tile_out(yrow + c * plane + ox0, rrow != NULL ? rrow + c * plane + ox0 : NULL,
                        plane, width - c < TILE_CH ? width - c : TILE_CH, ox1 - ox0);
      tile_any(yrow + c * plane + ox0, plane, bd, block + c, ox0, b != NULL ? b + o0 + c : NULL,
               rrow != NULL ? rrow + c * plane + ox0 : NULL, lo, hi, ox1 - ox0, width);
      if (bd->pf != NULL)
        bd->pf = bd->pf_end - bd->pf >= 2 * step ? bd->pf + step : NULL;
    }
}

// Sets bd's rows ahead to the input rows from `next` on that output row
// oy will read (for the first group only: later ones find them in L2),
// spread over the tiles of the current row's last block.
static void plan_ahead(band *bd, int o0, const float *x, int oy, int next,
                       const nn_conv_params *p)
{
  int iy0 = oy * p->stride_h - p->pad_t, iy1 = p->h - iy0 < p->kh ? p->h : iy0 + p->kh;
  int first = next > iy0 ? next : iy0 > 0 ? iy0 : 0;
  int rows = o0 == 0 && oy < p->oh && iy1 > first ? iy1 - first : 0;
  ahead_rows a = {(const char *)(x + (ptrdiff_t)(rows > 0 ? first : 0) * p->w),
                  (ptrdiff_t)sizeof(float) * p->h * p->w, rows > 0 ? p->c : 0,
                  (int)sizeof(float) * rows * p->w, 0, 0};
  long lines = (long)a.rows * (a.bytes / 64 + 2), channels = (long)p->c * ((p->ow + MR - 1) / MR);
  bd->ahead = a, bd->per_channel = (int)((lines + channels - 1) / channels);
}

// One image, output channels o0..o1 (whole blocks), row by row: each
// input row is copied into the ring once for all of them; meanwhile the
// tiles prefetch pf_floats weights from pf (NULL: none) into L2. Out of
// line, so that only this path carries the ring on its stack.
static NN_NOINLINE void blocks_direct(float *y, const float *x, const float *wp,
                                      const float *b, const float *r, int o0, int o1,
                                      const float *pf, long pf_floats, int row_len,
                                      const nn_conv_params *p)
{
  float ring[NN_CONV_PACKED_FLOATS];
  int offs[MAX_TAPS];
  int k = p->c * p->kh * p->kw;
  band bd = {ring, p->kh * row_len, p->stride_w, 0, 0, offs, p->c, p->kh * p->kw,
             pf != NULL && pf_floats * (long)sizeof(float) >= 128L * p->c ? (const char *)pf
                                                                          : NULL,
             pf != NULL ? (const char *)(pf + pf_floats) : NULL,
             {NULL, 0, 0, 0, 0, 0}, 0};
  float lo, hi;
  act_as_clamp(p, &lo, &hi); // other activations: image_direct, after
  // Every slot's padding columns stay zero: rows are copied between them.
  for (long i = 0; i < (long)p->c * p->kh * row_len; i++)
    ring[i] = 0.0f;
  int next = 0; // first input row not in the ring yet
  for (int oy = 0; oy < p->oh; oy++) {
    int iy0 = oy * p->stride_h - p->pad_t; // input row of tap row u = 0
    int u0 = iy0 < 0 ? -iy0 : 0, u1 = p->h - iy0 < p->kh ? p->h - iy0 : p->kh;
    if (u1 <= u0) { // every tap row outside x: y is the bias alone
      bd.t0 = bd.t1 = 0;
    } else {
      if (next < iy0 + u0)
        next = iy0 + u0;
      for (; next < iy0 + u1; next++)
        fill_slot(ring, row_len, x, next, p);
      for (int t = u0 * p->kw; t < u1 * p->kw; t++)
        offs[t] = (iy0 + t / p->kw) % p->kh * row_len + t % p->kw;
      bd.t0 = u0 * p->kw, bd.t1 = u1 * p->kw;
    }
    plan_ahead(&bd, o0, x, oy + 1, next, p);
    for (int c0 = o0; c0 < o1; c0 += PACK)
      row_of_block(y, &bd, wp + (ptrdiff_t)c0 * k, c0, p->m - c0 < PACK ? p->m - c0 : PACK, b,
                   r, lo, hi, oy, c0 + PACK >= o1, p);
  }
}

// One image, the blocks a group at a time; each group prefetches the next
// one's weights, the last group the first `then_floats` of `then` (the
// weights the next image or layer starts with).
static void image_direct(float *y, const float *x, const float *wp, const float *b,
                         const float *r, const float *then, long then_floats, int row_len,
                         const nn_conv_params *p)
{
  long k = (long)p->c * p->kh * p->kw;
  int per_group = (int)(NN_CONV_PACKED_GROUP_FLOATS / (PACK * k));
  int step = (per_group > 1 ? per_group : 1) * PACK;
  for (int o0 = 0; o0 < p->m; o0 += step) {
    int o1 = p->m - o0 < step ? p->m : o0 + step, o2 = p->m - o1 < step ? p->m : o1 + step;
    if (o1 < p->m)
      blocks_direct(y, x, wp, b, r, o0, o1, wp + o1 * k, (o2 - o1) * k, row_len, p);
    else
      blocks_direct(y, x, wp, b, r, o0, o1, then, then_floats, row_len, p);
  }
  float lo, hi;
  if (!act_as_clamp(p, &lo, &hi))
    nn_act_forward(y, y, (ptrdiff_t)p->m * p->oh * p->ow, p->act, p->act_alpha, p->act_beta);
}

#endif

void nn_conv_packed_forward(float *restrict y, const float *restrict x, const float *wp,
                            const float *b, const float *r, const float *next,
                            long next_floats, const nn_conv_params *p)
{
  ptrdiff_t k = (ptrdiff_t)p->c * p->kh * p->kw, plane = (ptrdiff_t)p->oh * p->ow;
  ptrdiff_t in_image = (ptrdiff_t)p->c * p->h * p->w, out_image = p->m * plane;
#if DIRECT
  int direct = direct_fits(p), row_len = (p->ow - 1) * p->stride_w + p->kw;
#else
  (void)next, (void)next_floats; // the engine path prefetches nothing
#endif
  for (int img = 0; img < p->n; img++) {
#if defined(NN_GEMM_AVX512)
    if (nn_conv_small_fits(p)) {
      nn_conv_small_image(y + img * out_image, x + img * in_image, wp, b,
                          r != NULL ? r + img * out_image : NULL, p);
      continue;
    }
#endif
#if DIRECT
    if (direct) {
      // The next image starts with this one's first blocks, the last image
      // hands over to the next layer.
      int last = img == p->n - 1;
      long then = last ? next_floats : p->m * k;
      if (then > NN_CONV_PACKED_GROUP_FLOATS)
        then = NN_CONV_PACKED_GROUP_FLOATS;
      image_direct(y + img * out_image, x + img * in_image, wp, b,
                   r != NULL ? r + img * out_image : NULL, last ? next : wp, then, row_len, p);
      continue;
    }
#endif
    for (int o0 = 0; o0 < p->m; o0 += PACK)
      block_by_engine(y + img * out_image + o0 * plane, x + img * in_image, wp + o0 * k,
                      p->m - o0 < PACK ? p->m - o0 : PACK, b != NULL ? b + o0 : NULL,
                      r != NULL ? r + img * out_image + o0 * plane : NULL, p);
  }
}
