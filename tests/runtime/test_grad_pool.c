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
 *
 * The kernels split each plane into an interior, with loops of their own
 * for 2x2 and 3x3 windows, and a border; the last tests run both over a
 * table of shapes against a one-window-at-a-time definition, bit for bit
 * (a dx position sums its windows' gradients in their raster order): for
 * max, windows with ties, NaN of either sign, infinities and signed zeros,
 * and where each gradient lands; for average, both divisors.
 */
#include "nn.h"
#include "grad_check.h"
#include "pool_shapes.h"

#include <string.h>

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

// ------------------------------------------------ fast paths vs definition

enum { BIG = 1 << 14 };

static void fill_random(float *x, int count, unsigned seed)
{
  for (int i = 0; i < count; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

// dx += the gradients from their definition, window after window in raster
// order: max to the first tap that no later tap exceeds (a later tap wins
// when greater or NaN), average dy / divisor to every tap inside x.
static void ref_backward(float *dx, const float *dy, const float *x,
                         const nn_pool_params *p, int is_max)
{
  static int at[64];
  for (int pl = 0; pl < p->n * p->c; pl++)
    for (int i = 0; i < p->oh; i++)
      for (int j = 0; j < p->ow; j++) {
        int in_pad, count = window_taps(p, i, j, at, &in_pad);
        float g = dy[(pl * p->oh + i) * p->ow + j];
        float *dxp = dx + pl * p->h * p->w;
        if (count == 0)
          continue;
        if (!is_max) {
          g /= (float)(p->count_include_pad ? in_pad : count);
          for (int t = 0; t < count; t++)
            dxp[at[t]] += g;
          continue;
        }
        const float *xp = x + pl * p->h * p->w;
        int arg = at[0];
        float best = -INFINITY;
        for (int t = 0; t < count; t++)
          if (xp[at[t]] > best || isnan(xp[at[t]])) {
            best = xp[at[t]];
            arg = at[t];
          }
        dxp[arg] += g;
      }
}

// Bit for bit: the sign of zero included.
static void assert_same_bits(const float *got, const float *want, int count)
{
  for (int i = 0; i < count; i++)
    if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
      fail_msg("element %d: got %.9g, want %.9g", i, (double)got[i], (double)want[i]);
}

static void check_backward_over_shapes(int is_max)
{
  static float x[BIG], dy[BIG], dx[BIG], want[BIG];
  for (int t = 0; t < POOL_SHAPES; t++)
    for (int round = 0; round < 3; round++) {
      nn_pool_params p = pool_shape(pool_shapes[t], round == 2);
      int nx = p.n * p.c * p.h * p.w, ny = p.n * p.c * p.oh * p.ow;
      assert_true(nx <= BIG && ny <= BIG);
      if (round == 0)
        fill_mixed(x, nx, 7u + (unsigned)t);
      else
        fill_random(x, nx, 7u + (unsigned)t);
      fill_random(dy, ny, 11u + (unsigned)t);
      fill_random(dx, nx, 13u + (unsigned)t); // backward accumulates
      memcpy(want, dx, (size_t)nx * sizeof(float));
      if (is_max)
        nn_maxpool_backward(dx, dy, x, &p);
      else
        nn_avgpool_backward(dx, dy, &p);
      ref_backward(want, dy, x, &p, is_max);
      assert_same_bits(dx, want, nx);
    }
}

static void test_maxpool_backward_matches_definition_over_shapes(void **state)
{
  (void)state;
  check_backward_over_shapes(1);
}

static void test_avgpool_backward_matches_definition_over_shapes(void **state)
{
  (void)state;
  check_backward_over_shapes(0);
}

static void test_maxpool_backward_routes_ties_and_nan_in_interior(void **state)
{
  (void)state;
  // 2x2 stride 2 over a 4x8 plane, dy = 1..8. Window (0,0): NaN first, so
  // it wins over the larger values after it; (0,1): two NaNs, the last wins;
  // (0,2): +0, -0 and two -1: the first zero; (0,3): all -inf, the first;
  // (1,0): 7 then 7: the first; (1,1): -NaN last; (1,2): inf twice: the
  // first; (1,3): NaN at the end beats inf.
  const float x[32] = {NAN, 1, 2, NAN, 0.0f, -0.0f, -INFINITY, -INFINITY,
                       3,   4, 5, -NAN, -1, -1, -INFINITY, -INFINITY,
                       7,   7, 6, 5, INFINITY, INFINITY, INFINITY, 2,
                       1,   2, 1, -NAN, 1, 1, 1, NAN};
  const float dy[8] = {1, 2, 3, 4, 5, 6, 7, 8};
  const float want[32] = {1, 0, 0, 0, 3, 0, 4, 0, //
                          0, 0, 0, 2, 0, 0, 0, 0, //
                          5, 0, 0, 0, 7, 0, 0, 0, //
                          0, 0, 0, 6, 0, 0, 0, 8};
  nn_pool_params p = {.n = 1, .c = 1, .h = 4, .w = 8, .oh = 2, .ow = 4, .kh = 2, .kw = 2,
                      .stride_h = 2, .stride_w = 2, .dil_h = 1, .dil_w = 1};
  float dx[32] = {0};
  nn_maxpool_backward(dx, dy, x, &p);
  assert_floats_near(dx, want, 32, 0.0f);

  // 3x3 stride 2, pad 1 over 5x5, x = i % 3 with 9 at (1,3) and (3,1) and
  // -NaN at (2,2). The one interior window, (1,1), reads rows and columns
  // 1..3: two 9s, but the NaN before them wins. The 9s take the border
  // windows around them: (1,3) those of dy 2, 3 and 6; (3,1) of 4, 7, 8.
  float x5[25];
  for (int i = 0; i < 25; i++)
    x5[i] = (float)(i % 3);
  x5[8] = 9.0f;
  x5[16] = 9.0f;
  x5[12] = -NAN;
  nn_pool_params q = {.n = 1, .c = 1, .h = 5, .w = 5, .oh = 3, .ow = 3, .kh = 3, .kw = 3,
                      .stride_h = 2, .stride_w = 2, .dil_h = 1, .dil_w = 1,
                      .pad_t = 1, .pad_l = 1, .pad_b = 1, .pad_r = 1};
  const float dy9[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  float dx5[25] = {0}, want5[25] = {0};
  want5[5] = 1.0f;                // window (0,0): 2 at (1,0)
  want5[8] = 2.0f + 3.0f + 6.0f;  // 9 at (1,3)
  want5[12] = 5.0f;               // the NaN
  want5[16] = 4.0f + 7.0f + 8.0f; // 9 at (3,1)
  want5[23] = 9.0f;               // window (2,2): 2 at (4,3)
  nn_maxpool_backward(dx5, dy9, x5, &q);
  assert_floats_near(dx5, want5, 25, 0.0f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_maxpool_backward_matches_finite_difference),
      cmocka_unit_test(test_avgpool_backward_matches_finite_difference),
      cmocka_unit_test(test_maxpool_backward_ties_inf_nan_match_pytorch),
      cmocka_unit_test(test_global_pools_backward_match_finite_difference),
      cmocka_unit_test(test_pool_backward_null_dx_is_a_no_op),
      cmocka_unit_test(test_maxpool_backward_matches_definition_over_shapes),
      cmocka_unit_test(test_avgpool_backward_matches_definition_over_shapes),
      cmocka_unit_test(test_maxpool_backward_routes_ties_and_nan_in_interior),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
