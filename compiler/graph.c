/*
 * graph.c - the compiler's IR: tensors, nodes, attributes, and the graph
 * that owns them.
 *
 * Tensors are looked up by name through a small open-addressing hash
 * table, so building the graph stays linear in the model's size. Nodes keep
 * their ONNX index and name for messages. Everything is freed by
 * graph_free(). The IR knows nothing of protobuf.
 */
#include "compiler.h"

#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

// Where an allocation failure jumps to (set by the driver, Lua style): the
// compiler is a library, so it never aborts; out of memory becomes an error.
static jmp_buf *oom_target;

void oom_set_handler(jmp_buf *target) { oom_target = target; }

static void out_of_memory(void)
{
  if (oom_target)
    longjmp(*oom_target, 1);
  // No handler: the caller has not installed one; fail as calloc would.
}

typedef struct {
  Tensor **slots;
  size_t cap, used;
} NameIndex;

char *xstrdup(const char *s)
{
  size_t n = strlen(s) + 1;
  char *p = xmalloc(n);
  memcpy(p, s, n);
  return p;
}

void *xcalloc(size_t count, size_t size)
{
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p)
    out_of_memory();
  return p;
}

void *xmalloc(size_t size)
{
  void *p = malloc(size ? size : 1);
  if (!p)
    out_of_memory();
  return p;
}

void *xrealloc(void *p, size_t size)
{
  void *q = realloc(p, size ? size : 1);
  if (!q)
    out_of_memory();
  return q;
}

static uint64_t hash_name(const char *s)
{
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static void index_insert(NameIndex *ix, Tensor *t)
{
  if ((ix->used + 1) * 2 > ix->cap) {
    NameIndex bigger = {xcalloc(ix->cap ? ix->cap * 2 : 64, sizeof(Tensor *)),
                        ix->cap ? ix->cap * 2 : 64, 0};
    for (size_t i = 0; i < ix->cap; i++)
      if (ix->slots[i])
        index_insert(&bigger, ix->slots[i]);
    free(ix->slots);
    *ix = bigger;
  }
  size_t i = hash_name(t->name) & (ix->cap - 1);
  while (ix->slots[i])
    i = (i + 1) & (ix->cap - 1);
  ix->slots[i] = t;
  ix->used++;
}

Limits limits_resolve(const Limits *in)
{
  Limits l = {LIMIT_MAX_ELEMENTS, LIMIT_MAX_WEIGHT_BYTES, LIMIT_MAX_NODES, LIMIT_MAX_FOLD_MACS};
  if (in && in->max_elements > 0)
    l.max_elements = in->max_elements;
  if (in && in->max_weight_bytes > 0)
    l.max_weight_bytes = in->max_weight_bytes;
  if (in && in->max_nodes > 0)
    l.max_nodes = in->max_nodes;
  if (in && in->max_fold_macs > 0)
    l.max_fold_macs = in->max_fold_macs;
  if (l.max_elements > LIMIT_ELEMENTS_CEILING)
    l.max_elements = LIMIT_ELEMENTS_CEILING;
  return l;
}

Graph *graph_new(const char *path)
{
  Graph *g = xcalloc(1, sizeof(Graph));
  g->path = xstrdup(path);
  g->name_index = xcalloc(1, sizeof(NameIndex));
  g->limits = limits_resolve(NULL);
  return g;
}

Tensor *graph_find_tensor(Graph *g, const char *name)
{
  NameIndex *ix = g->name_index;
  if (!ix->cap)
    return NULL;
  for (size_t i = hash_name(name) & (ix->cap - 1); ix->slots[i]; i = (i + 1) & (ix->cap - 1))
    if (!strcmp(ix->slots[i]->name, name))
      return ix->slots[i];
  return NULL;
}

Tensor *graph_add_tensor(Graph *g, const char *name)
{
  if (*name && graph_find_tensor(g, name))
    return NULL;
  Tensor *t = xcalloc(1, sizeof(Tensor));
  t->name = xstrdup(name);
  t->rank = -1;
  t->kind = T_ACTIVATION;
  t->producer = -1;
  t->input_index = t->output_index = -1;
  if (g->ntensors == g->tensors_cap) {
    g->tensors_cap = g->tensors_cap ? g->tensors_cap * 2 : 64;
    g->tensors = xrealloc(g->tensors, (size_t)g->tensors_cap * sizeof(Tensor *));
  }
  g->tensors[g->ntensors++] = t;
  if (*name)
    index_insert(g->name_index, t);
  return t;
}

Node *graph_add_node(Graph *g, const char *name, const char *op_type, int ninputs, int noutputs)
{
  Node *n = xcalloc(1, sizeof(Node));
  n->name = xstrdup(name);
  n->op_type = xstrdup(op_type);
  n->domain = xstrdup("");
  n->ninputs = ninputs;
  n->noutputs = noutputs;
  n->inputs = xcalloc((size_t)ninputs + 1, sizeof(Tensor *));
  n->outputs = xcalloc((size_t)noutputs + 1, sizeof(Tensor *));
  if (g->nnodes == g->nodes_cap) {
    g->nodes_cap = g->nodes_cap ? g->nodes_cap * 2 : 64;
    g->nodes = xrealloc(g->nodes, (size_t)g->nodes_cap * sizeof(Node *));
  }
  n->index = g->nnodes;
  g->nodes[g->nnodes++] = n;
  return n;
}

void tensor_free(Tensor *t)
{
  if (!t)
    return;
  free(t->name);
  for (int i = 0; i < MAX_RANK; i++)
    free(t->dim_params[i]);
  free(t->data);
  free(t->cname);
  free(t);
}

void node_free(Node *n)
{
  for (int i = 0; i < n->nattrs; i++) {
    Attr *a = &n->attrs[i];
    free(a->name);
    free(a->s);
    free(a->floats);
    free(a->ints);
    tensor_free(a->t);
  }
  free(n->attrs);
  free(n->inputs);
  free(n->outputs);
  free(n->params);
  free(n->name);
  free(n->op_type);
  free(n->domain);
  free(n->note);
  free(n);
}

void graph_free(Graph *g)
{
  if (!g)
    return;
  for (int i = 0; i < g->ntensors; i++)
    tensor_free(g->tensors[i]);
  for (int i = 0; i < g->nnodes; i++)
    node_free(g->nodes[i]);
  NameIndex *ix = g->name_index;
  free(ix->slots);
  free(ix);
  free(g->tensors);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->path);
  free(g->producer);
  free(g);
}

int64_t tensor_count(const Tensor *t)
{
  if (t->rank < 0)
    return -1;
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) {
    if (t->dims[i] < 0)
      return -1;
    n = checked_mul(n, t->dims[i]);
  }
  return n;
}

int64_t checked_mul(int64_t a, int64_t b)
{
  if (a < 0 || b < 0)
    return -1;
  if (b != 0 && a > INT64_MAX / b)
    return -1;
  return a * b;
}

int dtype_size(DType dt)
{
  switch (dt) {
  case DT_FLOAT: case DT_INT32: case DT_UINT32: return 4;
  case DT_DOUBLE: case DT_INT64: case DT_UINT64: return 8;
  case DT_INT16: case DT_UINT16: case DT_FLOAT16: case DT_BFLOAT16: return 2;
  case DT_INT8: case DT_UINT8: case DT_BOOL: return 1;
  default: return 0;
  }
}

int is_float_type(DType dt)
{
  return dt == DT_FLOAT || dt == DT_DOUBLE || dt == DT_FLOAT16 || dt == DT_BFLOAT16;
}

int is_int_type(DType dt)
{
  switch (dt) {
  case DT_UINT8: case DT_INT8: case DT_UINT16: case DT_INT16: case DT_INT32:
  case DT_INT64: case DT_BOOL: case DT_UINT32: case DT_UINT64: return 1;
  default: return 0;
  }
}

const char *dtype_name(DType dt)
{
  static const char *names[] = {"undefined", "float32", "uint8", "int8", "uint16",
                                "int16", "int32", "int64", "string", "bool",
                                "float16", "float64", "uint32", "uint64",
                                "complex64", "complex128", "bfloat16"};
  if ((int)dt >= 0 && (size_t)dt < sizeof names / sizeof names[0])
    return names[dt];
  return "unknown type";
}

const Attr *node_attr(const Node *n, const char *name)
{
  for (int i = 0; i < n->nattrs; i++)
    if (!strcmp(n->attrs[i].name, name))
      return &n->attrs[i];
  return NULL;
}

Tensor *node_input(const Node *n, int i)
{
  return i < n->ninputs ? n->inputs[i] : NULL;
}

int shape_equal(const Tensor *a, const Tensor *b)
{
  if (a->rank != b->rank)
    return 0;
  for (int i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i])
      return 0;
  return 1;
}

char *shape_str(const Tensor *t, char *buf, size_t cap)
{
  size_t n = 0;
  n += (size_t)snprintf(buf + n, cap - n, "(");
  for (int i = 0; i < t->rank && n < cap; i++)
    n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? ", " : "", (long long)t->dims[i]);
  if (n < cap)
    snprintf(buf + n, cap - n, ")");
  return buf;
}

char *c_identifier(const char *s)
{
  // Runs of characters C does not allow become one '_'; leading and
  // trailing ones are dropped ("/conv1/Conv" -> "conv1_Conv").
  char *id = xmalloc(strlen(s) + 3), *p = id;
  int pending = 0;
  for (; *s; s++) {
    char c = *s;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!ok) {
      pending = p > id;
      continue;
    }
    if (pending)
      *p++ = '_';
    pending = 0;
    *p++ = c;
  }
  *p = 0;
  if (!*id || (*id >= '0' && *id <= '9')) { // C identifiers start with a letter or '_'
    memmove(id + 1, id, strlen(id) + 1);
    *id = '_';
  }
  return id;
}
