/*
 * test_fastmath.c - the inline exp, expm1, log1p, sigmoid and tanh of
 * runtime/kernels/fastmath.h against double-precision libm, in ulp of the
 * exact result.
 *
 * Each function is swept three ways, at odd strides so that every low
 * mantissa bit varies: over all finite floats of both signs (which covers
 * the tails where the result is 0, 1, +-1, x or +inf), over [-1, 1], and
 * densely over the range where the result is neither trivial nor
 * saturated. Then the special values are checked exactly: +-0, +-inf,
 * NaN, subnormals, and the overflow and underflow thresholds. The bounds
 * are the ones fastmath.h states next to the maxima of an exhaustive run
 * over every float (exp 0.78, expm1 1.21, log1p 0.87, sigmoid 1.97, tanh
 * 1.41 ulp).
 */
#include "kernels/fastmath.h"
#include "test.h"

#include <float.h>
#include <string.h>


static float bits_to_float(uint32_t u)
{
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

static uint32_t float_to_bits(float x)
{
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

// The kernels' functions through one signature, each with its reference.
typedef struct {
  const char *name;
  float (*fast)(float);
  double (*exact)(double);
  double bound; // ulp
} fn;

static float fast_exp(float x) { return nn_fast_expf(x); }
static float fast_expm1(float x) { return nn_fast_expm1f(x); }
static float fast_log1p(float x) { return nn_fast_log1pf(x); }
static float fast_sigmoid(float x) { return nn_fast_sigmoidf(x); }
static float fast_tanh(float x) { return nn_fast_tanhf(x); }
static double exact_sigmoid(double x) { return 1.0 / (1.0 + exp(-x)); }

static const fn f_exp = {"exp", fast_exp, exp, 1.0};
static const fn f_expm1 = {"expm1", fast_expm1, expm1, 1.5};
static const fn f_log1p = {"log1p", fast_log1p, log1p, 1.0};
static const fn f_sigmoid = {"sigmoid", fast_sigmoid, exact_sigmoid, 2.0};
static const fn f_tanh = {"tanh", fast_tanh, tanh, 1.5};

// Fails at the worst x among the magnitudes [lo, hi], both signs unless
// positive_only, every stride-th float.
static void sweep(const fn *f, float lo, float hi, uint32_t stride, int positive_only)
{
  double worst = 0.0;
  float worst_x = 0.0f;
  for (int neg = 0; neg <= !positive_only; neg++) {
    for (uint64_t u = float_to_bits(lo); u <= float_to_bits(hi); u += stride) {
      float x = bits_to_float((uint32_t)u | (neg ? 0x80000000u : 0u));
      double e = ulp_error(f->fast(x), f->exact((double)x));
      if (e > worst) {
        worst = e;
        worst_x = x;
      }
    }
  }
  if (!(worst <= f->bound))
    fail_msg("%s: %.3f ulp at x = %a, bound %.1f", f->name, worst, (double)worst_x, f->bound);
}

// Every finite float, then [-1, 1], then the dense range [lo, hi].
static void sweep_all(const fn *f, float lo, float hi, int positive_only)
{
  sweep(f, 0.0f, FLT_MAX, 4093, positive_only);
  sweep(f, 0.0f, 1.0f, 2039, positive_only);
  sweep(f, lo, hi, 257, positive_only);
}

// Exact expectations: the result must be want bit for bit (any NaN for NaN).
static void check_exact(const fn *f, float x, float want)
{
  float got = f->fast(x);
  if (isnan(want) ? !isnan(got) : float_to_bits(got) != float_to_bits(want))
    fail_msg("%s(%a) = %a, want %a", f->name, (double)x, (double)got, (double)want);
}

static void test_fastmath_exp_within_1_ulp(void **state)
{
  (void)state;
  // Below 2^-25 e^x rounds to 1; beyond [-104, 89] to 0 or +inf.
  sweep_all(&f_exp, 0x1p-25f, 104.0f, 0);
}

static void test_fastmath_exp_special_values(void **state)
{
  (void)state;
  check_exact(&f_exp, 0.0f, 1.0f);
  check_exact(&f_exp, -0.0f, 1.0f);
  check_exact(&f_exp, 0x1p-149f, 1.0f);
  check_exact(&f_exp, -INFINITY, 0.0f);
  check_exact(&f_exp, INFINITY, INFINITY);
  check_exact(&f_exp, NAN, NAN);
  check_exact(&f_exp, -NAN, NAN);
  check_exact(&f_exp, FLT_MAX, INFINITY);
  check_exact(&f_exp, -FLT_MAX, 0.0f);
  check_exact(&f_exp, 88.7228394f, INFINITY);          // first x whose e^x overflows
  assert_true(isfinite(f_exp.fast(88.7228317f)));      // the float below it
  assert_true(f_exp.fast(-87.3365402f) >= FLT_MIN);    // e^x just above FLT_MIN
  assert_true(f_exp.fast(-87.3365479f) < FLT_MIN);     // ... and just below: subnormal
  check_exact(&f_exp, -103.278931f, 0x1p-149f);        // the smallest subnormal
  check_exact(&f_exp, -103.972076f, 0x1p-149f);        // e^x just above 2^-150 rounds up
  check_exact(&f_exp, -103.972084f, 0.0f);             // e^x < 2^-150 rounds to 0
  check_exact(&f_exp, -1e30f, 0.0f);
}

static void test_fastmath_expm1_within_1_5_ulp(void **state)
{
  (void)state;
  // Below 2^-24 e^x - 1 is x, below -18 it is -1.
  sweep_all(&f_expm1, 0x1p-24f, 89.0f, 0);
}

static void test_fastmath_expm1_special_values(void **state)
{
  (void)state;
  check_exact(&f_expm1, 0.0f, 0.0f);
  check_exact(&f_expm1, -0.0f, -0.0f);
  check_exact(&f_expm1, 0x1p-149f, 0x1p-149f);
  check_exact(&f_expm1, -0x1p-30f, -0x1p-30f);
  check_exact(&f_expm1, -INFINITY, -1.0f);
  check_exact(&f_expm1, -20.0f, -1.0f);
  check_exact(&f_expm1, INFINITY, INFINITY);
  check_exact(&f_expm1, 88.7228394f, INFINITY);
  assert_true(isfinite(f_expm1.fast(88.7228317f)));
  check_exact(&f_expm1, NAN, NAN);
}

static void test_fastmath_log1p_within_1_ulp_on_0_1(void **state)
{
  (void)state;
  // The kernels take log(1 + v) of v = e^-|x| only: v in [0, 1].
  sweep(&f_log1p, 0.0f, 1.0f, 61, 1);
  check_exact(&f_log1p, 0.0f, 0.0f);
  check_exact(&f_log1p, 0x1p-149f, 0x1p-149f);
  check_exact(&f_log1p, 0x1p-30f, 0x1p-30f);
  check_exact(&f_log1p, 1.0f, 0.693147182f);
  check_exact(&f_log1p, NAN, NAN);
}

static void test_fastmath_sigmoid_within_2_ulp(void **state)
{
  (void)state;
  // Below 2^-25 sigmoid is 1/2; the result is 1 above 17 and 0 below -104.
  sweep_all(&f_sigmoid, 0x1p-25f, 110.0f, 0);
}

static void test_fastmath_sigmoid_special_values(void **state)
{
  (void)state;
  check_exact(&f_sigmoid, 0.0f, 0.5f);
  check_exact(&f_sigmoid, -0.0f, 0.5f);
  check_exact(&f_sigmoid, INFINITY, 1.0f);
  check_exact(&f_sigmoid, -INFINITY, 0.0f);
  check_exact(&f_sigmoid, 20.0f, 1.0f);
  check_exact(&f_sigmoid, FLT_MAX, 1.0f);
  check_exact(&f_sigmoid, -FLT_MAX, 0.0f);
  check_exact(&f_sigmoid, -103.278931f, 0x1p-149f);
  check_exact(&f_sigmoid, -105.0f, 0.0f);
  check_exact(&f_sigmoid, NAN, NAN);
  check_exact(&f_sigmoid, -NAN, NAN);
}

static void test_fastmath_tanh_within_1_5_ulp(void **state)
{
  (void)state;
  // Below 2^-12 tanh(x) rounds to x, beyond 9.1 to +-1.
  sweep_all(&f_tanh, 0x1p-13f, 10.0f, 0);
}

static void test_fastmath_tanh_special_values(void **state)
{
  (void)state;
  check_exact(&f_tanh, 0.0f, 0.0f);
  check_exact(&f_tanh, -0.0f, -0.0f);
  check_exact(&f_tanh, 0x1p-149f, 0x1p-149f);
  check_exact(&f_tanh, -0x1p-126f, -0x1p-126f);
  check_exact(&f_tanh, 0x1p-13f, 0x1p-13f);
  check_exact(&f_tanh, INFINITY, 1.0f);
  check_exact(&f_tanh, -INFINITY, -1.0f);
  check_exact(&f_tanh, 10.0f, 1.0f);
  check_exact(&f_tanh, -FLT_MAX, -1.0f);
  check_exact(&f_tanh, NAN, NAN);
  // Both sides of the switch from polynomial to exponential at 0.625.
  assert_true(ulp_error(f_tanh.fast(0.625f), tanh(0.625)) <= 1.5);
  assert_true(ulp_error(f_tanh.fast(0.624999940f), tanh(0.624999940)) <= 1.5);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fastmath_exp_within_1_ulp),
      cmocka_unit_test(test_fastmath_exp_special_values),
      cmocka_unit_test(test_fastmath_expm1_within_1_5_ulp),
      cmocka_unit_test(test_fastmath_expm1_special_values),
      cmocka_unit_test(test_fastmath_log1p_within_1_ulp_on_0_1),
      cmocka_unit_test(test_fastmath_sigmoid_within_2_ulp),
      cmocka_unit_test(test_fastmath_sigmoid_special_values),
      cmocka_unit_test(test_fastmath_tanh_within_1_5_ulp),
      cmocka_unit_test(test_fastmath_tanh_special_values),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
