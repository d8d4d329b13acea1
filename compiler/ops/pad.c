/*
 * pad.c - Pad in constant mode: y is x with pads[k] values added before
 * axis k and pads[k + rank] after it, all set to a constant. A negative
 * pad removes that many elements instead (crops).
 *
 * Supported: opsets 2..10 with the pads and value attributes; opsets 11+
 * with the pads input (a compile-time constant) and the optional
 * constant_value input (a constant, or a float32 scalar read at run time).
 * Only mode 'constant': 'reflect', 'edge' and 'wrap' are rejected, as is
 * the opset 18 axes input.
 *
 * At run time the output is filled with the value, then the part of x
 * that survives the crops is copied into its interior with one strided
 * copy. Constant inputs fold the same way.
 */
#include "compiler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  float value;                // the pad value (float data)
  int value_at_run_time;      // read from input 2 by the generated code
  int64_t ivalue;             // the pad value (integer data)
  int64_t y_offset, x_offset; // elements before the first kept element
  int rank;
  int dims[MAX_RANK];         // the kept region
  int y_strides[MAX_RANK], x_strides[MAX_RANK]; // dense
} PadParams;

static int is_const(const Tensor *t)
{
  return t->kind == T_CONST && t->data;
}

static int pad_check(Diag *d, Graph *g, Node *n)
{
  int64_t pads[2 * MAX_RANK];
  int npads;
  float value = 0.0f;
  int64_t ivalue = 0;
  int value_at_run_time = 0;
  const char *mode = attr_string(n, "mode", "constant");
  if (g->opset < 11) {
    const char *known[] = {"mode", "pads", "value", NULL};
    if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0 ||
        attr_ints(d, n, "pads", pads, 2 * MAX_RANK, &npads) != 0 ||
        attr_float(d, n, "value", 0.0f, &value) != 0)
      return -1;
    CHECK(d, n, npads >= 0, "attribute 'pads' is required");
    ivalue = fabsf(value) < 9.0e18f ? (int64_t)value : 0; // for integer data; NaN gives 0
  } else {
    const char *known[] = {"mode", NULL};
    if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 2, 4) != 0)
      return -1;
    CHECK(d, n, !node_input(n, 3), "input 'axes' (opset 18) is not supported");
    if (require_const(d, n, 1, "pads") != 0)
      return -1;
    Tensor *tp = n->inputs[1], *tv = node_input(n, 2);
    CHECK(d, n, is_int_type(tp->dtype) && tp->rank == 1,
          "input '%s' (pads) must be a 1-D integer tensor", tp->name);
    CHECK(d, n, tp->dims[0] <= 2 * MAX_RANK, "input '%s' (pads) has %lld values, too many",
          tp->name, (long long)tp->dims[0]);
    npads = (int)tp->dims[0];
    for (int k = 0; k < npads; k++)
      pads[k] = const_int(tp, k);
    if (tv) {
      CHECK(d, n, tensor_count(tv) == 1, "input '%s' (constant_value) must have one element",
            tv->name);
      if (is_const(tv)) {
        value = const_float(tv, 0);
        ivalue = const_int(tv, 0);
      } else if (require_float(d, n, 2) != 0) {
        return -1;
      } else {
        value_at_run_time = 1;
      }
    }
  }
  CHECK(d, n, !strcmp(mode, "constant"), "mode '%s' is not supported", mode);
  Tensor *x = n->inputs[0], *y = n->outputs[0];
  if ((!is_const(x) || value_at_run_time) && require_float(d, n, 0) != 0)
    return -1;
  int rank = x->rank;
  CHECK(d, n, npads == 2 * rank, "pads has %d values, expected %d (2 * rank)", npads, 2 * rank);

  free(n->params);
  PadParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  p->value = value;
  p->ivalue = ivalue;
  p->value_at_run_time = value_at_run_time;
  p->rank = rank;
  int64_t out_dims[MAX_RANK], kept[MAX_RANK], y_start[MAX_RANK], x_start[MAX_RANK];
  for (int k = 0; k < rank; k++) {
    int64_t begin = pads[k], end = pads[k + rank];
    CHECK(d, n, begin >= -INT32_MAX && begin <= INT32_MAX && end >= -INT32_MAX &&
                    end <= INT32_MAX,
          "pads %lld and %lld of axis %d are out of range", (long long)begin, (long long)end, k);
    out_dims[k] = x->dims[k] + begin + end;
    CHECK(d, n, out_dims[k] >= 0, "pads %lld and %lld crop axis %d of size %lld below zero",
          (long long)begin, (long long)end, k, (long long)x->dims[k]);
    // Negative pads skip input elements; positive ones shift the output.
    x_start[k] = begin < 0 ? -begin : 0;
    y_start[k] = begin > 0 ? begin : 0;
    kept[k] = x->dims[k] - x_start[k] - (end < 0 ? -end : 0);
    if (kept[k] < 0)
      kept[k] = 0;
  }
  set_shape(y, x->dtype, rank, out_dims);
  if (check_output_size(d, g, n, y) != 0)
    return -1;
  dense_strides(x, p->x_strides);
  dense_strides(y, p->y_strides);
  for (int k = 0; k < rank; k++) {
    p->dims[k] = (int)kept[k];
    p->x_offset += x_start[k] * p->x_strides[k];
    p->y_offset += y_start[k] * p->y_strides[k];
  }
  return 0;
}

static int64_t kept_count(const PadParams *p)
{
  int64_t count = 1;
  for (int k = 0; k < p->rank; k++)
    count *= p->dims[k];
  return count;
}

static int pad_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const PadParams *p = n->params;
  Tensor *y = n->outputs[0];
  int64_t count = tensor_count(y);
  void *data = const_alloc(y);
  for (int64_t i = 0; i < count; i++) {
    if (is_float_type(y->dtype))
      ((float *)data)[i] = p->value;
    else
      ((int64_t *)data)[i] = p->ivalue;
  }
  if (kept_count(p) == 0)
    return 0;
  // Write the kept region through a view of y that starts at y_offset.
  Tensor interior = *y;
  interior.data = is_float_type(y->dtype) ? (void *)((float *)data + p->y_offset)
                                          : (void *)((int64_t *)data + p->y_offset);
  fold_strided_copy(&interior, n->inputs[0], p->x_offset, p->rank, p->dims, p->y_strides,
                    p->x_strides);
  return 0;
}

static void pad_emit(Emitter *e, const Node *n)
{
  const PadParams *p = n->params;
  const Tensor *y = n->outputs[0];
  int64_t count = tensor_count(y), kept = kept_count(p);
  char lit[32];
  if (count == 0) {
    emitf(e, "  /* '%s' is empty: nothing to do */\n", y->name);
    return;
  }
  if (kept < count && p->value_at_run_time)
    emitf(e, "  nn_fill(%s, %s[0], %lld);\n", emit_ref(y), emit_ref(n->inputs[2]),
          (long long)count);
  else if (kept < count)
    emitf(e, "  nn_fill(%s, %s, %lld);\n", emit_ref(y), emit_float_literal(p->value, lit),
          (long long)count);
  if (kept == 0)
    return;
  char yref[300], xref[300];
  emit_strided(e, "nn_copy_strided", emit_offset(yref, sizeof yref, emit_ref(y), p->y_offset),
               emit_offset(xref, sizeof xref, emit_ref(n->inputs[0]), p->x_offset), p->rank,
               p->dims, p->y_strides, p->x_strides);
}

// The kept region of dy flows back: dx[kept] += dy[kept]; padding has no source.
static void pad_backward(Emitter *e, const Node *n)
{
  const PadParams *p = n->params;
  const Tensor *x = n->inputs[0], *y = n->outputs[0];
  if (!x->grad || kept_count(p) == 0)
    return;
  char dyref[300], dxref[300];
  emit_strided(e, "nn_add_strided", emit_offset(dxref, sizeof dxref, emit_grad(x), p->x_offset),
               emit_offset(dyref, sizeof dyref, emit_grad(y), p->y_offset), p->rank, p->dims,
               p->x_strides, p->y_strides);
}

const OpDef op_Pad = {.name = "Pad", .check = pad_check, .fold = pad_fold, .emit = pad_emit,
                      .emit_backward = pad_backward};
