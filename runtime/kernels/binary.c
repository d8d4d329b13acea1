/*
 * binary.c - elementwise binary ops with numpy-style broadcasting (Add, Sub,
 * Mul, Div, Min, Max, Pow, PRelu).
 *
 * Key idea: broadcasting is only a stride of 0, so one N-D walk serves every
 * shape combination. The walk goes over all dims but the last with a counter
 * array; the last dim is a row handled by binary_row(). The rows whose
 * strides are (1, 1), (1, 0) or (0, 1) - the cases the compiler's
 * dimension merging makes common - get loops with those strides written
 * out, so they compile to contiguous (vectorisable) code.
 *
 * Min and Max propagate NaN (as numpy's minimum/maximum do), unlike fminf
 * and fmaxf, which return the non-NaN operand.
 *
 * Deliberately not here: shape inference and dimension merging (the
 * compiler does both), and integer types.
 */
#include "nn.h"

#include <math.h>

static float binop(nn_binop op, float a, float b)
{
  switch (op) {
  case NN_ADD:
    return a + b;
  case NN_SUB:
    return a - b;
  case NN_MUL:
    return a * b;
  case NN_DIV:
    return a / b;
  case NN_MIN:
    return (a < b || isnan(a)) ? a : b;
  case NN_MAX:
    return (a > b || isnan(a)) ? a : b;
  case NN_POW:
    return powf(a, b);
  case NN_PRELU:
    return a < 0.0f ? a * b : a;
  }
  return 0.0f;
}

// y[i] = a[i*sa] op b[i*sb], i < n. The three common stride pairs are
// separate loops with constant strides; everything else is the general loop.
static void binary_row(float *y, const float *a, int sa, const float *b, int sb,
                       int n, nn_binop op)
{
  int i;
  if (sa == 1 && sb == 1) {
    switch (op) {
    case NN_ADD:
      for (i = 0; i < n; i++)
        y[i] = a[i] + b[i];
      return;
    case NN_SUB:
      for (i = 0; i < n; i++)
        y[i] = a[i] - b[i];
      return;
    case NN_MUL:
      for (i = 0; i < n; i++)
        y[i] = a[i] * b[i];
      return;
    case NN_DIV:
      for (i = 0; i < n; i++)
        y[i] = a[i] / b[i];
      return;
    default:
      for (i = 0; i < n; i++)
        y[i] = binop(op, a[i], b[i]);
      return;
    }
  }
  if (sa == 1 && sb == 0) {
    float bv = b[0];
    switch (op) {
    case NN_ADD:
      for (i = 0; i < n; i++)
        y[i] = a[i] + bv;
      return;
    case NN_SUB:
      for (i = 0; i < n; i++)
        y[i] = a[i] - bv;
      return;
    case NN_MUL:
      for (i = 0; i < n; i++)
        y[i] = a[i] * bv;
      return;
    case NN_DIV:
      for (i = 0; i < n; i++)
        y[i] = a[i] / bv;
      return;
    default:
      for (i = 0; i < n; i++)
        y[i] = binop(op, a[i], bv);
      return;
    }
  }
  if (sa == 0 && sb == 1) {
    float av = a[0];
    switch (op) {
    case NN_ADD:
      for (i = 0; i < n; i++)
        y[i] = av + b[i];
      return;
    case NN_SUB:
      for (i = 0; i < n; i++)
        y[i] = av - b[i];
      return;
    case NN_MUL:
      for (i = 0; i < n; i++)
        y[i] = av * b[i];
      return;
    case NN_DIV:
      for (i = 0; i < n; i++)
        y[i] = av / b[i];
      return;
    default:
      for (i = 0; i < n; i++)
        y[i] = binop(op, av, b[i]);
      return;
    }
  }
  for (i = 0; i < n; i++)
    y[i] = binop(op, a[(ptrdiff_t)i * sa], b[(ptrdiff_t)i * sb]);
}

void nn_binary_forward(float *y, const float *a, const float *b, nn_binop op,
                       int rank, const int *dims, const int *a_strides,
                       const int *b_strides)
{
  for (int d = 0; d < rank; d++)
    if (dims[d] == 0)
      return;
  if (rank == 0) {
    y[0] = binop(op, a[0], b[0]);
    return;
  }

  // Walk dims[0 .. rank-1) with a counter; each step writes one dense row
  // of y. a and b offsets follow their own strides.
  int last = rank - 1;
  int n = dims[last];
  int idx[NN_MAX_RANK] = {0};
  ptrdiff_t ao = 0, bo = 0;
  for (;;) {
    binary_row(y, a + ao, a_strides[last], b + bo, b_strides[last], n, op);
    y += n;

    int d = last - 1;
    for (; d >= 0; d--) {
      idx[d]++;
      ao += a_strides[d];
      bo += b_strides[d];
      if (idx[d] < dims[d])
        break;
      ao -= (ptrdiff_t)dims[d] * a_strides[d];
      bo -= (ptrdiff_t)dims[d] * b_strides[d];
      idx[d] = 0;
    }
    if (d < 0)
      return;
  }
}
