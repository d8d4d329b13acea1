/*
 * fastmath.h - float exp, expm1, log1p, sigmoid and tanh for the
 * elementwise kernels (internal to runtime/kernels, not installed).
 *
 * Key idea: every function is straight-line float and uint32 arithmetic
 * with selects (nn_select) instead of branches and no table, so a loop
 * that calls one is vectorised by gcc -O3 and clang, where a call to
 * libm's expf would keep it scalar. exp follows the usual plan (Cephes,
 * ARM's optimized-routines):
 *   x = n*ln2 + r,  n = round(x/ln2),  |r| <= ln2/2,
 *   e^x = 2^n * (1 + r + r^2*P(r)),
 * with ln2 split into a short head (n*head is exact) and a tail, P a
 * degree-4 minimax polynomial on [-0.3466, 0.3466] (e^r's own relative
 * error is then 3e-9, 0.05 ulp), and 2^n built in the exponent bits. The
 * bits move through memcpy, the strict-aliasing-safe way in C99, which
 * compilers turn into a register move.
 *
 * Accuracy: the largest error over every float, against double-precision
 * libm (tests/runtime/test_fastmath.c asserts the bound in brackets on a
 * sample of floats):
 *   nn_fast_expf      0.78 ulp  [1]     nn_fast_expm1f  1.21 ulp  [1.5]
 *   nn_fast_sigmoidf  1.97 ulp  [2]     nn_fast_tanhf   1.41 ulp  [1.5]
 *   nn_fast_log1pf    0.87 ulp  [1]     (on [0, 1], the only range used)
 * The same with gcc -O2 and -O3 and clang -O2, whose results agree bit for
 * bit. Builds for FMA hardware (-mfma, -march=native), where NN_MULADD
 * fuses, measured over every float too: exp 0.78, expm1 1.09, sigmoid
 * 1.97, tanh 1.41, log1p 0.87 ulp. Subnormal results of exp are rounded once from a 24-bit value
 * (no flush to zero), results below 2^-150 are 0, above FLT_MAX +inf. NaN
 * in gives NaN out, and +-0 and tiny x give what libm gives.
 *
 * Two float tricks carry the file:
 *  - adding 1.5*2^23 to a float of magnitude < 2^22 rounds it to an
 *    integer (to nearest even) and leaves that integer, plus 0x400000, in
 *    the low mantissa bits. That needs float arithmetic as IEEE writes it:
 *    no -ffast-math (which may fold (t + C) - C to t), and no x87 excess
 *    precision (C99 assignments round, -fexcess-precision=standard).
 *  - the result's exponent field is assembled from those bits with
 *    unsigned shifts and adds, so nothing signed can overflow even when a
 *    NaN input fills them with garbage (the NaN itself then reaches the
 *    result through the polynomial).
 * Fused multiply-adds (NN_MULADD below where the target has them, or a
 * compiler's own contraction) leave both tricks and the exact steps
 * exact; they only move a last bit here and there, within the same
 * bounds (checked by the AVX2 and AVX-512 builds of make simd-test).
 *
 * Deliberately not here: log, erf, sin and cos, which the kernels still
 * take from libm, and any use of double (the Cortex-M3 has no double
 * hardware, and the M4F only single precision).
 */
#ifndef NN_FASTMATH_H
#define NN_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

// a*b + c: one fused multiply-add where <math.h> says the target has a
// fast one (C99's FP_FAST_FMAF: -mfma, AVX2 and AVX-512 builds), else a
// product and a sum (gcc -std=c99 does not contract them itself). Used at
// every a*b + c of the polynomials and reductions below: a quarter fewer
// operations per exp, and each such step rounds once instead of twice.
#if defined(FP_FAST_FMAF)
#define NN_MULADD(a, b, c) fmaf(a, b, c)
#else
#define NN_MULADD(a, b, c) ((a) * (b) + (c))
#endif

static inline uint32_t nn_float_bits(float x)
{
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static inline float nn_bits_float(uint32_t u)
{
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/*
 * c ? a : b, with a and b both computed, as bit operations. A float ?: in
 * a loop lets gcc move the computation of a value only one side uses into
 * a branch; under -ftrapping-math (the default) it then cannot if-convert
 * that branch back without masked vector instructions (AVX-512 has them,
 * the SSE2 of generic x86-64 does not), and the loop stays scalar.
 */
static inline float nn_select(int c, float a, float b)
{
  uint32_t mask = 0u - (uint32_t)(c != 0);
  return nn_bits_float((nn_float_bits(a) & mask) | (nn_float_bits(b) & ~mask));
}

// 1.5 * 2^23: x + NN_ROUNDER is round(x) + NN_ROUNDER, and its bits are
// NN_ROUNDER_BITS + round(x), for |x| < 2^22.
#define NN_ROUNDER 12582912.0f
#define NN_ROUNDER_BITS 0x4B400000u

// ln2 = NN_LN2_HI + NN_LN2_LO. The head has 15 significant bits, so for
// an integer |n| <= 256 n*NN_LN2_HI is exact, and so is x - n*NN_LN2_HI
// when n = round(x/ln2).
#define NN_LOG2E 1.44269504f
#define NN_LN2_HI 0.693145751953125f
#define NN_LN2_LO 1.428606765e-06f

// P(r) = (e^r - 1 - r) / r^2 for |r| <= 0.3466, minimax, so that
// e^r = 1 + r + r^2*P(r) to a relative 3e-9.
static inline float nn_exp_poly(float r)
{
  float p = 1.381461043e-03f;
  p = NN_MULADD(p, r, 8.368717507e-03f);
  p = NN_MULADD(p, r, 4.166838899e-02f);
  p = NN_MULADD(p, r, 1.666652113e-01f);
  return NN_MULADD(p, r, 4.999999404e-01f);
}

// The range reduction of e^x shared by nn_fast_expf and nn_fast_expm1f:
// n = round(x/ln2), held in t = n + NN_ROUNDER (whose bits give 2^n),
// r_hi = x - n*NN_LN2_HI (exact), and c = r^2*P(r) - n*NN_LN2_LO with
// r = r_hi - n*NN_LN2_LO, so that e^x = 2^n * (1 + r_hi + c).
typedef struct {
  float t, r_hi, c;
} nn_exp_reduced;

static inline nn_exp_reduced nn_exp_reduce(float x)
{
  nn_exp_reduced e;
  e.t = NN_MULADD(x, NN_LOG2E, NN_ROUNDER);
  float n = e.t - NN_ROUNDER;
  e.r_hi = x - n * NN_LN2_HI;
  float n_lo = n * NN_LN2_LO;
  float r = e.r_hi - n_lo;
  e.c = NN_MULADD(r * r, nn_exp_poly(r), -n_lo);
  return e;
}

/*
 * e^x. For x in [-104, 89] n = round(x/ln2) is in [-150, 128]; outside,
 * where the result is 0 or +inf anyway, the arithmetic below produces
 * garbage that the last two selects replace. (Clamping x first would be
 * the obvious way, but then gcc folds the whole computation for the
 * clamped constants into branches, which keeps the loop scalar.) 2^n
 * itself may be subnormal or overflow, so the result is scaled by
 * 2^n1 * 2^n2 with n1 = floor(n/2), n2 = n - n1, both in [-75, 64]:
 * e^r * 2^n1 is exact and the second product rounds once, to a subnormal,
 * a normal or +inf. e^r = 1 + r_hi + c is summed with the rounding error
 * of 1 + r_hi kept (Fast2Sum, |r_hi| < 1), which saves a quarter ulp.
 */
static inline float nn_fast_expf(float x)
{
  nn_exp_reduced e = nn_exp_reduce(x);
  float a = 1.0f + e.r_hi;
  float err = e.r_hi - (a - 1.0f);
  float er = a + (err + e.c); // e^r
  uint32_t m = nn_float_bits(e.t) - NN_ROUNDER_BITS + 256u; // n + 256, in [106, 384]
  uint32_t h = m >> 1;                                      // n1 + 128
  float s1 = nn_bits_float((h - 1u) << 23);                 // 2^n1: biased exponent n1 + 127
  float s2 = nn_bits_float((m - h - 1u) << 23);             // 2^n2
  float y = er * s1 * s2;
  y = nn_select(x > 89.0f, INFINITY, y); // NaN passes both
  return nn_select(x < -104.0f, 0.0f, y);
}

/*
 * e^x - 1, accurate where e^x - 1 would cancel. With s = 2^(n-1) and
 * r = r_hi - n*NN_LN2_LO (r_hi exact, as in nn_fast_expf),
 *   e^x - 1 = 2 * ((s - 1/2) + s*r_hi + s*c),   c = r^2*P(r) - n*NN_LN2_LO,
 * where s - 1/2 and s*r_hi are exact and their sum is kept with its
 * rounding error (Fast2Sum: |s - 1/2| >= |s*r_hi| unless s - 1/2 = 0), so
 * the result rounds about once. Halving first keeps s finite up to
 * n = 128. Beyond [-18, 88.8] the result is -1 (below -17.4 it rounds to
 * -1) or +inf (above 88.73), put in by selects as in nn_fast_expf. Below
 * 2^-25 in magnitude e^x - 1 rounds to x, which is returned as is (s*c
 * would lose subnormal bits, and -0 would become +0).
 */
static inline float nn_fast_expm1f(float x)
{
  nn_exp_reduced e = nn_exp_reduce(x);
  // 2^(n-1), n in [-26, 128]: biased exponent n + 126.
  float s = nn_bits_float((nn_float_bits(e.t) - NN_ROUNDER_BITS + 126u) << 23);
  float a = s - 0.5f, b = s * e.r_hi;
  float sum = a + b;
  float err = b - (sum - a);
  float y = 2.0f * (sum + NN_MULADD(s, e.c, err));
  y = nn_select(x < -18.0f, -1.0f, y); // NaN passes all three
  y = nn_select(x > 88.8f, INFINITY, y);
  return nn_select(fabsf(x) < 0x1p-25f, x, y);
}

/*
 * log(1 + v) for 0 <= v <= 1 (what softplus needs), fdlibm's log1p
 * reduced to that range: w = 1 + v rounds, and c = (v - (w - 1)) / w
 * puts back what the rounding lost (exact since v <= 1). Then
 * w = 2^k * m with k in {0, 1} and m in [sqrt(1/2), sqrt(2)), f = m - 1
 * (exact), and with s = f/(2 + f), hfsq = f^2/2:
 *   log(1 + f) = 2 atanh(s) = f - hfsq + s*(hfsq + R),
 *   R = s^2 * (2/3 + 2/5 s^2 + ...)   (minimax, relative error 8e-10),
 * which keeps the exact f as the leading term.
 */
static inline float nn_fast_log1pf(float v)
{
  float w = 1.0f + v;
  float c = (v - (w - 1.0f)) / w;
  int big = w > 1.41421356f;
  float m = nn_select(big, 0.5f * w, w);
  float k_hi = nn_select(big, NN_LN2_HI, 0.0f);
  float k_lo = nn_select(big, NN_LN2_LO, 0.0f);
  float f = m - 1.0f;
  float s = f / (2.0f + f);
  float z = s * s;
  float r = 2.987369001e-01f;
  r = NN_MULADD(r, z, 3.997747898e-01f);
  r = NN_MULADD(r, z, 6.666677594e-01f);
  r = r * z;
  float hfsq = 0.5f * f * f;
  return k_hi - ((hfsq - (s * (hfsq + r) + (k_lo + c))) - f);
}

/*
 * 1 / (1 + e^-x) without overflow: with e = e^-|x| <= 1 and d = 1 + e,
 *   x >= 0: 1 / d       x < 0: e / d,
 * one division for both. Rounding d loses dl = (1 - d) + e (exact), worth
 * up to an ulp of the result, so y = num/d is corrected to
 * num/(d + dl) ~ y - y*dl/d, where 1/d = sigmoid(|x|) is y or 1 - y.
 * NaN gives NaN (x >= 0 is false, e is NaN).
 */
static inline float nn_fast_sigmoidf(float x)
{
  float e = nn_fast_expf(-fabsf(x));
  float d = 1.0f + e;
  float dl = (1.0f - d) + e;
  float num = nn_select(x >= 0.0f, 1.0f, e);
  float y = num / d;
  float inv_d = nn_select(x >= 0.0f, y, 1.0f - y);
  return NN_MULADD(-y, dl * inv_d, y);
}

/*
 * tanh(x) = sign(x) * tanh|x|. For a = |x| < 0.625 an odd minimax
 * polynomial a + a^3*P(a^2) (relative error 4e-9), so tiny x give x.
 * Beyond it, with e = e^(-2a) <= 0.29,
 *   tanh a = 1 - 2e / (1 + e),
 * where the rounding errors of e and of the quotient shrink with e; large
 * a give e = 0 and exactly 1. The sign bit of x is put back last, so -0
 * stays -0 and NaN stays NaN.
 */
static inline float nn_fast_tanhf(float x)
{
  float a = fabsf(x);
  float a2 = a * a;
  float p = -5.704933777e-03f;
  p = NN_MULADD(p, a2, 2.063904144e-02f);
  p = NN_MULADD(p, a2, -5.373970047e-02f);
  p = NN_MULADD(p, a2, 1.333144158e-01f);
  p = NN_MULADD(p, a2, -3.333328068e-01f);
  float small = NN_MULADD(a * a2, p, a);
  float e = nn_fast_expf(-2.0f * a);
  float big = 1.0f - 2.0f * e / (1.0f + e);
  float t = nn_select(a < 0.625f, small, big);
  return nn_bits_float(nn_float_bits(t) | (nn_float_bits(x) & 0x80000000u));
}

#endif /* NN_FASTMATH_H */
