/*
 * binary.c - elementwise operators with numpy broadcasting: Add, Sub,
 * Mul, Div, Pow, PRelu (slope broadcast to X), and the variadic Sum, Mean,
 * Min and Max.
 *
 * Each operand is read through strides over the output's index space, a
 * 0 stride where it broadcasts; merge_dims() then collapses the space, so
 * a bias add over (1, 64, 28, 28) reaches the kernel as rank 2. Variadic
 * ops with more than two inputs become a chain of in-place binary calls
 * into the output. Integer tensors (PyTorch's shape arithmetic) fold at
 * compile time; at run time only float32 is supported.
 *
 * Before opset 7 broadcasting was explicit: with broadcast=1, B lines up
 * with A's dims starting at `axis` (default: trailing dims), and PRelu's
 * 1-D slope is per channel (dim 1). Both become numpy broadcasting here by
 * giving B the equivalent shape padded with 1s.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *op;
  nn_binop binop;
  int variadic;
} BinaryDef;

static const BinaryDef binary_defs[] = {
    {"Add", NN_ADD, 0}, {"Sub", NN_SUB, 0},   {"Mul", NN_MUL, 0},  {"Div", NN_DIV, 0},
    {"Pow", NN_POW, 0}, {"PRelu", NN_PRELU, 0}, {"Sum", NN_ADD, 1}, {"Mean", NN_ADD, 1},
    {"Min", NN_MIN, 1}, {"Max", NN_MAX, 1},
};

// B's shape as the numpy rules should see it (differs from B only for
// the explicit broadcasting of opsets before 7).
typedef struct {
  int b_rank;
  int64_t b_dims[MAX_RANK];
} BinaryParams;

static const BinaryDef *find_def(const char *op)
{
  for (size_t i = 0; i < sizeof binary_defs / sizeof binary_defs[0]; i++)
    if (!strcmp(binary_defs[i].op, op))
      return &binary_defs[i];
  return NULL;
}

// Opsets before 7: where B sits among A's dims, as a numpy-compatible shape.
static int legacy_broadcast(Diag *d, Graph *g, Node *n, const BinaryDef *def, BinaryParams *p)
{
  Tensor *a = n->inputs[0], *b = n->inputs[1];
  int64_t broadcast, axis;
  if (attr_int(d, n, "broadcast", 0, &broadcast) != 0 ||
      attr_int(d, n, "axis", a->rank - b->rank, &axis) != 0)
    return -1;
  if (def->binop == NN_PRELU && g->opset < 7 && b->rank == 1 && a->rank >= 2 &&
      b->dims[0] == a->dims[1] && b->dims[0] != 1) {
    broadcast = 1; // per-channel slope
    axis = 1;
  }
  if (!broadcast)
    return 0;
  if (axis < 0)
    axis += a->rank;
  CHECK(d, n, axis >= 0 && axis <= a->rank - b->rank, // (axis + rank could overflow)
        "broadcast axis %lld does not fit B of rank %d into A of rank %d", (long long)axis,
        b->rank, a->rank);
  p->b_rank = a->rank;
  for (int k = 0; k < p->b_rank; k++)
    p->b_dims[k] = k >= axis && k < axis + b->rank ? b->dims[k - axis] : 1;
  return 0;
}

// B as the broadcasting rules see it (a copy of its shape, no data).
static Tensor b_view(const Node *n)
{
  const BinaryParams *p = n->params;
  Tensor view = *n->inputs[1];
  view.rank = p->b_rank;
  for (int k = 0; k < p->b_rank; k++)
    view.dims[k] = p->b_dims[k];
  return view;
}

static int binary_check(Diag *d, Graph *g, Node *n)
{
  const BinaryDef *def = find_def(n->op_type);
  const char *known[] = {"broadcast", "axis", NULL};
  if (g->opset >= 7)
    known[0] = NULL;
  if (check_attrs_known(d, n, known) != 0)
    return -1;
  if (require_inputs(d, n, def->variadic ? 1 : 2, def->variadic ? 64 : 2) != 0)
    return -1;
  int all_const = 1, all_int = 1;
  for (int i = 0; i < n->ninputs; i++) {
    Tensor *t = n->inputs[i];
    CHECK(d, n, t, "input %d is missing", i);
    all_const &= t->kind == T_CONST;
    all_int &= is_int_type(t->dtype);
  }
  if (!(all_const && (all_int || def->binop != NN_PRELU)))
    for (int i = 0; i < n->ninputs; i++)
      if (require_float(d, n, i) != 0)
        return -1;
  BinaryParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  if (n->ninputs >= 2) {
    p->b_rank = n->inputs[1]->rank;
    for (int k = 0; k < p->b_rank; k++)
      p->b_dims[k] = n->inputs[1]->dims[k];
    if (g->opset < 7 && legacy_broadcast(d, g, n, def, p) != 0)
      return -1;
  }
  Tensor view = n->ninputs >= 2 ? b_view(n) : *n->inputs[0];
  Tensor *shapes[64];
  for (int i = 0; i < n->ninputs; i++)
    shapes[i] = i == 1 ? &view : n->inputs[i];
  if (broadcast_shapes(d, n, n->ninputs, shapes, n->outputs[0]) != 0)
    return -1;
  if (def->binop == NN_PRELU) {
    CHECK(d, n, shape_equal(n->outputs[0], n->inputs[0]),
          "slope '%s' does not broadcast to the shape of X", n->inputs[1]->name);
  }
  n->outputs[0]->dtype = all_int ? DT_INT64 : DT_FLOAT;
  return 0;
}

// Strides of a and b over y's index space, merged. Returns the rank.
static int binary_layout(const Tensor *a, const Tensor *b, const Tensor *y, int *dims,
                         int *as, int *bs)
{
  for (int k = 0; k < y->rank; k++)
    dims[k] = (int)y->dims[k];
  broadcast_strides(a, y, as);
  broadcast_strides(b, y, bs);
  int *strides[2] = {as, bs};
  return merge_dims(y->rank, dims, 2, strides);
}

// Integer arithmetic wraps around on overflow (two's complement, as numpy
// does), computed in uint64_t so that it is defined C.
static int64_t wrap(uint64_t v)
{
  return v <= INT64_MAX ? (int64_t)v : -(int64_t)(~v) - 1;
}

static int64_t int_op(nn_binop op, int64_t a, int64_t b)
{
  uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
  switch (op) {
  case NN_ADD: return wrap(ua + ub);
  case NN_SUB: return wrap(ua - ub);
  case NN_MUL: return wrap(ua * ub);
  case NN_DIV: return !b ? 0 : b == -1 ? wrap(0 - ua) : a / b;
  case NN_MIN: return a < b ? a : b;
  case NN_MAX: return a > b ? a : b;
  case NN_POW: { // by squaring; a negative exponent gives 1
    uint64_t r = 1;
    for (; b > 0; b >>= 1, ua *= ua)
      if (b & 1)
        r *= ua;
    return wrap(r);
  }
  default: return a < 0 ? wrap(ua * ub) : a;
  }
}

// y = a op b at compile time; y may be a (then a is not broadcast).
static void fold_pair(Tensor *y, const Tensor *a, const Tensor *b, nn_binop op)
{
  int dims[MAX_RANK], as[MAX_RANK], bs[MAX_RANK];
  int rank = binary_layout(a, b, y, dims, as, bs);
  if (y->dtype == DT_FLOAT) {
    nn_binary_forward(y->data, a->data, b->data, op, rank, dims, as, bs);
    return;
  }
  // Integer path: walk the index space with a counter.
  int64_t count = tensor_count(y);
  int idx[MAX_RANK] = {0};
  int64_t *yi = y->data;
  for (int64_t i = 0; i < count; i++) {
    int64_t ia = 0, ib = 0;
    for (int k = 0; k < rank; k++) {
      ia += (int64_t)idx[k] * as[k];
      ib += (int64_t)idx[k] * bs[k];
    }
    yi[i] = int_op(op, const_int(a, ia), const_int(b, ib));
    for (int k = rank - 1; k >= 0 && ++idx[k] == dims[k]; k--)
      idx[k] = 0;
  }
}

static int binary_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const BinaryDef *def = find_def(n->op_type);
  Tensor *y = n->outputs[0];
  const_alloc(y);
  if (n->ninputs == 1) {
    fold_strided_copy(y, n->inputs[0], 0, 0, NULL, NULL, NULL);
    return 0;
  }
  Tensor view = b_view(n);
  fold_pair(y, n->inputs[0], &view, def->binop);
  for (int i = 2; i < n->ninputs; i++)
    fold_pair(y, y, n->inputs[i], def->binop);
  if (!strcmp(def->op, "Mean") && y->dtype == DT_FLOAT)
    nn_act_forward(y->data, y->data, (int)tensor_count(y), NN_ACT_SCALE_SHIFT,
                   1.0f / (float)n->ninputs, 0.0f);
  return 0;
}

static const char *binop_name(nn_binop op)
{
  static const char *names[] = {"NN_ADD", "NN_SUB", "NN_MUL", "NN_DIV",
                                "NN_MIN", "NN_MAX", "NN_POW", "NN_PRELU"};
  return names[op];
}

// b_shape gives b's shape for broadcasting, b_data the tensor to read.
static void emit_pair(Emitter *e, const Node *n, const char *y_ref, const Tensor *a,
                      const char *a_ref, const Tensor *b_shape, const Tensor *b_data,
                      nn_binop op)
{
  const Tensor *y = n->outputs[0];
  int dims[MAX_RANK], as[MAX_RANK], bs[MAX_RANK];
  int rank = binary_layout(a, b_shape, y, dims, as, bs);
  emit_open_block(e, n);
  emit_int_array(e, "dims", dims, rank);
  emit_int_array(e, "a_strides", as, rank);
  emit_int_array(e, "b_strides", bs, rank);
  emitf(e, "    nn_binary_forward(%s, %s, %s, %s, %d, dims, a_strides, b_strides);\n", y_ref,
        a_ref, emit_ref(b_data), binop_name(op), rank);
  emit_close_block(e);
}

static void binary_emit(Emitter *e, const Node *n)
{
  const BinaryDef *def = find_def(n->op_type);
  const Tensor *y = n->outputs[0];
  char y_ref[256];
  snprintf(y_ref, sizeof y_ref, "%s", emit_ref(y));
  if (n->ninputs == 1) {
    emitf(e, "  nn_copy(%s, %s, %lld);\n", y_ref, emit_ref(n->inputs[0]),
          (long long)tensor_count(y));
    return;
  }
  Tensor view = b_view(n);
  emit_pair(e, n, y_ref, n->inputs[0], emit_ref(n->inputs[0]), &view, n->inputs[1], def->binop);
  for (int i = 2; i < n->ninputs; i++)
    emit_pair(e, n, y_ref, y, y_ref, n->inputs[i], n->inputs[i], def->binop);
  if (!strcmp(def->op, "Mean")) {
    char a[32];
    emitf(e, "  nn_act_forward(%s, %s, %lld, NN_ACT_SCALE_SHIFT, %s, 0.0f);\n", y_ref, y_ref,
          (long long)tensor_count(y), emit_float_literal(1.0f / (float)n->ninputs, a));
  }
}

// da += dy * dy/da, db += dy * dy/db, each summed over the dims it broadcast.
static void binary_backward(Emitter *e, const Node *n)
{
  const BinaryDef *def = find_def(n->op_type);
  const Tensor *a = n->inputs[0], *b = node_input(n, 1), *y = n->outputs[0];
  if (!b) { // Sum or Mean of one input: the identity
    if (a->grad)
      emitf(e, "  nn_add(%s, %s, %lld);\n", emit_grad(a), emit_grad(y), (long long)tensor_count(y));
    return;
  }
  int dims[MAX_RANK], as[MAX_RANK], bs[MAX_RANK];
  Tensor view = b_view(n);
  int rank = binary_layout(a, &view, y, dims, as, bs);
  emit_open_block(e, n);
  emit_int_array(e, "dims", dims, rank);
  emit_int_array(e, "a_strides", as, rank);
  emit_int_array(e, "b_strides", bs, rank);
  emitf(e, "    nn_binary_backward(%s, %s, %s, %s, %s, %s, %s, %d, dims, a_strides, b_strides);\n",
        emit_grad(a), emit_grad(b), emit_grad(y), emit_saved(n, a), emit_saved(n, b),
        emit_saved(n, y), binop_name(def->binop), rank);
  emit_close_block(e);
}

// Variadic forms differentiate with up to two operands; Mean not at all.
static int binary_can_backward(const Node *n)
{
  const BinaryDef *def = find_def(n->op_type);
  return n->ninputs <= 2 && strcmp(def->op, "Mean") != 0;
}

#define BINARY_OP(NAME, READS)                                                 \
  const OpDef op_##NAME = {.name = #NAME, .check = binary_check, .fold = binary_fold,           \
                           .emit = binary_emit, .emit_backward = binary_backward,               \
                           .backward_reads = READS, .can_backward = binary_can_backward,        \
                           .trainable_inputs = BWD_IN(0) | BWD_IN(1), .flags = OP_IN_PLACE};
#define OPERANDS (BWD_IN(0) | BWD_IN(1))
BINARY_OP(Add, 0)
BINARY_OP(Sub, 0)
BINARY_OP(Mul, OPERANDS)
BINARY_OP(Div, OPERANDS | BWD_OUT(0))
BINARY_OP(Pow, OPERANDS | BWD_OUT(0))
BINARY_OP(PRelu, OPERANDS)
BINARY_OP(Sum, 0)
BINARY_OP(Mean, 0)
BINARY_OP(Min, OPERANDS)
BINARY_OP(Max, OPERANDS)
