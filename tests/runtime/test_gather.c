/*
 * test_gather.c - nn_gather_forward: along the first, a middle and the last
 * axis, with repeated and reordered indices. Expected values by hand.
 */
#include "nn.h"
#include "test.h"

// x (2, 3, 2) with x[o, a, j] = 100*o + 10*a + j.
static float x232[12];

static int setup_x(void **state)
{
  (void)state;
  for (int o = 0; o < 2; o++)
    for (int a = 0; a < 3; a++)
      for (int j = 0; j < 2; j++)
        x232[(o * 3 + a) * 2 + j] = (float)(100 * o + 10 * a + j);
  return 0;
}

static void test_gather_middle_axis_repeats_and_reorders(void **state)
{
  (void)state;
  const int32_t idx[4] = {2, 0, 2, 1};
  float y[16];
  nn_gather_forward(y, x232, idx, 2, 3, 4, 2);
  const float want[16] = {20,  21,  0,   1,   20,  21,  10,  11,
                          120, 121, 100, 101, 120, 121, 110, 111};
  assert_floats_near(y, want, 16, 0.0f);
}

static void test_gather_first_axis_is_row_lookup(void **state)
{
  (void)state;
  // An embedding lookup: table (3, 2), outer = 1.
  const float table[6] = {0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f};
  const int32_t idx[2] = {2, 0};
  float y[4];
  nn_gather_forward(y, table, idx, 1, 3, 2, 2);
  const float want[4] = {4.5f, 5.5f, 0.5f, 1.5f};
  assert_floats_near(y, want, 4, 0.0f);
}

static void test_gather_last_axis_picks_columns(void **state)
{
  (void)state;
  // Axis 2 of x (2, 3, 2): outer = 6, inner = 1.
  const int32_t idx[1] = {1};
  float y[6];
  nn_gather_forward(y, x232, idx, 6, 2, 1, 1);
  const float want[6] = {1, 11, 21, 101, 111, 121};
  assert_floats_near(y, want, 6, 0.0f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup(test_gather_middle_axis_repeats_and_reorders, setup_x),
      cmocka_unit_test(test_gather_first_axis_is_row_lookup),
      cmocka_unit_test_setup(test_gather_last_axis_picks_columns, setup_x),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
