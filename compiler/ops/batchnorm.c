/*
 * batchnorm.c - BatchNormalization in inference form:
 *   y = (x - mean[c]) / sqrt(var[c] + epsilon) * scale[c] + B[c]
 * The constant statistics fold at compile time into one per-channel
 * scale and shift, so the run-time op is nn_channel_affine_forward(), and
 * pass_fold_batchnorm() can move it into a preceding Conv or Gemm.
 *
 * onnxcc compiles for inference. A node exported in training mode
 * (training_mode=1, or the extra statistics outputs before opset 14)
 * normalises with batch statistics in ONNX's semantics, so it is refused
 * unless --eval asks for model.eval() behaviour (running statistics); its
 * statistics outputs can never be read. scale, B, mean and var must be
 * constants.
 */
#include "compiler.h"

#include <math.h>

// One allocation, so the node frees it with free(). The folded scale and
// shift are constants of the graph, so that the forward and the backward
// read the same arrays and the weight bytes count them.
typedef struct {
  int channels;
  Tensor *scale_t, *shift_t; // (channels)
  float *scale, *shift;      // their data
} BatchNormParams;

static int batchnorm_check(Diag *d, Graph *g, Node *n)
{
  const char *known[] = {"epsilon", "momentum", "spatial", "training_mode", "is_test", NULL};
  float eps, momentum;
  int64_t spatial;
  if (check_attrs_known(d, n, known) != 0 || attr_float(d, n, "epsilon", 1e-5f, &eps) != 0 ||
      attr_float(d, n, "momentum", 0.9f, &momentum) != 0 ||
      attr_int(d, n, "spatial", 1, &spatial) != 0 || require_inputs(d, n, 5, 5) != 0 ||
      require_float(d, n, 0) != 0)
    return -1;
  CHECK(d, n, spatial == 1, "spatial=0 is not supported");
  int64_t training_mode;
  if (attr_int(d, n, "training_mode", 0, &training_mode) != 0)
    return -1;
  int extra_outputs = 0;
  for (int k = 1; k < n->noutputs; k++)
    extra_outputs |= n->outputs[k] != NULL;
  if ((training_mode || extra_outputs) && !g->eval_mode) {
    diag_node(d, n, "training mode (batch statistics) is not supported; onnxcc compiles for "
                    "inference");
    diag_note(d, "export with model.eval(), or compile with --eval to use the running "
                 "statistics as model.eval() does");
    return -1;
  }
  for (int k = 1; k < n->noutputs; k++) {
    Tensor *t = n->outputs[k];
    CHECK(d, n, !t || (t->nuses == 0 && t->output_index < 0),
          "training-mode output '%s' (running statistics) is not supported; onnxcc compiles "
          "for inference", t->name);
  }
  Tensor *x = n->inputs[0];
  CHECK(d, n, x->rank >= 2, "input X has rank %d, expected at least 2", x->rank);
  int c = (int)x->dims[1];
  const char *names[] = {"", "scale", "B", "mean", "var"};
  for (int k = 1; k < 5; k++) {
    if (require_const(d, n, k, names[k]) != 0)
      return -1;
    CHECK(d, n, tensor_count(n->inputs[k]) == c && is_float_type(n->inputs[k]->dtype),
          "input '%s' (%s) must hold %d floats, one per channel", n->inputs[k]->name, names[k], c);
  }
  BatchNormParams *p = xcalloc(1, sizeof *p);
  n->params = p;
  p->channels = c;
  int64_t channels = c;
  p->scale_t = new_const_like(g, n->inputs[1], "bn_scale", 1, &channels);
  p->shift_t = new_const_like(g, n->inputs[2], "bn_shift", 1, &channels);
  p->scale = p->scale_t->data;
  p->shift = p->shift_t->data;
  node_set_input(n, 5, p->scale_t); // inputs past ONNX's 5, read by the emitted code
  node_set_input(n, 6, p->shift_t);
  for (int i = 0; i < c; i++) {
    float s = const_float(n->inputs[1], i) / sqrtf(const_float(n->inputs[4], i) + eps);
    p->scale[i] = s;
    p->shift[i] = const_float(n->inputs[2], i) - const_float(n->inputs[3], i) * s;
  }
  set_shape(n->outputs[0], DT_FLOAT, x->rank, x->dims);
  for (int k = 1; k < n->noutputs; k++) // shapes of the unread statistics outputs
    if (n->outputs[k])
      set_shape(n->outputs[k], DT_FLOAT, 1, &x->dims[1]);
  return 0;
}

int batchnorm_affine(const Node *n, const float **scale, const float **shift, int *channels)
{
  if (!n->op || n->op->check != batchnorm_check || !n->params)
    return 0;
  const BatchNormParams *p = n->params;
  *scale = p->scale;
  *shift = p->shift;
  *channels = p->channels;
  return 1;
}

static int64_t spatial_size(const Tensor *x)
{
  int64_t size = 1;
  for (int k = 2; k < x->rank; k++)
    size *= x->dims[k];
  return size;
}

static void batchnorm_emit(Emitter *e, const Node *n)
{
  const BatchNormParams *p = n->params;
  const Tensor *x = n->inputs[0];
  emitf(e, "  nn_channel_affine_forward(%s, %s, %s, %s, %lld, %d, %lld);\n",
        emit_ref(n->outputs[0]), emit_ref(x), emit_ref(p->scale_t), emit_ref(p->shift_t),
        (long long)x->dims[0], p->channels, (long long)spatial_size(x));
}

// Frozen statistics: y = x * scale + shift, so dx += dy * scale.
static void batchnorm_backward(Emitter *e, const Node *n)
{
  const BatchNormParams *p = n->params;
  const Tensor *x = n->inputs[0];
  if (!x->grad)
    return;
  emitf(e, "  nn_channel_affine_backward(%s, %s, %s, %lld, %d, %lld);\n", emit_grad(x),
        emit_grad(n->outputs[0]), emit_ref(p->scale_t), (long long)x->dims[0], p->channels,
        (long long)spatial_size(x));
}

static int batchnorm_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const BatchNormParams *p = n->params;
  const Tensor *x = n->inputs[0];
  float *y = const_alloc(n->outputs[0]);
  nn_channel_affine_forward(y, x->data, p->scale, p->shift, (int)x->dims[0], p->channels,
                            (int)spatial_size(x));
  return 0;
}

static int64_t batchnorm_macs(const Node *n)
{
  return tensor_count(n->outputs[0]);
}

const OpDef op_BatchNormalization = {.name = "BatchNormalization",
                                     .check = batchnorm_check,
                                     .fold = batchnorm_fold,
                                     .emit = batchnorm_emit,
                                     .emit_backward = batchnorm_backward,
                                     .macs = batchnorm_macs,
                                     .flags = OP_IN_PLACE};
