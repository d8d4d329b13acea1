/*
 * test_reduce.c - nn_reduce_forward.
 *
 * x (2, 3, 4) = -2.5, -2.25, ..., 3.25 reduced over the non-contiguous
 * axes (0, 2), keeping axis 1, for every op; goldens from numpy (sum, mean,
 * max, min, prod, sum of squares, abs sum, sqrt of sum of squares, log of
 * sum of exp). Also: two kept axes, three reduced axes, LogSum by hand, LogSumExp near 1000, the identity of
 * each op on an empty reduced space, rank-0 kept and reduced spaces, and
 * NaN propagation of Max/Min.
 */
#include "nn.h"
#include "test.h"

static float x234[24];

static int setup_x(void **state)
{
  (void)state;
  for (int i = 0; i < 24; i++)
    x234[i] = (float)i / 4.0f - 2.5f;
  return 0;
}

// Reduces x234 over axes (0, 2) into y (3).
static void reduce_axes_0_2(float *y, nn_reduce_op op)
{
  const int keep_dims[1] = {3}, keep_strides[1] = {4};
  const int red_dims[2] = {2, 4}, red_strides[2] = {12, 1};
  nn_reduce_forward(y, x234, op, 1, keep_dims, keep_strides, 2, red_dims,
                    red_strides);
}

static void check_axes_0_2(nn_reduce_op op, float w0, float w1, float w2,
                           float tol)
{
  float y[3];
  const float want[3] = {w0, w1, w2};
  reduce_axes_0_2(y, op);
  assert_floats_near(y, want, 3, tol);
}

static void test_reduce_sum_mean_over_non_contiguous_axes(void **state)
{
  (void)state;
  check_axes_0_2(NN_REDUCE_SUM, -5.0f, 3.0f, 11.0f, 1e-6f);
  check_axes_0_2(NN_REDUCE_MEAN, -0.625f, 0.375f, 1.375f, 1e-6f);
}

static void test_reduce_max_min_over_non_contiguous_axes(void **state)
{
  (void)state;
  check_axes_0_2(NN_REDUCE_MAX, 1.25f, 2.25f, 3.25f, 0.0f);
  check_axes_0_2(NN_REDUCE_MIN, -2.5f, -1.5f, -0.5f, 0.0f);
}

static void test_reduce_prod_over_non_contiguous_axes(void **state)
{
  (void)state;
  check_axes_0_2(NN_REDUCE_PROD, 9.22851562f, 16.6113281f, 0.0f, 1e-5f);
}

static void test_reduce_norms_over_non_contiguous_axes(void **state)
{
  (void)state;
  check_axes_0_2(NN_REDUCE_SUM_SQUARE, 21.75f, 19.75f, 33.75f, 1e-5f);
  check_axes_0_2(NN_REDUCE_L1, 12.0f, 12.0f, 12.5f, 1e-6f);
  check_axes_0_2(NN_REDUCE_L2, 4.66368953f, 4.44409721f, 5.80947502f, 1e-6f);
}

static void test_reduce_log_sum_exp_over_non_contiguous_axes(void **state)
{
  (void)state;
  check_axes_0_2(NN_REDUCE_LOG_SUM_EXP, 2.34860376f, 3.34860376f, 4.34860376f,
                 1e-6f);
}

static void test_reduce_middle_axis_keeps_two_axes(void **state)
{
  (void)state;
  // Sum over axis 1 of x (2, 3, 4): y[a, c] = sum_b ((12a + 4b + c)/4 - 2.5)
  // = 9a + 0.75c - 4.5.
  const int keep_dims[2] = {2, 4}, keep_strides[2] = {12, 1};
  const int red_dims[1] = {3}, red_strides[1] = {4};
  float y[8];
  nn_reduce_forward(y, x234, NN_REDUCE_SUM, 2, keep_dims, keep_strides, 1,
                    red_dims, red_strides);
  const float want[8] = {-4.5f, -3.75f, -3.0f, -2.25f, 4.5f, 5.25f, 6.0f, 6.75f};
  assert_floats_near(y, want, 8, 1e-6f);
}

static void test_reduce_three_axes_keeps_last(void **state)
{
  (void)state;
  // x viewed as (2, 3, 2, 2), reduced over its first three axes: the
  // even-indexed and the odd-indexed elements, (132/4 - 30) and (144/4 - 30).
  const int keep_dims[1] = {2}, keep_strides[1] = {1};
  const int red_dims[3] = {2, 3, 2}, red_strides[3] = {12, 4, 2};
  float y[2];
  nn_reduce_forward(y, x234, NN_REDUCE_SUM, 1, keep_dims, keep_strides, 3,
                    red_dims, red_strides);
  const float want[2] = {3.0f, 6.0f};
  assert_floats_near(y, want, 2, 1e-6f);
}

static void test_reduce_log_sum_to_scalar(void **state)
{
  (void)state;
  // log(1 + 2 + 3 + 4) over a (2, 2) x reduced entirely: keep_rank 0.
  const float x[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  const int red_dims[2] = {2, 2}, red_strides[2] = {2, 1};
  float y[1];
  nn_reduce_forward(y, x, NN_REDUCE_LOG_SUM, 0, NULL, NULL, 2, red_dims,
                    red_strides);
  const float want[1] = {2.302585093f};
  assert_floats_near(y, want, 1, 1e-6f);
}

static void test_reduce_log_sum_exp_is_stable_for_large_values(void **state)
{
  (void)state;
  const float x[4] = {1000.0f, 999.0f, 998.0f, 1000.0f};
  const int red_dims[1] = {4}, red_strides[1] = {1};
  float y[1];
  nn_reduce_forward(y, x, NN_REDUCE_LOG_SUM_EXP, 0, NULL, NULL, 1, red_dims,
                    red_strides);
  const float want[1] = {1000.91758f};
  assert_floats_near(y, want, 1, 1e-4f);
}

static void test_reduce_log_sum_exp_of_infinities(void **state)
{
  (void)state;
  // log(exp(-inf) + exp(-inf)) = -inf and log(exp(inf) + e) = inf, where
  // subtracting the max naively would give inf - inf = NaN.
  const float neg[2] = {-INFINITY, -INFINITY}, pos[2] = {INFINITY, 1.0f};
  const int red_dims[1] = {2}, red_strides[1] = {1};
  float y[1];
  nn_reduce_forward(y, neg, NN_REDUCE_LOG_SUM_EXP, 0, NULL, NULL, 1, red_dims,
                    red_strides);
  assert_true(isinf(y[0]) && y[0] < 0.0f);
  nn_reduce_forward(y, pos, NN_REDUCE_LOG_SUM_EXP, 0, NULL, NULL, 1, red_dims,
                    red_strides);
  assert_true(isinf(y[0]) && y[0] > 0.0f);
}

static void test_reduce_keeps_inner_axis(void **state)
{
  (void)state;
  // x (3, 2), reduce axis 0: each output walks a column with stride 2.
  const float x[6] = {1.0f, 10.0f, 2.0f, 20.0f, 3.0f, 30.0f};
  const int keep_dims[1] = {2}, keep_strides[1] = {1};
  const int red_dims[1] = {3}, red_strides[1] = {2};
  float y[2];
  nn_reduce_forward(y, x, NN_REDUCE_SUM, 1, keep_dims, keep_strides, 1, red_dims,
                    red_strides);
  const float want[2] = {6.0f, 60.0f};
  assert_floats_near(y, want, 2, 0.0f);
}

static void test_reduce_empty_space_gives_identity(void **state)
{
  (void)state;
  // x (2, 0): reduce axis 1, keep axis 0 (two outputs each).
  const float x[1] = {123.0f};
  const int keep_dims[1] = {2}, keep_strides[1] = {0};
  const int red_dims[1] = {0}, red_strides[1] = {1};
  float y[2];
  const float zeros[2] = {0.0f, 0.0f}, ones[2] = {1.0f, 1.0f};
  const nn_reduce_op zero_ops[4] = {NN_REDUCE_SUM, NN_REDUCE_SUM_SQUARE,
                                    NN_REDUCE_L1, NN_REDUCE_L2};
  for (int i = 0; i < 4; i++) {
    nn_reduce_forward(y, x, zero_ops[i], 1, keep_dims, keep_strides, 1, red_dims,
                      red_strides);
    assert_floats_near(y, zeros, 2, 0.0f);
  }
  nn_reduce_forward(y, x, NN_REDUCE_PROD, 1, keep_dims, keep_strides, 1, red_dims,
                    red_strides);
  assert_floats_near(y, ones, 2, 0.0f);
  nn_reduce_forward(y, x, NN_REDUCE_MAX, 1, keep_dims, keep_strides, 1, red_dims,
                    red_strides);
  assert_true(isinf(y[0]) && y[0] < 0.0f);
  nn_reduce_forward(y, x, NN_REDUCE_MIN, 1, keep_dims, keep_strides, 1, red_dims,
                    red_strides);
  assert_true(isinf(y[1]) && y[1] > 0.0f);
  nn_reduce_forward(y, x, NN_REDUCE_LOG_SUM, 1, keep_dims, keep_strides, 1,
                    red_dims, red_strides);
  assert_true(isinf(y[0]) && y[0] < 0.0f);
  nn_reduce_forward(y, x, NN_REDUCE_LOG_SUM_EXP, 1, keep_dims, keep_strides, 1,
                    red_dims, red_strides);
  assert_true(isinf(y[1]) && y[1] < 0.0f);
  nn_reduce_forward(y, x, NN_REDUCE_MEAN, 1, keep_dims, keep_strides, 1,
                    red_dims, red_strides);
  assert_true(isnan(y[0]));
}

static void test_reduce_rank0_reduced_space_is_elementwise(void **state)
{
  (void)state;
  // Reducing over no axes: each element is its own reduction.
  const float x[3] = {-3.0f, 0.5f, 2.0f};
  const int keep_dims[1] = {3}, keep_strides[1] = {1};
  float y[3];
  nn_reduce_forward(y, x, NN_REDUCE_SUM_SQUARE, 1, keep_dims, keep_strides, 0,
                    NULL, NULL);
  const float want_sq[3] = {9.0f, 0.25f, 4.0f};
  assert_floats_near(y, want_sq, 3, 0.0f);
  nn_reduce_forward(y, x, NN_REDUCE_L1, 1, keep_dims, keep_strides, 0, NULL,
                    NULL);
  const float want_abs[3] = {3.0f, 0.5f, 2.0f};
  assert_floats_near(y, want_abs, 3, 0.0f);
}

static void test_reduce_max_min_propagate_nan(void **state)
{
  (void)state;
  const float x[3] = {1.0f, NAN, 3.0f};
  const int red_dims[1] = {3}, red_strides[1] = {1};
  float y[1];
  nn_reduce_forward(y, x, NN_REDUCE_MAX, 0, NULL, NULL, 1, red_dims, red_strides);
  assert_true(isnan(y[0]));
  nn_reduce_forward(y, x, NN_REDUCE_MIN, 0, NULL, NULL, 1, red_dims, red_strides);
  assert_true(isnan(y[0]));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_reduce_sum_mean_over_non_contiguous_axes, setup_x),
      cmocka_unit_test_setup(test_reduce_max_min_over_non_contiguous_axes, setup_x),
      cmocka_unit_test_setup(test_reduce_prod_over_non_contiguous_axes, setup_x),
      cmocka_unit_test_setup(test_reduce_norms_over_non_contiguous_axes, setup_x),
      cmocka_unit_test_setup(test_reduce_log_sum_exp_over_non_contiguous_axes, setup_x),
      cmocka_unit_test_setup(test_reduce_middle_axis_keeps_two_axes, setup_x),
      cmocka_unit_test_setup(test_reduce_three_axes_keeps_last, setup_x),
      cmocka_unit_test(test_reduce_log_sum_to_scalar),
      cmocka_unit_test(test_reduce_log_sum_exp_is_stable_for_large_values),
      cmocka_unit_test(test_reduce_log_sum_exp_of_infinities),
      cmocka_unit_test(test_reduce_keeps_inner_axis),
      cmocka_unit_test(test_reduce_empty_space_gives_identity),
      cmocka_unit_test(test_reduce_rank0_reduced_space_is_elementwise),
      cmocka_unit_test(test_reduce_max_min_propagate_nan),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
