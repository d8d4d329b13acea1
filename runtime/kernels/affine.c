/*
 * affine.c - per-channel affine map y = x * scale[c] + shift[c]: inference
 * BatchNormalization after the compiler has folded its four parameters.
 *
 * Key idea: the channel's scale and shift are loaded once per (n, c) plane,
 * so the inner loop is a contiguous multiply-add. In place is fine because
 * every element is read before it is written, at the same index.
 *
 * The backward (frozen statistics) is dx += dy * scale[c].
 *
 * Deliberately not here: the mean/variance/epsilon folding (the compiler
 * does it once, at compile time) and training-mode batch statistics.
 */
#include "nn.h"

void nn_channel_affine_forward(float *y, const float *x, const float *scale,
                               const float *shift, int n, int c, int size)
{
  for (int img = 0; img < n; img++) {
    for (int ch = 0; ch < c; ch++) {
      ptrdiff_t base = ((ptrdiff_t)img * c + ch) * size;
      float s = scale[ch], t = shift[ch];
      for (int i = 0; i < size; i++)
        y[base + i] = x[base + i] * s + t;
    }
  }
}

// Backward with frozen scale and shift (they are folded constants):
// y = x * scale[c] + shift[c], so dL/dx[n, c, i] += dL/dy[n, c, i] * scale[c].
void nn_channel_affine_backward(float *dx, const float *dy, const float *scale,
                                int n, int c, int size)
{
  if (dx == NULL)
    return;
  for (int img = 0; img < n; img++) {
    for (int ch = 0; ch < c; ch++) {
      ptrdiff_t base = ((ptrdiff_t)img * c + ch) * size;
      float s = scale[ch];
      for (int i = 0; i < size; i++)
        dx[base + i] += dy[base + i] * s;
    }
  }
}
