/*
 * test_grad_conv.c - nn_conv_backward.
 *
 * dx, dw and db against central differences of nn_conv_forward
 * (grad_check.h: eps 1e-3, |error| <= 1e-3 + 1e-2 * |numeric|) for: 3x3
 * same padding with bias, stride 2 with asymmetric padding, dilation 2,
 * stride 3 with a 2x2 kernel (some inputs never read), groups, depthwise,
 * 1-D, no bias, and the 1x1 fast path with and without groups. Stride-1
 * convolutions with one group compute dx as the forward convolution of dy
 * by the turned kernel (accumulating, past the channels-across-lanes path
 * that cannot); the others scatter it (col2im). With AVX-512, dw of
 * unpadded (or padded-copy) stride-1 convolutions is dot products along
 * output rows over several images at once. Also: NULL gradients skip
 * their work (frozen weights; an input that needs no gradient, with x then
 * not read), and larger shapes against a reference, gradients pre-filled
 * so that they must accumulate.
 */
#include "nn.h"
#include "grad_check.h"

enum { MAXX = 256, MAXW = 160, MAXY = 256 };

typedef struct {
  nn_conv_params p;
  int has_bias;
  float x[MAXX], w[MAXW], b[8];
  float dx[MAXX], dw[MAXW], db[8];
} conv_case;

static int x_count(const nn_conv_params *p) { return p->n * p->c * p->h * p->w; }
static int w_count(const nn_conv_params *p) { return p->m * (p->c / p->group) * p->kh * p->kw; }
static int y_count(const nn_conv_params *p) { return p->n * p->m * p->oh * p->ow; }

static void conv_fwd(void *ctx, float *out)
{
  conv_case *c = ctx;
  nn_conv_forward(out, c->x, c->w, c->has_bias ? c->b : NULL, &c->p);
}

static void conv_bwd(void *ctx, const float *dout)
{
  conv_case *c = ctx;
  nn_conv_backward(c->dx, c->dw, c->has_bias ? c->db : NULL, dout, c->x, c->w, &c->p);
}

// Output size for symmetric (pad_t, pad_l) plus extra bottom/right pads.
static nn_conv_params params(int n, int c, int h, int w, int m, int kh, int kw, int group,
                             int sh, int sw, int dh, int dw, int pt, int pl, int pb, int pr)
{
  nn_conv_params p = {.n = n, .c = c, .h = h, .w = w, .m = m, .kh = kh, .kw = kw,
                      .group = group, .stride_h = sh, .stride_w = sw, .dil_h = dh,
                      .dil_w = dw, .pad_t = pt, .pad_l = pl, .act = NN_ACT_NONE};
  p.oh = (h + pt + pb - dh * (kh - 1) - 1) / sh + 1;
  p.ow = (w + pl + pr - dw * (kw - 1) - 1) / sw + 1;
  return p;
}

static void check_conv(nn_conv_params p, int has_bias)
{
  static conv_case c;
  c.p = p;
  c.has_bias = has_bias;
  assert_true(x_count(&p) <= MAXX && w_count(&p) <= MAXW && y_count(&p) <= MAXY);
  gc_fill_uniform(c.x, x_count(&p), 11u, -1.0f, 1.0f);
  gc_fill_uniform(c.w, w_count(&p), 12u, -1.0f, 1.0f);
  gc_fill_uniform(c.b, p.m, 13u, -1.0f, 1.0f);
  grad_check_case g = {.forward = conv_fwd, .backward = conv_bwd, .ctx = &c,
                       .out_count = y_count(&p),
                       .in = {{"dx", c.x, c.dx, x_count(&p)},
                              {"dw", c.w, c.dw, w_count(&p)},
                              {"db", c.b, c.db, p.m}},
                       .nin = has_bias ? 3 : 2};
  grad_check(&g);
}

static void test_conv_backward_padding_strides_dilations(void **state)
{
  (void)state;
  // n c h w m kh kw group, stride, dilation, pads t l b r
  check_conv(params(2, 3, 5, 6, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), 1);
  check_conv(params(1, 2, 7, 6, 3, 3, 2, 1, 2, 2, 1, 1, 1, 0, 2, 1), 1);
  check_conv(params(1, 2, 7, 7, 2, 2, 3, 1, 1, 1, 2, 2, 1, 2, 0, 1), 1);
  check_conv(params(1, 2, 8, 8, 2, 2, 2, 1, 3, 3, 1, 1, 0, 0, 0, 0), 1);
}

static void test_conv_backward_groups_depthwise_1d_no_bias(void **state)
{
  (void)state;
  check_conv(params(2, 4, 4, 5, 6, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1), 1); // 2 groups
  check_conv(params(1, 3, 6, 6, 3, 3, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1), 1); // depthwise
  check_conv(params(2, 2, 1, 12, 3, 1, 3, 1, 1, 2, 1, 1, 0, 1, 0, 1), 1); // 1-D
  check_conv(params(1, 2, 5, 5, 2, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0), 0); // no bias
}

static void test_conv_backward_1x1_fast_path(void **state)
{
  (void)state;
  check_conv(params(2, 3, 4, 5, 4, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0), 1);
  check_conv(params(2, 4, 3, 3, 6, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0), 0);
}

static void test_conv_backward_null_gradients_skip_their_work(void **state)
{
  (void)state;
  // Frozen weights: only dx, and x is not needed; input needs no
  // gradient: only dw and db, and w is not needed.
  nn_conv_params p = params(1, 2, 4, 4, 2, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  static float x[32], w[36], dy[32], dx[32], dw[36], db[2], want_dx[32], want_dw[36];
  gc_fill_uniform(x, 32, 1u, -1.0f, 1.0f);
  gc_fill_uniform(w, 36, 2u, -1.0f, 1.0f);
  gc_fill_uniform(dy, 32, 3u, -1.0f, 1.0f);
  nn_fill(want_dx, 0.0f, 32);
  nn_fill(want_dw, 0.0f, 36);
  nn_conv_backward(want_dx, want_dw, NULL, dy, x, w, &p);
  nn_fill(dx, 0.0f, 32);
  nn_conv_backward(dx, NULL, NULL, dy, NULL, w, &p);
  assert_floats_near(dx, want_dx, 32, 0.0f);
  nn_fill(dw, 0.0f, 36);
  db[0] = db[1] = 0.0f;
  nn_conv_backward(NULL, dw, db, dy, x, NULL, &p);
  assert_floats_near(dw, want_dw, 36, 0.0f);
  // The 1x1 path too.
  nn_conv_params q = params(1, 2, 4, 4, 2, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0);
  nn_fill(want_dx, 0.0f, 32);
  nn_fill(want_dw, 0.0f, 4);
  nn_conv_backward(want_dx, want_dw, NULL, dy, x, w, &q);
  nn_fill(dx, 0.0f, 32);
  nn_conv_backward(dx, NULL, NULL, dy, NULL, w, &q);
  assert_floats_near(dx, want_dx, 32, 0.0f);
  nn_fill(dw, 0.0f, 4);
  nn_conv_backward(NULL, dw, NULL, dy, x, NULL, &q);
  assert_floats_near(dw, want_dw, 4, 0.0f);
  nn_conv_backward(NULL, NULL, NULL, dy, NULL, NULL, &p);
}

// dx, dw, db from the definitions, summing in double: every (output,
// kernel tap) pair that reads x in bounds contributes dy * w to dx and
// dy * x to dw.
static void ref_backward(double *dx, double *dw, double *db, const float *dy, const float *x,
                         const float *w, const nn_conv_params *p)
{
  int cg = p->c / p->group, mg = p->m / p->group;
  for (int n = 0; n < p->n; n++)
    for (int o = 0; o < p->m; o++)
      for (int i = 0; i < p->oh; i++)
        for (int j = 0; j < p->ow; j++) {
          double g = dy[((n * p->m + o) * p->oh + i) * p->ow + j];
          db[o] += g;
          for (int ci = 0; ci < cg; ci++)
            for (int u = 0; u < p->kh; u++)
              for (int v = 0; v < p->kw; v++) {
                int r = i * p->stride_h + u * p->dil_h - p->pad_t;
                int c = j * p->stride_w + v * p->dil_w - p->pad_l;
                if (r < 0 || r >= p->h || c < 0 || c >= p->w)
                  continue;
                int xi = ((n * p->c + o / mg * cg + ci) * p->h + r) * p->w + c;
                int wi = ((o * cg + ci) * p->kh + u) * p->kw + v;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
        }
}

// Shapes past the packed engine's blocks (see test_conv.c): the backward's
// products have K = 288 rows of X and 136 output channels; gradients are
// pre-filled to check that they accumulate.
static void test_conv_backward_large_shapes_match_reference(void **state)
{
  (void)state;
  enum { BX = 24 * 20 * 20, BW = 136 * 32 * 9, BY = 2 * 136 * 9 * 11 };
  static float x[BX], w[BW], dy[BY], dx[BX], dw[BW], db[136];
  static double rdx[BX], rdw[BW], rdb[136];
  static float want[BW];
  const nn_conv_params cases[] = {
      params(2, 32, 9, 11, 136, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),
      params(1, 30, 9, 11, 20, 3, 3, 1, 2, 2, 2, 2, 2, 1, 0, 2),
      params(1, 32, 9, 11, 40, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0),
      params(2, 12, 9, 40, 10, 3, 5, 1, 1, 1, 2, 1, 0, 0, 0, 0), // unpadded: wide rows
      params(1, 3, 9, 40, 7, 5, 5, 1, 1, 1, 1, 1, 2, 2, 1, 0),  // padded copy, asymmetric
      params(1, 24, 20, 20, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1), // too big to copy
      // Unpadded, 3 images of 26 KB of x and dy: with AVX-512, dw by dot products
      // along rows sums one image at a time (conv_dw.c), in blocks of 6 channels.
      params(3, 8, 20, 20, 10, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0),
      // dx as a forward convolution onto 8 and 6 channels: with AVX-512, pixels
      // across lanes (conv_pixels.c), accumulating into dx, through its padded copy.
      params(2, 8, 16, 16, 8, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2),
      params(1, 6, 14, 14, 16, 5, 5, 1, 1, 1, 1, 1, 0, 0, 0, 0),
  };
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    const nn_conv_params *p = &cases[t];
    int xs = x_count(p), ws = w_count(p), ys = y_count(p);
    assert_true(xs <= BX && ws <= BW && ys <= BY && p->m <= 136);
    gc_fill_uniform(x, xs, 1u, -1.0f, 1.0f);
    gc_fill_uniform(w, ws, 2u, -1.0f, 1.0f);
    gc_fill_uniform(dy, ys, 3u, -1.0f, 1.0f);
    for (int i = 0; i < xs; i++)
      rdx[i] = dx[i] = 0.5f;
    for (int i = 0; i < ws; i++)
      rdw[i] = dw[i] = -0.25f;
    for (int i = 0; i < p->m; i++)
      rdb[i] = db[i] = 1.0f;
    nn_conv_backward(dx, dw, db, dy, x, w, p);
    ref_backward(rdx, rdw, rdb, dy, x, w, p);
    for (int i = 0; i < xs; i++)
      want[i] = (float)rdx[i];
    assert_floats_near(dx, want, xs, 2e-4f);
    for (int i = 0; i < ws; i++)
      want[i] = (float)rdw[i];
    assert_floats_near(dw, want, ws, 2e-4f);
    for (int i = 0; i < p->m; i++)
      want[i] = (float)rdb[i];
    assert_floats_near(db, want, p->m, 2e-4f);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_backward_padding_strides_dilations),
      cmocka_unit_test(test_conv_backward_groups_depthwise_1d_no_bias),
      cmocka_unit_test(test_conv_backward_1x1_fast_path),
      cmocka_unit_test(test_conv_backward_null_gradients_skip_their_work),
      cmocka_unit_test(test_conv_backward_large_shapes_match_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
