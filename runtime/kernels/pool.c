/*
 * pool.c - MaxPool and AveragePool over (n, c, h, w) (1-D as h = 1), and
 * their global forms.
 *
 * Semantics. Max only looks at the window positions inside x, so padding
 * never wins. Average divides by the number of those positions, or, with
 * count_include_pad, by the number of positions inside the explicit
 * padding; the extra cells that ceil_mode adds beyond pad_b/pad_r are never
 * counted (as in ONNX Runtime and PyTorch). Max propagates NaN. A window
 * with no position inside x (possible only with pads as large as the
 * kernel) gives -inf for max, and for average 0 with count_include_pad or
 * NaN (0/0) without. The backward kernels recompute the same windows (and,
 * for max, the argmax from x), so gradients go exactly where the forward
 * read.
 *
 * One rule decides max and its argmax everywhere: taps are read in raster
 * order and a tap replaces the best so far when it is greater or NaN
 * (takes()). The result is the last NaN of the window, else its first
 * maximum (so a window of -inf gives its first position).
 *
 * Key idea: each plane splits into an interior, the output rows i and
 * columns j whose whole window lies inside x, and a border around it. Only
 * the border, a row or column or two for the usual pads and ceil_mode,
 * works out for each cell which of its taps lie inside x. The interior's
 * windows x + k*s (s the stride) are computed by loops over k with no
 * bounds work and no branch, which gcc and clang vectorise when the
 * window's shape is a constant (2x2 and 3x3, stride 1 or 2, no dilation;
 * other windows take the same loops with the shape at run time). Where the
 * rows of windows tile the planes exactly, as in LeNet, all planes are one
 * tall plane (fold_planes), so there is no work per plane. Max 3x3
 * stride 2 (resnet's stem) goes by rows instead: each input row's maxima
 * over the windows' columns once (consecutive windows share a row), then
 * the maxima of each window's rows; a row is a run of consecutive taps,
 * so the rule below gives the same bits.
 *
 * The rows are short (LeNet's are 14 and 5 windows wide), so what a loop
 * leaves to its scalar remainder matters. The forward's scalar code has no
 * branch (max_step()), and short rows get loops of their own, for which
 * gcc picks vectors no wider than the row. The argmax of the backward
 * branches in scalar code, so it is computed in runs of whole vectors of
 * windows, the last one overlapping the one before (an argmax can be
 * computed twice), and a run joins short rows: with equal strides, window
 * (i + 1, j) comes w windows after (i, j), so the interiors of consecutive
 * rows are one run if it also computes the w - n windows between them
 * (they read inside x; their offsets are dropped). The gradients are then
 * added at the offsets, one window after the other.
 *
 * Backward sums follow the forward's order: a dx position receives its
 * contributions in the raster order of the windows that read it, so the
 * fast paths give the same bits as the one-cell-at-a-time definition.
 *
 * Deliberately not here: output-shape arithmetic, ceil_mode and auto_pad
 * (the compiler folds them into oh/ow and the pads), MaxPool's optional
 * Indices output, scratch memory beyond 3 KB of stack, and intrinsics
 * (plain C99 loops; the Cortex-M build compiles the same code), except
 * the two row loops of max 3x3 stride 2 in AVX-512 builds
 * (pool_avx512.c: gcc left up to 15 windows a row to scalar code).
 */
#include "nn.h"
#include "pool_avx512.h"
#include "ranges.h"

#include <math.h>

// NN_POOL_VEC: floats in the widest vector the compiler may use, so that
// loops over whole multiples of it leave nothing to a scalar remainder:
// 16 with AVX-512, 8 with AVX, 4 with SSE2 or NEON, 1 on a scalar FPU
// (Cortex-M). -DNN_POOL_VEC=n overrides it.
#ifndef NN_POOL_VEC
#if defined(__AVX512F__)
#define NN_POOL_VEC 16
#elif defined(__AVX__)
#define NN_POOL_VEC 8
#elif defined(__SSE2__) || defined(__ARM_NEON)
#define NN_POOL_VEC 4
#else
#define NN_POOL_VEC 1
#endif
#endif

// VEC: as NN_POOL_VEC. CHUNK: argmax offsets (or average gradients) kept
// on the stack at a time. SHORT: rows of fewer windows are joined into
// longer runs by the backward (with vectors: the loops, not the windows,
// cost most in so short a row).
enum { VEC = NN_POOL_VEC, CHUNK = 256, SHORT = 16 };


// Whether tap value v replaces best, the max so far: v > best or v is NaN.
// gcc vectorises selects on this form; in scalar code they branch.
static inline int takes(float v, float best) { return v > best || v != v; }

// takes(v, best) ? v : best without a branch even in scalar code: a max
// instruction (which keeps best when either is NaN), then a select on
// !(v >= -inf), the NaN test as an ordered comparison (gcc compiles a
// scalar select on an unordered one, isnan() or v != v, into branches).
static inline float max_step(float best, float v)
{
  float larger = v > best ? v : best;
  return v >= -INFINITY ? larger : v;
}

// ------------------------------------------------------------ geometry

// A border window along one axis: it starts at index start; its taps
// [lo, hi) lie inside x, and padded of them inside x and its padding.
typedef struct {
  int start, lo, hi, padded;
} window_axis;

static window_axis axis_taps(int o, int stride, int pad, int pad_end, int dil, int size, int k)
{
  window_axis a;
  int plo, phi;
  a.start = o * stride - pad;
  index_range(&a.lo, &a.hi, a.start, dil, 0, size, k);
  index_range(&plo, &phi, a.start, dil, -pad, size + pad_end, k);
  a.padded = phi - plo;
  return a;
}

static window_axis row_taps(const nn_pool_params *p, int i)
{
  return axis_taps(i, p->stride_h, p->pad_t, p->pad_b, p->dil_h, p->h, p->kh);
}

static window_axis col_taps(const nn_pool_params *p, int j)
{
  return axis_taps(j, p->stride_w, p->pad_l, p->pad_r, p->dil_w, p->w, p->kw);
}

// What Average divides window (r, c) by: its taps inside x, or with
// count_include_pad those inside x and its padding.
static int window_count(const nn_pool_params *p, window_axis r, window_axis c)
{
  return p->count_include_pad ? r.padded * c.padded : (r.hi - r.lo) * (c.hi - c.lo);
}

// Along one axis: the outputs [*lo, *hi), lo <= hi <= out, whose window
// o*stride - pad + [0, (k - 1)*dil] lies inside [0, size).
static void interior_range(int *lo, int *hi, int out, int size, int k,
                           int stride, int dil, int pad)
{
  int first = pad / stride + (pad % stride != 0);
  int last_start = size - 1 - (k - 1) * dil + pad; // largest o*stride
  int end = last_start < 0 ? 0 : last_start / stride + 1;
  *lo = min_int(first, out);
  *hi = end < *lo ? *lo : min_int(end, out);
}

// The window shapes with loops of their own; POOL_OTHER takes the shape
// from the parameters.
typedef enum { POOL_OTHER, POOL_2X2_S2, POOL_3X3_S2, POOL_3X3_S1 } pool_shape;

// How every plane is walked: its interior, rows [i0, i1) and columns
// [j0, j1), the shape of the windows, and how many interior rows make one
// argmax run in the backward (see the top of the file), a run having at
// most CHUNK windows.
typedef struct {
  int i0, i1, j0, j1;
  pool_shape shape;
  int rows;
} pool_split;

static pool_split split_of(const nn_pool_params *p)
{
  pool_split s;
  interior_range(&s.i0, &s.i1, p->oh, p->h, p->kh, p->stride_h, p->dil_h, p->pad_t);
  interior_range(&s.j0, &s.j1, p->ow, p->w, p->kw, p->stride_w, p->dil_w, p->pad_l);
  s.shape = POOL_OTHER;
  if (p->dil_h == 1 && p->dil_w == 1 && p->kh == p->kw &&
      p->stride_h == p->stride_w) {
    if (p->kh == 2 && p->stride_w == 2)
      s.shape = POOL_2X2_S2;
    else if (p->kh == 3 && p->stride_w == 2)
      s.shape = POOL_3X3_S2;
    else if (p->kh == 3 && p->stride_w == 1)
      s.shape = POOL_3X3_S1;
  }
  int n = s.j1 - s.j0;
  s.rows = 1;
  if (VEC > 1 && p->stride_h == p->stride_w && n > 0 && n < SHORT &&
      p->w + n <= CHUNK)
    s.rows = (CHUNK - n) / p->w + 1;
  return s;
}

// Offset in a plane of the top-left tap of window (i, j), which may lie in
// the padding.
static ptrdiff_t corner(const nn_pool_params *p, int i, int j)
{
  return (ptrdiff_t)(i * p->stride_h - p->pad_t) * p->w + (j * p->stride_w - p->pad_l);
}

// When the rows of windows tile each plane exactly, every window inside x
// (no padding rows, h = oh*stride_h, windows no taller than the stride, as
// in LeNet's 2x2 stride 2), all planes are one tall plane of n*c*h rows:
// the same windows, runs that cross planes, and no work per plane.
static nn_pool_params fold_planes(const nn_pool_params *p)
{
  nn_pool_params q = *p;
  int i0, i1;
  interior_range(&i0, &i1, p->oh, p->h, p->kh, p->stride_h, p->dil_h, p->pad_t);
  if (i0 == 0 && i1 == p->oh && p->h == p->oh * p->stride_h) {
    q.h = p->h * p->n * p->c;
    q.oh = p->oh * p->n * p->c;
    q.n = 1;
    q.c = 1;
  }
  return q;
}

// ------------------------------------------------------------- forward

// Border cells (i, j), j in [ja, jb), of one plane: only the taps inside x.
// Average divides by their count, or by the count inside the padding.
static void border_cells(float *restrict yr, const float *restrict xp,
                         const nn_pool_params *p, int is_max, int i, int ja,
                         int jb)
{
  if (ja >= jb)
    return;
  window_axis r = row_taps(p, i);
  for (int j = ja; j < jb; j++) {
    window_axis c = col_taps(p, j);
    float best = -INFINITY, sum = 0.0f;
    for (int u = r.lo; u < r.hi; u++) {
      const float *xr = xp + (ptrdiff_t)(r.start + u * p->dil_h) * p->w + c.start;
      for (int v = c.lo; v < c.hi; v++) {
        best = max_step(best, xr[v * p->dil_w]);
        sum += xr[v * p->dil_w];
      }
    }
    yr[j] = is_max ? best : sum / (float)window_count(p, r, c);
  }
}

// Interior windows j < n, each kh x kw with its top-left tap at x + j*s,
// rows w apart, taps dh rows and dw columns apart: y[j] = their max.
static inline void max_windows(float *restrict y, const float *restrict x,
                               int n, int w, int kh, int kw, int s, int dh,
                               int dw)
{
  for (int j = 0; j < n; j++) {
    const float *xj = x + (ptrdiff_t)j * s;
    float best = xj[0];
    for (int v = 1; v < kw; v++)
      best = max_step(best, xj[v * dw]);
    for (int u = 1; u < kh; u++) {
      const float *xu = xj + (ptrdiff_t)u * dh * w;
      for (int v = 0; v < kw; v++)
        best = max_step(best, xu[v * dw]);
    }
    y[j] = best;
  }
}

// 2x2 stride 2: each row's two taps first, then the rows (the rule of
// takes() is associative over consecutive taps), a shorter chain.
static inline void max_windows_2x2_s2(float *restrict y, const float *restrict x,
                                      int n, int w)
{
  const float *x1 = x + w;
  for (int j = 0; j < n; j++)
    y[j] = max_step(max_step(x[2 * j], x[2 * j + 1]),
                    max_step(x1[2 * j], x1[2 * j + 1]));
}

// As max_windows: y[j] = their mean. Every tap is inside x (and inside
// the padding), so both divisors are kh*kw.
static inline void avg_windows(float *restrict y, const float *restrict x,
                               int n, int w, int kh, int kw, int s, int dh,
                               int dw)
{
  float count = (float)(kh * kw);
  for (int j = 0; j < n; j++) {
    const float *xj = x + (ptrdiff_t)j * s;
    float sum = 0.0f;
    for (int u = 0; u < kh; u++)
      for (int v = 0; v < kw; v++)
        sum += xj[(ptrdiff_t)u * dh * w + v * dw];
    y[j] = sum / count;
  }
}

// The n interior windows of a row, each shape with constants of its own.
static inline void interior_windows(float *restrict y, const float *restrict x,
                                    int n, const nn_pool_params *p,
                                    pool_shape shape, int is_max)
{
  int w = p->w;
  switch (shape) {
  case POOL_2X2_S2:
    if (is_max)
      max_windows_2x2_s2(y, x, n, w);
    else
      avg_windows(y, x, n, w, 2, 2, 2, 1, 1);
    break;
  case POOL_3X3_S2:
    if (is_max)
      max_windows(y, x, n, w, 3, 3, 2, 1, 1);
    else
      avg_windows(y, x, n, w, 3, 3, 2, 1, 1);
    break;
  case POOL_3X3_S1:
    if (is_max)
      max_windows(y, x, n, w, 3, 3, 1, 1, 1);
    else
      avg_windows(y, x, n, w, 3, 3, 1, 1, 1);
    break;
  case POOL_OTHER:
    if (is_max)
      max_windows(y, x, n, w, p->kh, p->kw, p->stride_w, p->dil_h, p->dil_w);
    else
      avg_windows(y, x, n, w, p->kh, p->kw, p->stride_w, p->dil_h, p->dil_w);
    break;
  }
}

// The n interior cells of a row, x at the top-left tap of the first. With
// vectors, short rows get loops of their own: told that n < 8 or n < 16,
// gcc picks vectors no wider than the row, where a wide loop would leave a
// short row (LeNet's are 14 and 5 wide) to its scalar remainder; told that
// n >= 16, it drops some checks around the loop (which measurably helps
// even with SSE2). The remainder has no branch in the forward, so the
// forward needs no runs (see the top of the file).
static void interior_row(float *restrict y, const float *restrict x, int n,
                         const nn_pool_params *p, pool_shape shape, int is_max)
{
  if (VEC > 1 && n < 8)
    interior_windows(y, x, n, p, shape, is_max);
  else if (VEC > 1 && n < 16)
    interior_windows(y, x, n, p, shape, is_max);
  else
    interior_windows(y, x, n, p, shape, is_max);
}

// h[j], j in [ja, jb): the max of input row xr's taps of window j inside
// x, in order (the border windows); their columns from cols[j - ja], or
// worked out here when cols is NULL.
static void row_max_border(float *restrict h, const float *restrict xr,
                           const nn_pool_params *p, int ja, int jb, const window_axis *cols)
{
  for (int j = ja; j < jb; j++) {
    window_axis c = cols != NULL ? cols[j - ja] : col_taps(p, j);
    float best = -INFINITY;
    for (int v = c.lo; v < c.hi; v++)
      best = max_step(best, xr[c.start + v]);
    h[j] = best;
  }
}

// Max 3x3 stride 2 windows (resnet's stem) of one plane with rows of at
// most CHUNK windows: each input row's maxima over the windows' columns
// first, once per row (consecutive windows share a row), then of the
// window's rows inside x. Both steps keep the taps' order (a row is a run
// of consecutive taps), so NaNs and signed zeros come out as from
// max_windows; the two loops over contiguous outputs vectorise (with
// AVX-512, pool_avx512.c's).
static void max_plane_3x3_s2(float *restrict yp, const float *restrict xp,
                             const nn_pool_params *p, pool_split sp)
{
  float h[3][CHUNK]; // the maxima of input row iy in h[iy % 3] (3 KB)
  int done = -1;     // last input row with its maxima in h
  // The columns of the border windows, the same in every row: worked out
  // once where there are few of them.
  enum { EDGE = 4 };
  window_axis left[EDGE], right[EDGE];
  int edges = sp.j0 <= EDGE && p->ow - sp.j1 <= EDGE;
  for (int j = 0; edges && j < sp.j0; j++)
    left[j] = col_taps(p, j);
  for (int j = sp.j1; edges && j < p->ow; j++)
    right[j - sp.j1] = col_taps(p, j);
  for (int i = 0; i < p->oh; i++) {
    window_axis r = row_taps(p, i);
    int first = r.start + r.lo, rows = r.hi - r.lo;
    for (int iy = done + 1 > first ? done + 1 : first; iy < first + rows; iy++) {
      const float *xr = xp + (ptrdiff_t)iy * p->w, *x0 = xr + 2 * sp.j0 - p->pad_l;
      float *hr = h[iy % 3];
#if NN_POOL_AVX512
      nn_pool_max3_s2_avx512(hr + sp.j0, x0, sp.j1 - sp.j0);
#else
      for (int j = sp.j0; j < sp.j1; j++)
        hr[j] = max_step(max_step(x0[2 * (j - sp.j0)], x0[2 * (j - sp.j0) + 1]),
                         x0[2 * (j - sp.j0) + 2]);
#endif
      row_max_border(hr, xr, p, 0, sp.j0, edges ? left : NULL);
      row_max_border(hr, xr, p, sp.j1, p->ow, edges ? right : NULL);
      done = iy;
    }
    float *yr = yp + (ptrdiff_t)i * p->ow;
    const float *h0 = h[first % 3], *h1 = h[(first + 1) % 3], *h2 = h[(first + 2) % 3];
#if NN_POOL_AVX512
    if (rows > 0) {
      nn_pool_max_rows_avx512(yr, h0, rows > 1 ? h1 : NULL, rows > 2 ? h2 : NULL, p->ow);
      continue;
    }
#endif
    if (rows == 3)
      for (int j = 0; j < p->ow; j++)
        yr[j] = max_step(max_step(h0[j], h1[j]), h2[j]);
    else if (rows == 2)
      for (int j = 0; j < p->ow; j++)
        yr[j] = max_step(h0[j], h1[j]);
    else
      for (int j = 0; j < p->ow; j++)
        yr[j] = rows == 1 ? h0[j] : -INFINITY;
  }
}

static void pool_forward(float *restrict y, const float *restrict x,
                         const nn_pool_params *params, int is_max)
{
  nn_pool_params folded = fold_planes(params);
  const nn_pool_params *p = &folded;
  pool_split sp = split_of(p);
  int ow = p->ow;
  for (int pl = 0; pl < p->n * p->c; pl++) {
    const float *xp = x + (ptrdiff_t)pl * p->h * p->w;
    float *yp = y + (ptrdiff_t)pl * p->oh * ow;
    if (is_max && sp.shape == POOL_3X3_S2 && ow <= CHUNK) {
      max_plane_3x3_s2(yp, xp, p, sp);
      continue;
    }
    for (int i = 0; i < p->oh; i++) {
      float *yr = yp + (ptrdiff_t)i * ow;
      if (i < sp.i0 || i >= sp.i1) {
        border_cells(yr, xp, p, is_max, i, 0, ow);
        continue;
      }
      border_cells(yr, xp, p, is_max, i, 0, sp.j0);
      interior_row(yr + sp.j0, xp + corner(p, i, sp.j0), sp.j1 - sp.j0, p,
                   sp.shape, is_max);
      border_cells(yr, xp, p, is_max, i, sp.j1, ow);
    }
  }
}

void nn_maxpool_forward(float *restrict y, const float *restrict x,
                        const nn_pool_params *p)
{
  pool_forward(y, x, p, 1);
}

void nn_avgpool_forward(float *restrict y, const float *restrict x,
                        const nn_pool_params *p)
{
  pool_forward(y, x, p, 0);
}

void nn_global_avgpool_forward(float *restrict y, const float *restrict x,
                               int count, int size)
{
  for (int i = 0; i < count; i++) {
    const float *xi = x + (ptrdiff_t)i * size;
    float sum = 0.0f;
    for (int t = 0; t < size; t++)
      sum += xi[t];
    y[i] = sum / (float)size;
  }
}

void nn_global_maxpool_forward(float *restrict y, const float *restrict x,
                               int count, int size)
{
  for (int i = 0; i < count; i++) {
    const float *xi = x + (ptrdiff_t)i * size;
    float best = -INFINITY;
    for (int t = 0; t < size; t++)
      best = max_step(best, xi[t]);
    y[i] = best;
  }
}

// ------------------------------------------------------------ backward
//
// dx, dy and x are distinct tensors (restrict below), and a plane has fewer
// than 2^31 elements (as everywhere in the runtime), so offsets within one
// fit in an int.

// Backward of MaxPool: dL/dx[a] += dL/dy[i, j] where a is the window's
// argmax, recomputed from x with the forward's rule (takes()), which is
// PyTorch's: the first maximum on ties, the last NaN, and the first
// in-bounds position when every value is -inf. A window with no position
// inside x passes nothing.

static void max_grad_border(float *restrict dxp, const float *restrict dyr,
                            const float *restrict xp, const nn_pool_params *p,
                            int i, int ja, int jb)
{
  if (ja >= jb)
    return;
  window_axis r = row_taps(p, i);
  for (int j = ja; j < jb; j++) {
    window_axis c = col_taps(p, j);
    if (r.lo >= r.hi || c.lo >= c.hi)
      continue;
    ptrdiff_t arg = (ptrdiff_t)(r.start + r.lo * p->dil_h) * p->w + c.start + c.lo * p->dil_w;
    float best = -INFINITY;
    for (int u = r.lo; u < r.hi; u++) {
      ptrdiff_t row = (ptrdiff_t)(r.start + u * p->dil_h) * p->w;
      for (int v = c.lo; v < c.hi; v++) {
        float xv = xp[row + c.start + v * p->dil_w];
        if (takes(xv, best)) {
          best = xv;
          arg = row + c.start + v * p->dil_w;
        }
      }
    }
    dxp[arg] += dyr[j];
  }
}

// off[j] = offset from x of the argmax of window j, for j in [ja, jb)
// (layout as in max_windows).
static inline void argmax_windows(int *restrict off, const float *restrict x,
                                  int ja, int jb, int w, int kh, int kw, int s,
                                  int dh, int dw)
{
  for (int j = ja; j < jb; j++) {
    const float *xj = x + (ptrdiff_t)j * s;
    float best = xj[0];
    int arg = 0;
    for (int v = 1; v < kw; v++) {
      int take = takes(xj[v * dw], best);
      best = take ? xj[v * dw] : best;
      arg = take ? v * dw : arg;
    }
    for (int u = 1; u < kh; u++)
      for (int v = 0; v < kw; v++) {
        int at = u * dh * w + v * dw;
        int take = takes(xj[at], best);
        best = take ? xj[at] : best;
        arg = take ? at : arg;
      }
    off[j] = j * s + arg;
  }
}

static void argmax_interior(int *restrict off, const float *restrict x, int ja,
                            int jb, const nn_pool_params *p, pool_shape shape)
{
  switch (shape) {
  case POOL_2X2_S2:
    argmax_windows(off, x, ja, jb, p->w, 2, 2, 2, 1, 1);
    break;
  case POOL_3X3_S2:
    argmax_windows(off, x, ja, jb, p->w, 3, 3, 2, 1, 1);
    break;
  case POOL_3X3_S1:
    argmax_windows(off, x, ja, jb, p->w, 3, 3, 1, 1, 1);
    break;
  case POOL_OTHER:
    argmax_windows(off, x, ja, jb, p->w, p->kh, p->kw, p->stride_w, p->dil_h,
                   p->dil_w);
    break;
  }
}

// The argmax offsets of a run of n <= CHUNK windows x + k*s: a whole
// number of VEC windows, then the last VEC again, overlapping (an argmax
// can be computed twice), so that no window is left to a loop's scalar
// remainder, which branches. At 3x3 stride 2 a window reads one column
// past the next one's first, so gcc gives the last window of every loop
// to the scalar code (a vector load there could read past x); loops of
// a whole number of VEC windows plus one keep that to one window.
static void argmax_run(int *restrict off, const float *restrict x, int n,
                       const nn_pool_params *p, pool_shape shape)
{
  int extra = shape == POOL_3X3_S2;
  if (n < VEC + extra) {
    argmax_interior(off, x, 0, n, p, shape);
    return;
  }
  int whole = n - (n - extra) % VEC;
  argmax_interior(off, x, 0, whole, p, shape);
  if (whole < n)
    argmax_interior(off, x, n - VEC - extra, n, p, shape);
}

// dx[o[k]] += g[k], k < n, in order.
static void add_at(float *restrict dx, const int *restrict o,
                   const float *restrict g, int n)
{
  for (int k = 0; k < n; k++)
    dx[o[k]] += g[k];
}

// One plane: rows in order, each its left border, interior and right
// border, so that overlapping windows add in the definition's order. The
// interior's argmax offsets come in runs, of several narrow rows or of a
// row's pieces of up to CHUNK windows; then each gradient is added at its
// offset, window after window.
static void max_grad_plane(float *restrict dxp, const float *restrict dyp,
                           const float *restrict xp, const nn_pool_params *p,
                           pool_split sp)
{
  int off[CHUNK];
  int n = sp.j1 - sp.j0, w = p->w, ow = p->ow;
  int i = 0;
  while (i < p->oh) {
    const float *dyr = dyp + (ptrdiff_t)i * ow;
    if (i < sp.i0 || i >= sp.i1 || n == 0) {
      max_grad_border(dxp, dyr, xp, p, i, 0, ow);
      i++;
      continue;
    }
    int ib = min_int(i + sp.rows, sp.i1);
    ptrdiff_t c = corner(p, i, sp.j0);
    if (sp.rows > 1)
      argmax_run(off, xp + c, (ib - 1 - i) * w + n, p, sp.shape);
    for (int r = i; r < ib; r++, dyr += ow) {
      if (sp.j0 > 0)
        max_grad_border(dxp, dyr, xp, p, r, 0, sp.j0);
      if (sp.rows > 1) {
        add_at(dxp + c, off + (r - i) * w, dyr + sp.j0, n);
      } else {
        for (int j = sp.j0; j < sp.j1; j += CHUNK) {
          int m = min_int(sp.j1 - j, CHUNK);
          ptrdiff_t cj = corner(p, r, j);
          argmax_run(off, xp + cj, m, p, sp.shape);
          add_at(dxp + cj, off, dyr + j, m);
        }
      }
      if (sp.j1 < ow)
        max_grad_border(dxp, dyr, xp, p, r, sp.j1, ow);
    }
    i = ib;
  }
}

void nn_maxpool_backward(float *dx, const float *dy, const float *x,
                         const nn_pool_params *params)
{
  if (dx == NULL)
    return;
  nn_pool_params folded = fold_planes(params);
  const nn_pool_params *p = &folded;
  pool_split sp = split_of(p);
  for (int pl = 0; pl < p->n * p->c; pl++) {
    const float *xp = x + (ptrdiff_t)pl * p->h * p->w;
    float *dxp = dx + (ptrdiff_t)pl * p->h * p->w;
    const float *dyp = dy + (ptrdiff_t)pl * p->oh * p->ow;
    max_grad_plane(dxp, dyp, xp, p, sp);
  }
}

// Backward of AveragePool: y[i, j] = (1/count) * sum of the in-bounds x in
// its window, so dL/dx[pos] += dL/dy[i, j] / count for each of those
// positions, with the forward's count (padding positions have no x).

static void avg_grad_border(float *restrict dxp, const float *restrict dyr,
                            const nn_pool_params *p, int i, int ja, int jb)
{
  if (ja >= jb)
    return;
  window_axis r = row_taps(p, i);
  for (int j = ja; j < jb; j++) {
    window_axis c = col_taps(p, j);
    if (r.lo >= r.hi || c.lo >= c.hi)
      continue;
    float g = dyr[j] / (float)window_count(p, r, c);
    for (int u = r.lo; u < r.hi; u++) {
      float *dxr = dxp + (ptrdiff_t)(r.start + u * p->dil_h) * p->w;
      for (int v = c.lo; v < c.hi; v++)
        dxr[c.start + v * p->dil_w] += g;
    }
  }
}

// Interior cells of one row, one window after the other (the definition's
// order), window j at dx + j*s (layout as in max_windows). Where windows
// do not overlap (2x2 stride 2) this is a vector loop; its scalar
// remainder has no branch.
static inline void avg_grad_windows(float *restrict dx, const float *restrict dy,
                                    int n, int w, int kh, int kw, int s, int dh,
                                    int dw)
{
  float count = (float)(kh * kw);
  for (int j = 0; j < n; j++) {
    float g = dy[j] / count;
    float *dxj = dx + (ptrdiff_t)j * s;
    for (int u = 0; u < kh; u++)
      for (int v = 0; v < kw; v++)
        dxj[(ptrdiff_t)u * dh * w + v * dw] += g;
  }
}

// 3x3 stride 1: one pass over the row per tap, the right column first, so
// that a dx position still receives its windows in order (a later window
// reaches it through a tap further left).
static void avg_grad_windows_3x3_s1(float *restrict dx, const float *restrict dy,
                                    int n, int w)
{
  float g[CHUNK];
  for (int j0 = 0; j0 < n; j0 += CHUNK) {
    int m = min_int(n - j0, CHUNK);
    for (int j = 0; j < m; j++)
      g[j] = dy[j0 + j] / 9.0f;
    for (int u = 0; u < 3; u++) {
      float *dxr = dx + (ptrdiff_t)u * w + j0;
      for (int v = 2; v >= 0; v--)
        for (int j = 0; j < m; j++)
          dxr[j + v] += g[j];
    }
  }
}

static void avg_grad_interior(float *restrict dx, const float *restrict dy, int n,
                              const nn_pool_params *p, pool_shape shape)
{
  switch (shape) {
  case POOL_2X2_S2:
    avg_grad_windows(dx, dy, n, p->w, 2, 2, 2, 1, 1);
    break;
  case POOL_3X3_S2:
    avg_grad_windows(dx, dy, n, p->w, 3, 3, 2, 1, 1);
    break;
  case POOL_3X3_S1:
    avg_grad_windows_3x3_s1(dx, dy, n, p->w);
    break;
  case POOL_OTHER:
    avg_grad_windows(dx, dy, n, p->w, p->kh, p->kw, p->stride_w, p->dil_h,
                     p->dil_w);
    break;
  }
}

void nn_avgpool_backward(float *dx, const float *dy, const nn_pool_params *params)
{
  if (dx == NULL)
    return;
  nn_pool_params folded = fold_planes(params);
  const nn_pool_params *p = &folded;
  pool_split sp = split_of(p);
  for (int pl = 0; pl < p->n * p->c; pl++) {
    float *restrict dxp = dx + (ptrdiff_t)pl * p->h * p->w;
    const float *restrict dyp = dy + (ptrdiff_t)pl * p->oh * p->ow;
    for (int i = 0; i < p->oh; i++) {
      const float *dyr = dyp + (ptrdiff_t)i * p->ow;
      if (i < sp.i0 || i >= sp.i1) {
        avg_grad_border(dxp, dyr, p, i, 0, p->ow);
        continue;
      }
      avg_grad_border(dxp, dyr, p, i, 0, sp.j0);
      avg_grad_interior(dxp + corner(p, i, sp.j0), dyr + sp.j0, sp.j1 - sp.j0, p,
                        sp.shape);
      avg_grad_border(dxp, dyr, p, i, sp.j1, p->ow);
    }
  }
}

// Backward of GlobalAveragePool: dL/dx[i, t] += dL/dy[i] / size.
void nn_global_avgpool_backward(float *dx, const float *dy, int count, int size)
{
  if (dx == NULL)
    return;
  for (int i = 0; i < count; i++) {
    float g = dy[i] / (float)size;
    float *dxi = dx + (ptrdiff_t)i * size;
    for (int t = 0; t < size; t++)
      dxi[t] += g;
  }
}

// Backward of GlobalMaxPool: dL/dx[i, a] += dL/dy[i] at the argmax a of
// x[i, :], chosen by the forward's rule as in nn_maxpool_backward.
void nn_global_maxpool_backward(float *dx, const float *dy, const float *x,
                                int count, int size)
{
  if (dx == NULL || size == 0)
    return;
  for (int i = 0; i < count; i++) {
    const float *xi = x + (ptrdiff_t)i * size;
    float best = -INFINITY;
    int arg = 0;
    for (int t = 0; t < size; t++)
      if (takes(xi[t], best)) {
        best = xi[t];
        arg = t;
      }
    dx[(ptrdiff_t)i * size + arg] += dy[i];
  }
}
