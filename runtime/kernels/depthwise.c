/*
 * depthwise.c - depthwise convolution (c / group == 1): the forward and
 * backward of nn_conv_forward/nn_conv_backward when every output channel o
 * reads the single input channel o / (m / group), as MobileNet's 3x3
 * layers do.
 *
 * Key idea: each output element sums all its kernel taps in registers and
 * is stored once, instead of one axpy over the plane per tap (which loads
 * and stores y kh*kw times). The columns of a row split into a left edge,
 * an interior where every tap's input column lies inside x, and a right
 * edge. The interior is a plain loop over columns, with no bounds tests,
 * that gcc and clang vectorise: a 3x3 kernel is one nine-term expression
 * per column (contiguous loads at stride 1, de-interleaving loads at
 * stride 2); other kernels take one pass per three taps of a kernel row.
 * Edge columns (one or two a row for 3x3) are done a column at a time
 * down the rows; rows whose kernel rows fall partly outside x use only
 * those inside.
 *
 * Three things keep the vector loops long. At stride 1 with ow == w the
 * interiors of consecutive rows are one loop (correlate_plane). A loop
 * whose length is not a multiple of VEC ends with one more VEC-column
 * block that overlaps columns already done, instead of a scalar remainder.
 * And a plane small enough to copy, padded with zeros, into SMALL floats
 * of stack (7x7 and 14x14) has no edges at all (pad_plane).
 *
 * Compiled for AVX-512 (__AVX512F__, not NN_NO_SIMD), the forward at
 * stride 1 along rows, or 2 with dilation 1, takes the row-vector path
 * instead (depthwise_avx512.c): 16 output columns of a row
 * in one vector, each tap one masked load, the lanes outside x masked to
 * zero instead of an edge or a padded copy, the activation (none, Relu,
 * Clip) applied in registers. 3x3 kernels go down the input rows loading
 * each once for the output rows that read it; planes at most 8 wide put
 * two rows in a vector. Every other build, and every other stride, takes
 * the portable code here.
 *
 * Backward (derivation above nn_depthwise_backward):
 *  - dx at stride 1 is the forward's correlation over dY with the kernel
 *    flipped; for 3x3 at stride 2, each dx row interleaves its even and
 *    odd columns from one or two dY rows (input_grad_3x3_s2); other
 *    strides take one strided axpy per tap and dY row;
 *  - dw is, per tap, dY dotted with a shifted view of x; for 3x3 all nine
 *    taps share each load of dY and keep LANES partial sums in registers
 *    (weight_grad_3x3);
 *  - db is the sum of each dY plane.
 *
 * Positions outside x are the zeros of the padding: the bounds-tested
 * paths skip them, the padded copies, the 3x3 edge columns and the
 * AVX-512 masked loads multiply them by their weights. The sums agree (to
 * rounding) unless a weight is infinite or NaN.
 *
 * Deliberately not here: shape checks (the compiler proved them), scratch
 * memory beyond a few KB of stack (under 4 KB on Cortex-M), and
 * intrinsics outside the AVX-512 forward (plain C99 loops that vectorise;
 * the Cortex-M build compiles the same code).
 */
#include "depthwise.h"
#include "depthwise_geom.h"
#include "sum.h"

// LANES: partial sums per dot product, as many as sum.h keeps.
// weight_grad_3x3 keeps LANES sums for each of nine taps, which should
// about fill the vector registers: fewer sums leave the additions waiting
// on each other, more spill (nine of 32 registers on AVX-512, 18 of
// Cortex-M4's 32 float registers). -DNN_DW_LANES=n overrides it.
#ifndef NN_DW_LANES
#define NN_DW_LANES NN_SUM_LANES
#endif

// VEC: columns of the overlapping last block of a loop (a multiple of any
// vector width). SAVED: floats of edge values kept while a flat run
// overwrites them. SMALL: floats of a padded copy of a small plane. CHUNK:
// columns split into even and odd at a time by weight_grad_3x3.
enum { VEC = 16, LANES = NN_DW_LANES, SAVED = 128, SMALL = 256, CHUNK = 32 };

// The taps one output row uses: nu kernel rows of kw taps, tap (r, v)
// weighing k[r*ku + v*kv] on x[r*xu + v*dw] (x at the row's column 0).
typedef struct {
  const float *k;
  int ku, kv, nu, kw;
  ptrdiff_t xu;
  int sw, dw;
} row_taps;

// The nine taps of one column: kernel rows x0, x1, x2 at columns c, c + dw,
// c + 2*dw; k row-major (9).
static inline float sum_3x3(const float *x0, const float *x1, const float *x2,
                            const float *k, ptrdiff_t c, ptrdiff_t dw)
{
  return (k[0] * x0[c] + k[1] * x0[c + dw] + k[2] * x0[c + 2 * dw]) +
         (k[3] * x1[c] + k[4] * x1[c + dw] + k[5] * x1[c + 2 * dw]) +
         (k[6] * x2[c] + k[7] * x2[c + dw] + k[8] * x2[c + 2 * dw]);
}

// The 3x3 interior loops, for rows output rows ys apart whose inputs are
// xs apart: for t < n,
//   acc: y[t] += taps of column t    else: y[t] = bias + taps of column t,
// x at tap (0, 0) of column 0, kernel rows xu apart, k row-major (9).
// Without acc, a row whose n is not a multiple of VEC ends with one more
// VEC-column loop over [n - VEC, n): it rewrites a few columns with the
// same values instead of leaving a scalar remainder.

// Stride 1, any dilation.
static void taps_3x3_s1(float *restrict y, ptrdiff_t ys, const float *restrict x,
                        ptrdiff_t xs, ptrdiff_t xu, const float *restrict k, int dw, int rows,
                        int n, int acc, float bias)
{
  int whole = n < VEC ? n : n - n % VEC;
  for (int i = 0; i < rows; i++) {
    float *yr = y + i * ys;
    const float *x0 = x + i * xs, *x1 = x0 + xu, *x2 = x0 + 2 * xu;
    if (acc) {
      for (int t = 0; t < n; t++)
        yr[t] += sum_3x3(x0, x1, x2, k, t, dw);
      continue;
    }
    for (int t = 0; t < whole; t++)
      yr[t] = bias + sum_3x3(x0, x1, x2, k, t, dw);
    if (whole < n)
      for (int t = n - VEC; t < n; t++)
        yr[t] = bias + sum_3x3(x0, x1, x2, k, t, dw);
  }
}

// Stride 2, dilation 1 (MobileNet's downsampling layers), without acc.
// Vectorised, x[2t] and x[2t + 1] are de-interleaved from pairs of loads,
// and x[2t + 2] needs one element past the last pair, so compilers run the
// last column of the loop scalar ("peeling for gaps"). Runs of 16q + 1
// columns (the first, then one ending at n) keep the rest in vectors.
static void taps_3x3_s2(float *restrict y, ptrdiff_t ys, const float *restrict x,
                        ptrdiff_t xs, ptrdiff_t xu, const float *restrict k, int rows, int n,
                        float bias)
{
  int first = n <= VEC + 1 ? n : n - (n - 1) % VEC;
  for (int i = 0; i < rows; i++) {
    float *yr = y + i * ys;
    const float *x0 = x + i * xs, *x1 = x0 + xu, *x2 = x0 + 2 * xu;
    for (int t = 0; t < first; t++)
      yr[t] = bias + sum_3x3(x0, x1, x2, k, 2 * t, 1);
    if (first < n)
      for (int t = n - VEC - 1; t < n; t++)
        yr[t] = bias + sum_3x3(x0, x1, x2, k, 2 * t, 1);
  }
}

// y[t] += up to three taps of one kernel row, k[v*kv] on x[t*sw + v*dw],
// v < count (1 to 3), t < n.
static void taps_row(float *restrict y, const float *restrict x, const float *restrict k,
                     int kv, int count, int sw, int dw, int n)
{
  const float k0 = k[0];
  const float k1 = count > 1 ? k[kv] : 0.0f, k2 = count > 2 ? k[2 * kv] : 0.0f;
  if (count == 3 && sw == 1) {
    for (int t = 0; t < n; t++)
      y[t] += k0 * x[t] + k1 * x[t + dw] + k2 * x[t + 2 * dw];
  } else if (count == 3) {
    for (int t = 0; t < n; t++) {
      ptrdiff_t c = (ptrdiff_t)t * sw;
      y[t] += k0 * x[c] + k1 * x[c + dw] + k2 * x[c + 2 * dw];
    }
  } else if (count == 2) {
    for (int t = 0; t < n; t++) {
      ptrdiff_t c = (ptrdiff_t)t * sw;
      y[t] += k0 * x[c] + k1 * x[c + dw];
    }
  } else {
    for (int t = 0; t < n; t++)
      y[t] += k0 * x[(ptrdiff_t)t * sw];
  }
}

// The interiors of rows output rows (ys apart, inputs xs apart): y[t]
// (acc: +=, else = bias +) the taps of rt for column t, t < n, no bounds
// tests; x at tap (0, 0) of column 0. A 3x3 kernel at stride 1, or 2 with
// dilation 1, takes one pass; any other kernel one pass per three taps.
static void add_rows(float *restrict y, ptrdiff_t ys, const float *restrict x, ptrdiff_t xs,
                     const row_taps *rt, int rows, int n, int acc, float bias)
{
  if (rt->kw == 3 && rt->nu == 3 && rt->ku == 3 && rt->kv == 1) {
    if (rt->sw == 1) {
      taps_3x3_s1(y, ys, x, xs, rt->xu, rt->k, rt->dw, rows, n, acc, bias);
      return;
    }
    if (rt->sw == 2 && rt->dw == 1 && !acc) {
      taps_3x3_s2(y, ys, x, xs, rt->xu, rt->k, rows, n, bias);
      return;
    }
  }
  for (int i = 0; i < rows; i++) {
    float *yr = y + i * ys;
    const float *xr = x + i * xs;
    if (!acc)
      for (int t = 0; t < n; t++)
        yr[t] = bias;
    for (int r = 0; r < rt->nu; r++)
      for (int v = 0; v < rt->kw; v += 3)
        taps_row(yr, xr + r * rt->xu + v * rt->dw, rt->k + r * rt->ku + v * rt->kv, rt->kv,
                 min_int(3, rt->kw - v), rt->sw, rt->dw, n);
  }
}

// Edge column j of rows output rows (ys apart, inputs xs apart): y (acc:
// +=, else = bias +) the taps of rt whose input column c0 + v*dw lies in
// [0, w), x at input column 0 of the first row. With saved, the old value
// of row r is saved[r * saved_step] (acc only). For a 3x3 kernel, a
// kernel column outside x reads a zero instead (the padding's value), so
// that every row is the same nine-term sum without branches.
static void edge_column(float *y, ptrdiff_t ys, const float *x, ptrdiff_t xs,
                        const row_taps *rt, int rows, int c0, int w, int acc, float bias,
                        const float *saved, int saved_step)
{
  if (rt->nu == 3 && rt->ku == 3 && rt->kv == 1) {
    // Kernel column v reads col[v][i*step[v] + u*up[v]].
    const float zero = 0.0f, *col[3];
    ptrdiff_t step[3], up[3];
    for (int v = 0; v < 3; v++) {
      int c = c0 + v * rt->dw, in = c >= 0 && c < w;
      col[v] = in ? x + c : &zero;
      step[v] = in ? xs : 0;
      up[v] = in ? rt->xu : 0;
    }
    const float *k = rt->k;
    const float k00 = k[0], k01 = k[1], k02 = k[2], k10 = k[3], k11 = k[4], k12 = k[5];
    const float k20 = k[6], k21 = k[7], k22 = k[8];
    for (int i = 0; i < rows; i++) {
      const float *a = col[0] + i * step[0], *b = col[1] + i * step[1];
      const float *c = col[2] + i * step[2];
      float s = (k00 * a[0] + k01 * b[0] + k02 * c[0]) +
                (k10 * a[up[0]] + k11 * b[up[1]] + k12 * c[up[2]]) +
                (k20 * a[2 * up[0]] + k21 * b[2 * up[1]] + k22 * c[2 * up[2]]);
      float before = !acc ? bias : saved != NULL ? saved[i * saved_step] : y[i * ys];
      y[i * ys] = before + s;
    }
    return;
  }
  // Taps [va, vb) read inside x.
  int va = 0, vb = rt->kw;
  while (va < vb && c0 + va * rt->dw < 0)
    va++;
  while (vb > va && c0 + (vb - 1) * rt->dw >= w)
    vb--;
  for (int i = 0; i < rows; i++) {
    const float *xi = x + i * xs;
    float s = 0.0f;
    for (int r = 0; r < rt->nu; r++)
      for (int v = va; v < vb; v++)
        s += rt->k[r * rt->ku + v * rt->kv] * xi[r * rt->xu + c0 + v * rt->dw];
    float before = !acc ? bias : saved != NULL ? saved[i * saved_step] : y[i * ys];
    y[i * ys] = before + s;
  }
}

// The part of in that the taps of g read, padded with zeros: row rp,
// column cp of pad (hp, wp) is in's row rp - pt, column cp - pl, or 0.
// Returns 0, doing nothing, when it does not fit in SMALL floats.
static int pad_plane(float *pad, const float *in, const plane_geom *g, int *hp, int *wp)
{
  *hp = (g->oh - 1) * g->sh + (g->kh - 1) * g->dh + 1;
  *wp = (g->ow - 1) * g->sw + (g->kw - 1) * g->dw + 1;
  if (*hp * *wp > SMALL || g->oh * *wp > SMALL)
    return 0;
  for (int f = 0; f < *hp * *wp; f++)
    pad[f] = 0.0f;
  int r0 = max_int(g->pt, 0), r1 = min_int(g->pt + g->h, *hp);
  int c0 = min_int(max_int(g->pl, 0), *wp), c1 = max_int(c0, min_int(g->pl + g->w, *wp));
  for (int rp = r0; rp < r1; rp++) {
    float *pr = pad + rp * *wp;
    const float *xr = in + (ptrdiff_t)(rp - g->pt) * g->w;
    for (int cp = c0; cp < c1; cp++)
      pr[cp] = xr[cp - g->pl];
  }
  return 1;
}

// A small plane, with acc/bias as correlate, when its padded input
// fits in SMALL floats (pad_plane): every column is then interior and no
// row partial. At stride 1 the rows go flat through a scratch plane of
// the padded width (a 7x7 plane is one loop of 61 columns instead of 7 of
// 7 plus edges). Returns 0, doing nothing, when the plane is too big.
// scratch: (2 * SMALL)
static int correlate_small(float *restrict out, const float *restrict in, const row_taps *rt,
                           const plane_geom *g, int acc, float bias, float *scratch)
{
  float *pad = scratch, *flat = scratch + SMALL;
  int hp, wp;
  if (!pad_plane(pad, in, g, &hp, &wp))
    return 0;
  row_taps pt = *rt;
  pt.xu = (ptrdiff_t)g->dh * wp;
  if (g->sh != 1 || g->sw != 1) {
    add_rows(out, g->ow, pad, (ptrdiff_t)g->sh * wp, &pt, g->oh, g->ow, acc, bias);
    return 1;
  }
  // Flat: element i*wp + j of flat is output (i, j) for j < ow.
  add_rows(flat, 0, pad, 0, &pt, 1, (g->oh - 1) * wp + g->ow, 0, bias);
  for (int i = 0; i < g->oh; i++) {
    float *yr = out + i * g->ow;
    const float *fr = flat + i * wp;
    if (acc)
      for (int j = 0; j < g->ow; j++)
        yr[j] += fr[j];
    else
      for (int j = 0; j < g->ow; j++)
        yr[j] = fr[j];
  }
  return 1;
}

// Edge column number e of a row: [0, jlo) then [jhi, ow).
static int edge_at(int e, int jlo, int jhi) { return e < jlo ? e : jhi + (e - jlo); }

// out (acc: +=, else = bias +) the correlation of in with the taps kt
// (plane_geom) for a plane of any size. Output rows whose kernel rows all
// lie inside in, [ia, ib), go together:
// their interior columns [jlo, jhi) (every tap inside in) by add_rows,
// then each edge column [0, jlo), [jhi, ow) by edge_column. The other rows
// go one at a time with the kernel rows that lie inside in.
//
// At stride 1 with ow == w, output element f = i*ow + j of the rows
// [ia, ib) reads in[f + (u*dh - pt)*w + v*dw - pl]: a fixed offset per
// tap. Their interiors are then one flat run from the first interior
// column of row ia to the last of row ib - 1 (a 56x56 plane with padding
// 1 is one loop of 3022 columns, not 54 of 54). The edge columns inside
// the run come out wrong (they wrap into the neighbouring rows) and are
// redone after it; with acc their old values are saved first, a chunk of
// rows at a time so that they fit in SAVED floats.
static void correlate_plane(float *restrict out, const float *restrict in,
                            const row_taps *kt, const plane_geom *g, int acc, float bias)
{
  row_taps rt = *kt;
  rt.xu = (ptrdiff_t)g->dh * g->w;
  // Columns [jlo, jhi) read inside in through every tap.
  int jlo = min_int(first_at_least(0, -g->pl, g->sw), g->ow);
  int jhi = first_at_least(g->w, (g->kw - 1) * g->dw - g->pl, g->sw);
  jhi = max_int(jlo, min_int(jhi, g->ow));
  int edges = g->ow - (jhi - jlo);
  // Rows [ia, ib) read inside in through every kernel row.
  int ia = min_int(first_at_least(0, -g->pt, g->sh), g->oh);
  int ib = first_at_least(g->h, (g->kh - 1) * g->dh - g->pt, g->sh);
  ib = max_int(ia, min_int(ib, g->oh));
  int flat = g->sh == 1 && g->sw == 1 && g->ow == g->w && jhi > jlo;
  int chunk = !acc || !flat || edges == 0 ? ib - ia : SAVED / max_int(edges, 1);
  if (chunk < 1) {
    flat = 0;
    chunk = ib - ia;
  }
  ptrdiff_t xs = (ptrdiff_t)g->sh * g->w;

  for (int i = 0; i < g->oh;) {
    float *y0 = out + (ptrdiff_t)i * g->ow;
    int r0 = i * g->sh - g->pt;
    if (i < ia || i >= ib) {
      // Kernel rows [u0, u1) of row i read rows of in.
      int u0 = min_int(first_at_least(0, r0, g->dh), g->kh);
      int u1 = min_int(first_at_least(g->h, r0, g->dh), g->kh);
      if (u1 <= u0) {
        if (!acc)
          for (int j = 0; j < g->ow; j++)
            y0[j] = bias;
        i++;
        continue;
      }
      row_taps rr = rt;
      rr.nu = u1 - u0;
      rr.k = rt.k + u0 * rt.ku;
      const float *x0 = in + (ptrdiff_t)(r0 + u0 * g->dh) * g->w;
      if (jhi > jlo)
        add_rows(y0 + jlo, 0, x0 + jlo * g->sw - g->pl, 0, &rr, 1, jhi - jlo, acc, bias);
      for (int e = 0; e < edges; e++) {
        int j = edge_at(e, jlo, jhi);
        edge_column(y0 + j, 0, x0, 0, &rr, 1, j * g->sw - g->pl, g->w, acc, bias, NULL, 0);
      }
      i++;
      continue;
    }
    int rows = min_int(chunk, ib - i);
    const float *x0 = in + (ptrdiff_t)r0 * g->w;
    float saved[SAVED];
    if (flat && acc)
      for (int r = 0; r < rows; r++)
        for (int e = 0; e < edges; e++)
          saved[r * edges + e] = y0[r * g->ow + edge_at(e, jlo, jhi)];
    if (jhi > jlo) {
      const float *xj = x0 + jlo * g->sw - g->pl;
      if (flat)
        add_rows(y0 + jlo, 0, xj, 0, &rt, 1, (rows - 1) * g->ow + jhi - jlo, acc, bias);
      else
        add_rows(y0 + jlo, g->ow, xj, xs, &rt, rows, jhi - jlo, acc, bias);
    }
    for (int e = 0; e < edges; e++) {
      int j = edge_at(e, jlo, jhi);
      edge_column(y0 + j, g->ow, x0, xs, &rt, rows, j * g->sw - g->pl, g->w, acc, bias,
                  flat && acc ? saved + e : NULL, edges);
    }
    i += rows;
  }
}

// out (acc: +=, else = bias +) the correlation of in with k (plane_geom):
// correlate_small, else correlate_plane. A 3x3 kernel is first copied
// row-major (flips undone) for the 3x3 loops.
// scratch: (2 * SMALL), the caller's, so that it is on the stack once
static void correlate(float *restrict out, const float *restrict in, const float *k,
                      const plane_geom *g, int acc, float bias, float *scratch)
{
  float k9[9];
  row_taps rt = {k, g->ku, g->kv, g->kh, g->kw, 0, g->sw, g->dw};
  if (g->kh == 3 && g->kw == 3) {
    for (int u = 0; u < 3; u++)
      for (int v = 0; v < 3; v++)
        k9[u * 3 + v] = k[u * g->ku + v * g->kv];
    rt.k = k9;
    rt.ku = 3;
    rt.kv = 1;
  }
  if (!correlate_small(out, in, &rt, g, acc, bias, scratch))
    correlate_plane(out, in, &rt, g, acc, bias);
}

void nn_depthwise_forward(float *restrict y, const float *restrict x, const float *w,
                          const float *b, const nn_conv_params *p)
{
#if NN_DEPTHWISE_ROWVEC
  if (nn_depthwise_rowvec_takes(p)) {
    nn_depthwise_rowvec_forward(y, x, w, b, p);
    return;
  }
#endif
  int mg = p->m / p->group;
  int in_plane = p->h * p->w, out_plane = p->oh * p->ow, taps = p->kh * p->kw;
  plane_geom g = forward_geom(p);
  float scratch[2 * SMALL];
  for (int img = 0; img < p->n; img++) {
    for (int o = 0; o < p->m; o++) {
      float *yo = y + ((ptrdiff_t)img * p->m + o) * out_plane;
      const float *xo = x + ((ptrdiff_t)img * p->c + o / mg) * in_plane;
      correlate(yo, xo, w + (ptrdiff_t)o * taps, &g, 0, b != NULL ? b[o] : 0.0f, scratch);
      nn_act_forward(yo, yo, out_plane, p->act, p->act_alpha, p->act_beta);
    }
  }
}

// sum_{i<rows, t<n} d[i*ds + t] * x[i*xs + t*sw]: one tap of dw over a
// rectangle, in LANES partial sums at stride 1.
static float dot_rect(const float *d, ptrdiff_t ds, const float *x, ptrdiff_t xs, int rows,
                      int n, int sw)
{
  float part[LANES];
  for (int l = 0; l < LANES; l++)
    part[l] = 0.0f;
  float s = 0.0f;
  for (int i = 0; i < rows; i++) {
    const float *dr = d + i * ds, *xr = x + i * xs;
    int t = 0;
    if (sw == 1)
      for (; t + LANES <= n; t += LANES)
        for (int l = 0; l < LANES; l++)
          part[l] += dr[t + l] * xr[t + l];
    for (; t < n; t++)
      s += dr[t] * xr[(ptrdiff_t)t * sw];
  }
  for (int l = 0; l < LANES; l++)
    s += part[l];
  return s;
}

// The nine taps of a 3x3 dw over a rectangle where they all read inside x:
//   s[u*3 + v] += sum_{i<rows, t<n} d[i*ds + t] * x[i*xs + u*xu + t*sw + v*dw]
// at stride 1, or 2 with dilation 1, in LANES partial sums per tap that
// stay in registers across the rectangle, sharing each load of d. Tap k =
// u*3 + v reads p[k][t]: at stride 1 the x rows shifted by v*dw; at
// stride 2 each x row is first split into even and odd columns (ev, od),
// so that x[2t] = ev[t], x[2t + 1] = od[t] and x[2t + 2] = ev[t + 1] all
// read contiguously. A row whose length is not a multiple of LANES ends
// with the block ending at its last column, the lanes done already
// masked to 0 * 0 (selected, not multiplied, so that no infinity in x
// turns into a NaN).
static void weight_grad_3x3(float *s, const float *d, ptrdiff_t ds, const float *x,
                            ptrdiff_t xs, ptrdiff_t xu, int rows, int n, int sw, int dw)
{
  float part[9][LANES], rest[9];
  for (int k = 0; k < 9; k++) {
    rest[k] = 0.0f;
    for (int l = 0; l < LANES; l++)
      part[k][l] = 0.0f;
  }
  int chunk = sw == 1 ? n : CHUNK;
  for (int j0 = 0; j0 < n; j0 += chunk) {
    int len = min_int(chunk, n - j0);
    for (int i = 0; i < rows; i++) {
      const float *dr = d + i * ds + j0;
      const float *p[9];
      float ev[3][CHUNK + 1], od[3][CHUNK];
      for (int u = 0; u < 3; u++) {
        const float *xr = x + i * xs + u * xu + (ptrdiff_t)j0 * sw;
        if (sw == 1) {
          p[3 * u] = xr;
          p[3 * u + 1] = xr + dw;
          p[3 * u + 2] = xr + 2 * dw;
          continue;
        }
        for (int t = 0; t < len; t++) {
          ev[u][t] = xr[2 * t];
          od[u][t] = xr[2 * t + 1];
        }
        ev[u][len] = xr[2 * len];
        p[3 * u] = ev[u];
        p[3 * u + 1] = od[u];
        p[3 * u + 2] = ev[u] + 1;
      }
      int t = 0;
      for (; t + LANES <= len; t += LANES)
        for (int l = 0; l < LANES; l++) {
          float dd = dr[t + l];
          for (int k = 0; k < 9; k++)
            part[k][l] += dd * p[k][t + l];
        }
      if (t < len && len >= LANES) {
        int last = len - LANES, done = t - last;
        for (int l = 0; l < LANES; l++) {
          float dd = dr[last + l];
          dd = l >= done ? dd : 0.0f;
          for (int k = 0; k < 9; k++) {
            float xv = p[k][last + l];
            part[k][l] += dd * (l >= done ? xv : 0.0f);
          }
        }
        t = len;
      }
      for (; t < len; t++)
        for (int k = 0; k < 9; k++)
          rest[k] += dr[t] * p[k][t];
    }
  }
  for (int k = 0; k < 9; k++) {
    float sum = rest[k];
    for (int l = 0; l < LANES; l++)
      sum += part[k][l];
    s[k] += sum;
  }
}

// One column of dY for the nine taps of a 3x3 dw, over rows [0, rows):
//   s[u*3 + v] += sum_i d[i*ds] * x[i*xs + u*xu + c0 + v*dw]
// where column c0 + v*dw lies in [0, w), else += sum_i d[i*ds] * 0 (the
// padding), as edge_column does: the edge columns next to
// weight_grad_3x3's rectangle, nine independent sums down the rows.
static void edge_grad_3x3(float *s, const float *d, ptrdiff_t ds, const float *x,
                          ptrdiff_t xs, ptrdiff_t xu, int rows, int c0, int dw, int w)
{
  // Kernel column v reads col[v][i*step[v] + u*up[v]].
  const float zero = 0.0f, *col[3];
  ptrdiff_t step[3], up[3];
  for (int v = 0; v < 3; v++) {
    int c = c0 + v * dw, in = c >= 0 && c < w;
    col[v] = in ? x + c : &zero;
    step[v] = in ? xs : 0;
    up[v] = in ? xu : 0;
  }
  float a[9];
  for (int k = 0; k < 9; k++)
    a[k] = 0.0f;
  for (int i = 0; i < rows; i++) {
    float dd = d[i * ds];
    for (int u = 0; u < 3; u++)
      for (int v = 0; v < 3; v++)
        a[3 * u + v] += dd * col[v][i * step[v] + u * up[v]];
  }
  for (int k = 0; k < 9; k++)
    s[k] += a[k];
}

// dk[u*kw + v] += sum_{i,j} dy(i, j) * x(i*sh + u*dh - pt, j*sw + v*dw - pl)
// over the (i, j) whose x position lies inside x: for tap (u, v) the rows
// [ra, rb) and columns [ca, cb), one dot_rect each. A 3x3 kernel at
// stride 1, or 2 with dilation 1, first does the rows [ia, ib) that are
// inside for all nine taps together: their interior columns [ja, jb) with
// weight_grad_3x3, each other column with edge_grad_3x3. Each tap then
// has only its rows outside [ia, ib) left.
// dk: (kh, kw)  dy: (oh, ow)  x: (h, w)
static void weight_grad_plane(float *dk, const float *dy, const float *x, const plane_geom *g)
{
  ptrdiff_t xs = (ptrdiff_t)g->sh * g->w;
  int ia = g->oh, ib = g->oh;
  if (g->kh == 3 && g->kw == 3 && (g->sw == 1 || (g->sw == 2 && g->dw == 1))) {
    ia = min_int(first_at_least(0, -g->pt, g->sh), g->oh);
    ib = max_int(ia, min_int(first_at_least(g->h, 2 * g->dh - g->pt, g->sh), g->oh));
    int ja = min_int(first_at_least(0, -g->pl, g->sw), g->ow);
    int jb = max_int(ja, min_int(first_at_least(g->w, 2 * g->dw - g->pl, g->sw), g->ow));
    const float *d0 = dy + (ptrdiff_t)ia * g->ow;
    // x0: input row of kernel row 0 for output row ia, column 0.
    const float *x0 = x + (ptrdiff_t)(ia * g->sh - g->pt) * g->w;
    ptrdiff_t xu = (ptrdiff_t)g->dh * g->w;
    if (ib > ia && jb > ja)
      weight_grad_3x3(dk, d0 + ja, g->ow, x0 + ja * g->sw - g->pl, xs, xu, ib - ia, jb - ja,
                      g->sw, g->dw);
    for (int j = 0; ib > ia && j < ja; j++)
      edge_grad_3x3(dk, d0 + j, g->ow, x0, xs, xu, ib - ia, j * g->sw - g->pl, g->dw, g->w);
    for (int j = jb; ib > ia && j < g->ow; j++)
      edge_grad_3x3(dk, d0 + j, g->ow, x0, xs, xu, ib - ia, j * g->sw - g->pl, g->dw, g->w);
  }
  for (int u = 0; u < g->kh; u++) {
    int row_off = u * g->dh - g->pt;
    int ra, rb;
    index_range(&ra, &rb, row_off, g->sh, 0, g->h, g->oh);
    for (int v = 0; v < g->kw; v++) {
      int col_off = v * g->dw - g->pl;
      int ca, cb;
      index_range(&ca, &cb, col_off, g->sw, 0, g->w, g->ow);
      // Rows [ra, rb) but not [ia, ib): above and below them. Output
      // (i, j) reads x at offset i*xs + xo + j*sw.
      ptrdiff_t xo = (ptrdiff_t)row_off * g->w + col_off;
      int above = min_int(rb, ia), below = max_int(ra, ib);
      float sum = 0.0f;
      if (above > ra)
        sum += dot_rect(dy + (ptrdiff_t)ra * g->ow + ca, g->ow, x + ra * xs + xo + ca * g->sw,
                        xs, above - ra, cb - ca, g->sw);
      if (rb > below)
        sum += dot_rect(dy + (ptrdiff_t)below * g->ow + ca, g->ow,
                        x + below * xs + xo + ca * g->sw, xs, rb - below, cb - ca, g->sw);
      dk[u * g->kw + v] += sum;
    }
  }
}

// weight_grad_plane for a small plane: x is copied with its padding
// (pad_plane) and every tap reads all of dY. Returns 0, doing nothing,
// when the plane is too big.
// pad: (SMALL)
static int weight_grad_small(float *dk, const float *dy, const float *x, const plane_geom *g,
                             float *pad)
{
  int hp, wp;
  if (!pad_plane(pad, x, g, &hp, &wp))
    return 0;
  ptrdiff_t ps = (ptrdiff_t)g->sh * wp;
  if (g->kh == 3 && g->kw == 3 && (g->sw == 1 || (g->sw == 2 && g->dw == 1))) {
    weight_grad_3x3(dk, dy, g->ow, pad, ps, (ptrdiff_t)g->dh * wp, g->oh, g->ow, g->sw,
                    g->dw);
    return 1;
  }
  for (int u = 0; u < g->kh; u++)
    for (int v = 0; v < g->kw; v++)
      dk[u * g->kw + v] += dot_rect(dy, g->ow, pad + u * g->dh * wp + v * g->dw, ps, g->oh,
                                    g->ow, g->sw);
  return 1;
}

// dx += dY correlated back through k at any stride (term 3 below), the
// plain way: for each tap (u, v) and each dY row, a strided axpy of the
// dY row into the dx row the tap reaches, over the columns that land
// inside dx. Only strides other than 1, and other than 2 for a 3x3
// kernel, come here.
// dx: (h, w)  dy: (oh, ow)  k: (kh, kw)
static void input_grad_strided(float *restrict dx, const float *restrict dy, const float *k,
                               const plane_geom *g)
{
  for (int u = 0; u < g->kh; u++) {
    int row_off = u * g->dh - g->pt;
    int ia, ib;
    index_range(&ia, &ib, row_off, g->sh, 0, g->h, g->oh);
    for (int v = 0; v < g->kw; v++) {
      int col_off = v * g->dw - g->pl;
      int ja, jb;
      index_range(&ja, &jb, col_off, g->sw, 0, g->w, g->ow);
      const float kk = k[u * g->kw + v];
      for (int i = ia; i < ib; i++) {
        const float *dyr = dy + (ptrdiff_t)i * g->ow + ja;
        float *dxr = dx + (ptrdiff_t)(i * g->sh + row_off) * g->w + ja * g->sw + col_off;
        for (int t = 0; t < jb - ja; t++)
          dxr[(ptrdiff_t)t * g->sw] += kk * dyr[t];
      }
    }
  }
}

// One kernel row's share of a dx row for a 3x3 kernel at stride 2,
// dilation 1: dx columns 2q + pe get taps v = 0 and 2 from dY columns
// je + q and je - 1 + q, columns 2q + 1 - pe get tap v = 1 from dY column
// jo + q (which phase gets two taps depends on the padding's parity), for
// q in [qa, qb), where all of them lie inside dY and dx. Both phases are
// added in one loop, which vectorises as interleaved loads and stores.
// k: the kernel row (3)
static void pair_3x3_s2(float *restrict dxr, const float *restrict d, const float *k, int pe,
                        int je, int jo, int qa, int qb)
{
  const float k0 = k[0], k1 = k[1], k2 = k[2];
  if (pe == 0)
    for (int q = qa; q < qb; q++) {
      dxr[2 * q] += k0 * d[je + q] + k2 * d[je - 1 + q];
      dxr[2 * q + 1] += k1 * d[jo + q];
    }
  else
    for (int q = qa; q < qb; q++) {
      dxr[2 * q] += k1 * d[jo + q];
      dxr[2 * q + 1] += k0 * d[je + q] + k2 * d[je - 1 + q];
    }
}

// One edge column of pair_3x3_s2, bounds tested: the taps v with a = c +
// pl - v even, from dY column a / 2 when inside dY.
static float edge_3x3_s2(const float *d, const float *k, int a, int ow)
{
  float s = 0.0f;
  for (int v = a % 2; v < 3; v += 2)
    if (a - v >= 0 && (a - v) / 2 < ow)
      s += k[v] * d[(a - v) / 2];
  return s;
}

// dx += dY correlated back through a 3x3 kernel at stride 2, dilation 1
// (MobileNet's downsampling layers): dx row r gets kernel rows u with
// r + pt - u even, from dY row (r + pt - u) / 2, and within a row the two
// column phases as in pair_3x3_s2; the few columns near the ends that a
// tap would read outside dY (or write outside dx) go tap by tap.
// dx: (h, w)  dy: (oh, ow)  k: (3, 3)
static void input_grad_3x3_s2(float *restrict dx, const float *restrict dy, const float *k,
                              const plane_geom *g)
{
  // Phase pe (columns 2q + pe) has taps 0 and 2: pe + pl even.
  int pe = g->pl % 2, po = 1 - pe;
  int je = (pe + g->pl) / 2, jo = (po + g->pl - 1) / 2;
  // q such that 2q + pe, 2q + po < w and je - 1 + q, jo + q >= 0 and
  // je + q, jo + q < ow.
  int qa = max_int(max_int(1 - je, -jo), 0);
  int qb = min_int(g->ow - je, g->ow - jo);
  qb = min_int(qb, min_int((g->w - pe + 1) / 2, (g->w - po + 1) / 2));
  qb = max_int(qa, qb);
  for (int r = 0; r < g->h; r++) {
    float *dxr = dx + (ptrdiff_t)r * g->w;
    for (int u = (r + g->pt) % 2; u < 3; u += 2) {
      int i = (r + g->pt - u) / 2;
      if (r + g->pt - u < 0 || i >= g->oh)
        continue;
      const float *d = dy + (ptrdiff_t)i * g->ow;
      const float *ku = k + 3 * u;
      pair_3x3_s2(dxr, d, ku, pe, je, jo, qa, qb);
      for (int c = 0; c < min_int(2 * qa, g->w); c++)
        dxr[c] += edge_3x3_s2(d, ku, c + g->pl, g->ow);
      for (int c = min_int(2 * qb, g->w); c < g->w; c++)
        dxr[c] += edge_3x3_s2(d, ku, c + g->pl, g->ow);
    }
  }
}

// Backward of nn_depthwise_forward (p->act == NN_ACT_NONE). With X(u, v)
// the input position output (i, j) reads through tap (u, v),
// X = x[img, o/mg, i*sh + u*dh - pt, j*sw + v*dw - pl]:
//   term 1  db[o]       += sum_{img,i,j} dY[img, o, i, j]
//   term 2  dw[o, u, v] += sum_{img,i,j} dY[img, o, i, j] * X(u, v)
//   term 3  dX(u, v)    += sum_{o, u, v} w[o, u, v] * dY[img, o, i, j]
// Positions of X outside x get nothing. At stride 1, term 3 reads
//   dx(r, c) += sum_{u,v} w[o, u, v] * dY(r + pt - u*dh, c + pl - v*dw),
// the forward's correlation with the kernel flipped (u -> kh-1-u,
// v -> kw-1-v) and padding (kh-1)*dh - pt, (kw-1)*dw - pl: correlate.
void nn_depthwise_backward(float *dx, float *dw, float *db, const float *dy,
                           const float *x, const float *w, const nn_conv_params *p)
{
  int mg = p->m / p->group;
  int in_plane = p->h * p->w, out_plane = p->oh * p->ow, taps = p->kh * p->kw;
  plane_geom g = forward_geom(p);
  // Term 3 at stride 1: out is dx (h, w), in is dY (oh, ow), kernel flipped.
  plane_geom gt = g;
  gt.oh = p->h;
  gt.ow = p->w;
  gt.h = p->oh;
  gt.w = p->ow;
  gt.pt = (p->kh - 1) * p->dil_h - p->pad_t;
  gt.pl = (p->kw - 1) * p->dil_w - p->pad_l;
  gt.ku = -p->kw;
  gt.kv = -1;
  int unit_stride = p->stride_h == 1 && p->stride_w == 1;
  int three_s2 = p->kh == 3 && p->kw == 3 && p->stride_h == 2 && p->stride_w == 2 &&
                 p->dil_h == 1 && p->dil_w == 1;
  float scratch[2 * SMALL];

  for (int img = 0; img < p->n; img++) {
    for (int o = 0; o < p->m; o++) {
      const float *dyo = dy + ((ptrdiff_t)img * p->m + o) * out_plane;
      ptrdiff_t xo = ((ptrdiff_t)img * p->c + o / mg) * in_plane;
      if (db != NULL)
        db[o] += nn_sum_floats(dyo, out_plane);
      if (dw != NULL && !weight_grad_small(dw + (ptrdiff_t)o * taps, dyo, x + xo, &g, scratch))
        weight_grad_plane(dw + (ptrdiff_t)o * taps, dyo, x + xo, &g);
      if (dx != NULL && unit_stride)
        correlate(dx + xo, dyo, w + (ptrdiff_t)o * taps + taps - 1, &gt, 1, 0.0f, scratch);
      else if (dx != NULL && three_s2)
        input_grad_3x3_s2(dx + xo, dyo, w + (ptrdiff_t)o * taps, &g);
      else if (dx != NULL)
        input_grad_strided(dx + xo, dyo, w + (ptrdiff_t)o * taps, &g);
    }
  }
}
