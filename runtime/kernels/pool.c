/*
 * pool.c - MaxPool and AveragePool over (n, c, h, w) (1-D as h = 1), and
 * their global forms.
 *
 * Key idea: for each output cell the kernel rows u (and columns v) whose
 * input index lies inside x are computed as one range, so the inner loops
 * have no bounds tests. Max only looks at those positions, so padding never
 * wins. Average divides by the number of those positions, or, with
 * count_include_pad, by the number of positions inside the explicit
 * padding; the extra cells that ceil_mode adds beyond pad_b/pad_r are never
 * counted (as in ONNX Runtime and PyTorch).
 *
 * Max propagates NaN. A window with no position inside x (possible only
 * with pads as large as the kernel) gives -inf for max, and for average 0
 * with count_include_pad or NaN (0/0) without.
 *
 * The backward kernels recompute the same ranges (and, for max, the argmax
 * from x), so gradients go exactly where the forward read.
 *
 * Deliberately not here: output-shape arithmetic, ceil_mode and auto_pad
 * (the compiler folds them into oh/ow and the pads), and MaxPool's optional
 * Indices output.
 */
#include "nn.h"

#include <math.h>

// Smallest u >= 0 with start + u*dil >= bound (dil > 0).
static int first_at_least(int bound, int start, int dil)
{
  int need = bound - start;
  return need <= 0 ? 0 : (need + dil - 1) / dil;
}

// Kernel taps [*begin, *end), within [0, k), whose index start + u*dil lies
// in [lo, hi).
static void tap_range(int *begin, int *end, int start, int dil, int lo, int hi,
                      int k)
{
  int b = first_at_least(lo, start, dil);
  int e = first_at_least(hi, start, dil);
  *begin = b < k ? b : k;
  *end = e < k ? e : k;
}

void nn_maxpool_forward(float *restrict y, const float *restrict x,
                        const nn_pool_params *p)
{
  int planes = p->n * p->c;
  for (int pl = 0; pl < planes; pl++) {
    const float *xp = x + (ptrdiff_t)pl * p->h * p->w;
    float *yp = y + (ptrdiff_t)pl * p->oh * p->ow;
    for (int i = 0; i < p->oh; i++) {
      int r0 = i * p->stride_h - p->pad_t;
      int u0, u1;
      tap_range(&u0, &u1, r0, p->dil_h, 0, p->h, p->kh);
      for (int j = 0; j < p->ow; j++) {
        int c0 = j * p->stride_w - p->pad_l;
        int v0, v1;
        tap_range(&v0, &v1, c0, p->dil_w, 0, p->w, p->kw);
        float best = -INFINITY;
        for (int u = u0; u < u1; u++) {
          const float *xr = xp + (ptrdiff_t)(r0 + u * p->dil_h) * p->w;
          for (int v = v0; v < v1; v++) {
            float xv = xr[c0 + v * p->dil_w];
            if (xv > best || isnan(xv))
              best = xv;
          }
        }
        yp[i * p->ow + j] = best;
      }
    }
  }
}

void nn_avgpool_forward(float *restrict y, const float *restrict x,
                        const nn_pool_params *p)
{
  int planes = p->n * p->c;
  for (int pl = 0; pl < planes; pl++) {
    const float *xp = x + (ptrdiff_t)pl * p->h * p->w;
    float *yp = y + (ptrdiff_t)pl * p->oh * p->ow;
    for (int i = 0; i < p->oh; i++) {
      int r0 = i * p->stride_h - p->pad_t;
      int u0, u1, pu0, pu1;
      tap_range(&u0, &u1, r0, p->dil_h, 0, p->h, p->kh);
      tap_range(&pu0, &pu1, r0, p->dil_h, -p->pad_t, p->h + p->pad_b, p->kh);
      for (int j = 0; j < p->ow; j++) {
        int c0 = j * p->stride_w - p->pad_l;
        int v0, v1, pv0, pv1;
        tap_range(&v0, &v1, c0, p->dil_w, 0, p->w, p->kw);
        tap_range(&pv0, &pv1, c0, p->dil_w, -p->pad_l, p->w + p->pad_r, p->kw);
        float sum = 0.0f;
        for (int u = u0; u < u1; u++) {
          const float *xr = xp + (ptrdiff_t)(r0 + u * p->dil_h) * p->w;
          for (int v = v0; v < v1; v++)
            sum += xr[c0 + v * p->dil_w];
        }
        int count = p->count_include_pad ? (pu1 - pu0) * (pv1 - pv0)
                                         : (u1 - u0) * (v1 - v0);
        yp[i * p->ow + j] = sum / (float)count;
      }
    }
  }
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
      if (xi[t] > best || isnan(xi[t]))
        best = xi[t];
    y[i] = best;
  }
}

// Backward of MaxPool: dL/dx[a] += dL/dy[i, j] where a is the window's
// argmax, recomputed from x with the forward's own rule (a later value
// wins only if it is greater, or NaN), which is PyTorch's: the first
// maximum on ties, the last NaN, and the first in-bounds position when
// every value is -inf. A window with no position inside x passes nothing.
void nn_maxpool_backward(float *dx, const float *dy, const float *x,
                         const nn_pool_params *p)
{
  if (dx == NULL)
    return;
  int planes = p->n * p->c;
  for (int pl = 0; pl < planes; pl++) {
    const float *xp = x + (ptrdiff_t)pl * p->h * p->w;
    float *dxp = dx + (ptrdiff_t)pl * p->h * p->w;
    const float *dyp = dy + (ptrdiff_t)pl * p->oh * p->ow;
    for (int i = 0; i < p->oh; i++) {
      int r0 = i * p->stride_h - p->pad_t;
      int u0, u1;
      tap_range(&u0, &u1, r0, p->dil_h, 0, p->h, p->kh);
      for (int j = 0; j < p->ow; j++) {
        int c0 = j * p->stride_w - p->pad_l;
        int v0, v1;
        tap_range(&v0, &v1, c0, p->dil_w, 0, p->w, p->kw);
        if (u0 >= u1 || v0 >= v1)
          continue;
        ptrdiff_t arg = (ptrdiff_t)(r0 + u0 * p->dil_h) * p->w + c0 + v0 * p->dil_w;
        float best = -INFINITY;
        for (int u = u0; u < u1; u++) {
          ptrdiff_t row = (ptrdiff_t)(r0 + u * p->dil_h) * p->w;
          for (int v = v0; v < v1; v++) {
            float xv = xp[row + c0 + v * p->dil_w];
            if (xv > best || isnan(xv)) {
              best = xv;
              arg = row + c0 + v * p->dil_w;
            }
          }
        }
        dxp[arg] += dyp[i * p->ow + j];
      }
    }
  }
}

// Backward of AveragePool: y[i, j] = (1/count) * sum of the in-bounds x in
// its window, so dL/dx[pos] += dL/dy[i, j] / count for each of those
// positions, with the forward's count (padding positions have no x).
void nn_avgpool_backward(float *dx, const float *dy, const nn_pool_params *p)
{
  if (dx == NULL)
    return;
  int planes = p->n * p->c;
  for (int pl = 0; pl < planes; pl++) {
    float *dxp = dx + (ptrdiff_t)pl * p->h * p->w;
    const float *dyp = dy + (ptrdiff_t)pl * p->oh * p->ow;
    for (int i = 0; i < p->oh; i++) {
      int r0 = i * p->stride_h - p->pad_t;
      int u0, u1, pu0, pu1;
      tap_range(&u0, &u1, r0, p->dil_h, 0, p->h, p->kh);
      tap_range(&pu0, &pu1, r0, p->dil_h, -p->pad_t, p->h + p->pad_b, p->kh);
      for (int j = 0; j < p->ow; j++) {
        int c0 = j * p->stride_w - p->pad_l;
        int v0, v1, pv0, pv1;
        tap_range(&v0, &v1, c0, p->dil_w, 0, p->w, p->kw);
        tap_range(&pv0, &pv1, c0, p->dil_w, -p->pad_l, p->w + p->pad_r, p->kw);
        int count = p->count_include_pad ? (pu1 - pu0) * (pv1 - pv0)
                                         : (u1 - u0) * (v1 - v0);
        if (u0 >= u1 || v0 >= v1)
          continue;
        float g = dyp[i * p->ow + j] / (float)count;
        for (int u = u0; u < u1; u++) {
          float *dxr = dxp + (ptrdiff_t)(r0 + u * p->dil_h) * p->w;
          for (int v = v0; v < v1; v++)
            dxr[c0 + v * p->dil_w] += g;
        }
      }
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
      if (xi[t] > best || isnan(xi[t])) {
        best = xi[t];
        arg = t;
      }
    dx[(ptrdiff_t)i * size + arg] += dy[i];
  }
}
