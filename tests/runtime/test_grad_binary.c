/*
 * test_grad_binary.c - nn_binary_backward.
 *
 * Every op against central differences of nn_binary_forward (grad_check.h:
 * eps 1e-3, |error| <= 1e-3 + 1e-2 * |numeric|) on three layouts:
 * dense rank 1, a rank-3 space where both operands broadcast (a (2,1,4),
 * b (3,1) against y (2,3,4), so each gradient sums over a dimension), and a
 * scalar b. Operand values keep Min/Max away from ties, Div away from 0,
 * Pow's base positive and PRelu's input away from 0. Also: PRelu with a
 * per-channel slope, operands broadcast along rows longer than a chunk of
 * the backward's sums, torch's tie rule for Min/Max (0.5 each, measured with
 * torch.maximum/minimum), Pow's zero cases, y = x * x with da == db, and
 * NULL gradients.
 */
#include "nn.h"
#include "grad_check.h"

enum { MAXN = 1200 };

typedef struct {
  nn_binop op;
  int rank, dims[3], as[3], bs[3];
  int na, nb, ny;
  int pass_y; // give y to the backward (else NULL)
  float a[MAXN], b[MAXN], da[MAXN], db[MAXN], y[MAXN];
} bin_case;

static void bin_fwd(void *ctx, float *out)
{
  bin_case *c = ctx;
  nn_binary_forward(out, c->a, c->b, c->op, c->rank, c->dims, c->as, c->bs);
}

static void bin_bwd(void *ctx, const float *dout)
{
  bin_case *c = ctx;
  nn_binary_forward(c->y, c->a, c->b, c->op, c->rank, c->dims, c->as, c->bs);
  // ADD and SUB read no operand: prove it by passing none.
  int reads = c->op != NN_ADD && c->op != NN_SUB;
  nn_binary_backward(c->da, c->db, dout, reads ? c->a : NULL, reads ? c->b : NULL,
                     c->pass_y ? c->y : NULL, c->op, c->rank, c->dims, c->as, c->bs);
}

// Operand values for op, i-th element: grids offset from each other so
// that no a equals (or comes within 0.04 of) any b.
static float value(nn_binop op, int which, int i)
{
  float v = (float)((i * 7 + which * 3) % 11) * 0.1f + (which ? 0.07f : 0.03f);
  switch (op) {
  case NN_POW:
    return which ? 2.0f * v - 1.0f : v + 0.3f; // base in [0.33, 1.4], exponent in [-0.9, 1.1]
  case NN_DIV:
    return which ? (i % 2 ? v + 0.5f : -v - 0.5f) : 2.0f * v - 1.0f;
  default:
    return 2.0f * v - 1.0f; // [-0.97, 1.14], never 0
  }
}

static void run_case(bin_case *c)
{
  for (int i = 0; i < c->na; i++)
    c->a[i] = value(c->op, 0, i);
  for (int i = 0; i < c->nb; i++)
    c->b[i] = value(c->op, 1, i);
  grad_check_case g = {.forward = bin_fwd, .backward = bin_bwd, .ctx = c, .out_count = c->ny,
                       .in = {{"da", c->a, c->da, c->na}, {"db", c->b, c->db, c->nb}},
                       .nin = 2};
  grad_check(&g);
}

static void check_op(nn_binop op, int pass_y)
{
  static bin_case c;
  // Dense, rank 1.
  c = (bin_case){.op = op, .rank = 1, .dims = {7}, .as = {1}, .bs = {1}, .na = 7, .nb = 7,
                 .ny = 7, .pass_y = pass_y};
  run_case(&c);
  // Both broadcast: a (2,1,4) and b (3,1) against (2,3,4).
  c = (bin_case){.op = op, .rank = 3, .dims = {2, 3, 4}, .as = {4, 0, 1}, .bs = {0, 1, 0},
                 .na = 8, .nb = 3, .ny = 24, .pass_y = pass_y};
  run_case(&c);
  // b a scalar, a (3,4) with a transposed stride.
  c = (bin_case){.op = op, .rank = 2, .dims = {3, 4}, .as = {1, 3}, .bs = {0, 0}, .na = 12,
                 .nb = 1, .ny = 12, .pass_y = pass_y};
  run_case(&c);
}

static void test_binary_backward_arithmetic_matches_finite_difference(void **state)
{
  (void)state;
  check_op(NN_ADD, 0);
  check_op(NN_SUB, 0);
  check_op(NN_MUL, 0);
  check_op(NN_DIV, 1);
  check_op(NN_DIV, 0);
}

static void test_binary_backward_min_max_pow_prelu_match_finite_difference(void **state)
{
  (void)state;
  check_op(NN_MIN, 0);
  check_op(NN_MAX, 0);
  check_op(NN_POW, 1);
  check_op(NN_POW, 0);
  check_op(NN_PRELU, 0);
}

static void test_binary_backward_prelu_per_channel_slope(void **state)
{
  (void)state;
  // x (2, 3, 4) and a slope per channel: (3, 1) broadcast over n and w.
  static bin_case c;
  c = (bin_case){.op = NN_PRELU, .rank = 3, .dims = {2, 3, 4}, .as = {12, 4, 1},
                 .bs = {0, 1, 0}, .na = 24, .nb = 3, .ny = 24};
  run_case(&c);
  // By hand: x = {-2, 3} with slope 0.25, dy = {1, 1}:
  // dx = {0.25, 1}, dslope = -2.
  const float x[2] = {-2.0f, 3.0f}, s[1] = {0.25f}, dy[2] = {1.0f, 1.0f};
  const int dims[1] = {2}, xs[1] = {1}, ss[1] = {0};
  float dx[2] = {0.0f, 0.0f}, ds[1] = {0.0f};
  nn_binary_backward(dx, ds, dy, x, s, NULL, NN_PRELU, 1, dims, xs, ss);
  const float want_dx[2] = {0.25f, 1.0f}, want_ds[1] = {-2.0f};
  assert_floats_near(dx, want_dx, 2, 0.0f);
  assert_floats_near(ds, want_ds, 1, 0.0f);
}

// An operand broadcast along rows longer than the backward's chunk (256):
// its gradient is each row's sum, taken chunk by chunk. a has one value
// per row of 600 (stride 0 along the row), then b does (PRelu's slope).
static void test_binary_backward_row_broadcast_sums_over_chunks(void **state)
{
  (void)state;
  static bin_case c;
  const nn_binop ops[4] = {NN_ADD, NN_MUL, NN_DIV, NN_POW};
  for (int i = 0; i < 4; i++) {
    c = (bin_case){.op = ops[i], .rank = 2, .dims = {2, 600}, .as = {1, 0}, .bs = {600, 1},
                   .na = 2, .nb = 1200, .ny = 1200, .pass_y = 1};
    run_case(&c);
  }
  c = (bin_case){.op = NN_PRELU, .rank = 2, .dims = {2, 600}, .as = {600, 1}, .bs = {1, 0},
                 .na = 1200, .nb = 2, .ny = 1200};
  run_case(&c);
  c = (bin_case){.op = NN_SUB, .rank = 2, .dims = {2, 600}, .as = {600, 1}, .bs = {1, 0},
                 .na = 1200, .nb = 2, .ny = 1200};
  run_case(&c);
}

static void test_binary_backward_ties_and_zeros_match_pytorch(void **state)
{
  (void)state;
  const int dims[1] = {3}, dense[1] = {1};
  const float dy[3] = {1.0f, 1.0f, 1.0f};
  // torch.maximum([1, 2, 3], [1, 1, 4]): a.grad = [0.5, 1, 0], b.grad = [0.5, 0, 1].
  const float a[3] = {1.0f, 2.0f, 3.0f}, b[3] = {1.0f, 1.0f, 4.0f};
  float da[3] = {0}, db[3] = {0};
  nn_binary_backward(da, db, dy, a, b, NULL, NN_MAX, 1, dims, dense, dense);
  const float max_da[3] = {0.5f, 1.0f, 0.0f}, max_db[3] = {0.5f, 0.0f, 1.0f};
  assert_floats_near(da, max_da, 3, 0.0f);
  assert_floats_near(db, max_db, 3, 0.0f);
  // torch.minimum: a.grad = [0.5, 0, 1], b.grad = [0.5, 1, 0].
  float da2[3] = {0}, db2[3] = {0};
  nn_binary_backward(da2, db2, dy, a, b, NULL, NN_MIN, 1, dims, dense, dense);
  const float min_da[3] = {0.5f, 0.0f, 1.0f}, min_db[3] = {0.5f, 1.0f, 0.0f};
  assert_floats_near(da2, min_da, 3, 0.0f);
  assert_floats_near(db2, min_db, 3, 0.0f);
  // torch.pow([0, 0, 2], [0, 2, 0.5]): a.grad = [0, 0, 0.353553385],
  // b.grad = [0, 0, 0.980258107].
  const float pa[3] = {0.0f, 0.0f, 2.0f}, pb[3] = {0.0f, 2.0f, 0.5f};
  float pda[3] = {0}, pdb[3] = {0};
  nn_binary_backward(pda, pdb, dy, pa, pb, NULL, NN_POW, 1, dims, dense, dense);
  const float pow_da[3] = {0.0f, 0.0f, 0.353553385f}, pow_db[3] = {0.0f, 0.0f, 0.980258107f};
  assert_floats_near(pda, pow_da, 3, 1e-6f);
  assert_floats_near(pdb, pow_db, 3, 1e-6f);
}

static void test_binary_backward_same_operand_twice_accumulates_both(void **state)
{
  (void)state;
  // y = x * x: both gradients land in one buffer, dx = 2 x dy.
  const float x[3] = {1.0f, -2.0f, 0.5f}, dy[3] = {1.0f, 0.5f, -1.0f};
  const int dims[1] = {3}, dense[1] = {1};
  float dx[3] = {1.0f, 1.0f, 1.0f};
  nn_binary_backward(dx, dx, dy, x, x, NULL, NN_MUL, 1, dims, dense, dense);
  const float want[3] = {3.0f, -1.0f, 0.0f};
  assert_floats_near(dx, want, 3, 0.0f);
}

static void test_binary_backward_null_gradient_is_skipped(void **state)
{
  (void)state;
  const float a[2] = {1.0f, 2.0f}, b[2] = {3.0f, 4.0f}, dy[2] = {1.0f, 1.0f};
  const int dims[1] = {2}, dense[1] = {1};
  float db[2] = {0.0f, 0.0f};
  nn_binary_backward(NULL, db, dy, a, b, NULL, NN_MUL, 1, dims, dense, dense);
  assert_floats_near(db, a, 2, 0.0f);
  nn_binary_backward(NULL, NULL, dy, NULL, NULL, NULL, NN_MUL, 1, dims, dense, dense);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_binary_backward_arithmetic_matches_finite_difference),
      cmocka_unit_test(test_binary_backward_min_max_pow_prelu_match_finite_difference),
      cmocka_unit_test(test_binary_backward_prelu_per_channel_slope),
      cmocka_unit_test(test_binary_backward_row_broadcast_sums_over_chunks),
      cmocka_unit_test(test_binary_backward_ties_and_zeros_match_pytorch),
      cmocka_unit_test(test_binary_backward_same_operand_twice_accumulates_both),
      cmocka_unit_test(test_binary_backward_null_gradient_is_skipped),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
