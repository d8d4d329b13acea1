/*
 * test_affine.c - nn_channel_affine_forward: per-channel scale and shift
 * over (n, c, size), out of place and in place. Expected values by hand,
 * including one folded BatchNormalization.
 */
#include "nn.h"
#include "test.h"

static void test_channel_affine_scales_and_shifts_each_channel(void **state)
{
  (void)state;
  // x (2, 2, 3); channel 0: *2 + 1, channel 1: *-1 + 0.5.
  const float x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  const float scale[2] = {2.0f, -1.0f}, shift[2] = {1.0f, 0.5f};
  float y[12];
  nn_channel_affine_forward(y, x, scale, shift, 2, 2, 3);
  const float want[12] = {1.0f,  3.0f,  5.0f,  -2.5f, -3.5f, -4.5f,
                          13.0f, 15.0f, 17.0f, -8.5f, -9.5f, -10.5f};
  assert_floats_near(y, want, 12, 0.0f);
}

static void test_channel_affine_matches_folded_batchnorm(void **state)
{
  (void)state;
  // BatchNormalization with gamma 3, beta 1, mean 2, var 4 - eps, so
  // y = (x - 2) / 2 * 3 + 1 = 1.5x - 2.
  const float x[3] = {0.0f, 2.0f, 4.0f};
  const float scale[1] = {1.5f}, shift[1] = {-2.0f};
  float y[3];
  nn_channel_affine_forward(y, x, scale, shift, 1, 1, 3);
  const float want[3] = {-2.0f, 1.0f, 4.0f};
  assert_floats_near(y, want, 3, 0.0f);
}

static void test_channel_affine_works_in_place(void **state)
{
  (void)state;
  float x[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  const float scale[2] = {10.0f, 0.5f}, shift[2] = {0.0f, -1.0f};
  nn_channel_affine_forward(x, x, scale, shift, 1, 2, 2);
  const float want[4] = {10.0f, 20.0f, 0.5f, 1.0f};
  assert_floats_near(x, want, 4, 0.0f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_channel_affine_scales_and_shifts_each_channel),
      cmocka_unit_test(test_channel_affine_matches_folded_batchnorm),
      cmocka_unit_test(test_channel_affine_works_in_place),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
