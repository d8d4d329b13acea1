/*
 * test_grad_softmax.c - nn_softmax_backward and nn_log_softmax_backward.
 *
 * Against central differences of the forward kernels (grad_check.h: eps
 * 1e-3, |error| <= 1e-3 + 1e-2 * |numeric|) along a middle axis with outer
 * and inner > 1, along the last axis (inner = 1), and with an inner axis
 * wider than the kernels' 64-column block. Also a hand-checked case: for
 * softmax over 2 equal logits with dy = (1, 0), dx = (0.25, -0.25).
 */
#include "nn.h"
#include "grad_check.h"

typedef struct {
  int outer, len, inner, is_log;
  float x[600], dx[600], y[600];
} softmax_case;

static void softmax_fwd(void *ctx, float *out)
{
  softmax_case *c = ctx;
  if (c->is_log)
    nn_log_softmax_forward(out, c->x, c->outer, c->len, c->inner);
  else
    nn_softmax_forward(out, c->x, c->outer, c->len, c->inner);
}

static void softmax_bwd(void *ctx, const float *dout)
{
  softmax_case *c = ctx;
  softmax_fwd(c, c->y);
  if (c->is_log)
    nn_log_softmax_backward(c->dx, dout, c->y, c->outer, c->len, c->inner);
  else
    nn_softmax_backward(c->dx, dout, c->y, c->outer, c->len, c->inner);
}

static void check_softmax(int outer, int len, int inner, int is_log)
{
  static softmax_case c;
  c.outer = outer;
  c.len = len;
  c.inner = inner;
  c.is_log = is_log;
  int n = outer * len * inner;
  gc_fill_uniform(c.x, n, 21u, -3.0f, 3.0f);
  grad_check_case g = {.forward = softmax_fwd, .backward = softmax_bwd, .ctx = &c,
                       .out_count = n, .in = {{"dx", c.x, c.dx, n}}, .nin = 1};
  grad_check(&g);
}

static void test_softmax_backward_matches_finite_difference(void **state)
{
  (void)state;
  for (int is_log = 0; is_log < 2; is_log++) {
    check_softmax(2, 3, 5, is_log);
    check_softmax(3, 7, 1, is_log);
    check_softmax(1, 4, 70, is_log);
  }
}

static void test_softmax_backward_by_hand(void **state)
{
  (void)state;
  // y = (0.5, 0.5), dy = (1, 0): dx = y * (dy - 0.5) = (0.25, -0.25).
  const float y[2] = {0.5f, 0.5f}, dy[2] = {1.0f, 0.0f}, want[2] = {0.25f, -0.25f};
  float dx[2] = {0.0f, 0.0f};
  nn_softmax_backward(dx, dy, y, 1, 2, 1);
  assert_floats_near(dx, want, 2, 1e-7f);
  // Log-softmax of the same: y = log 0.5, dx = dy - 0.5 * sum(dy) = (0.5, -0.5).
  const float ly[2] = {-0.693147181f, -0.693147181f}, lwant[2] = {0.5f, -0.5f};
  float ldx[2] = {0.0f, 0.0f};
  nn_log_softmax_backward(ldx, dy, ly, 1, 2, 1);
  assert_floats_near(ldx, lwant, 2, 1e-7f);
  nn_softmax_backward(NULL, dy, y, 1, 2, 1);
  nn_log_softmax_backward(NULL, dy, ly, 1, 2, 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_softmax_backward_matches_finite_difference),
      cmocka_unit_test(test_softmax_backward_by_hand),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
