/*
 * test_grad_activation.c - nn_act_backward.
 *
 * Every differentiable nn_act kind is checked against central differences
 * of nn_act_forward (grad_check.h: eps 1e-3, |error| <= 1e-3 + 1e-2 *
 * |numeric|), with x sampled away from its kinks and passing only the
 * tensor nn.h says the kind reads (the other is NULL). Floor, Ceil, Sign
 * and Round add nothing. The values at the kinks are PyTorch 1.13's,
 * measured with torch.autograd on the exact boundary values:
 *   relu'(0) = 0, leaky_relu'(0) = alpha, elu'(0) = alpha,
 *   selu'(0) = 1.05070099 * 1.67326324 = 1.75809932, celu'(0) = 1,
 *   hardsigmoid'(-3) = hardsigmoid'(3) = 0, hardswish'(-3) = -0.5,
 *   hardswish'(3) = 1.5, threshold(x, 1, 0)'(1) = 0,
 *   clamp(x, -1, 1)'(-1) = clamp'(1) = 1, abs'(0) = 0.
 * The kinds whose derivative needs an exp are also checked where the exp
 * saturates (0, 1 or +inf, never NaN) and, for Sigmoid and Tanh, read from
 * x against read from y.
 */
#include "nn.h"
#include "grad_check.h"

enum { N = 64 };

typedef enum { READS_NOTHING, READS_X, READS_Y } reads;

typedef struct {
  nn_act act;
  float alpha, beta;
  reads what;
  float x[N], dx[N], y[N];
} act_case;

static void act_fwd(void *ctx, float *out)
{
  act_case *c = ctx;
  nn_act_forward(out, c->x, N, c->act, c->alpha, c->beta);
}

static void act_bwd(void *ctx, const float *dout)
{
  act_case *c = ctx;
  nn_act_forward(c->y, c->x, N, c->act, c->alpha, c->beta);
  nn_act_backward(c->dx, dout, c->what == READS_X ? c->x : NULL,
                  c->what == READS_Y ? c->y : NULL, N, c->act, c->alpha, c->beta);
}

// x uniform in [lo, hi), moved at least 0.05 away from each kink.
static void check_act(nn_act act, float alpha, float beta, reads what, float lo, float hi,
                      const float *kinks, int nkinks)
{
  static act_case c;
  c.act = act;
  c.alpha = alpha;
  c.beta = beta;
  c.what = what;
  gc_fill_uniform(c.x, N, 777u + (uint32_t)act, lo, hi);
  for (int i = 0; i < N; i++)
    for (int k = 0; k < nkinks; k++)
      if (fabsf(c.x[i] - kinks[k]) < 0.05f)
        c.x[i] = kinks[k] + (c.x[i] < kinks[k] ? -0.1f : 0.1f);
  grad_check_case g = {.forward = act_fwd, .backward = act_bwd, .ctx = &c, .out_count = N,
                       .in = {{"dx", c.x, c.dx, N}}, .nin = 1};
  grad_check(&g);
}

static const float at0[1] = {0.0f};

static void test_act_backward_piecewise_linear_kinds(void **state)
{
  (void)state;
  check_act(NN_ACT_NONE, 0.0f, 0.0f, READS_NOTHING, -3.0f, 3.0f, NULL, 0);
  check_act(NN_ACT_RELU, 0.0f, 0.0f, READS_Y, -3.0f, 3.0f, at0, 1);
  check_act(NN_ACT_RELU, 0.0f, 0.0f, READS_X, -3.0f, 3.0f, at0, 1);
  check_act(NN_ACT_LEAKY_RELU, 0.1f, 0.0f, READS_X, -3.0f, 3.0f, at0, 1);
  check_act(NN_ACT_ABS, 0.0f, 0.0f, READS_X, -3.0f, 3.0f, at0, 1);
  check_act(NN_ACT_NEG, 0.0f, 0.0f, READS_NOTHING, -3.0f, 3.0f, NULL, 0);
  check_act(NN_ACT_SCALE_SHIFT, -1.5f, 0.25f, READS_NOTHING, -3.0f, 3.0f, NULL, 0);
  const float thr[1] = {0.7f};
  check_act(NN_ACT_THRESHOLDED_RELU, 0.7f, 0.0f, READS_X, -3.0f, 3.0f, thr, 1);
  const float clip[2] = {-1.0f, 1.5f};
  check_act(NN_ACT_CLIP, -1.0f, 1.5f, READS_X, -3.0f, 3.0f, clip, 2);
  const float hsig[2] = {-2.5f, 2.5f}; // 0.2x + 0.5 reaches 0 and 1
  check_act(NN_ACT_HARD_SIGMOID, 0.2f, 0.5f, READS_X, -4.0f, 4.0f, hsig, 2);
  const float hswish[2] = {-3.0f, 3.0f};
  check_act(NN_ACT_HARD_SWISH, 0.0f, 0.0f, READS_X, -5.0f, 5.0f, hswish, 2);
}

static void test_act_backward_exponential_kinds(void **state)
{
  (void)state;
  check_act(NN_ACT_ELU, 0.7f, 0.0f, READS_X, -3.0f, 3.0f, at0, 1);
  check_act(NN_ACT_SELU, 1.67326324f, 1.05070099f, READS_X, -3.0f, 3.0f, at0, 1);
  check_act(NN_ACT_CELU, 2.0f, 0.0f, READS_X, -3.0f, 3.0f, at0, 1);
  check_act(NN_ACT_SIGMOID, 0.0f, 0.0f, READS_Y, -6.0f, 6.0f, NULL, 0);
  check_act(NN_ACT_SIGMOID, 0.0f, 0.0f, READS_X, -6.0f, 6.0f, NULL, 0);
  check_act(NN_ACT_TANH, 0.0f, 0.0f, READS_Y, -3.0f, 3.0f, NULL, 0);
  check_act(NN_ACT_TANH, 0.0f, 0.0f, READS_X, -3.0f, 3.0f, NULL, 0);
  check_act(NN_ACT_SOFTPLUS, 0.0f, 0.0f, READS_X, -6.0f, 6.0f, NULL, 0);
  check_act(NN_ACT_SOFTSIGN, 0.0f, 0.0f, READS_X, -3.0f, 3.0f, at0, 1);
  check_act(NN_ACT_EXP, 0.0f, 0.0f, READS_X, -3.0f, 3.0f, NULL, 0);
  check_act(NN_ACT_ERF, 0.0f, 0.0f, READS_X, -2.5f, 2.5f, NULL, 0);
}

static void test_act_backward_other_math_kinds(void **state)
{
  (void)state;
  check_act(NN_ACT_LOG, 0.0f, 0.0f, READS_X, 0.2f, 4.0f, NULL, 0);
  check_act(NN_ACT_SQRT, 0.0f, 0.0f, READS_X, 0.2f, 4.0f, NULL, 0);
  check_act(NN_ACT_RECIPROCAL, 0.0f, 0.0f, READS_X, 0.3f, 3.0f, NULL, 0);
  check_act(NN_ACT_RECIPROCAL, 0.0f, 0.0f, READS_X, -3.0f, -0.3f, NULL, 0);
  check_act(NN_ACT_SIN, 0.0f, 0.0f, READS_X, -4.0f, 4.0f, NULL, 0);
  check_act(NN_ACT_COS, 0.0f, 0.0f, READS_X, -4.0f, 4.0f, NULL, 0);
}

static void test_act_backward_step_kinds_add_nothing(void **state)
{
  (void)state;
  // Away from integers (and half-integers for Round) the derivative is 0.
  const float steps[9] = {-2.0f, -1.5f, -1.0f, -0.5f, 0.0f, 0.5f, 1.0f, 1.5f, 2.0f};
  check_act(NN_ACT_FLOOR, 0.0f, 0.0f, READS_NOTHING, -2.0f, 2.0f, steps, 9);
  check_act(NN_ACT_CEIL, 0.0f, 0.0f, READS_NOTHING, -2.0f, 2.0f, steps, 9);
  check_act(NN_ACT_SIGN, 0.0f, 0.0f, READS_NOTHING, -2.0f, 2.0f, steps, 9);
  check_act(NN_ACT_ROUND, 0.0f, 0.0f, READS_NOTHING, -2.0f, 2.0f, steps, 9);
}

// dx for dy = 1 at each x, starting from 0.
static void boundary(nn_act act, float alpha, float beta, const float *x, int n,
                     const float *want)
{
  float y[8], dy[8], dx[8];
  nn_act_forward(y, x, n, act, alpha, beta);
  for (int i = 0; i < n; i++) {
    dy[i] = 1.0f;
    dx[i] = 0.0f;
  }
  nn_act_backward(dx, dy, x, y, n, act, alpha, beta);
  assert_floats_near(dx, want, n, 1e-6f);
}

static void test_act_backward_kinks_match_pytorch(void **state)
{
  (void)state;
  const float zero[2] = {0.0f, -0.0f};
  const float relu[2] = {0.0f, 0.0f}, leaky[2] = {0.1f, 0.1f}, elu[2] = {0.7f, 0.7f};
  boundary(NN_ACT_RELU, 0.0f, 0.0f, zero, 2, relu);
  boundary(NN_ACT_LEAKY_RELU, 0.1f, 0.0f, zero, 2, leaky);
  boundary(NN_ACT_ELU, 0.7f, 0.0f, zero, 2, elu);
  const float selu[1] = {1.75809932f}, one[1] = {1.0f}, none[1] = {0.0f};
  boundary(NN_ACT_SELU, 1.67326319f, 1.05070102f, zero, 1, selu);
  boundary(NN_ACT_CELU, 2.0f, 0.0f, zero, 1, one);
  boundary(NN_ACT_ABS, 0.0f, 0.0f, zero, 1, none);

  const float pm3[3] = {-3.0f, 3.0f, 0.0f};
  const float hsig[3] = {0.0f, 0.0f, 0.166666672f}, hswish[3] = {-0.5f, 1.5f, 0.5f};
  boundary(NN_ACT_HARD_SIGMOID, 1.0f / 6.0f, 0.5f, pm3, 3, hsig);
  boundary(NN_ACT_HARD_SWISH, 0.0f, 0.0f, pm3, 3, hswish);

  const float thr_x[2] = {1.0f, 1.0001f}, thr[2] = {0.0f, 1.0f};
  boundary(NN_ACT_THRESHOLDED_RELU, 1.0f, 0.0f, thr_x, 2, thr);
  const float clip_x[4] = {-1.0f, 1.0f, 1.0001f, -1.0001f}, clip[4] = {1.0f, 1.0f, 0.0f, 0.0f};
  boundary(NN_ACT_CLIP, -1.0f, 1.0f, clip_x, 4, clip);
  const float clip_inverted[3] = {0.0f, 0.0f, 0.0f}; // clamp(x, 1, -1): no gradient
  boundary(NN_ACT_CLIP, 1.0f, -1.0f, clip_x, 3, clip_inverted);
}

// Sigmoid and Tanh from x recompute y with the same function as the forward.
static void test_act_backward_from_x_matches_from_y(void **state)
{
  (void)state;
  const nn_act acts[2] = {NN_ACT_SIGMOID, NN_ACT_TANH};
  float x[N], y[N], dy[N], from_x[N], from_y[N];
  gc_fill_uniform(x, N, 99u, -12.0f, 12.0f);
  gc_fill_uniform(dy, N, 98u, -1.0f, 1.0f);
  for (int k = 0; k < 2; k++) {
    nn_act_forward(y, x, N, acts[k], 0.0f, 0.0f);
    for (int i = 0; i < N; i++)
      from_x[i] = from_y[i] = 0.0f;
    nn_act_backward(from_x, dy, x, NULL, N, acts[k], 0.0f, 0.0f);
    nn_act_backward(from_y, dy, NULL, y, N, acts[k], 0.0f, 0.0f);
    assert_floats_near(from_x, from_y, N, 0.0f);
  }
}

// Far out, exp(x) is 0 or +inf and the gradient its limit: no NaN from an
// unused side (Elu at x > 0 must not multiply dy by e^x = inf).
static void test_act_backward_saturates_without_nan(void **state)
{
  (void)state;
  const float x[6] = {-1e30f, -200.0f, -90.0f, 90.0f, 200.0f, 1e30f};
  const float dy[6] = {1.0f, 1.0f, 1.0f, 1.0f, 1.0f, 1.0f};
  const struct {
    nn_act act;
    float alpha, beta;
    float want[6];
  } cases[] = {
      {NN_ACT_ELU, 0.7f, 0.0f, {0.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f}},
      {NN_ACT_SELU, 1.67326319f, 1.05070102f,
       {0.0f, 0.0f, 0.0f, 1.05070102f, 1.05070102f, 1.05070102f}},
      {NN_ACT_CELU, 0.5f, 0.0f, {0.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f}},
      {NN_ACT_SIGMOID, 0.0f, 0.0f, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}},
      {NN_ACT_TANH, 0.0f, 0.0f, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}},
      {NN_ACT_SOFTPLUS, 0.0f, 0.0f, {0.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f}},
      {NN_ACT_EXP, 0.0f, 0.0f, {0.0f, 0.0f, 0.0f, INFINITY, INFINITY, INFINITY}},
      {NN_ACT_ERF, 0.0f, 0.0f, {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f}},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    float dx[6] = {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f};
    nn_act_backward(dx, dy, x, NULL, 6, cases[k].act, cases[k].alpha, cases[k].beta);
    for (int i = 0; i < 6; i++) {
      float want = cases[k].want[i];
      if (!(dx[i] == want || fabsf(dx[i] - want) <= 1e-30f))
        fail_msg("act %d, x = %g: dx = %g, want %g", (int)cases[k].act, (double)x[i],
                 (double)dx[i], (double)want);
    }
  }
}

static void test_act_backward_null_dx_is_a_no_op(void **state)
{
  (void)state;
  const float x[2] = {1.0f, -1.0f}, dy[2] = {1.0f, 1.0f};
  nn_act_backward(NULL, dy, x, NULL, 2, NN_ACT_EXP, 0.0f, 0.0f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_act_backward_piecewise_linear_kinds),
      cmocka_unit_test(test_act_backward_exponential_kinds),
      cmocka_unit_test(test_act_backward_other_math_kinds),
      cmocka_unit_test(test_act_backward_step_kinds_add_nothing),
      cmocka_unit_test(test_act_backward_kinks_match_pytorch),
      cmocka_unit_test(test_act_backward_from_x_matches_from_y),
      cmocka_unit_test(test_act_backward_saturates_without_nan),
      cmocka_unit_test(test_act_backward_null_dx_is_a_no_op),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
