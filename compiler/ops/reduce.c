/*
 * reduce.c - the Reduce* family: ReduceMean, ReduceSum, ReduceMax,
 * ReduceMin, ReduceProd, ReduceSumSquare, ReduceL1, ReduceL2,
 * ReduceLogSum and ReduceLogSumExp.
 *
 * ONNX semantics: the input is reduced over `axes` (negative counts from
 * the end; repeats are harmless); without axes, over every axis. With
 * keepdims (default 1) a reduced axis stays as size 1, else it is dropped.
 * The axes are an attribute, except for ReduceSum from opset 13 (and every
 * Reduce op from opset 18), where they are an optional input that must be
 * a compile-time constant; those versions also have noop_with_empty_axes:
 * with it set and no axes, the op is the identity.
 *
 * x's dims split into a kept space and a reduced space, each with x's
 * strides; nn_reduce_forward() walks both. Float constants fold through
 * the same kernel; integer constants fold with a small loop (Sum, Mean
 * (truncating), Max, Min, Prod, SumSquare, L1; the others are rejected for
 * integers). At run time x must be float32.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *op;
  nn_reduce_op rop;
  const char *cname; // the enum constant in generated code
  int int_ok;        // integer constants fold
} ReduceDef;

static const ReduceDef reduce_defs[] = {
    {"ReduceSum", NN_REDUCE_SUM, "NN_REDUCE_SUM", 1},
    {"ReduceMean", NN_REDUCE_MEAN, "NN_REDUCE_MEAN", 1},
    {"ReduceMax", NN_REDUCE_MAX, "NN_REDUCE_MAX", 1},
    {"ReduceMin", NN_REDUCE_MIN, "NN_REDUCE_MIN", 1},
    {"ReduceProd", NN_REDUCE_PROD, "NN_REDUCE_PROD", 1},
    {"ReduceSumSquare", NN_REDUCE_SUM_SQUARE, "NN_REDUCE_SUM_SQUARE", 1},
    {"ReduceL1", NN_REDUCE_L1, "NN_REDUCE_L1", 1},
    {"ReduceL2", NN_REDUCE_L2, "NN_REDUCE_L2", 0},
    {"ReduceLogSum", NN_REDUCE_LOG_SUM, "NN_REDUCE_LOG_SUM", 0},
    {"ReduceLogSumExp", NN_REDUCE_LOG_SUM_EXP, "NN_REDUCE_LOG_SUM_EXP", 0},
};

static const ReduceDef *find_def(const char *op)
{
  for (size_t i = 0; i < sizeof reduce_defs / sizeof reduce_defs[0]; i++)
    if (!strcmp(reduce_defs[i].op, op))
      return &reduce_defs[i];
  return NULL;
}

typedef struct {
  const ReduceDef *def;
  int noop;                  // noop_with_empty_axes and no axes: y = x
  int keep_rank, red_rank;
  int keep_dims[MAX_RANK], keep_strides[MAX_RANK]; // strides into x
  int red_dims[MAX_RANK], red_strides[MAX_RANK];
} ReduceParams;

// The axes to reduce: from the attribute or, in the versions that have
// it, the constant second input. count = -1 when absent.
static int read_axes(Diag *d, Graph *g, Node *n, int64_t *axes, int *count, int64_t *noop)
{
  int from_input = !strcmp(n->op_type, "ReduceSum") ? g->opset >= 13 : g->opset >= 18;
  *noop = 0;
  if (!from_input) {
    const char *known[] = {"axes", "keepdims", NULL};
    if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0)
      return -1;
    return attr_ints(d, n, "axes", axes, MAX_RANK, count);
  }
  const char *known[] = {"keepdims", "noop_with_empty_axes", NULL};
  if (check_attrs_known(d, n, known) != 0 ||
      attr_int(d, n, "noop_with_empty_axes", 0, noop) != 0 || require_inputs(d, n, 1, 2) != 0 ||
      require_const(d, n, 1, "axes") != 0)
    return -1;
  *count = -1;
  Tensor *t = node_input(n, 1);
  if (!t)
    return 0;
  CHECK(d, n, is_int_type(t->dtype) && t->rank <= 1,
        "input '%s' (axes) must be a 1-D integer tensor", t->name);
  int64_t c = tensor_count(t);
  CHECK(d, n, c <= MAX_RANK, "input '%s' (axes) has %lld values, at most %d are supported",
        t->name, (long long)c, MAX_RANK);
  *count = (int)c;
  for (int k = 0; k < *count; k++)
    axes[k] = const_int(t, k);
  return 0;
}

static int reduce_check(Diag *d, Graph *g, Node *n)
{
  const ReduceDef *def = find_def(n->op_type);
  int64_t axes[MAX_RANK], keepdims, noop;
  int naxes;
  if (read_axes(d, g, n, axes, &naxes, &noop) != 0 ||
      attr_int(d, n, "keepdims", 1, &keepdims) != 0)
    return -1;
  Tensor *x = n->inputs[0], *y = n->outputs[0];
  int is_const = x->kind == T_CONST && x->data;
  if (!is_const && require_float(d, n, 0) != 0)
    return -1;
  CHECK(d, n, is_float_type(x->dtype) || def->int_ok,
        "%s of integer tensors is not supported", n->op_type);

  free(n->params);
  ReduceParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  p->def = def;
  int reduced[MAX_RANK] = {0};
  if (naxes <= 0) {
    p->noop = noop != 0;
    for (int k = 0; k < x->rank; k++)
      reduced[k] = !p->noop;
  }
  for (int i = 0; i < naxes; i++) {
    int a;
    if (normalize_axis(d, n, axes[i], x->rank, &a) != 0)
      return -1;
    reduced[a] = 1;
  }
  int strides[MAX_RANK];
  dense_strides(x, strides);
  int64_t dims[MAX_RANK];
  int rank = 0;
  for (int k = 0; k < x->rank; k++) {
    if (reduced[k]) {
      p->red_dims[p->red_rank] = (int)x->dims[k];
      p->red_strides[p->red_rank++] = strides[k];
      if (keepdims)
        dims[rank++] = 1;
    } else {
      p->keep_dims[p->keep_rank] = (int)x->dims[k];
      p->keep_strides[p->keep_rank++] = strides[k];
      dims[rank++] = x->dims[k];
    }
  }
  set_shape(y, x->dtype, rank, dims);
  return 0;
}

// Offset in x of the linear index i of a space with these dims/strides.
static int64_t offset_of(int64_t i, int rank, const int *dims, const int *strides)
{
  int64_t off = 0;
  for (int k = rank - 1; k >= 0; k--) {
    off += (i % dims[k]) * strides[k];
    i /= dims[k];
  }
  return off;
}

static int64_t space_count(int rank, const int *dims)
{
  int64_t count = 1;
  for (int k = 0; k < rank; k++)
    count *= dims[k];
  return count;
}

// Wraps around on overflow, as numpy's integer arithmetic does (in uint64_t: defined C).
static int64_t int_reduce(nn_reduce_op op, int64_t acc, int64_t v)
{
  uint64_t a = (uint64_t)acc, u = (uint64_t)v, r;
  switch (op) {
  case NN_REDUCE_MAX: return v > acc ? v : acc;
  case NN_REDUCE_MIN: return v < acc ? v : acc;
  case NN_REDUCE_PROD: r = a * u; break;
  case NN_REDUCE_SUM_SQUARE: r = a + u * u; break;
  case NN_REDUCE_L1: r = a + (v < 0 ? 0 - u : u); break;
  default: r = a + u; break;
  }
  return r <= INT64_MAX ? (int64_t)r : -(int64_t)(~r) - 1;
}

static int reduce_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const ReduceParams *p = n->params;
  const Tensor *x = n->inputs[0];
  Tensor *y = n->outputs[0];
  void *data = const_alloc(y);
  if (p->noop) {
    fold_strided_copy(y, x, 0, 0, NULL, NULL, NULL);
    return 0;
  }
  if (is_float_type(y->dtype)) {
    nn_reduce_forward(data, x->data, p->def->rop, p->keep_rank, p->keep_dims, p->keep_strides,
                      p->red_rank, p->red_dims, p->red_strides);
    return 0;
  }
  nn_reduce_op op = p->def->rop;
  int64_t keep = space_count(p->keep_rank, p->keep_dims);
  int64_t red = space_count(p->red_rank, p->red_dims);
  for (int64_t o = 0; o < keep; o++) {
    int64_t base = offset_of(o, p->keep_rank, p->keep_dims, p->keep_strides);
    int64_t acc = op == NN_REDUCE_MAX ? INT64_MIN : op == NN_REDUCE_MIN ? INT64_MAX
                : op == NN_REDUCE_PROD ? 1 : 0;
    for (int64_t r = 0; r < red; r++)
      acc = int_reduce(op, acc, const_int(x, base + offset_of(r, p->red_rank, p->red_dims,
                                                                 p->red_strides)));
    if (op == NN_REDUCE_MEAN)
      acc = red ? acc / red : 0;
    ((int64_t *)data)[o] = acc;
  }
  return 0;
}

// Opens n's block with the merged kept and reduced dims and strides as
// static arrays; returns the merged ranks through keep_rank and red_rank.
static void emit_reduce_spaces(Emitter *e, const Node *n, int *keep_rank, int *red_rank)
{
  const ReduceParams *p = n->params;
  int kd[MAX_RANK], ks[MAX_RANK], rd[MAX_RANK], rs[MAX_RANK];
  memcpy(kd, p->keep_dims, sizeof kd);
  memcpy(ks, p->keep_strides, sizeof ks);
  memcpy(rd, p->red_dims, sizeof rd);
  memcpy(rs, p->red_strides, sizeof rs);
  // y is dense in the kept space's order, so merging kept dims that are
  // contiguous in x keeps the walk the same; likewise for the reduced ones.
  int *kstrides[1] = {ks}, *rstrides[1] = {rs};
  *keep_rank = merge_dims(p->keep_rank, kd, 1, kstrides);
  *red_rank = merge_dims(p->red_rank, rd, 1, rstrides);
  emit_open_block(e, n);
  emit_int_array(e, "keep_dims", kd, *keep_rank);
  emit_int_array(e, "keep_strides", ks, *keep_rank);
  emit_int_array(e, "red_dims", rd, *red_rank);
  emit_int_array(e, "red_strides", rs, *red_rank);
}

static void reduce_emit(Emitter *e, const Node *n)
{
  const ReduceParams *p = n->params;
  const Tensor *y = n->outputs[0];
  if (p->noop) {
    emitf(e, "  nn_copy(%s, %s, %lld);\n", emit_ref(y), emit_ref(n->inputs[0]),
          (long long)tensor_count(y));
    return;
  }
  if (tensor_count(y) == 0) {
    emitf(e, "  /* '%s' is empty: nothing to reduce */\n", y->name);
    return;
  }
  int keep_rank, red_rank;
  emit_reduce_spaces(e, n, &keep_rank, &red_rank);
  emitf(e, "    nn_reduce_forward(%s, %s, %s, %d, keep_dims, keep_strides, %d, red_dims, "
           "red_strides);\n",
        emit_ref(y), emit_ref(n->inputs[0]), p->def->cname, keep_rank, red_rank);
  emit_close_block(e);
}

// dx += the gradient of each reduction (nn.h lists them) through the same
// walk as the forward; the identity (noop) passes dy through.
static void reduce_backward(Emitter *e, const Node *n)
{
  const ReduceParams *p = n->params;
  const Tensor *x = n->inputs[0], *y = n->outputs[0];
  if (!x->grad || tensor_count(x) == 0)
    return;
  if (p->noop) {
    emitf(e, "  nn_add(%s, %s, %lld);\n", emit_grad(x), emit_grad(y),
          (long long)tensor_count(x));
    return;
  }
  int keep_rank, red_rank;
  emit_reduce_spaces(e, n, &keep_rank, &red_rank);
  emitf(e, "    nn_reduce_backward(%s, %s, %s, %s, %s, %d, keep_dims, keep_strides, %d, "
           "red_dims, red_strides);\n",
        emit_grad(x), emit_grad(y), emit_saved(n, x), emit_saved(n, y), p->def->cname,
        keep_rank, red_rank);
  emit_close_block(e);
}

static int64_t reduce_macs(const Node *n)
{
  return tensor_count(n->inputs[0]);
}

// READS: the forward tensors the op's backward reads (nn.h, nn_reduce_backward).
#define REDUCE_OP(NAME, READS)                                                          \
  const OpDef op_##NAME = {.name = #NAME, .check = reduce_check, .fold = reduce_fold,  \
                           .emit = reduce_emit, .emit_backward = reduce_backward,      \
                           .backward_reads = READS, .macs = reduce_macs};
REDUCE_OP(ReduceSum, 0)
REDUCE_OP(ReduceMean, 0)
REDUCE_OP(ReduceMax, BWD_IN(0) | BWD_OUT(0))
REDUCE_OP(ReduceMin, BWD_IN(0) | BWD_OUT(0))
REDUCE_OP(ReduceProd, BWD_IN(0) | BWD_OUT(0))
REDUCE_OP(ReduceSumSquare, BWD_IN(0))
REDUCE_OP(ReduceL1, BWD_IN(0))
REDUCE_OP(ReduceL2, BWD_IN(0) | BWD_OUT(0))
REDUCE_OP(ReduceLogSum, BWD_OUT(0))
REDUCE_OP(ReduceLogSumExp, BWD_IN(0) | BWD_OUT(0))
