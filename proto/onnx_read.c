/*
 * onnx_read.c - ONNX protobuf -> onnxcc IR.
 *
 * Unpacks a ModelProto with the protoc-c binding generated at build time
 * from Debian's onnx.proto, and copies what the compiler needs into its own
 * Graph: opset, inputs with their (possibly symbolic) shapes, initializers
 * with their data decoded to float or int64, nodes and attributes. Every
 * structural problem of the file itself (not a protobuf message, bad
 * tensor data sizes, external data outside the model's folder, duplicate
 * names) is reported here with the tensor or node it concerns.
 *
 * It deliberately does not check operator semantics or graph order: that
 * is check.c's job, on the IR.
 */
#include "onnx_read.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "onnx.pb-c.h"

// Files larger than this are refused before reading (2 GiB is protobuf's own limit).
#define MAX_FILE_BYTES ((size_t)2 << 30)

static unsigned char *read_whole_file(Diag *d, const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) {
    diag_error(d, "cannot open: %s", strerror(errno));
    return NULL;
  }
  unsigned char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      if (cap >= MAX_FILE_BYTES) {
        diag_error(d, "file is larger than 2 GiB");
        free(buf);
        fclose(f);
        return NULL;
      }
      cap = cap ? cap * 2 : 1 << 16;
      unsigned char *nb = realloc(buf, cap);
      if (!nb) {
        diag_error(d, "out of memory reading the file");
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0)
      break;
  }
  int err = ferror(f);
  fclose(f);
  if (err) {
    diag_error(d, "read error");
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

static float half_to_float(uint16_t h)
{
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: normalise
      int e = -1;
      do {
        e++;
        mant <<= 1;
      } while (!(mant & 0x400));
      bits = sign | ((uint32_t)(127 - 15 - e) << 23) | ((mant & 0x3ff) << 13);
    }
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

static float bfloat_to_float(uint16_t h)
{
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

// Bytes per element in raw_data for the types we decode; 0 for others.
static int raw_size(DType dt)
{
  switch (dt) {
  case DT_BOOL: case DT_INT8: case DT_UINT8: return 1;
  case DT_INT16: case DT_UINT16: case DT_FLOAT16: case DT_BFLOAT16: return 2;
  case DT_INT32: case DT_UINT32: case DT_FLOAT: return 4;
  case DT_INT64: case DT_UINT64: case DT_DOUBLE: return 8;
  default: return 0;
  }
}

// Element i of little-endian raw data, widened.
static void decode_raw(const unsigned char *p, DType dt, int64_t count, void *out)
{
  for (int64_t i = 0; i < count; i++) {
    const unsigned char *q = p + i * raw_size(dt);
    uint64_t u = 0;
    for (int b = raw_size(dt) - 1; b >= 0; b--)
      u = (u << 8) | q[b];
    switch (dt) {
    case DT_FLOAT: { uint32_t w = (uint32_t)u; memcpy((float *)out + i, &w, 4); break; }
    case DT_DOUBLE: { double v; memcpy(&v, &u, 8); ((float *)out)[i] = (float)v; break; }
    case DT_FLOAT16: ((float *)out)[i] = half_to_float((uint16_t)u); break;
    case DT_BFLOAT16: ((float *)out)[i] = bfloat_to_float((uint16_t)u); break;
    case DT_INT8: ((int64_t *)out)[i] = (int8_t)u; break;
    case DT_INT16: ((int64_t *)out)[i] = (int16_t)u; break;
    case DT_INT32: ((int64_t *)out)[i] = (int32_t)u; break;
    case DT_INT64: ((int64_t *)out)[i] = (int64_t)u; break;
    case DT_BOOL: ((int64_t *)out)[i] = u != 0; break;
    default: ((int64_t *)out)[i] = (int64_t)u; break; // unsigned types
    }
  }
}

// Reads external data (location relative to the model's folder, never outside it).
static unsigned char *read_external(Diag *d, const Onnx__TensorProto *tp,
                                    const char *model_dir, int64_t want)
{
  const char *location = NULL;
  int64_t offset = 0, length = -1;
  for (size_t i = 0; i < tp->n_external_data; i++) {
    const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
    if (!k || !v)
      continue;
    if (!strcmp(k, "location"))
      location = v;
    else if (!strcmp(k, "offset"))
      offset = strtoll(v, NULL, 10);
    else if (!strcmp(k, "length"))
      length = strtoll(v, NULL, 10);
  }
  const char *tn = tp->name ? tp->name : "";
  if (!location || !*location) {
    diag_error(d, "tensor '%s': external data without a location", tn);
    return NULL;
  }
  if (location[0] == '/' || strstr(location, "..")) {
    diag_error(d, "tensor '%s': external data location '%s' is outside the model's folder",
               tn, location);
    return NULL;
  }
  if (offset < 0 || (length >= 0 && length != want)) {
    diag_error(d, "tensor '%s': external data offset %lld / length %lld do not match its %lld bytes",
               tn, (long long)offset, (long long)length, (long long)want);
    return NULL;
  }
  size_t plen = strlen(model_dir) + strlen(location) + 2;
  char *path = xmalloc(plen);
  snprintf(path, plen, "%s/%s", model_dir, location);
  FILE *f = fopen(path, "rb");
  unsigned char *buf = NULL;
  if (!f) {
    diag_error(d, "tensor '%s': cannot open external data file '%s': %s", tn, location,
               strerror(errno));
  } else {
    buf = xmalloc(want ? (size_t)want : 1);
    if (fseek(f, (long)offset, SEEK_SET) != 0 ||
        fread(buf, 1, (size_t)want, f) != (size_t)want) {
      diag_error(d, "tensor '%s': external data file '%s' is shorter than offset %lld + %lld bytes",
                 tn, location, (long long)offset, (long long)want);
      free(buf);
      buf = NULL;
    }
    fclose(f);
  }
  free(path);
  return buf;
}

// Copies a TensorProto's type, dims and data into t (kind T_CONST).
static int tensor_from_proto(Diag *d, const Onnx__TensorProto *tp, Tensor *t,
                             const char *model_dir)
{
  const char *tn = t->name ? t->name : "";
  t->kind = T_CONST;
  t->dtype = (DType)tp->data_type;
  if (tp->n_dims > MAX_RANK) {
    diag_error(d, "tensor '%s' has rank %zu; at most %d is supported", tn, tp->n_dims, MAX_RANK);
    return -1;
  }
  t->rank = (int)tp->n_dims;
  int64_t count = 1;
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0) {
      diag_error(d, "tensor '%s' has negative dimension %lld", tn, (long long)tp->dims[i]);
      return -1;
    }
    t->dims[i] = tp->dims[i];
    count = checked_mul(count, tp->dims[i]);
    if (count < 0 || count > INT32_MAX) {
      diag_error(d, "tensor '%s': element count overflows (dims too large)", tn);
      return -1;
    }
  }
  if (tp->segment) {
    diag_error(d, "tensor '%s': segmented tensors are not supported", tn);
    return -1;
  }
  int rs = raw_size(t->dtype);
  if (rs == 0) {
    diag_error(d, "tensor '%s' has unsupported data type %s", tn, dtype_name(t->dtype));
    return -1;
  }
  void *data = const_alloc(t);
  if (!data) {
    diag_error(d, "tensor '%s': out of memory", tn);
    return -1;
  }
  int64_t bytes = count * rs;
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    unsigned char *raw = read_external(d, tp, model_dir, bytes);
    if (!raw)
      return -1;
    decode_raw(raw, t->dtype, count, data);
    free(raw);
    return 0;
  }
  if (tp->has_raw_data) {
    if ((int64_t)tp->raw_data.len != bytes) {
      diag_error(d, "tensor '%s': raw_data has %zu bytes, expected %lld for %s of %lld elements",
                 tn, tp->raw_data.len, (long long)bytes, dtype_name(t->dtype), (long long)count);
      return -1;
    }
    decode_raw(tp->raw_data.data, t->dtype, count, data);
    return 0;
  }
  size_t have;
  switch (t->dtype) {
  case DT_FLOAT: have = tp->n_float_data; break;
  case DT_DOUBLE: have = tp->n_double_data; break;
  case DT_INT64: have = tp->n_int64_data; break;
  case DT_UINT32: case DT_UINT64: have = tp->n_uint64_data; break;
  default: have = tp->n_int32_data; break;
  }
  if ((int64_t)have != count) {
    diag_error(d, "tensor '%s' holds %zu values, expected %lld for its dims", tn, have,
               (long long)count);
    return -1;
  }
  for (int64_t i = 0; i < count; i++) {
    switch (t->dtype) {
    case DT_FLOAT: ((float *)data)[i] = tp->float_data[i]; break;
    case DT_DOUBLE: ((float *)data)[i] = (float)tp->double_data[i]; break;
    case DT_FLOAT16: ((float *)data)[i] = half_to_float((uint16_t)tp->int32_data[i]); break;
    case DT_BFLOAT16: ((float *)data)[i] = bfloat_to_float((uint16_t)tp->int32_data[i]); break;
    case DT_INT64: ((int64_t *)data)[i] = tp->int64_data[i]; break;
    case DT_UINT32: case DT_UINT64: ((int64_t *)data)[i] = (int64_t)tp->uint64_data[i]; break;
    case DT_BOOL: ((int64_t *)data)[i] = tp->int32_data[i] != 0; break;
    default: ((int64_t *)data)[i] = tp->int32_data[i]; break;
    }
  }
  return 0;
}

static int value_info_to_tensor(Diag *d, const Onnx__ValueInfoProto *vi, Tensor *t)
{
  const Onnx__TypeProto *tp = vi->type;
  if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type) {
    diag_error(d, "graph input '%s' is not a tensor (sequence, map and optional inputs are not supported)",
               t->name);
    return -1;
  }
  const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
  t->dtype = (DType)tt->elem_type;
  if (!tt->shape) { // unknown rank
    t->rank = -1;
    return 0;
  }
  if (tt->shape->n_dim > MAX_RANK) {
    diag_error(d, "graph input '%s' has rank %zu; at most %d is supported", t->name,
               tt->shape->n_dim, MAX_RANK);
    return -1;
  }
  t->rank = (int)tt->shape->n_dim;
  for (int i = 0; i < t->rank; i++) {
    const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
    if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
      if (dim->dim_value < 0) {
        diag_error(d, "graph input '%s' has negative dimension %lld", t->name,
                   (long long)dim->dim_value);
        return -1;
      }
      t->dims[i] = dim->dim_value;
    } else {
      t->dims[i] = -1;
      t->dim_params[i] = xstrdup(dim->value_case ==
                                         ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                                     dim->dim_param
                                 ? dim->dim_param
                                 : "?");
    }
  }
  return 0;
}

static int read_attr(Diag *d, const Node *n, const Onnx__AttributeProto *ap, Attr *a,
                     const char *model_dir)
{
  a->name = xstrdup(ap->name ? ap->name : "");
  a->type = ap->has_type ? (AttrType)ap->type : A_UNDEFINED;
  if (a->type == A_UNDEFINED) { // IR version 1 files carry no type: infer it
    if (ap->t) a->type = A_TENSOR;
    else if (ap->n_ints) a->type = A_INTS;
    else if (ap->n_floats) a->type = A_FLOATS;
    else if (ap->has_s) a->type = A_STRING;
    else if (ap->has_f) a->type = A_FLOAT;
    else a->type = A_INT;
  }
  a->f = ap->f;
  a->i = ap->i;
  if (ap->has_s || a->type == A_STRING) {
    a->s = xmalloc(ap->s.len + 1);
    if (ap->s.len)
      memcpy(a->s, ap->s.data, ap->s.len);
    a->s[ap->s.len] = 0;
  }
  if (a->type == A_FLOATS) {
    a->count = (int)ap->n_floats;
    a->floats = xcalloc(ap->n_floats + 1, sizeof(float));
    if (ap->n_floats)
      memcpy(a->floats, ap->floats, ap->n_floats * sizeof(float));
  } else if (a->type == A_INTS) {
    a->count = (int)ap->n_ints;
    a->ints = xcalloc(ap->n_ints + 1, sizeof(int64_t));
    if (ap->n_ints)
      memcpy(a->ints, ap->ints, ap->n_ints * sizeof(int64_t));
  } else if (a->type == A_STRINGS) {
    a->count = (int)ap->n_strings;
  }
  if (a->type == A_TENSOR) {
    if (!ap->t) {
      diag_node(d, n, "attribute '%s' is a tensor attribute without a tensor", a->name);
      return -1;
    }
    a->t = xcalloc(1, sizeof(Tensor));
    a->t->name = xstrdup(ap->t->name ? ap->t->name : a->name);
    a->t->producer = -1;
    a->t->input_index = a->t->output_index = -1;
    if (tensor_from_proto(d, ap->t, a->t, model_dir) != 0)
      return -1;
  }
  return 0;
}

// Finds or creates the tensor a node reads. Unknown names become
// placeholders that check.c reports if nothing ever produces them.
static Tensor *use_tensor(Graph *g, const char *name)
{
  Tensor *t = graph_find_tensor(g, name);
  return t ? t : graph_add_tensor(g, name);
}

static int read_nodes(Diag *d, Graph *g, const Onnx__GraphProto *gp, const char *model_dir)
{
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    Node *n = graph_add_node(g, np->name ? np->name : "", np->op_type ? np->op_type : "",
                             (int)np->n_input, (int)np->n_output);
    free(n->domain);
    n->domain = xstrdup(np->domain ? np->domain : "");
    for (size_t k = 0; k < np->n_input; k++)
      n->inputs[k] = np->input[k][0] ? use_tensor(g, np->input[k]) : NULL;
    for (size_t k = 0; k < np->n_output; k++) {
      if (!np->output[k][0])
        continue; // omitted optional output
      Tensor *t = use_tensor(g, np->output[k]);
      if (t->producer >= 0 || t->kind != T_ACTIVATION) {
        diag_node(d, n, "output '%s' is already produced by %s", t->name,
                  t->kind == T_INPUT   ? "a graph input"
                  : t->kind == T_CONST ? "an initializer"
                                       : "another node");
        return -1;
      }
      t->producer = n->index;
      n->outputs[k] = t;
    }
    n->nattrs = (int)np->n_attribute;
    n->attrs = xcalloc(np->n_attribute + 1, sizeof(Attr));
    for (size_t k = 0; k < np->n_attribute; k++)
      if (read_attr(d, n, np->attribute[k], &n->attrs[k], model_dir) != 0)
        return -1;
  }
  return 0;
}

static int read_graph(Diag *d, Graph *g, const Onnx__GraphProto *gp, const char *model_dir)
{
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    const char *name = tp->name ? tp->name : "";
    Tensor *t = graph_add_tensor(g, name);
    if (!t) {
      diag_error(d, "initializer '%s' is defined twice", name);
      return -1;
    }
    if (tensor_from_proto(d, tp, t, model_dir) != 0)
      return -1;
  }
  if (gp->n_sparse_initializer) {
    diag_error(d, "sparse initializers are not supported");
    return -1;
  }
  g->inputs = xcalloc(gp->n_input + 1, sizeof(Tensor *));
  for (size_t i = 0; i < gp->n_input; i++) {
    const char *name = gp->input[i]->name ? gp->input[i]->name : "";
    Tensor *t = graph_find_tensor(g, name);
    if (t && t->kind == T_CONST)
      continue; // IR < 4 lists initializers as inputs too; the initializer wins
    if (t) {
      diag_error(d, "graph input '%s' is listed twice", name);
      return -1;
    }
    t = graph_add_tensor(g, name);
    t->kind = T_INPUT;
    t->input_index = g->ninputs;
    g->inputs[g->ninputs++] = t;
    if (value_info_to_tensor(d, gp->input[i], t) != 0)
      return -1;
  }
  if (read_nodes(d, g, gp, model_dir) != 0)
    return -1;
  g->outputs = xcalloc(gp->n_output + 1, sizeof(Tensor *));
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = gp->output[i]->name ? gp->output[i]->name : "";
    Tensor *t = graph_find_tensor(g, name);
    if (!t) {
      diag_error(d, "graph output '%s' is not produced by any node, input or initializer", name);
      return -1;
    }
    if (t->output_index >= 0) {
      diag_error(d, "graph output '%s' is listed twice", name);
      return -1;
    }
    t->output_index = g->noutputs;
    g->outputs[g->noutputs++] = t;
  }
  if (g->noutputs == 0) {
    diag_error(d, "the graph has no outputs");
    return -1;
  }
  return 0;
}

static char *dir_of(const char *path)
{
  const char *slash = strrchr(path, '/');
  if (!slash)
    return xstrdup(".");
  size_t n = (size_t)(slash - path);
  char *dir = xmalloc(n + 2);
  memcpy(dir, path, n ? n : 1);
  dir[n ? n : 1] = 0;
  return dir;
}

Graph *onnx_read_model(Diag *d, const char *path)
{
  size_t len;
  unsigned char *bytes = read_whole_file(d, path, &len);
  if (!bytes)
    return NULL;
  if (len == 0) {
    diag_error(d, "the file is empty, not an ONNX model");
    free(bytes);
    return NULL;
  }
  Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, bytes);
  free(bytes);
  if (!mp) {
    diag_error(d, "not an ONNX model: the protobuf data is malformed or truncated");
    return NULL;
  }
  Graph *g = graph_new(path);
  g->ir_version = mp->ir_version;
  g->producer = xstrdup(mp->producer_name ? mp->producer_name : "");
  g->opset = -1;
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const char *dom = mp->opset_import[i]->domain;
    if (!dom || !*dom || !strcmp(dom, "ai.onnx"))
      g->opset = (int)mp->opset_import[i]->version;
  }
  char *model_dir = dir_of(path);
  int rc = 0;
  if (!mp->graph) {
    diag_error(d, "not an ONNX model: no graph (is this a different protobuf file?)");
    rc = -1;
  } else if (g->opset < 0 && mp->ir_version >= 3) {
    diag_error(d, "the model imports no opset for the default ONNX domain; only ai.onnx "
                  "operators are supported");
    rc = -1;
  } else {
    if (g->opset < 0)
      g->opset = 1; // IR versions before 3 had no opset_import
    rc = read_graph(d, g, mp->graph, model_dir);
  }
  free(model_dir);
  onnx__model_proto__free_unpacked(mp, NULL);
  if (rc != 0) {
    graph_free(g);
    return NULL;
  }
  return g;
}

Tensor *onnx_read_tensor_file(Diag *d, const char *path)
{
  size_t len;
  unsigned char *bytes = read_whole_file(d, path, &len);
  if (!bytes)
    return NULL;
  Onnx__TensorProto *tp = onnx__tensor_proto__unpack(NULL, len, bytes);
  free(bytes);
  if (!tp) {
    diag_error(d, "not a serialized ONNX TensorProto");
    return NULL;
  }
  Tensor *t = xcalloc(1, sizeof(Tensor));
  t->name = xstrdup(tp->name ? tp->name : "");
  t->producer = -1;
  t->input_index = t->output_index = -1;
  char *dir = dir_of(path);
  int rc = tensor_from_proto(d, tp, t, dir);
  free(dir);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  if (rc != 0) {
    tensor_free(t);
    return NULL;
  }
  return t;
}
