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
 * nn_reduce_backward walks the same two spaces and adds each dy[o] times the
 * reduction's partial derivative (ties and zeros as PyTorch's amax and prod).
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

// Advances idx and *off over dims[0 .. rank-1) (the last dim is a row and
// not counted) like an odometer; returns 0 after the last row.
static int next_row(int *idx, ptrdiff_t *off, int rank, const int *dims,
                    const int *strides)
{
  for (int d = rank - 2; d >= 0; d--) {
    idx[d]++;
    *off += strides[d];
    if (idx[d] < dims[d])
      return 1;
    *off -= (ptrdiff_t)dims[d] * strides[d];
    idx[d] = 0;
  }
  return 0;
}

// Number of x[i*stride], i < n, equal to v (Max/Min ties), or equal to 0
// when v is 0 (Prod's zeros); *nonzero_prod multiplies in the others.
static int count_row(const float *x, int n, int stride, float v, float *nonzero_prod)
{
  int c = 0;
  for (int i = 0; i < n; i++) {
    float xv = x[(ptrdiff_t)i * stride];
    if (xv == v)
      c++;
    else
      *nonzero_prod *= xv;
  }
  return c;
}

// Per element of a row, dL/dx += g * d(reduction)/dx, where g is dL/dy
// already divided by what the whole reduced space shares (see
// nn_reduce_backward).
static void backward_row(nn_reduce_op op, float *dx, const float *x, int n,
                         int stride, float g, float yv, int zeros)
{
  int i;
  switch (op) {
  case NN_REDUCE_SUM:
  case NN_REDUCE_MEAN:
  case NN_REDUCE_LOG_SUM:
    for (i = 0; i < n; i++)
      dx[(ptrdiff_t)i * stride] += g;
    break;
  case NN_REDUCE_MAX:
  case NN_REDUCE_MIN:
    for (i = 0; i < n; i++)
      if (x[(ptrdiff_t)i * stride] == yv)
        dx[(ptrdiff_t)i * stride] += g;
    break;
  case NN_REDUCE_PROD:
    // No zero: y / x. One zero: only it moves y, by g * (the product of
    // the others), passed in as g. Two or more: nothing moves y.
    for (i = 0; i < n; i++) {
      float xv = x[(ptrdiff_t)i * stride];
      if (zeros == 0)
        dx[(ptrdiff_t)i * stride] += g * yv / xv;
      else if (zeros == 1 && xv == 0.0f)
        dx[(ptrdiff_t)i * stride] += g;
    }
    break;
  case NN_REDUCE_SUM_SQUARE:
    for (i = 0; i < n; i++)
      dx[(ptrdiff_t)i * stride] += 2.0f * g * x[(ptrdiff_t)i * stride];
    break;
  case NN_REDUCE_L1:
    for (i = 0; i < n; i++) {
      float xv = x[(ptrdiff_t)i * stride];
      dx[(ptrdiff_t)i * stride] += xv > 0.0f ? g : xv < 0.0f ? -g : 0.0f;
    }
    break;
  case NN_REDUCE_L2:
    for (i = 0; i < n; i++)
      dx[(ptrdiff_t)i * stride] += g * x[(ptrdiff_t)i * stride];
    break;
  case NN_REDUCE_LOG_SUM_EXP:
    for (i = 0; i < n; i++)
      dx[(ptrdiff_t)i * stride] += g * expf(x[(ptrdiff_t)i * stride] - yv);
    break;
  }
}

// Backward of one kept index: dx and x point at its first element (x may
// be NULL for the ops that do not read it).
static void reduce_backward_one(float *dx, const float *x, nn_reduce_op op,
                                float dyv, float yv, int rank, const int *dims,
                                const int *strides, int count)
{
  for (int d = 0; d < rank; d++)
    if (dims[d] == 0)
      return;
  int n = rank > 0 ? dims[rank - 1] : 1;
  int stride = rank > 0 ? strides[rank - 1] : 0;
  int idx[NN_MAX_RANK] = {0};
  ptrdiff_t off = 0;

  // What the whole reduced space shares: g below.
  int zeros = 0;
  float g = dyv;
  if (op == NN_REDUCE_MAX || op == NN_REDUCE_MIN || op == NN_REDUCE_PROD) {
    float v = op == NN_REDUCE_PROD ? 0.0f : yv, nonzero_prod = 1.0f;
    do
      zeros += count_row(x + off, n, stride, v, &nonzero_prod);
    while (next_row(idx, &off, rank, dims, strides));
    if (op != NN_REDUCE_PROD) {
      if (zeros == 0) // y is NaN: no element equals it
        return;
      g = dyv / (float)zeros;
    } else if (zeros == 1) {
      g = dyv * nonzero_prod;
    } else if (zeros > 1) {
      return;
    }
  } else if (op == NN_REDUCE_MEAN) {
    g = dyv / (float)count;
  } else if (op == NN_REDUCE_L2) {
    if (yv == 0.0f)
      return;
    g = dyv / yv;
  } else if (op == NN_REDUCE_LOG_SUM) {
    g = dyv / expf(yv);
  }

  off = 0;
  do
    backward_row(op, dx + off, x != NULL ? x + off : NULL, n, stride, g, yv, zeros);
  while (next_row(idx, &off, rank, dims, strides));
}

// dL/dx[o . keep_strides + r . red_strides] += dL/dy[o] * dy[o]/dx, per op:
//   Sum 1   Mean 1/count   SumSquare 2x   L1 sign(x)   L2 x/y (0 if y = 0)
//   LogSum 1/exp(y)   LogSumExp exp(x - y)
//   Max, Min  1/ties at the elements equal to y (split evenly, as
//             torch.amax/amin; a NaN y passes nothing)
//   Prod  y/x with no zero; with one zero, the product of the others at
//         the zero and 0 elsewhere; 0 with two or more (torch's prod_backward)
void nn_reduce_backward(float *dx, const float *dy, const float *x, const float *y,
                        nn_reduce_op op, int keep_rank, const int *keep_dims,
                        const int *keep_strides, int red_rank, const int *red_dims,
                        const int *red_strides)
{
  if (dx == NULL)
    return;
  int red_count = 1;
  for (int d = 0; d < red_rank; d++)
    red_count *= red_dims[d];
  int keep_count = 1;
  for (int d = 0; d < keep_rank; d++)
    keep_count *= keep_dims[d];

  int idx[NN_MAX_RANK] = {0};
  ptrdiff_t off = 0;
  for (int o = 0; o < keep_count; o++) {
    reduce_backward_one(dx + off, x != NULL ? x + off : NULL, op, dy[o],
                        y != NULL ? y[o] : 0.0f, red_rank, red_dims, red_strides,
                        red_count);
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
