/*
 * softmax.c - Softmax and LogSoftmax along the middle axis of x viewed as
 * (outer, len, inner), which covers any ONNX axis (opset 13 semantics: one
 * axis; older opsets' flattening is the compiler's job, as inner = 1).
 *
 * Key idea: both subtract the maximum along the axis first, so exp never
 * overflows and large logits give exact results. Up to JB neighbouring
 * positions of the inner axis are processed together, with their running
 * max and sum in small stack arrays, so every pass reads whole contiguous
 * rows of JB floats instead of striding through memory one column at a time.
 * Each element is read before it is written, which makes in place safe.
 *
 * The backward kernels use the same column blocks, from the saved output y.
 *
 * Deliberately not here: masking, temperature, and fusing with the loss
 * (see the training kernels).
 */
#include "nn.h"

#include <math.h>

enum { JB = 64 };  // inner-axis positions handled together

// Softmax of jb columns of a (len, inner) slab: column jj is
// x[t*inner + jj], t < len.
static void softmax_block(float *y, const float *x, int len, int inner, int jb)
{
  float mx[JB], scale[JB];
  for (int jj = 0; jj < jb; jj++) {
    mx[jj] = -INFINITY;
    scale[jj] = 0.0f;
  }
  for (int t = 0; t < len; t++)
    for (int jj = 0; jj < jb; jj++)
      if (x[(ptrdiff_t)t * inner + jj] > mx[jj])
        mx[jj] = x[(ptrdiff_t)t * inner + jj];
  for (int t = 0; t < len; t++) {
    for (int jj = 0; jj < jb; jj++) {
      float e = expf(x[(ptrdiff_t)t * inner + jj] - mx[jj]);
      y[(ptrdiff_t)t * inner + jj] = e;
      scale[jj] += e;
    }
  }
  for (int jj = 0; jj < jb; jj++)
    scale[jj] = 1.0f / scale[jj];
  for (int t = 0; t < len; t++)
    for (int jj = 0; jj < jb; jj++)
      y[(ptrdiff_t)t * inner + jj] *= scale[jj];
}

// LogSoftmax of the same block: y = (x - max) - log(sum exp(x - max)).
static void log_softmax_block(float *y, const float *x, int len, int inner,
                              int jb)
{
  float mx[JB], log_sum[JB];
  for (int jj = 0; jj < jb; jj++) {
    mx[jj] = -INFINITY;
    log_sum[jj] = 0.0f;
  }
  for (int t = 0; t < len; t++)
    for (int jj = 0; jj < jb; jj++)
      if (x[(ptrdiff_t)t * inner + jj] > mx[jj])
        mx[jj] = x[(ptrdiff_t)t * inner + jj];
  for (int t = 0; t < len; t++)
    for (int jj = 0; jj < jb; jj++)
      log_sum[jj] += expf(x[(ptrdiff_t)t * inner + jj] - mx[jj]);
  for (int jj = 0; jj < jb; jj++)
    log_sum[jj] = logf(log_sum[jj]);
  for (int t = 0; t < len; t++)
    for (int jj = 0; jj < jb; jj++)
      y[(ptrdiff_t)t * inner + jj] =
          (x[(ptrdiff_t)t * inner + jj] - mx[jj]) - log_sum[jj];
}

void nn_softmax_forward(float *y, const float *x, int outer, int len, int inner)
{
  for (int o = 0; o < outer; o++) {
    ptrdiff_t base = (ptrdiff_t)o * len * inner;
    for (int j0 = 0; j0 < inner; j0 += JB) {
      int jb = inner - j0 < JB ? inner - j0 : JB;
      softmax_block(y + base + j0, x + base + j0, len, inner, jb);
    }
  }
}

void nn_log_softmax_forward(float *y, const float *x, int outer, int len,
                            int inner)
{
  for (int o = 0; o < outer; o++) {
    ptrdiff_t base = (ptrdiff_t)o * len * inner;
    for (int j0 = 0; j0 < inner; j0 += JB) {
      int jb = inner - j0 < JB ? inner - j0 : JB;
      log_softmax_block(y + base + j0, x + base + j0, len, inner, jb);
    }
  }
}

// Backward of softmax along the axis, for jb columns of a (len, inner) slab.
// With y = softmax(x): dy_t/dx_s = y_t * ([t == s] - y_s), so
//   dL/dx_s = sum_t dL/dy_t * y_t * ([t == s] - y_s)
//           = y_s * (dL/dy_s                      term 1: the diagonal
//                    - sum_t dL/dy_t * y_t)       term 2: the normaliser
static void softmax_backward_block(float *dx, const float *dy, const float *y,
                                   int len, int inner, int jb)
{
  float dot[JB];
  for (int jj = 0; jj < jb; jj++)
    dot[jj] = 0.0f;
  for (int t = 0; t < len; t++)
    for (int jj = 0; jj < jb; jj++)
      dot[jj] += dy[(ptrdiff_t)t * inner + jj] * y[(ptrdiff_t)t * inner + jj];
  for (int t = 0; t < len; t++)
    for (int jj = 0; jj < jb; jj++) {
      ptrdiff_t at = (ptrdiff_t)t * inner + jj;
      dx[at] += y[at] * (dy[at] - dot[jj]);
    }
}

// Backward of log-softmax, y = x - log(sum exp(x)): dy_t/dx_s = [t == s] -
// softmax_s, and softmax_s = exp(y_s), so
//   dL/dx_s = dL/dy_s                 term 1: the identity
//           - exp(y_s) * sum_t dL/dy_t   term 2: through the log-sum-exp
static void log_softmax_backward_block(float *dx, const float *dy, const float *y,
                                       int len, int inner, int jb)
{
  float sum[JB];
  for (int jj = 0; jj < jb; jj++)
    sum[jj] = 0.0f;
  for (int t = 0; t < len; t++)
    for (int jj = 0; jj < jb; jj++)
      sum[jj] += dy[(ptrdiff_t)t * inner + jj];
  for (int t = 0; t < len; t++)
    for (int jj = 0; jj < jb; jj++) {
      ptrdiff_t at = (ptrdiff_t)t * inner + jj;
      dx[at] += dy[at] - expf(y[at]) * sum[jj];
    }
}

void nn_softmax_backward(float *dx, const float *dy, const float *y, int outer,
                         int len, int inner)
{
  if (dx == NULL)
    return;
  for (int o = 0; o < outer; o++) {
    ptrdiff_t base = (ptrdiff_t)o * len * inner;
    for (int j0 = 0; j0 < inner; j0 += JB) {
      int jb = inner - j0 < JB ? inner - j0 : JB;
      softmax_backward_block(dx + base + j0, dy + base + j0, y + base + j0, len, inner,
                             jb);
    }
  }
}

void nn_log_softmax_backward(float *dx, const float *dy, const float *y,
                             int outer, int len, int inner)
{
  if (dx == NULL)
    return;
  for (int o = 0; o < outer; o++) {
    ptrdiff_t base = (ptrdiff_t)o * len * inner;
    for (int j0 = 0; j0 < inner; j0 += JB) {
      int jb = inner - j0 < JB ? inner - j0 : JB;
      log_softmax_backward_block(dx + base + j0, dy + base + j0, y + base + j0, len,
                                 inner, jb);
    }
  }
}
