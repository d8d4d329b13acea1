/*
 * reduce.c - the ONNX Reduce* family (Sum, Mean, Max, Min, Prod, SumSquare,
 * L1, L2, LogSum, LogSumExp) over any set of axes.
 *
 * Key idea: the compiler splits x's dims into a kept space and a reduced
 * space, each with its own strides into x, so any axes - contiguous or not,
 * keepdims or not - are the same two nested N-D walks (counter arrays,
 * last dim innermost). Each kept index folds its reduced space into one
 * accumulator: fold_row() does one innermost row with the op's switch
 * outside the loop, fold() walks the rows, finish() turns the accumulator
 * into the result (mean, sqrt, log). LogSumExp first finds the maximum and
 * sums exp(x - max), so it cannot overflow.
 *
 * An empty reduced space leaves the accumulator at the op's identity:
 * 0 for the sums (so L1, L2, SumSquare give 0), 1 for Prod, -inf for Max,
 * +inf for Min, log(0) = -inf for LogSum and LogSumExp, and 0/0 = NaN for
 * Mean (numpy's answer). Max and Min propagate NaN.
 *
 * Deliberately not here: the axes/keepdims/noop_with_empty_axes attribute
 * handling (the compiler does it), and integer types.
 */
#include "nn.h"

#include <math.h>

static float identity(nn_reduce_op op)
{
  switch (op) {
  case NN_REDUCE_MAX:
    return -INFINITY;
  case NN_REDUCE_MIN:
    return INFINITY;
  case NN_REDUCE_PROD:
    return 1.0f;
  default:
    return 0.0f;
  }
}

// Folds x[i*stride], i < n, into acc. shift is LogSumExp's maximum.
static float fold_row(nn_reduce_op op, float acc, const float *x, int n,
                      int stride, float shift)
{
  int i;
  switch (op) {
  case NN_REDUCE_SUM:
  case NN_REDUCE_MEAN:
  case NN_REDUCE_LOG_SUM:
    for (i = 0; i < n; i++)
      acc += x[(ptrdiff_t)i * stride];
    break;
  case NN_REDUCE_MAX:
    for (i = 0; i < n; i++) {
      float v = x[(ptrdiff_t)i * stride];
      if (v > acc || isnan(v))
        acc = v;
    }
    break;
  case NN_REDUCE_MIN:
    for (i = 0; i < n; i++) {
      float v = x[(ptrdiff_t)i * stride];
      if (v < acc || isnan(v))
        acc = v;
    }
    break;
  case NN_REDUCE_PROD:
    for (i = 0; i < n; i++)
      acc *= x[(ptrdiff_t)i * stride];
    break;
  case NN_REDUCE_SUM_SQUARE:
  case NN_REDUCE_L2:
    for (i = 0; i < n; i++) {
      float v = x[(ptrdiff_t)i * stride];
      acc += v * v;
    }
    break;
  case NN_REDUCE_L1:
    for (i = 0; i < n; i++)
      acc += fabsf(x[(ptrdiff_t)i * stride]);
    break;
  case NN_REDUCE_LOG_SUM_EXP:
    for (i = 0; i < n; i++)
      acc += expf(x[(ptrdiff_t)i * stride] - shift);
    break;
  }
  return acc;
}

// Folds the whole reduced space (rank dims; rank 0 is one element) into acc.
static float fold(nn_reduce_op op, float acc, const float *x, int rank,
                  const int *dims, const int *strides, float shift)
{
  if (rank == 0)
    return fold_row(op, acc, x, 1, 0, shift);
  for (int d = 0; d < rank; d++)
    if (dims[d] == 0)
      return acc;

  int last = rank - 1;
  int idx[NN_MAX_RANK] = {0};
  ptrdiff_t off = 0;
  for (;;) {
    acc = fold_row(op, acc, x + off, dims[last], strides[last], shift);

    int d = last - 1;
    for (; d >= 0; d--) {
      idx[d]++;
      off += strides[d];
      if (idx[d] < dims[d])
        break;
      off -= (ptrdiff_t)dims[d] * strides[d];
      idx[d] = 0;
    }
    if (d < 0)
      return acc;
  }
}

// The reduction of one kept index: x points at its first element.
static float reduce_one(nn_reduce_op op, const float *x, int rank,
                        const int *dims, const int *strides, int count)
{
  float shift = 0.0f;
  if (op == NN_REDUCE_LOG_SUM_EXP) {
    shift = fold(NN_REDUCE_MAX, -INFINITY, x, rank, dims, strides, 0.0f);
    // An infinite or NaN maximum is already the answer (and exp(inf - inf)
    // would be NaN).
    if (!isfinite(shift))
      return shift;
  }

  float acc = fold(op, identity(op), x, rank, dims, strides, shift);
  switch (op) {
  case NN_REDUCE_MEAN:
    return acc / (float)count;
  case NN_REDUCE_L2:
    return sqrtf(acc);
  case NN_REDUCE_LOG_SUM:
    return logf(acc);
  case NN_REDUCE_LOG_SUM_EXP:
    return shift + logf(acc);
  default:
    return acc;
  }
}

void nn_reduce_forward(float *restrict y, const float *restrict x,
                       nn_reduce_op op, int keep_rank, const int *keep_dims,
                       const int *keep_strides, int red_rank,
                       const int *red_dims, const int *red_strides)
{
  int red_count = 1;
  for (int d = 0; d < red_rank; d++)
    red_count *= red_dims[d];
  int keep_count = 1;
  for (int d = 0; d < keep_rank; d++)
    keep_count *= keep_dims[d];

  // Walk the kept space with an odometer; y is dense in it.
  int idx[NN_MAX_RANK] = {0};
  ptrdiff_t off = 0;
  for (int o = 0; o < keep_count; o++) {
    y[o] = reduce_one(op, x + off, red_rank, red_dims, red_strides, red_count);
    for (int d = keep_rank - 1; d >= 0; d--) {
      idx[d]++;
      off += keep_strides[d];
      if (idx[d] < keep_dims[d])
        break;
      off -= (ptrdiff_t)keep_dims[d] * keep_strides[d];
      idx[d] = 0;
    }
  }
}
