/*
 * test_softmax.c - nn_softmax_forward and nn_log_softmax_forward.
 *
 * Goldens come from numpy in double precision (exp(x - max) / sum). Cases:
 * a middle axis with outer and inner > 1, logits around 1000 that overflow
 * a naive exp, in-place use, and an inner axis wider than the kernel's
 * column block, checked against a naive loop written here.
 */
#include "nn.h"
#include "test.h"

// x (2, 3, 2): softmax along the middle axis.
static const float x232[12] = {1, -1, 2, 0, 3, 4, 0, 5, 0, 5, 0, -5};

// numpy: e = exp(x - x.max(1)); e / e.sum(1), and its log.
static const float want232[12] = {0.0900305732f, 0.00657326319f, 0.244728471f,
                                  0.0178679819f, 0.665240956f,   0.975558755f,
                                  0.333333333f,  0.49998865f,    0.333333333f,
                                  0.49998865f,   0.333333333f,   2.26994496e-05f};
static const float log_want232[12] = {-2.40760596f, -5.02474489f, -1.40760596f,
                                      -4.02474489f, -0.407605964f, -0.0247448901f,
                                      -1.09861229f, -0.69316988f,  -1.09861229f,
                                      -0.69316988f, -1.09861229f,  -10.6931699f};

static void test_softmax_middle_axis_with_outer_and_inner(void **state)
{
  (void)state;
  float y[12];
  nn_softmax_forward(y, x232, 2, 3, 2);
  assert_floats_near(y, want232, 12, 1e-6f);
}

static void test_log_softmax_middle_axis_with_outer_and_inner(void **state)
{
  (void)state;
  float y[12];
  nn_log_softmax_forward(y, x232, 2, 3, 2);
  assert_floats_near(y, log_want232, 12, 1e-5f);
}

static void test_softmax_is_stable_for_large_logits(void **state)
{
  (void)state;
  const float x[4] = {1000.0f, 1001.0f, 1002.0f, -1000.0f};
  float y[4];
  nn_softmax_forward(y, x, 1, 4, 1);
  const float want[4] = {0.0900305732f, 0.244728471f, 0.665240956f, 0.0f};
  assert_floats_near(y, want, 4, 1e-6f);
}

static void test_log_softmax_is_stable_for_large_logits(void **state)
{
  (void)state;
  const float x[4] = {1000.0f, 1001.0f, 1002.0f, -1000.0f};
  float y[4];
  nn_log_softmax_forward(y, x, 1, 4, 1);
  const float want[4] = {-2.40760596f, -1.40760596f, -0.407605964f, -2002.40761f};
  assert_floats_near(y, want, 4, 1e-4f);
}

static void test_softmax_works_in_place(void **state)
{
  (void)state;
  float x[12];
  for (int i = 0; i < 12; i++)
    x[i] = x232[i];
  nn_softmax_forward(x, x, 2, 3, 2);
  assert_floats_near(x, want232, 12, 1e-6f);
  for (int i = 0; i < 12; i++)
    x[i] = x232[i];
  nn_log_softmax_forward(x, x, 2, 3, 2);
  assert_floats_near(x, log_want232, 12, 1e-5f);
}

static void test_softmax_wide_inner_axis_matches_reference(void **state)
{
  (void)state;
  // inner = 150 spans several column blocks, the last one partial.
  enum { OUTER = 2, LEN = 5, INNER = 150, COUNT = OUTER * LEN * INNER };
  static float x[COUNT], y[COUNT], ly[COUNT], want[COUNT], lwant[COUNT];
  for (int i = 0; i < COUNT; i++)
    x[i] = (float)((i * 37) % 101) / 10.0f - 5.0f;
  for (int o = 0; o < OUTER; o++)
    for (int j = 0; j < INNER; j++) {
      const float *xc = x + o * LEN * INNER + j;
      double mx = xc[0], sum = 0.0;
      for (int t = 1; t < LEN; t++)
        mx = xc[t * INNER] > mx ? xc[t * INNER] : mx;
      for (int t = 0; t < LEN; t++)
        sum += exp(xc[t * INNER] - mx);
      for (int t = 0; t < LEN; t++) {
        int at = o * LEN * INNER + t * INNER + j;
        want[at] = (float)(exp(x[at] - mx) / sum);
        lwant[at] = (float)(x[at] - mx - log(sum));
      }
    }
  nn_softmax_forward(y, x, OUTER, LEN, INNER);
  nn_log_softmax_forward(ly, x, OUTER, LEN, INNER);
  assert_floats_near(y, want, COUNT, 1e-6f);
  assert_floats_near(ly, lwant, COUNT, 1e-5f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_softmax_middle_axis_with_outer_and_inner),
      cmocka_unit_test(test_log_softmax_middle_axis_with_outer_and_inner),
      cmocka_unit_test(test_softmax_is_stable_for_large_logits),
      cmocka_unit_test(test_log_softmax_is_stable_for_large_logits),
      cmocka_unit_test(test_softmax_works_in_place),
      cmocka_unit_test(test_softmax_wide_inner_axis_matches_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
