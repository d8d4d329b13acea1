/*
 * elementwise.c - the unary elementwise operators: activations (Relu,
 * LeakyRelu, Elu, Selu, Celu, Sigmoid, HardSigmoid, Tanh, Softplus,
 * Softsign, HardSwish, ThresholdedRelu, Clip) and math (Abs, Neg, Exp, Log,
 * Sqrt, Erf, Reciprocal, Floor, Ceil, Sin, Cos, Sign, Round).
 *
 * One table maps each ONNX op to an nn_act and its attribute defaults;
 * every op shares one check, fold and emit, all a call of
 * nn_act_forward(). Clip takes min/max from attributes before opset 11 and
 * from inputs after: constant bounds become the activation's parameters,
 * bounds known only at run time become broadcast Max and Min calls. Integer tensors (shape arithmetic) fold
 * for Abs, Neg and Sign only; other ops on integers are rejected.
 */
#include "compiler.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *op;
  nn_act act;
  const char *alpha_attr, *beta_attr; // NULL: unused
  float alpha, beta;                  // ONNX defaults
} UnaryDef;

static const UnaryDef unary_defs[] = {
    {"Relu", NN_ACT_RELU, NULL, NULL, 0, 0},
    {"LeakyRelu", NN_ACT_LEAKY_RELU, "alpha", NULL, 0.01f, 0},
    {"Elu", NN_ACT_ELU, "alpha", NULL, 1.0f, 0},
    {"Selu", NN_ACT_SELU, "alpha", "gamma", 1.67326319217681884765625f, 1.05070102214813232421875f},
    {"Celu", NN_ACT_CELU, "alpha", NULL, 1.0f, 0},
    {"Sigmoid", NN_ACT_SIGMOID, NULL, NULL, 0, 0},
    {"HardSigmoid", NN_ACT_HARD_SIGMOID, "alpha", "beta", 0.2f, 0.5f},
    {"Tanh", NN_ACT_TANH, NULL, NULL, 0, 0},
    {"Softplus", NN_ACT_SOFTPLUS, NULL, NULL, 0, 0},
    {"Softsign", NN_ACT_SOFTSIGN, NULL, NULL, 0, 0},
    {"HardSwish", NN_ACT_HARD_SWISH, NULL, NULL, 0, 0},
    {"ThresholdedRelu", NN_ACT_THRESHOLDED_RELU, "alpha", NULL, 1.0f, 0},
    {"Clip", NN_ACT_CLIP, "min", "max", -FLT_MAX, FLT_MAX},
    {"Abs", NN_ACT_ABS, NULL, NULL, 0, 0},
    {"Neg", NN_ACT_NEG, NULL, NULL, 0, 0},
    {"Exp", NN_ACT_EXP, NULL, NULL, 0, 0},
    {"Log", NN_ACT_LOG, NULL, NULL, 0, 0},
    {"Sqrt", NN_ACT_SQRT, NULL, NULL, 0, 0},
    {"Erf", NN_ACT_ERF, NULL, NULL, 0, 0},
    {"Reciprocal", NN_ACT_RECIPROCAL, NULL, NULL, 0, 0},
    {"Floor", NN_ACT_FLOOR, NULL, NULL, 0, 0},
    {"Ceil", NN_ACT_CEIL, NULL, NULL, 0, 0},
    {"Sin", NN_ACT_SIN, NULL, NULL, 0, 0},
    {"Cos", NN_ACT_COS, NULL, NULL, 0, 0},
    {"Sign", NN_ACT_SIGN, NULL, NULL, 0, 0},
    {"Round", NN_ACT_ROUND, NULL, NULL, 0, 0},
};

typedef struct {
  nn_act act;
  float alpha, beta;
  int runtime_bounds; // Clip whose min or max is computed at run time
} UnaryParams;

static const UnaryDef *find_def(const char *op)
{
  for (size_t i = 0; i < sizeof unary_defs / sizeof unary_defs[0]; i++)
    if (!strcmp(unary_defs[i].op, op))
      return &unary_defs[i];
  return NULL;
}

// Clip from opset 11: min and max are optional scalar inputs.
static int clip_bound(Diag *d, const Node *n, int i, float *out)
{
  Tensor *t = node_input(n, i);
  if (!t)
    return 0;
  CHECK(d, n, tensor_count(t) == 1, "input '%s' (%s) must be a scalar", t->name,
        i == 1 ? "min" : "max");
  if (t->kind != T_CONST)
    return require_float(d, n, i) != 0 ? -1 : 1;
  *out = const_float(t, 0);
  return 0;
}

static int unary_check(Diag *d, Graph *g, Node *n)
{
  const UnaryDef *def = find_def(n->op_type);
  UnaryParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  p->act = def->act;
  p->alpha = def->alpha;
  p->beta = def->beta;
  const char *known[] = {def->alpha_attr ? def->alpha_attr : "", def->beta_attr ? def->beta_attr : "",
                         NULL};
  int clip_inputs = def->act == NN_ACT_CLIP && g->opset >= 11;
  if (clip_inputs)
    known[0] = known[1] = "";
  if (check_attrs_known(d, n, known) != 0)
    return -1;
  if (require_inputs(d, n, 1, clip_inputs ? 3 : 1) != 0)
    return -1;
  if (clip_inputs) {
    int lo = clip_bound(d, n, 1, &p->alpha), hi = clip_bound(d, n, 2, &p->beta);
    if (lo < 0 || hi < 0)
      return -1;
    p->runtime_bounds = lo || hi;
  } else {
    if (def->alpha_attr && attr_float(d, n, def->alpha_attr, def->alpha, &p->alpha) != 0)
      return -1;
    if (def->beta_attr && attr_float(d, n, def->beta_attr, def->beta, &p->beta) != 0)
      return -1;
  }
  Tensor *x = n->inputs[0];
  int int_ok = p->act == NN_ACT_ABS || p->act == NN_ACT_NEG || p->act == NN_ACT_SIGN ||
               p->act == NN_ACT_RELU || p->act == NN_ACT_CLIP;
  CHECK(d, n, x->dtype == DT_FLOAT || (x->kind == T_CONST && (is_float_type(x->dtype) ||
                                                               (int_ok && is_int_type(x->dtype)))),
        "input '%s' has type %s; only float32 is supported", x->name, dtype_name(x->dtype));
  set_shape(n->outputs[0], x->dtype, x->rank, x->dims);
  return 0;
}

static int unary_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const UnaryParams *p = n->params;
  Tensor *x = n->inputs[0], *y = n->outputs[0];
  int64_t count = tensor_count(x);
  const_alloc(y);
  if (is_float_type(x->dtype)) {
    nn_act_forward(y->data, x->data, (int)count, p->act, p->alpha, p->beta);
    return 0;
  }
  const int64_t *xi = x->data;
  int64_t *yi = y->data;
  for (int64_t i = 0; i < count; i++) {
    int64_t v = xi[i];
    switch (p->act) { // INT64_MIN negates to itself (wraps), as numpy's does
    case NN_ACT_ABS: v = v < 0 && v != INT64_MIN ? -v : v; break;
    case NN_ACT_NEG: v = v != INT64_MIN ? -v : v; break;
    case NN_ACT_SIGN: v = (v > 0) - (v < 0); break;
    case NN_ACT_RELU: v = v < 0 ? 0 : v; break;
    default: // Clip; bounds beyond int64 saturate
      if ((float)v < p->alpha) v = p->alpha >= 9.2233720e18f ? INT64_MAX : (int64_t)p->alpha;
      if ((float)v > p->beta) v = p->beta <= -9.2233720e18f ? INT64_MIN : (int64_t)p->beta;
      break;
    }
    yi[i] = v;
  }
  return 0;
}

// y = min(max(x, lo), hi) with scalar bounds read at run time.
static void emit_runtime_clip(Emitter *e, const Node *n)
{
  const char *y = emit_ref(n->outputs[0]);
  const char *x = emit_ref(n->inputs[0]);
  long long count = (long long)tensor_count(n->outputs[0]);
  emitf(e, "  {\n    static const int dims[1] = {%lld}, x_strides[1] = {1}, bound_strides[1] = "
           "{0};\n", count);
  for (int i = 1; i <= 2; i++) {
    Tensor *bound = node_input(n, i);
    if (!bound)
      continue;
    emitf(e, "    nn_binary_forward(%s, %s, %s, %s, 1, dims, x_strides, bound_strides);\n", y, x,
          emit_ref(bound), i == 1 ? "NN_MAX" : "NN_MIN");
    x = y;
  }
  if (x != y)
    emitf(e, "    nn_copy(%s, %s, %lld);\n", y, x, count);
  emitf(e, "  }\n");
}

static void unary_emit(Emitter *e, const Node *n)
{
  const UnaryParams *p = n->params;
  char a[32], b[32];
  if (p->runtime_bounds) {
    emit_runtime_clip(e, n);
    return;
  }
  emitf(e, "  nn_act_forward(%s, %s, %lld, %s, %s, %s);\n", emit_ref(n->outputs[0]),
        emit_ref(n->inputs[0]), (long long)tensor_count(n->outputs[0]), emit_act_name(p->act),
        emit_float_literal(p->alpha, a), emit_float_literal(p->beta, b));
}

// dx += act'(x) * dy, from x or y as backward_reads says.
static void unary_backward(Emitter *e, const Node *n)
{
  const UnaryParams *p = n->params;
  const Tensor *x = n->inputs[0], *y = n->outputs[0];
  char a[32], b[32];
  if (!x->grad)
    return;
  emitf(e, "  nn_act_backward(%s, %s, %s, %s, %lld, %s, %s, %s);\n", emit_grad(x), emit_grad(y),
        emit_saved(n, x), emit_saved(n, y), (long long)tensor_count(y), emit_act_name(p->act),
        emit_float_literal(p->alpha, a), emit_float_literal(p->beta, b));
}

static int unary_can_backward(const Node *n)
{
  const UnaryParams *p = n->params;
  return !p->runtime_bounds;
}

int activation_of(const Node *n, nn_act *act, float *alpha, float *beta)
{
  if (!n->op || n->op->check != unary_check || !n->params)
    return 0;
  const UnaryParams *p = n->params;
  if (p->runtime_bounds)
    return 0;
  *act = p->act;
  *alpha = p->alpha;
  *beta = p->beta;
  return 1;
}

// Relu, Sigmoid and Tanh differentiate from their output, the rest from their input.
#define UNARY_OP_READING(NAME, READS)                                          \
  const OpDef op_##NAME = {.name = #NAME, .check = unary_check, .fold = unary_fold,             \
                           .emit = unary_emit, .emit_backward = unary_backward,                 \
                           .backward_reads = READS, .can_backward = unary_can_backward,         \
                           .flags = OP_IN_PLACE};
#define UNARY_OP(NAME) UNARY_OP_READING(NAME, BWD_IN(0))
UNARY_OP_READING(Relu, BWD_OUT(0))
UNARY_OP(LeakyRelu)
UNARY_OP(Elu)
UNARY_OP(Selu)
UNARY_OP(Celu)
UNARY_OP_READING(Sigmoid, BWD_OUT(0))
UNARY_OP(HardSigmoid)
UNARY_OP_READING(Tanh, BWD_OUT(0))
UNARY_OP(Softplus)
UNARY_OP(Softsign)
UNARY_OP(HardSwish)
UNARY_OP(ThresholdedRelu)
UNARY_OP(Clip)
UNARY_OP(Abs)
UNARY_OP(Neg)
UNARY_OP(Exp)
UNARY_OP(Log)
UNARY_OP(Sqrt)
UNARY_OP(Erf)
UNARY_OP(Reciprocal)
UNARY_OP(Floor)
UNARY_OP(Ceil)
UNARY_OP(Sin)
UNARY_OP(Cos)
UNARY_OP(Sign)
UNARY_OP(Round)
