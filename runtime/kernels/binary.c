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
 * nn_binary_backward walks the same index space, one row at a time;
 * a 0 stride there makes a broadcast operand's gradient a sum. A row along
 * which an operand is broadcast (a per-channel PRelu slope, a bias) puts
 * its contributions in a chunk on the stack and adds their sum once,
 * instead of adding into the same cell element by element (which does
 * not vectorise).
 *
 * Deliberately not here: shape inference and dimension merging (the
 * compiler does both), and integer types.
 */
#include "nn.h"

#include "odometer.h"
#include "sum.h"

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
    case NN_PRELU:
      for (i = 0; i < n; i++)
        y[i] = a[i] < 0.0f ? a[i] * b[i] : a[i];
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
    case NN_PRELU: // one slope per channel: rows of a channel share it
      for (i = 0; i < n; i++)
        y[i] = a[i] < 0.0f ? a[i] * bv : a[i];
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
    if (!nn_odometer_next(idx, dims, last, a_strides, b_strides, &ao, &bo))
      return;
  }
}

// Backward of one row: n elements, dy and y dense, a and b at strides sa
// and sb, their gradients at strides ga and gb. da and db may be the same
// buffer (y = x op x): each is accumulated in its own loop, reading only
// dy, a, b and y.
//
// Per element, with g = dL/dy:
//   Add  da += g            db += g
//   Sub  da += g            db -= g
//   Mul  da += g*b          db += g*a
//   Div  da += g/b          db -= g*(a/b)/b
//   Max  da += g*[a > b] + g/2*[a == b]  (ties split, NaN passes to both,
//   Min  likewise with <)                as torch.maximum/minimum)
//   Pow  da += g*b*a^(b-1), 0 where b == 0
//        db += g*y*log(a),  0 where a == 0 and b >= 0   (torch's pow_backward)
//   PRelu da += a > 0 ? g : g*b    db += a > 0 ? 0 : g*a   (torch's prelu)
static inline void backward_row(float *da, int ga, float *db, int gb, const float *dy,
                                const float *a, int sa, const float *b, int sb,
                                const float *y, int n, nn_binop op)
{
  int i;
  switch (op) {
  case NN_ADD:
  case NN_SUB:
    if (da != NULL)
      for (i = 0; i < n; i++)
        da[(ptrdiff_t)i * ga] += dy[i];
    if (db != NULL && op == NN_ADD)
      for (i = 0; i < n; i++)
        db[(ptrdiff_t)i * gb] += dy[i];
    if (db != NULL && op == NN_SUB)
      for (i = 0; i < n; i++)
        db[(ptrdiff_t)i * gb] -= dy[i];
    break;
  case NN_MUL:
    if (da != NULL)
      for (i = 0; i < n; i++)
        da[(ptrdiff_t)i * ga] += dy[i] * b[(ptrdiff_t)i * sb];
    if (db != NULL)
      for (i = 0; i < n; i++)
        db[(ptrdiff_t)i * gb] += dy[i] * a[(ptrdiff_t)i * sa];
    break;
  case NN_DIV:
    if (da != NULL)
      for (i = 0; i < n; i++)
        da[(ptrdiff_t)i * ga] += dy[i] / b[(ptrdiff_t)i * sb];
    if (db != NULL)
      for (i = 0; i < n; i++) {
        float bv = b[(ptrdiff_t)i * sb];
        db[(ptrdiff_t)i * gb] -= dy[i] * ((a[(ptrdiff_t)i * sa] / bv) / bv);
      }
    break;
  case NN_MAX:
  case NN_MIN:
    // "loses" is a < b for Max (a > b for Min): that operand gets nothing.
    if (da != NULL)
      for (i = 0; i < n; i++) {
        float av = a[(ptrdiff_t)i * sa], bv = b[(ptrdiff_t)i * sb];
        int loses = op == NN_MAX ? av < bv : av > bv;
        da[(ptrdiff_t)i * ga] += loses ? 0.0f : av == bv ? 0.5f * dy[i] : dy[i];
      }
    if (db != NULL)
      for (i = 0; i < n; i++) {
        float av = a[(ptrdiff_t)i * sa], bv = b[(ptrdiff_t)i * sb];
        int loses = op == NN_MAX ? bv < av : bv > av;
        db[(ptrdiff_t)i * gb] += loses ? 0.0f : av == bv ? 0.5f * dy[i] : dy[i];
      }
    break;
  case NN_POW:
    if (da != NULL)
      for (i = 0; i < n; i++) {
        float av = a[(ptrdiff_t)i * sa], bv = b[(ptrdiff_t)i * sb];
        if (bv != 0.0f)
          da[(ptrdiff_t)i * ga] += dy[i] * bv * powf(av, bv - 1.0f);
      }
    if (db != NULL)
      for (i = 0; i < n; i++) {
        float av = a[(ptrdiff_t)i * sa], bv = b[(ptrdiff_t)i * sb];
        float yv = y != NULL ? y[i] : powf(av, bv);
        if (!(av == 0.0f && bv >= 0.0f))
          db[(ptrdiff_t)i * gb] += dy[i] * yv * logf(av);
      }
    break;
  case NN_PRELU:
    // Every operand loaded whatever the sign, so that the loops become
    // selects without a branch (the signs of x are as good as random) and
    // vectorise.
    if (da != NULL)
      for (i = 0; i < n; i++) {
        float av = a[(ptrdiff_t)i * sa], bv = b[(ptrdiff_t)i * sb];
        da[(ptrdiff_t)i * ga] += av > 0.0f ? dy[i] : dy[i] * bv;
      }
    if (db != NULL)
      for (i = 0; i < n; i++) {
        float av = a[(ptrdiff_t)i * sa];
        db[(ptrdiff_t)i * gb] += dy[i] * (av > 0.0f ? 0.0f : av);
      }
    break;
  }
}

// p + off, or NULL for an operand the op does not read (NULL + off would
// be undefined).
static const float *offset_or_null(const float *p, ptrdiff_t off)
{
  return p != NULL ? p + off : NULL;
}

static float *grad_offset_or_null(float *p, ptrdiff_t off)
{
  return p != NULL ? p + off : NULL;
}

enum { CHUNK = 256 }; // elements of a row whose broadcast gradient is summed at once

// backward_row with the common stride pairs as constants, so that those
// loops vectorise; anything else takes the general loops. An operand
// broadcast along the row (stride 0) gets the sum of the row's
// contributions: they go into a chunk on the stack, which is then summed,
// rather than one by one into the same cell.
static void binary_backward_row(float *da, float *db, const float *dy, const float *a,
                                int sa, const float *b, int sb, const float *y, int n,
                                nn_binop op)
{
  int sum_a = da != NULL && sa == 0 && n > 1, sum_b = db != NULL && sb == 0 && n > 1;
  if (!sum_a && !sum_b) {
    if (sa == 1 && sb == 1)
      backward_row(da, 1, db, 1, dy, a, 1, b, 1, y, n, op);
    else if (sa == 1 && sb == 0) // db == NULL
      backward_row(da, 1, db, 0, dy, a, 1, b, 0, y, n, op);
    else if (sa == 0 && sb == 1) // da == NULL
      backward_row(da, 0, db, 1, dy, a, 0, b, 1, y, n, op);
    else
      backward_row(da, sa, db, sb, dy, a, sa, b, sb, y, n, op);
    return;
  }
  float part_a[CHUNK], part_b[CHUNK];
  for (int c0 = 0; c0 < n; c0 += CHUNK) {
    int cn = n - c0 < CHUNK ? n - c0 : CHUNK;
    const float *ac = offset_or_null(a, (ptrdiff_t)c0 * sa);
    const float *bc = offset_or_null(b, (ptrdiff_t)c0 * sb);
    float *dac = sum_a ? part_a : grad_offset_or_null(da, (ptrdiff_t)c0 * sa);
    float *dbc = sum_b ? part_b : grad_offset_or_null(db, (ptrdiff_t)c0 * sb);
    for (int t = 0; t < cn; t++) {
      if (sum_a)
        part_a[t] = 0.0f;
      if (sum_b)
        part_b[t] = 0.0f;
    }
    const float *yc = offset_or_null(y, c0);
    if (sa == 1 && sb == 0)
      backward_row(dac, 1, dbc, 1, dy + c0, ac, 1, bc, 0, yc, cn, op);
    else if (sa == 0 && sb == 1)
      backward_row(dac, 1, dbc, 1, dy + c0, ac, 0, bc, 1, yc, cn, op);
    else
      backward_row(dac, sum_a ? 1 : sa, dbc, sum_b ? 1 : sb, dy + c0, ac, sa, bc, sb, yc,
                   cn, op);
    if (sum_a)
      da[0] += nn_sum_floats(part_a, cn);
    if (sum_b)
      db[0] += nn_sum_floats(part_b, cn);
  }
}

void nn_binary_backward(float *da, float *db, const float *dy, const float *a,
                        const float *b, const float *y, nn_binop op, int rank,
                        const int *dims, const int *a_strides, const int *b_strides)
{
  if (da == NULL && db == NULL)
    return;
  for (int d = 0; d < rank; d++)
    if (dims[d] == 0)
      return;
  if (rank == 0) {
    binary_backward_row(da, db, dy, a, 0, b, 0, y, 1, op);
    return;
  }

  // The forward's walk: dims[0 .. rank-1) with a counter, one dense row of
  // dy (and y) per step; a, b and their gradients follow their strides.
  int last = rank - 1;
  int n = dims[last];
  int idx[NN_MAX_RANK] = {0};
  ptrdiff_t ao = 0, bo = 0, yo = 0;
  for (;;) {
    binary_backward_row(grad_offset_or_null(da, ao), grad_offset_or_null(db, bo), dy + yo,
                        offset_or_null(a, ao), a_strides[last], offset_or_null(b, bo),
                        b_strides[last], offset_or_null(y, yo), n, op);
    yo += n;
    if (!nn_odometer_next(idx, dims, last, a_strides, b_strides, &ao, &bo))
      return;
  }
}
