/*
 * test_grad_copy.c - nn_add_strided and nn_add, the backward of the
 * data-movement ops.
 *
 * Each forward below is nn_copy_strided as the compiler uses it; its
 * backward is nn_add_strided with the roles swapped. Checked against
 * central differences (grad_check.h: eps 1e-3, |error| <= 1e-3 + 1e-2 *
 * |numeric|): Transpose, Expand (0 strides in the gradient sum the
 * copies), a Slice with a negative step, and Pad (a sub-block of y). Also
 * hand-checked accumulation for nn_add_strided at rank 0 and 2, and nn_add.
 */
#include "nn.h"
#include "grad_check.h"

typedef struct {
  int rank, dims[3], y_strides[3], x_strides[3];
  int x_off, y_off; // where the walk starts in x and in y
  int nx, ny;
  float x[32], dx[32];
} strided_case;

static void strided_fwd(void *ctx, float *out)
{
  strided_case *c = ctx;
  nn_fill(out, 0.0f, c->ny);
  nn_copy_strided(out + c->y_off, c->x + c->x_off, c->rank, c->dims, c->y_strides,
                  c->x_strides);
}

static void strided_bwd(void *ctx, const float *dout)
{
  strided_case *c = ctx;
  nn_add_strided(c->dx + c->x_off, dout + c->y_off, c->rank, c->dims, c->x_strides,
                 c->y_strides);
}

static void check_strided(strided_case *c)
{
  gc_fill_uniform(c->x, c->nx, 51u, -1.0f, 1.0f);
  grad_check_case g = {.forward = strided_fwd, .backward = strided_bwd, .ctx = c,
                       .out_count = c->ny, .in = {{"dx", c->x, c->dx, c->nx}}, .nin = 1};
  grad_check(&g);
}

static void test_add_strided_is_the_backward_of_data_movement(void **state)
{
  (void)state;
  static strided_case c;
  // Transpose: y (3, 4) = x (4, 3)^T.
  c = (strided_case){.rank = 2, .dims = {3, 4}, .y_strides = {4, 1}, .x_strides = {1, 3},
                     .nx = 12, .ny = 12};
  check_strided(&c);
  // Expand: x (3, 1) to y (2, 3, 4).
  c = (strided_case){.rank = 3, .dims = {2, 3, 4}, .y_strides = {12, 4, 1},
                     .x_strides = {0, 1, 0}, .nx = 3, .ny = 24};
  check_strided(&c);
  // Slice x[8:1:-3] of x (10): elements 8, 5, 2.
  c = (strided_case){.rank = 1, .dims = {3}, .y_strides = {1}, .x_strides = {-3},
                     .x_off = 8, .nx = 10, .ny = 3};
  check_strided(&c);
  // Pad x (3, 4) into y (5, 6) at (1, 1).
  c = (strided_case){.rank = 2, .dims = {3, 4}, .y_strides = {6, 1}, .x_strides = {4, 1},
                     .y_off = 7, .nx = 12, .ny = 30};
  check_strided(&c);
}

static void test_add_strided_and_add_accumulate(void **state)
{
  (void)state;
  // Rank 0.
  float y0[1] = {1.0f};
  const float x0[1] = {2.0f}, want0[1] = {3.0f};
  nn_add_strided(y0, x0, 0, NULL, NULL, NULL);
  assert_floats_near(y0, want0, 1, 0.0f);
  // y (2) += column sums of x (3, 2): a 0 stride in y over rows.
  float y[2] = {10.0f, 20.0f};
  const float x[6] = {1, 2, 3, 4, 5, 6}, want[2] = {19.0f, 32.0f};
  const int dims[2] = {3, 2}, ys[2] = {0, 1}, xs[2] = {2, 1};
  nn_add_strided(y, x, 2, dims, ys, xs);
  assert_floats_near(y, want, 2, 0.0f);
  // y (3) += row sums of x (3, 2): a 0 stride in y's inner dimension.
  float r[3] = {1.0f, 1.0f, 1.0f};
  const int rs[2] = {1, 0}, want_r_dims[2] = {3, 2};
  const float want_r[3] = {4.0f, 8.0f, 12.0f};
  nn_add_strided(r, x, 2, want_r_dims, rs, xs);
  assert_floats_near(r, want_r, 3, 0.0f);
  // nn_add.
  float a[3] = {1.0f, 2.0f, 3.0f};
  const float b[3] = {0.5f, -2.0f, 4.0f}, want_a[3] = {1.5f, 0.0f, 7.0f};
  nn_add(a, b, 3);
  assert_floats_near(a, want_a, 3, 0.0f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_add_strided_is_the_backward_of_data_movement),
      cmocka_unit_test(test_add_strided_and_add_accumulate),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
