/*
 * odometer.h - the index counter the N-D kernels share (internal to
 * runtime/kernels, not installed). It walks every row of an index space
 * whose last dimension the caller handles itself, keeping two element
 * offsets in step with their own strides.
 */
#ifndef NN_ODOMETER_H
#define NN_ODOMETER_H

#include <stddef.h>

/*
 * Advances idx (dims 0..last-1) like an odometer, moving the offsets *oa
 * and *ob by their strides and undoing a dimension's travel when it wraps.
 * Returns 0 once every row has been visited.
 * idx, dims, sa, sb: (last + 1)
 */
static inline int nn_odometer_next(int *idx, const int *dims, int last, const int *sa,
                                   const int *sb, ptrdiff_t *oa, ptrdiff_t *ob)
{
  for (int d = last - 1; d >= 0; d--) {
    idx[d]++;
    *oa += sa[d];
    *ob += sb[d];
    if (idx[d] < dims[d])
      return 1;
    *oa -= (ptrdiff_t)dims[d] * sa[d];
    *ob -= (ptrdiff_t)dims[d] * sb[d];
    idx[d] = 0;
  }
  return 0;
}

#endif /* NN_ODOMETER_H */
