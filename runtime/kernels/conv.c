/*
 * conv.c - ONNX Conv over (n, c, h, w) (1-D as h = 1) with groups, strides,
 * dilations, explicit padding, optional bias and a fused activation, and
 * its backward.
 *
 * Key idea: per image and group, a convolution is the matrix product
 *   y(mg, oh*ow) = w(mg, cg*kh*kw) * X(cg*kh*kw, oh*ow)
 * where column j of X holds the inputs that output pixel j reads ("im2col").
 * X is never built: the packed engine (gemm_engine.c) asks for one
 * K x NR panel at a time and pack_im2col() gathers it from x, copying each
 * run of pixels that lies in one output row (contiguous at stride 1) and
 * writing zeros for padding. A 1x1, stride-1, unpadded convolution reads x
 * itself as X. The backward is two more products through the same engine:
 *   dw(mg, K)    += dy(mg, N) * X^T      (pack_im2col_t gathers X^T panels)
 *   dX(K, N)      = w^T * dy(mg, N)      (scatter_col2im adds each tile of
 *                                         dX into the dx positions it came from)
 * Depthwise convolutions (one input channel per group), where the product
 * degenerates to K = kh*kw, go to depthwise.c.
 *
 * Deliberately not here: Winograd or FFT algorithms, scratch memory (the
 * engine's panels are on its stack), and auto_pad or shape arithmetic (the
 * compiler turns them into pad_t/pad_l and oh/ow).
 */
#include "gemm_engine.h"

// Smallest j >= 0 with j*stride + off >= lo, for stride > 0.
static int first_at_least(int lo, int off, int stride)
{
  int need = lo - off;
  return need <= 0 ? 0 : (need + stride - 1) / stride;
}

// Indices t in [*begin, *end) of 0..count-1 whose input index t*stride + off
// lies in [0, size).
static void valid_range(int *begin, int *end, int off, int stride, int size, int count)
{
  int b = first_at_least(0, off, stride);
  int e = first_at_least(size, off, stride);
  *begin = b < count ? b : count;
  *end = e < count ? e : count;
}

// The 1x1, stride-1, unpadded case: X is x's (c, h*w) matrix itself.
static int is_pointwise(const nn_conv_params *p)
{
  return p->kh == 1 && p->kw == 1 && p->stride_h == 1 && p->stride_w == 1 &&
         p->pad_t == 0 && p->pad_l == 0 && p->oh == p->h && p->ow == p->w;
}

// One image and group: x or dx (cg, h, w), as the engine's b_src or y_dst.
typedef struct {
  const float *x;
  float *dx;
  const nn_conv_params *p;
} conv_image;

// A run of panel columns c .. c+len-1 that are output pixels (i, jj ..).
typedef struct {
  int c, len, i, jj;
} pixel_run;

// Splits output pixels j0 .. j0+nr-1 into runs within one output row.
static int pixel_runs(pixel_run *runs, int j0, int nr, int ow)
{
  int count = 0;
  for (int c = 0; c < nr;) {
    int i = (j0 + c) / ow, jj = (j0 + c) % ow;
    int len = ow - jj < nr - c ? ow - jj : nr - c;
    pixel_run r = {c, len, i, jj};
    runs[count++] = r;
    c += len;
  }
  return count;
}

// Kernel tap of row kidx of X: channel ci, offsets (du, dv) from the
// output pixel's top-left input position.
typedef struct {
  int ci, du, dv;
} tap;

static tap tap_of(int kidx, const nn_conv_params *p)
{
  int taps = p->kh * p->kw;
  int u = kidx % taps / p->kw, v = kidx % p->kw;
  tap t = {kidx / taps, u * p->dil_h - p->pad_t, v * p->dil_w - p->pad_l};
  return t;
}

// Where one run of pixels reads one kernel tap in its channel's plane: the
// run's entries s in [t0, t1) are plane[src + s*stride_w]; the others are
// padding (t0 == t1 when the whole run is).
typedef struct {
  int src, t0, t1;
} run_read;

static run_read read_of(const pixel_run *run, int u, int v, const nn_conv_params *p)
{
  run_read rd = {0, 0, 0};
  int ih = run->i * p->stride_h + u * p->dil_h - p->pad_t;
  if (ih < 0 || ih >= p->h)
    return rd;
  int iw0 = run->jj * p->stride_w + v * p->dil_w - p->pad_l;
  valid_range(&rd.t0, &rd.t1, iw0, p->stride_w, p->w, run->len);
  rd.src = ih * p->w + iw0;
  return rd;
}

// Entries of the per-panel table of run_read, one per (tap, run), that
// pack_im2col keeps on its stack; beyond it they are computed per row.
enum { READ_TABLE = 512 };

// bp[q*NN_NR + c] = X(k0 + q, j0 + c): see nn_pack_fn. Row k of X is tap
// (u, v) of channel ci = k / (kh*kw); every channel reads the same places
// of its own plane, so those are worked out once per panel.
static void pack_im2col(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const conv_image *im = b_src;
  const nn_conv_params *p = im->p;
  pixel_run runs[NN_NR];
  int nruns = pixel_runs(runs, j0, nr, p->ow);
  int taps = p->kh * p->kw, sw = p->stride_w;
  run_read table[READ_TABLE];
  int tabled = taps * nruns <= READ_TABLE;
  if (tabled)
    for (int t = 0; t < taps; t++)
      for (int r = 0; r < nruns; r++)
        table[t * nruns + r] = read_of(&runs[r], t / p->kw, t % p->kw, p);

  ptrdiff_t plane = (ptrdiff_t)p->h * p->w;
  int ci = k0 / taps, t = k0 % taps;
  for (int q = 0; q < kc; q++) {
    float *out = bp + q * NN_NR;
    for (int c = 0; c < NN_NR; c++)
      out[c] = 0.0f;
    const float *xc = im->x + ci * plane;
    for (int r = 0; r < nruns; r++) {
      run_read rd = tabled ? table[t * nruns + r] : read_of(&runs[r], t / p->kw, t % p->kw, p);
      float *dst = out + runs[r].c;
      const float *src = xc + rd.src;
      if (sw == 1)
        for (int s = rd.t0; s < rd.t1; s++)
          dst[s] = src[s];
      else
        for (int s = rd.t0; s < rd.t1; s++)
          dst[s] = src[(ptrdiff_t)s * sw];
    }
    if (++t == taps) {
      t = 0;
      ci++;
    }
  }
}

// bp[q*NN_NR + c] = X(j0 + c, k0 + q), a panel of X^T: rows are output
// pixels, columns kernel taps.
static void pack_im2col_t(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const conv_image *im = b_src;
  const nn_conv_params *p = im->p;
  tap taps[NN_NR];
  for (int c = 0; c < nr; c++)
    taps[c] = tap_of(j0 + c, p);
  int i = k0 / p->ow, jj = k0 % p->ow;
  for (int q = 0; q < kc; q++) {
    float *out = bp + q * NN_NR;
    int ih0 = i * p->stride_h, iw0 = jj * p->stride_w;
    for (int c = 0; c < nr; c++) {
      int ih = ih0 + taps[c].du, iw = iw0 + taps[c].dv;
      out[c] = ih >= 0 && ih < p->h && iw >= 0 && iw < p->w
                   ? im->x[((ptrdiff_t)taps[c].ci * p->h + ih) * p->w + iw]
                   : 0.0f;
    }
    for (int c = nr; c < NN_NR; c++)
      out[c] = 0.0f;
    if (++jj == p->ow) {
      jj = 0;
      i++;
    }
  }
}

// dx at the positions X(i0 + r, j0 + c) came from += tile[r*NN_NR + c];
// positions in the padding are dropped. See nn_unpack_fn.
static void scatter_col2im(void *y_dst, const float *tile, int i0, int mr, int j0, int nr)
{
  const conv_image *im = y_dst;
  const nn_conv_params *p = im->p;
  pixel_run runs[NN_NR];
  int nruns = pixel_runs(runs, j0, nr, p->ow);
  int sw = p->stride_w;
  for (int r = 0; r < mr; r++) {
    tap t = tap_of(i0 + r, p);
    const float *row = tile + r * NN_NR;
    for (int k = 0; k < nruns; k++) {
      int ih = runs[k].i * p->stride_h + t.du;
      if (ih < 0 || ih >= p->h)
        continue;
      int iw0 = runs[k].jj * sw + t.dv;
      int t0, t1;
      valid_range(&t0, &t1, iw0, sw, p->w, runs[k].len);
      float *dxr = im->dx + ((ptrdiff_t)t.ci * p->h + ih) * p->w + iw0;
      const float *src = row + runs[k].c;
      for (int s = t0; s < t1; s++)
        dxr[(ptrdiff_t)s * sw] += src[s];
    }
  }
}

void nn_conv_forward(float *restrict y, const float *restrict x, const float *w,
                     const float *b, const nn_conv_params *p)
{
  int cg = p->c / p->group, mg = p->m / p->group;
  int k = cg * p->kh * p->kw;
  int in_plane = p->h * p->w, out_plane = p->oh * p->ow;
  for (int img = 0; img < p->n; img++) {
    for (int g = 0; g < p->group; g++) {
      float *yg = y + ((ptrdiff_t)img * p->m + (ptrdiff_t)g * mg) * out_plane;
      const float *xg = x + ((ptrdiff_t)img * p->c + (ptrdiff_t)g * cg) * in_plane;
      const float *wg = w + (ptrdiff_t)g * mg * k;
      for (int o = 0; o < mg; o++)
        nn_fill(yg + (ptrdiff_t)o * out_plane, b != NULL ? b[g * mg + o] : 0.0f, out_plane);
      if (is_pointwise(p)) {
        nn_strided xs = {xg, in_plane, 1};
        nn_gemm_engine(yg, out_plane, NULL, wg, k, 1, 1.0f, nn_pack_strided, &xs, mg,
                       out_plane, k);
      } else {
        conv_image im = {xg, NULL, p};
        nn_gemm_engine(yg, out_plane, NULL, wg, k, 1, 1.0f, pack_im2col, &im, mg, out_plane,
                       k);
      }
    }
  }
  nn_act_forward(y, y, p->n * p->m * out_plane, p->act, p->act_alpha, p->act_beta);
}

// sum_t a[t], t < n, with 8 partial sums so that it vectorises without
// reassociating one long sum.
static float sum_of(const float *a, int n)
{
  float acc[8] = {0.0f};
  int t = 0;
  for (; t + 8 <= n; t += 8)
    for (int l = 0; l < 8; l++)
      acc[l] += a[t + l];
  float s = 0.0f;
  for (; t < n; t++)
    s += a[t];
  for (int l = 0; l < 8; l++)
    s += acc[l];
  return s;
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
  int k = cg * p->kh * p->kw;
  int in_plane = p->h * p->w, out_plane = p->oh * p->ow;
  for (int img = 0; img < p->n; img++) {
    for (int g = 0; g < p->group; g++) {
      const float *dyg = dy + ((ptrdiff_t)img * p->m + (ptrdiff_t)g * mg) * out_plane;
      ptrdiff_t xo = ((ptrdiff_t)img * p->c + (ptrdiff_t)g * cg) * in_plane;
      ptrdiff_t wo = (ptrdiff_t)g * mg * k;
      if (db != NULL)
        for (int o = 0; o < mg; o++)
          db[g * mg + o] += sum_of(dyg + (ptrdiff_t)o * out_plane, out_plane);
      if (dw != NULL) {
        if (is_pointwise(p)) {
          nn_strided xt = {x + xo, 1, in_plane};
          nn_gemm_engine(dw + wo, k, NULL, dyg, out_plane, 1, 1.0f, nn_pack_strided, &xt,
                         mg, k, out_plane);
        } else {
          conv_image im = {x + xo, NULL, p};
          nn_gemm_engine(dw + wo, k, NULL, dyg, out_plane, 1, 1.0f, pack_im2col_t, &im, mg,
                         k, out_plane);
        }
      }
      if (dx != NULL) {
        nn_strided dys = {dyg, out_plane, 1};
        if (is_pointwise(p)) {
          nn_gemm_engine(dx + xo, in_plane, NULL, w + wo, 1, k, 1.0f, nn_pack_strided, &dys,
                         k, out_plane, mg);
        } else {
          conv_image im = {NULL, dx + xo, p};
          nn_gemm_engine(&im, 0, scatter_col2im, w + wo, 1, k, 1.0f, nn_pack_strided, &dys,
                         k, out_plane, mg);
        }
      }
    }
  }
}
