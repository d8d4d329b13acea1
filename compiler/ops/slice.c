/*
 * slice.c - Slice: numpy-style basic slicing along any axes.
 *
 * ONNX semantics (opsets 1..13): for each listed axis, starts[i] and
 * ends[i] get dims[axis] added when negative; then, for a positive step,
 * start and end are clamped to [0, dim]; for a negative step, start is
 * clamped to [0, dim-1] and end to [-1, dim-1]. The output has
 * ceil((end - start) / step) elements along the axis (0 when negative), so
 * INT64_MAX / INT64_MIN ends mean "to the end" in either direction. Axes
 * not listed are kept whole.
 *
 * Supported: opset < 10 with the starts/ends/axes attributes; opset >= 10
 * with starts, ends and the optional axes and steps inputs, which must be
 * compile-time constants. A step of 0 and repeated axes are errors.
 *
 * The whole op is one strided copy: x is read from its first selected
 * element (x + offset) with each axis' stride multiplied by its step, so a
 * negative step is a negative stride. A constant input folds with the same
 * dims and strides.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  int64_t offset;              // elements of x before the first one read
  int rank;                    // of x and y
  int dims[MAX_RANK];          // y's dims: the index space of the copy
  int y_strides[MAX_RANK];     // dense
  int x_strides[MAX_RANK];     // x's strides times the steps
} SliceParams;

static int is_const(const Tensor *t)
{
  return t->kind == T_CONST && t->data;
}

// Reads a 1-D constant integer input (starts, ends, axes, steps).
static int read_list(Diag *d, const Node *n, int i, const char *what, int64_t *out, int *count)
{
  Tensor *t = node_input(n, i);
  *count = -1;
  if (!t)
    return 0;
  if (require_const(d, n, i, what) != 0)
    return -1;
  CHECK(d, n, is_int_type(t->dtype) && t->rank == 1, "input '%s' (%s) must be a 1-D integer tensor",
        t->name, what);
  CHECK(d, n, t->dims[0] <= MAX_RANK, "input '%s' (%s) has %lld values, at most %d are supported",
        t->name, what, (long long)t->dims[0], MAX_RANK);
  *count = (int)t->dims[0];
  for (int k = 0; k < *count; k++)
    out[k] = const_int(t, k);
  return 0;
}

static int64_t clamp(int64_t v, int64_t lo, int64_t hi)
{
  return v < lo ? lo : v > hi ? hi : v;
}

static int slice_check(Diag *d, Graph *g, Node *n)
{
  int64_t starts[MAX_RANK], ends[MAX_RANK], axes[MAX_RANK], steps[MAX_RANK];
  int nstarts, nends, naxes, nsteps = -1;
  if (g->opset < 10) {
    const char *known[] = {"starts", "ends", "axes", NULL};
    if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0 ||
        attr_ints(d, n, "starts", starts, MAX_RANK, &nstarts) != 0 ||
        attr_ints(d, n, "ends", ends, MAX_RANK, &nends) != 0 ||
        attr_ints(d, n, "axes", axes, MAX_RANK, &naxes) != 0)
      return -1;
    CHECK(d, n, nstarts >= 0 && nends >= 0, "attributes 'starts' and 'ends' are required");
  } else {
    const char *known[] = {NULL};
    if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 3, 5) != 0 ||
        read_list(d, n, 1, "starts", starts, &nstarts) != 0 ||
        read_list(d, n, 2, "ends", ends, &nends) != 0 ||
        read_list(d, n, 3, "axes", axes, &naxes) != 0 ||
        read_list(d, n, 4, "steps", steps, &nsteps) != 0)
      return -1;
  }
  Tensor *x = n->inputs[0], *y = n->outputs[0];
  if (!is_const(x) && require_float(d, n, 0) != 0)
    return -1;
  CHECK(d, n, nstarts == nends, "starts has %d values but ends has %d", nstarts, nends);
  CHECK(d, n, naxes < 0 || naxes == nstarts, "axes has %d values but starts has %d", naxes,
        nstarts);
  CHECK(d, n, nsteps < 0 || nsteps == nstarts, "steps has %d values but starts has %d", nsteps,
        nstarts);
  CHECK(d, n, nstarts <= x->rank, "%d axes are sliced but the input has rank %d", nstarts,
        x->rank);

  // Defaults: every axis whole, step 1.
  int64_t start[MAX_RANK], step[MAX_RANK], out_dims[MAX_RANK];
  int seen[MAX_RANK] = {0};
  for (int k = 0; k < x->rank; k++) {
    start[k] = 0;
    step[k] = 1;
    out_dims[k] = x->dims[k];
  }
  for (int i = 0; i < nstarts; i++) {
    int a = i;
    if (naxes >= 0 && normalize_axis(d, n, axes[i], x->rank, &a) != 0)
      return -1;
    CHECK(d, n, !seen[a], "axis %d is sliced twice", a);
    seen[a] = 1;
    int64_t dim = x->dims[a], s = starts[i], e = ends[i];
    int64_t st = nsteps >= 0 ? steps[i] : 1;
    CHECK(d, n, st != 0, "steps[%d] is 0", i);
    if (st < -INT64_MAX)
      st = -INT64_MAX; // the same slice, and -st stays representable
    if (s < 0)
      s += dim;
    if (e < 0)
      e += dim;
    int64_t count;
    if (st > 0) {
      s = clamp(s, 0, dim);
      e = clamp(e, 0, dim);
      count = e > s ? (e - s - 1) / st + 1 : 0;
    } else {
      s = clamp(s, 0, dim - 1);
      e = clamp(e, -1, dim - 1);
      count = s > e ? (s - e - 1) / -st + 1 : 0;
    }
    start[a] = count > 0 ? s : 0;
    step[a] = count > 1 ? st : 1; // a single element needs no step (and no overflow)
    out_dims[a] = count;
  }
  set_shape(y, x->dtype, x->rank, out_dims);

  free(n->params);
  SliceParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  int x_dense[MAX_RANK];
  dense_strides(x, x_dense);
  dense_strides(y, p->y_strides);
  p->rank = x->rank;
  for (int k = 0; k < x->rank; k++) {
    p->dims[k] = (int)out_dims[k];
    p->x_strides[k] = (int)(x_dense[k] * step[k]);
    p->offset += start[k] * x_dense[k];
  }
  return 0;
}

static int slice_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const SliceParams *p = n->params;
  const_alloc(n->outputs[0]);
  fold_strided_copy(n->outputs[0], n->inputs[0], p->offset, p->rank, p->dims, p->y_strides,
                    p->x_strides);
  return 0;
}

static void slice_emit(Emitter *e, const Node *n)
{
  const SliceParams *p = n->params;
  const Tensor *y = n->outputs[0];
  if (tensor_count(y) == 0) {
    emitf(e, "  /* '%s' is empty: nothing to copy */\n", y->name);
    return;
  }
  char xref[300];
  emit_strided(e, "nn_copy_strided", emit_ref(y),
               emit_offset(xref, sizeof xref, emit_ref(n->inputs[0]), p->offset), p->rank, p->dims,
               p->y_strides, p->x_strides);
}

// dx at the sliced positions += dy.
static void slice_backward(Emitter *e, const Node *n)
{
  const SliceParams *p = n->params;
  const Tensor *x = n->inputs[0], *y = n->outputs[0];
  if (!x->grad || tensor_count(y) == 0)
    return;
  char dxref[300];
  emit_strided(e, "nn_add_strided", emit_offset(dxref, sizeof dxref, emit_grad(x), p->offset),
               emit_grad(y), p->rank, p->dims, p->x_strides, p->y_strides);
}

const OpDef op_Slice = {.name = "Slice", .check = slice_check, .fold = slice_fold,
                        .emit = slice_emit, .emit_backward = slice_backward};
