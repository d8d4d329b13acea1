/*
 * gather.c - ONNX Gather along one axis with indices fixed at compile time.
 *
 * Key idea: with x viewed as (outer, axis_len, inner), every index selects
 * one contiguous run of inner floats, so Gather is a sequence of row
 * copies: y[o, i, :] = x[o, indices[i], :].
 *
 * The backward adds each dy row back into the row it came from.
 *
 * Deliberately not here: negative or out-of-range indices (the compiler
 * normalises and checks them), runtime index tensors, and GatherElements /
 * GatherND.
 */
#include "nn.h"

void nn_gather_forward(float *restrict y, const float *restrict x,
                       const int32_t *indices, int outer, int axis_len,
                       int count, int inner)
{
  for (int o = 0; o < outer; o++) {
    const float *xo = x + (ptrdiff_t)o * axis_len * inner;
    for (int i = 0; i < count; i++) {
      const float *src = xo + (ptrdiff_t)indices[i] * inner;
      for (int j = 0; j < inner; j++)
        y[j] = src[j];
      y += inner;
    }
  }
}

// Backward: y[o, i, :] = x[o, indices[i], :], so
// dL/dx[o, indices[i], :] += dL/dy[o, i, :]; an index that appears twice
// receives both rows' gradients.
void nn_gather_backward(float *dx, const float *dy, const int32_t *indices,
                        int outer, int axis_len, int count, int inner)
{
  if (dx == NULL)
    return;
  for (int o = 0; o < outer; o++) {
    float *dxo = dx + (ptrdiff_t)o * axis_len * inner;
    for (int i = 0; i < count; i++) {
      float *dst = dxo + (ptrdiff_t)indices[i] * inner;
      for (int j = 0; j < inner; j++)
        dst[j] += dy[j];
      dy += inner;
    }
  }
}
