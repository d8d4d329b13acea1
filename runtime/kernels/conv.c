/*
 * conv.c - ONNX Conv over (n, c, h, w) (1-D as h = 1) with groups, strides,
 * dilations, explicit padding, optional bias and a fused activation, and
 * its backward.
 *
 * Key idea: per image and group, a convolution is the matrix product
 *   y(mg, oh*ow) = w(mg, cg*kh*kw) * X(cg*kh*kw, oh*ow)
 * where column j of X holds the inputs that output pixel j reads ("im2col").
 * X is never built: the packed engine (gemm_engine.c) asks for one
 * K x NR panel at a time and nn_pack_im2col() (im2col.c) gathers it from
 * x. A 1x1, stride-1, unpadded convolution reads x itself as X; any other
 * unpadded stride-1 one runs over "wide" rows (see is_wide()), where every
 * row of X is one contiguous piece of x. The backward is two more products
 * through the same engine:
 *   dw(mg, K)  += dy(mg, N) * X^T   (nn_pack_im2col_t gathers X^T panels)
 *   dX(K, N)    = w^T * dy(mg, N)   (nn_scatter_col2im adds each tile of dX
 *                                    into the dx positions it came from;
 *                                    add_dx_wide over wide rows)
 * except that dx of a stride-1 convolution with one group is the forward
 * convolution of dy by the kernel turned half a turn (transposed_params()),
 * through the forward's paths, accumulating into dx.
 * Depthwise convolutions (one input channel per group, more than one group),
 * where the product degenerates to K = kh*kw per group, go to depthwise.c; a
 * single-channel input with one group (a first layer on grey images) is one
 * product with all output channels as its rows, so it stays here.
 *
 * With AVX-512, wide-row convolutions with 9 to 16 output channels (too
 * few for the engine's strips) put the channels across vector lanes
 * instead (conv_lanes.c); stride-1 ones with 8 or fewer, padded or not,
 * put pixels of an output row across them (conv_pixels.c). Convolutions
 * of at most 4 input channels with long output rows (a first layer on an
 * RGB image, where a panel has few rows per tap and gathering it is mostly
 * bookkeeping) run by bands of output rows over a padded copy of their
 * input rows (conv_rows.c).
 *
 * Builds for cores without vector units can take -DNN_CONV_DIRECT, which
 * sends every non-depthwise convolution to conv_direct.c instead.
 *
 * Deliberately not here: Winograd or FFT algorithms, scratch memory (the
 * engine's panels are on its stack), and auto_pad or shape arithmetic (the
 * compiler turns them into pad_t/pad_l and oh/ow).
 */
#include "conv_direct.h"
#include "conv_dw.h"
#include "conv_lanes.h"
#include "conv_pixels.h"
#include "conv_rows.h"
#include "depthwise.h"
#include "gemm_engine.h"
#include "im2col.h"
#include "sum.h"

#if defined(__GNUC__)
#define NN_NOINLINE __attribute__((noinline))
#else
#define NN_NOINLINE
#endif

// The 1x1, stride-1, unpadded case: X is x's (c, h*w) matrix itself.
static int is_pointwise(const nn_conv_params *p)
{
  return p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 &&
         p->pad_t == 0 && p->pad_l == 0 && p->oh == p->h && p->ow == p->w;
}

// An unpadded stride-1 convolution can run over "wide" output rows of w
// pixels instead of ow: wide pixel J = i*w + jj reads x[J + u*dil_h*w +
// v*dil_w] through tap (u, v), so every row of X is one contiguous piece
// of x. The w - ow extra pixels of each row (which read the next row) are
// computed and dropped; the last row stops at ow, so nothing past x is read.
static int is_wide(const nn_conv_params *p)
{
  return p->stride_h == 1 && p->stride_w == 1 && p->pad_t == 0 && p->pad_l == 0 &&
         p->oh + (p->kh - 1) * p->dil_h == p->h && p->ow + (p->kw - 1) * p->dil_w == p->w &&
         p->ow < p->w;
}

static int wide_count(const nn_conv_params *p)
{
  return (p->oh - 1) * p->w + p->ow;
}

// A padded stride-1 convolution of a small image runs over a zero-padded
// copy of it, on the stack (NN_CONV_PAD_FLOATS floats, 0 disables), so that
// it takes the wide-row path too. *q becomes that convolution (one image,
// one group, no padding); returns 0 when the copy does not apply.
#ifndef NN_CONV_PAD_FLOATS
#define NN_CONV_PAD_FLOATS 8192
#endif

static int padded_params(nn_conv_params *q, const nn_conv_params *p)
{
  if (NN_CONV_PAD_FLOATS == 0 || p->stride_h != 1 || p->stride_w != 1 ||
      (p->pad_t == 0 && p->pad_l == 0) || is_pointwise(p))
    return 0;
  int cg = p->c / p->group;
  long h2 = p->oh + (long)(p->kh - 1) * p->dil_h, w2 = p->ow + (long)(p->kw - 1) * p->dil_w;
  if (cg * h2 * w2 > NN_CONV_PAD_FLOATS)
    return 0;
  *q = *p;
  q->n = 1;
  q->c = cg;
  q->m = p->m / p->group;
  q->group = 1;
  q->h = (int)h2;
  q->w = (int)w2;
  q->pad_t = q->pad_l = 0;
  return is_wide(q);
}

// xp (cg, q->h, q->w) = x (cg, p->h, p->w) shifted by the padding, zeros
// around (and x's rows or columns past the last window dropped).
static void pad_image(float *xp, const float *x, const nn_conv_params *p,
                      const nn_conv_params *q)
{
  nn_fill(xp, 0.0f, q->c * q->h * q->w);
  int rows = p->h < q->h - p->pad_t ? p->h : q->h - p->pad_t;
  int cols = p->w < q->w - p->pad_l ? p->w : q->w - p->pad_l;
  for (int ci = 0; ci < q->c; ci++)
    for (int r = 0; r < rows; r++)
      nn_copy(xp + ((ptrdiff_t)ci * q->h + r + p->pad_t) * q->w + p->pad_l,
              x + ((ptrdiff_t)ci * p->h + r) * p->w, cols);
}

// dx (cg, p->h, p->w) += the part of dxp (cg, q->h, q->w) over x.
static void add_unpadded(float *dx, const float *dxp, const nn_conv_params *p,
                         const nn_conv_params *q)
{
  int rows = p->h < q->h - p->pad_t ? p->h : q->h - p->pad_t;
  int cols = p->w < q->w - p->pad_l ? p->w : q->w - p->pad_l;
  for (int ci = 0; ci < q->c; ci++)
    for (int r = 0; r < rows; r++)
      nn_add(dx + ((ptrdiff_t)ci * p->h + r) * p->w,
             dxp + ((ptrdiff_t)ci * q->h + r + p->pad_t) * q->w + p->pad_l, cols);
}

// bp[q*NN_NR + c] = X(k0 + q, J0 + c) over wide pixels: see is_wide().
static void pack_wide(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const nn_conv_image *im = b_src;
  const nn_conv_params *p = im->p;
  int taps = p->kh * p->kw, w = p->w;
  ptrdiff_t plane = (ptrdiff_t)p->h * w;
  int ci = k0 / taps, u = k0 % taps / p->kw, v = k0 % p->kw;
  for (int q = 0; q < kc; q++) {
    float *out = bp + q * NN_NR;
    const float *src = im->x + ci * plane + (ptrdiff_t)u * p->dil_h * w + v * p->dil_w + j0;
    if (nr == NN_NR) { // a whole panel: a fixed-length copy
      for (int c = 0; c < NN_NR; c++)
        out[c] = src[c];
    } else {
      int c = 0;
      for (; c < nr; c++)
        out[c] = src[c];
      for (; c < NN_NR; c++)
        out[c] = 0.0f;
    }
    if (++v == p->kw) {
      v = 0;
      if (++u == p->kh) {
        u = 0;
        ci++;
      }
    }
  }
}

// The output of the wide product: rows are output channels of y (oh*ow
// each, at y_dst's y), columns wide pixels; the extra ones are dropped.
typedef struct {
  float *y;
  const nn_conv_params *p;
} wide_output;

// The real pixels among wide pixels j0 .. j0+nr-1: runs of keep panel
// columns from c, output pixel pixel (in the dense oh*ow plane) onwards.
typedef struct {
  int c, keep, pixel;
} wide_run;

static int wide_runs(wide_run *runs, int j0, int nr, const nn_conv_params *p)
{
  int w = p->w, ow = p->ow, count = 0;
  for (int c = 0; c < nr;) {
    int i = (j0 + c) / w, jj = (j0 + c) % w;
    int len = w - jj < nr - c ? w - jj : nr - c; // to the end of the wide row
    int keep = ow - jj < len ? ow - jj : len;   // of which real pixels
    if (keep > 0) {
      wide_run run = {c, keep, i * ow + jj};
      runs[count++] = run;
    }
    c += len;
  }
  return count;
}

static void store_wide(void *y_dst, const float *tile, int i0, int mr, int j0, int nr)
{
  const wide_output *out = y_dst;
  int plane = out->p->oh * out->p->ow;
  wide_run runs[NN_NR];
  int nruns = wide_runs(runs, j0, nr, out->p);
  for (int k = 0; k < nruns; k++) {
    int keep = runs[k].keep;
    for (int r = 0; r < mr; r++) {
      float *yr = out->y + (ptrdiff_t)(i0 + r) * plane + runs[k].pixel;
      const float *tr = tile + r * NN_NR + runs[k].c;
      for (int t = 0; t < keep; t++)
        yr[t] += tr[t];
    }
  }
}

// The gradient of the output over wide pixels: dY(o, J) for real pixels,
// 0 for the extra ones, so that they add nothing. b_src is a nn_conv_image
// whose x is dy's plane of output channel 0.
static void pack_dy_wide(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const nn_conv_image *im = b_src;
  const nn_conv_params *p = im->p;
  int ow = p->ow, plane = p->oh * ow;
  wide_run runs[NN_NR];
  int nruns = wide_runs(runs, j0, nr, p);
  for (int q = 0; q < kc; q++) {
    float *out = bp + q * NN_NR;
    const float *dyo = im->x + (ptrdiff_t)(k0 + q) * plane;
    for (int c = 0; c < NN_NR; c++)
      out[c] = 0.0f;
    for (int r = 0; r < nruns; r++)
      for (int t = 0; t < runs[r].keep; t++)
        out[runs[r].c + t] = dyo[runs[r].pixel + t];
  }
}

// dX(K, J) over wide pixels, added into dx: row k = tap (u, v) of channel
// ci of a wide pixel J is x[ci][J + u*dil_h*w + v*dil_w], so each run of
// real pixels is one contiguous add.
static void add_dx_wide(void *y_dst, const float *tile, int i0, int mr, int j0, int nr)
{
  const nn_conv_image *im = y_dst;
  const nn_conv_params *p = im->p;
  int w = p->w;
  wide_run runs[NN_NR];
  int nruns = wide_runs(runs, j0, nr, p);
  for (int r = 0; r < mr; r++) {
    nn_conv_tap t = nn_conv_tap_of(i0 + r, p);
    float *dxr = im->dx + (ptrdiff_t)t.ci * p->h * w + (ptrdiff_t)(t.du + p->pad_t) * w +
                 (t.dv + p->pad_l) + j0;
    const float *row = tile + r * NN_NR;
    for (int k = 0; k < nruns; k++)
      for (int s = 0; s < runs[k].keep; s++)
        dxr[runs[k].c + s] += row[runs[k].c + s];
  }
}

// Rows of X that a convolution may address in place through a table of
// offsets (4 KB of stack) rather than pack: conv_wide's over wide pixels
// when only one strip of MR output channels would read each packed panel
// (more strips re-read the packed copy, which is then faster than x
// itself), and conv_pointwise's (see there).
enum { OFFSET_ROWS = 1024 };

// One image and group of a wide convolution (is_wide(p)): y (mg, oh*ow).
static void conv_wide(float *y, const float *x, const float *w, const nn_gemm_epilogue *ep,
                      const nn_conv_params *p)
{
  int mg = p->m / p->group, k = p->c / p->group * p->kh * p->kw, plane = p->oh * p->ow;
#if NN_CONV_LANES
  if (!ep->accumulate && nn_conv_lanes_fits(p)) {
    nn_conv_lanes(y, x, w, ep->bias, p);
    nn_act_forward(y, y, mg * plane, ep->act, ep->act_alpha, ep->act_beta);
    return;
  }
#endif
  nn_conv_image im = {x, NULL, p};
  wide_output out = {y, p};
  if (!ep->accumulate)
    for (int o = 0; o < mg; o++)
      nn_fill(y + (ptrdiff_t)o * plane, ep->bias != NULL ? ep->bias[o] : 0.0f, plane);
  if (mg <= NN_MR && k <= OFFSET_ROWS) { // one strip of rows: read X in place, x + offset[k]
    int taps = p->kh * p->kw, offset[OFFSET_ROWS];
    for (int r = 0; r < k; r++) {
      int t = r % taps;
      offset[r] = r / taps * p->h * p->w + t / p->kw * p->dil_h * p->w + t % p->kw * p->dil_w;
    }
    nn_gemm_engine_offsets(&out, store_wide, w, k, x, offset, mg, wide_count(p), k);
  } else {
    nn_gemm_engine(&out, 0, store_wide, w, k, 1, 1.0f, pack_wide, &im, mg, wide_count(p), k);
  }
  nn_act_forward(y, y, mg * plane, ep->act, ep->act_alpha, ep->act_beta);
}

// The same over a zero-padded copy of x: q from padded_params(). Out of
// line, so that only this path carries the copy on its stack.
static NN_NOINLINE void conv_padded(float *y, const float *x, const float *w,
                                    const nn_gemm_epilogue *ep, const nn_conv_params *p,
                                    const nn_conv_params *q)
{
  float xp[NN_CONV_PAD_FLOATS > 0 ? NN_CONV_PAD_FLOATS : 1];
  pad_image(xp, x, p, q);
  conv_wide(y, xp, w, ep, q);
}

// A pointwise convolution of few output channels (at most 4 strips of
// NN_MR) over a plane of 4 panels or more reads the panels of X in place,
// row ci at x + ci*plane; more strips share each panel better once it is
// packed, and short planes (7x7) read rows of fewer than two panels
// badly in place. Alone, K = 128, in place against packed, planes of
// 14x14 to 56x56: with AVX-512 16 channels 1.12 to 1.37x as fast, 32
// channels 1.05 to 1.16x (64 channels 0.96 to 1.09x, 7x7 planes 0.67 to
// 0.91x); with AVX2 12 to 48 channels 1.13 to 1.6x, 7x7 planes included.
// mobilenet_v2's 32 to 16 channel layer on 112x112: 90 to 73 us.
static void conv_pointwise(float *y, const float *x, const float *w, const nn_gemm_epilogue *ep,
                           const nn_conv_params *p)
{
  int mg = p->m / p->group, k = p->c / p->group, plane = p->oh * p->ow;
  if (mg <= 4 * NN_MR && plane >= 4 * NN_NR && k <= OFFSET_ROWS) {
    int offset[OFFSET_ROWS];
    for (int r = 0; r < k; r++)
      offset[r] = r * plane;
    nn_gemm_engine_offsets_into(y, plane, ep, w, k, x, offset, mg, plane, k);
  } else {
    nn_strided xs = {x, plane, 1};
    nn_gemm_engine_into(y, plane, ep, w, k, nn_pack_strided, &xs, mg, plane, k);
  }
}

// The forward of p (not depthwise) into y, which starts from b or, with
// accumulate, keeps its old value (b NULL, no activation).
static void conv_products(float *y, const float *x, const float *w, const float *b,
                          const nn_conv_params *p, int accumulate)
{
  int cg = p->c / p->group, mg = p->m / p->group;
  int k = cg * p->kh * p->kw;
  int in_plane = p->h * p->w, out_plane = p->oh * p->ow;
  for (int img = 0; img < p->n; img++) {
    for (int g = 0; g < p->group; g++) {
      float *yg = y + ((ptrdiff_t)img * p->m + (ptrdiff_t)g * mg) * out_plane;
      const float *xg = x + ((ptrdiff_t)img * p->c + (ptrdiff_t)g * cg) * in_plane;
      const float *wg = w + (ptrdiff_t)g * mg * k;
      nn_conv_image im = {xg, NULL, p};
      nn_gemm_epilogue ep = {b != NULL ? b + g * mg : NULL, p->act, p->act_alpha, p->act_beta,
                             accumulate};
      nn_conv_params q;
      if (is_pointwise(p)) {
        conv_pointwise(yg, xg, wg, &ep, p);
#if NN_CONV_PIXELS
      } else if (nn_conv_pixels_fits(p)) {
        nn_conv_pixels(yg, xg, wg, ep.bias, accumulate, p);
        nn_act_forward(yg, yg, mg * out_plane, ep.act, ep.act_alpha, ep.act_beta);
#endif
      } else if (is_wide(p)) {
        conv_wide(yg, xg, wg, &ep, p);
      } else if (padded_params(&q, p)) {
        conv_padded(yg, xg, wg, &ep, p, &q);
      } else if (nn_conv_rows_fits(p)) {
        nn_conv_rows(yg, xg, wg, &ep, p);
      } else {
        nn_gemm_engine_into(yg, out_plane, &ep, wg, k, nn_pack_im2col, &im, mg, out_plane, k);
      }
    }
  }
}

void nn_conv_forward(float *restrict y, const float *restrict x, const float *w,
                     const float *b, const nn_conv_params *p)
{
  if (p->c / p->group == 1 && p->group > 1) {
    nn_depthwise_forward(y, x, w, b, p);
    return;
  }
#if defined(NN_CONV_DIRECT)
  nn_conv_direct_forward(y, x, w, b, p);
  return;
#endif
  conv_products(y, x, w, b, p, 0);
}

// dx of a stride-1 convolution with one group is itself a convolution:
//   dx[c](i, j) += sum over o, u, v of dy[o](i + pad_t - u*dil_h,
//                                            j + pad_l - v*dil_w) * w[o][c](u, v)
// that is, dy (m channels) convolved with the kernel turned half a turn
// and its channels swapped, wf[c][o](u, v) = w[o][c](kh-1-u, kw-1-v), at
// the same dilation, padded by (kh-1)*dil_h - pad_t above (and so on): one
// product with m*kh*kw terms per dx entry, instead of one with m terms
// whose every entry is scattered (col2im). *q becomes that convolution;
// returns 0 when it does not apply (strides, groups, a pad wider than the
// kernel's reach, or weights past NN_CONV_FLIP_FLOATS).
#ifndef NN_CONV_FLIP_FLOATS
#define NN_CONV_FLIP_FLOATS 8192 // the turned weights, on the stack (32 KB)
#endif

static int transposed_params(nn_conv_params *q, const nn_conv_params *p)
{
  if (p->stride_h != 1 || p->stride_w != 1 || p->group != 1 ||
      (long)p->m * p->c * p->kh * p->kw > NN_CONV_FLIP_FLOATS)
    return 0;
  int reach_h = (p->kh - 1) * p->dil_h, reach_w = (p->kw - 1) * p->dil_w;
  int pad_b = p->oh - 1 + reach_h + 1 - p->h - p->pad_t; // rows the forward read below x
  int pad_r = p->ow - 1 + reach_w + 1 - p->w - p->pad_l;
  if (p->pad_t > reach_h || p->pad_l > reach_w || pad_b > reach_h || pad_r > reach_w)
    return 0;
  *q = *p;
  q->c = p->m;
  q->h = p->oh;
  q->w = p->ow;
  q->m = p->c;
  q->oh = p->h;
  q->ow = p->w;
  q->pad_t = reach_h - p->pad_t;
  q->pad_l = reach_w - p->pad_l;
  q->act = NN_ACT_NONE;
  return 1;
}

// dx += the convolution of dy by the turned weights (q from transposed_params).
static NN_NOINLINE void dx_transposed(float *dx, const float *dy, const float *w,
                                      const nn_conv_params *p, const nn_conv_params *q)
{
  float wf[NN_CONV_FLIP_FLOATS > 0 ? NN_CONV_FLIP_FLOATS : 1];
  int taps = p->kh * p->kw;
  for (int o = 0; o < p->m; o++)
    for (int c = 0; c < p->c; c++)
      for (int t = 0; t < taps; t++)
        wf[((ptrdiff_t)c * p->m + o) * taps + taps - 1 - t] =
            w[((ptrdiff_t)o * p->c + c) * taps + t];
  conv_products(dx, dy, wf, NULL, q, 1);
}

// dY^T over wide pixels: bp[q*NN_NR + c] = dY(j0 + c, J = k0 + q), 0 for
// the extra pixels. b_src is a nn_conv_image whose x is dy (mg, oh*ow).
static void pack_dy_wide_t(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const nn_conv_image *im = b_src;
  const nn_conv_params *p = im->p;
  int w = p->w, ow = p->ow, plane = p->oh * ow;
  int i = k0 / w, jj = k0 % w;
  for (int q = 0; q < kc; q++) {
    float *out = bp + q * NN_NR;
    for (int c = 0; c < NN_NR; c++)
      out[c] = 0.0f;
    if (jj < ow) {
      const float *d = im->x + (ptrdiff_t)j0 * plane + i * ow + jj;
      for (int c = 0; c < nr; c++)
        out[c] = d[(ptrdiff_t)c * plane];
    }
    if (++jj == w) {
      jj = 0;
      i++;
    }
  }
}

// dw (mg, K) += tile^T: the tile is rows i0.. of dw^T (kernel taps) by
// columns j0.. (output channels).
typedef struct {
  float *dw;
  int k;
} weight_grad;

static void add_dw_t(void *y_dst, const float *tile, int i0, int mr, int j0, int nr)
{
  const weight_grad *g = y_dst;
  for (int c = 0; c < nr; c++)
    for (int r = 0; r < mr; r++)
      g->dw[(ptrdiff_t)(j0 + c) * g->k + i0 + r] += tile[r * NN_NR + c];
}

// Rows of X over wide pixels handed to the engine at once; beyond it, dw
// goes through nn_pack_im2col_t.
enum { WIDE_DW_ROWS = 1024 };

// dw (mg, K) += dY X^T of a wide convolution (is_wide(p)) as
// dw^T (K, mg) = X (K, J) dY^T (J, mg): every row of X is a contiguous
// piece of x, read in place through a table of row pointers.
static void dw_wide(float *dw, const float *dy, const float *x, const nn_conv_params *p)
{
  int mg = p->m / p->group, taps = p->kh * p->kw, k = p->c / p->group * taps;
  nn_conv_image dys = {dy, NULL, p};
  if (k > WIDE_DW_ROWS) {
    nn_conv_image im = {x, NULL, p};
    nn_gemm_engine(dw, k, NULL, dy, p->oh * p->ow, 1, 1.0f, nn_pack_im2col_t, &im, mg, k,
                   p->oh * p->ow);
    return;
  }
  const float *rows[WIDE_DW_ROWS];
  for (int r = 0; r < k; r++) {
    int t = r % taps;
    rows[r] = x + (ptrdiff_t)(r / taps) * p->h * p->w +
              (ptrdiff_t)(t / p->kw) * p->dil_h * p->w + (t % p->kw) * p->dil_w;
  }
  weight_grad g = {dw, k};
  nn_gemm_engine_rows(&g, 0, add_dw_t, rows, pack_dy_wide_t, &dys, k, mg, wide_count(p));
}

// dw (mg, K) and dx (cg, h, w) of one image and group over a zero-padded
// copy (q from padded_params()), both through wide rows; one stack buffer
// serves as the copy of x, then as the padded dx.
static NN_NOINLINE void conv_backward_padded(float *dx, float *dw, const float *dy,
                                             const float *x, const float *w,
                                             const nn_conv_params *p, const nn_conv_params *q)
{
  float buf[NN_CONV_PAD_FLOATS > 0 ? NN_CONV_PAD_FLOATS : 1];
  int mg = q->m, k = q->c * q->kh * q->kw;
  if (dw != NULL) {
    pad_image(buf, x, p, q);
#if NN_CONV_DW_ROWS
    if (nn_conv_dw_rows_fits(q))
      nn_conv_dw_rows(dw, dy, 0, buf, 0, 1, q);
    else
#endif
      dw_wide(dw, dy, buf, q);
  }
  if (dx != NULL) {
    nn_fill(buf, 0.0f, q->c * q->h * q->w);
    nn_conv_image dys = {dy, NULL, q}, im = {NULL, buf, q};
    nn_gemm_engine(&im, 0, add_dx_wide, w, 1, k, 1.0f, pack_dy_wide, &dys, k, wide_count(q),
                   mg);
    add_unpadded(dx, buf, p, q);
  }
}

// Backward of the convolution above (p->act must be NONE), per image and
// group, with N = oh*ow and K = cg*kh*kw:
//   term 1  db[o]     += sum over the plane of dY[img, o]
//   term 2  dw_g(mg, K) += dY_g(mg, N) * X(K, N)^T
//   term 3  dX(K, N)   = w_g(mg, K)^T * dY_g(mg, N), each entry added into
//                        the dx position that X's entry was read from
// For a pointwise convolution X is x itself and both are plain products.
void nn_conv_backward(float *dx, float *dw, float *db, const float *dy,
                      const float *x, const float *w, const nn_conv_params *p)
{
  int cg = p->c / p->group, mg = p->m / p->group;
  if (cg == 1 && p->group > 1) {
    nn_depthwise_backward(dx, dw, db, dy, x, w, p);
    return;
  }
  if (db != NULL)
    for (int img = 0; img < p->n; img++)
      for (int o = 0; o < p->m; o++)
        db[o] += nn_sum_floats(dy + ((ptrdiff_t)img * p->m + o) * p->oh * p->ow, p->oh * p->ow);
#if defined(NN_CONV_DIRECT)
  nn_conv_direct_backward(dx, dw, dy, x, w, p);
  return;
#endif
  int k = cg * p->kh * p->kw;
  int in_plane = p->h * p->w, out_plane = p->oh * p->ow;
  nn_conv_params t;
  if (dx != NULL && transposed_params(&t, p)) {
    dx_transposed(dx, dy, w, p, &t);
    dx = NULL; // done: what follows computes dw only
  }
#if NN_CONV_DW_ROWS
  if (dw != NULL && nn_conv_dw_rows_fits(p) && !is_pointwise(p)) {
    for (int g = 0; g < p->group; g++)
      nn_conv_dw_rows(dw + (ptrdiff_t)g * mg * k, dy + (ptrdiff_t)g * mg * out_plane,
                      (ptrdiff_t)p->m * out_plane, x + (ptrdiff_t)g * cg * in_plane,
                      (ptrdiff_t)p->c * in_plane, p->n, p);
    dw = NULL; // done, for every image
  }
#endif
  for (int img = 0; img < p->n; img++) {
    for (int g = 0; g < p->group; g++) {
      const float *dyg = dy + ((ptrdiff_t)img * p->m + (ptrdiff_t)g * mg) * out_plane;
      ptrdiff_t xo = ((ptrdiff_t)img * p->c + (ptrdiff_t)g * cg) * in_plane;
      ptrdiff_t wo = (ptrdiff_t)g * mg * k;
      nn_conv_params q;
      if (padded_params(&q, p)) {
        conv_backward_padded(dx != NULL ? dx + xo : NULL, dw != NULL ? dw + wo : NULL, dyg,
                             x != NULL ? x + xo : NULL, w != NULL ? w + wo : NULL, p, &q);
        continue;
      }
      if (dw != NULL) {
        if (is_pointwise(p)) {
          nn_strided xt = {x + xo, 1, in_plane};
          nn_gemm_engine(dw + wo, k, NULL, dyg, out_plane, 1, 1.0f, nn_pack_strided, &xt,
                         mg, k, out_plane);
        } else if (is_wide(p)) {
          dw_wide(dw + wo, dyg, x + xo, p);
        } else {
          nn_conv_image im = {x + xo, NULL, p};
          nn_gemm_engine(dw + wo, k, NULL, dyg, out_plane, 1, 1.0f, nn_pack_im2col_t, &im, mg,
                         k, out_plane);
        }
      }
      if (dx != NULL) {
        nn_strided dys = {dyg, out_plane, 1};
        if (is_pointwise(p)) {
          nn_gemm_engine(dx + xo, in_plane, NULL, w + wo, 1, k, 1.0f, nn_pack_strided, &dys,
                         k, out_plane, mg);
        } else if (is_wide(p)) {
          nn_conv_image dys_wide = {dyg, NULL, p}, im = {NULL, dx + xo, p};
          nn_gemm_engine(&im, 0, add_dx_wide, w + wo, 1, k, 1.0f, pack_dy_wide, &dys_wide, k,
                         wide_count(p), mg);
        } else {
          nn_conv_image im = {NULL, dx + xo, p};
          nn_gemm_engine(&im, 0, nn_scatter_col2im, w + wo, 1, k, 1.0f, nn_pack_strided, &dys,
                         k, out_plane, mg);
        }
      }
    }
  }
}
