/*
 * conv_turn.h - the way out of the convolution tiles that hold output
 * channels across their vector lanes (conv_packed.c, conv_small.c,
 * conv_lanes.c): the activation as a clamp applied in registers, and, on
 * AVX-512, tiles of (pixel, channel) vectors stored as (channel, pixel)
 * rows (other builds turn through memory). Internal to the runtime.
 *
 * Include after vec.h; defines static helpers, so only .c files include it.
 */
#ifndef NN_CONV_TURN_H
#define NN_CONV_TURN_H

#include "vec.h"

#include <math.h>

// The activation of p as the clamp [lo, hi] a tile applies in registers:
// ReLU and Clip, none as [-inf, inf]; returns 0 for the others, which the
// caller applies over y afterwards (with [-inf, inf] in the tiles).
static inline int act_as_clamp(const nn_conv_params *p, float *lo, float *hi)
{
  *lo = -INFINITY, *hi = INFINITY;
  if (p->act == NN_ACT_RELU)
    *lo = 0.0f;
  else if (p->act == NN_ACT_CLIP)
    *lo = p->act_alpha, *hi = p->act_beta;
  return p->act == NN_ACT_NONE || p->act == NN_ACT_RELU || p->act == NN_ACT_CLIP;
}

#if defined(NN_GEMM_AVX512)
enum { LANES = 16 };

// The first n (all 16 for n >= 16, none for n <= 0) lanes.
static inline __mmask16 lanes(int n)
{
  return n >= LANES ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

// Stores 16 vectors, vector i holding channels 0..15 of pixel i, as
// channel rows: y[j*plane + i] = v[i][j] for the pixels i in the mask, or
// with r (y's layout) clamp(v[i][j] + r[j*plane + i]) to [lo, hi]. An
// in-register 16x16 transpose: pairs of rows interleaved, then quads,
// then 128-bit lanes across four and four vectors.
static NN_ALWAYS_INLINE void store_turned(float *y, ptrdiff_t plane, const __m512 v[LANES],
                                          __mmask16 pixels, const float *r, float lo, float hi)
{
  __m512 t[LANES], u[LANES];
  NN_UNROLL for (int i = 0; i < LANES; i += 2) {
    t[i] = _mm512_unpacklo_ps(v[i], v[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(v[i], v[i + 1]);
  }
  // u[4i + k], 128-bit lane L: channel 4L + k of pixels 4i..4i+3.
  NN_UNROLL for (int i = 0; i < LANES; i += 4) {
    u[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    u[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    u[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    u[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  NN_UNROLL for (int k = 0; k < 4; k++) {
    __m512 ab_lo = _mm512_shuffle_f32x4(u[k], u[4 + k], 0x44);
    __m512 ab_hi = _mm512_shuffle_f32x4(u[k], u[4 + k], 0xEE);
    __m512 cd_lo = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0x44);
    __m512 cd_hi = _mm512_shuffle_f32x4(u[8 + k], u[12 + k], 0xEE);
    __m512 row[4] = {_mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88),
                     _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xDD),
                     _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88),
                     _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xDD)};
    NN_UNROLL for (int l = 0; l < 4; l++) {
      ptrdiff_t at = (4 * l + k) * plane;
      if (r != NULL)
        row[l] = vclamp(vsplat(lo), vsplat(hi),
                        _mm512_add_ps(row[l], _mm512_maskz_loadu_ps(pixels, r + at)));
      _mm512_mask_storeu_ps(y + at, pixels, row[l]);
    }
  }
}

#endif

#endif
