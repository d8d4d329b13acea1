/*
 * conv_rows.c - convolutions of few input channels, by bands of output
 * rows. See conv_rows.h.
 *
 * Key idea: a first layer (3 channels, 7x7 at stride 2 in ResNet) has few
 * rows of X per kernel tap, so gathering im2col panels (im2col.c) is mostly
 * working out, per panel and tap, which pieces of x to copy. Instead, the
 * input rows that a band of output rows reads are copied once into a small
 * buffer, zero-padded and, at stride 2, split into even and odd columns.
 * Then row k = (c, u, v) of X for output row r of the band is a contiguous
 * run of the buffer:
 *   X(k, (r, j)) = buf[off[k] + r*row_step + j],  j < ow,
 * and the packed engine's panels are copies of one or two such runs
 * (pack_band), with the bias and activation fused as usual.
 *
 * With e = v*dil_w - pad_l, output column j reads input column s*j + e;
 * writing e = s*q + f (0 <= f < s), that is column s*(j + q) + f: entry
 * j + q of phase f of the row. Phase rows start at q = qmin (the shift of
 * v = 0) and hold ow + qmax - qmin entries.
 *
 * Deliberately not here: many input channels (their im2col panels amortise
 * the gathering, and their copies would not fit the stack), strides above
 * 2, and the backward, which stays with conv.c.
 */
#include "conv_rows.h"

#include "im2col_avx512.h"
#include "ranges.h"

enum { MAX_CHANNELS = 4, MAX_TAPS = 256, MAX_K = MAX_CHANNELS * MAX_TAPS };

// floor(a / b) for b > 0.
static int floor_div(int a, int b)
{
  return a >= 0 ? a / b : -((-a + b - 1) / b);
}

// The buffer: for a band of output rows, the input rows they read, one
// row per (channel, input row of the band, phase), len entries each; entry
// t of phase f holds input column s*(t + qmin) + f. One output row further
// down reads every row of X row_step entries further on.
typedef struct {
  int s, qmin, len, in_rows, row_step;
} row_layout;

// The input rows a band of `rows` output rows reads.
static int band_input_rows(const nn_conv_params *p, int rows)
{
  return (rows - 1) * p->stride_h + (p->kh - 1) * p->dil_h + 1;
}

static long band_floats(const nn_conv_params *p, int rows, int len)
{
  return (long)(p->c / p->group) * band_input_rows(p, rows) * p->stride_w * len;
}

// The layout of the tallest band (up to oh rows) that fits the buffer.
static row_layout layout_of(const nn_conv_params *p)
{
  int s = p->stride_w;
  int qmin = floor_div(-p->pad_l, s), qmax = floor_div((p->kw - 1) * p->dil_w - p->pad_l, s);
  int len = p->ow + qmax - qmin, rows = 1;
  while (rows < p->oh && band_floats(p, rows + 1, len) <= NN_CONV_ROWS_FLOATS)
    rows++;
  row_layout l = {s, qmin, len, band_input_rows(p, rows), p->stride_h * s * len};
  return l;
}

int nn_conv_rows_fits(const nn_conv_params *p)
{
  int cg = p->c / p->group;
  if (cg > MAX_CHANNELS || (p->stride_w != 1 && p->stride_w != 2) || p->ow < 2 * NN_NR ||
      p->kh * p->kw > MAX_TAPS)
    return 0;
  row_layout l = layout_of(p);
  return band_floats(p, 1, l.len) <= NN_CONV_ROWS_FLOATS;
}

// The buffer for the band from output row i0: zeros where a row or column
// lies outside x.
static void fill_band(float *buf, const float *x, const nn_conv_params *p, row_layout l, int i0)
{
  int cg = p->c / p->group;
  for (int c = 0; c < cg; c++)
    for (int r = 0; r < l.in_rows; r++) {
      int ih = i0 * p->stride_h + r - p->pad_t;
      for (int f = 0; f < l.s; f++) {
        float *dst = buf + ((ptrdiff_t)(c * l.in_rows + r) * l.s + f) * l.len;
        int start = l.s * l.qmin + f, t0 = 0, t1 = 0;
        if (ih >= 0 && ih < p->h)
          index_range(&t0, &t1, start, l.s, 0, p->w, l.len);
        int t = 0;
        for (; t < t0; t++)
          dst[t] = 0.0f;
        if (t < t1) { // entries t0 .. t1-1 read columns start + s*t0 on
          const float *src = x + (((ptrdiff_t)c * p->h + ih) * p->w + start + l.s * t0);
          float *to = dst + t0;
          int n = t1 - t0;
          if (l.s == 1)
            for (int a = 0; a < n; a++)
              to[a] = src[a];
          else
            for (int a = 0; a < n; a++)
              to[a] = src[2 * a];
          t = t1;
        }
        for (; t < l.len; t++)
          dst[t] = 0.0f;
      }
    }
}

// X of one band: row k at buf + off[k] for the band's first output row,
// row_step further per output row; ow columns per output row.
typedef struct {
  const float *buf;
  const int *off;
  int row_step, ow;
} band_rows;

// bp[q*NN_NR + c] = X(k0 + q, j0 + c): see nn_pack_fn. The panel's pixels
// fall into runs within one output row, each a contiguous copy, at the
// same place relative to off[k] for every row k.
static void pack_band(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const band_rows *band = b_src;
  nn_im2col_piece runs[NN_NR];
  int nruns = 0;
  for (int c = 0; c < nr; nruns++) {
    int r = (j0 + c) / band->ow, jj = (j0 + c) % band->ow;
    nn_im2col_piece run = {c, r * band->row_step + jj,
                           band->ow - jj < nr - c ? band->ow - jj : nr - c};
    runs[nruns] = run;
    c += run.len;
  }
#if NN_IM2COL_AVX512
  nn_im2col_rows_avx512(bp, band->buf, 0, band->off + k0, 0, 1, kc, runs, nruns, 1);
#else
  for (int q = 0; q < kc; q++) {
    const float *row = band->buf + band->off[k0 + q];
    float *out = bp + q * NN_NR;
    if (nruns == 1 && nr == NN_NR) { // a whole panel in one output row
      for (int c = 0; c < NN_NR; c++)
        out[c] = row[runs[0].src + c];
      continue;
    }
    for (int i = 0; i < nruns; i++)
      for (int c = 0; c < runs[i].len; c++)
        out[runs[i].dst + c] = row[runs[i].src + c];
    for (int c = nr; c < NN_NR; c++)
      out[c] = 0.0f;
  }
#endif
}

void nn_conv_rows(float *y, const float *x, const float *w, const nn_gemm_epilogue *ep,
                  const nn_conv_params *p)
{
  int taps = p->kh * p->kw, k = p->c / p->group * taps, mg = p->m / p->group;
  row_layout l = layout_of(p);
  int band = (l.in_rows - 1 - (p->kh - 1) * p->dil_h) / p->stride_h + 1; // output rows
  float buf[NN_CONV_ROWS_FLOATS > 0 ? NN_CONV_ROWS_FLOATS : 1]; // 0 disables this path
  int off[MAX_K];
  for (int r = 0; r < k; r++) {
    int ci = r / taps, u = r % taps / p->kw, v = r % p->kw;
    int e = v * p->dil_w - p->pad_l, q = floor_div(e, l.s), f = e - q * l.s;
    off[r] = ((ci * l.in_rows + u * p->dil_h) * l.s + f) * l.len + q - l.qmin;
  }
  band_rows rows = {buf, off, l.row_step, p->ow};
  for (int i0 = 0; i0 < p->oh; i0 += band) {
    int n = (p->oh - i0 < band ? p->oh - i0 : band) * p->ow;
    fill_band(buf, x, p, l, i0);
    nn_gemm_engine_into(y + (ptrdiff_t)i0 * p->ow, p->oh * p->ow, ep, w, k, pack_band, &rows,
                        mg, n, k);
  }
}
