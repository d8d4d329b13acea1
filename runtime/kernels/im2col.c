/*
 * im2col.c - implicit im2col: panels of X = im2col(x) and of X^T gathered
 * from x for the packed engine, and the col2im scatter of a gradient's
 * tiles back into dx. See im2col.h.
 *
 * Key idea: a panel covers NN_NR output pixels, which fall into runs
 * within one output row. Row k of X reads, for every run, one piece of
 * one input row of channel k / (kh*kw) (contiguous at stride 1), cut where
 * it leaves x; every channel reads the same places of its own plane
 * through a tap, so the pieces are worked out once per tap and replayed
 * for each channel. With AVX-512 the pieces of a row become a few masked
 * loads (im2col_avx512.c).
 *
 * Deliberately not here: the convolution paths that avoid im2col (wide
 * rows, padded copies, row bands, channels across lanes: conv.c and its
 * helpers), and any buffer beyond the engine's panel.
 */
#include "im2col.h"

#include "im2col_avx512.h"
#include "ranges.h"

// Entries [*t0, *t1) of a run of len pixels starting at input column iw0
// that lie inside a row of w columns, at stride sw.
static void run_inside(int *t0, int *t1, int iw0, int sw, int w, int len)
{
  if (sw == 1) {
    *t0 = iw0 < 0 ? (-iw0 < len ? -iw0 : len) : 0;
    *t1 = w - iw0 < len ? w - iw0 : len;
    if (*t1 < *t0)
      *t1 = *t0;
    return;
  }
  index_range(t0, t1, iw0, sw, 0, w, len);
}

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

typedef nn_im2col_piece piece;

// bp[q*NN_NR + c] = X(k0 + q, j0 + c): see nn_pack_fn. Row k of X is tap
// t = k % (kh*kw) of channel k / (kh*kw), and every channel reads the same
// places of its own plane through a tap: so the pieces of x a tap reads
// (one per run of pixels, cut where it leaves x) are worked out once, then
// copied for each channel. A row that is one whole piece (the common case
// inside the image at strides 1 and 2) is a fixed-length copy.
void nn_pack_im2col(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const nn_conv_image *im = b_src;
  const nn_conv_params *p = im->p;
  pixel_run runs[NN_NR];
  int nruns = pixel_runs(runs, j0, nr, p->ow);
  int taps = p->kh * p->kw, sw = p->stride_w, w = p->w;
  ptrdiff_t plane = (ptrdiff_t)p->h * w;
  for (int t = 0; t < taps; t++) {
    int first = ((t - k0 % taps) + taps) % taps; // first row of this tap
    if (first >= kc)
      continue;
    int u = t / p->kw, v = t % p->kw;
    piece pieces[NN_NR];
    int npieces = 0;
    for (int r = 0; r < nruns; r++) {
      int ih = runs[r].i * p->stride_h + u * p->dil_h - p->pad_t;
      if (ih < 0 || ih >= p->h)
        continue;
      int iw0 = runs[r].jj * sw + v * p->dil_w - p->pad_l, t0, t1;
      run_inside(&t0, &t1, iw0, sw, w, runs[r].len);
      if (t1 > t0) {
        piece pc = {runs[r].c + t0, ih * w + iw0 + t0 * sw, t1 - t0};
        pieces[npieces++] = pc;
      }
    }
#if NN_IM2COL_AVX512
    // Few rows per tap (a first layer on 3 channels) do not repay the
    // masks' set-up at stride 2, where the loops below copy about as fast.
    if (sw == 1 || (sw == 2 && kc >= 8 * taps)) {
      nn_im2col_rows_avx512(bp, im->x + (ptrdiff_t)((k0 + first) / taps) * plane, plane, NULL,
                            first, taps, kc, pieces, npieces, sw);
      continue;
    }
#endif
    int whole = npieces == 1 && pieces[0].len == NN_NR && (sw == 1 || sw == 2);
    const float *xc = im->x + (ptrdiff_t)((k0 + first) / taps) * plane;
    for (int q = first; q < kc; q += taps, xc += plane) {
      float *out = bp + q * NN_NR;
      if (whole) {
        const float *src = xc + pieces[0].src;
#if defined(__GNUC__)
        // As in nn_pack_strided: this row's piece of the panel four on.
        __builtin_prefetch(src + 4 * NN_NR * sw);
        __builtin_prefetch(src + 4 * NN_NR * sw + 16);
#endif
        if (sw == 1)
          for (int c = 0; c < NN_NR; c++)
            out[c] = src[c];
        else
          for (int c = 0; c < NN_NR; c++)
            out[c] = src[2 * c];
        continue;
      }
      for (int c = 0; c < NN_NR; c++)
        out[c] = 0.0f;
      for (int i = 0; i < npieces; i++) {
        float *dst = out + pieces[i].dst;
        const float *src = xc + pieces[i].src;
        if (sw == 1)
          for (int c = 0; c < pieces[i].len; c++)
            dst[c] = src[c];
        else
          for (int c = 0; c < pieces[i].len; c++)
            dst[c] = src[(ptrdiff_t)c * sw];
      }
    }
  }
}

// bp[q*NN_NR + c] = X(j0 + c, k0 + q), a panel of X^T: rows are output
// pixels, columns kernel taps. Filled a tap (column) at a time, so that
// each run of pixels in one output row reads contiguous x (at stride 1).
void nn_pack_im2col_t(float *bp, const void *b_src, int k0, int kc, int j0, int nr)
{
  const nn_conv_image *im = b_src;
  const nn_conv_params *p = im->p;
  pixel_run runs[NN_KC];
  int nruns = pixel_runs(runs, k0, kc, p->ow);
  int sw = p->stride_w, w = p->w;
  for (int q = 0; q < kc; q++)
    for (int c = 0; c < NN_NR; c++)
      bp[q * NN_NR + c] = 0.0f;
  for (int c = 0; c < nr; c++) {
    nn_conv_tap t = nn_conv_tap_of(j0 + c, p);
    const float *xc = im->x + (ptrdiff_t)t.ci * p->h * w;
    for (int r = 0; r < nruns; r++) {
      int ih = runs[r].i * p->stride_h + t.du;
      if (ih < 0 || ih >= p->h)
        continue;
      int iw0 = runs[r].jj * sw + t.dv, t0, t1;
      run_inside(&t0, &t1, iw0, sw, w, runs[r].len);
      const float *src = xc + (ptrdiff_t)ih * w + iw0;
      float *dst = bp + runs[r].c * NN_NR + c;
      for (int s = t0; s < t1; s++)
        dst[s * NN_NR] = src[(ptrdiff_t)s * sw];
    }
  }
}

// dx at the positions X(i0 + r, j0 + c) came from += tile[r*NN_NR + c];
// positions in the padding are dropped. See nn_unpack_fn.
void nn_scatter_col2im(void *y_dst, const float *tile, int i0, int mr, int j0, int nr)
{
  const nn_conv_image *im = y_dst;
  const nn_conv_params *p = im->p;
  pixel_run runs[NN_NR];
  int nruns = pixel_runs(runs, j0, nr, p->ow);
  int sw = p->stride_w;
  for (int r = 0; r < mr; r++) {
    nn_conv_tap t = nn_conv_tap_of(i0 + r, p);
    const float *row = tile + r * NN_NR;
    for (int k = 0; k < nruns; k++) {
      int ih = runs[k].i * p->stride_h + t.du;
      if (ih < 0 || ih >= p->h)
        continue;
      int iw0 = runs[k].jj * sw + t.dv;
      int t0, t1;
      run_inside(&t0, &t1, iw0, sw, p->w, runs[k].len);
      float *dxr = im->dx + ((ptrdiff_t)t.ci * p->h + ih) * p->w + iw0;
      const float *src = row + runs[k].c;
      for (int s = t0; s < t1; s++)
        dxr[(ptrdiff_t)s * sw] += src[s];
    }
  }
}
