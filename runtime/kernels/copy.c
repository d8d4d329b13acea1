/*
 * copy.c - the data-movement kernels: dense copy, fill, and the N-D strided
 * copy behind Transpose, Slice, Concat, Split, Pad and Expand.
 *
 * Key idea: one strided copy walks the index space with a counter array
 * (idx[0..rank)), the last dimension innermost. The innermost dimension is a
 * plain loop, so when both of its strides are 1 it is a contiguous copy.
 *
 * nn_add_strided is the same walk with +=: the backward of all of them.
 *
 * Deliberately not here: any knowledge of the ONNX ops that use it (the
 * compiler turns their attributes into dims and strides), and overlap
 * handling (y and x never overlap).
 */
#include "nn.h"

#include "odometer.h"

void nn_copy(float *restrict y, const float *restrict x, int count)
{
  for (int i = 0; i < count; i++)
    y[i] = x[i];
}

void nn_fill(float *y, float value, int count)
{
  for (int i = 0; i < count; i++)
    y[i] = value;
}

void nn_copy_strided(float *restrict y, const float *restrict x, int rank,
                     const int *dims, const int *y_strides, const int *x_strides)
{
  for (int d = 0; d < rank; d++)
    if (dims[d] == 0)
      return;
  if (rank == 0) {
    y[0] = x[0];
    return;
  }

  // Walk every index of dims[0 .. rank-1); the last dim is the inner loop.
  int last = rank - 1;
  int n = dims[last], ys = y_strides[last], xs = x_strides[last];
  int idx[NN_MAX_RANK] = {0};
  ptrdiff_t yo = 0, xo = 0;
  for (;;) {
    float *yr = y + yo;
    const float *xr = x + xo;
    if (ys == 1 && xs == 1) {
      for (int i = 0; i < n; i++)
        yr[i] = xr[i];
    } else {
      for (int i = 0; i < n; i++)
        yr[(ptrdiff_t)i * ys] = xr[(ptrdiff_t)i * xs];
    }
    if (!nn_odometer_next(idx, dims, last, y_strides, x_strides, &yo, &xo))
      return;
  }
}

void nn_add(float *restrict y, const float *restrict x, int count)
{
  for (int i = 0; i < count; i++)
    y[i] += x[i];
}

// The strided copy's walk with += instead of =. It is the backward of every
// op that nn_copy_strided implements: called with the forward's roles
// swapped (y the input's gradient, x the output's gradient), each copied
// element sends its gradient back to where it came from, and a 0 stride in
// y (an Expand'ed dimension) sums the gradients of all its copies.
void nn_add_strided(float *y, const float *x, int rank, const int *dims,
                    const int *y_strides, const int *x_strides)
{
  for (int d = 0; d < rank; d++)
    if (dims[d] == 0)
      return;
  if (rank == 0) {
    y[0] += x[0];
    return;
  }

  int last = rank - 1;
  int n = dims[last], ys = y_strides[last], xs = x_strides[last];
  int idx[NN_MAX_RANK] = {0};
  ptrdiff_t yo = 0, xo = 0;
  for (;;) {
    float *yr = y + yo;
    const float *xr = x + xo;
    if (ys == 1 && xs == 1) {
      for (int i = 0; i < n; i++)
        yr[i] += xr[i];
    } else if (ys == 0) {
      float s = 0.0f;
      for (int i = 0; i < n; i++)
        s += xr[(ptrdiff_t)i * xs];
      yr[0] += s;
    } else {
      for (int i = 0; i < n; i++)
        yr[(ptrdiff_t)i * ys] += xr[(ptrdiff_t)i * xs];
    }
    if (!nn_odometer_next(idx, dims, last, y_strides, x_strides, &yo, &xo))
      return;
  }
}
