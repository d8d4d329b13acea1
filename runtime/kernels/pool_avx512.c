/*
 * pool_avx512.c - the row loops of max pooling 3x3 stride 2 with AVX-512.
 * See pool_avx512.h.
 *
 * Key idea: 16 windows of a row read 33 consecutive floats; two loads and
 * two permutes split them into the even taps x[2j] and the odd ones
 * x[2j + 1], and the third tap x[2j + 2] is the even vector moved down one
 * lane with the 33rd float coming in at the top. A row's last, partial
 * vector of windows uses masked loads and a masked store, so no scalar
 * tail is left (gcc's own vectorisation of pool.c's loop left up to 15
 * windows a row to scalar code: the 3x3/2 pool of resnet18's stem went
 * from about 147 to 108 µs alone, 64 planes of 112x112 in 1.7 µs each).
 *
 * Deliberately not here: other windows and strides (pool.c's loops), the
 * borders of the rows (pool.c), the backward.
 */
#include "pool_avx512.h"

#if NN_POOL_AVX512
#include <immintrin.h>
#include <stdint.h>

// x + off floats, as an address: past the row's end only for loads whose
// lanes are all masked off (they read nothing), and no C pointer is formed
// outside the object x points into.
static const float *at(const float *x, ptrdiff_t off)
{
  return (const float *)((uintptr_t)x + (uintptr_t)(off * (ptrdiff_t)sizeof(float)));
}

// The first n lanes (all 16 for n >= 16).
static __mmask16 first_lanes(int n)
{
  return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

// best after tap v: v where v > best or v is NaN (max() gives best when
// either is NaN, then the NaN lanes of v are put back).
static inline __m512 take(__m512 best, __m512 v)
{
  return _mm512_mask_mov_ps(_mm512_max_ps(v, best), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v);
}

// The windows of 16 taps t0 (their first), t1 and of the float after the
// last t0, `top` in lane 0.
static inline __m512 windows3(__m512 t0, __m512 t1, __m512 top)
{
  __m512 t2 = _mm512_castsi512_ps(
      _mm512_alignr_epi32(_mm512_castps_si512(top), _mm512_castps_si512(t0), 1));
  return take(take(t0, t1), t2);
}

void nn_pool_max3_s2_avx512(float *h, const float *x0, int n)
{
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  int j = 0;
  for (; j + 16 <= n; j += 16) { // whole vectors: x0[2j + 32] is the row's at most
    __m512 lo = _mm512_loadu_ps(x0 + 2 * j), hi = _mm512_loadu_ps(x0 + 2 * j + 16);
    __m512 top = _mm512_castps128_ps512(_mm_load_ss(x0 + 2 * j + 32));
    _mm512_storeu_ps(h + j, windows3(_mm512_permutex2var_ps(lo, even, hi),
                                     _mm512_permutex2var_ps(lo, odd, hi), top));
  }
  if (j < n) { // the last windows: masked loads of their 2(n - j) + 1 taps
    int floats = 2 * (n - j) + 1;
    __m512 lo = _mm512_maskz_loadu_ps(first_lanes(floats), x0 + 2 * j);
    __m512 hi = _mm512_maskz_loadu_ps(first_lanes(floats - 16), at(x0, 2 * j + 16));
    __m512 top = _mm512_setzero_ps(); // the last t2 lane is not stored
    _mm512_mask_storeu_ps(h + j, first_lanes(n - j),
                          windows3(_mm512_permutex2var_ps(lo, even, hi),
                                   _mm512_permutex2var_ps(lo, odd, hi), top));
  }
}

void nn_pool_max_rows_avx512(float *y, const float *a, const float *b, const float *c, int n)
{
  for (int j = 0; j < n; j += 16) {
    __mmask16 m = first_lanes(n - j);
    __m512 best = _mm512_maskz_loadu_ps(m, a + j);
    if (b != NULL)
      best = take(best, _mm512_maskz_loadu_ps(m, b + j));
    if (c != NULL)
      best = take(best, _mm512_maskz_loadu_ps(m, c + j));
    _mm512_mask_storeu_ps(y + j, m, best);
  }
}

#endif
