/*
 * sum.h - the sum of a run of floats (internal to the runtime): the bias
 * gradients of Conv and depthwise convolutions and the gradient of an
 * operand broadcast along a row.
 *
 * The sum is kept in NN_SUM_LANES partial sums, so that compilers
 * vectorise it without reassociating one long chain: 16 on AVX-512, 8 on
 * other SIMD units (two SSE or NEON registers, one AVX register), 2 on a
 * scalar FPU (a Cortex-M4 keeps them in registers). -DNN_SUM_LANES=n
 * overrides it.
 */
#ifndef NN_SUM_H
#define NN_SUM_H

#ifndef NN_SUM_LANES
#if defined(__AVX512F__)
#define NN_SUM_LANES 16
#elif defined(__SSE2__) || defined(__ARM_NEON) || defined(__ALTIVEC__)
#define NN_SUM_LANES 8
#else
#define NN_SUM_LANES 2
#endif
#endif

// sum_t a[t], t < n.
static inline float nn_sum_floats(const float *a, int n)
{
  float part[NN_SUM_LANES];
  for (int l = 0; l < NN_SUM_LANES; l++)
    part[l] = 0.0f;
  int t = 0;
  for (; t + NN_SUM_LANES <= n; t += NN_SUM_LANES)
    for (int l = 0; l < NN_SUM_LANES; l++)
      part[l] += a[t + l];
  float s = 0.0f;
  for (; t < n; t++)
    s += a[t];
  for (int l = 0; l < NN_SUM_LANES; l++)
    s += part[l];
  return s;
}

#endif
