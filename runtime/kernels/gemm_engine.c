/*
 * gemm_engine.c - the blocked, packed matrix product behind Gemm, MatMul
 * and Conv: y(m, n) += alpha * A(m, k) * B(k, n). See gemm_engine.h.
 *
 * Key idea, as in BLIS: per block of NN_MC rows and NN_KC products of A
 * (which stays in L2), B is packed one NN_KC x NN_NR panel at a time by
 * the caller's function, and the panel stays in L1 while every MR-row
 * strip of the block passes over it. A is read in place, one pointer per
 * row (copied a block at a time only when its rows are not contiguous).
 * The micro-kernel holds an MR x NR block of y in vector registers for the
 * whole panel: per product step it loads NR/VLEN vectors of B, broadcasts
 * MR values of A and issues MR*NR/VLEN multiply-adds, enough independent
 * accumulators to keep both FMA units busy. A whole tile of a dense y
 * starts from y (or the bias) and is stored straight back, clamped when
 * the fused activation is none, ReLU or Clip; edge tiles (fewer than MR
 * rows or NR columns), other activations and unpack callbacks go through
 * a tile buffer on the stack, on zero-padded panels, and only the store is
 * cut to size; a last panel of at most half the tile's columns computes
 * only that half, and up to an eighth of them (alone, or past that half)
 * are dot products. The micro-kernel prefetches the next lines of its A
 * rows, and the packing the rows of B a few panels ahead: big layers
 * stream both from memory along more streams than the hardware
 * prefetchers follow.
 *
 * The micro-kernel is written once over a small vector vocabulary (vec,
 * vload, vsplat, vmuladd, ...) defined per instruction set in vec.h; the
 * portable C version is the same loops over floats.
 *
 * Deliberately not here: threads, heap buffers (the panels are on the stack,
 * sized by gemm_engine.h), and run-time CPU dispatch: the instruction set
 * is the one the runtime is compiled for.
 */
#include "gemm_engine.h"
#include "vec.h"

#include <math.h>

enum { NV = NN_NR / VLEN }; // vectors per tile row

// c(MR, NR) = init + A(MR, kc) * B(kc, NR), c rows ldc apart, with
// A(r, p) = a[r][p]: one pointer per row, so that rows past the end of A
// can repeat the last one (their results are never stored). Row p of B is
// at b + boff[p], or, when boff is NULL, at b + p*NN_NR (a packed panel).
// init is c's old value (load_c), else bias[r] (0 when bias is NULL). With
// clamp, the sums are clamped to [lo, hi] before they are stored (a NaN
// stays NaN, as in nn_act_forward). Only the first mr rows and nv vectors
// of each row are computed (NN_MR and NV, or fewer for a last strip or
// panel that is short or narrow). Every caller
// passes constants for what it does not use, so each compiles to its own
// loads.
static NN_ALWAYS_INLINE void multiply_tile(float *restrict c_out, ptrdiff_t ldc, int load_c,
                                           const float *bias, int clamp, float lo, float hi,
                                           const float *const a[NN_MR],
                                           const float *restrict b, const int *boff, int kc,
                                           const int mr, const int nv)
{
  vec c[NN_MR][NV];
  NN_UNROLL for (int r = 0; r < mr; r++)
    NN_UNROLL for (int q = 0; q < nv; q++)
      c[r][q] = load_c ? vload(c_out + r * ldc + q * VLEN)
                       : vsplat(bias != NULL ? bias[r] : 0.0f);
  for (int p = 0; p < kc; p++) {
#if defined(__GNUC__)
    // Weights too big for the caches stream in from memory, eight rows at
    // once: fetch each row's next lines ahead of time (a line = 16 floats).
    if ((p & 15) == 0)
      NN_UNROLL for (int r = 0; r < mr; r++)
        __builtin_prefetch(a[r] + p + 64);
#endif
    const float *br = boff != NULL ? b + boff[p] : b + p * NN_NR;
    vec bv[NV];
    NN_UNROLL for (int q = 0; q < nv; q++)
      bv[q] = vload(br + q * VLEN);
    NN_UNROLL for (int r = 0; r < mr; r++) {
      vec ar = vsplat(a[r][p]);
      NN_UNROLL for (int q = 0; q < nv; q++)
        c[r][q] = vmuladd(ar, bv[q], c[r][q]);
    }
  }
  if (clamp)
    NN_UNROLL for (int r = 0; r < mr; r++)
      NN_UNROLL for (int q = 0; q < nv; q++)
        c[r][q] = vclamp(vsplat(lo), vsplat(hi), c[r][q]);
  NN_UNROLL for (int r = 0; r < mr; r++)
    NN_UNROLL for (int q = 0; q < nv; q++)
      vstore(c_out + r * ldc + q * VLEN, c[r][q]);
}

// tile(MR, NR) = A * B, tile rows NN_NR apart.
static void micro_kernel(float *restrict tile, const float *const a[NN_MR],
                         const float *restrict bp, int kc)
{
  multiply_tile(tile, NN_NR, 0, NULL, 0, 0.0f, 0.0f, a, bp, NULL, kc, NN_MR, NV);
}

// The first NV/2 vectors of each tile row (the rest of the tile is not
// written), for a last panel of at most NARROW columns: half the work.
enum { HALF = NV > 1 ? NV / 2 : 1, NARROW = NV > 1 ? HALF * VLEN : 0 };

static void micro_kernel_narrow(float *restrict tile, const float *const a[NN_MR],
                                const float *restrict bp, int kc)
{
  multiply_tile(tile, NN_NR, 0, NULL, 0, 0.0f, 0.0f, a, bp, NULL, kc, NN_MR, HALF);
}

// Columns c0 .. c0 + count - 1 of tile(MR, NR) = A * B by dot products
// with cols[c] (that column of the packed panel, gathered once per panel by
// gather_tail()), for a last panel of at most TAIL columns (a 14x14
// plane's 196 pixels are 6 panels and 4), or of at most TAIL columns more
// than NARROW (a 7x7 plane's 49: a whole panel, 16 columns and 1), where
// the micro-kernels would compute 16 or 32 columns for a few. A column
// costs as many multiply-adds as in the micro-kernel, plus its gathering
// and a sum across lanes per row.
enum { TAIL = NN_NR / 8 > 0 ? NN_NR / 8 : 1 };

static void gather_tail(float cols[TAIL][NN_KC], const float *restrict bp, int kc, int c0,
                        int count)
{
  for (int c = 0; c < count; c++)
    NN_UNROLL8 for (int p = 0; p < kc; p++)
      cols[c][p] = bp[p * NN_NR + c0 + c];
}

static void tail_columns(float *restrict tile, const float *const a[NN_MR],
                         float cols[TAIL][NN_KC], int kc, int c0, int count)
{
  for (int c = 0; c < count; c++) {
    const float *col = cols[c];
    // One independent chain of multiply-adds per row, VLEN products a step.
    vec part[NN_MR];
    NN_UNROLL for (int r = 0; r < NN_MR; r++)
      part[r] = vzero();
    int p = 0;
    for (; p + VLEN <= kc; p += VLEN) {
      vec cv = vload(col + p);
      NN_UNROLL for (int r = 0; r < NN_MR; r++)
        part[r] = vmuladd(vload(a[r] + p), cv, part[r]);
    }
    for (int r = 0; r < NN_MR; r++) {
      float sum = vsum(part[r]);
      for (int q = p; q < kc; q++)
        sum += a[r][q] * col[q];
      tile[r * NN_NR + c0 + c] = sum;
    }
  }
}

// B read in place: row p at b + boff[p], NN_NR contiguous floats.
static void micro_kernel_in_place(float *restrict tile, const float *const a[NN_MR],
                                  const float *restrict b, const int *boff, int kc)
{
  multiply_tile(tile, NN_NR, 0, NULL, 0, 0.0f, 0.0f, a, b, boff, kc, NN_MR, NV);
}

// The first SHORT rows only (the rest of the tile is not written), for a
// last strip of at most SHORT rows: a quarter less work (6 of 8 output
// channels in LeNet-5's first layer).
enum { SHORT = NN_MR - NN_MR / 4 };

static void micro_kernel_short(float *restrict tile, const float *const a[NN_MR],
                               const float *restrict bp, int kc)
{
  multiply_tile(tile, NN_NR, 0, NULL, 0, 0.0f, 0.0f, a, bp, NULL, kc, SHORT, NV);
}

static void micro_kernel_short_in_place(float *restrict tile, const float *const a[NN_MR],
                                        const float *restrict b, const int *boff, int kc)
{
  multiply_tile(tile, NN_NR, 0, NULL, 0, 0.0f, 0.0f, a, b, boff, kc, SHORT, NV);
}

// A whole tile of y, computed in registers and stored there directly: y =
// clamp(init + A * B) (see multiply_tile), B packed or in place.
static void micro_kernel_y(float *restrict y, ptrdiff_t ldy, int load_y, const float *bias,
                           int clamp, float lo, float hi, const float *const a[NN_MR],
                           const float *restrict bp, int kc)
{
  multiply_tile(y, ldy, load_y, bias, clamp, lo, hi, a, bp, NULL, kc, NN_MR, NV);
}

static void micro_kernel_y_in_place(float *restrict y, ptrdiff_t ldy, int load_y,
                                    const float *bias, int clamp, float lo, float hi,
                                    const float *const a[NN_MR], const float *restrict b,
                                    const int *boff, int kc)
{
  multiply_tile(y, ldy, load_y, bias, clamp, lo, hi, a, b, boff, kc, NN_MR, NV);
}

// Whether the activation of ep is a clamp to [lo, hi] (none, ReLU, Clip),
// which the micro-kernel applies in registers.
static int clamp_of(const nn_gemm_epilogue *ep, float *lo, float *hi)
{
  switch (ep->act) {
  case NN_ACT_NONE:
    *lo = -INFINITY;
    *hi = INFINITY;
    return 1;
  case NN_ACT_RELU:
    *lo = 0.0f;
    *hi = INFINITY;
    return 1;
  case NN_ACT_CLIP:
    *lo = ep->act_alpha;
    *hi = ep->act_beta;
    return 1;
  default:
    return 0;
  }
}

void nn_pack_strided(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const nn_strided *s = b_src;
  const float *b = s->b + (ptrdiff_t)k0 * s->rs + (ptrdiff_t)j0 * s->cs;
  for (int p = 0; p < kc; p++) {
    const float *br = b + (ptrdiff_t)p * s->rs;
    float *out = bp + p * NN_NR;
    int c = 0;
#if defined(__GNUC__)
    // Rows of B far apart (a plane each for 1x1 convolutions): too many
    // streams for the hardware prefetchers. Ask for the row's panel four on.
    __builtin_prefetch(br + 4 * NN_NR);
    __builtin_prefetch(br + 4 * NN_NR + 16);
#endif
    if (s->cs == 1)
      for (; c < nr; c++)
        out[c] = br[c];
    else
      for (; c < nr; c++)
        out[c] = br[(ptrdiff_t)c * s->cs];
    for (; c < NN_NR; c++)
      out[c] = 0.0f;
  }
}

// y(mr, nr) += alpha * tile(mr, nr); y rows ldy apart, tile rows NN_NR
// apart. With an epilogue, the first panel of k replaces y by bias + tile
// and the last applies the activation.
static void add_tile(float *restrict y, int ldy, float *restrict tile, int mr, int nr,
                     float alpha, const nn_gemm_epilogue *ep, int i0, int first, int last)
{
  if (alpha != 1.0f)
    for (int c = 0; c < NN_MR * NN_NR; c++)
      tile[c] *= alpha;
  if (ep != NULL && first) {
    // The tile is all of y's value: finish it in place, then store it.
    for (int r = 0; r < mr; r++) {
      float b = ep->bias != NULL ? ep->bias[i0 + r] : 0.0f;
      for (int c = 0; c < NN_NR; c++)
        tile[r * NN_NR + c] += b;
    }
    if (last)
      nn_act_forward(tile, tile, NN_MR * NN_NR, ep->act, ep->act_alpha, ep->act_beta);
    for (int r = 0; r < mr; r++)
      for (int c = 0; c < nr; c++)
        y[(ptrdiff_t)r * ldy + c] = tile[r * NN_NR + c];
    return;
  }
  if (mr == NN_MR && nr == NN_NR) {
    for (int r = 0; r < NN_MR; r++)
      for (int c = 0; c < NN_NR; c++)
        y[(ptrdiff_t)r * ldy + c] += tile[r * NN_NR + c];
  } else {
    for (int r = 0; r < mr; r++)
      for (int c = 0; c < nr; c++)
        y[(ptrdiff_t)r * ldy + c] += tile[r * NN_NR + c];
  }
  if (ep != NULL && last)
    for (int r = 0; r < mr; r++)
      nn_act_forward(y + (ptrdiff_t)r * ldy, y + (ptrdiff_t)r * ldy, nr, ep->act,
                     ep->act_alpha, ep->act_beta);
}

// ap(mc, kc) = A(i0.., k0..) row-major, for an A whose rows are not
// contiguous (a_cs != 1): the micro-kernel then reads it like any other.
static void pack_a(float *restrict ap, const float *a, int a_rs, int a_cs, int mc, int kc)
{
  for (int p = 0; p < kc; p++)
    for (int r = 0; r < mc; r++)
      ap[r * kc + p] = a[(ptrdiff_t)r * a_rs + (ptrdiff_t)p * a_cs];
}

// Where the panels of B come from: pack() writes any panel; when row_off
// is not NULL, whole panels are instead read in place, row p of the panel
// at b + row_off[p] + j0.
typedef struct {
  nn_pack_fn *pack;
  const void *src;
  const float *b;
  const int *row_off;
} b_panels;

// The products of one block of A (rows i0.., products k0..): every panel
// of B times every MR-row strip of the block. Row r of the block, from
// product k0 on, is at arows[r] + k0 or, when arows is NULL, at
// ablock + r*lda; rows are contiguous along k.
static NN_ALWAYS_INLINE void multiply_block(void *y, int ldy, nn_unpack_fn *unpack,
                           const nn_gemm_epilogue *ep, const float *const *arows,
                           const float *ablock, ptrdiff_t lda, float alpha, const b_panels *bs,
                           int i0, int mc, int k0, int kc, int k, int n, float *restrict bp)
{
  float tile[NN_MR * NN_NR] = {0.0f}; // defined everywhere, narrow tiles included
  float tail_cols[TAIL][NN_KC];
  float lo = 0.0f, hi = 0.0f;
  int direct = unpack == NULL && alpha == 1.0f && (ep == NULL || clamp_of(ep, &lo, &hi));
  for (int j0 = 0; j0 < n; j0 += NN_NR) {
    int nr = n - j0 < NN_NR ? n - j0 : NN_NR;
    int in_place = bs->row_off != NULL && nr == NN_NR;
    if (!in_place)
      bs->pack(bp, bs->src, k0, kc, j0, nr);
    // Columns by dot products (see tail_columns): all of a panel of at
    // most TAIL, or the few past NARROW.
    int tail0 = 0, tail = 0;
    if (!in_place && nr <= TAIL)
      tail = nr;
    else if (!in_place && nr > NARROW && nr <= NARROW + TAIL)
      tail0 = NARROW, tail = nr - NARROW;
    if (tail > 0)
      gather_tail(tail_cols, bp, kc, tail0, tail);
    // The first panel of products replaces y by the bias, unless y accumulates.
    int fresh = k0 == 0 && (ep == NULL || !ep->accumulate);
    for (int s = 0; s < mc; s += NN_MR) {
      int mr = mc - s < NN_MR ? mc - s : NN_MR;
      const float *rows[NN_MR];
      for (int r = 0; r < NN_MR; r++) {
        int row = s + (r < mr ? r : mr - 1);
        rows[r] = arows != NULL ? arows[row] + k0 : ablock + row * lda;
      }
      if (direct && mr == NN_MR && nr == NN_NR) {
        // A whole tile of a dense y: accumulated and finished in registers.
        float *yt = (float *)y + (ptrdiff_t)(i0 + s) * ldy + j0;
        int first = ep != NULL && fresh, last = ep != NULL && k0 + kc == k;
        const float *bias = first && ep->bias != NULL ? ep->bias + i0 + s : NULL;
        if (in_place)
          micro_kernel_y_in_place(yt, ldy, !first, bias, last, lo, hi, rows, bs->b + j0,
                                  bs->row_off + k0, kc);
        else
          micro_kernel_y(yt, ldy, !first, bias, last, lo, hi, rows, bp, kc);
        continue;
      }
      if (in_place && mr <= SHORT)
        micro_kernel_short_in_place(tile, rows, bs->b + j0, bs->row_off + k0, kc);
      else if (in_place)
        micro_kernel_in_place(tile, rows, bs->b + j0, bs->row_off + k0, kc);
      else if (tail > 0 && tail0 == 0)
        tail_columns(tile, rows, tail_cols, kc, 0, tail);
      else if (nr <= NARROW)
        micro_kernel_narrow(tile, rows, bp, kc);
      else if (tail > 0) {
        micro_kernel_narrow(tile, rows, bp, kc);
        tail_columns(tile, rows, tail_cols, kc, NARROW, tail);
      } else if (mr <= SHORT)
        micro_kernel_short(tile, rows, bp, kc);
      else
        micro_kernel(tile, rows, bp, kc);
      if (unpack != NULL) {
        if (alpha != 1.0f)
          for (int c = 0; c < NN_MR * NN_NR; c++)
            tile[c] *= alpha;
        unpack(y, tile, i0 + s, mr, j0, nr);
      } else {
        add_tile((float *)y + (ptrdiff_t)(i0 + s) * ldy + j0, ldy, tile, mr, nr, alpha, ep,
                 i0 + s, fresh, k0 + kc == k);
      }
    }
  }
}

// An A whose rows are not contiguous (a_cs != 1) is copied a block at a
// time; kept out of line so that the common case does not carry the copy
// on its stack.
static NN_NOINLINE void gemm_copied_a(void *y, int ldy, nn_unpack_fn *unpack, const float *a,
                                      int a_rs, int a_cs, float alpha, const b_panels *bs,
                                      int m, int n, int k)
{
  float bp[NN_KC * NN_NR];
  float ap[NN_PACK_MC * NN_KC];
  for (int i0 = 0; i0 < m; i0 += NN_PACK_MC) {
    int mc = m - i0 < NN_PACK_MC ? m - i0 : NN_PACK_MC;
    for (int k0 = 0; k0 < k; k0 += NN_KC) {
      int kc = k - k0 < NN_KC ? k - k0 : NN_KC;
      pack_a(ap, a + (ptrdiff_t)i0 * a_rs + (ptrdiff_t)k0 * a_cs, a_rs, a_cs, mc, kc);
      multiply_block(y, ldy, unpack, NULL, NULL, ap, kc, alpha, bs, i0, mc, k0, kc, k, n, bp);
    }
  }
}

// The blocks of an A with contiguous rows, read in place: row i at
// a_rows[i], or at a + i*a_rs when a_rows is NULL.
static NN_ALWAYS_INLINE void gemm_direct_a(void *y, int ldy, nn_unpack_fn *unpack,
                                           const nn_gemm_epilogue *ep,
                          const float *const *a_rows, const float *a, int a_rs, float alpha,
                          const b_panels *bs, int m, int n, int k)
{
  float bp[NN_KC * NN_NR];
  for (int i0 = 0; i0 < m; i0 += NN_MC) {
    int mc = m - i0 < NN_MC ? m - i0 : NN_MC;
    for (int k0 = 0; k0 < k; k0 += NN_KC) {
      int kc = k - k0 < NN_KC ? k - k0 : NN_KC;
      const float *ablock = a_rows != NULL ? NULL : a + (ptrdiff_t)i0 * a_rs + k0;
      multiply_block(y, ldy, unpack, ep, a_rows != NULL ? a_rows + i0 : NULL, ablock, a_rs,
                     alpha, bs, i0, mc, k0, kc, k, n, bp);
    }
  }
}

void nn_gemm_engine(void *y, int ldy, nn_unpack_fn *unpack, const float *a, int a_rs,
                    int a_cs, float alpha, nn_pack_fn *pack_b, const void *b_src, int m,
                    int n, int k)
{
  b_panels bs = {pack_b, b_src, NULL, NULL};
  if (a_cs != 1)
    gemm_copied_a(y, ldy, unpack, a, a_rs, a_cs, alpha, &bs, m, n, k);
  else
    gemm_direct_a(y, ldy, unpack, NULL, NULL, a, a_rs, alpha, &bs, m, n, k);
}

// The y of a product with no terms (k = 0): act(bias), or y unchanged when
// it accumulates.
static void no_products(float *y, int ldy, const nn_gemm_epilogue *ep, int m, int n)
{
  if (ep->accumulate)
    return;
  for (int i = 0; i < m; i++)
    nn_fill(y + (ptrdiff_t)i * ldy, ep->bias != NULL ? ep->bias[i] : 0.0f, n);
  for (int i = 0; i < m; i++)
    nn_act_forward(y + (ptrdiff_t)i * ldy, y + (ptrdiff_t)i * ldy, n, ep->act, ep->act_alpha,
                   ep->act_beta);
}

void nn_gemm_engine_into(float *y, int ldy, const nn_gemm_epilogue *ep, const float *a,
                         int a_rs, nn_pack_fn *pack_b, const void *b_src, int m, int n, int k)
{
  if (k == 0) {
    no_products(y, ldy, ep, m, n);
    return;
  }
  b_panels bs = {pack_b, b_src, NULL, NULL};
  gemm_direct_a(y, ldy, NULL, ep, NULL, a, a_rs, 1.0f, &bs, m, n, k);
}

void nn_gemm_engine_rows(void *y, int ldy, nn_unpack_fn *unpack, const float *const *a_rows,
                         nn_pack_fn *pack_b, const void *b_src, int m, int n, int k)
{
  b_panels bs = {pack_b, b_src, NULL, NULL};
  gemm_direct_a(y, ldy, unpack, NULL, a_rows, NULL, 0, 1.0f, &bs, m, n, k);
}

// B(p, j) = b[b_off[p] + j], for the partial panel that cannot be read in
// place: zeros past column nr.
typedef struct {
  const float *b;
  const int *off;
} offset_rows;

static void pack_offset_rows(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const offset_rows *o = b_src;
  for (int p = 0; p < kc; p++)
    for (int c = 0; c < NN_NR; c++)
      bp[p * NN_NR + c] = c < nr ? o->b[o->off[k0 + p] + j0 + c] : 0.0f;
}

void nn_gemm_engine_offsets(void *y, nn_unpack_fn *unpack, const float *a, int a_rs,
                           const float *b, const int *b_off, int m, int n, int k)
{
  offset_rows o = {b, b_off};
  b_panels bs = {pack_offset_rows, &o, b, b_off};
  gemm_direct_a(y, 0, unpack, NULL, NULL, a, a_rs, 1.0f, &bs, m, n, k);
}

void nn_gemm_engine_offsets_into(float *y, int ldy, const nn_gemm_epilogue *ep, const float *a,
                                 int a_rs, const float *b, const int *b_off, int m, int n,
                                 int k)
{
  if (k == 0) {
    no_products(y, ldy, ep, m, n);
    return;
  }
  offset_rows o = {b, b_off};
  b_panels bs = {pack_offset_rows, &o, b, b_off};
  gemm_direct_a(y, ldy, NULL, ep, NULL, a, a_rs, 1.0f, &bs, m, n, k);
}
