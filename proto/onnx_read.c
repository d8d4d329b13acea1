/*
 * onnx_read.c - ONNX protobuf -> onnxcc IR.
 *
 * Unpacks a ModelProto with the protoc-c binding generated at build time
 * from Debian's onnx.proto, and copies what the compiler needs into its own
 * Graph: opset, inputs with their (possibly symbolic) shapes, initializers
 * with their data decoded to float or int64, nodes and attributes. Every
 * structural problem of the file itself (not a protobuf message, bad
 * tensor data sizes, external data outside the model's folder, duplicate
 * names, names that cannot be written into C) is reported here with the
 * tensor or node it concerns, and so are the caps of Limits that the file
 * alone decides: node count, elements of each initializer, and the bytes
 * of all constant data. Memory stays proportional to the file (plus
 * external data, within the caps).
 *
 * It deliberately does not check operator semantics or graph order: that
 * is check.c's job, on the IR.
 */
#define _XOPEN_SOURCE 700 // realpath
#include "onnx_read.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "onnx.pb-c.h"

// Files larger than this are refused before reading (2 GiB is protobuf's own limit).
#define MAX_FILE_BYTES ((size_t)2 << 30)
// Deepest nesting of messages accepted. protobuf-c unpacks recursively, so a
// small file of messages nested a million deep would overflow the stack;
// real models (subgraphs of subgraphs included) stay far below this.
#define MAX_NESTING 100

// What every step of the reading shares.
typedef struct {
  Diag *d;
  const char *dir;      // the model's folder, for external data
  Limits lim;
  int64_t const_bytes;  // constant data read so far, as the IR holds it
} Reader;

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

// An element count for messages: the number, or "more than 2^63" when it overflowed (< 0).
static const char *count_str(int64_t count)
{
  static char buf[32];
  if (count < 0)
    return "more than 2^63";
  snprintf(buf, sizeof buf, "%lld", (long long)count);
  return buf;
}

static int read_varint(const uint8_t *p, size_t len, size_t *i, uint64_t *v)
{
  *v = 0;
  for (int shift = 0; *i < len && shift < 64; shift += 7) {
    uint8_t b = p[(*i)++];
    *v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80))
      return 1;
  }
  return 0;
}

// 0 if the message `desc` in p[0, len) nests messages deeper than
// MAX_NESTING levels below `depth`; 1 otherwise, malformed data included
// (the unpacking that follows reports that). Iterative within a level,
// recursive only into message fields, at most MAX_NESTING deep.
static int nesting_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t len,
                      int depth)
{
  if (depth > MAX_NESTING)
    return 0;
  for (size_t i = 0; i < len;) {
    uint64_t key, v;
    if (!read_varint(p, len, &i, &key))
      return 1;
    switch (key & 7) {
    case 0:
      if (!read_varint(p, len, &i, &v))
        return 1;
      break;
    case 1: i += 8; break;
    case 5: i += 4; break;
    case 2: {
      if (!read_varint(p, len, &i, &v) || v > len - i)
        return 1;
      const ProtobufCFieldDescriptor *f =
          key >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(desc, (unsigned)(key >> 3))
                                 : NULL;
      if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
          !nesting_ok(f->descriptor, p + i, (size_t)v, depth + 1))
        return 0;
      i += (size_t)v;
      break;
    }
    default:
      return 1; // groups and invalid wire types: malformed
    }
  }
  return 1;
}

int onnx_model_nesting_ok(const void *bytes, size_t len)
{
  return nesting_ok(&onnx__model_proto__descriptor, bytes, len, 0);
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
// 1 if path (a file that exists) is inside dir once symbolic links are resolved.
static int is_inside(const char *dir, const char *path)
{
  char *rd = realpath(dir, NULL), *rp = realpath(path, NULL);
  size_t n = rd ? strlen(rd) : 0;
  int inside = rd && rp && !strncmp(rd, rp, n) && (rp[n] == '/' || (n == 1 && rd[0] == '/'));
  free(rd);
  free(rp);
  return inside;
}

static unsigned char *read_external(Reader *r, const Onnx__TensorProto *tp, int64_t want)
{
  Diag *d = r->d;
  const char *model_dir = r->dir;
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
  // Checked before opening: a FIFO would block open() forever.
  struct stat st;
  FILE *f = NULL;
  unsigned char *buf = NULL;
  if (stat(path, &st) != 0) {
    diag_error(d, "tensor '%s': cannot open external data file '%s': %s", tn, location,
               strerror(errno));
  } else if (!is_inside(model_dir, path)) { // a symbolic link out of the folder
    diag_error(d, "tensor '%s': external data location '%s' is outside the model's folder",
               tn, location);
  } else if (!S_ISREG(st.st_mode)) {
    diag_error(d, "tensor '%s': external data location '%s' is not a regular file", tn,
               location);
  } else if (!(f = fopen(path, "rb"))) {
    diag_error(d, "tensor '%s': cannot open external data file '%s': %s", tn, location,
               strerror(errno));
  } else {
    // Its size first: nothing is allocated for data the file does not hold.
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size < 0 || offset > size || want > size - offset ||
        fseek(f, (long)offset, SEEK_SET) != 0) {
      diag_error(d, "tensor '%s': external data file '%s' is shorter than offset %lld + %lld bytes",
                 tn, location, (long long)offset, (long long)want);
    } else {
      buf = xmalloc(want ? (size_t)want : 1);
      if (fread(buf, 1, (size_t)want, f) != (size_t)want) {
        diag_error(d, "tensor '%s': cannot read external data file '%s'", tn, location);
        free(buf);
        buf = NULL;
      }
    }
  }
  if (f)
    fclose(f);
  free(path);
  return buf;
}

// Copies a TensorProto's type, dims and data into t (kind T_CONST).
static int tensor_from_proto(Reader *r, const Onnx__TensorProto *tp, Tensor *t)
{
  Diag *d = r->d;
  const char *tn = t->name ? t->name : "";
  t->kind = T_CONST;
  t->dtype = (DType)tp->data_type;
  if (tp->n_dims > MAX_RANK) {
    diag_error(d, "tensor '%s' has rank %zu; at most %d is supported", tn, tp->n_dims, MAX_RANK);
    return -1;
  }
  t->rank = (int)tp->n_dims;
  for (size_t i = 0; i < tp->n_dims; i++) {
    if (tp->dims[i] < 0) {
      diag_error(d, "tensor '%s' has negative dimension %lld", tn, (long long)tp->dims[i]);
      return -1;
    }
    t->dims[i] = tp->dims[i];
  }
  // An empty tensor's other dimensions count too (strides over them must fit an int).
  int64_t count = tensor_count(t), extent = 1;
  for (int i = 0; i < t->rank && extent >= 0; i++)
    extent = checked_mul(extent, t->dims[i] > 0 ? t->dims[i] : 1);
  if (extent < 0 || extent > r->lim.max_elements) {
    char shape[200];
    diag_error(d, "tensor '%s' %s %s %s elements, more than the limit of %lld (--max-elements)",
               tn, shape_str(t, shape, sizeof shape),
               count == 0 ? "is empty, but its other dimensions make" : "has",
               count_str(extent), (long long)r->lim.max_elements);
    return -1;
  }
  if (tp->segment) {
    diag_error(d, "tensor '%s': segmented tensors are not supported", tn);
    return -1;
  }
  int rs = raw_size(t->dtype);
  if (rs == 0 && ((int)t->dtype < 0 || t->dtype > DT_BFLOAT16)) {
    diag_error(d, "tensor '%s' has unknown data type %d", tn, (int)t->dtype);
    return -1;
  }
  if (rs == 0) {
    diag_error(d, "tensor '%s' has unsupported data type %s", tn, dtype_name(t->dtype));
    return -1;
  }
  int64_t held = count * (is_float_type(t->dtype) ? 4 : 8);
  if (held > r->lim.max_weight_bytes - r->const_bytes) {
    diag_error(d, "tensor '%s' brings the constant data to %lld bytes, more than the limit of "
                  "%lld (--max-weight-bytes)", tn, (long long)(r->const_bytes + held),
               (long long)r->lim.max_weight_bytes);
    return -1;
  }
  r->const_bytes += held;
  // The data's size is checked before anything is allocated for it, so a
  // few bytes of file never cost more than the data they hold.
  int64_t bytes = count * rs;
  if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) {
    unsigned char *raw = read_external(r, tp, bytes);
    if (!raw)
      return -1;
    decode_raw(raw, t->dtype, count, const_alloc(t));
    free(raw);
    return 0;
  }
  if (tp->has_raw_data) {
    if ((int64_t)tp->raw_data.len != bytes) {
      diag_error(d, "tensor '%s': raw_data has %zu bytes, expected %lld for %s of %lld elements",
                 tn, tp->raw_data.len, (long long)bytes, dtype_name(t->dtype), (long long)count);
      return -1;
    }
    decode_raw(tp->raw_data.data, t->dtype, count, const_alloc(t));
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
  void *data = const_alloc(t);
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

// Length of the valid UTF-8 sequence at s (no overlong forms, no
// surrogates, at most U+10FFFF), or 0.
static int utf8_length(const unsigned char *s)
{
  int n = s[0] < 0xc2 ? 0 : s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : s[0] < 0xf5 ? 4 : 0;
  unsigned lo = s[0] == 0xe0 ? 0xa0 : s[0] == 0xf0 ? 0x90 : 0x80;
  unsigned hi = s[0] == 0xed ? 0x9f : s[0] == 0xf4 ? 0x8f : 0xbf;
  if (n && (s[1] < lo || s[1] > hi))
    return 0;
  for (int i = 2; i < n; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

// What in name cannot go into generated C (names end up in comments, in
// string literals and in messages), or NULL if nothing.
static const char *name_problem(const char *name)
{
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    if (*p < 0x20 || *p == 0x7f)
      return "a control character";
    if (*p == '"' || *p == '\\')
      return *p == '"' ? "'\"'" : "a backslash";
    if ((p[0] == '*' && p[1] == '/') || (p[0] == '/' && p[1] == '*'))
      return "a comment delimiter";
    if (p[0] == '?' && p[1] == '?')
      return "'?\?' (a C trigraph)";
    if (*p >= 0x80) {
      int n = utf8_length(p);
      if (!n)
        return "bytes that are not UTF-8";
      p += n - 1;
    }
  }
  return NULL;
}

// name, printable: bytes outside ASCII's printable range as \xNN.
static const char *printable(const char *name, char *buf, size_t cap)
{
  size_t n = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p && n + 5 < cap; p++)
    n += (size_t)snprintf(buf + n, cap - n, *p < 0x20 || *p >= 0x7f ? "\\x%02x" : "%c", *p);
  buf[n] = 0;
  return buf;
}

// Refuses a name that generated C could not hold. n: the node it belongs to, or NULL.
static int check_name(Diag *d, const Node *n, const char *what, const char *name)
{
  const char *problem = name_problem(name);
  if (!problem)
    return 0;
  char buf[200];
  if (n)
    diag_node(d, n, "%s '%s' contains %s, which cannot be written into generated C", what,
              printable(name, buf, sizeof buf), problem);
  else
    diag_error(d, "%s '%s' contains %s, which cannot be written into generated C", what,
               printable(name, buf, sizeof buf), problem);
  return -1;
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

static int read_attr(Reader *r, const Node *n, const Onnx__AttributeProto *ap, Attr *a)
{
  Diag *d = r->d;
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
    if (tensor_from_proto(r, ap->t, a->t) != 0)
      return -1;
  }
  return 0;
}

static int by_name(const void *x, const void *y)
{
  return strcmp(*(const char *const *)x, *(const char *const *)y);
}

// An attribute given twice is an error (sorted, so a node with very many
// attributes costs n log n, not n^2).
static int check_attrs_unique(Diag *d, const Node *n)
{
  const char **names = xcalloc((size_t)n->nattrs, sizeof(char *));
  for (int k = 0; k < n->nattrs; k++)
    names[k] = n->attrs[k].name;
  qsort(names, (size_t)n->nattrs, sizeof(char *), by_name);
  int rc = 0;
  for (int k = 1; k < n->nattrs && rc == 0; k++)
    if (!strcmp(names[k - 1], names[k])) {
      diag_node(d, n, "attribute '%s' is given twice", names[k]);
      rc = -1;
    }
  free(names);
  return rc;
}

// Finds or creates the tensor a node reads. Unknown names become
// placeholders that check.c reports if nothing ever produces them.
static Tensor *use_tensor(Graph *g, const char *name)
{
  Tensor *t = graph_find_tensor(g, name);
  return t ? t : graph_add_tensor(g, name);
}

static int read_nodes(Reader *r, Graph *g, const Onnx__GraphProto *gp)
{
  Diag *d = r->d;
  if ((int64_t)gp->n_node > g->limits.max_nodes) {
    diag_error(d, "the graph has %zu nodes, more than the limit of %lld (--max-nodes)",
               gp->n_node, (long long)g->limits.max_nodes);
    return -1;
  }
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    char buf[200];
    const char *name = np->name ? np->name : "", *op_type = np->op_type ? np->op_type : "";
    if (name_problem(name) || name_problem(op_type)) {
      diag_error(d, "node %zu: its %s '%s' contains %s, which cannot be written into generated C",
                 i, name_problem(name) ? "name" : "op_type",
                 printable(name_problem(name) ? name : op_type, buf, sizeof buf),
                 name_problem(name) ? name_problem(name) : name_problem(op_type));
      return -1;
    }
    Node *n = graph_add_node(g, name, op_type, (int)np->n_input, (int)np->n_output);
    free(n->domain);
    n->domain = xstrdup(np->domain ? np->domain : "");
    for (size_t k = 0; k < np->n_input; k++) {
      if (check_name(d, n, "input", np->input[k]) != 0)
        return -1;
      n->inputs[k] = np->input[k][0] ? use_tensor(g, np->input[k]) : NULL;
    }
    for (size_t k = 0; k < np->n_output; k++) {
      if (!np->output[k][0])
        continue; // omitted optional output
      if (check_name(d, n, "output", np->output[k]) != 0)
        return -1;
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
      if (read_attr(r, n, np->attribute[k], &n->attrs[k]) != 0)
        return -1;
    if (n->nattrs > 1 && check_attrs_unique(d, n) != 0)
      return -1;
  }
  return 0;
}

static int read_graph(Reader *r, Graph *g, const Onnx__GraphProto *gp)
{
  Diag *d = r->d;
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const Onnx__TensorProto *tp = gp->initializer[i];
    const char *name = tp->name ? tp->name : "";
    if (check_name(d, NULL, "initializer", name) != 0)
      return -1;
    Tensor *t = graph_add_tensor(g, name);
    if (!t) {
      diag_error(d, "initializer '%s' is defined twice", name);
      return -1;
    }
    if (tensor_from_proto(r, tp, t) != 0)
      return -1;
  }
  if (gp->n_sparse_initializer) {
    diag_error(d, "sparse initializers are not supported");
    return -1;
  }
  g->inputs = xcalloc(gp->n_input + 1, sizeof(Tensor *));
  for (size_t i = 0; i < gp->n_input; i++) {
    const char *name = gp->input[i]->name ? gp->input[i]->name : "";
    if (check_name(d, NULL, "graph input", name) != 0)
      return -1;
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
  if (read_nodes(r, g, gp) != 0)
    return -1;
  g->outputs = xcalloc(gp->n_output + 1, sizeof(Tensor *));
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = gp->output[i]->name ? gp->output[i]->name : "";
    if (check_name(d, NULL, "graph output", name) != 0)
      return -1;
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
  return onnx_read_model_limited(d, path, NULL);
}

Graph *onnx_read_model_limited(Diag *d, const char *path, const Limits *limits)
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
  if (!onnx_model_nesting_ok(bytes, len)) {
    diag_error(d, "not an ONNX model: messages are nested more than %d deep", MAX_NESTING);
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
  g->limits = limits_resolve(limits);
  g->ir_version = mp->ir_version;
  g->producer = xstrdup(mp->producer_name ? mp->producer_name : "");
  g->opset = -1;
  int64_t opset = -1;
  for (size_t i = 0; i < mp->n_opset_import; i++) {
    const char *dom = mp->opset_import[i]->domain;
    if (!dom || !*dom || !strcmp(dom, "ai.onnx"))
      opset = mp->opset_import[i]->version;
  }
  g->opset = opset < -1 || opset > INT_MAX ? 0 : (int)opset;
  Reader r = {d, NULL, g->limits, 0};
  char *model_dir = dir_of(path);
  r.dir = model_dir;
  int rc = 0;
  if (check_name(d, NULL, "producer_name", g->producer) != 0) {
    rc = -1;
  } else if (opset < -1 || opset > INT_MAX) {
    diag_error(d, "the model imports opset %lld of the default ONNX domain, which does not exist",
               (long long)opset);
    rc = -1;
  } else if (!mp->graph) {
    diag_error(d, "not an ONNX model: no graph (is this a different protobuf file?)");
    rc = -1;
  } else if (g->opset < 0 && mp->ir_version >= 3) {
    diag_error(d, "the model imports no opset for the default ONNX domain; only ai.onnx "
                  "operators are supported");
    rc = -1;
  } else {
    if (g->opset < 0)
      g->opset = 1; // IR versions before 3 had no opset_import
    rc = read_graph(&r, g, mp->graph);
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
  if (!nesting_ok(&onnx__tensor_proto__descriptor, bytes, len, 0)) {
    diag_error(d, "not a serialized ONNX TensorProto: messages are nested more than %d deep",
               MAX_NESTING);
    free(bytes);
    return NULL;
  }
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
  Reader r = {d, dir, limits_resolve(NULL), 0};
  int rc = tensor_from_proto(&r, tp, t);
  free(dir);
  onnx__tensor_proto__free_unpacked(tp, NULL);
  if (rc != 0) {
    tensor_free(t);
    return NULL;
  }
  return t;
}
