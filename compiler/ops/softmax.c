/*
 * softmax.c - Softmax and LogSoftmax.
 *
 * Before opset 13 the input is coerced to 2-D at `axis` (default 1): the
 * normalisation runs over all dims from axis on. From opset 13 it runs
 * over the single dim `axis` (default -1). Either way the kernel sees x
 * as (outer, len, inner).
 */
#include "compiler.h"

#include <string.h>

typedef struct {
  int outer, len, inner;
} SoftmaxParams;

static int softmax_check(Diag *d, Graph *g, Node *n)
{
  const char *known[] = {"axis", NULL};
  int64_t axis;
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0 ||
      require_float(d, n, 0) != 0 || attr_int(d, n, "axis", g->opset >= 13 ? -1 : 1, &axis) != 0)
    return -1;
  Tensor *x = n->inputs[0];
  int a;
  if (normalize_axis(d, n, axis, x->rank, &a) != 0)
    return -1;
  SoftmaxParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  int64_t outer = 1, len = 1, inner = 1;
  for (int k = 0; k < x->rank; k++) {
    if (k < a)
      outer *= x->dims[k];
    else if (k == a || g->opset < 13)
      len *= x->dims[k];
    else
      inner *= x->dims[k];
  }
  p->outer = (int)outer;
  p->len = (int)len;
  p->inner = (int)inner;
  set_shape(n->outputs[0], DT_FLOAT, x->rank, x->dims);
  return 0;
}

static int is_log(const Node *n)
{
  return !strcmp(n->op_type, "LogSoftmax");
}

static void softmax_emit(Emitter *e, const Node *n)
{
  const SoftmaxParams *p = n->params;
  emitf(e, "  nn_%s_forward(%s, %s, %d, %d, %d);\n", is_log(n) ? "log_softmax" : "softmax",
        emit_ref(n->outputs[0]), emit_ref(n->inputs[0]), p->outer, p->len, p->inner);
}

// Softmax: dx += y * (dy - sum(dy * y)); LogSoftmax: dx += dy - exp(y) * sum(dy).
static void softmax_backward(Emitter *e, const Node *n)
{
  const SoftmaxParams *p = n->params;
  if (!n->inputs[0]->grad)
    return;
  emitf(e, "  nn_%s_backward(%s, %s, %s, %d, %d, %d);\n", is_log(n) ? "log_softmax" : "softmax",
        emit_grad(n->inputs[0]), emit_grad(n->outputs[0]), emit_saved(n, n->outputs[0]),
        p->outer, p->len, p->inner);
}

static int softmax_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const SoftmaxParams *p = n->params;
  float *y = const_alloc(n->outputs[0]);
  if (is_log(n))
    nn_log_softmax_forward(y, n->inputs[0]->data, p->outer, p->len, p->inner);
  else
    nn_softmax_forward(y, n->inputs[0]->data, p->outer, p->len, p->inner);
  return 0;
}

const OpDef op_Softmax = {.name = "Softmax", .check = softmax_check, .fold = softmax_fold,
                          .emit = softmax_emit, .emit_backward = softmax_backward,
                          .backward_reads = BWD_OUT(0), .flags = OP_IN_PLACE};
const OpDef op_LogSoftmax = {.name = "LogSoftmax", .check = softmax_check, .fold = softmax_fold,
                             .emit = softmax_emit, .emit_backward = softmax_backward,
                             .backward_reads = BWD_OUT(0), .flags = OP_IN_PLACE};
