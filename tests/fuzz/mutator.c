/*
 * mutator.c - a structure-aware libFuzzer mutator for ONNX models, linked
 * into build/fuzz/fuzz_compile only (not into the regression replay).
 *
 * Half of the mutations are libFuzzer's own byte-level ones (which test the
 * protobuf decoding and the reader). The other half decode the input as a
 * ModelProto and change one thing a byte flip rarely reaches with the
 * message still valid: an integer where shapes come from (a dimension of an
 * initializer or graph input, an int or ints attribute, an element of an
 * integer tensor, raw or typed, in an initializer or a Constant node, the
 * opset version) set to a boundary value; a node's op_type; or one of a
 * node's inputs renamed to another tensor of the graph. Shape arithmetic
 * overflows and missing checks live exactly there.
 */
#define _XOPEN_SOURCE 700 // strdup
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static uint64_t rng;

static uint64_t next(void)
{
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static int64_t interesting(void)
{
  static const int64_t values[] = {0, 1, 2, 3, -1, -2, 7, 8, 9, 255, 256, 65536,
                                   INT32_MAX, (int64_t)INT32_MAX + 1, INT32_MIN,
                                   (int64_t)1 << 31, (int64_t)1 << 32, (int64_t)1 << 40,
                                   (int64_t)1 << 62, INT64_MAX, INT64_MIN, INT64_MAX - 1,
                                   -INT64_MAX, 1 << 20, 1 << 28, -(1 << 20)};
  uint64_t r = next();
  if (r % 4 == 0)
    return (int64_t)(next() % 64) - 16;
  return values[(r >> 2) % (sizeof values / sizeof values[0])];
}

// Integer slots of the model a mutation may overwrite.
typedef struct {
  int64_t *i64[4096];
  int32_t *i32[1024];
  uint8_t *raw[1024];  // 8-byte little-endian words of int64 raw_data
  int n64, n32, nraw;
} Slots;

static void add_tensor(Slots *s, Onnx__TensorProto *t)
{
  for (size_t i = 0; i < t->n_dims && s->n64 < 4096; i++)
    s->i64[s->n64++] = &t->dims[i];
  for (size_t i = 0; i < t->n_int64_data && s->n64 < 4096; i++)
    s->i64[s->n64++] = &t->int64_data[i];
  for (size_t i = 0; i < t->n_int32_data && s->n32 < 1024; i++)
    s->i32[s->n32++] = &t->int32_data[i];
  if (t->has_raw_data && t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__INT64)
    for (size_t i = 0; i + 8 <= t->raw_data.len && s->nraw < 1024; i += 8)
      s->raw[s->nraw++] = t->raw_data.data + i;
}

static const char *const op_names[] = {
    "Relu", "Add", "Mul", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gemm", "MatMul",
    "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Softmax", "Transpose", "Slice",
    "Pad", "Concat", "Split", "Gather", "ReduceMean", "ReduceSum", "ReduceProd", "Constant",
    "Shape", "Size", "Cast", "ConstantOfShape", "Range", "Expand", "Tile", "Equal", "Where",
    "Not", "BatchNormalization", "Identity", "Dropout", "Clip", "Pow", "Div", "Sub", "Neg",
    "Abs", "Sum", "Max", "Min", "Mean", "PRelu", "LeakyRelu", "Sigmoid"};

static int mutate_model(Onnx__ModelProto *m)
{
  Onnx__GraphProto *g = m->graph;
  uint64_t kind = next() % 8;
  if (kind == 0 && g->n_node) { // another operator
    Onnx__NodeProto *n = g->node[next() % g->n_node];
    free(n->op_type);
    n->op_type = strdup(op_names[next() % (sizeof op_names / sizeof op_names[0])]);
    return 0;
  }
  if (kind == 1 && g->n_node) { // another input: any tensor name of the graph
    Onnx__NodeProto *n = g->node[next() % g->n_node];
    Onnx__NodeProto *src = g->node[next() % g->n_node];
    if (!n->n_input || !src->n_output)
      return -1;
    size_t k = next() % n->n_input;
    free(n->input[k]);
    n->input[k] = strdup(next() % 4 ? src->output[next() % src->n_output] : "");
    return 0;
  }
  static Slots s;
  s.n64 = s.n32 = s.nraw = 0;
  for (size_t i = 0; i < m->n_opset_import; i++)
    s.i64[s.n64++] = &m->opset_import[i]->version;
  for (size_t i = 0; i < g->n_initializer; i++)
    add_tensor(&s, g->initializer[i]);
  for (size_t i = 0; i < g->n_input; i++) {
    Onnx__TypeProto *t = g->input[i]->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type->shape)
      continue;
    for (size_t k = 0; k < t->tensor_type->shape->n_dim && s.n64 < 4096; k++) {
      Onnx__TensorShapeProto__Dimension *d = t->tensor_type->shape->dim[k];
      if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE)
        s.i64[s.n64++] = &d->dim_value;
    }
  }
  for (size_t i = 0; i < g->n_node; i++)
    for (size_t k = 0; k < g->node[i]->n_attribute; k++) {
      Onnx__AttributeProto *a = g->node[i]->attribute[k];
      if (a->has_i && s.n64 < 4096)
        s.i64[s.n64++] = &a->i;
      for (size_t j = 0; j < a->n_ints && s.n64 < 4096; j++)
        s.i64[s.n64++] = &a->ints[j];
      if (a->t)
        add_tensor(&s, a->t);
    }
  size_t total = (size_t)(s.n64 + s.n32 + s.nraw);
  if (!total)
    return -1;
  size_t pick = next() % total;
  int64_t v = interesting();
  if (pick < (size_t)s.n64) {
    *s.i64[pick] = v;
  } else if ((pick -= (size_t)s.n64) < (size_t)s.n32) {
    *s.i32[pick] = (int32_t)v;
  } else {
    pick -= (size_t)s.n32;
    for (int b = 0; b < 8; b++)
      s.raw[pick][b] = (uint8_t)((uint64_t)v >> (8 * b));
  }
  return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
  rng = seed * 0x9E3779B97F4A7C15ull + 1;
  if (next() % 2)
    return LLVMFuzzerMutate(data, size, max_size);
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
  if (!m || !m->graph || mutate_model(m) != 0) {
    if (m)
      onnx__model_proto__free_unpacked(m, NULL);
    return LLVMFuzzerMutate(data, size, max_size);
  }
  size_t packed = onnx__model_proto__get_packed_size(m);
  if (packed <= max_size)
    onnx__model_proto__pack(m, data);
  onnx__model_proto__free_unpacked(m, NULL);
  return packed <= max_size ? packed : LLVMFuzzerMutate(data, size, max_size);
}
