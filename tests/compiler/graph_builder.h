/*
 * graph_builder.h - tiny helpers the compiler tests use to build IR graphs
 * in C, without an ONNX file: inputs, constants, nodes, outputs by name.
 */
#ifndef GRAPH_BUILDER_H
#define GRAPH_BUILDER_H

#include <stdlib.h>
#include <string.h>

#include "compiler.h"

static inline Tensor *tb_input(Graph *g, const char *name, int rank, const int64_t *dims)
{
  Tensor *t = graph_add_tensor(g, name);
  t->kind = T_INPUT;
  set_shape(t, DT_FLOAT, rank, dims);
  t->input_index = g->ninputs;
  g->inputs = realloc(g->inputs, (size_t)(g->ninputs + 1) * sizeof(Tensor *));
  g->inputs[g->ninputs++] = t;
  return t;
}

static inline Tensor *tb_const(Graph *g, const char *name, int rank, const int64_t *dims,
                               const float *values)
{
  Tensor *t = graph_add_tensor(g, name);
  set_shape(t, DT_FLOAT, rank, dims);
  float *data = const_alloc(t);
  memcpy(data, values, (size_t)tensor_count(t) * sizeof(float));
  return t;
}

static inline Tensor *tb_const_ints(Graph *g, const char *name, int count, const int64_t *values)
{
  Tensor *t = graph_add_tensor(g, name);
  int64_t dims[1] = {count};
  set_shape(t, DT_INT64, 1, dims);
  int64_t *data = const_alloc(t);
  memcpy(data, values, (size_t)count * sizeof(int64_t));
  return t;
}

// Names are looked up, outputs created; NULL-terminated lists.
static inline Node *tb_node(Graph *g, const char *name, const char *op, const char *const *ins,
                            const char *const *outs)
{
  int ni = 0, no = 0;
  while (ins[ni])
    ni++;
  while (outs[no])
    no++;
  Node *n = graph_add_node(g, name, op, ni, no);
  for (int i = 0; i < ni; i++) {
    Tensor *t = graph_find_tensor(g, ins[i]);
    n->inputs[i] = t ? t : graph_add_tensor(g, ins[i]);
  }
  for (int i = 0; i < no; i++) {
    Tensor *t = graph_find_tensor(g, outs[i]);
    n->outputs[i] = t ? t : graph_add_tensor(g, outs[i]);
    n->outputs[i]->producer = n->index;
  }
  return n;
}

// A new attribute of n, zeroed but for its name and type.
static inline Attr *tb_attr(Node *n, const char *name, AttrType type)
{
  n->attrs = realloc(n->attrs, (size_t)(n->nattrs + 1) * sizeof(Attr));
  Attr *a = &n->attrs[n->nattrs++];
  memset(a, 0, sizeof *a);
  a->name = xstrdup(name);
  a->type = type;
  return a;
}

static inline void tb_attr_int(Node *n, const char *name, int64_t v)
{
  tb_attr(n, name, A_INT)->i = v;
}

static inline void tb_attr_ints(Node *n, const char *name, int count, const int64_t *v)
{
  Attr *a = tb_attr(n, name, A_INTS);
  a->count = count;
  a->ints = xmalloc((size_t)count * sizeof *a->ints);
  memcpy(a->ints, v, (size_t)count * sizeof *a->ints);
}

static inline void tb_output(Graph *g, const char *name)
{
  Tensor *t = graph_find_tensor(g, name);
  t->output_index = g->noutputs;
  g->outputs = realloc(g->outputs, (size_t)(g->noutputs + 1) * sizeof(Tensor *));
  g->outputs[g->noutputs++] = t;
}

static inline Graph *tb_graph(int opset)
{
  Graph *g = graph_new("test.onnx");
  g->opset = opset;
  g->producer = xstrdup("test");
  return g;
}

#define IN(...) ((const char *const[]){__VA_ARGS__, NULL})
#define OUT(...) ((const char *const[]){__VA_ARGS__, NULL})

#endif /* GRAPH_BUILDER_H */
