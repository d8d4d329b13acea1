/*
 * test_activation.c - nn_act_forward, one test per activation kind.
 *
 * Goldens come from numpy in double precision (np.exp, np.tanh, math.erf,
 * ...) on the inputs below, or are worked by hand; they do not come from
 * this runtime. Sigmoid, softplus, tanh and softsign are also checked far
 * outside the range where a naive formula overflows.
 *
 * The kinds computed with fastmath.h's exp (Exp, Sigmoid, Tanh, Elu, Selu,
 * Celu, Softplus) are also swept over many floats against double-precision
 * libm, in ulp, and checked at NaN, +-inf and -0.
 */
#include "nn.h"
#include "test.h"

#include <string.h>

#define N 7
static const float xs[N] = {-3.0f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 3.0f};

// Applies act to x (n values) and compares with want.
static void check(nn_act act, float alpha, float beta, const float *x,
                  const float *want, int n, float tol)
{
  float y[16];
  nn_act_forward(y, x, n, act, alpha, beta);
  assert_floats_near(y, want, n, tol);
}

static void test_act_none_copies(void **state)
{
  (void)state;
  check(NN_ACT_NONE, 0.0f, 0.0f, xs, xs, N, 0.0f);
}

static void test_act_relu_clamps_negatives(void **state)
{
  (void)state;
  const float want[N] = {0.0f, 0.0f, 0.0f, 0.0f, 0.5f, 1.0f, 3.0f};
  check(NN_ACT_RELU, 0.0f, 0.0f, xs, want, N, 0.0f);
}

static void test_act_relu_keeps_nan(void **state)
{
  (void)state;
  float x = NAN, y = 0.0f;
  nn_act_forward(&y, &x, 1, NN_ACT_RELU, 0.0f, 0.0f);
  assert_true(isnan(y));
}

static void test_act_leaky_relu_scales_negatives_by_alpha(void **state)
{
  (void)state;
  const float want[N] = {-0.3f, -0.1f, -0.05f, 0.0f, 0.5f, 1.0f, 3.0f};
  check(NN_ACT_LEAKY_RELU, 0.1f, 0.0f, xs, want, N, 1e-7f);
}

static void test_act_elu_uses_alpha(void **state)
{
  (void)state;
  const float want[N] = {-1.90042586f, -1.26424112f, -0.786938681f, 0.0f,
                         0.5f,         1.0f,         3.0f};
  check(NN_ACT_ELU, 2.0f, 0.0f, xs, want, N, 1e-6f);
}

static void test_act_selu_uses_alpha_and_gamma_in_beta(void **state)
{
  (void)state;
  // ONNX defaults: alpha = 1.67326319..., gamma = 1.05070102...
  const float want[N] = {-1.67056873f, -1.11133074f, -0.691758188f, 0.0f,
                         0.525350494f, 1.05070099f,  3.15210296f};
  check(NN_ACT_SELU, 1.67326319217681884765625f, 1.05070102214813232421875f,
        xs, want, N, 1e-6f);
}

static void test_act_celu_uses_alpha(void **state)
{
  (void)state;
  const float want[N] = {-0.498760624f, -0.432332358f, -0.316060279f, 0.0f,
                         0.5f,          1.0f,          3.0f};
  check(NN_ACT_CELU, 0.5f, 0.0f, xs, want, N, 1e-6f);
}

static void test_act_sigmoid_matches_definition(void **state)
{
  (void)state;
  const float want[N] = {0.0474258732f, 0.268941421f, 0.377540669f, 0.5f,
                         0.622459331f,  0.731058579f, 0.952574127f};
  check(NN_ACT_SIGMOID, 0.0f, 0.0f, xs, want, N, 1e-6f);
}

static void test_act_sigmoid_is_finite_for_huge_inputs(void **state)
{
  (void)state;
  const float x[8] = {-1e30f, -1e4f, -100.0f, -88.5f, 88.5f, 100.0f, 1e4f, 1e30f};
  const float want[8] = {0.0f, 0.0f, 3.72007598e-44f, 3.67230168e-39f,
                         1.0f, 1.0f, 1.0f,            1.0f};
  float y[8];
  nn_act_forward(y, x, 8, NN_ACT_SIGMOID, 0.0f, 0.0f);
  assert_floats_near(y, want, 8, 1e-7f);
  for (int i = 0; i < 8; i++)
    assert_true(isfinite(y[i]));
}

static void test_act_sigmoid_keeps_precision_in_negative_tail(void **state)
{
  (void)state;
  // 1/(1 + exp(-x)) would round these to 0 or lose digits; exp(x)/(1 + exp(x))
  // keeps them to a relative 1e-5 (-100 is a float subnormal, so 1e-3).
  const float x[3] = {-100.0f, -88.5f, -30.0f};
  const float want[3] = {3.72007598e-44f, 3.67230168e-39f, 9.35762297e-14f};
  float y[3];
  nn_act_forward(y, x, 3, NN_ACT_SIGMOID, 0.0f, 0.0f);
  assert_true(fabsf(y[0] - want[0]) <= 1e-3f * want[0]);
  assert_true(fabsf(y[1] - want[1]) <= 1e-5f * want[1]);
  assert_true(fabsf(y[2] - want[2]) <= 1e-5f * want[2]);
}

static void test_act_hard_sigmoid_uses_alpha_and_beta(void **state)
{
  (void)state;
  const float want[N] = {0.0f, 0.3f, 0.4f, 0.5f, 0.6f, 0.7f, 1.0f};
  check(NN_ACT_HARD_SIGMOID, 0.2f, 0.5f, xs, want, N, 1e-6f);
}

static void test_act_tanh_matches_definition(void **state)
{
  (void)state;
  const float want[N] = {-0.995054754f, -0.761594156f, -0.462117157f, 0.0f,
                         0.462117157f,  0.761594156f,  0.995054754f};
  check(NN_ACT_TANH, 0.0f, 0.0f, xs, want, N, 1e-6f);
}

static void test_act_tanh_saturates_for_huge_inputs(void **state)
{
  (void)state;
  const float x[4] = {-1e30f, -100.0f, 100.0f, 1e30f};
  const float want[4] = {-1.0f, -1.0f, 1.0f, 1.0f};
  check(NN_ACT_TANH, 0.0f, 0.0f, x, want, 4, 0.0f);
}

static void test_act_softplus_matches_definition(void **state)
{
  (void)state;
  const float want[N] = {0.0485873516f, 0.313261688f, 0.474076984f, 0.693147181f,
                         0.974076984f,  1.31326169f,  3.04858735f};
  check(NN_ACT_SOFTPLUS, 0.0f, 0.0f, xs, want, N, 1e-6f);
}

static void test_act_softplus_is_x_for_huge_inputs(void **state)
{
  (void)state;
  const float x[8] = {-1e30f, -1e4f, -100.0f, -88.5f, 88.5f, 100.0f, 1e4f, 1e30f};
  const float want[8] = {0.0f,  0.0f,   3.72007598e-44f, 3.67230168e-39f,
                         88.5f, 100.0f, 1e4f,            1e30f};
  float y[8];
  nn_act_forward(y, x, 8, NN_ACT_SOFTPLUS, 0.0f, 0.0f);
  assert_floats_near(y, want, 8, 1e-7f);
  for (int i = 0; i < 8; i++)
    assert_true(isfinite(y[i]));
}

static void test_act_softsign_matches_definition(void **state)
{
  (void)state;
  const float want[N] = {-0.75f, -0.5f, -0.333333333f, 0.0f,
                         0.333333333f, 0.5f, 0.75f};
  check(NN_ACT_SOFTSIGN, 0.0f, 0.0f, xs, want, N, 1e-7f);
}

static void test_act_softsign_is_finite_for_huge_inputs(void **state)
{
  (void)state;
  const float x[4] = {-1e30f, -1e4f, 1e4f, 1e30f};
  const float want[4] = {-1.0f, -0.99990001f, 0.99990001f, 1.0f};
  check(NN_ACT_SOFTSIGN, 0.0f, 0.0f, x, want, 4, 1e-7f);
}

static void test_act_hard_swish_matches_definition(void **state)
{
  (void)state;
  // x * clamp(x/6 + 1/2, 0, 1): 0 below -3, x above 3.
  const float x[N] = {-4.0f, -3.0f, -1.5f, 0.0f, 1.5f, 3.0f, 4.0f};
  const float want[N] = {0.0f, 0.0f, -0.375f, 0.0f, 1.125f, 3.0f, 4.0f};
  check(NN_ACT_HARD_SWISH, 0.0f, 0.0f, x, want, N, 1e-7f);
}

static void test_act_thresholded_relu_uses_alpha(void **state)
{
  (void)state;
  // x > alpha keeps x; x == alpha (1.0) gives 0.
  const float want[N] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 3.0f};
  check(NN_ACT_THRESHOLDED_RELU, 1.0f, 0.0f, xs, want, N, 0.0f);
}

static void test_act_clip_uses_alpha_as_min_and_beta_as_max(void **state)
{
  (void)state;
  const float want[N] = {-0.5f, -0.5f, -0.5f, 0.0f, 0.5f, 1.0f, 1.0f};
  check(NN_ACT_CLIP, -0.5f, 1.0f, xs, want, N, 0.0f);
}

static void test_act_clip_with_min_above_max_gives_max(void **state)
{
  (void)state;
  // min(max(x, 2), 1) = 1 for every x.
  const float want[N] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  check(NN_ACT_CLIP, 2.0f, 1.0f, xs, want, N, 0.0f);
}

static void test_act_clip_keeps_nan(void **state)
{
  (void)state;
  const float x[1] = {NAN};
  float y[1];
  nn_act_forward(y, x, 1, NN_ACT_CLIP, -1.0f, 1.0f);
  assert_true(isnan(y[0]));
}

static void test_act_abs_and_neg(void **state)
{
  (void)state;
  const float want_abs[N] = {3.0f, 1.0f, 0.5f, 0.0f, 0.5f, 1.0f, 3.0f};
  const float want_neg[N] = {3.0f, 1.0f, 0.5f, 0.0f, -0.5f, -1.0f, -3.0f};
  check(NN_ACT_ABS, 0.0f, 0.0f, xs, want_abs, N, 0.0f);
  check(NN_ACT_NEG, 0.0f, 0.0f, xs, want_neg, N, 0.0f);
}

static void test_act_exp_matches_definition(void **state)
{
  (void)state;
  const float want[N] = {0.0497870684f, 0.367879441f, 0.60653066f, 1.0f,
                         1.64872127f,   2.71828183f,  20.0855369f};
  check(NN_ACT_EXP, 0.0f, 0.0f, xs, want, N, 2e-6f);
}

static void test_act_log_sqrt_reciprocal_match_definitions(void **state)
{
  (void)state;
  const float x[N] = {0.25f, 0.5f, 1.0f, 2.0f, 4.0f, 9.0f, 100.0f};
  const float want_log[N] = {-1.38629436f, -0.693147181f, 0.0f, 0.693147181f,
                             1.38629436f,  2.19722458f,   4.60517019f};
  const float want_sqrt[N] = {0.5f, 0.707106781f, 1.0f, 1.41421356f,
                              2.0f, 3.0f,         10.0f};
  const float want_recip[N] = {4.0f, 2.0f, 1.0f, 0.5f, 0.25f, 0.111111111f, 0.01f};
  check(NN_ACT_LOG, 0.0f, 0.0f, x, want_log, N, 1e-6f);
  check(NN_ACT_SQRT, 0.0f, 0.0f, x, want_sqrt, N, 1e-6f);
  check(NN_ACT_RECIPROCAL, 0.0f, 0.0f, x, want_recip, N, 1e-7f);
}

static void test_act_erf_matches_definition(void **state)
{
  (void)state;
  const float want[N] = {-0.99997791f, -0.842700793f, -0.520499878f, 0.0f,
                         0.520499878f, 0.842700793f,  0.99997791f};
  check(NN_ACT_ERF, 0.0f, 0.0f, xs, want, N, 1e-6f);
}

static void test_act_floor_and_ceil(void **state)
{
  (void)state;
  const float x[6] = {-1.5f, -1.0f, -0.2f, 0.2f, 1.0f, 1.5f};
  const float want_floor[6] = {-2.0f, -1.0f, -1.0f, 0.0f, 1.0f, 1.0f};
  const float want_ceil[6] = {-1.0f, -1.0f, 0.0f, 1.0f, 1.0f, 2.0f};
  check(NN_ACT_FLOOR, 0.0f, 0.0f, x, want_floor, 6, 0.0f);
  check(NN_ACT_CEIL, 0.0f, 0.0f, x, want_ceil, 6, 0.0f);
}

static void test_act_sin_and_cos(void **state)
{
  (void)state;
  const float want_sin[N] = {-0.141120008f, -0.841470985f, -0.479425539f, 0.0f,
                             0.479425539f,  0.841470985f,  0.141120008f};
  const float want_cos[N] = {-0.989992497f, 0.540302306f, 0.877582562f, 1.0f,
                             0.877582562f,  0.540302306f, -0.989992497f};
  check(NN_ACT_SIN, 0.0f, 0.0f, xs, want_sin, N, 1e-6f);
  check(NN_ACT_COS, 0.0f, 0.0f, xs, want_cos, N, 1e-6f);
}

static void test_act_sign_gives_minus_one_zero_one(void **state)
{
  (void)state;
  const float want[N] = {-1.0f, -1.0f, -1.0f, 0.0f, 1.0f, 1.0f, 1.0f};
  check(NN_ACT_SIGN, 0.0f, 0.0f, xs, want, N, 0.0f);
}

static void test_act_round_halves_to_even(void **state)
{
  (void)state;
  // The ONNX spec's examples plus both signs of each half.
  const float x[10] = {0.9f, 2.5f, 2.3f, 1.5f, -4.5f, 0.5f, -0.5f, -1.5f, 3.5f, -2.7f};
  const float want[10] = {1.0f, 2.0f, 2.0f, 2.0f, -4.0f, 0.0f, 0.0f, -2.0f, 4.0f, -3.0f};
  check(NN_ACT_ROUND, 0.0f, 0.0f, x, want, 10, 0.0f);
}

static void test_act_scale_shift_uses_alpha_and_beta(void **state)
{
  (void)state;
  const float want[N] = {-7.0f, -3.0f, -2.0f, -1.0f, 0.0f, 1.0f, 5.0f};
  check(NN_ACT_SCALE_SHIFT, 2.0f, -1.0f, xs, want, N, 0.0f);
}


// The exact function of each swept kind, with the float attributes the
// kernel gets.
static double exact(nn_act act, double x, double alpha, double beta)
{
  switch (act) {
  case NN_ACT_EXP:
    return exp(x);
  case NN_ACT_SIGMOID:
    return 1.0 / (1.0 + exp(-x));
  case NN_ACT_TANH:
    return tanh(x);
  case NN_ACT_ELU:
    return x < 0.0 ? alpha * expm1(x) : x;
  case NN_ACT_SELU:
    return beta * (x <= 0.0 ? alpha * expm1(x) : x);
  case NN_ACT_CELU:
    return x < 0.0 ? alpha * expm1(x / alpha) : x;
  case NN_ACT_SOFTPLUS:
    return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
  default:
    return (double)NAN;
  }
}

// Every 4093rd float of magnitude up to hi, both signs, through
// nn_act_forward in blocks; fails at the worst x if it is above bound ulp.
static void sweep(nn_act act, float alpha, float beta, float hi, double bound)
{
  enum { BLOCK = 4096 };
  static float x[BLOCK], y[BLOCK];
  uint32_t last;
  memcpy(&last, &hi, sizeof last);
  double worst = 0.0;
  float worst_x = 0.0f;
  for (uint32_t sign = 0; sign <= 1; sign++) {
    for (uint64_t u = 0; u <= last;) {
      int n = 0;
      for (; n < BLOCK && u <= last; n++, u += 4093) {
        uint32_t bits = (uint32_t)u | sign << 31;
        memcpy(&x[n], &bits, sizeof bits);
      }
      nn_act_forward(y, x, n, act, alpha, beta);
      for (int i = 0; i < n; i++) {
        double e = ulp_error(y[i], exact(act, (double)x[i], (double)alpha, (double)beta));
        if (e > worst) {
          worst = e;
          worst_x = x[i];
        }
      }
    }
  }
  if (!(worst <= bound))
    fail_msg("act %d: %.3f ulp at x = %a, bound %.1f", (int)act, worst, (double)worst_x,
             bound);
}

static void test_act_exp_kinds_within_their_ulp_bounds(void **state)
{
  (void)state;
  // Bounds from fastmath.h plus the roundings the kernel adds (alpha *,
  // beta *, x / alpha); the exhaustive maxima are in activation.c.
  sweep(NN_ACT_EXP, 0.0f, 0.0f, 110.0f, 1.0);
  sweep(NN_ACT_SIGMOID, 0.0f, 0.0f, 110.0f, 2.0);
  sweep(NN_ACT_TANH, 0.0f, 0.0f, 12.0f, 1.5);
  sweep(NN_ACT_ELU, 0.7f, 0.0f, 110.0f, 2.0);
  sweep(NN_ACT_SELU, 1.67326319217681884765625f, 1.05070102214813232421875f, 110.0f, 2.5);
  sweep(NN_ACT_CELU, 0.6f, 0.0f, 110.0f, 2.0);
  sweep(NN_ACT_SOFTPLUS, 0.0f, 0.0f, 110.0f, 2.0);
}

static void test_act_exp_kinds_at_nan_inf_and_signed_zero(void **state)
{
  (void)state;
  const float x[5] = {NAN, -INFINITY, INFINITY, -0.0f, 0.0f};
  const nn_act acts[7] = {NN_ACT_EXP, NN_ACT_SIGMOID, NN_ACT_TANH, NN_ACT_ELU,
                          NN_ACT_SELU, NN_ACT_CELU, NN_ACT_SOFTPLUS};
  const float want[7][5] = {
      {NAN, 0.0f, INFINITY, 1.0f, 1.0f},                   // exp
      {NAN, 0.0f, 1.0f, 0.5f, 0.5f},                       // sigmoid
      {NAN, -1.0f, 1.0f, -0.0f, 0.0f},                     // tanh
      {NAN, -0.7f, INFINITY, -0.0f, 0.0f},                 // elu, alpha 0.7
      {NAN, -1.75809932f, INFINITY, -0.0f, 0.0f},          // selu, ONNX defaults
      {NAN, -0.7f, INFINITY, -0.0f, 0.0f},                 // celu, alpha 0.7
      {NAN, 0.0f, INFINITY, 0.693147182f, 0.693147182f}};  // softplus
  for (int k = 0; k < 7; k++) {
    float alpha = acts[k] == NN_ACT_SELU ? 1.67326319217681884765625f : 0.7f;
    float beta = acts[k] == NN_ACT_SELU ? 1.05070102214813232421875f : 0.0f;
    float y[5];
    nn_act_forward(y, x, 5, acts[k], alpha, beta);
    for (int i = 0; i < 5; i++) {
      if (isnan(want[k][i]))
        assert_true(isnan(y[i]));
      else if (!(y[i] == want[k][i] || fabsf(y[i] - want[k][i]) <= 1e-7f) ||
               signbit(y[i]) != signbit(want[k][i]))
        fail_msg("act %d, x = %g: got %.9g, want %.9g", (int)acts[k], (double)x[i],
                 (double)y[i], (double)want[k][i]);
    }
  }
}

static void test_act_works_in_place(void **state)
{
  (void)state;
  float x[N];
  for (int i = 0; i < N; i++)
    x[i] = xs[i];
  const float want[N] = {0.0474258732f, 0.268941421f, 0.377540669f, 0.5f,
                         0.622459331f,  0.731058579f, 0.952574127f};
  nn_act_forward(x, x, N, NN_ACT_SIGMOID, 0.0f, 0.0f);
  assert_floats_near(x, want, N, 1e-6f);
}

static void test_act_count_zero_writes_nothing(void **state)
{
  (void)state;
  const float x[1] = {1.0f}, want[1] = {42.0f};
  float y[1] = {42.0f};
  nn_act_forward(y, x, 0, NN_ACT_EXP, 0.0f, 0.0f);
  assert_floats_near(y, want, 1, 0.0f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_act_none_copies),
      cmocka_unit_test(test_act_relu_clamps_negatives),
      cmocka_unit_test(test_act_relu_keeps_nan),
      cmocka_unit_test(test_act_leaky_relu_scales_negatives_by_alpha),
      cmocka_unit_test(test_act_elu_uses_alpha),
      cmocka_unit_test(test_act_selu_uses_alpha_and_gamma_in_beta),
      cmocka_unit_test(test_act_celu_uses_alpha),
      cmocka_unit_test(test_act_sigmoid_matches_definition),
      cmocka_unit_test(test_act_sigmoid_is_finite_for_huge_inputs),
      cmocka_unit_test(test_act_sigmoid_keeps_precision_in_negative_tail),
      cmocka_unit_test(test_act_hard_sigmoid_uses_alpha_and_beta),
      cmocka_unit_test(test_act_tanh_matches_definition),
      cmocka_unit_test(test_act_tanh_saturates_for_huge_inputs),
      cmocka_unit_test(test_act_softplus_matches_definition),
      cmocka_unit_test(test_act_softplus_is_x_for_huge_inputs),
      cmocka_unit_test(test_act_softsign_matches_definition),
      cmocka_unit_test(test_act_softsign_is_finite_for_huge_inputs),
      cmocka_unit_test(test_act_hard_swish_matches_definition),
      cmocka_unit_test(test_act_thresholded_relu_uses_alpha),
      cmocka_unit_test(test_act_clip_uses_alpha_as_min_and_beta_as_max),
      cmocka_unit_test(test_act_clip_with_min_above_max_gives_max),
      cmocka_unit_test(test_act_clip_keeps_nan),
      cmocka_unit_test(test_act_abs_and_neg),
      cmocka_unit_test(test_act_exp_matches_definition),
      cmocka_unit_test(test_act_log_sqrt_reciprocal_match_definitions),
      cmocka_unit_test(test_act_erf_matches_definition),
      cmocka_unit_test(test_act_floor_and_ceil),
      cmocka_unit_test(test_act_sin_and_cos),
      cmocka_unit_test(test_act_sign_gives_minus_one_zero_one),
      cmocka_unit_test(test_act_round_halves_to_even),
      cmocka_unit_test(test_act_scale_shift_uses_alpha_and_beta),
      cmocka_unit_test(test_act_exp_kinds_within_their_ulp_bounds),
      cmocka_unit_test(test_act_exp_kinds_at_nan_inf_and_signed_zero),
      cmocka_unit_test(test_act_works_in_place),
      cmocka_unit_test(test_act_count_zero_writes_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
