/*
 * test_copy.c - nn_copy, nn_fill and nn_copy_strided.
 *
 * The strided cases are the ONNX ops the compiler lowers to it: Transpose,
 * Slice with a step and with a negative step, Pad (interior of y), Expand
 * (0 strides), Concat (a sub-block of y), plus rank 0 and an empty dim.
 * Expected values are written out by hand from the index formulas.
 */
#include "nn.h"
#include "test.h"

static void test_copy_copies_count_elements(void **state)
{
  (void)state;
  const float x[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  float y[5] = {0.0f, 0.0f, 0.0f, 0.0f, 9.0f};
  const float want[5] = {1.0f, 2.0f, 3.0f, 4.0f, 9.0f};
  nn_copy(y, x, 4);
  assert_floats_near(y, want, 5, 0.0f);
}

static void test_fill_sets_count_elements(void **state)
{
  (void)state;
  float y[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  const float want[4] = {-2.5f, -2.5f, -2.5f, 1.0f};
  nn_fill(y, -2.5f, 3);
  assert_floats_near(y, want, 4, 0.0f);
}

static void test_copy_strided_transposes_2x3(void **state)
{
  (void)state;
  // x (2, 3) -> y (3, 2): walk y's index space (3, 2) densely; x[i, j] is
  // read at j*3 + i.
  const float x[6] = {0.0f, 1.0f, 2.0f, 10.0f, 11.0f, 12.0f};
  const int dims[2] = {3, 2}, ys[2] = {2, 1}, xs[2] = {1, 3};
  float y[6];
  const float want[6] = {0.0f, 10.0f, 1.0f, 11.0f, 2.0f, 12.0f};
  nn_copy_strided(y, x, 2, dims, ys, xs);
  assert_floats_near(y, want, 6, 0.0f);
}

static void test_copy_strided_permutes_rank3(void **state)
{
  (void)state;
  // x (2, 3, 4) with x[a, b, c] = 100a + 10b + c, perm (2, 0, 1):
  // y (4, 2, 3), y[c, a, b] = x[a, b, c].
  float x[24];
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 3; b++)
      for (int c = 0; c < 4; c++)
        x[a * 12 + b * 4 + c] = (float)(100 * a + 10 * b + c);
  const int dims[3] = {4, 2, 3}, ys[3] = {6, 3, 1}, xs[3] = {1, 12, 4};
  float y[24];
  nn_copy_strided(y, x, 3, dims, ys, xs);
  const float want_first[6] = {0.0f, 10.0f, 20.0f, 100.0f, 110.0f, 120.0f};
  const float want_last[6] = {3.0f, 13.0f, 23.0f, 103.0f, 113.0f, 123.0f};
  assert_floats_near(y, want_first, 6, 0.0f);
  assert_floats_near(y + 18, want_last, 6, 0.0f);
}

static void test_copy_strided_slices_with_step(void **state)
{
  (void)state;
  // x (3, 5), Slice rows 1.., cols 0::2 -> y (2, 3).
  float x[15];
  for (int i = 0; i < 15; i++)
    x[i] = (float)i;
  const int dims[2] = {2, 3}, ys[2] = {3, 1}, xs[2] = {5, 2};
  float y[6];
  const float want[6] = {5.0f, 7.0f, 9.0f, 10.0f, 12.0f, 14.0f};
  nn_copy_strided(y, x + 5, 2, dims, ys, xs);
  assert_floats_near(y, want, 6, 0.0f);
}

static void test_copy_strided_reverses_with_negative_strides(void **state)
{
  (void)state;
  // x (2, 3), Slice with steps (-1, -1): x points at the last element.
  const float x[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const int dims[2] = {2, 3}, ys[2] = {3, 1}, xs[2] = {-3, -1};
  float y[6];
  const float want[6] = {6.0f, 5.0f, 4.0f, 3.0f, 2.0f, 1.0f};
  nn_copy_strided(y, x + 5, 2, dims, ys, xs);
  assert_floats_near(y, want, 6, 0.0f);
}

static void test_copy_strided_writes_pad_interior(void **state)
{
  (void)state;
  // x (2, 2) into the interior of a zero-filled y (4, 4), pads of 1.
  const float x[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  float y[16];
  nn_fill(y, 0.0f, 16);
  const int dims[2] = {2, 2}, ys[2] = {4, 1}, xs[2] = {2, 1};
  nn_copy_strided(y + 5, x, 2, dims, ys, xs);
  const float want[16] = {0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0};
  assert_floats_near(y, want, 16, 0.0f);
}

static void test_copy_strided_expands_with_zero_strides(void **state)
{
  (void)state;
  // x (3, 1) expanded to (3, 4) along the last dim, x (1, 4) along the first.
  const float col[3] = {1.0f, 2.0f, 3.0f};
  const int dims[2] = {3, 4}, ys[2] = {4, 1}, xs_col[2] = {1, 0};
  float y[12];
  nn_copy_strided(y, col, 2, dims, ys, xs_col);
  const float want_col[12] = {1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3};
  assert_floats_near(y, want_col, 12, 0.0f);

  const float row[4] = {5.0f, 6.0f, 7.0f, 8.0f};
  const int xs_row[2] = {0, 1};
  nn_copy_strided(y, row, 2, dims, ys, xs_row);
  const float want_row[12] = {5, 6, 7, 8, 5, 6, 7, 8, 5, 6, 7, 8};
  assert_floats_near(y, want_row, 12, 0.0f);
}

static void test_copy_strided_concats_into_sub_blocks(void **state)
{
  (void)state;
  // Concat a (2, 1) and b (2, 2) on axis 1 -> y (2, 3).
  const float a[2] = {1.0f, 2.0f}, b[4] = {10.0f, 11.0f, 20.0f, 21.0f};
  float y[6];
  const int ys[2] = {3, 1};
  const int dims_a[2] = {2, 1}, xs_a[2] = {1, 1};
  const int dims_b[2] = {2, 2}, xs_b[2] = {2, 1};
  nn_copy_strided(y, a, 2, dims_a, ys, xs_a);
  nn_copy_strided(y + 1, b, 2, dims_b, ys, xs_b);
  const float want[6] = {1.0f, 10.0f, 11.0f, 2.0f, 20.0f, 21.0f};
  assert_floats_near(y, want, 6, 0.0f);
}

static void test_copy_strided_rank0_copies_one_element(void **state)
{
  (void)state;
  const float x = 7.0f;
  float y[2] = {0.0f, -1.0f};
  nn_copy_strided(y, &x, 0, NULL, NULL, NULL);
  const float want[2] = {7.0f, -1.0f};
  assert_floats_near(y, want, 2, 0.0f);
}

static void test_copy_strided_empty_dim_writes_nothing(void **state)
{
  (void)state;
  const float x[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  float y[4] = {9.0f, 9.0f, 9.0f, 9.0f};
  const int dims[3] = {2, 0, 2}, ys[3] = {2, 2, 1}, xs[3] = {2, 2, 1};
  nn_copy_strided(y, x, 3, dims, ys, xs);
  const float want[4] = {9.0f, 9.0f, 9.0f, 9.0f};
  assert_floats_near(y, want, 4, 0.0f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_copy_copies_count_elements),
      cmocka_unit_test(test_fill_sets_count_elements),
      cmocka_unit_test(test_copy_strided_transposes_2x3),
      cmocka_unit_test(test_copy_strided_permutes_rank3),
      cmocka_unit_test(test_copy_strided_slices_with_step),
      cmocka_unit_test(test_copy_strided_reverses_with_negative_strides),
      cmocka_unit_test(test_copy_strided_writes_pad_interior),
      cmocka_unit_test(test_copy_strided_expands_with_zero_strides),
      cmocka_unit_test(test_copy_strided_concats_into_sub_blocks),
      cmocka_unit_test(test_copy_strided_rank0_copies_one_element),
      cmocka_unit_test(test_copy_strided_empty_dim_writes_nothing),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
