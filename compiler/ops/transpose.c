/*
 * transpose.c - Transpose with `perm` (default: reversed dims), as one
 * strided copy: y is written densely, x is read through its strides
 * permuted. Adjacent dims that stay in order merge first, so NHWC <-> NCHW
 * becomes a rank-3 copy. Folds for constants (tf2onnx transposes weights).
 */
#include "compiler.h"

typedef struct {
  int rank;
  int dims[MAX_RANK], y_strides[MAX_RANK], x_strides[MAX_RANK];
} TransposeParams;

static int transpose_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {"perm", NULL};
  int64_t perm[MAX_RANK];
  int np;
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0 ||
      attr_ints(d, n, "perm", perm, MAX_RANK, &np) != 0)
    return -1;
  Tensor *x = n->inputs[0];
  if (x->kind != T_CONST && require_float(d, n, 0) != 0)
    return -1;
  if (np < 0) {
    np = x->rank;
    for (int k = 0; k < np; k++)
      perm[k] = np - 1 - k;
  }
  CHECK(d, n, np == x->rank, "perm has %d values for an input of rank %d", np, x->rank);
  int seen[MAX_RANK] = {0};
  for (int k = 0; k < np; k++) {
    CHECK(d, n, perm[k] >= 0 && perm[k] < np && !seen[perm[k]], "perm is not a permutation");
    seen[perm[k]] = 1;
  }
  TransposeParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  int xs[MAX_RANK];
  dense_strides(x, xs);
  int64_t dims[MAX_RANK];
  for (int k = 0; k < np; k++) {
    dims[k] = x->dims[perm[k]];
    p->dims[k] = (int)dims[k];
    p->x_strides[k] = xs[perm[k]];
  }
  set_shape(n->outputs[0], x->dtype, np, dims);
  dense_strides(n->outputs[0], p->y_strides);
  int *strides[2] = {p->y_strides, p->x_strides};
  p->rank = merge_dims(np, p->dims, 2, strides);
  return 0;
}

static void transpose_emit(Emitter *e, const Node *n)
{
  const TransposeParams *p = n->params;
  emit_strided(e, "nn_copy_strided", emit_ref(n->outputs[0]), emit_ref(n->inputs[0]), p->rank,
               p->dims, p->y_strides, p->x_strides);
}

// y[idx . y_strides] = x[idx . x_strides], so dx[idx . x_strides] += dy[idx . y_strides].
static void transpose_backward(Emitter *e, const Node *n)
{
  const TransposeParams *p = n->params;
  if (!n->inputs[0]->grad)
    return;
  emit_strided(e, "nn_add_strided", emit_grad(n->inputs[0]), emit_grad(n->outputs[0]), p->rank,
               p->dims, p->x_strides, p->y_strides);
}

static int transpose_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const TransposeParams *p = n->params;
  const_alloc(n->outputs[0]);
  fold_strided_copy(n->outputs[0], n->inputs[0], 0, p->rank, p->dims, p->y_strides,
                    p->x_strides);
  return 0;
}

const OpDef op_Transpose = {.name = "Transpose", .check = transpose_check,
                            .fold = transpose_fold, .emit = transpose_emit,
                            .emit_backward = transpose_backward};
