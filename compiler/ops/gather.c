/*
 * gather.c - Gather (opsets 1..13) with indices known at compile time.
 *
 * ONNX semantics: along `axis` (default 0, negative counts from the end),
 * y = data[..., indices[j...], ...]: the output's shape is data's dims
 * before axis, then indices' dims, then data's dims after axis. A scalar
 * index removes the axis (Gather(Shape(x), 0) is how PyTorch reads one
 * dimension). Negative indices count from the end of the axis; an index
 * outside [-len, len) is an error.
 *
 * Supported: constant indices of any integer type and rank. When data is
 * constant too (float or integer), the node folds; otherwise data must be
 * float32 and nn_gather_forward() copies rows, with the normalised
 * indices in a static int32_t array. Run-time indices (an embedding
 * lookup driven by an input) are not supported.
 */
#include "compiler.h"

#include <stdlib.h>

typedef struct {
  int outer;    // product of data's dims before axis
  int axis_len; // data->dims[axis]
  int count;    // number of indices
  int inner;    // product of data's dims after axis
} GatherParams;

// Index i of the indices input, made non-negative (check proved the range).
static int64_t index_at(const Node *n, int64_t i)
{
  const GatherParams *p = n->params;
  int64_t v = const_int(n->inputs[1], i);
  return v < 0 ? v + p->axis_len : v;
}

static int gather_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {"axis", NULL};
  int64_t axis;
  if (check_attrs_known(d, n, known) != 0 || attr_int(d, n, "axis", 0, &axis) != 0 ||
      require_inputs(d, n, 2, 2) != 0 || require_const(d, n, 1, "indices") != 0)
    return -1;
  Tensor *x = n->inputs[0], *ind = n->inputs[1], *y = n->outputs[0];
  CHECK(d, n, is_int_type(ind->dtype), "input '%s' (indices) has type %s, expected an integer type",
        ind->name, dtype_name(ind->dtype));
  if (!(x->kind == T_CONST && x->data) && require_float(d, n, 0) != 0)
    return -1;
  CHECK(d, n, x->rank >= 1, "input '%s' is a scalar; Gather needs rank >= 1", x->name);
  int a;
  if (normalize_axis(d, n, axis, x->rank, &a) != 0)
    return -1;
  int rank = x->rank - 1 + ind->rank;
  CHECK(d, n, rank <= MAX_RANK, "output rank %d is not supported (at most %d)", rank, MAX_RANK);
  int64_t len = x->dims[a], count = tensor_count(ind);
  for (int64_t i = 0; i < count; i++) {
    int64_t v = const_int(ind, i);
    CHECK(d, n, v >= -len && v < len,
          "indices[%lld] = %lld is out of range for axis %d of size %lld", (long long)i,
          (long long)v, a, (long long)len);
  }
  int64_t dims[MAX_RANK];
  int r = 0;
  for (int k = 0; k < a; k++)
    dims[r++] = x->dims[k];
  for (int k = 0; k < ind->rank; k++)
    dims[r++] = ind->dims[k];
  for (int k = a + 1; k < x->rank; k++)
    dims[r++] = x->dims[k];
  set_shape(y, x->dtype, rank, dims);

  free(n->params);
  GatherParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  int64_t outer = 1, inner = 1;
  for (int k = 0; k < a; k++)
    outer *= x->dims[k];
  for (int k = a + 1; k < x->rank; k++)
    inner *= x->dims[k];
  p->outer = (int)outer;
  p->axis_len = (int)len;
  p->count = (int)count;
  p->inner = (int)inner;
  return 0;
}

static int gather_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const GatherParams *p = n->params;
  const Tensor *x = n->inputs[0];
  Tensor *y = n->outputs[0];
  void *data = const_alloc(y);
  int64_t o = 0; // y is written in order
  for (int64_t b = 0; b < p->outer; b++)
    for (int64_t i = 0; i < p->count; i++) {
      int64_t src = (b * p->axis_len + index_at(n, i)) * p->inner;
      for (int64_t j = 0; j < p->inner; j++, o++) {
        if (is_float_type(y->dtype))
          ((float *)data)[o] = const_float(x, src + j);
        else
          ((int64_t *)data)[o] = const_int(x, src + j);
      }
    }
  return 0;
}

static void gather_emit(Emitter *e, const Node *n)
{
  const GatherParams *p = n->params;
  const Tensor *y = n->outputs[0];
  if (tensor_count(y) == 0) {
    emitf(e, "  /* '%s' is empty: nothing to gather */\n", y->name);
    return;
  }
  emit_open_block(e, n);
  emitf(e, "    static const int32_t indices[%d] = {", p->count);
  for (int i = 0; i < p->count; i++)
    emitf(e, "%s%lld", i == 0 ? "" : i % 16 ? ", " : ",\n        ", (long long)index_at(n, i));
  emitf(e, "};\n");
  emitf(e, "    nn_gather_forward(%s, %s, indices, %d, %d, %d, %d);\n", emit_ref(y),
        emit_ref(n->inputs[0]), p->outer, p->axis_len, p->count, p->inner);
  emit_close_block(e);
}

const OpDef op_Gather = {.name = "Gather", .check = gather_check, .fold = gather_fold,
                         .emit = gather_emit};
