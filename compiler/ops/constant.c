/*
 * constant.c - operators that make or reshape data mostly at compile
 * time: Constant, Shape, Size, Cast, ConstantOfShape, Range, Expand, Tile,
 * and the comparisons Equal, Less, Greater, Where and Not.
 *
 * They are what PyTorch's exported shape subgraphs are made of
 * (Shape -> Gather -> Unsqueeze -> Concat -> Reshape, ConstantOfShape,
 * Range, Equal + Where on shape vectors), so they fold for float and
 * integer data alike (integers and bool are stored as int64, bool as 0/1).
 *
 *  - Constant (opsets 1..17): one of the attributes value (a tensor),
 *    value_float, value_floats, value_int, value_ints. sparse_value and the
 *    string forms are rejected.
 *  - Shape (start/end from opset 15, clamped to [0, rank] after adding
 *    rank to negatives) and Size: int64 results computed from the input's
 *    shape, which is always known, even when its data is not.
 *  - Cast: any conversion between numeric types folds (float to integer
 *    truncates toward zero as C does, narrowing integers wrap, to bool is
 *    != 0, float16 and bfloat16 round to nearest even). At run time only
 *    float32 -> float32 is supported, as a view.
 *  - ConstantOfShape (value attribute, default float 0; constant shape)
 *    and Range (constant scalars; max(ceil((limit - start) / delta), 0)
 *    elements) always fold.
 *  - Expand (numpy broadcast of the input to a constant shape) and Tile
 *    (constant repeats) run as one nn_copy_strided: Expand reads x with
 *    0 strides on broadcast axes; Tile splits each repeated axis k into
 *    (repeat, dims[k]) and reads x with a 0 stride on the repeat part.
 *  - Equal, Less, Greater (bool result), Where (the type of X) and Not,
 *    with numpy broadcasting, only on compile-time constants.
 */
#include "compiler.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int is_const(const Tensor *t)
{
  return t->kind == T_CONST && t->data;
}

// Bytes per element of constant data (see const_alloc).
static size_t storage_size(DType dt)
{
  return is_float_type(dt) ? sizeof(float) : sizeof(int64_t);
}

static int require_all_const(Diag *d, const Node *n)
{
  for (int i = 0; i < n->ninputs; i++) {
    Tensor *t = n->inputs[i];
    CHECK(d, n, t, "input %d is missing", i);
    CHECK(d, n, is_const(t), "input '%s' is computed at run time; %s is only supported on "
          "compile-time constants", t->name, n->op_type);
  }
  return 0;
}

// Reads a constant 1-D integer input of at most MAX_RANK values (a shape).
static int read_shape(Diag *d, const Node *n, int i, const char *what, int64_t *out, int *count)
{
  if (require_const(d, n, i, what) != 0)
    return -1;
  Tensor *t = n->inputs[i];
  CHECK(d, n, is_int_type(t->dtype) && t->rank == 1, "input '%s' (%s) must be a 1-D integer tensor",
        t->name, what);
  CHECK(d, n, t->dims[0] <= MAX_RANK, "input '%s' (%s) has %lld values, at most %d are supported",
        t->name, what, (long long)t->dims[0], MAX_RANK);
  *count = (int)t->dims[0];
  for (int k = 0; k < *count; k++)
    out[k] = const_int(t, k);
  return 0;
}

// Offset of y's linear index i in a tensor read through strides over y's dims.
static int64_t offset_of(int64_t i, const Tensor *y, const int *strides)
{
  int64_t off = 0;
  for (int k = y->rank - 1; k >= 0; k--) {
    off += (i % y->dims[k]) * strides[k];
    i /= y->dims[k];
  }
  return off;
}

// Never called: these ops only accept constant inputs, so check_graph()
// folds them and the node is dead before emission.
static void folded_emit(Emitter *e, const Node *n)
{
  assert(!"a constant-only node reached emission");
  emitf(e, "  /* '%s' was computed at compile time */\n", n->outputs[0]->name);
}

//
// Constant
//

static int constant_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {"value", "value_float", "value_floats", "value_int", "value_ints", NULL};
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 0, 0) != 0)
    return -1;
  CHECK(d, n, n->nattrs == 1, "expected exactly one value attribute, found %d", n->nattrs);
  const Attr *a = &n->attrs[0];
  Tensor *y = n->outputs[0];
  int64_t dims[1] = {a->count};
  if (!strcmp(a->name, "value")) {
    CHECK(d, n, a->type == A_TENSOR && a->t, "attribute 'value' must be a tensor");
    const Tensor *t = a->t;
    CHECK(d, n, t->data && (is_float_type(t->dtype) || is_int_type(t->dtype)),
          "attribute 'value' has type %s, which is not supported", dtype_name(t->dtype));
    set_shape(y, t->dtype, t->rank, t->dims);
  } else if (!strcmp(a->name, "value_float")) {
    CHECK(d, n, a->type == A_FLOAT, "attribute 'value_float' must be a float");
    set_shape(y, DT_FLOAT, 0, dims);
  } else if (!strcmp(a->name, "value_floats")) {
    CHECK(d, n, a->type == A_FLOATS, "attribute 'value_floats' must be a list of floats");
    set_shape(y, DT_FLOAT, 1, dims);
  } else if (!strcmp(a->name, "value_int")) {
    CHECK(d, n, a->type == A_INT, "attribute 'value_int' must be an int");
    set_shape(y, DT_INT64, 0, dims);
  } else {
    CHECK(d, n, a->type == A_INTS, "attribute 'value_ints' must be a list of ints");
    set_shape(y, DT_INT64, 1, dims);
  }
  return 0;
}

static int constant_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const Attr *a = &n->attrs[0];
  Tensor *y = n->outputs[0];
  void *data = const_alloc(y);
  int64_t count = tensor_count(y);
  if (a->type == A_TENSOR)
    memcpy(data, a->t->data, (size_t)count * storage_size(y->dtype));
  else if (a->type == A_FLOAT)
    *(float *)data = a->f;
  else if (a->type == A_INT)
    *(int64_t *)data = a->i;
  else if (a->type == A_FLOATS)
    memcpy(data, a->floats, (size_t)count * sizeof(float));
  else
    memcpy(data, a->ints, (size_t)count * sizeof(int64_t));
  return 0;
}

//
// Shape and Size: results known from the input's shape alone
//

// Written only if the node stays live (its result feeds a run-time
// node's constant input, e.g. Reshape's shape): there is nothing to do.
static void shape_emit(Emitter *e, const Node *n)
{
  emitf(e, "  /* '%s' is known at compile time */\n", n->outputs[0]->name);
}

static int shape_check(Diag *d, Graph *g, Node *n)
{
  const char *known15[] = {"start", "end", NULL}, *known[] = {NULL};
  Tensor *x = n->inputs[0], *y = n->outputs[0];
  int64_t start, end;
  if (check_attrs_known(d, n, g->opset >= 15 ? known15 : known) != 0 ||
      require_inputs(d, n, 1, 1) != 0 || attr_int(d, n, "start", 0, &start) != 0 ||
      attr_int(d, n, "end", x->rank, &end) != 0)
    return -1;
  if (start < 0)
    start += x->rank;
  if (end < 0)
    end += x->rank;
  start = start < 0 ? 0 : start > x->rank ? x->rank : start;
  end = end < 0 ? 0 : end > x->rank ? x->rank : end;
  int64_t dims[1] = {end > start ? end - start : 0};
  set_shape(y, DT_INT64, 1, dims);
  int64_t *data = const_alloc(y);
  for (int64_t k = 0; k < dims[0]; k++)
    data[k] = x->dims[start + k];
  return 0;
}

static int size_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {NULL};
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0)
    return -1;
  Tensor *y = n->outputs[0];
  set_shape(y, DT_INT64, 0, NULL);
  int64_t *data = const_alloc(y);
  data[0] = tensor_count(n->inputs[0]);
  return 0;
}

//
// Cast
//

// f rounded to the nearest value with `bits` significant bits and the
// smallest exponent min_exp (ties to even): float16 is (11, -24), bfloat16
// (8, -133). Values past the largest finite one become infinite.
static float round_to_bits(float f, int bits, int min_exp, float overflow)
{
  if (isnan(f) || isinf(f))
    return f;
  float a = fabsf(f);
  if (a >= overflow)
    return copysignf(INFINITY, f);
  int e;
  frexpf(a, &e); // a = m * 2^e, 0.5 <= m < 1
  int q = e - bits > min_exp ? e - bits : min_exp;
  return copysignf(ldexpf(rintf(ldexpf(a, -q)), q), f);
}

static int64_t wrap_int(int64_t v, DType to)
{
  switch (to) {
  case DT_BOOL: return v != 0;
  case DT_INT8: return (int8_t)v;
  case DT_UINT8: return (uint8_t)v;
  case DT_INT16: return (int16_t)v;
  case DT_UINT16: return (uint16_t)v;
  case DT_INT32: return (int32_t)v;
  case DT_UINT32: return (uint32_t)v;
  default: return v;
  }
}

// C's float -> integer conversion, made total: NaN gives 0 and values
// beyond int64 saturate instead of being undefined.
static int64_t float_to_int(float f)
{
  if (isnan(f))
    return 0;
  if (f >= 9.2233720e18f)
    return INT64_MAX;
  if (f <= -9.2233720e18f)
    return INT64_MIN;
  return (int64_t)f;
}

static int cast_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {"to", NULL};
  int64_t to;
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0 ||
      attr_int(d, n, "to", -1, &to) != 0)
    return -1;
  CHECK(d, n, to >= 0, "attribute 'to' is required");
  DType dt = (DType)to;
  CHECK(d, n, is_float_type(dt) || is_int_type(dt), "Cast to %s is not supported",
        dtype_name(dt));
  Tensor *x = n->inputs[0];
  if (!is_const(x)) {
    if (require_float(d, n, 0) != 0)
      return -1;
    CHECK(d, n, dt == DT_FLOAT, "Cast to %s at run time is not supported", dtype_name(dt));
  }
  set_shape(n->outputs[0], dt, x->rank, x->dims);
  return 0;
}

static int cast_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const Tensor *x = n->inputs[0];
  Tensor *y = n->outputs[0];
  void *data = const_alloc(y);
  int64_t count = tensor_count(y);
  int from_float = is_float_type(x->dtype);
  for (int64_t i = 0; i < count; i++) {
    if (is_float_type(y->dtype)) {
      float v = const_float(x, i);
      if (y->dtype == DT_FLOAT16)
        v = round_to_bits(v, 11, -24, 65520.0f);
      else if (y->dtype == DT_BFLOAT16)
        v = round_to_bits(v, 8, -133, INFINITY);
      ((float *)data)[i] = v;
    } else if (y->dtype == DT_BOOL) {
      ((int64_t *)data)[i] = from_float ? const_float(x, i) != 0.0f : const_int(x, i) != 0;
    } else {
      int64_t v = from_float ? float_to_int(const_float(x, i)) : const_int(x, i);
      ((int64_t *)data)[i] = wrap_int(v, y->dtype);
    }
  }
  return 0;
}

// At run time: float32 -> float32, a view of its input (as views.c).
static void cast_emit(Emitter *e, const Node *n)
{
  const char *y = emit_ref(n->outputs[0]), *x = emit_ref(n->inputs[0]);
  if (strcmp(y, x))
    emitf(e, "  nn_copy(%s, %s, %lld);\n", y, x, (long long)tensor_count(n->outputs[0]));
  else
    emitf(e, "  /* a float32 -> float32 Cast: '%s' shares the storage of '%s' */\n",
          n->outputs[0]->name, n->inputs[0]->name);
}

//
// ConstantOfShape and Range
//

static int constant_of_shape_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {"value", NULL};
  int64_t dims[MAX_RANK];
  int rank;
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0 ||
      read_shape(d, n, 0, "shape", dims, &rank) != 0)
    return -1;
  for (int k = 0; k < rank; k++)
    CHECK(d, n, dims[k] >= 0, "shape[%d] = %lld is negative", k, (long long)dims[k]);
  DType dt = DT_FLOAT;
  const Attr *a = node_attr(n, "value");
  if (a) {
    CHECK(d, n, a->type == A_TENSOR && a->t && a->t->data, "attribute 'value' must be a tensor");
    CHECK(d, n, tensor_count(a->t) == 1, "attribute 'value' must have one element, has %lld",
          (long long)tensor_count(a->t));
    dt = a->t->dtype;
    CHECK(d, n, is_float_type(dt) || is_int_type(dt), "attribute 'value' has type %s, which is "
          "not supported", dtype_name(dt));
  }
  set_shape(n->outputs[0], dt, rank, dims);
  return 0;
}

static int constant_of_shape_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const Attr *a = node_attr(n, "value");
  Tensor *y = n->outputs[0];
  void *data = const_alloc(y);
  int64_t count = tensor_count(y);
  for (int64_t i = 0; i < count; i++) {
    if (is_float_type(y->dtype))
      ((float *)data)[i] = a ? const_float(a->t, 0) : 0.0f;
    else
      ((int64_t *)data)[i] = const_int(a->t, 0);
  }
  return 0;
}

static int range_check(Diag *d, Graph *g, Node *n)
{
  const char *known[] = {NULL};
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 3, 3) != 0 ||
      require_all_const(d, n) != 0)
    return -1;
  for (int i = 0; i < 3; i++)
    CHECK(d, n, tensor_count(n->inputs[i]) == 1, "input '%s' must be a scalar",
          n->inputs[i]->name);
  Tensor *start = n->inputs[0], *limit = n->inputs[1], *delta = n->inputs[2];
  double count;
  if (is_float_type(start->dtype)) {
    double s = const_float(start, 0), l = const_float(limit, 0), dl = const_float(delta, 0);
    CHECK(d, n, dl != 0.0, "delta is 0");
    count = ceil((l - s) / dl);
  } else {
    int64_t s = const_int(start, 0), l = const_int(limit, 0), dl = const_int(delta, 0);
    CHECK(d, n, dl != 0, "delta is 0");
    // ceil((l - s) / dl) when l - s and dl have the same sign, else 0, in
    // uint64_t magnitudes (l - s may not fit int64_t).
    uint64_t span = l > s ? (uint64_t)l - (uint64_t)s : (uint64_t)s - (uint64_t)l;
    uint64_t step = dl > 0 ? (uint64_t)dl : 0 - (uint64_t)dl;
    count = (l > s) == (dl > 0) && l != s ? (double)(span / step + (span % step != 0)) : 0.0;
  }
  CHECK(d, n, count <= (double)g->limits.max_elements, "output '%s' has %.0f elements, more "
        "than the limit of %lld (--max-elements)", n->outputs[0]->name, count,
        (long long)g->limits.max_elements);
  int64_t dims[1] = {count > 0 ? (int64_t)count : 0};
  set_shape(n->outputs[0], start->dtype, 1, dims);
  return 0;
}

static int range_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  Tensor *y = n->outputs[0];
  const Tensor *start = n->inputs[0], *delta = n->inputs[2];
  void *data = const_alloc(y);
  for (int64_t i = 0; i < y->dims[0]; i++) {
    if (is_float_type(y->dtype))
      ((float *)data)[i] = const_float(start, 0) + (float)i * const_float(delta, 0);
    else
      ((int64_t *)data)[i] = (int64_t)((uint64_t)const_int(start, 0) +
                                       (uint64_t)i * (uint64_t)const_int(delta, 0));
  }
  return 0;
}

//
// Expand and Tile
//

static void copy_emit(Emitter *e, const Node *n, int rank, int *dims, int *ys, int *xs)
{
  int *strides[2] = {ys, xs};
  rank = merge_dims(rank, dims, 2, strides);
  emit_open_block(e, n);
  emit_int_array(e, "dims", dims, rank);
  emit_int_array(e, "y_strides", ys, rank);
  emit_int_array(e, "x_strides", xs, rank);
  emitf(e, "    nn_copy_strided(%s, %s, %d, dims, y_strides, x_strides);\n",
        emit_ref(n->outputs[0]), emit_ref(n->inputs[0]), rank);
  emit_close_block(e);
}

static int expand_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {NULL};
  int64_t dims[MAX_RANK];
  int rank;
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 2, 2) != 0 ||
      read_shape(d, n, 1, "shape", dims, &rank) != 0)
    return -1;
  Tensor *x = n->inputs[0], *y = n->outputs[0];
  if (!is_const(x) && require_float(d, n, 0) != 0)
    return -1;
  for (int k = 0; k < rank; k++)
    CHECK(d, n, dims[k] >= 0, "shape[%d] = %lld is negative", k, (long long)dims[k]);
  // The shape as a tensor, broadcast with x as numpy does.
  Tensor shape;
  memset(&shape, 0, sizeof shape);
  shape.name = n->inputs[1]->name;
  set_shape(&shape, x->dtype, rank, dims);
  Tensor *ins[2] = {x, &shape};
  if (broadcast_shapes(d, n, 2, ins, y) != 0)
    return -1;
  y->dtype = x->dtype;
  return 0;
}

static void expand_layout(const Node *n, int *dims, int *ys, int *xs)
{
  const Tensor *y = n->outputs[0];
  for (int k = 0; k < y->rank; k++)
    dims[k] = (int)y->dims[k];
  dense_strides(y, ys);
  broadcast_strides(n->inputs[0], y, xs);
}

static int expand_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  Tensor *y = n->outputs[0];
  int dims[MAX_RANK], ys[MAX_RANK], xs[MAX_RANK];
  expand_layout(n, dims, ys, xs);
  const_alloc(y);
  fold_strided_copy(y, n->inputs[0], 0, y->rank, dims, ys, xs);
  return 0;
}

static void expand_emit(Emitter *e, const Node *n)
{
  const Tensor *y = n->outputs[0];
  if (tensor_count(y) == 0) {
    emitf(e, "  /* '%s' is empty: nothing to copy */\n", y->name);
    return;
  }
  int dims[MAX_RANK], ys[MAX_RANK], xs[MAX_RANK];
  expand_layout(n, dims, ys, xs);
  copy_emit(e, n, y->rank, dims, ys, xs);
}

typedef struct {
  int rank;                    // of the merged copy
  int dims[2 * MAX_RANK];
  int y_strides[2 * MAX_RANK], x_strides[2 * MAX_RANK];
} TileParams;

static int tile_check(Diag *d, Graph *g, Node *n)
{
  const char *known[] = {NULL};
  int64_t reps[MAX_RANK];
  int nreps;
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 2, 2) != 0 ||
      read_shape(d, n, 1, "repeats", reps, &nreps) != 0)
    return -1;
  Tensor *x = n->inputs[0], *y = n->outputs[0];
  if (!is_const(x) && require_float(d, n, 0) != 0)
    return -1;
  CHECK(d, n, nreps == x->rank, "repeats has %d values for an input of rank %d", nreps, x->rank);
  int64_t dims[MAX_RANK];
  for (int k = 0; k < x->rank; k++) {
    CHECK(d, n, reps[k] >= 0, "repeats[%d] = %lld is negative", k, (long long)reps[k]);
    dims[k] = checked_mul(x->dims[k], reps[k]);
    CHECK(d, n, dims[k] >= 0, "repeats[%d] = %lld overflows axis %d", k, (long long)reps[k], k);
  }
  set_shape(y, x->dtype, x->rank, dims);
  if (check_output_size(d, g, n, y) != 0)
    return -1;

  // The copy's index space: (repeat k, index in x's axis k) for each axis.
  free(n->params);
  TileParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  if (tensor_count(y) == 0)
    return 0; // nothing to copy, and repeats may not fit an int
  int xd[MAX_RANK], yd[MAX_RANK];
  dense_strides(x, xd);
  dense_strides(y, yd);
  int r = 0;
  for (int k = 0; k < x->rank; k++) {
    p->dims[r] = (int)reps[k];
    p->y_strides[r] = (int)(x->dims[k] * yd[k]);
    p->x_strides[r++] = 0;
    p->dims[r] = (int)x->dims[k];
    p->y_strides[r] = yd[k];
    p->x_strides[r++] = xd[k];
  }
  int *strides[2] = {p->y_strides, p->x_strides};
  p->rank = merge_dims(r, p->dims, 2, strides);
  CHECK(d, n, is_const(x) || tensor_count(y) == 0 || p->rank <= NN_MAX_RANK,
        "tiling this many axes needs a copy of rank %d (at most %d is supported)", p->rank,
        NN_MAX_RANK);
  return 0;
}

static int tile_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const Tensor *x = n->inputs[0];
  Tensor *y = n->outputs[0];
  void *data = const_alloc(y);
  int xd[MAX_RANK];
  dense_strides(x, xd);
  int64_t count = tensor_count(y);
  for (int64_t i = 0; i < count; i++) {
    // y's index, axis by axis, taken modulo x's dims.
    int64_t rest = i, src = 0;
    for (int k = y->rank - 1; k >= 0; k--) {
      src += (rest % y->dims[k]) % x->dims[k] * xd[k];
      rest /= y->dims[k];
    }
    if (is_float_type(y->dtype))
      ((float *)data)[i] = const_float(x, src);
    else
      ((int64_t *)data)[i] = const_int(x, src);
  }
  return 0;
}

static void tile_emit(Emitter *e, const Node *n)
{
  const TileParams *p = n->params;
  const Tensor *y = n->outputs[0];
  if (tensor_count(y) == 0) {
    emitf(e, "  /* '%s' is empty: nothing to copy */\n", y->name);
    return;
  }
  int dims[2 * MAX_RANK], ys[2 * MAX_RANK], xs[2 * MAX_RANK];
  memcpy(dims, p->dims, sizeof dims);
  memcpy(ys, p->y_strides, sizeof ys);
  memcpy(xs, p->x_strides, sizeof xs);
  copy_emit(e, n, p->rank, dims, ys, xs);
}

//
// Comparisons and Where, on constants only
//

static int compare_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {NULL};
  int where = !strcmp(n->op_type, "Where"), unary = !strcmp(n->op_type, "Not");
  int count = where ? 3 : unary ? 1 : 2;
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, count, count) != 0 ||
      require_all_const(d, n) != 0 || broadcast_shapes(d, n, count, n->inputs, n->outputs[0]) != 0)
    return -1;
  n->outputs[0]->dtype = where ? n->inputs[1]->dtype : DT_BOOL;
  if (where)
    CHECK(d, n, is_int_type(n->inputs[1]->dtype) == is_int_type(n->inputs[2]->dtype),
          "X has type %s but Y has type %s", dtype_name(n->inputs[1]->dtype),
          dtype_name(n->inputs[2]->dtype));
  return 0;
}

// -1, 0 or 1 as a < b, a == b, a > b; compares as floats if either is one.
static int compare(const Tensor *a, int64_t ia, const Tensor *b, int64_t ib)
{
  if (is_float_type(a->dtype) || is_float_type(b->dtype)) {
    float x = const_float(a, ia), y = const_float(b, ib);
    return x < y ? -1 : x > y ? 1 : x == y ? 0 : 2; // 2: unordered (NaN)
  }
  int64_t x = const_int(a, ia), y = const_int(b, ib);
  return x < y ? -1 : x > y;
}

static int compare_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  Tensor *y = n->outputs[0];
  void *data = const_alloc(y);
  int strides[3][MAX_RANK];
  for (int i = 0; i < n->ninputs; i++)
    broadcast_strides(n->inputs[i], y, strides[i]);
  const char *op = n->op_type;
  const Tensor *a = n->inputs[0], *b = node_input(n, 1), *c = node_input(n, 2);
  int64_t count = tensor_count(y);
  for (int64_t i = 0; i < count; i++) {
    int64_t ia = offset_of(i, y, strides[0]);
    if (!strcmp(op, "Not")) {
      ((int64_t *)data)[i] = const_int(a, ia) == 0;
      continue;
    }
    int64_t ib = offset_of(i, y, strides[1]);
    if (!strcmp(op, "Where")) {
      int64_t ic = offset_of(i, y, strides[2]);
      int take_x = const_int(a, ia) != 0;
      if (is_float_type(y->dtype))
        ((float *)data)[i] = take_x ? const_float(b, ib) : const_float(c, ic);
      else
        ((int64_t *)data)[i] = take_x ? const_int(b, ib) : const_int(c, ic);
      continue;
    }
    int r = compare(a, ia, b, ib);
    int want = !strcmp(op, "Equal") ? 0 : !strcmp(op, "Less") ? -1 : 1;
    ((int64_t *)data)[i] = r == want;
  }
  return 0;
}

const OpDef op_Constant = {.name = "Constant", .check = constant_check, .fold = constant_fold,
                           .emit = folded_emit};
const OpDef op_Shape = {.name = "Shape", .check = shape_check, .emit = shape_emit};
const OpDef op_Size = {.name = "Size", .check = size_check, .emit = shape_emit};
const OpDef op_Cast = {.name = "Cast", .check = cast_check, .fold = cast_fold, .emit = cast_emit,
                       .flags = OP_VIEW};
const OpDef op_ConstantOfShape = {.name = "ConstantOfShape", .check = constant_of_shape_check,
                                  .fold = constant_of_shape_fold, .emit = folded_emit};
const OpDef op_Range = {.name = "Range", .check = range_check, .fold = range_fold,
                        .emit = folded_emit};
const OpDef op_Expand = {.name = "Expand", .check = expand_check, .fold = expand_fold,
                         .emit = expand_emit};
const OpDef op_Tile = {.name = "Tile", .check = tile_check, .fold = tile_fold, .emit = tile_emit};
const OpDef op_Equal = {.name = "Equal", .check = compare_check, .fold = compare_fold,
                        .emit = folded_emit};
const OpDef op_Less = {.name = "Less", .check = compare_check, .fold = compare_fold,
                       .emit = folded_emit};
const OpDef op_Greater = {.name = "Greater", .check = compare_check, .fold = compare_fold,
                          .emit = folded_emit};
const OpDef op_Where = {.name = "Where", .check = compare_check, .fold = compare_fold,
                        .emit = folded_emit};
const OpDef op_Not = {.name = "Not", .check = compare_check, .fold = compare_fold,
                      .emit = folded_emit};
