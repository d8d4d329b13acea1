/*
 * depthwise_avx512.c - the depthwise forward of depthwise.c with AVX-512
 * intrinsics (nn_depthwise_rowvec_forward), for the shapes that
 * nn_depthwise_rowvec_takes accepts; built only for AVX-512 targets.
 *
 * The row-vector forward. For each plane, output row i and
 * chunk of 16 output columns [j0, j0 + 16), one vector starts at the bias
 * and takes, for each kernel row u and tap v, the 16 input values of that
 * tap times the broadcast weight. The loads are masked: lanes whose input
 * column is outside [0, w) (the zero padding) or whose output column is
 * past ow read 0 and touch no memory (so a load may start before the
 * plane or run past it: such addresses are formed as integers, shift()
 * below, so that no C pointer points outside x), so there is no padded
 * copy and no edge code, and
 * a row of any width is whole chunks and one masked last chunk. Rows of
 * the padding above and below x are loads with every lane masked. The
 * activation (none, Relu, Clip) is a clip in registers before one masked
 * store; any other goes over the plane after it.
 *  - stride 1, dilation dw: tap v reads input columns j0 + t + v*dw - pl,
 *    t < 16, one unaligned masked load;
 *  - stride 2, dilation 1: taps v and v + 1 read columns 2*(j0 + t) + v
 *    and + v + 1, the even and odd lanes of the 32 floats from column
 *    2*j0 + v - pl: two masked loads and a two-source permute each.
 *
 * A 64-byte load at any column spans two cache lines, and one vector's
 * sum is a chain of dependent operations, so the rows of a chunk are not
 * done one at a time:
 *  - a 3x3 kernel at stride 1 (any dilation) or 2 (dilation 1),
 *    rolling_3x3, goes down the input rows, loads each row's three tap
 *    vectors once, and adds each kernel row's three taps (summed apart: a
 *    short chain) to the output vectors that read that row, storing each
 *    when complete. The rows that need no row mask go in a loop of their
 *    own. With dilation d, the output rows of each phase ph < d (rows
 *    ph, ph + d, ...) read input rows d apart, and go down those;
 *  - any other kernel (block_any) takes RB output vectors side by side,
 *    kernel row by kernel row, even and odd taps in two sums.
 * In planes of BIG floats or more, the loads of a row prefetch the same
 * columns AHEAD rows further down: a chunk walks down a column of the
 * plane, which the hardware prefetchers do not follow well.
 *
 * A plane at most 8 wide at stride 1 with ow == w (the usual "same"
 * padding) puts two consecutive rows in a vector (P = 2), lanes [0, ow)
 * and [ow, 2*ow), as those rows lie one after the other in x and in y:
 * a 7x7 plane is 4 vectors of 14 lanes, not 7 of 7.
 *
 * The lane masks of a chunk are worked out once a plane, or once a call
 * when the planes are one chunk wide. The loops read what they need from
 * locals (rv_fix, rv_at), which the stores to y cannot change. Any
 * vertical stride and dilation; up to RV_KW taps a kernel row.
 */
#include "depthwise.h"

#if NN_DEPTHWISE_ROWVEC

#include "depthwise_geom.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>

#if defined(__GNUC__)
#define NN_ALWAYS_INLINE inline __attribute__((always_inline))
#define NN_NOINLINE __attribute__((noinline))
#define NN_UNROLL _Pragma("GCC unroll 16")
#else
#define NN_ALWAYS_INLINE inline
#define NN_NOINLINE
#define NN_UNROLL
#endif

// RV: lanes of a vector. RV_KW: most taps a kernel row (a mask each).
// RB: vectors side by side in block_any. AHEAD, BIG: see above.
enum { RV = 16, RV_KW = 16, RB = 4, AHEAD = 8, BIG = 128 };

// p + n floats, as an address: the masked loads that use it may start
// before x or run past it, and only their unmasked lanes are read.
static inline const float *shift(const float *p, ptrdiff_t n)
{
  return (const float *)((uintptr_t)p + (uintptr_t)(n * (ptrdiff_t)sizeof(float)));
}

// The lanes [lo, hi) of a mask of up to 32 lanes, lo and hi clipped.
static uint32_t lane_bits(int lo, int hi)
{
  lo = max_int(lo, 0);
  hi = min_int(hi, 2 * RV);
  return hi > lo ? (uint32_t)(((uint64_t)1 << hi) - ((uint64_t)1 << lo)) : 0u;
}

// The planes y (oh, ow) from x (h, w) of one call, geometry g, at the
// chunk of output columns [j0, j0 + n), P rows a vector.
typedef struct {
  const plane_geom *g;
  int rows;                           // P
  int j0;                             // the chunk
  ptrdiff_t x0;                       // x offset of lane 0 of tap (0, 0) of output row 0
  __mmask16 in_a[RV_KW], in_b[RV_KW]; // lanes of tap v (v + 16 at stride 2) inside x
  __mmask16 out;                      // lanes of output columns
  __m512i lane_row;                   // the row p < P of each lane
  __m512 lo, hi;                      // y = min(hi, max(lo, bias + taps))
} rv_plane;

// One plane: its x and y (at row 0, column 0), weights k (kh, kw), bias.
// Passed by value, so that it lives in registers.
typedef struct {
  const float *x;
  float *y;
  const float *k;
  __m512 bias;
} rv_at;

// Sets c to the chunk at column j0: at stride 1, tap v reads input
// column j0 + t + v*dw - pl in lane t of a row, at stride 2 (dilation 1)
// the pair at v reads 2*j0 + v - pl + t in lane t of 32; the lanes
// inside [0, w).
static NN_ALWAYS_INLINE void chunk_at(rv_plane *c, int j0)
{
  const plane_geom *g = c->g;
  int n = min_int(RV, g->ow - j0);
  c->j0 = j0;
  c->x0 = -(ptrdiff_t)g->pt * g->w + (ptrdiff_t)j0 * g->sw - g->pl;
  c->out = 0;
  for (int v = 0; v < g->kw; v++)
    c->in_a[v] = c->in_b[v] = 0;
  for (int p = 0; p < c->rows; p++) {
    int lane = p * n; // n == ow when P > 1
    c->out |= (__mmask16)lane_bits(lane, lane + n);
    for (int v = 0; v < g->kw; v++) {
      int col = j0 * g->sw + v * g->dw - g->pl; // input column of the row's lane 0
      int lo = lane + max_int(-col, 0), hi = lane + min_int(g->sw * n, g->w - col);
      uint32_t bits = lane_bits(lo, hi);
      c->in_a[v] |= (__mmask16)(bits & 0xffffu);
      c->in_b[v] |= (__mmask16)(bits >> RV);
    }
  }
}

// The lanes of m whose row r + p (p: the lane's row in the vector) lies
// in [0, n), n in each lane of nv.
static NN_ALWAYS_INLINE __mmask16 rows_in(__m512i lane_row, __mmask16 m, int r, __m512i nv)
{
  __m512i row = _mm512_add_epi32(_mm512_set1_epi32(r), lane_row);
  return _mm512_mask_cmplt_epu32_mask(m, row, nv);
}

// acc clipped to [lo, hi], stored at y to the lanes of out.
static NN_ALWAYS_INLINE void put(float *y, __mmask16 out, __m512 lo, __m512 hi, __m512 acc)
{
  _mm512_mask_storeu_ps(y, out, _mm512_min_ps(hi, _mm512_max_ps(lo, acc)));
}

// The tap vectors t[v], v < kw, of the input row at xr (lane 0 of tap 0),
// the lanes of in and of the tap masks a[v] (b[v]: lanes 16 to 31 at
// stride 2), others zero; at stride 2 (dilation 1) taps v and v + 1 are
// the even and odd lanes of the 32 floats from tap v. With w > 0,
// prefetches the row AHEAD rows on (w floats a row).
static NN_ALWAYS_INLINE void load_taps(const float *xr, const __mmask16 *a, const __mmask16 *b,
                                       __mmask16 in, int kw, int sw, int dw, ptrdiff_t w,
                                       __m512 *t)
{
  if (w > 0) {
    const float *ahead = shift(xr, AHEAD * w);
    _mm_prefetch((const char *)ahead, _MM_HINT_T0);
    _mm_prefetch((const char *)(ahead + RV), _MM_HINT_T0);
    if (sw == 2)
      _mm_prefetch((const char *)(ahead + 2 * RV), _MM_HINT_T0);
  }
  if (sw == 1) {
    NN_UNROLL
    for (int v = 0; v < kw; v++)
      t[v] = _mm512_maskz_loadu_ps(a[v] & in, shift(xr, v * dw));
    return;
  }
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                        2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5,
                                       3, 1);
  NN_UNROLL
  for (int v = 0; v < kw; v += 2) {
    __m512 lo = _mm512_maskz_loadu_ps(a[v] & in, shift(xr, v));
    __m512 hi = _mm512_maskz_loadu_ps(b[v] & in, shift(xr, v + RV));
    t[v] = _mm512_permutex2var_ps(lo, even, hi);
    if (v + 1 < kw)
      t[v + 1] = _mm512_permutex2var_ps(lo, odd, hi);
  }
}

// What rolling_3x3 reads in its loops, copied from rv_plane.
typedef struct {
  __mmask16 a[3], b[3], out;
  __m512i lane_row, hv, ohv; // h, oh in each lane
  __m512 lo, hi;
  ptrdiff_t w, ys, ahead; // x and y from one row (vector) to the next, prefetch (0: none)
  int dh, dw;             // dilations: rows from one row to the next, columns between taps
} rv_fix;

// The state of rolling_3x3 between steps: vectors q (a0) and q + 1 (a1)
// so far, and the next input row to load: row r of x, at xr.
typedef struct {
  __m512 a0, a1;
  int r;
  const float *xr;
} rv_roll;

// The taps of input row s->r into t, rows outside x masked when edge;
// moves s on a row.
static NN_ALWAYS_INLINE void next_row(const rv_fix *f, int stride, int edge, rv_roll *s,
                                      __m512 *t)
{
  __mmask16 in = edge ? rows_in(f->lane_row, 0xffff, s->r, f->hv) : 0xffff;
  load_taps(s->xr, f->a, f->b, in, 3, stride, f->dw, f->ahead, t);
  s->r += f->dh;
  s->xr = shift(s->xr, f->w);
}

// The three taps t of a row times kernel row u of the 3x3 weights kv.
static NN_ALWAYS_INLINE __m512 kernel_row(const __m512 *t, const __m512 *kv, int u)
{
  __m512 s = _mm512_mul_ps(t[0], kv[3 * u]);
  s = _mm512_fmadd_ps(t[1], kv[3 * u + 1], s);
  return _mm512_fmadd_ps(t[2], kv[3 * u + 2], s);
}

// Step q of rolling_3x3 (see there), y at vector q, output row i. Not
// edge: every row it loads lies inside x and every output row of vector q
// below oh.
static NN_ALWAYS_INLINE void roll(const rv_fix *f, const __m512 *kv, __m512 bias, int stride,
                                  int rows, float *y, int i, int edge, rv_roll *s)
{
  __m512 t[3];
  __mmask16 out = edge ? rows_in(f->lane_row, f->out, i, f->ohv) : f->out;
  if (stride * rows == 1) {
    next_row(f, 1, edge, s, t);
    put(y, out, f->lo, f->hi, _mm512_add_ps(s->a0, kernel_row(t, kv, 2)));
    s->a0 = _mm512_add_ps(s->a1, kernel_row(t, kv, 1));
    s->a1 = _mm512_add_ps(bias, kernel_row(t, kv, 0));
    return;
  }
  next_row(f, stride, edge, s, t);
  s->a0 = _mm512_add_ps(s->a0, kernel_row(t, kv, 1));
  next_row(f, stride, edge, s, t);
  put(y, out, f->lo, f->hi, _mm512_add_ps(s->a0, kernel_row(t, kv, 2)));
  s->a0 = _mm512_add_ps(bias, kernel_row(t, kv, 0));
}

// The current chunk of c for plane at, 3x3 weights kv, at stride sh = sw
// = stride, P = rows (constants), dilations dh, dw (1 unless stride and P
// are 1): vector q (output rows q*P to q*P + P - 1) reads input rows
// (from -pt) q*P*stride + u, u < 3. Going down the input rows, a row
// completes the vector that reads it through kernel row 2 and starts or
// continues those after it: step q loads the rows after those of step
// q - 1 and stores vector q. With P*stride == 1, row q + 2 is read by
// vectors q, q + 1 and q + 2; else rows 2q + 1 and 2q + 2 by q, and row
// 2q + 2 by q + 1 too. Steps [qa, qb) need no row masks. With dilation
// dh, the output rows ph + dh*q, for each phase ph < dh, read the input
// rows ph - pt + dh*(q + u), and go down those alike.
static NN_ALWAYS_INLINE void rolling_3x3(const rv_plane *c, rv_at at, const __m512 *kv,
                                         int stride, int rows, int dh, int dw, int qa, int qb)
{
  const plane_geom *g = c->g;
  const rv_fix f = {{c->in_a[0], c->in_a[1], c->in_a[2]}, {c->in_b[0], c->in_b[1], c->in_b[2]},
                    c->out, c->lane_row, _mm512_set1_epi32(g->h), _mm512_set1_epi32(g->oh),
                    c->lo, c->hi, (ptrdiff_t)dh * g->w, (ptrdiff_t)dh * rows * g->ow,
                    g->h * g->w >= BIG ? g->w : 0, dh, dw};
  for (int ph = 0; ph < dh; ph++) {
    int nv = dh == 1 ? (g->oh + rows - 1) / rows : (g->oh - ph + dh - 1) / dh;
    if (dh > 1) { // the steps whose row ph - pt + dh*(q + 2) lies inside x
      qa = min_int(first_at_least(0, ph - g->pt + 2 * dh, dh), nv);
      qb = max_int(qa, min_int(first_at_least(g->h, ph - g->pt + 2 * dh, dh), nv));
    }
    float *y = at.y + (ptrdiff_t)ph * g->ow + c->j0;
    __m512 t[3];
    rv_roll s = {at.bias, at.bias, ph - g->pt, shift(at.x, c->x0 + (ptrdiff_t)ph * g->w)};
    next_row(&f, stride, 1, &s, t);
    s.a0 = _mm512_add_ps(at.bias, kernel_row(t, kv, 0));
    if (stride * rows == 1) {
      next_row(&f, 1, 1, &s, t);
      s.a0 = _mm512_add_ps(s.a0, kernel_row(t, kv, 1));
      s.a1 = _mm512_add_ps(at.bias, kernel_row(t, kv, 0));
    }
    int q = 0, i = ph, di = dh * rows; // i: output row of vector q
    for (; q < qa; q++, i += di, y += f.ys)
      roll(&f, kv, at.bias, stride, rows, y, i, 1, &s);
    for (; q < qb; q++, i += di, y += f.ys)
      roll(&f, kv, at.bias, stride, rows, y, i, 0, &s);
    for (; q < nv; q++, i += di, y += f.ys)
      roll(&f, kv, at.bias, stride, rows, y, i, 1, &s);
  }
}

// The steps [*qa, *qb) of rolling_3x3 whose rows all lie inside x and
// whose output rows are below oh.
static void steady_steps(const plane_geom *g, int stride, int rows, int *qa, int *qb)
{
  int nv = (g->oh + rows - 1) / rows;
  *qa = *qb = 0;
  for (int q = 0; q < nv; q++) {
    int first = stride * rows == 1 ? q + 2 : 2 * q + 1; // rows loaded, from -pt
    int last = stride * rows == 1 ? q + 2 : 2 * q + 2 + rows - 1;
    int ok = first - g->pt >= 0 && last - g->pt < g->h && q * rows + rows <= g->oh;
    if (ok && *qb == *qa)
      *qa = q;
    if (ok)
      *qb = q + 1;
  }
}

// RB output vectors from row i of the current chunk of c for plane at, any
// shape: vector q takes kernel row u from input row
// (i + q*P)*sh + u*dh - pt (rows outside x masked unless every row of the
// block lies inside), tap by tap, each weight broadcast once for the RB
// vectors. Even and odd taps go to two sums, for twice the independent
// chains.
static NN_ALWAYS_INLINE void block_any(const rv_plane *c, rv_at at, int i)
{
  const plane_geom *g = c->g;
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                        2, 0);
  const __m512i odd = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5,
                                       3, 1);
  const __m512i hv = _mm512_set1_epi32(g->h), ohv = _mm512_set1_epi32(g->oh);
  const ptrdiff_t w = g->w, vs = (ptrdiff_t)c->rows * g->sh * w, us = (ptrdiff_t)g->dh * w;
  const int kw = g->kw, dw = g->dw, r0 = i * g->sh - g->pt;
  const int last = r0 + (RB * c->rows - 1) * g->sh + (g->kh - 1) * g->dh; // last row read
  const int inside = r0 >= 0 && last < g->h;
  const float *x0 = shift(at.x, c->x0 + (ptrdiff_t)i * g->sh * w); // vector 0, kernel row 0
  __m512 acc[RB], odds[RB];
  NN_UNROLL
  for (int q = 0; q < RB; q++) {
    acc[q] = at.bias;
    odds[q] = _mm512_setzero_ps();
  }
  for (int u = 0; u < g->kh; u++, x0 = shift(x0, us)) {
    const float *xr[RB];
    __mmask16 in[RB];
    NN_UNROLL
    for (int q = 0; q < RB; q++) {
      xr[q] = shift(x0, q * vs);
      in[q] = inside ? 0xffff
                     : rows_in(c->lane_row, 0xffff, r0 + q * c->rows * g->sh + u * g->dh, hv);
      if (g->h * w >= BIG)
        _mm_prefetch((const char *)shift(xr[q], AHEAD * w), _MM_HINT_T0);
    }
    const float *k = at.k + u * kw;
    if (g->sw == 1) {
      int v = 0;
      for (; v + 1 < kw; v += 2) {
        __m512 k0 = _mm512_set1_ps(k[v]), k1 = _mm512_set1_ps(k[v + 1]);
        NN_UNROLL
        for (int q = 0; q < RB; q++) {
          __m512 t0 = _mm512_maskz_loadu_ps(c->in_a[v] & in[q], shift(xr[q], v * dw));
          __m512 t1 = _mm512_maskz_loadu_ps(c->in_a[v + 1] & in[q], shift(xr[q], (v + 1) * dw));
          acc[q] = _mm512_fmadd_ps(t0, k0, acc[q]);
          odds[q] = _mm512_fmadd_ps(t1, k1, odds[q]);
        }
      }
      if (v < kw) {
        __m512 k0 = _mm512_set1_ps(k[v]);
        NN_UNROLL
        for (int q = 0; q < RB; q++)
          acc[q] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(c->in_a[v] & in[q], shift(xr[q], v * dw)),
                                   k0, acc[q]);
      }
      continue;
    }
    for (int v = 0; v < kw; v += 2) {
      __m512 k0 = _mm512_set1_ps(k[v]), k1 = _mm512_set1_ps(v + 1 < kw ? k[v + 1] : 0.0f);
      NN_UNROLL
      for (int q = 0; q < RB; q++) {
        __m512 lo = _mm512_maskz_loadu_ps(c->in_a[v] & in[q], shift(xr[q], v));
        __m512 hi = _mm512_maskz_loadu_ps(c->in_b[v] & in[q], shift(xr[q], v + RV));
        acc[q] = _mm512_fmadd_ps(_mm512_permutex2var_ps(lo, even, hi), k0, acc[q]);
        if (v + 1 < kw)
          odds[q] = _mm512_fmadd_ps(_mm512_permutex2var_ps(lo, odd, hi), k1, odds[q]);
      }
    }
  }
  NN_UNROLL
  for (int q = 0; q < RB; q++) {
    int iq = i + q * c->rows;
    put(at.y + (ptrdiff_t)iq * g->ow + c->j0, rows_in(c->lane_row, c->out, iq, ohv), c->lo,
        c->hi, _mm512_add_ps(acc[q], odds[q]));
  }
}

// Every plane of p (x, y, weights w, bias b or NULL; output plane o reads
// input plane o / (m / group)), c set up by rowvec_forward: for a 3x3
// kernel at stride 1 (any dilation dh, dw) or 2 (three; stride and rows
// then constants), rolling_3x3, else block_any from the top, the last
// block moved up to end at the last row (rows in two blocks are done
// twice, the same way). With one, the planes are one chunk wide, and c is
// set to it.
static NN_ALWAYS_INLINE void plane_loop(rv_plane *c, const float *x, float *y, const float *w,
                                        const float *b, const nn_conv_params *p, int three,
                                        int stride, int rows, int dh, int dw, int one)
{
  const plane_geom *g = c->g;
  int mg = p->m / p->group, mi = 0;
  int in_plane = p->h * p->w, out_plane = p->oh * p->ow, taps = p->kh * p->kw;
  int fused = p->act == NN_ACT_NONE || p->act == NN_ACT_RELU || p->act == NN_ACT_CLIP;
  int span = RB * c->rows, qa = 0, qb = 0, planes = p->n * p->m;
  if (three && dh == 1)
    steady_steps(g, stride, rows, &qa, &qb);
  const float *k = w, *bias = b, *k_end = w + (ptrdiff_t)p->m * taps;
  for (int o = 0; o < planes; o++) {
    rv_at at = {x, y, k, _mm512_set1_ps(bias != NULL ? *bias : 0.0f)};
    __m512 kv[9];
    for (int t = 0; three && t < 9; t++)
      kv[t] = _mm512_set1_ps(k[t]);
    if (one && three) {
      rolling_3x3(c, at, kv, stride, rows, dh, dw, qa, qb);
    } else {
      for (int j0 = 0; j0 < g->ow; j0 += RV) {
        if (!one)
          chunk_at(c, j0);
        if (three) {
          rolling_3x3(c, at, kv, stride, rows, dh, dw, qa, qb);
          continue;
        }
        for (int i = 0; i < g->oh; i += span)
          block_any(c, at, max_int(min_int(i, g->oh - span), 0));
      }
    }
    if (!fused)
      nn_act_forward(y, y, out_plane, p->act, p->act_alpha, p->act_beta);
    y += out_plane;
    k += taps;
    bias = bias != NULL ? bias + 1 : NULL;
    if (++mi == mg) {
      mi = 0;
      x += in_plane;
    }
    if (k == k_end) { // next image
      k = w;
      bias = b;
    }
  }
}

// plane_loop on a copy of c, for planes one chunk wide or wider.
static NN_ALWAYS_INLINE void all_planes(const rv_plane *c0, const float *x, float *y,
                                        const float *w, const float *b,
                                        const nn_conv_params *p, int three, int stride,
                                        int rows, int dh, int dw)
{
  rv_plane c = *c0;
  if (c.g->ow <= RV) {
    chunk_at(&c, 0);
    plane_loop(&c, x, y, w, b, p, three, stride, rows, dh, dw, 1);
  } else {
    plane_loop(&c, x, y, w, b, p, three, stride, rows, dh, dw, 0);
  }
}

// all_planes for a 3x3 kernel at stride 1 and dilation 1 with P = 1 and
// 2, at stride 1 dilated, at stride 2, and for any other kernel: each its
// own function, so that the compiler allocates registers for one loop
// nest at a time.
static NN_NOINLINE void planes_3x3_s1(const rv_plane *c, const float *x, float *y,
                                      const float *w, const float *b, const nn_conv_params *p)
{
  all_planes(c, x, y, w, b, p, 1, 1, 1, 1, 1);
}

static NN_NOINLINE void planes_3x3_dilated(const rv_plane *c, const float *x, float *y,
                                           const float *w, const float *b,
                                           const nn_conv_params *p)
{
  all_planes(c, x, y, w, b, p, 1, 1, 1, p->dil_h, p->dil_w);
}

static NN_NOINLINE void planes_3x3_s1_p2(const rv_plane *c, const float *x, float *y,
                                         const float *w, const float *b,
                                         const nn_conv_params *p)
{
  all_planes(c, x, y, w, b, p, 1, 1, 2, 1, 1);
}

static NN_NOINLINE void planes_3x3_s2(const rv_plane *c, const float *x, float *y,
                                      const float *w, const float *b, const nn_conv_params *p)
{
  all_planes(c, x, y, w, b, p, 1, 2, 1, 1, 1);
}

static NN_NOINLINE void planes_any(const rv_plane *c, const float *x, float *y,
                                   const float *w, const float *b, const nn_conv_params *p)
{
  all_planes(c, x, y, w, b, p, 0, c->g->sw, c->rows, 1, 1);
}

// Whether nn_depthwise_rowvec_forward takes p: stride 1 along rows (any dilation) or
// 2 (dilation 1), at most RV_KW taps a kernel row.
int nn_depthwise_rowvec_takes(const nn_conv_params *p)
{
  return (p->stride_w == 1 || (p->stride_w == 2 && p->dil_w == 1)) && p->kw <= RV_KW;
}

// nn_depthwise_forward by all_planes. None, Relu and Clip are clips (NaN
// passes max(lo, x) and min(hi, x) unchanged, as in nn_act_forward); any
// other activation goes over each plane after it.
void nn_depthwise_rowvec_forward(float *y, const float *x, const float *w, const float *b,
                                 const nn_conv_params *p)
{
  plane_geom g = forward_geom(p);
  float lo = -INFINITY, hi = INFINITY;
  if (p->act == NN_ACT_RELU)
    lo = 0.0f;
  if (p->act == NN_ACT_CLIP) {
    lo = p->act_alpha;
    hi = p->act_beta;
  }
  rv_plane c = {&g, 1, 0, 0, {0}, {0}, 0, _mm512_setzero_si512(), _mm512_set1_ps(lo),
                _mm512_set1_ps(hi)};
  if (g.sh == 1 && g.sw == 1 && g.ow == g.w && g.ow <= RV / 2) {
    c.rows = 2;
    c.lane_row = _mm512_mask_set1_epi32(c.lane_row, (__mmask16)(0xffffu << g.ow), 1);
  }
  int three = g.kh == 3 && g.kw == 3 && g.sh == g.sw;
  int undilated = g.dh == 1 && g.dw == 1;
  if (three && undilated && g.sw == 1 && c.rows == 2)
    planes_3x3_s1_p2(&c, x, y, w, b, p);
  else if (three && undilated && g.sw == 1)
    planes_3x3_s1(&c, x, y, w, b, p);
  else if (three && g.sw == 1 && c.rows == 1)
    planes_3x3_dilated(&c, x, y, w, b, p);
  else if (three && undilated)
    planes_3x3_s2(&c, x, y, w, b, p);
  else
    planes_any(&c, x, y, w, b, p);
}
#endif
