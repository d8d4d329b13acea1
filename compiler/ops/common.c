/*
 * common.c - helpers shared by the operator files: attribute access with
 * type checking, input checks, broadcasting and stride arithmetic, and
 * access to constant tensor data.
 *
 * Every helper that can fail reports through diag_node() and returns -1,
 * so an op's check() reads as a list of CHECKs.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

static const char *attr_type_name(AttrType t)
{
  switch (t) {
  case A_FLOAT: return "float";
  case A_INT: return "int";
  case A_STRING: return "string";
  case A_TENSOR: return "tensor";
  case A_GRAPH: return "graph";
  case A_FLOATS: return "floats";
  case A_INTS: return "ints";
  case A_STRINGS: return "strings";
  default: return "other";
  }
}

int attr_int(Diag *d, const Node *n, const char *name, int64_t dflt, int64_t *out)
{
  const Attr *a = node_attr(n, name);
  *out = dflt;
  if (!a)
    return 0;
  CHECK(d, n, a->type == A_INT, "attribute '%s' has type %s, expected int", name,
        attr_type_name(a->type));
  *out = a->i;
  return 0;
}

int attr_float(Diag *d, const Node *n, const char *name, float dflt, float *out)
{
  const Attr *a = node_attr(n, name);
  *out = dflt;
  if (!a)
    return 0;
  CHECK(d, n, a->type == A_FLOAT, "attribute '%s' has type %s, expected float", name,
        attr_type_name(a->type));
  *out = a->f;
  return 0;
}

int attr_ints(Diag *d, const Node *n, const char *name, int64_t *out, int max, int *count)
{
  const Attr *a = node_attr(n, name);
  *count = -1;
  if (!a)
    return 0;
  CHECK(d, n, a->type == A_INTS, "attribute '%s' has type %s, expected ints", name,
        attr_type_name(a->type));
  CHECK(d, n, a->count <= max, "attribute '%s' has %d values, at most %d are supported",
        name, a->count, max);
  memcpy(out, a->ints, (size_t)a->count * sizeof(int64_t));
  *count = a->count;
  return 0;
}

const char *attr_string(const Node *n, const char *name, const char *dflt)
{
  const Attr *a = node_attr(n, name);
  return a && a->type == A_STRING && a->s ? a->s : dflt;
}

int check_attrs_known(Diag *d, const Node *n, const char *const *known)
{
  int rc = 0;
  for (int i = 0; i < n->nattrs; i++) {
    // Opsets 1 to 5 carried an optimisation hint with no effect on results.
    int found = !strcmp(n->attrs[i].name, "consumed_inputs");
    for (const char *const *k = known; *k; k++)
      found |= !strcmp(*k, n->attrs[i].name);
    if (!found) {
      diag_node(d, n, "attribute '%s' is not supported", n->attrs[i].name);
      rc = -1;
    }
  }
  return rc;
}

int require_inputs(Diag *d, const Node *n, int min, int max)
{
  int present = 0;
  for (int i = 0; i < n->ninputs; i++)
    present += n->inputs[i] != NULL;
  CHECK(d, n, n->ninputs <= max, "has %d inputs, expected at most %d", n->ninputs, max);
  for (int i = 0; i < min; i++)
    CHECK(d, n, node_input(n, i), "required input %d is missing", i);
  (void)present;
  return 0;
}

int require_float(Diag *d, const Node *n, int i)
{
  Tensor *t = node_input(n, i);
  if (!t)
    return 0;
  CHECK(d, n, t->dtype == DT_FLOAT || (t->kind == T_CONST && is_float_type(t->dtype)),
        "input '%s' has type %s; only float32 is supported", t->name, dtype_name(t->dtype));
  return 0;
}

int require_const(Diag *d, const Node *n, int i, const char *what)
{
  Tensor *t = node_input(n, i);
  if (!t)
    return 0;
  if (t->kind != T_CONST || !t->data) {
    diag_node(d, n, "input '%s' (%s) must be known at compile time", t->name, what);
    diag_note(d, "onnxcc compiles fixed shapes; make it an initializer or bind the input "
                 "with --bind NAME=FILE.pb");
    return -1;
  }
  return 0;
}

int normalize_axis(Diag *d, const Node *n, int64_t axis, int rank, int *out)
{
  CHECK(d, n, axis >= -rank && axis < (rank ? rank : 1), "axis %lld is out of range for rank %d",
        (long long)axis, rank);
  *out = (int)(axis < 0 ? axis + rank : axis);
  return 0;
}

void set_shape(Tensor *t, DType dt, int rank, const int64_t *dims)
{
  t->dtype = dt;
  t->rank = rank;
  for (int i = 0; i < rank; i++)
    t->dims[i] = dims[i];
}

int broadcast_shapes(Diag *d, const Node *n, int count, Tensor *const *ins, Tensor *out)
{
  int rank = 0;
  for (int i = 0; i < count; i++)
    if (ins[i]->rank > rank)
      rank = ins[i]->rank;
  int64_t dims[MAX_RANK];
  for (int k = 0; k < rank; k++) {
    int64_t dim = 1;
    for (int i = 0; i < count; i++) {
      int j = k - (rank - ins[i]->rank);
      if (j < 0)
        continue;
      int64_t v = ins[i]->dims[j];
      if (v == dim || v == 1)
        continue;
      if (dim == 1) {
        dim = v;
        continue;
      }
      char a[96], b[96];
      diag_node(d, n, "shapes %s and %s cannot be broadcast together", shape_str(ins[0], a, sizeof a),
                shape_str(ins[i], b, sizeof b));
      return -1;
    }
    dims[k] = dim;
  }
  set_shape(out, ins[0]->dtype, rank, dims);
  return 0;
}

void dense_strides(const Tensor *t, int *strides)
{
  int64_t s = 1;
  for (int i = t->rank - 1; i >= 0; i--) {
    strides[i] = (int)s;
    s *= t->dims[i];
  }
}

void broadcast_strides(const Tensor *in, const Tensor *out, int *strides)
{
  int dense[MAX_RANK];
  dense_strides(in, dense);
  for (int k = 0; k < out->rank; k++) {
    int j = k - (out->rank - in->rank);
    strides[k] = (j < 0 || in->dims[j] == 1) ? 0 : dense[j];
  }
}

int merge_dims(int rank, int *dims, int nstrides, int **strides)
{
  // Drop size-1 dims (their strides never matter), then fold dim k into
  // k-1 when every stride array steps contiguously across the boundary.
  int r = 0;
  for (int k = 0; k < rank; k++) {
    if (dims[k] == 1)
      continue;
    dims[r] = dims[k];
    for (int s = 0; s < nstrides; s++)
      strides[s][r] = strides[s][k];
    r++;
  }
  int m = 0;
  for (int k = 0; k < r; k++) {
    int fold = m > 0;
    for (int s = 0; s < nstrides && fold; s++)
      fold = strides[s][m - 1] == strides[s][k] * dims[k];
    if (fold) {
      dims[m - 1] *= dims[k];
      for (int s = 0; s < nstrides; s++)
        strides[s][m - 1] = strides[s][k];
      continue;
    }
    dims[m] = dims[k];
    for (int s = 0; s < nstrides; s++)
      strides[s][m] = strides[s][k];
    m++;
  }
  return m;
}

void *const_alloc(Tensor *t)
{
  int64_t count = tensor_count(t);
  free(t->data);
  t->data = xcalloc((size_t)(count > 0 ? count : 1),
                    is_float_type(t->dtype) ? sizeof(float) : sizeof(int64_t));
  t->kind = T_CONST;
  return t->data;
}

int64_t const_int(const Tensor *t, int64_t i)
{
  if (is_float_type(t->dtype)) { // saturating, NaN gives 0 (C's cast is undefined there)
    float f = ((const float *)t->data)[i];
    return f != f ? 0 : f >= 9.2233720e18f ? INT64_MAX : f <= -9.2233720e18f ? INT64_MIN
                                                                              : (int64_t)f;
  }
  return ((const int64_t *)t->data)[i];
}

float const_float(const Tensor *t, int64_t i)
{
  if (is_float_type(t->dtype))
    return ((const float *)t->data)[i];
  return (float)((const int64_t *)t->data)[i];
}

void fold_strided_copy(Tensor *out, const Tensor *in, int64_t in_offset, int rank,
                       const int *dims, const int *out_strides, const int *in_strides)
{
  int idx[MAX_RANK] = {0};
  int64_t count = 1;
  for (int k = 0; k < rank; k++)
    count *= dims[k];
  if (rank == 0 && !dims) // plain copy of the whole tensor
    count = tensor_count(out);
  int is_float = is_float_type(out->dtype);
  for (int64_t i = 0; i < count; i++) {
    int64_t o = 0, x = in_offset;
    if (rank == 0 && !dims) {
      o = x = i;
    }
    for (int k = 0; k < rank; k++) {
      o += (int64_t)idx[k] * out_strides[k];
      x += (int64_t)idx[k] * in_strides[k];
    }
    if (is_float)
      ((float *)out->data)[o] = const_float(in, x);
    else
      ((int64_t *)out->data)[o] = const_int(in, x);
    for (int k = rank - 1; k >= 0 && ++idx[k] == dims[k]; k--)
      idx[k] = 0;
  }
}

Tensor *new_const_like(Graph *g, const Tensor *like, const char *suffix, int rank,
                       const int64_t *dims)
{
  char name[512];
  Tensor *t = NULL;
  for (int i = 0; !t; i++) {
    snprintf(name, sizeof name, "%s_%s%s%.0d", like->name, suffix, i ? "_" : "", i);
    t = graph_add_tensor(g, name);
  }
  set_shape(t, DT_FLOAT, rank, dims);
  const_alloc(t);
  return t;
}

void node_set_input(Node *n, int i, Tensor *t)
{
  if (i >= n->ninputs) {
    Tensor **inputs = xcalloc((size_t)i + 2, sizeof(Tensor *));
    memcpy(inputs, n->inputs, (size_t)n->ninputs * sizeof(Tensor *));
    free(n->inputs);
    n->inputs = inputs;
    n->ninputs = i + 1;
  }
  n->inputs[i] = t;
}
