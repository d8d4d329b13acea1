/*
 * views.c - operators that only reinterpret their input's shape: Reshape
 * (0 copies a dimension, -1 is inferred; allowzero from opset 14), Flatten,
 * Squeeze, Unsqueeze (axes as attribute before opset 13, as a constant
 * input from 13), Identity and Dropout (inference: identity; a Dropout in
 * training mode drops at random, so it is refused unless --eval asks for
 * model.eval() behaviour).
 *
 * They cost nothing at run time: the planner makes the output an alias of
 * the input (OP_VIEW), so emission writes a copy only when the storage
 * differs (the output is a graph output). Their fold copies the data, so
 * they take part in constant shape subgraphs.
 */
#include "compiler.h"

#include <string.h>

static int finish(Diag *d, Node *n, int rank, const int64_t *dims)
{
  Tensor *x = n->inputs[0], *y = n->outputs[0];
  CHECK(d, n, rank >= 0 && rank <= MAX_RANK, "output rank %d is not supported (at most %d)",
        rank, MAX_RANK);
  set_shape(y, x->dtype, rank, dims);
  int64_t count = tensor_count(y);
  CHECK(d, n, count == tensor_count(x), "cannot view %lld elements as %lld",
        (long long)tensor_count(x), (long long)count);
  return 0;
}

static int reshape_check(Diag *d, Graph *g, Node *n)
{
  const char *known[] = {"allowzero", "shape", NULL};
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 2) != 0)
    return -1;
  int64_t allowzero = 0;
  if (attr_int(d, n, "allowzero", 0, &allowzero) != 0)
    return -1;
  Tensor *x = n->inputs[0];
  int64_t shape[MAX_RANK];
  int rank;
  if (g->opset < 5) {
    if (attr_ints(d, n, "shape", shape, MAX_RANK, &rank) != 0)
      return -1;
    CHECK(d, n, rank >= 0, "attribute 'shape' is missing");
  } else {
    if (require_inputs(d, n, 2, 2) != 0 || require_const(d, n, 1, "shape") != 0)
      return -1;
    Tensor *s = n->inputs[1];
    CHECK(d, n, is_int_type(s->dtype) && s->rank == 1, "input 'shape' must be a 1-D int64 tensor");
    rank = (int)s->dims[0];
    CHECK(d, n, rank <= MAX_RANK, "output rank %d is not supported (at most %d)", rank, MAX_RANK);
    for (int k = 0; k < rank; k++)
      shape[k] = const_int(s, k);
  }
  int64_t known_count = 1;
  int infer = -1;
  for (int k = 0; k < rank; k++) {
    if (shape[k] == 0 && !allowzero) {
      CHECK(d, n, k < x->rank, "shape[%d] = 0 copies a dimension the input does not have", k);
      shape[k] = x->dims[k];
    }
    if (shape[k] == -1) {
      CHECK(d, n, infer < 0, "shape has more than one -1");
      infer = k;
      continue;
    }
    CHECK(d, n, shape[k] >= 0, "shape[%d] = %lld is negative", k, (long long)shape[k]);
    known_count = checked_mul(known_count, shape[k]);
    CHECK(d, n, known_count >= 0, "shape[%d] = %lld makes the element count overflow", k,
          (long long)shape[k]);
  }
  if (infer >= 0) {
    int64_t total = tensor_count(x);
    CHECK(d, n, known_count > 0 && total % known_count == 0,
          "cannot infer the -1 in the shape: %lld elements do not divide by %lld",
          (long long)total, (long long)known_count);
    shape[infer] = total / known_count;
  }
  return finish(d, n, rank, shape);
}

static int flatten_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {"axis", NULL};
  int64_t axis;
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0 ||
      attr_int(d, n, "axis", 1, &axis) != 0)
    return -1;
  Tensor *x = n->inputs[0];
  CHECK(d, n, axis >= -x->rank && axis <= x->rank, "axis %lld is out of range for rank %d",
        (long long)axis, x->rank);
  if (axis < 0)
    axis += x->rank;
  int64_t dims[2] = {1, 1};
  for (int k = 0; k < x->rank; k++)
    dims[k < axis ? 0 : 1] *= x->dims[k];
  return finish(d, n, 2, dims);
}

// Axes from the attribute (opset < 13) or the constant second input.
static int squeeze_axes(Diag *d, Graph *g, Node *n, int64_t *axes, int *count)
{
  if (require_inputs(d, n, 1, g->opset < 13 ? 1 : 2) != 0)
    return -1;
  if (g->opset < 13) {
    const char *known[] = {"axes", NULL};
    if (check_attrs_known(d, n, known) != 0)
      return -1;
    return attr_ints(d, n, "axes", axes, MAX_RANK, count);
  }
  const char *known[] = {NULL};
  if (check_attrs_known(d, n, known) != 0)
    return -1;
  *count = -1;
  Tensor *t = node_input(n, 1);
  if (!t)
    return 0;
  if (require_const(d, n, 1, "axes") != 0)
    return -1;
  CHECK(d, n, tensor_count(t) <= MAX_RANK, "too many axes");
  *count = (int)tensor_count(t);
  for (int k = 0; k < *count; k++)
    axes[k] = const_int(t, k);
  return 0;
}

static int squeeze_check(Diag *d, Graph *g, Node *n)
{
  int64_t axes[MAX_RANK];
  int count;
  if (squeeze_axes(d, g, n, axes, &count) != 0)
    return -1;
  Tensor *x = n->inputs[0];
  int drop[MAX_RANK] = {0};
  for (int i = 0; i < count; i++) {
    int a;
    if (normalize_axis(d, n, axes[i], x->rank, &a) != 0)
      return -1;
    CHECK(d, n, x->dims[a] == 1, "cannot squeeze axis %d of size %lld", a, (long long)x->dims[a]);
    drop[a] = 1;
  }
  int64_t dims[MAX_RANK];
  int rank = 0;
  for (int k = 0; k < x->rank; k++)
    if (!(count < 0 ? x->dims[k] == 1 : drop[k]))
      dims[rank++] = x->dims[k];
  return finish(d, n, rank, dims);
}

static int unsqueeze_check(Diag *d, Graph *g, Node *n)
{
  int64_t axes[MAX_RANK];
  int count;
  if (squeeze_axes(d, g, n, axes, &count) != 0)
    return -1;
  Tensor *x = n->inputs[0];
  CHECK(d, n, count >= 0, "axes are missing");
  int rank = x->rank + count;
  CHECK(d, n, rank <= MAX_RANK, "output rank %d is not supported (at most %d)", rank, MAX_RANK);
  int add[MAX_RANK] = {0};
  for (int i = 0; i < count; i++) {
    int a;
    if (normalize_axis(d, n, axes[i], rank, &a) != 0)
      return -1;
    CHECK(d, n, !add[a], "axis %d is repeated", a);
    add[a] = 1;
  }
  int64_t dims[MAX_RANK];
  for (int k = 0, j = 0; k < rank; k++)
    dims[k] = add[k] ? 1 : x->dims[j++];
  return finish(d, n, rank, dims);
}

static int identity_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {NULL};
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0)
    return -1;
  return finish(d, n, n->inputs[0]->rank, n->inputs[0]->dims);
}

static int dropout_check(Diag *d, Graph *g, Node *n)
{
  const char *known[] = {"ratio", "seed", "is_test", NULL};
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 3) != 0)
    return -1;
  Tensor *mode = node_input(n, 2);
  if (mode && !g->eval_mode) {
    if (require_const(d, n, 2, "training_mode") != 0)
      return -1;
    if (const_int(mode, 0)) {
      diag_node(d, n, "training_mode is true: dropout at random is not supported; onnxcc "
                      "compiles for inference");
      diag_note(d, "export with model.eval(), or compile with --eval to treat it as the "
                   "identity as model.eval() does");
      return -1;
    }
  }
  // The mask output (all true in inference) is not computed.
  if (n->noutputs > 1 && n->outputs[1]) {
    int64_t dims[MAX_RANK];
    memcpy(dims, n->inputs[0]->dims, sizeof dims);
    set_shape(n->outputs[1], DT_BOOL, n->inputs[0]->rank, dims);
  }
  return finish(d, n, n->inputs[0]->rank, n->inputs[0]->dims);
}

static int view_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const_alloc(n->outputs[0]);
  fold_strided_copy(n->outputs[0], n->inputs[0], 0, 0, NULL, NULL, NULL);
  if (n->noutputs > 1 && n->outputs[1]) { // Dropout's mask: all ones
    int64_t *mask = const_alloc(n->outputs[1]);
    for (int64_t i = 0; i < tensor_count(n->outputs[1]); i++)
      mask[i] = 1;
  }
  return 0;
}

static void view_emit(Emitter *e, const Node *n)
{
  const char *y = emit_ref(n->outputs[0]), *x = emit_ref(n->inputs[0]);
  if (strcmp(y, x))
    emitf(e, "  nn_copy(%s, %s, %lld);\n", y, x, (long long)tensor_count(n->outputs[0]));
  else
    emitf(e, "  /* a view: '%s' shares the storage of '%s' */\n", n->outputs[0]->name,
          n->inputs[0]->name);
}

// The gradient of a view is the gradient of its input, reshaped: dx += dy.
static void view_backward(Emitter *e, const Node *n)
{
  if (n->inputs[0]->grad)
    emitf(e, "  nn_add(%s, %s, %lld);\n", emit_grad(n->inputs[0]), emit_grad(n->outputs[0]),
          (long long)tensor_count(n->outputs[0]));
}

#define VIEW_OP(NAME, CHECK_FN)                                                \
  const OpDef op_##NAME = {.name = #NAME, .check = CHECK_FN, .fold = view_fold,            \
                           .emit = view_emit, .emit_backward = view_backward, .flags = OP_VIEW};
VIEW_OP(Reshape, reshape_check)
VIEW_OP(Flatten, flatten_check)
VIEW_OP(Squeeze, squeeze_check)
VIEW_OP(Unsqueeze, unsqueeze_check)
VIEW_OP(Identity, identity_check)
VIEW_OP(Dropout, dropout_check)
