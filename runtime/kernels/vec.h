/*
 * vec.h - the small vector vocabulary the micro-kernels are written in
 * (internal to the runtime, not installed): vec, VLEN, vzero, vload,
 * vstore, vsplat, vmuladd, vadd, vclamp, vsum, over the instruction set that
 * gemm_engine.h picks (NN_GEMM_AVX512, _AVX2, _SSE, else portable C, where
 * a vec is one float). Plus the inlining and unrolling hints they use.
 *
 * Include after gemm_engine.h; defines static helpers, so only .c files
 * include it.
 */
#ifndef NN_VEC_H
#define NN_VEC_H

#include "gemm_engine.h"

#if defined(__GNUC__)
#define NN_NOINLINE __attribute__((noinline))
#define NN_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define NN_NOINLINE
#define NN_ALWAYS_INLINE inline
#endif

#if defined(__GNUC__)
#define NN_UNROLL _Pragma("GCC unroll 32")
#define NN_UNROLL8 _Pragma("GCC unroll 8")
#define NN_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define NN_UNROLL
#define NN_UNROLL8
#define NN_NO_UNROLL
#endif

#if defined(NN_GEMM_AVX512)
#include <immintrin.h>
typedef __m512 vec;
#define VLEN 16
#define vzero() _mm512_setzero_ps()
#define vload(p) _mm512_loadu_ps(p)
#define vstore(p, v) _mm512_storeu_ps(p, v)
#define vsplat(s) _mm512_set1_ps(s)
#define vmuladd(a, b, c) _mm512_fmadd_ps(a, b, c)
#define vadd(a, b) _mm512_add_ps(a, b)
#define vclamp(lo, hi, v) _mm512_min_ps(hi, _mm512_max_ps(lo, v))
#define vsum(v) _mm512_reduce_add_ps(v)
#elif defined(NN_GEMM_AVX2)
#include <immintrin.h>
typedef __m256 vec;
#define VLEN 8
#define vzero() _mm256_setzero_ps()
#define vload(p) _mm256_loadu_ps(p)
#define vstore(p, v) _mm256_storeu_ps(p, v)
#define vsplat(s) _mm256_set1_ps(s)
#define vmuladd(a, b, c) _mm256_fmadd_ps(a, b, c)
#define vadd(a, b) _mm256_add_ps(a, b)
#define vclamp(lo, hi, v) _mm256_min_ps(hi, _mm256_max_ps(lo, v))
#define vsum(v) sum_halves(_mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1)))
#elif defined(NN_GEMM_SSE)
#include <emmintrin.h>
typedef __m128 vec;
#define VLEN 4
#define vzero() _mm_setzero_ps()
#define vload(p) _mm_loadu_ps(p)
#define vstore(p, v) _mm_storeu_ps(p, v)
#define vsplat(s) _mm_set1_ps(s)
#define vmuladd(a, b, c) _mm_add_ps(_mm_mul_ps(a, b), c)
#define vadd(a, b) _mm_add_ps(a, b)
#define vclamp(lo, hi, v) _mm_min_ps(hi, _mm_max_ps(lo, v))
#define vsum(v) sum_halves(v)
#else
typedef float vec;
#define VLEN 1
#define vzero() 0.0f
#define vload(p) (*(p))
#define vstore(p, v) (*(p) = (v))
#define vsplat(s) (s)
#define vmuladd(a, b, c) ((a) * (b) + (c))
#define vadd(a, b) ((a) + (b))
#define vclamp(lo, hi, v) clamp_scalar(lo, hi, v)
#define vsum(v) (v)
static inline float clamp_scalar(float lo, float hi, float v)
{
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}
#undef NN_UNROLL
#define NN_UNROLL
#endif

#if defined(NN_GEMM_AVX2) || defined(NN_GEMM_SSE)
// The sum of a 4-lane vector's lanes, as a tree.
static inline float sum_halves(__m128 v)
{
  __m128 pairs = _mm_add_ps(v, _mm_movehl_ps(v, v));
  return _mm_cvtss_f32(_mm_add_ss(pairs, _mm_shuffle_ps(pairs, pairs, 1)));
}
#endif

#endif
