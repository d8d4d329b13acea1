/*
 * test_grad_gather.c - nn_gather_backward.
 *
 * dx against central differences of nn_gather_forward (grad_check.h: eps
 * 1e-3, |error| <= 1e-3 + 1e-2 * |numeric|) with a repeated index and a
 * row never gathered, and a hand-checked case where the repeated index
 * receives the sum of both rows' gradients and the unused row nothing.
 */
#include "nn.h"
#include "grad_check.h"

enum { OUTER = 2, AXIS = 5, COUNT = 4, INNER = 3 };

static const int32_t indices[COUNT] = {3, 0, 3, 1}; // 3 twice, 2 and 4 never

typedef struct {
  float x[OUTER * AXIS * INNER], dx[OUTER * AXIS * INNER];
} gather_case;

static void gather_fwd(void *ctx, float *out)
{
  gather_case *c = ctx;
  nn_gather_forward(out, c->x, indices, OUTER, AXIS, COUNT, INNER);
}

static void gather_bwd(void *ctx, const float *dout)
{
  gather_case *c = ctx;
  nn_gather_backward(c->dx, dout, indices, OUTER, AXIS, COUNT, INNER);
}

static void test_gather_backward_matches_finite_difference(void **state)
{
  (void)state;
  static gather_case c;
  gc_fill_uniform(c.x, OUTER * AXIS * INNER, 41u, -1.0f, 1.0f);
  grad_check_case g = {.forward = gather_fwd, .backward = gather_bwd, .ctx = &c,
                       .out_count = OUTER * COUNT * INNER,
                       .in = {{"dx", c.x, c.dx, OUTER * AXIS * INNER}}, .nin = 1};
  grad_check(&g);
}

static void test_gather_backward_repeated_index_sums(void **state)
{
  (void)state;
  // x (4,), y = x[{2, 0, 2}], dy = (1, 10, 100): dx = (10, 0, 101, 0).
  const int32_t idx[3] = {2, 0, 2};
  const float dy[3] = {1.0f, 10.0f, 100.0f}, want[4] = {10.0f, 0.0f, 101.0f, 0.0f};
  float dx[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  nn_gather_backward(dx, dy, idx, 1, 4, 3, 1);
  assert_floats_near(dx, want, 4, 0.0f);
  nn_gather_backward(NULL, dy, idx, 1, 4, 3, 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gather_backward_matches_finite_difference),
      cmocka_unit_test(test_gather_backward_repeated_index_sums),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
