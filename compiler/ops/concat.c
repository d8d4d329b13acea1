/*
 * concat.c - Concat and Split, inverse block copies along one axis.
 *
 * Concat (opsets 4..13): inputs of equal rank whose dims agree except on
 * `axis` (required; negative counts from the end) are joined along it.
 * Inputs with zero elements add nothing and get no code (a 1-D empty
 * input, which old exporters write, is accepted whatever the rank).
 *
 * Split (opsets 2..17): the input is cut along `axis` (default 0) into
 * one piece per output, of the sizes in `split` (an attribute before
 * opset 13, an optional constant input from 13) or, without it, of equal
 * sizes (the axis must divide evenly). Outputs that nobody reads get no
 * code. The opset 18 num_outputs attribute is not supported.
 *
 * Each piece is one nn_copy_strided between the whole small tensor and a
 * sub-block of the big one (pointer + offset of the piece along the
 * axis, the big tensor's strides). Integer shape tensors, which PyTorch
 * concatenates in its shape subgraphs, fold through the same dims and
 * strides.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

static int is_const(const Tensor *t)
{
  return t->kind == T_CONST && t->data;
}

// The copy of `small` (dense) to or from its block in `big`, which starts
// `axis_start` along `axis`: dims are small's, strides are each tensor's
// own dense strides. Returns the block's offset in big, in elements.
static int64_t block_layout(const Tensor *small, const Tensor *big, int axis,
                            int64_t axis_start, int *dims, int *small_strides,
                            int *big_strides)
{
  for (int k = 0; k < small->rank; k++)
    dims[k] = (int)small->dims[k];
  dense_strides(small, small_strides);
  dense_strides(big, big_strides);
  return axis_start * big_strides[axis];
}

// A copy of t whose data starts `offset` elements later: the output
// block that fold_strided_copy() writes through (it only offsets input).
static Tensor data_view(const Tensor *t, int64_t offset)
{
  Tensor v = *t;
  v.data = is_float_type(t->dtype) ? (void *)((float *)t->data + offset)
                                   : (void *)((int64_t *)t->data + offset);
  return v;
}

//
// Concat
//

typedef struct {
  int axis;
} ConcatParams;

// An input that contributes nothing: zero elements.
static int is_empty(const Tensor *t)
{
  return tensor_count(t) == 0;
}

static int concat_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {"axis", NULL};
  int64_t axis;
  if (check_attrs_known(d, n, known) != 0 || attr_int(d, n, "axis", INT64_MIN, &axis) != 0 ||
      require_inputs(d, n, 1, 1 << 20) != 0)
    return -1;
  CHECK(d, n, axis != INT64_MIN, "attribute 'axis' is required");
  // The first non-empty input fixes the rank and the other dims.
  Tensor *first = n->inputs[0];
  int all_const = 1;
  for (int i = 0; i < n->ninputs; i++) {
    Tensor *t = n->inputs[i];
    CHECK(d, n, t, "input %d is missing", i);
    all_const &= is_const(t);
    if (is_empty(first) && !is_empty(t))
      first = t;
  }
  if (!all_const)
    for (int i = 0; i < n->ninputs; i++)
      if (require_float(d, n, i) != 0)
        return -1;
  int a;
  if (normalize_axis(d, n, axis, first->rank, &a) != 0)
    return -1;
  int64_t dims[MAX_RANK];
  memcpy(dims, first->dims, sizeof dims);
  dims[a] = 0;
  for (int i = 0; i < n->ninputs; i++) {
    Tensor *t = n->inputs[i];
    if (is_empty(t) && (t->rank == 1 || t->rank != first->rank))
      continue;
    char s1[96], s2[96];
    int same = t->rank == first->rank;
    for (int k = 0; k < t->rank && same; k++)
      same = k == a || t->dims[k] == first->dims[k];
    CHECK(d, n, same, "input '%s' %s does not match '%s' %s outside axis %d", t->name,
          shape_str(t, s1, sizeof s1), first->name, shape_str(first, s2, sizeof s2), a);
    CHECK(d, n, is_int_type(t->dtype) == is_int_type(first->dtype),
          "input '%s' has type %s but '%s' has type %s", t->name, dtype_name(t->dtype),
          first->name, dtype_name(first->dtype));
    dims[a] += t->dims[a];
  }
  set_shape(n->outputs[0], first->dtype, first->rank, dims);
  free(n->params);
  ConcatParams *p = xcalloc(1, sizeof *p);
  p->axis = a;
  n->params = p;
  return 0;
}

static int concat_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const ConcatParams *p = n->params;
  Tensor *y = n->outputs[0];
  const_alloc(y);
  int64_t start = 0;
  for (int i = 0; i < n->ninputs; i++) {
    const Tensor *x = n->inputs[i];
    if (is_empty(x))
      continue;
    int dims[MAX_RANK], xs[MAX_RANK], ys[MAX_RANK];
    int64_t offset = block_layout(x, y, p->axis, start, dims, xs, ys);
    Tensor block = data_view(y, offset);
    fold_strided_copy(&block, x, 0, x->rank, dims, ys, xs);
    start += x->dims[p->axis];
  }
  return 0;
}

static void concat_emit(Emitter *e, const Node *n)
{
  const ConcatParams *p = n->params;
  const Tensor *y = n->outputs[0];
  int64_t start = 0;
  for (int i = 0; i < n->ninputs; i++) {
    const Tensor *x = n->inputs[i];
    if (is_empty(x)) {
      emitf(e, "  /* input '%s' is empty */\n", x->name);
      continue;
    }
    int dims[MAX_RANK], xs[MAX_RANK], ys[MAX_RANK];
    int64_t offset = block_layout(x, y, p->axis, start, dims, xs, ys);
    char yref[300];
    emit_strided(e, "nn_copy_strided", emit_offset(yref, sizeof yref, emit_ref(y), offset),
                 emit_ref(x), x->rank, dims, ys, xs);
    start += x->dims[p->axis];
  }
}

// Each input's gradient is its block of dy: dx_i += dy[block i].
static void concat_backward(Emitter *e, const Node *n)
{
  const ConcatParams *p = n->params;
  const Tensor *y = n->outputs[0];
  int64_t start = 0;
  for (int i = 0; i < n->ninputs; i++) {
    const Tensor *x = n->inputs[i];
    int dims[MAX_RANK], xs[MAX_RANK], ys[MAX_RANK];
    int64_t offset = block_layout(x, y, p->axis, start, dims, xs, ys);
    start += x->dims[p->axis];
    if (!x->grad || is_empty(x))
      continue;
    char dyref[300];
    emit_strided(e, "nn_add_strided", emit_grad(x),
                 emit_offset(dyref, sizeof dyref, emit_grad(y), offset), x->rank, dims, xs, ys);
  }
}

//
// Split
//

typedef struct {
  int axis;
  int64_t starts[]; // where output k begins along axis, one per output
} SplitParams;

static int split_check(Diag *d, Graph *g, Node *n)
{
  int64_t axis;
  int64_t *sizes = xcalloc((size_t)n->noutputs + 1, sizeof(int64_t));
  int nsizes = -1, rc = -1;
  Tensor *x = n->inputs[0];
  if (g->opset < 13) {
    const char *known[] = {"axis", "split", NULL};
    if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0)
      goto out;
    const Attr *a = node_attr(n, "split");
    if (a) {
      if (a->type != A_INTS) {
        diag_node(d, n, "attribute 'split' must be a list of ints");
        goto out;
      }
      nsizes = a->count;
      if (nsizes == n->noutputs)
        memcpy(sizes, a->ints, (size_t)nsizes * sizeof(int64_t));
    }
  } else {
    const char *known[] = {"axis", NULL};
    if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 2) != 0 ||
        require_const(d, n, 1, "split") != 0)
      goto out;
    Tensor *s = node_input(n, 1);
    if (s) {
      if (!is_int_type(s->dtype) || s->rank != 1) {
        diag_node(d, n, "input '%s' (split) must be a 1-D integer tensor", s->name);
        goto out;
      }
      nsizes = (int)s->dims[0];
      for (int k = 0; k < nsizes && nsizes == n->noutputs; k++)
        sizes[k] = const_int(s, k);
    }
  }
  if (attr_int(d, n, "axis", 0, &axis) != 0 || (!is_const(x) && require_float(d, n, 0) != 0))
    goto out;
  int a;
  if (normalize_axis(d, n, axis, x->rank, &a) != 0)
    goto out;
  int64_t len = x->dims[a];
  if (nsizes < 0) {
    if (n->noutputs < 1 || len % n->noutputs != 0) {
      diag_node(d, n, "axis %d of size %lld does not split into %d equal parts", a,
                (long long)len, n->noutputs);
      goto out;
    }
    for (int k = 0; k < n->noutputs; k++)
      sizes[k] = len / n->noutputs;
  } else if (nsizes != n->noutputs) {
    diag_node(d, n, "split has %d sizes for %d outputs", nsizes, n->noutputs);
    goto out;
  }
  int64_t total = 0;
  for (int k = 0; k < n->noutputs; k++) {
    if (sizes[k] < 0 || sizes[k] > len) {
      diag_node(d, n, "split[%d] = %lld is %s", k, (long long)sizes[k],
                sizes[k] < 0 ? "negative" : "larger than the axis");
      goto out;
    }
    total += sizes[k];
  }
  if (total != len) {
    diag_node(d, n, "split sizes add up to %lld, but axis %d has size %lld", (long long)total, a,
              (long long)len);
    goto out;
  }
  free(n->params);
  SplitParams *p = xcalloc(1, sizeof *p + (size_t)n->noutputs * sizeof(int64_t));
  n->params = p;
  p->axis = a;
  int64_t start = 0;
  for (int k = 0; k < n->noutputs; k++) {
    p->starts[k] = start;
    start += sizes[k];
    Tensor *y = n->outputs[k];
    if (!y)
      continue;
    int64_t dims[MAX_RANK];
    memcpy(dims, x->dims, sizeof dims);
    dims[a] = sizes[k];
    set_shape(y, x->dtype, x->rank, dims);
  }
  rc = 0;
out:
  free(sizes);
  return rc;
}

static int split_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const SplitParams *p = n->params;
  const Tensor *x = n->inputs[0];
  for (int k = 0; k < n->noutputs; k++) {
    Tensor *y = n->outputs[k];
    if (!y)
      continue;
    const_alloc(y);
    int dims[MAX_RANK], ys[MAX_RANK], xs[MAX_RANK];
    int64_t offset = block_layout(y, x, p->axis, p->starts[k], dims, ys, xs);
    fold_strided_copy(y, x, offset, y->rank, dims, ys, xs);
  }
  return 0;
}

static void split_emit(Emitter *e, const Node *n)
{
  const SplitParams *p = n->params;
  const Tensor *x = n->inputs[0];
  for (int k = 0; k < n->noutputs; k++) {
    const Tensor *y = n->outputs[k];
    if (!y || (y->nuses == 0 && y->output_index < 0)) // nobody reads it: no storage
      continue;
    if (tensor_count(y) == 0) {
      emitf(e, "  /* output '%s' is empty */\n", y->name);
      continue;
    }
    int dims[MAX_RANK], ys[MAX_RANK], xs[MAX_RANK];
    int64_t offset = block_layout(y, x, p->axis, p->starts[k], dims, ys, xs);
    char xref[300];
    emit_strided(e, "nn_copy_strided", emit_ref(y),
                 emit_offset(xref, sizeof xref, emit_ref(x), offset), y->rank, dims, ys, xs);
  }
}

// dx[block k] += dy_k for every output that has a gradient.
static void split_backward(Emitter *e, const Node *n)
{
  const SplitParams *p = n->params;
  const Tensor *x = n->inputs[0];
  if (!x->grad)
    return;
  for (int k = 0; k < n->noutputs; k++) {
    const Tensor *y = n->outputs[k];
    if (!y || !y->grad || tensor_count(y) == 0)
      continue;
    int dims[MAX_RANK], ys[MAX_RANK], xs[MAX_RANK];
    int64_t offset = block_layout(y, x, p->axis, p->starts[k], dims, ys, xs);
    char dxref[300];
    emit_strided(e, "nn_add_strided", emit_offset(dxref, sizeof dxref, emit_grad(x), offset),
                 emit_grad(y), y->rank, dims, xs, ys);
  }
}

const OpDef op_Concat = {.name = "Concat", .check = concat_check, .fold = concat_fold,
                         .emit = concat_emit, .emit_backward = concat_backward};
const OpDef op_Split = {.name = "Split", .check = split_check, .fold = split_fold,
                        .emit = split_emit, .emit_backward = split_backward};
