/*
 * ranges.h - index ranges of strided, dilated and padded windows
 * (internal to the runtime): which outputs of a kernel tap, or which taps
 * of a window, land inside the input. Shared by the convolution, depthwise
 * and pooling kernels.
 */
#ifndef NN_RANGES_H
#define NN_RANGES_H

static inline int min_int(int a, int b) { return a < b ? a : b; }
static inline int max_int(int a, int b) { return a > b ? a : b; }

// Smallest t >= 0 with start + t*step >= bound, for step > 0.
static inline int first_at_least(int bound, int start, int step)
{
  int need = bound - start;
  if (need <= 0)
    return 0;
  return step == 1 ? need : (need + step - 1) / step;
}

// The indices [*begin, *end) of 0 .. count-1 whose start + t*step lies in
// [lo, hi).
static inline void index_range(int *begin, int *end, int start, int step, int lo, int hi,
                               int count)
{
  *begin = min_int(first_at_least(lo, start, step), count);
  *end = min_int(first_at_least(hi, start, step), count);
}

#endif
