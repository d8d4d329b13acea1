/*
 * test_depthwise.c - nn_depthwise_forward and nn_depthwise_backward.
 *
 * One case is worked by hand (a Laplacian and a box filter, forward and
 * backward). The rest compare with naive loops over (img, o, i, j, u, v),
 * written here in double from the formula in nn.h, on pseudo-random data:
 * a sweep over kernels 1x1, 3x3, 5x5, 3x1, 1x3, 2x4; strides 1, 2, 3 and
 * unequal ones; dilations 1 and 2; no, symmetric and asymmetric padding;
 * planes 1x1 (smaller than the kernel), 3x2, 1x9, 6x1, 7x7, 13x11, 5x40,
 * and 20x23 and 4x120 (too big for the kernel's padded copy of small
 * planes, so they take its edge-column paths); batch 1 and 2, multiplier
 * 1 and 2, with and without bias, fused Relu and LeakyRelu. Then
 * MobileNet's 112x112 planes at stride 1 and 2, and every width from 1
 * to 40 (one, two and three 16-column vectors and the masked columns
 * past them, and planes at most 8 wide, two rows a vector in the
 * AVX-512 forward) through MobileNet's 3x3 layers at strides 1 and 2 and
 * a few other kernels, paddings and dilations (equal and not), square
 * and not, with each fused activation the AVX-512 forward clips in
 * registers (none, Relu, Clip) and one it does not (LeakyRelu). Every
 * element must be within 1e-5 of the sum of the magnitudes of the terms
 * it adds up.
 *
 * Backward, over the same sweep: the gradients start from nonzero values
 * that must be added to (+=); each of dx, dw, db may be NULL (and then x
 * or w need not be given); and central differences confirm the reference
 * itself on two small cases.
 */
#include "nn.h"
#include "kernels/depthwise.h"
#include "grad_check.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_X = 2 * 2 * 112 * 112, MAX_Y = 2 * 2 * 112 * 112, MAX_W = 64 * 25, MAX_M = 64 };

static void fill_random(float *x, int count, unsigned seed)
{
  for (int i = 0; i < count; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

// Depthwise parameters: group = c, m = c * mult, oh/ow from ONNX's
// output-size formula with bottom/right pads pb, pr.
static nn_conv_params make(int n, int c, int h, int w, int mult, int kh, int kw, int sh,
                           int sw, int dh, int dw, int pt, int pl, int pb, int pr)
{
  nn_conv_params p = {0};
  p.n = n;
  p.c = c;
  p.h = h;
  p.w = w;
  p.m = c * mult;
  p.kh = kh;
  p.kw = kw;
  p.group = c;
  p.stride_h = sh;
  p.stride_w = sw;
  p.dil_h = dh;
  p.dil_w = dw;
  p.pad_t = pt;
  p.pad_l = pl;
  p.oh = (h + pt + pb - ((kh - 1) * dh + 1)) / sh + 1;
  p.ow = (w + pl + pr - ((kw - 1) * dw + 1)) / sw + 1;
  p.act = NN_ACT_NONE;
  return p;
}

static int x_count(const nn_conv_params *p) { return p->n * p->c * p->h * p->w; }
static int w_count(const nn_conv_params *p) { return p->m * p->kh * p->kw; }
static int y_count(const nn_conv_params *p) { return p->n * p->m * p->oh * p->ow; }

// Index of x read by output (img, o, i, j) through tap (u, v), or -1 for
// padding.
static int x_index(const nn_conv_params *p, int img, int o, int i, int j, int u, int v)
{
  int r = i * p->stride_h + u * p->dil_h - p->pad_t;
  int c = j * p->stride_w + v * p->dil_w - p->pad_l;
  if (r < 0 || r >= p->h || c < 0 || c >= p->w)
    return -1;
  int ci = o / (p->m / p->group);
  return ((img * p->c + ci) * p->h + r) * p->w + c;
}

// y from the definition, in double; mag[k] = sum of |terms| of y[k].
static void ref_forward(double *y, double *mag, const float *x, const float *w,
                        const float *b, const nn_conv_params *p)
{
  for (int img = 0; img < p->n; img++)
    for (int o = 0; o < p->m; o++)
      for (int i = 0; i < p->oh; i++)
        for (int j = 0; j < p->ow; j++) {
          double s = b != NULL ? b[o] : 0.0, a = fabs(s);
          for (int u = 0; u < p->kh; u++)
            for (int v = 0; v < p->kw; v++) {
              int k = x_index(p, img, o, i, j, u, v);
              if (k < 0)
                continue;
              double t = (double)x[k] * w[(o * p->kh + u) * p->kw + v];
              s += t;
              a += fabs(t);
            }
          if (p->act == NN_ACT_RELU && s < 0.0)
            s = 0.0;
          if (p->act == NN_ACT_LEAKY_RELU && s < 0.0)
            s *= p->act_alpha;
          if (p->act == NN_ACT_CLIP)
            s = s < p->act_alpha ? p->act_alpha : s > p->act_beta ? p->act_beta : s;
          int idx = ((img * p->m + o) * p->oh + i) * p->ow + j;
          y[idx] = s;
          mag[idx] = a;
        }
}

// The three gradients from the definition, in double, added to what the
// arrays hold; *_mag collect the magnitudes of the added terms.
static void ref_backward(double *dx, double *dx_mag, double *dw, double *dw_mag, double *db,
                         double *db_mag, const float *dy, const float *x, const float *w,
                         const nn_conv_params *p)
{
  for (int img = 0; img < p->n; img++)
    for (int o = 0; o < p->m; o++)
      for (int i = 0; i < p->oh; i++)
        for (int j = 0; j < p->ow; j++) {
          double d = dy[((img * p->m + o) * p->oh + i) * p->ow + j];
          db[o] += d;
          db_mag[o] += fabs(d);
          for (int u = 0; u < p->kh; u++)
            for (int v = 0; v < p->kw; v++) {
              int k = x_index(p, img, o, i, j, u, v);
              if (k < 0)
                continue;
              int kw = (o * p->kh + u) * p->kw + v;
              dx[k] += d * w[kw];
              dx_mag[k] += fabs(d * w[kw]);
              dw[kw] += d * x[k];
              dw_mag[kw] += fabs(d * x[k]);
            }
        }
}

// Fails at the first k with |got - want| > 1e-5 * mag (a relative error
// of 1e-5 against the terms summed), naming what, k and the shape.
static void assert_near_mag(const char *what, const float *got, const double *want,
                            const double *mag, int count, const nn_conv_params *p)
{
  for (int k = 0; k < count; k++) {
    if (!(fabs((double)got[k] - want[k]) <= 1e-5 * mag[k]))
      fail_msg("%s[%d]: got %.9g, want %.9g (magnitude %g); n=%d c=%d h=%d w=%d m=%d "
               "k=%dx%d s=%d,%d d=%d,%d pad=%d,%d", what, k, (double)got[k], want[k],
               mag[k], p->n, p->c, p->h, p->w, p->m, p->kh, p->kw, p->stride_h,
               p->stride_w, p->dil_h, p->dil_w, p->pad_t, p->pad_l);
  }
}

static float x_[MAX_X], w_[MAX_W], b_[MAX_M], y_[MAX_Y], dy_[MAX_Y];
static float dx_[MAX_X], dw_[MAX_W], db_[MAX_M];
static double want_[MAX_Y], mag_[MAX_Y];
static double dx_want[MAX_X], dx_mag[MAX_X], dw_want[MAX_W], dw_mag[MAX_W];
static double db_want[MAX_M], db_mag[MAX_M];

static void check_forward(nn_conv_params p, int with_bias, nn_act act)
{
  p.act = act;
  p.act_alpha = act == NN_ACT_CLIP ? -0.25f : 0.125f; // Clip to [-0.25, 0.5]
  p.act_beta = 0.5f;
  assert_true(x_count(&p) <= MAX_X && w_count(&p) <= MAX_W && y_count(&p) <= MAX_Y &&
              p.m <= MAX_M);
  fill_random(x_, x_count(&p), 11u);
  fill_random(w_, w_count(&p), 12u);
  fill_random(b_, p.m, 13u);
  // The kernel runs on copies of exactly the tensors' sizes, so that under
  // AddressSanitizer a read past x or a write past y is caught.
  float *x = malloc(sizeof(float) * (size_t)x_count(&p));
  float *y = malloc(sizeof(float) * (size_t)y_count(&p));
  assert_non_null(x);
  assert_non_null(y);
  memcpy(x, x_, sizeof(float) * (size_t)x_count(&p));
  nn_depthwise_forward(y, x, w_, with_bias ? b_ : NULL, &p);
  memcpy(y_, y, sizeof(float) * (size_t)y_count(&p));
  free(x);
  free(y);
  ref_forward(want_, mag_, x_, w_, with_bias ? b_ : NULL, &p);
  assert_near_mag("y", y_, want_, mag_, y_count(&p), &p);
}

// The nonzero values each gradient starts from; the kernel must add to them.
static float prefill(int i) { return 0.5f - 0.25f * (float)(i % 5); }

static void prefill_all(float *g, double *want, double *mag, int count)
{
  for (int i = 0; i < count; i++) {
    g[i] = prefill(i);
    want[i] = prefill(i);
    mag[i] = fabs(want[i]);
  }
}

static void check_backward(nn_conv_params p)
{
  assert_true(x_count(&p) <= MAX_X && w_count(&p) <= MAX_W && y_count(&p) <= MAX_Y &&
              p.m <= MAX_M);
  fill_random(x_, x_count(&p), 21u);
  fill_random(w_, w_count(&p), 22u);
  fill_random(dy_, y_count(&p), 23u);
  prefill_all(dx_, dx_want, dx_mag, x_count(&p));
  prefill_all(dw_, dw_want, dw_mag, w_count(&p));
  prefill_all(db_, db_want, db_mag, p.m);
  nn_depthwise_backward(dx_, dw_, db_, dy_, x_, w_, &p);
  ref_backward(dx_want, dx_mag, dw_want, dw_mag, db_want, db_mag, dy_, x_, w_, &p);
  assert_near_mag("dx", dx_, dx_want, dx_mag, x_count(&p), &p);
  assert_near_mag("dw", dw_, dw_want, dw_mag, w_count(&p), &p);
  assert_near_mag("db", db_, db_want, db_mag, p.m, &p);
}

// Runs check(p) on every shape of the sweep; returns how many it ran.
static int sweep(void (*check)(nn_conv_params p, int variant))
{
  static const int kernels[][2] = {{1, 1}, {3, 3}, {5, 5}, {3, 1}, {1, 3}, {2, 4}};
  static const int strides[][2] = {{1, 1}, {2, 2}, {3, 3}, {1, 2}, {2, 1}};
  static const int pads[][4] = {{0, 0, 0, 0}, {1, 1, 1, 1}, {2, 0, 1, 2}, {0, 2, 2, 1}};
  static const int planes[][2] = {{1, 1},   {3, 2},  {1, 9},   {6, 1},  {7, 7},
                                  {13, 11}, {5, 40}, {20, 23}, {4, 120}};
  int ran = 0;
  for (int ki = 0; ki < 6; ki++)
    for (int si = 0; si < 5; si++)
      for (int dil = 1; dil <= 2; dil++)
        for (int pi = 0; pi < 4; pi++)
          for (int hi = 0; hi < 9; hi++) {
            int kh = kernels[ki][0], kw = kernels[ki][1];
            const int *pad = pads[pi];
            int h = planes[hi][0], w = planes[hi][1];
            if (h + pad[0] + pad[2] < (kh - 1) * dil + 1 ||
                w + pad[1] + pad[3] < (kw - 1) * dil + 1)
              continue;
            int n = 1 + ran % 2, mult = 1 + (ran / 2) % 2;
            check(make(n, 2, h, w, mult, kh, kw, strides[si][0], strides[si][1], dil, dil,
                       pad[0], pad[1], pad[2], pad[3]),
                  ran);
            ran++;
          }
  return ran;
}

static void forward_variant(nn_conv_params p, int variant)
{
  // Cycle through bias or not and no, Relu and LeakyRelu activation.
  static const nn_act acts[3] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_LEAKY_RELU};
  check_forward(p, variant % 2 == 0, acts[variant % 3]);
}

static void backward_variant(nn_conv_params p, int variant)
{
  (void)variant;
  check_backward(p);
}

static void test_depthwise_hand_computed_laplacian_and_box(void **state)
{
  (void)state;
  // x is one 3x3 channel; multiplier 2: output 0 is a Laplacian, output 1
  // a 3x3 box sum plus bias 1; pad 1, stride 1.
  //   x = 1 2 3    Laplacian: up + left + right + down - 4*centre,
  //       4 5 6    zero outside, e.g. y0[0,0] = 2 + 4 - 4*1 = 2,
  //       7 8 9    y0[1,1] = 2 + 4 + 6 + 8 - 20 = 0.
  // Box: y1[0,0] = 1 + 2 + 4 + 5 + 1 = 13, y1[1,1] = 45 + 1 = 46.
  float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  float w[18] = {0, 1, 0, 1, -4, 1, 0, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  float b[2] = {0, 1};
  nn_conv_params p = make(1, 1, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1);
  float y[18];
  nn_depthwise_forward(y, x, w, b, &p);
  const float want[18] = {2,  1,  -4, -3, 0,  -7, -16, -11, -22,
                          13, 22, 17, 28, 46, 34, 25,  40,  29};
  assert_floats_near(y, want, 18, 0.0f);

  // Backward with dY = 0 on output 0 and 1 on output 1 (the box): dx[r,c]
  // counts the windows covering (r, c) (corners 4, edges 6, centre 9);
  // dw[1, u, v] sums x over the positions tap (u, v) reads, which is the
  // box sum at (u, v) again, e.g. tap (0,0) reads x[0..1, 0..1] = 12;
  // db = (0, 9). Everything starts at 1 and is added to.
  float dy[18] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  float dx[9], dw[18], db[2];
  nn_fill(dx, 1.0f, 9);
  nn_fill(dw, 1.0f, 18);
  nn_fill(db, 1.0f, 2);
  nn_depthwise_backward(dx, dw, db, dy, x, w, &p);
  const float want_dx[9] = {5, 7, 5, 7, 10, 7, 5, 7, 5};
  const float want_dw[18] = {1,  1,  1,  1,  1,  1,  1,  1,  1,
                             13, 22, 17, 28, 46, 34, 25, 40, 29};
  const float want_db[2] = {1, 10};
  assert_floats_near(dx, want_dx, 9, 0.0f);
  assert_floats_near(dw, want_dw, 18, 0.0f);
  assert_floats_near(db, want_db, 2, 0.0f);
}

static void test_depthwise_forward_matches_reference_sweep(void **state)
{
  (void)state;
  assert_true(sweep(forward_variant) > 1000);
}

static void test_depthwise_forward_112x112_stride_1_and_2(void **state)
{
  (void)state;
  check_forward(make(1, 2, 112, 112, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1), 1, NN_ACT_RELU);
  check_forward(make(1, 2, 112, 112, 1, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1), 1, NN_ACT_NONE);
  check_forward(make(1, 2, 112, 112, 1, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2), 0, NN_ACT_NONE);
}

static void test_depthwise_forward_every_width_to_40(void **state)
{
  (void)state;
  // kh, kw, stride, dilation, pads top, left, bottom, right.
  static const int shapes[][8] = {
      {3, 3, 1, 1, 1, 1, 1, 1}, // MobileNet, stride 1 ("same")
      {3, 3, 2, 1, 1, 1, 1, 1}, // MobileNet, stride 2, PyTorch's padding
      {3, 3, 2, 1, 0, 0, 1, 1}, // stride 2, TensorFlow's "same"
      {3, 3, 1, 1, 0, 0, 0, 0}, // no padding
      {3, 3, 1, 1, 2, 0, 1, 2}, // asymmetric padding
      {3, 3, 1, 2, 2, 2, 2, 2}, // dilation 2, "same"
      {5, 5, 1, 1, 2, 2, 2, 2}, // EfficientNet's 5x5
      {5, 5, 2, 1, 1, 2, 2, 1}, // 5x5 at stride 2, asymmetric padding
      {1, 3, 1, 1, 0, 1, 0, 1}, // one kernel row
      {3, 1, 2, 1, 1, 0, 1, 0}, // one kernel column, stride 2
  };
  static const nn_act acts[4] = {NN_ACT_NONE, NN_ACT_RELU, NN_ACT_CLIP, NN_ACT_LEAKY_RELU};
  int ran = 0;
  for (int w = 1; w <= 40; w++)
    for (int hi = 0; hi < 2; hi++)
      for (int si = 0; si < (int)(sizeof shapes / sizeof shapes[0]); si++) {
        const int *s = shapes[si];
        int h = hi == 0 ? w : 1 + (w * 5 + si) % 23;
        if (h + s[4] + s[6] < (s[0] - 1) * s[3] + 1 || w + s[5] + s[7] < (s[1] - 1) * s[3] + 1)
          continue;
        // Batch, multiplier, bias and activation vary from case to case.
        int v = ran * 7 + w;
        int n = 1 + (v / 12) % 2, mult = 1 + (v / 24) % 2;
        check_forward(make(n, 3, h, w, mult, s[0], s[1], s[2], s[2], s[3], s[3], s[4], s[5],
                           s[6], s[7]),
                      (v / 4) % 3 != 2, acts[v % 4]);
        ran++;
      }
  assert_true(ran > 700);
  // Unequal dilations, and a dilation larger than the plane at stride 1.
  check_forward(make(2, 2, 20, 23, 2, 3, 3, 1, 1, 2, 1, 2, 1, 2, 1), 1, NN_ACT_CLIP);
  check_forward(make(1, 3, 9, 30, 1, 3, 3, 1, 1, 1, 3, 1, 3, 1, 3), 0, NN_ACT_RELU);
  check_forward(make(1, 2, 17, 33, 1, 3, 3, 1, 1, 3, 2, 3, 2, 3, 2), 1, NN_ACT_NONE);
  check_forward(make(1, 2, 5, 18, 2, 3, 3, 1, 1, 4, 4, 4, 4, 4, 4), 1, NN_ACT_LEAKY_RELU);
}

static void test_depthwise_backward_matches_reference_sweep(void **state)
{
  (void)state;
  assert_true(sweep(backward_variant) > 1000);
}

static void test_depthwise_backward_112x112_stride_1_and_2(void **state)
{
  (void)state;
  check_backward(make(2, 2, 112, 112, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1));
  check_backward(make(1, 2, 112, 112, 2, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1));
  check_backward(make(1, 2, 112, 112, 1, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2));
}

static void test_depthwise_backward_null_gradients_skip_their_work(void **state)
{
  (void)state;
  // Reference: all three at once. Then each alone, with the forward
  // tensors only the others need passed as NULL.
  nn_conv_params p = make(2, 3, 6, 7, 2, 3, 3, 2, 1, 1, 1, 1, 1, 1, 0);
  static float want_dx[MAX_X], want_dw[MAX_W], want_db[MAX_M];
  int nx = x_count(&p), nw = w_count(&p);
  fill_random(x_, nx, 31u);
  fill_random(w_, nw, 32u);
  fill_random(dy_, y_count(&p), 33u);
  nn_fill(want_dx, 0.0f, nx);
  nn_fill(want_dw, 0.0f, nw);
  nn_fill(want_db, 0.0f, p.m);
  nn_depthwise_backward(want_dx, want_dw, want_db, dy_, x_, w_, &p);
  nn_fill(dx_, 0.0f, nx);
  nn_depthwise_backward(dx_, NULL, NULL, dy_, NULL, w_, &p);
  assert_floats_near(dx_, want_dx, nx, 0.0f);
  nn_fill(dw_, 0.0f, nw);
  nn_depthwise_backward(NULL, dw_, NULL, dy_, x_, NULL, &p);
  assert_floats_near(dw_, want_dw, nw, 0.0f);
  nn_fill(db_, 0.0f, p.m);
  nn_depthwise_backward(NULL, NULL, db_, dy_, NULL, NULL, &p);
  assert_floats_near(db_, want_db, p.m, 0.0f);
  nn_depthwise_backward(NULL, NULL, NULL, dy_, NULL, NULL, &p);
}

// grad_check.h's callbacks over one fixed case.
typedef struct {
  nn_conv_params p;
  float x[128], w[72], b[8], dx[128], dw[72], db[8];
} fd_case;

static void fd_forward(void *ctx, float *out)
{
  fd_case *c = ctx;
  nn_depthwise_forward(out, c->x, c->w, c->b, &c->p);
}

static void fd_backward(void *ctx, const float *dout)
{
  fd_case *c = ctx;
  nn_depthwise_backward(c->dx, c->dw, c->db, dout, c->x, c->w, &c->p);
}

static void check_finite_difference(nn_conv_params p)
{
  static fd_case c;
  c.p = p;
  assert_true(x_count(&p) <= 128 && w_count(&p) <= 72 && p.m <= 8);
  gc_fill_uniform(c.x, x_count(&p), 41u, -1.0f, 1.0f);
  gc_fill_uniform(c.w, w_count(&p), 42u, -1.0f, 1.0f);
  gc_fill_uniform(c.b, p.m, 43u, -1.0f, 1.0f);
  grad_check_case g = {.forward = fd_forward, .backward = fd_backward, .ctx = &c,
                       .out_count = y_count(&p),
                       .in = {{"dx", c.x, c.dx, x_count(&p)},
                              {"dw", c.w, c.dw, w_count(&p)},
                              {"db", c.b, c.db, p.m}},
                       .nin = 3};
  grad_check(&g);
}

static void test_depthwise_backward_matches_finite_difference(void **state)
{
  (void)state;
  // Stride 2 with asymmetric padding and multiplier 2; stride 1 dilated.
  check_finite_difference(make(2, 2, 5, 6, 2, 3, 3, 2, 2, 1, 1, 1, 0, 1, 1));
  check_finite_difference(make(1, 2, 6, 7, 1, 3, 3, 1, 1, 2, 2, 2, 1, 1, 2));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_depthwise_hand_computed_laplacian_and_box),
      cmocka_unit_test(test_depthwise_forward_matches_reference_sweep),
      cmocka_unit_test(test_depthwise_forward_112x112_stride_1_and_2),
      cmocka_unit_test(test_depthwise_forward_every_width_to_40),
      cmocka_unit_test(test_depthwise_backward_matches_reference_sweep),
      cmocka_unit_test(test_depthwise_backward_112x112_stride_1_and_2),
      cmocka_unit_test(test_depthwise_backward_null_gradients_skip_their_work),
      cmocka_unit_test(test_depthwise_backward_matches_finite_difference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
