/*
 * test_pool.c - MaxPool, AveragePool and their global forms.
 *
 * Goldens are worked by hand or taken from PyTorch's max_pool2d/avg_pool2d
 * (which share ONNX's divisor rules, including ceil_mode's extra cells);
 * dilated average pooling and random shapes compare with a naive loop
 * written here from the comment in nn.h.
 *
 * The kernels split each plane into an interior, with loops of their own
 * for 2x2 and 3x3 windows, and a border; the last tests run both halves
 * over a table of shapes against a one-cell-at-a-time definition, bit for
 * bit: ties, NaN of either sign, infinities and signed zeros inside the
 * windows; 2x2 and 3x3 at strides 1 and 2, odd sizes, ceil_mode's extra
 * cells, dilation, asymmetric pads, 1-D, rows short and long, n*c > 1.
 */
#include "nn.h"
#include "test.h"
#include "pool_shapes.h"

#include <string.h>

static nn_pool_params make(int h, int w, int k, int stride, int dil, int pad,
                           int pad_end, int ceil_mode, int count_include_pad)
{
  nn_pool_params p = {0};
  p.n = 1;
  p.c = 1;
  p.h = h;
  p.w = w;
  p.kh = k;
  p.kw = k;
  p.stride_h = stride;
  p.stride_w = stride;
  p.dil_h = dil;
  p.dil_w = dil;
  p.pad_t = pad;
  p.pad_l = pad;
  p.pad_b = pad_end;
  p.pad_r = pad_end;
  p.count_include_pad = count_include_pad;
  int span = (k - 1) * dil + 1;
  int num_h = h + pad + pad_end - span, num_w = w + pad + pad_end - span;
  p.oh = (ceil_mode ? (num_h + stride - 1) / stride : num_h / stride) + 1;
  p.ow = (ceil_mode ? (num_w + stride - 1) / stride : num_w / stride) + 1;
  return p;
}

static void fill_random(float *x, int count, unsigned seed)
{
  for (int i = 0; i < count; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

// Average pooling from the definition in nn.h.
static void ref_avgpool(float *y, const float *x, const nn_pool_params *p)
{
  for (int pl = 0; pl < p->n * p->c; pl++)
    for (int i = 0; i < p->oh; i++)
      for (int j = 0; j < p->ow; j++) {
        double s = 0.0;
        int inside = 0, in_pad = 0;
        for (int u = 0; u < p->kh; u++)
          for (int v = 0; v < p->kw; v++) {
            int r = i * p->stride_h - p->pad_t + u * p->dil_h;
            int c = j * p->stride_w - p->pad_l + v * p->dil_w;
            if (r >= -p->pad_t && r < p->h + p->pad_b && c >= -p->pad_l &&
                c < p->w + p->pad_r)
              in_pad++;
            if (r < 0 || r >= p->h || c < 0 || c >= p->w)
              continue;
            inside++;
            s += x[(pl * p->h + r) * p->w + c];
          }
        int count = p->count_include_pad ? in_pad : inside;
        y[(pl * p->oh + i) * p->ow + j] = (float)(s / count);
      }
}

static void test_maxpool_hand_computed_2x2_stride2(void **state)
{
  (void)state;
  float x[16];
  for (int i = 0; i < 16; i++)
    x[i] = (float)(i + 1);
  nn_pool_params p = make(4, 4, 2, 2, 1, 0, 0, 0, 0);
  float y[4];
  nn_maxpool_forward(y, x, &p);
  const float want[4] = {6.0f, 8.0f, 14.0f, 16.0f};
  assert_floats_near(y, want, 4, 0.0f);
}

static void test_maxpool_ignores_padding(void **state)
{
  (void)state;
  // All inputs negative: a padded 0 would win if padding were read.
  float x[16];
  for (int i = 0; i < 16; i++)
    x[i] = -(float)(i + 1);
  nn_pool_params p = make(4, 4, 3, 2, 1, 1, 1, 0, 0);
  assert_int_equal(p.oh, 2);
  float y[4];
  nn_maxpool_forward(y, x, &p);
  // Windows cover rows/cols {-1, 0, 1} and {1, 2, 3}.
  const float want[4] = {-1.0f, -2.0f, -5.0f, -6.0f};
  assert_floats_near(y, want, 4, 0.0f);
}

static void test_maxpool_ceil_mode_extra_cells(void **state)
{
  (void)state;
  // x (6, 6) = -(0..35), k 3, stride 2, pad 1, ceil_mode: 4x4 outputs, the
  // last row/column of windows reaching past the padding (PyTorch values).
  float x[36];
  for (int i = 0; i < 36; i++)
    x[i] = -(float)i;
  nn_pool_params p = make(6, 6, 3, 2, 1, 1, 1, 1, 0);
  assert_int_equal(p.oh, 4);
  float y[16];
  nn_maxpool_forward(y, x, &p);
  const float want[16] = {-0.0f,  -1.0f,  -3.0f,  -5.0f,  -6.0f,  -7.0f,
                          -9.0f,  -11.0f, -18.0f, -19.0f, -21.0f, -23.0f,
                          -30.0f, -31.0f, -33.0f, -35.0f};
  assert_floats_near(y, want, 16, 0.0f);
}

static void test_maxpool_dilation(void **state)
{
  (void)state;
  // x (5, 5) = 0, -1, 2, -3, ... ; k 2, dilation 2, pad 1 (PyTorch values).
  float x[25];
  for (int i = 0; i < 25; i++)
    x[i] = i % 2 ? -(float)i : (float)i;
  nn_pool_params p = make(5, 5, 2, 1, 2, 1, 1, 0, 0);
  assert_int_equal(p.oh, 5);
  float y[25];
  nn_maxpool_forward(y, x, &p);
  const float want[25] = {6,  -5,  8,  -7,  8,  -1, 12, -1,  14,
                          -3, 16,  -5, 18,  -7, 18, -11, 22, -11,
                          24, -13, 16, -15, 18, -17, 18};
  assert_floats_near(y, want, 25, 0.0f);
}

static void test_maxpool_propagates_nan(void **state)
{
  (void)state;
  const float x[4] = {1.0f, NAN, 3.0f, 2.0f};
  nn_pool_params p = make(2, 2, 2, 1, 1, 0, 0, 0, 0);
  float y[1];
  nn_maxpool_forward(y, x, &p);
  assert_true(isnan(y[0]));
}

static void test_avgpool_excludes_padding_from_divisor(void **state)
{
  (void)state;
  float x[9];
  for (int i = 0; i < 9; i++)
    x[i] = (float)(i + 1);
  nn_pool_params p = make(3, 3, 2, 1, 1, 1, 1, 0, 0);
  float y[16];
  nn_avgpool_forward(y, x, &p);
  const float want[16] = {1.0f, 1.5f, 2.5f, 3.0f, 2.5f, 3.0f, 4.0f, 4.5f,
                          5.5f, 6.0f, 7.0f, 7.5f, 7.0f, 7.5f, 8.5f, 9.0f};
  assert_floats_near(y, want, 16, 1e-6f);
}

static void test_avgpool_includes_padding_in_divisor(void **state)
{
  (void)state;
  float x[9];
  for (int i = 0; i < 9; i++)
    x[i] = (float)(i + 1);
  nn_pool_params p = make(3, 3, 2, 1, 1, 1, 1, 0, 1);
  float y[16];
  nn_avgpool_forward(y, x, &p);
  // y[0, 0] = 1 / 4: three of its four positions are padding.
  const float want[16] = {0.25f, 0.75f, 1.25f, 0.75f, 1.25f, 3.0f, 4.0f, 2.25f,
                          2.75f, 6.0f,  7.0f,  3.75f, 1.75f, 3.75f, 4.25f, 2.25f};
  assert_floats_near(y, want, 16, 1e-6f);
}

static void test_avgpool_ceil_mode_never_counts_extra_cells(void **state)
{
  (void)state;
  // x (6, 6) = 0..35, k 3, stride 2, pad 1, ceil_mode (PyTorch values).
  // The last window covers rows 5, 6, 7: 6 is padding, 7 is a ceil cell.
  float x[36];
  for (int i = 0; i < 36; i++)
    x[i] = (float)i;
  nn_pool_params incl = make(6, 6, 3, 2, 1, 1, 1, 1, 1);
  float y[16];
  nn_avgpool_forward(y, x, &incl);
  const float want_incl[16] = {1.55555558f, 3.33333325f, 4.66666651f, 2.66666675f,
                               8.33333302f, 14.0f,       16.0f,       8.5f,
                               16.333334f,  26.0f,       28.0f,       14.5f,
                               10.166667f,  16.0f,       17.0f,       8.75f};
  assert_floats_near(y, want_incl, 16, 1e-5f);

  nn_pool_params excl = make(6, 6, 3, 2, 1, 1, 1, 1, 0);
  nn_avgpool_forward(y, x, &excl);
  const float want_excl[16] = {3.5f,  5.0f,  7.0f,  8.0f,  12.5f, 14.0f,
                               16.0f, 17.0f, 24.5f, 26.0f, 28.0f, 29.0f,
                               30.5f, 32.0f, 34.0f, 35.0f};
  assert_floats_near(y, want_excl, 16, 1e-5f);
}

static void test_avgpool_dilation_and_channels_match_reference(void **state)
{
  (void)state;
  static float x[2 * 3 * 9 * 8], y[512], want[512];
  for (int incl = 0; incl < 2; incl++) {
    nn_pool_params p = make(9, 8, 3, 2, 2, 2, 1, 1, incl);
    p.n = 2;
    p.c = 3;
    fill_random(x, 2 * 3 * 9 * 8, 21u);
    nn_avgpool_forward(y, x, &p);
    ref_avgpool(want, x, &p);
    assert_floats_near(y, want, 2 * 3 * p.oh * p.ow, 1e-6f);
  }
}

static void test_avgpool_1d(void **state)
{
  (void)state;
  // h = 1: x = 1..5, k 3 along w only, stride 2, pad 1 -> windows
  // {-1,0,1}, {1,2,3}, {3,4,5}, excluding padding from the divisor.
  const float x[5] = {1, 2, 3, 4, 5};
  nn_pool_params p = make(1, 5, 3, 2, 1, 1, 1, 0, 0);
  p.kh = 1;
  p.pad_t = 0;
  p.pad_b = 0;
  p.stride_h = 1;
  p.oh = 1;
  assert_int_equal(p.ow, 3);
  float y[3];
  nn_avgpool_forward(y, x, &p);
  const float want[3] = {1.5f, 3.0f, 4.5f};
  assert_floats_near(y, want, 3, 1e-6f);
}

static void test_global_avgpool_means_each_row(void **state)
{
  (void)state;
  const float x[6] = {1.0f, 2.0f, 6.0f, -1.0f, -2.0f, 0.0f};
  float y[2];
  nn_global_avgpool_forward(y, x, 2, 3);
  const float want[2] = {3.0f, -1.0f};
  assert_floats_near(y, want, 2, 1e-6f);
}

static void test_global_maxpool_maxes_each_row(void **state)
{
  (void)state;
  const float x[6] = {1.0f, 2.0f, 6.0f, -1.0f, -2.0f, -0.5f};
  float y[2];
  nn_global_maxpool_forward(y, x, 2, 3);
  const float want[2] = {6.0f, -0.5f};
  assert_floats_near(y, want, 2, 0.0f);
}

// ------------------------------------------------ fast paths vs definition

// Max from its definition: a later tap wins when greater or NaN.
static void ref_maxpool(float *y, const float *x, const nn_pool_params *p)
{
  static int at[64];
  for (int pl = 0; pl < p->n * p->c; pl++)
    for (int i = 0; i < p->oh; i++)
      for (int j = 0; j < p->ow; j++) {
        int in_pad, count = window_taps(p, i, j, at, &in_pad);
        float best = -INFINITY;
        for (int t = 0; t < count; t++) {
          float v = x[pl * p->h * p->w + at[t]];
          if (v > best || isnan(v))
            best = v;
        }
        y[(pl * p->oh + i) * p->ow + j] = best;
      }
}

// Average in float, summing the taps in raster order from 0.
static void ref_avgpool_float(float *y, const float *x, const nn_pool_params *p)
{
  static int at[64];
  for (int pl = 0; pl < p->n * p->c; pl++)
    for (int i = 0; i < p->oh; i++)
      for (int j = 0; j < p->ow; j++) {
        int in_pad, count = window_taps(p, i, j, at, &in_pad);
        float sum = 0.0f;
        for (int t = 0; t < count; t++)
          sum += x[pl * p->h * p->w + at[t]];
        y[(pl * p->oh + i) * p->ow + j] = sum / (float)(p->count_include_pad ? in_pad : count);
      }
}

// Bit for bit: the sign of zero and of NaN included.
static void assert_same_bits(const float *got, const float *want, int count)
{
  for (int i = 0; i < count; i++)
    if (memcmp(&got[i], &want[i], sizeof(float)) != 0)
      fail_msg("element %d: got %.9g, want %.9g", i, (double)got[i], (double)want[i]);
}

enum { BIG = 1 << 14 };

static void test_maxpool_matches_definition_over_shapes(void **state)
{
  (void)state;
  static float x[BIG], y[BIG], want[BIG];
  for (int t = 0; t < POOL_SHAPES; t++) {
    nn_pool_params p = pool_shape(pool_shapes[t], 0);
    int nx = p.n * p.c * p.h * p.w, ny = p.n * p.c * p.oh * p.ow;
    assert_true(nx <= BIG && ny <= BIG);
    for (unsigned seed = 1; seed <= 3; seed++) {
      if (seed < 3)
        fill_mixed(x, nx, seed);
      else
        fill_random(x, nx, seed);
      nn_maxpool_forward(y, x, &p);
      ref_maxpool(want, x, &p);
      assert_same_bits(y, want, ny);
    }
  }
}

static void test_avgpool_matches_definition_over_shapes(void **state)
{
  (void)state;
  static float x[BIG], y[BIG], want[BIG];
  for (int t = 0; t < POOL_SHAPES; t++)
    for (int incl = 0; incl < 2; incl++) {
      nn_pool_params p = pool_shape(pool_shapes[t], 0);
      p.count_include_pad = incl;
      int nx = p.n * p.c * p.h * p.w, ny = p.n * p.c * p.oh * p.ow;
      assert_true(nx <= BIG && ny <= BIG);
      fill_random(x, nx, 5u + (unsigned)t);
      nn_avgpool_forward(y, x, &p);
      ref_avgpool_float(want, x, &p);
      assert_same_bits(y, want, ny);
    }
}

static void test_maxpool_nan_and_ties_inside_2x2_windows(void **state)
{
  (void)state;
  // One 4x8 plane, 2x2 stride 2: windows (0,0) NaN first, (0,1) -NaN last
  // after a NaN (the last NaN wins), (0,2) +0 before -0 (the first zero),
  // (0,3) -inf only; (1,0) a NaN below a larger value, (1,1) equal maxima,
  // (1,2) -0 then +0, (1,3) inf beside NaN.
  const float x[32] = {NAN, 1, 2, NAN, 0.0f, -1, -INFINITY, -INFINITY,
                       3,   4, 5, -NAN, -0.0f, -2, -INFINITY, -INFINITY,
                       7,   1, 6, 6, -0.0f, 0.0f, INFINITY, 2,
                       NAN, 2, 6, 6, -1, -3, 1, NAN};
  nn_pool_params p = pool_shape((const int[15]){1, 1, 4, 8, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, 0}, 0);
  float y[8], want[8];
  nn_maxpool_forward(y, x, &p);
  ref_maxpool(want, x, &p);
  assert_same_bits(y, want, 8);
  assert_true(isnan(y[0]) && !signbit(y[0]));
  assert_true(isnan(y[1]) && signbit(y[1]));
  assert_true(y[2] == 0.0f && !signbit(y[2]));
  assert_true(y[3] == -INFINITY);
  assert_true(isnan(y[4]));
  assert_true(y[5] == 6.0f);
  assert_true(y[6] == 0.0f && signbit(y[6]));
  assert_true(isnan(y[7]));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_maxpool_hand_computed_2x2_stride2),
      cmocka_unit_test(test_maxpool_ignores_padding),
      cmocka_unit_test(test_maxpool_ceil_mode_extra_cells),
      cmocka_unit_test(test_maxpool_dilation),
      cmocka_unit_test(test_maxpool_propagates_nan),
      cmocka_unit_test(test_avgpool_excludes_padding_from_divisor),
      cmocka_unit_test(test_avgpool_includes_padding_in_divisor),
      cmocka_unit_test(test_avgpool_ceil_mode_never_counts_extra_cells),
      cmocka_unit_test(test_avgpool_dilation_and_channels_match_reference),
      cmocka_unit_test(test_avgpool_1d),
      cmocka_unit_test(test_global_avgpool_means_each_row),
      cmocka_unit_test(test_global_maxpool_maxes_each_row),
      cmocka_unit_test(test_maxpool_matches_definition_over_shapes),
      cmocka_unit_test(test_avgpool_matches_definition_over_shapes),
      cmocka_unit_test(test_maxpool_nan_and_ties_inside_2x2_windows),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
