/*
 * test_conv.c - nn_conv_forward.
 *
 * Two cases are worked by hand (plain, and padded with stride 2). The rest
 * compare with a naive loop over (n, o, i, j, ci, u, v) written here from
 * the formula in nn.h, on pseudo-random data: stride, asymmetric padding,
 * dilation, groups, depthwise, 1-D (h = 1), no bias, fused activations, and
 * the 1x1 shapes that take the matrix-product path or must not take it,
 * and the shapes of each specialised path (row bands, channels or pixels
 * across lanes) with the limits of their shape tests.
 * Packed weights (nn_conv_pack_weights, nn_conv_packed_forward): the
 * packed order by hand, then the same comparison through the direct path
 * and through the engine fallback, on buffers of exact size.
 */
#include "kernels/conv_pixels.h"
#include "nn.h"
#include "test.h"

#include <stdlib.h>
#include <string.h>

#define MAX_X (1 << 18) // 1x1 cases of K 1100 over 128 pixels
#define MAX_W 40000
#define MAX_Y 16384

static void fill_random(float *x, int count, unsigned seed)
{
  for (int i = 0; i < count; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

// y from the definition: positions outside x read as 0; plus r (y's
// shape, or NULL) before the activation.
static void ref_conv_plus(float *y, const float *x, const float *w, const float *b,
                          const float *res, const nn_conv_params *p)
{
  int cg = p->c / p->group, mg = p->m / p->group;
  for (int n = 0; n < p->n; n++)
    for (int o = 0; o < p->m; o++)
      for (int i = 0; i < p->oh; i++)
        for (int j = 0; j < p->ow; j++) {
          int g = o / mg;
          double s = b != NULL ? b[o] : 0.0;
          for (int ci = 0; ci < cg; ci++)
            for (int u = 0; u < p->kh; u++)
              for (int v = 0; v < p->kw; v++) {
                int r = i * p->stride_h + u * p->dil_h - p->pad_t;
                int c = j * p->stride_w + v * p->dil_w - p->pad_l;
                if (r < 0 || r >= p->h || c < 0 || c >= p->w)
                  continue;
                s += (double)x[((n * p->c + g * cg + ci) * p->h + r) * p->w + c] *
                     w[((o * cg + ci) * p->kh + u) * p->kw + v];
              }
          if (res != NULL)
            s += res[((n * p->m + o) * p->oh + i) * p->ow + j];
          if (p->act == NN_ACT_RELU && s < 0.0)
            s = 0.0;
          if (p->act == NN_ACT_LEAKY_RELU && s < 0.0)
            s *= p->act_alpha;
          if (p->act == NN_ACT_CLIP)
            s = s < p->act_alpha ? p->act_alpha : s > p->act_beta ? p->act_beta : s;
          y[((n * p->m + o) * p->oh + i) * p->ow + j] = (float)s;
        }
}

static void ref_conv(float *y, const float *x, const float *w, const float *b,
                     const nn_conv_params *p)
{
  ref_conv_plus(y, x, w, b, NULL, p);
}

// A parameter block with oh/ow from the ONNX output-size formula.
static nn_conv_params make(int n, int c, int h, int w, int m, int kh, int kw,
                           int group, int stride, int dil, int pad_t, int pad_l,
                           int pad_b, int pad_r)
{
  nn_conv_params p = {0};
  p.n = n;
  p.c = c;
  p.h = h;
  p.w = w;
  p.m = m;
  p.kh = kh;
  p.kw = kw;
  p.group = group;
  p.stride_h = stride;
  p.stride_w = stride;
  p.dil_h = dil;
  p.dil_w = dil;
  p.pad_t = pad_t;
  p.pad_l = pad_l;
  p.oh = (h + pad_t + pad_b - ((kh - 1) * dil + 1)) / stride + 1;
  p.ow = (w + pad_l + pad_r - ((kw - 1) * dil + 1)) / stride + 1;
  p.act = NN_ACT_NONE;
  return p;
}

static void check_against_reference(const nn_conv_params *p, int with_bias)
{
  static float x[MAX_X], w[MAX_W], b[256], y[MAX_Y], want[MAX_Y];
  int xs = p->n * p->c * p->h * p->w;
  int ws = p->m * (p->c / p->group) * p->kh * p->kw;
  int ys = p->n * p->m * p->oh * p->ow;
  assert_true(xs <= MAX_X && ws <= MAX_W && ys <= MAX_Y && p->m <= 256);
  fill_random(x, xs, 11u);
  fill_random(w, ws, 12u);
  fill_random(b, p->m, 13u);
  nn_conv_forward(y, x, w, with_bias ? b : NULL, p);
  ref_conv(want, x, w, with_bias ? b : NULL, p);
  // Float rounding grows with the number of products summed per output.
  int products = p->c / p->group * p->kh * p->kw;
  assert_floats_near(y, want, ys, 1e-5f * (float)(1 + products / 32));
}

static void test_conv_hand_computed_2x2_with_bias(void **state)
{
  (void)state;
  const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const float w[4] = {1, 2, 3, 4};
  const float b[1] = {1};
  nn_conv_params p = make(1, 1, 3, 3, 1, 2, 2, 1, 1, 1, 0, 0, 0, 0);
  float y[4];
  nn_conv_forward(y, x, w, b, &p);
  // 1*1 + 2*2 + 4*3 + 5*4 + 1 = 38, and so on.
  const float want[4] = {38.0f, 48.0f, 68.0f, 78.0f};
  assert_floats_near(y, want, 4, 0.0f);
}

static void test_conv_hand_computed_pad_and_stride(void **state)
{
  (void)state;
  // Pad 1 all round, stride 2: windows start at rows/cols -1 and 1.
  const float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const float w[4] = {1, 2, 3, 4};
  nn_conv_params p = make(1, 1, 3, 3, 1, 2, 2, 1, 2, 1, 1, 1, 1, 1);
  assert_int_equal(p.oh, 2);
  float y[4];
  nn_conv_forward(y, x, w, NULL, &p);
  // y[0,0] = x[0,0]*4;  y[0,1] = x[0,1]*3 + x[0,2]*4;
  // y[1,0] = x[1,0]*2 + x[2,0]*4;  y[1,1] = 5*1 + 6*2 + 8*3 + 9*4.
  const float want[4] = {4.0f, 18.0f, 36.0f, 77.0f};
  assert_floats_near(y, want, 4, 0.0f);
}

static void test_conv_stride_pad_dilation_group_match_reference(void **state)
{
  (void)state;
  nn_conv_params p = make(2, 4, 9, 11, 6, 3, 2, 2, 2, 2, 1, 2, 2, 0);
  check_against_reference(&p, 1);
  p.stride_w = 1;
  p.ow = (11 + 2 + 0 - 3) / 1 + 1;
  check_against_reference(&p, 1);
}

static void test_conv_depthwise_matches_reference(void **state)
{
  (void)state;
  nn_conv_params p = make(1, 3, 8, 8, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1);
  check_against_reference(&p, 1);
}

static void test_conv_depthwise_with_multiplier_matches_reference(void **state)
{
  (void)state;
  // group = c = 2, two output channels per group.
  nn_conv_params p = make(1, 2, 7, 6, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1);
  check_against_reference(&p, 1);
}

static void test_conv_1d_matches_reference(void **state)
{
  (void)state;
  nn_conv_params p = make(2, 3, 1, 20, 4, 1, 3, 1, 2, 2, 0, 1, 0, 2);
  p.stride_h = 1;
  p.dil_h = 1;
  p.oh = 1;
  check_against_reference(&p, 1);
}

static void test_conv_without_bias_matches_reference(void **state)
{
  (void)state;
  nn_conv_params p = make(1, 3, 6, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  check_against_reference(&p, 0);
}

static void test_conv_fuses_activation(void **state)
{
  (void)state;
  nn_conv_params p = make(1, 3, 6, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  p.act = NN_ACT_RELU;
  check_against_reference(&p, 1);
  p.act = NN_ACT_LEAKY_RELU;
  p.act_alpha = 0.1f;
  check_against_reference(&p, 1);
}

static void test_conv_padding_wider_than_kernel_gives_bias(void **state)
{
  (void)state;
  // Pad 3 with a 2x2 kernel: the outer ring of outputs sees only padding.
  nn_conv_params p = make(1, 2, 4, 4, 3, 2, 2, 1, 1, 1, 3, 3, 3, 3);
  check_against_reference(&p, 1);
}

static void test_conv_1x1_matches_reference(void **state)
{
  (void)state;
  // The matrix-product path: plain, grouped, with activation, no bias.
  nn_conv_params p = make(2, 5, 6, 7, 6, 1, 1, 1, 1, 1, 0, 0, 0, 0);
  check_against_reference(&p, 1);
  p.act = NN_ACT_RELU;
  check_against_reference(&p, 1);
  nn_conv_params g = make(1, 6, 5, 5, 9, 1, 1, 3, 1, 1, 0, 0, 0, 0);
  check_against_reference(&g, 0);
  check_against_reference(&g, 1);
}

// Shapes past the packed engine's blocks: K = 32*3*3 = 288 products (one
// panel holds 256), 136 output channels (one pass over B takes 128 rows on
// AVX-512, and 136 leaves a partial tile), output rows shorter and longer
// than a panel of pixels, stride 2 with dilation, and a 1x1 with 300 inputs.
static void test_conv_large_shapes_cross_engine_blocks(void **state)
{
  (void)state;
  nn_conv_params p = make(1, 32, 9, 11, 136, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  check_against_reference(&p, 1);
  p.act = NN_ACT_LEAKY_RELU; // applied after the last of two panels of products
  p.act_alpha = 0.1f;
  check_against_reference(&p, 1);
  nn_conv_params s = make(1, 30, 13, 17, 20, 3, 3, 1, 2, 2, 2, 1, 0, 2);
  check_against_reference(&s, 1);
  nn_conv_params s2 = make(1, 3, 9, 70, 8, 3, 3, 1, 2, 1, 1, 1, 1, 1); // rows of 35 at stride 2
  check_against_reference(&s2, 1);
  // Padded at stride 1: small images take a zero-padded copy (up to 8192
  // floats); this one is larger and gathers its panels from x itself.
  nn_conv_params big = make(1, 64, 12, 12, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  check_against_reference(&big, 1);
  nn_conv_params g = make(2, 16, 5, 40, 10, 3, 3, 2, 1, 1, 1, 1, 1, 1);
  check_against_reference(&g, 0);
  nn_conv_params q = make(1, 300, 3, 7, 40, 1, 1, 1, 1, 1, 0, 0, 0, 0);
  check_against_reference(&q, 1);
  q.act = NN_ACT_RELU;
  check_against_reference(&q, 0);
  nn_conv_params r = make(2, 24, 3, 7, 40, 1, 1, 1, 1, 1, 0, 0, 0, 0); // one panel
  r.act = NN_ACT_RELU;
  check_against_reference(&r, 1);
  // Unpadded at stride 1: the "wide rows" path, with rows longer and
  // shorter than a panel, dilation, and n = 2.
  nn_conv_params wide = make(1, 20, 9, 40, 12, 3, 5, 1, 1, 2, 0, 0, 0, 0);
  check_against_reference(&wide, 1);
  nn_conv_params narrow = make(2, 8, 7, 7, 9, 3, 3, 1, 1, 1, 0, 0, 0, 0);
  check_against_reference(&narrow, 0);
  // At most MR output channels: X is read in place, not packed; unpadded,
  // and padded through the zero-padded copy (LeNet-5's first layer).
  nn_conv_params few = make(1, 5, 9, 40, 7, 3, 5, 1, 1, 2, 0, 0, 0, 0);
  check_against_reference(&few, 1);
  nn_conv_params first = make(2, 1, 12, 30, 6, 5, 5, 1, 1, 1, 2, 2, 2, 2);
  first.act = NN_ACT_RELU;
  check_against_reference(&first, 1);
}

// check_against_reference with x and y copied to heap blocks of exactly
// their sizes, so that under AddressSanitizer a gather that reads before
// the first plane or past the last one, or a store past y, is reported.
static void check_on_exact_buffers(const nn_conv_params *p)
{
  static float x[MAX_X], w[MAX_W], b[256], want[MAX_Y];
  size_t xs = (size_t)p->n * p->c * p->h * p->w, ys = (size_t)p->n * p->m * p->oh * p->ow;
  size_t ws = (size_t)p->m * (p->c / p->group) * p->kh * p->kw;
  assert_true(xs <= MAX_X && ws <= MAX_W && ys <= MAX_Y && p->m <= 256);
  fill_random(x, (int)xs, 21u);
  fill_random(w, (int)ws, 22u);
  fill_random(b, p->m, 23u);
  float *xe = malloc(sizeof(float) * xs), *ye = malloc(sizeof(float) * ys);
  assert_non_null(xe);
  assert_non_null(ye);
  memcpy(xe, x, sizeof(float) * xs);
  nn_conv_forward(ye, xe, w, b, p);
  ref_conv(want, x, w, b, p);
  int products = p->c / p->group * p->kh * p->kw;
  assert_floats_near(ye, want, (int)ys, 1e-5f * (float)(1 + products / 32));
  free(xe);
  free(ye);
}

// Padded convolutions too large for the zero-padded copy gather each
// panel row from the pieces of x its pixels read (with AVX-512: masked
// loads, merged two to a vector half, or compressed at stride 2): output
// rows narrower than a vector half (up to eight pieces in a panel row),
// about a half, longer than a panel, ResNet-like rows of 56; stride 2 with
// enough channels per tap for the vector path and, past the first block
// of 256 products, too few; a single column; the first and last planes
// read at the image's corners.
static void test_conv_im2col_panels_match_reference(void **state)
{
  (void)state;
  nn_conv_params shapes[] = {
      make(1, 40, 14, 14, 20, 3, 3, 1, 1, 1, 1, 1, 1, 1),  // rows of 14
      make(1, 300, 4, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1),    // rows of 4
      make(1, 10, 30, 33, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1),  // rows of 33
      make(1, 12, 20, 56, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // rows of 56
      make(1, 9, 17, 17, 10, 3, 3, 1, 1, 1, 2, 0, 1, 2),   // asymmetric pads
      make(1, 16, 25, 31, 9, 3, 3, 1, 2, 1, 1, 1, 1, 1),   // stride 2
      make(1, 12, 21, 40, 10, 5, 5, 1, 2, 2, 3, 1, 2, 4),  // stride 2, dilation 2
      make(1, 1000, 8, 1, 8, 3, 1, 1, 1, 1, 1, 0, 1, 0),   // one column
      make(2, 36, 15, 15, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1),   // two images
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
    check_on_exact_buffers(&shapes[i]);
}

// At most 4 input channels per group and output rows of 64 or more (a
// first layer on an RGB image): bands of output rows over a zero-padded
// copy of their input rows, split into even and odd columns at stride 2
// (conv_rows.c). ResNet's 7x7 at stride 2, stride 1, dilation with
// asymmetric pads, groups of 3 channels on two images, and an 11x11
// kernel whose copy holds only two output rows (many bands, the last one
// short, and 484 products: two blocks of the engine).
static void test_conv_few_input_channels_by_row_bands_match_reference(void **state)
{
  (void)state;
  nn_conv_params resnet = make(1, 3, 20, 130, 20, 7, 7, 1, 2, 1, 3, 3, 3, 3);
  resnet.act = NN_ACT_RELU;
  check_on_exact_buffers(&resnet);
  nn_conv_params stride1 = make(1, 2, 12, 70, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  stride1.act = NN_ACT_LEAKY_RELU;
  stride1.act_alpha = 0.1f;
  check_on_exact_buffers(&stride1);
  nn_conv_params dilated = make(1, 4, 15, 140, 9, 3, 5, 1, 2, 2, 2, 3, 1, 0);
  check_on_exact_buffers(&dilated);
  nn_conv_params groups = make(2, 6, 8, 66, 10, 3, 3, 2, 1, 1, 1, 1, 1, 1);
  check_against_reference(&groups, 0);
  nn_conv_params large = make(1, 4, 28, 137, 8, 11, 11, 1, 2, 1, 5, 5, 5, 5);
  check_on_exact_buffers(&large);
}

// A shape with its activation (LeakyRelu's alpha 0.1, Clip's bounds -0.5
// and 0.5) and whether it has a bias, checked against the reference.
typedef struct {
  nn_conv_params p;
  nn_act act;
  int with_bias;
} conv_case;

static void check_cases(const conv_case *cases, size_t count)
{
  for (size_t i = 0; i < count; i++) {
    nn_conv_params p = cases[i].p;
    p.act = cases[i].act;
    p.act_alpha = cases[i].act == NN_ACT_CLIP ? -0.5f : 0.1f;
    p.act_beta = 0.5f;
    check_against_reference(&p, cases[i].with_bias);
  }
}

// 9 to 16 output channels, unpadded at stride 1 or padded into the small
// copy: with AVX-512 the channels go across vector lanes (conv_lanes.c),
// a block a row for rows of 8 to 12 (16 channels turned in registers,
// fewer stored one by one), else 8 wide pixels a block, the last block
// overlapping; kernel rows of 3, 5 and 7 adjacent taps share their
// broadcasts, other kernels go tap by tap.
static void test_conv_few_channels_across_lanes_match_reference(void **state)
{
  (void)state;
  const conv_case cases[] = {
      {make(2, 6, 14, 14, 16, 5, 5, 1, 1, 1, 0, 0, 0, 0), NN_ACT_RELU, 1}, // LeNet-5
      {make(1, 3, 6, 9, 9, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 0},    // 4 x 7 out, wide 22
      {make(1, 2, 11, 12, 13, 7, 7, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},
      {make(1, 4, 10, 10, 12, 3, 3, 1, 1, 2, 0, 0, 0, 0), NN_ACT_NONE, 1}, // dilated
      {make(1, 5, 8, 6, 15, 3, 1, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},   // a column
      {make(2, 8, 16, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1), NN_ACT_LEAKY_RELU, 1}, // padded
      {make(1, 2, 3, 4, 10, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},   // wide 2: engine
      {make(1, 28, 5, 5, 16, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},  // K 252
      // Rows of 9 (12 channels), 12 (7x7 kernel), 11 (2x2), 8 (dilated).
      {make(1, 3, 7, 11, 12, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},
      {make(2, 2, 9, 18, 16, 7, 7, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},
      {make(1, 4, 6, 12, 16, 2, 2, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 0},
      {make(1, 3, 8, 12, 14, 3, 3, 1, 1, 2, 0, 0, 0, 0), NN_ACT_NONE, 1},
  };
  check_cases(cases, sizeof cases / sizeof cases[0]);
}

// 1 to 8 output channels per group at stride 1, unpadded or padded (into
// conv_pixels.c's copy): with AVX-512 segments of 16 pixels of an output
// row go across vector lanes, the last of a row masked, tiles of 2 to 8
// segments with the last tile's spare segments masked off; rows that would
// leave more than a quarter of the lanes empty keep the engine.
static void test_conv_few_output_channels_pixels_across_lanes_match_reference(void **state)
{
  (void)state;
  const conv_case cases[] = {
      {make(2, 1, 32, 32, 6, 5, 5, 1, 1, 1, 0, 0, 0, 0), NN_ACT_RELU, 1}, // LeNet-5 conv1: 16 + 12
      {make(1, 8, 16, 16, 8, 3, 3, 1, 1, 2, 2, 2, 2, 2), NN_ACT_NONE, 1}, // dilated, padded copy
      {make(2, 3, 16, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1), NN_ACT_LEAKY_RELU, 1},
      {make(1, 4, 14, 14, 1, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},  // rows of 12
      {make(1, 3, 18, 34, 2, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 0},  // rows of 32
      {make(1, 5, 18, 18, 3, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_CLIP, 0},
      {make(1, 8, 14, 14, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1), NN_ACT_NONE, 1},  // rows of 14
      {make(1, 2, 5, 18, 5, 1, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},   // a 1x3 kernel
      {make(1, 3, 9, 30, 7, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},   // 14 segments by 3
      {make(2, 8, 18, 18, 8, 3, 3, 2, 1, 1, 0, 0, 0, 0), NN_ACT_RELU, 1},  // 2 groups of 4
      {make(1, 100, 6, 18, 3, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1}, // K 900
      {make(2, 3, 12, 14, 5, 3, 3, 1, 1, 1, 0, 2, 1, 0), NN_ACT_NONE, 1},  // uneven padding
      {make(1, 2, 10, 10, 3, 3, 3, 1, 1, 1, 3, 3, 3, 3), NN_ACT_NONE, 1},  // rows of padding only
      // Tiles skip the kernel rows that read padding for all their segments:
      // two rows a tile, kernel rows dead for one of them only (dilation 2,
      // padding 5 above and 7 below); four rows of two segments a tile.
      {make(1, 3, 9, 20, 8, 5, 5, 1, 1, 2, 5, 1, 7, 1), NN_ACT_NONE, 1},
      {make(1, 2, 12, 30, 1, 3, 3, 1, 1, 1, 4, 0, 4, 0), NN_ACT_NONE, 1},
      {make(1, 2, 12, 40, 2, 2, 5, 1, 1, 3, 1, 6, 0, 6), NN_ACT_NONE, 1},  // dilated 3, rows of 40
      {make(1, 2, 10, 22, 4, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},  // rows of 20: engine
      {make(1, 2, 10, 10, 4, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},  // rows of 8: engine
  };
  check_cases(cases, sizeof cases / sizeof cases[0]);
#if NN_CONV_PIXELS
  nn_conv_params rows12 = make(1, 4, 14, 14, 8, 3, 3, 1, 1, 1, 0, 0, 0, 0);
  nn_conv_params nine = make(1, 4, 14, 14, 9, 3, 3, 1, 1, 1, 0, 0, 0, 0);
  nn_conv_params rows20 = make(1, 2, 10, 22, 4, 3, 3, 1, 1, 1, 0, 0, 0, 0);
  nn_conv_params groups = make(1, 8, 18, 18, 16, 3, 3, 2, 1, 1, 0, 0, 0, 0);
  nn_conv_params deep = make(1, 114, 6, 18, 3, 3, 3, 1, 1, 1, 0, 0, 0, 0); // K 1026
  nn_conv_params big_copy = make(1, 16, 28, 28, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1); // 16 x 30 x 32
  nn_conv_params big_plain = make(1, 16, 30, 30, 8, 3, 3, 1, 1, 1, 0, 0, 0, 0);
  nn_conv_params strided = make(1, 4, 33, 33, 8, 3, 3, 1, 2, 1, 0, 0, 0, 0);
  nn_conv_params skipping = make(1, 3, 9, 20, 8, 5, 5, 1, 1, 2, 5, 1, 7, 1);
  nn_conv_params four_rows = make(1, 2, 12, 30, 1, 3, 3, 1, 1, 1, 4, 0, 4, 0);
  assert_true(nn_conv_pixels_fits(&rows12));
  assert_false(nn_conv_pixels_fits(&nine));
  assert_false(nn_conv_pixels_fits(&rows20));
  assert_true(nn_conv_pixels_fits(&groups));
  assert_false(nn_conv_pixels_fits(&deep));
  assert_false(nn_conv_pixels_fits(&big_copy));
  assert_true(nn_conv_pixels_fits(&big_plain));
  assert_false(nn_conv_pixels_fits(&strided));
  assert_true(nn_conv_pixels_fits(&skipping));
  assert_true(nn_conv_pixels_fits(&four_rows));
#endif
}

static void test_conv_1x1_hand_computed(void **state)
{
  (void)state;
  // Two input channels mixed into one: y = 2*x0 - x1 + 0.5.
  const float x[4] = {1, 2, 10, 20};
  const float w[2] = {2, -1};
  const float b[1] = {0.5f};
  nn_conv_params p = make(1, 2, 1, 2, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0);
  float y[2];
  nn_conv_forward(y, x, w, b, &p);
  const float want[2] = {-7.5f, -15.5f};
  assert_floats_near(y, want, 2, 0.0f);
}

// 1x1 convolutions of few output channels (at most 4 strips of the
// micro-kernel) over planes of 4 panels or more read the rows of X in
// place: a partial last panel, two blocks of products (K 300), one short
// strip, groups, with and without bias and activation; past the limits
// (K over 1024, 40 channels, a plane of 32) they pack X.
static void test_conv_1x1_reads_planes_in_place_match_reference(void **state)
{
  (void)state;
  const conv_case cases[] = {
      {make(1, 20, 12, 12, 24, 1, 1, 1, 1, 1, 0, 0, 0, 0), NN_ACT_CLIP, 1},  // 144 pixels
      {make(2, 7, 16, 16, 5, 1, 1, 1, 1, 1, 0, 0, 0, 0), NN_ACT_RELU, 1},
      {make(1, 300, 8, 16, 32, 1, 1, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 0},
      {make(1, 64, 10, 15, 16, 1, 1, 2, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1}, // 2 groups
      {make(1, 1100, 8, 16, 8, 1, 1, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1}, // K 1100
      {make(1, 16, 12, 12, 40, 1, 1, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},
      {make(1, 16, 4, 8, 16, 1, 1, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 1},
  };
  check_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_conv_1x1_strided_or_padded_matches_reference(void **state)
{
  (void)state;
  // 1x1 shapes that must not take the matrix-product path.
  nn_conv_params s = make(1, 4, 7, 7, 3, 1, 1, 1, 2, 1, 0, 0, 0, 0);
  check_against_reference(&s, 1);
  nn_conv_params pad = make(1, 4, 5, 5, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1);
  check_against_reference(&pad, 1);
  nn_conv_params pad_end = make(1, 4, 5, 5, 3, 1, 1, 1, 1, 1, 0, 0, 1, 1);
  check_against_reference(&pad_end, 1);
}


// Packed order, block by block: m = 40 is a block of 32 and one of 8.
static void test_conv_pack_weights_hand_checked(void **state)
{
  (void)state;
  nn_conv_params p = make(1, 2, 4, 4, 40, 1, 2, 1, 1, 1, 0, 0, 0, 0); // K = 2*1*2 = 4
  static float w[40 * 4], wp[40 * 4];
  for (int i = 0; i < 40 * 4; i++)
    w[i] = (float)i; // w[o][q] = 4*o + q
  nn_conv_pack_weights(wp, w, &p);
  assert_float_equal(wp[0], 0.0f, 0.0f);       // tap 0 of output 0
  assert_float_equal(wp[1], 4.0f, 0.0f);       // tap 0 of output 1
  assert_float_equal(wp[31], 124.0f, 0.0f);    // tap 0 of output 31
  assert_float_equal(wp[32], 1.0f, 0.0f);      // tap 1 of output 0
  assert_float_equal(wp[3 * 32 + 5], 23.0f, 0.0f); // tap 3 of output 5
  assert_float_equal(wp[128], 128.0f, 0.0f);   // second block (width 8): tap 0 of output 32
  assert_float_equal(wp[128 + 1], 132.0f, 0.0f); // tap 0 of output 33
  assert_float_equal(wp[128 + 8], 129.0f, 0.0f); // tap 1 of output 32
  assert_float_equal(wp[159], 159.0f, 0.0f);   // tap 3 of output 39
}

static void test_conv_packs_only_what_the_direct_path_takes(void **state)
{
  (void)state;
  nn_conv_params p = make(1, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  assert_true(nn_conv_packs(&p));
  p.m = 48; // blocks of 32 and 16
  assert_true(nn_conv_packs(&p));
  p.m = 40; // a block of 8
  assert_false(nn_conv_packs(&p));
  nn_conv_params q = make(1, 64, 56, 56, 64, 3, 3, 2, 1, 1, 1, 1, 1, 1);
  assert_false(nn_conv_packs(&q)); // groups
  q = make(1, 64, 56, 56, 64, 3, 3, 1, 1, 2, 2, 2, 2, 2);
  assert_false(nn_conv_packs(&q)); // dilation
  q = make(1, 64, 56, 56, 64, 1, 1, 1, 1, 1, 0, 0, 0, 0);
  assert_false(nn_conv_packs(&q)); // 1x1: a plain product
  q = make(1, 3, 224, 224, 64, 7, 7, 1, 2, 1, 3, 3, 3, 3);
  assert_true(nn_conv_packs(&q)); // a first layer
  q = make(1, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  assert_true(nn_conv_packs(&q)); // rows of 7: conv_small.c on AVX-512
  q = make(1, 256, 14, 14, 512, 3, 3, 1, 2, 1, 1, 1, 1, 1);
  assert_true(nn_conv_packs(&q)); // the same at stride 2
  q = make(1, 512, 4, 4, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  assert_false(nn_conv_packs(&q)); // rows of 4: the engine
  q = make(1, 256, 8, 8, 256, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  assert_false(nn_conv_packs(&q)); // rows of 8: the engine
  q = make(1, 64, 20, 7, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  assert_false(nn_conv_packs(&q)); // 140 pixels: more than conv_small.c holds
  q = make(1, 1024, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  assert_false(nn_conv_packs(&q)); // a ring past what non-AVX-512 builds hold
  q = make(1, 512, 28, 28, 512, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  assert_false(nn_conv_packs(&q)); // ring of 512*3*30 floats
}

// nn_conv_packed_forward against the definition, on heap buffers of exact
// size (x, packed w, y, r), with or without bias and residual r.
static void check_packed(const nn_conv_params *p, int with_bias, int with_residual)
{
  static float x[MAX_X], w[MAX_W], b[256], r[MAX_Y], want[MAX_Y];
  size_t xs = (size_t)p->n * p->c * p->h * p->w, ys = (size_t)p->n * p->m * p->oh * p->ow;
  size_t ws = (size_t)p->m * p->c * p->kh * p->kw;
  assert_true(xs <= MAX_X && ws <= MAX_W && ys <= MAX_Y && p->m <= 256);
  fill_random(x, (int)xs, 31u);
  fill_random(w, (int)ws, 32u);
  fill_random(b, p->m, 33u);
  fill_random(r, (int)ys, 34u);
  float *xe = malloc(sizeof(float) * xs), *we = malloc(sizeof(float) * ws);
  float *ye = malloc(sizeof(float) * ys), *re = malloc(sizeof(float) * ys);
  assert_non_null(xe);
  assert_non_null(we);
  assert_non_null(ye);
  assert_non_null(re);
  memcpy(xe, x, sizeof(float) * xs);
  memcpy(re, r, sizeof(float) * ys);
  nn_conv_pack_weights(we, w, p);
  // The prefetch hint: the weights themselves with a bias, none without.
  nn_conv_packed_forward(ye, xe, we, with_bias ? b : NULL, with_residual ? re : NULL,
                         with_bias ? we : NULL, with_bias ? (long)ws : 0, p);
  ref_conv_plus(want, x, w, with_bias ? b : NULL, with_residual ? r : NULL, p);
  int products = p->c * p->kh * p->kw;
  assert_floats_near(ye, want, (int)ys, 1e-5f * (float)(1 + products / 32));
  free(xe);
  free(we);
  free(ye);
  free(re);
}

// Direct path: blocks of 32 and 16 channels; two images; rows of 16
// (two tiles of 8 on AVX-512), 15 at stride 2, 20 with a 5x5 kernel and
// uneven padding (rows whose taps start or end outside x), a 1x3 kernel;
// ReLU in registers, LeakyReLU after; no bias; padding so wide that whole
// output rows read no input; rows of many tiles over many input
// channels. Engine fallback: m = 40 (a block of 8),
// dilation 2, and a ring past NN_CONV_PACKED_FLOATS.
static void test_conv_packed_matches_reference(void **state)
{
  (void)state;
  nn_conv_params p = make(1, 8, 16, 16, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  check_packed(&p, 1, 0);
  p = make(2, 8, 16, 16, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  p.act = NN_ACT_RELU;
  check_packed(&p, 0, 0);
  p = make(1, 6, 29, 29, 32, 3, 3, 1, 2, 1, 1, 1, 1, 1);
  check_packed(&p, 1, 0);
  p = make(1, 5, 22, 20, 16, 5, 5, 1, 1, 1, 1, 2, 3, 0);
  p.act = NN_ACT_LEAKY_RELU;
  p.act_alpha = 0.125f;
  check_packed(&p, 1, 0);
  p = make(1, 7, 9, 30, 32, 1, 3, 1, 1, 1, 0, 1, 0, 1);
  check_packed(&p, 1, 0);
  p = make(1, 12, 20, 20, 64, 3, 3, 1, 2, 1, 0, 0, 1, 1);
  p.act = NN_ACT_RELU;
  check_packed(&p, 1, 0);
  p = make(1, 8, 4, 16, 32, 3, 3, 1, 1, 1, 4, 1, 4, 1); // rows of bias alone
  check_packed(&p, 1, 0);
  p = make(1, 8, 16, 16, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  check_packed(&p, 1, 0);
  p = make(1, 8, 18, 18, 32, 3, 3, 1, 1, 2, 2, 2, 2, 2);
  check_packed(&p, 1, 0);
  p = make(1, 64, 3, 80, 32, 3, 3, 1, 1, 1, 0, 0, 0, 0); // ring 64*3*80 floats
  check_packed(&p, 1, 0);
  // Rows of 6 (AVX-512) or 14 (AVX2) tiles, 40 input channels, a 32-wide
  // block and a 16-wide one.
  p = make(1, 40, 4, 80, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  p.act = NN_ACT_RELU;
  check_packed(&p, 1, 0);
  check_packed(&p, 1, 1); // plus a residual, before the ReLU
}

// Rows of 5 to 7 pixels (conv_small.c on AVX-512, the direct path's tiles
// elsewhere): input channels in several chunks (40 and 36 of 3x3, 12 of
// 5x5), blocks of 64, 48 (32 + 16), 32 and 16 channels, stride 2, uneven
// padding, rows whose taps are all outside x (bias alone), a 1x3 kernel,
// two images; ReLU, Clip and LeakyReLU; with and without bias and r.
static void test_conv_packed_short_rows_match_reference(void **state)
{
  (void)state;
  const struct {
    nn_conv_params p;
    nn_act act;
    float alpha, beta;
    int bias, residual;
  } cases[] = {
      {make(1, 40, 7, 7, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1), NN_ACT_RELU, 0, 0, 1, 0},
      {make(1, 40, 7, 7, 80, 3, 3, 1, 1, 1, 1, 1, 1, 1), NN_ACT_RELU, 0, 0, 1, 1},
      {make(1, 36, 14, 14, 48, 3, 3, 1, 2, 1, 1, 1, 1, 1), NN_ACT_CLIP, -0.25f, 0.5f, 0, 1},
      {make(1, 36, 14, 14, 48, 3, 3, 1, 2, 1, 1, 1, 1, 1), NN_ACT_CLIP, -0.25f, 0.5f, 1, 0},
      {make(1, 12, 6, 6, 32, 5, 5, 1, 1, 1, 2, 1, 1, 2), NN_ACT_NONE, 0, 0, 1, 0},
      {make(2, 8, 5, 5, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1), NN_ACT_LEAKY_RELU, 0.125f, 0, 1, 1},
      // Rows of bias alone; a 1x3 kernel; 5x5 out of 7x7 with no padding.
      {make(1, 8, 2, 7, 32, 3, 3, 1, 1, 1, 4, 1, 4, 1), NN_ACT_NONE, 0, 0, 1, 0},
      {make(1, 16, 9, 7, 48, 1, 3, 1, 1, 1, 0, 1, 0, 1), NN_ACT_NONE, 0, 0, 1, 1},
      {make(1, 64, 7, 7, 64, 3, 3, 1, 1, 1, 0, 0, 0, 0), NN_ACT_NONE, 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    nn_conv_params p = cases[i].p;
    p.act = cases[i].act;
    p.act_alpha = cases[i].alpha;
    p.act_beta = cases[i].beta;
    check_packed(&p, cases[i].bias, cases[i].residual);
  }
}

// A residual r added before the activation: in registers (ReLU, Clip),
// before the activation after (LeakyReLU), without bias, with two images,
// rows of bias alone, and through the engine fallback (m = 40).
static void test_conv_packed_adds_residual_before_activation(void **state)
{
  (void)state;
  nn_conv_params p = make(2, 8, 12, 12, 48, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  p.act = NN_ACT_RELU;
  check_packed(&p, 1, 1);
  p.act = NN_ACT_CLIP;
  p.act_alpha = -0.5f;
  p.act_beta = 0.25f;
  check_packed(&p, 0, 1);
  p = make(1, 5, 22, 20, 16, 5, 5, 1, 1, 1, 1, 2, 3, 0);
  p.act = NN_ACT_LEAKY_RELU;
  p.act_alpha = 0.125f;
  check_packed(&p, 1, 1);
  p = make(1, 8, 4, 16, 32, 3, 3, 1, 1, 1, 4, 1, 4, 1); // rows of bias alone
  check_packed(&p, 1, 1);
  p = make(1, 8, 16, 16, 40, 3, 3, 1, 1, 1, 1, 1, 1, 1);
  p.act = NN_ACT_RELU;
  check_packed(&p, 1, 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_hand_computed_2x2_with_bias),
      cmocka_unit_test(test_conv_hand_computed_pad_and_stride),
      cmocka_unit_test(test_conv_stride_pad_dilation_group_match_reference),
      cmocka_unit_test(test_conv_depthwise_matches_reference),
      cmocka_unit_test(test_conv_depthwise_with_multiplier_matches_reference),
      cmocka_unit_test(test_conv_1d_matches_reference),
      cmocka_unit_test(test_conv_without_bias_matches_reference),
      cmocka_unit_test(test_conv_fuses_activation),
      cmocka_unit_test(test_conv_padding_wider_than_kernel_gives_bias),
      cmocka_unit_test(test_conv_1x1_matches_reference),
      cmocka_unit_test(test_conv_large_shapes_cross_engine_blocks),
      cmocka_unit_test(test_conv_im2col_panels_match_reference),
      cmocka_unit_test(test_conv_few_input_channels_by_row_bands_match_reference),
      cmocka_unit_test(test_conv_few_channels_across_lanes_match_reference),
      cmocka_unit_test(test_conv_few_output_channels_pixels_across_lanes_match_reference),
      cmocka_unit_test(test_conv_1x1_hand_computed),
      cmocka_unit_test(test_conv_1x1_reads_planes_in_place_match_reference),
      cmocka_unit_test(test_conv_1x1_strided_or_padded_matches_reference),
      cmocka_unit_test(test_conv_pack_weights_hand_checked),
      cmocka_unit_test(test_conv_packs_only_what_the_direct_path_takes),
      cmocka_unit_test(test_conv_packed_matches_reference),
      cmocka_unit_test(test_conv_packed_short_rows_match_reference),
      cmocka_unit_test(test_conv_packed_adds_residual_before_activation),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
