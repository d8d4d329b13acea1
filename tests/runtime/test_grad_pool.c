/*
 * test_grad_pool.c - nn_maxpool_backward, nn_avgpool_backward and the
 * global forms.
 *
 * Against central differences of the forward kernels (grad_check.h: eps
 * 1e-3, |error| <= 1e-3 + 1e-2 * |numeric|): overlapping and strided
 * windows, explicit pads, dilation, ceil_mode's extra output cells (one
 * more row/column whose window runs past the padding), and for average
 * both count_include_pad settings. Max pooling uses values at least 0.01
 * apart so no window has a tie within eps. Also, as PyTorch 1.13
 * (F.max_pool1d measured): a tie goes to the first maximum, an all -inf
 * window to its first in-bounds position, NaN to the last NaN.
 */
#include "nn.h"
#include "grad_check.h"

enum { MAXX = 160, MAXY = 160 };

typedef struct {
  nn_pool_params p;
  int is_max;
  float x[MAXX], dx[MAXX];
} pool_case;

static int x_count(const nn_pool_params *p) { return p->n * p->c * p->h * p->w; }
static int y_count(const nn_pool_params *p) { return p->n * p->c * p->oh * p->ow; }

static void pool_fwd(void *ctx, float *out)
{
  pool_case *c = ctx;
  if (c->is_max)
    nn_maxpool_forward(out, c->x, &c->p);
  else
    nn_avgpool_forward(out, c->x, &c->p);
}

static void pool_bwd(void *ctx, const float *dout)
{
  pool_case *c = ctx;
  if (c->is_max)
    nn_maxpool_backward(c->dx, dout, c->x, &c->p);
  else
    nn_avgpool_backward(c->dx, dout, &c->p);
}

// Output size with pads (t, l, b, r); ceil adds the ceil_mode cell.
static nn_pool_params params(int n, int c, int h, int w, int kh, int kw, int sh, int sw,
                             int dh, int dw, int pt, int pl, int pb, int pr, int ceil,
                             int include_pad)
{
  nn_pool_params p = {.n = n, .c = c, .h = h, .w = w, .kh = kh, .kw = kw,
                      .stride_h = sh, .stride_w = sw, .dil_h = dh, .dil_w = dw,
                      .pad_t = pt, .pad_l = pl, .pad_b = pb, .pad_r = pr,
                      .count_include_pad = include_pad};
  p.oh = (h + pt + pb - dh * (kh - 1) - 1) / sh + 1 + ceil;
  p.ow = (w + pl + pr - dw * (kw - 1) - 1) / sw + 1 + ceil;
  return p;
}

static void check_pool(nn_pool_params p, int is_max)
{
  static pool_case c;
  c.p = p;
  c.is_max = is_max;
  int nx = x_count(&p);
  assert_true(nx <= MAXX && y_count(&p) <= MAXY);
  // A permutation of 0.01-spaced values: distinct, in [-0.8, 0.8].
  for (int i = 0; i < nx; i++)
    c.x[i] = (float)((i * 37) % nx) * (1.6f / (float)nx) - 0.8f;
  grad_check_case g = {.forward = pool_fwd, .backward = pool_bwd, .ctx = &c,
                       .out_count = y_count(&p), .in = {{"dx", c.x, c.dx, nx}}, .nin = 1};
  grad_check(&g);
}

static void test_maxpool_backward_matches_finite_difference(void **state)
{
  (void)state;
  // n c h w kh kw stride dil pads(t l b r) ceil include_pad
  check_pool(params(2, 2, 5, 6, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, 0), 1);
  check_pool(params(1, 2, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0), 1); // overlapping
  check_pool(params(1, 2, 7, 7, 3, 2, 2, 2, 1, 1, 1, 0, 1, 1, 0, 0), 1);
  check_pool(params(1, 2, 7, 7, 2, 2, 1, 2, 2, 2, 0, 1, 0, 1, 0, 0), 1); // dilated
  check_pool(params(1, 2, 5, 5, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0), 1); // ceil
  check_pool(params(2, 1, 1, 9, 1, 3, 1, 2, 1, 1, 0, 1, 0, 1, 0, 0), 1); // 1-D
}

static void test_avgpool_backward_matches_finite_difference(void **state)
{
  (void)state;
  for (int inc = 0; inc < 2; inc++) {
    check_pool(params(2, 2, 5, 6, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0, inc), 0);
    check_pool(params(1, 2, 6, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 0, inc), 0);
    check_pool(params(1, 2, 7, 7, 3, 2, 2, 2, 1, 1, 1, 0, 2, 1, 0, inc), 0);
    check_pool(params(1, 2, 5, 5, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 1, inc), 0); // ceil
    check_pool(params(1, 2, 6, 6, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 1, inc), 0); // ceil + pads
    check_pool(params(2, 1, 1, 9, 1, 3, 1, 2, 1, 1, 0, 1, 0, 1, 0, inc), 0); // 1-D
  }
}

// x (1, 1, 1, 3), one window over all three: the gradient of dy = 1.
static void window_of_three(const float *x, const float *want)
{
  nn_pool_params p = params(1, 1, 1, 3, 1, 3, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0);
  float dx[3] = {0.0f, 0.0f, 0.0f};
  const float dy[1] = {1.0f};
  nn_maxpool_backward(dx, dy, x, &p);
  assert_floats_near(dx, want, 3, 0.0f);
  float gdx[3] = {0.0f, 0.0f, 0.0f};
  nn_global_maxpool_backward(gdx, dy, x, 1, 3);
  assert_floats_near(gdx, want, 3, 0.0f);
}

static void test_maxpool_backward_ties_inf_nan_match_pytorch(void **state)
{
  (void)state;
  const float tie[3] = {1.0f, 3.0f, 3.0f}, tie_want[3] = {0.0f, 1.0f, 0.0f};
  window_of_three(tie, tie_want);
  const float inf[3] = {-INFINITY, -INFINITY, -INFINITY}, inf_want[3] = {1.0f, 0.0f, 0.0f};
  window_of_three(inf, inf_want);
  const float nan[3] = {NAN, 1.0f, NAN}, nan_want[3] = {0.0f, 0.0f, 1.0f};
  window_of_three(nan, nan_want);
  // A padded window: its first in-bounds position, not a pad.
  nn_pool_params p = params(1, 1, 1, 2, 1, 3, 1, 1, 1, 1, 0, 1, 0, 0, 0, 0);
  float dx[2] = {0.0f, 0.0f};
  const float dy[1] = {1.0f}, want[2] = {1.0f, 0.0f};
  nn_maxpool_backward(dx, dy, inf, &p);
  assert_floats_near(dx, want, 2, 0.0f);
}

typedef struct {
  int count, size, is_max;
  float x[60], dx[60];
} global_case;

static void global_fwd(void *ctx, float *out)
{
  global_case *c = ctx;
  if (c->is_max)
    nn_global_maxpool_forward(out, c->x, c->count, c->size);
  else
    nn_global_avgpool_forward(out, c->x, c->count, c->size);
}

static void global_bwd(void *ctx, const float *dout)
{
  global_case *c = ctx;
  if (c->is_max)
    nn_global_maxpool_backward(c->dx, dout, c->x, c->count, c->size);
  else
    nn_global_avgpool_backward(c->dx, dout, c->count, c->size);
}

static void test_global_pools_backward_match_finite_difference(void **state)
{
  (void)state;
  static global_case c;
  for (int is_max = 0; is_max < 2; is_max++) {
    c.count = 6;
    c.size = 10;
    c.is_max = is_max;
    for (int i = 0; i < 60; i++)
      c.x[i] = (float)((i * 23) % 60) * 0.02f - 0.6f;
    grad_check_case g = {.forward = global_fwd, .backward = global_bwd, .ctx = &c,
                         .out_count = 6, .in = {{"dx", c.x, c.dx, 60}}, .nin = 1};
    grad_check(&g);
  }
}

static void test_pool_backward_null_dx_is_a_no_op(void **state)
{
  (void)state;
  nn_pool_params p = params(1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0);
  const float x[4] = {1, 2, 3, 4}, dy[1] = {1};
  nn_maxpool_backward(NULL, dy, x, &p);
  nn_avgpool_backward(NULL, dy, &p);
  nn_global_maxpool_backward(NULL, dy, x, 1, 4);
  nn_global_avgpool_backward(NULL, dy, 1, 4);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_maxpool_backward_matches_finite_difference),
      cmocka_unit_test(test_avgpool_backward_matches_finite_difference),
      cmocka_unit_test(test_maxpool_backward_ties_inf_nan_match_pytorch),
      cmocka_unit_test(test_global_pools_backward_match_finite_difference),
      cmocka_unit_test(test_pool_backward_null_dx_is_a_no_op),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
