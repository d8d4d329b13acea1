/*
 * test_binary.c - nn_binary_forward: every op, the three rank-1 fast paths
 * ((1,1), (1,0), (0,1) strides), a general stride, broadcasting at ranks 2
 * and 3, rank 0, an empty dim, NaN propagation of Min/Max, PRelu with a
 * per-channel slope, and in-place use. Expected values are worked by hand.
 */
#include "nn.h"
#include "test.h"

static const int dense1[1] = {1};
static const int bcast1[1] = {0};

// y = a op b elementwise over n contiguous values.
static void check_dense(nn_binop op, const float *a, const float *b,
                        const float *want, int n, float tol)
{
  float y[8];
  const int dims[1] = {n};
  nn_binary_forward(y, a, b, op, 1, dims, dense1, dense1);
  assert_floats_near(y, want, n, tol);
}

static const float a4[4] = {1.0f, -2.0f, 3.0f, -4.0f};
static const float b4[4] = {2.0f, 4.0f, -1.0f, 0.5f};

static void test_binary_add_sub_mul_div_elementwise(void **state)
{
  (void)state;
  const float add[4] = {3.0f, 2.0f, 2.0f, -3.5f};
  const float sub[4] = {-1.0f, -6.0f, 4.0f, -4.5f};
  const float mul[4] = {2.0f, -8.0f, -3.0f, -2.0f};
  const float div[4] = {0.5f, -0.5f, -3.0f, -8.0f};
  check_dense(NN_ADD, a4, b4, add, 4, 0.0f);
  check_dense(NN_SUB, a4, b4, sub, 4, 0.0f);
  check_dense(NN_MUL, a4, b4, mul, 4, 0.0f);
  check_dense(NN_DIV, a4, b4, div, 4, 0.0f);
}

static void test_binary_min_max_elementwise(void **state)
{
  (void)state;
  const float min[4] = {1.0f, -2.0f, -1.0f, -4.0f};
  const float max[4] = {2.0f, 4.0f, 3.0f, 0.5f};
  check_dense(NN_MIN, a4, b4, min, 4, 0.0f);
  check_dense(NN_MAX, a4, b4, max, 4, 0.0f);
}

static void test_binary_min_max_propagate_nan(void **state)
{
  (void)state;
  const float a[2] = {NAN, 1.0f};
  const float b[2] = {1.0f, NAN};
  float y[2];
  const int dims[1] = {2};
  nn_binary_forward(y, a, b, NN_MIN, 1, dims, dense1, dense1);
  assert_true(isnan(y[0]));
  assert_true(isnan(y[1]));
  nn_binary_forward(y, a, b, NN_MAX, 1, dims, dense1, dense1);
  assert_true(isnan(y[0]));
  assert_true(isnan(y[1]));
}

static void test_binary_pow_elementwise(void **state)
{
  (void)state;
  const float a[4] = {2.0f, 4.0f, 9.0f, -2.0f};
  const float b[4] = {3.0f, 0.5f, -0.5f, 2.0f};
  const float want[4] = {8.0f, 2.0f, 0.333333333f, 4.0f};
  check_dense(NN_POW, a, b, want, 4, 1e-6f);
}

static void test_binary_prelu_scales_only_negatives(void **state)
{
  (void)state;
  const float a[4] = {-2.0f, -1.0f, 0.0f, 3.0f};
  const float b[4] = {0.5f, 0.25f, 2.0f, 2.0f};
  const float want[4] = {-1.0f, -0.25f, 0.0f, 3.0f};
  check_dense(NN_PRELU, a, b, want, 4, 0.0f);
}

static void test_binary_broadcasts_scalar_b(void **state)
{
  (void)state;
  // Strides (1, 0): a - 4 and a / 4, then the non-arithmetic ops.
  const float a[3] = {1.0f, 2.0f, 8.0f};
  const float b = 4.0f;
  const int dims[1] = {3};
  float y[3];
  nn_binary_forward(y, a, &b, NN_SUB, 1, dims, dense1, bcast1);
  const float sub[3] = {-3.0f, -2.0f, 4.0f};
  assert_floats_near(y, sub, 3, 0.0f);
  nn_binary_forward(y, a, &b, NN_DIV, 1, dims, dense1, bcast1);
  const float div[3] = {0.25f, 0.5f, 2.0f};
  assert_floats_near(y, div, 3, 0.0f);
  nn_binary_forward(y, a, &b, NN_MIN, 1, dims, dense1, bcast1);
  const float min[3] = {1.0f, 2.0f, 4.0f};
  assert_floats_near(y, min, 3, 0.0f);
  nn_binary_forward(y, a, &b, NN_ADD, 1, dims, dense1, bcast1);
  const float add[3] = {5.0f, 6.0f, 12.0f};
  assert_floats_near(y, add, 3, 0.0f);
  nn_binary_forward(y, a, &b, NN_MUL, 1, dims, dense1, bcast1);
  const float mul[3] = {4.0f, 8.0f, 32.0f};
  assert_floats_near(y, mul, 3, 0.0f);
}

static void test_binary_broadcasts_scalar_a(void **state)
{
  (void)state;
  // Strides (0, 1): 10 - b and 10 / b keep the operand order.
  const float a = 10.0f;
  const float b[3] = {1.0f, 2.0f, 20.0f};
  const int dims[1] = {3};
  float y[3];
  nn_binary_forward(y, &a, b, NN_SUB, 1, dims, bcast1, dense1);
  const float sub[3] = {9.0f, 8.0f, -10.0f};
  assert_floats_near(y, sub, 3, 0.0f);
  nn_binary_forward(y, &a, b, NN_DIV, 1, dims, bcast1, dense1);
  const float div[3] = {10.0f, 5.0f, 0.5f};
  assert_floats_near(y, div, 3, 0.0f);
  nn_binary_forward(y, &a, b, NN_MAX, 1, dims, bcast1, dense1);
  const float max[3] = {10.0f, 10.0f, 20.0f};
  assert_floats_near(y, max, 3, 0.0f);
  nn_binary_forward(y, &a, b, NN_POW, 1, dims, bcast1, dense1);
  const float pow[3] = {10.0f, 100.0f, 1e20f};
  assert_floats_near(y, pow, 3, 1e14f);
  nn_binary_forward(y, &a, b, NN_ADD, 1, dims, bcast1, dense1);
  const float add[3] = {11.0f, 12.0f, 30.0f};
  assert_floats_near(y, add, 3, 0.0f);
  nn_binary_forward(y, &a, b, NN_MUL, 1, dims, bcast1, dense1);
  const float mul[3] = {10.0f, 20.0f, 200.0f};
  assert_floats_near(y, mul, 3, 0.0f);
}

static void test_binary_general_strides(void **state)
{
  (void)state;
  // a read every other element, b backwards through a negative stride.
  const float a[5] = {1.0f, -1.0f, 2.0f, -1.0f, 3.0f};
  const float b[3] = {10.0f, 20.0f, 30.0f};
  const int dims[1] = {3}, as[1] = {2}, bs[1] = {-1};
  float y[3];
  nn_binary_forward(y, a, b + 2, NN_SUB, 1, dims, as, bs);
  const float want[3] = {-29.0f, -18.0f, -7.0f};
  assert_floats_near(y, want, 3, 0.0f);
}

static void test_binary_broadcasts_column_and_row_rank2(void **state)
{
  (void)state;
  // a (3, 1) + b (1, 4) -> y (3, 4).
  const float a[3] = {0.0f, 10.0f, 20.0f};
  const float b[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  const int dims[2] = {3, 4}, as[2] = {1, 0}, bs[2] = {0, 1};
  float y[12];
  nn_binary_forward(y, a, b, NN_ADD, 2, dims, as, bs);
  const float want[12] = {1, 2, 3, 4, 11, 12, 13, 14, 21, 22, 23, 24};
  assert_floats_near(y, want, 12, 0.0f);
}

static void test_binary_broadcasts_rank3(void **state)
{
  (void)state;
  // a (2, 1, 3) * b (1, 2, 1) -> y (2, 2, 3).
  const float a[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const float b[2] = {10.0f, 100.0f};
  const int dims[3] = {2, 2, 3}, as[3] = {3, 0, 1}, bs[3] = {0, 1, 0};
  float y[12];
  nn_binary_forward(y, a, b, NN_MUL, 3, dims, as, bs);
  const float want[12] = {10,  20,  30,  100, 200, 300,
                          40,  50,  60,  400, 500, 600};
  assert_floats_near(y, want, 12, 0.0f);
}

static void test_binary_rank3_with_transposed_operand(void **state)
{
  (void)state;
  // y[i, j, l] = a[l, j, i] - b[i, j, l] for a, b (2, 2, 2): a is read
  // through the strides of its transpose.
  const float a[8] = {0, 1, 2, 3, 4, 5, 6, 7};
  const float b[8] = {0, 10, 20, 30, 40, 50, 60, 70};
  const int dims[3] = {2, 2, 2}, as[3] = {1, 2, 4}, bs[3] = {4, 2, 1};
  float y[8];
  nn_binary_forward(y, a, b, NN_SUB, 3, dims, as, bs);
  // a[l, j, i] = 4l + 2j + i.
  const float want[8] = {0 - 0,  4 - 10, 2 - 20, 6 - 30,
                         1 - 40, 5 - 50, 3 - 60, 7 - 70};
  assert_floats_near(y, want, 8, 0.0f);
}

static void test_binary_prelu_broadcasts_channel_slope(void **state)
{
  (void)state;
  // x (1, 2, 2, 2) with slope (2, 1, 1), merged to dims (2, 4).
  const float x[8] = {-1.0f, 2.0f, -3.0f, 4.0f, -1.0f, -2.0f, 3.0f, 0.0f};
  const float slope[2] = {0.1f, 0.5f};
  const int dims[2] = {2, 4}, as[2] = {4, 1}, bs[2] = {1, 0};
  float y[8];
  nn_binary_forward(y, x, slope, NN_PRELU, 2, dims, as, bs);
  const float want[8] = {-0.1f, 2.0f, -0.3f, 4.0f, -0.5f, -1.0f, 3.0f, 0.0f};
  assert_floats_near(y, want, 8, 1e-7f);
}

static void test_binary_rank0_is_one_element(void **state)
{
  (void)state;
  const float a = 5.0f, b = 7.0f;
  float y[2] = {0.0f, 123.0f};
  nn_binary_forward(y, &a, &b, NN_SUB, 0, NULL, NULL, NULL);
  const float want[2] = {-2.0f, 123.0f};
  assert_floats_near(y, want, 2, 0.0f);
}

static void test_binary_empty_dim_writes_nothing(void **state)
{
  (void)state;
  const float a[2] = {1.0f, 2.0f}, b[2] = {3.0f, 4.0f};
  float y[2] = {9.0f, 9.0f};
  const int dims[2] = {2, 0}, st[2] = {1, 1};
  nn_binary_forward(y, a, b, NN_ADD, 2, dims, st, st);
  const float want[2] = {9.0f, 9.0f};
  assert_floats_near(y, want, 2, 0.0f);
}

static void test_binary_works_in_place(void **state)
{
  (void)state;
  // y == a with b broadcast along the rows of a (2, 3).
  float a[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const float b[3] = {1.0f, 10.0f, 100.0f};
  const int dims[2] = {2, 3}, as[2] = {3, 1}, bs[2] = {0, 1};
  nn_binary_forward(a, a, b, NN_MUL, 2, dims, as, bs);
  const float want[6] = {1.0f, 20.0f, 300.0f, 4.0f, 50.0f, 600.0f};
  assert_floats_near(a, want, 6, 0.0f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binary_add_sub_mul_div_elementwise),
      cmocka_unit_test(test_binary_min_max_elementwise),
      cmocka_unit_test(test_binary_min_max_propagate_nan),
      cmocka_unit_test(test_binary_pow_elementwise),
      cmocka_unit_test(test_binary_prelu_scales_only_negatives),
      cmocka_unit_test(test_binary_broadcasts_scalar_b),
      cmocka_unit_test(test_binary_broadcasts_scalar_a),
      cmocka_unit_test(test_binary_general_strides),
      cmocka_unit_test(test_binary_broadcasts_column_and_row_rank2),
      cmocka_unit_test(test_binary_broadcasts_rank3),
      cmocka_unit_test(test_binary_rank3_with_transposed_operand),
      cmocka_unit_test(test_binary_prelu_broadcasts_channel_slope),
      cmocka_unit_test(test_binary_rank0_is_one_element),
      cmocka_unit_test(test_binary_empty_dim_writes_nothing),
      cmocka_unit_test(test_binary_works_in_place),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
