/*
 * im2col_avx512.c - the rows of an im2col panel gathered with AVX-512 masked
 * loads. See im2col_avx512.h.
 *
 * Key idea: a packed row is two vectors of 16 lanes. Each piece that meets
 * a vector is one masked load (stride 1) or two masked loads of the even
 * lanes and a permute (stride 2), merged into the vector; lanes no piece
 * covers stay zero (the padding). The loads and their masks depend on the
 * tap and the panel only, so they are worked out once and then replayed for
 * every channel: a row costs a few instructions instead of a copy loop per
 * piece, which matters because every output row of a padded convolution
 * cuts its pieces short.
 *
 * A masked load's address points at where lane 0 would be, which may lie
 * before or past the plane: the masked-off lanes are not read and cannot
 * fault, and the address is formed as an integer (at() below), so no C
 * pointer ever points outside x.
 *
 * Deliberately not here: strides above 2 and other vector widths, which
 * im2col.c packs with plain loops.
 */
#include "im2col_avx512.h"

#if NN_IM2COL_AVX512
#include <immintrin.h>
#include <stdint.h>

// x + off floats, as an address that the masked lanes of a load make safe.
static const float *at(const float *x, ptrdiff_t off)
{
  return (const float *)((uintptr_t)x + (uintptr_t)(off * (ptrdiff_t)sizeof(float)));
}

// One load into vector half of a row: lanes keep come from the plane at
// off + lane*stride; at stride 2 the even lanes of two vectors from off
// are read (even0, even1) and compressed.
typedef struct {
  int half;
  ptrdiff_t off;
  __mmask16 keep, even0, even1;
} masked_load;

// Lane l of mask16 -> lane 2l of the result, for lanes l0 .. l0+7.
static __mmask16 spread_even(unsigned mask16, int l0)
{
  unsigned m = mask16 >> l0 & 0xffu;
  m = (m | m << 4) & 0x0f0fu;
  m = (m | m << 2) & 0x3333u;
  m = (m | m << 1) & 0x5555u;
  return (__mmask16)m;
}

static int plan_loads(masked_load *loads, const nn_im2col_piece *pieces, int npieces, int sw)
{
  int count = 0;
  for (int h = 0; h < 2; h++)
    for (int i = 0; i < npieces; i++) {
      int lo = pieces[i].dst > 16 * h ? pieces[i].dst : 16 * h;
      int hi = pieces[i].dst + pieces[i].len < 16 * h + 16 ? pieces[i].dst + pieces[i].len
                                                            : 16 * h + 16;
      if (lo >= hi)
        continue;
      unsigned keep = ((1u << (hi - lo)) - 1u) << (lo - 16 * h);
      masked_load l = {h, pieces[i].src + (ptrdiff_t)(16 * h - pieces[i].dst) * sw,
                       (__mmask16)keep, spread_even(keep, 0), spread_even(keep, 8)};
      loads[count++] = l;
    }
  return count;
}

// The row half that loads[0 .. n) build, from zeros.
static inline __m512 gather_half(const float *x, const masked_load *loads, int n, int stride_w)
{
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26,
                                         28, 30);
  __m512 v = _mm512_setzero_ps();
  for (int i = 0; i < n; i++) {
    const masked_load *l = &loads[i];
    if (stride_w == 1) {
      v = _mm512_mask_loadu_ps(v, l->keep, at(x, l->off));
    } else {
      __m512 lo = _mm512_maskz_loadu_ps(l->even0, at(x, l->off));
      __m512 hi = _mm512_maskz_loadu_ps(l->even1, at(x, l->off + 16));
      v = _mm512_mask_mov_ps(v, l->keep, _mm512_permutex2var_ps(lo, even, hi));
    }
  }
  return v;
}

// The common case, stride 1 and one or two pieces in each half: a row is
// two to four masked loads, without loops (the two branches go the same
// way for every row).
static void rows_two_pieces(float *bp, const float *x, ptrdiff_t plane, const int *row_off,
                            int first, int step, int kc, const masked_load *loads, int nlow,
                            int nloads)
{
  const masked_load *l0 = &loads[0], *l1 = &loads[nlow - 1];
  const masked_load *h0 = &loads[nlow], *h1 = &loads[nloads - 1];
  int two_low = nlow == 2, two_high = nloads - nlow == 2;
  ptrdiff_t ahead = l0->off + 4 * NN_NR;
  for (int q = first; q < kc; q += step, x += plane) {
    const float *xr = row_off != NULL ? x + row_off[q] : x;
    _mm_prefetch((const char *)at(xr, ahead), _MM_HINT_T0);
    _mm_prefetch((const char *)at(xr, ahead + 16), _MM_HINT_T0);
    __m512 low = _mm512_maskz_loadu_ps(l0->keep, at(xr, l0->off));
    __m512 high = _mm512_maskz_loadu_ps(h0->keep, at(xr, h0->off));
    if (two_low)
      low = _mm512_mask_loadu_ps(low, l1->keep, at(xr, l1->off));
    if (two_high)
      high = _mm512_mask_loadu_ps(high, h1->keep, at(xr, h1->off));
    _mm512_storeu_ps(bp + q * NN_NR, low);
    _mm512_storeu_ps(bp + q * NN_NR + 16, high);
  }
}

void nn_im2col_rows_avx512(float *bp, const float *x, ptrdiff_t plane, const int *row_off,
                           int first, int step, int kc, const nn_im2col_piece *pieces,
                           int npieces, int stride_w)
{
  masked_load loads[4 * NN_NR];
  int nloads = plan_loads(loads, pieces, npieces, stride_w), nlow = 0;
  while (nlow < nloads && loads[nlow].half == 0)
    nlow++;
  if (stride_w == 1 && nlow >= 1 && nlow <= 2 && nloads - nlow >= 1 && nloads - nlow <= 2) {
    rows_two_pieces(bp, x, plane, row_off, first, step, kc, loads, nlow, nloads);
    return;
  }
  ptrdiff_t ahead = nloads > 0 ? loads[0].off + 4 * NN_NR * stride_w : 0;
  for (int q = first; q < kc; q += step, x += plane) {
    const float *xr = row_off != NULL ? x + row_off[q] : x;
    // As in nn_pack_strided: this row's piece of the panel four on.
    _mm_prefetch((const char *)at(xr, ahead), _MM_HINT_T0);
    _mm_prefetch((const char *)at(xr, ahead + 16), _MM_HINT_T0);
    __m512 low = gather_half(xr, loads, nlow, stride_w);
    __m512 high = gather_half(xr, loads + nlow, nloads - nlow, stride_w);
    _mm512_storeu_ps(bp + q * NN_NR, low);
    _mm512_storeu_ps(bp + q * NN_NR + 16, high);
  }
}
#endif
