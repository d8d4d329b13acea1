/*
 * test_grad_reduce.c - nn_reduce_backward.
 *
 * Every reduction against central differences of nn_reduce_forward
 * (grad_check.h: eps 1e-3, |error| <= 1e-3 + 1e-2 * |numeric|) over an
 * x (2, 3, 4) reduced along the middle axis, along the outer two
 * (non-contiguous), along all three, and along none; x or y is passed as
 * NULL where nn.h says the op does not read it. Values are distinct and
 * 0.01 or more apart (Max/Min), away from 0 (L1, Prod) or positive
 * (LogSum). Also, as PyTorch 1.13 (torch.amax/amin/prod/linalg.vector_norm
 * measured): Max and Min split ties evenly, Prod with one zero gives the
 * product of the others to that zero only, with two zeros nothing, and L2
 * of a zero vector gives 0.
 */
#include "nn.h"
#include "grad_check.h"

enum { COUNT = 24 };

typedef struct {
  nn_reduce_op op;
  int keep_rank, keep_dims[3], keep_strides[3];
  int red_rank, red_dims[3], red_strides[3];
  int out_count;
  float x[COUNT], dx[COUNT], y[COUNT];
} reduce_case;

static void reduce_fwd(void *ctx, float *out)
{
  reduce_case *c = ctx;
  nn_reduce_forward(out, c->x, c->op, c->keep_rank, c->keep_dims, c->keep_strides,
                    c->red_rank, c->red_dims, c->red_strides);
}

static int reads_x(nn_reduce_op op)
{
  return op != NN_REDUCE_SUM && op != NN_REDUCE_MEAN && op != NN_REDUCE_LOG_SUM;
}

static int reads_y(nn_reduce_op op)
{
  return op == NN_REDUCE_L2 || op == NN_REDUCE_LOG_SUM || op == NN_REDUCE_LOG_SUM_EXP ||
         op == NN_REDUCE_MAX || op == NN_REDUCE_MIN || op == NN_REDUCE_PROD;
}

static void reduce_bwd(void *ctx, const float *dout)
{
  reduce_case *c = ctx;
  reduce_fwd(c, c->y);
  nn_reduce_backward(c->dx, dout, reads_x(c->op) ? c->x : NULL,
                     reads_y(c->op) ? c->y : NULL, c->op, c->keep_rank, c->keep_dims,
                     c->keep_strides, c->red_rank, c->red_dims, c->red_strides);
}

static void fill(nn_reduce_op op, float *x)
{
  for (int i = 0; i < COUNT; i++) {
    float v = (float)((i * 7) % COUNT) * 0.05f; // distinct, [0, 1.15]
    switch (op) {
    case NN_REDUCE_LOG_SUM:
      x[i] = v + 0.1f;
      break;
    case NN_REDUCE_PROD:
      x[i] = (i % 3 ? 1.0f : -1.0f) * (0.6f + 0.5f * v);
      break;
    default:
      x[i] = v - 0.575f; // never 0
      break;
    }
  }
}

static void check_op(nn_reduce_op op)
{
  static reduce_case c;
  // x (2, 3, 4), strides (12, 4, 1): {kept axes, reduced axes}.
  static const reduce_case layouts[4] = {
      {.keep_rank = 2, .keep_dims = {2, 4}, .keep_strides = {12, 1},
       .red_rank = 1, .red_dims = {3}, .red_strides = {4}, .out_count = 8},
      {.keep_rank = 1, .keep_dims = {3}, .keep_strides = {4},
       .red_rank = 2, .red_dims = {2, 4}, .red_strides = {12, 1}, .out_count = 3},
      {.keep_rank = 0, .red_rank = 3, .red_dims = {2, 3, 4}, .red_strides = {12, 4, 1},
       .out_count = 1},
      {.keep_rank = 3, .keep_dims = {2, 3, 4}, .keep_strides = {12, 4, 1}, .red_rank = 0,
       .out_count = 24},
  };
  for (int l = 0; l < 4; l++) {
    c = layouts[l];
    c.op = op;
    fill(op, c.x);
    grad_check_case g = {.forward = reduce_fwd, .backward = reduce_bwd, .ctx = &c,
                         .out_count = c.out_count, .in = {{"dx", c.x, c.dx, COUNT}},
                         .nin = 1};
    grad_check(&g);
  }
}

static void test_reduce_backward_sums_match_finite_difference(void **state)
{
  (void)state;
  check_op(NN_REDUCE_SUM);
  check_op(NN_REDUCE_MEAN);
  check_op(NN_REDUCE_SUM_SQUARE);
  check_op(NN_REDUCE_L1);
  check_op(NN_REDUCE_L2);
}

static void test_reduce_backward_extremes_products_logs_match_finite_difference(void **state)
{
  (void)state;
  check_op(NN_REDUCE_MAX);
  check_op(NN_REDUCE_MIN);
  check_op(NN_REDUCE_PROD);
  check_op(NN_REDUCE_LOG_SUM);
  check_op(NN_REDUCE_LOG_SUM_EXP);
}

// Reduces all 4 values of x, dy = 1, from dx = 0.
static void all_of_four(nn_reduce_op op, const float *x, const float *want)
{
  const int dims[1] = {4}, strides[1] = {1};
  float y[1], dx[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  const float dy[1] = {1.0f};
  nn_reduce_forward(y, x, op, 0, NULL, NULL, 1, dims, strides);
  nn_reduce_backward(dx, dy, x, y, op, 0, NULL, NULL, 1, dims, strides);
  assert_floats_near(dx, want, 4, 0.0f);
}

static void test_reduce_backward_ties_and_zeros_match_pytorch(void **state)
{
  (void)state;
  const float tie[4] = {1.0f, 3.0f, 3.0f, 2.0f}, max_want[4] = {0.0f, 0.5f, 0.5f, 0.0f};
  all_of_four(NN_REDUCE_MAX, tie, max_want);
  const float low[4] = {1.0f, 3.0f, 1.0f, 2.0f}, min_want[4] = {0.5f, 0.0f, 0.5f, 0.0f};
  all_of_four(NN_REDUCE_MIN, low, min_want);
  const float one_zero[4] = {1.0f, 0.0f, 3.0f, 2.0f}, one_want[4] = {0.0f, 6.0f, 0.0f, 0.0f};
  all_of_four(NN_REDUCE_PROD, one_zero, one_want);
  const float two_zeros[4] = {1.0f, 0.0f, 0.0f, 2.0f}, none[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  all_of_four(NN_REDUCE_PROD, two_zeros, none);
  all_of_four(NN_REDUCE_L2, none, none);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_reduce_backward_sums_match_finite_difference),
      cmocka_unit_test(test_reduce_backward_extremes_products_logs_match_finite_difference),
      cmocka_unit_test(test_reduce_backward_ties_and_zeros_match_pytorch),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
