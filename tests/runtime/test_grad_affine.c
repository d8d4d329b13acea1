/*
 * test_grad_affine.c - nn_channel_affine_backward (frozen BatchNorm).
 *
 * dx against central differences of nn_channel_affine_forward
 * (grad_check.h: eps 1e-3, |error| <= 1e-3 + 1e-2 * |numeric|), and a
 * hand-checked accumulation: dx starts at 1 and gains dy * scale[c].
 */
#include "nn.h"
#include "grad_check.h"

enum { NB = 2, C = 3, SIZE = 5, COUNT = NB * C * SIZE };

typedef struct {
  float x[COUNT], dx[COUNT], scale[C], shift[C];
} affine_case;

static void affine_fwd(void *ctx, float *out)
{
  affine_case *c = ctx;
  nn_channel_affine_forward(out, c->x, c->scale, c->shift, NB, C, SIZE);
}

static void affine_bwd(void *ctx, const float *dout)
{
  affine_case *c = ctx;
  nn_channel_affine_backward(c->dx, dout, c->scale, NB, C, SIZE);
}

static void test_channel_affine_backward_matches_finite_difference(void **state)
{
  (void)state;
  static affine_case c = {.scale = {0.5f, -2.0f, 1.25f}, .shift = {1.0f, 0.0f, -3.0f}};
  gc_fill_uniform(c.x, COUNT, 31u, -2.0f, 2.0f);
  grad_check_case g = {.forward = affine_fwd, .backward = affine_bwd, .ctx = &c,
                       .out_count = COUNT, .in = {{"dx", c.x, c.dx, COUNT}}, .nin = 1};
  grad_check(&g);
}

static void test_channel_affine_backward_by_hand(void **state)
{
  (void)state;
  // n = 1, c = 2, size = 2: dx += dy * scale[c].
  const float dy[4] = {1.0f, 2.0f, 3.0f, 4.0f}, scale[2] = {2.0f, -1.0f};
  float dx[4] = {1.0f, 1.0f, 1.0f, 1.0f};
  const float want[4] = {3.0f, 5.0f, -2.0f, -3.0f};
  nn_channel_affine_backward(dx, dy, scale, 1, 2, 2);
  assert_floats_near(dx, want, 4, 0.0f);
  nn_channel_affine_backward(NULL, dy, scale, 1, 2, 2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_channel_affine_backward_matches_finite_difference),
      cmocka_unit_test(test_channel_affine_backward_by_hand),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
