/*
 * check.c - put the graph in execution order, infer every shape, and fold
 * what is known at compile time.
 *
 * Reads: the graph as the reader built it (nodes in file order, input
 * shapes already made concrete by the driver).
 * Fills in: g->nodes in topological order, each node's op and parsed
 * params, every tensor's dtype and shape, and the data of every tensor
 * that depends only on constants (initializers, Constant nodes, Shape of a
 * fixed shape...). Folding happens as each node is checked, so the shape
 * subgraphs PyTorch writes (Shape -> Gather -> Unsqueeze -> Concat ->
 * Reshape) are constants by the time Reshape asks for its shape.
 *
 * Errors do not stop the walk: every unsupported operator is reported in
 * one run; nodes downstream of a failed node are skipped quietly.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

// Kahn's algorithm over tensor producers; reports nodes reading tensors
// that nothing produces, and cycles.
static int topological_sort(Diag *d, Graph *g)
{
  int n = g->nnodes, rc = 0;
  int *pending = xcalloc((size_t)n, sizeof(int));
  int *order = xcalloc((size_t)n, sizeof(int));
  int *consumers_start = xcalloc((size_t)n + 1, sizeof(int));
  int count = 0, done = 0;

  for (int i = 0; i < n; i++) {
    Node *node = g->nodes[i];
    for (int k = 0; k < node->ninputs; k++) {
      Tensor *t = node->inputs[k];
      if (!t)
        continue;
      if (t->kind == T_ACTIVATION && t->producer < 0) {
        diag_node(d, node, "input '%s' is not produced by any node, graph input or initializer",
                  t->name);
        rc = -1;
      } else if (t->kind == T_ACTIVATION) {
        pending[i]++;
        consumers_start[t->producer]++;
      }
    }
  }
  if (rc != 0)
    goto out;
  // consumers[] lists, per producer, the nodes waiting on it (with repeats).
  for (int i = 0, sum = 0; i <= n; i++) {
    int c = consumers_start[i];
    consumers_start[i] = sum;
    sum += c;
  }
  int *fill = xcalloc((size_t)n + 1, sizeof(int));
  int *consumers = xcalloc((size_t)consumers_start[n] + 1, sizeof(int));
  for (int i = 0; i < n; i++) {
    Node *node = g->nodes[i];
    for (int k = 0; k < node->ninputs; k++) {
      Tensor *t = node->inputs[k];
      if (t && t->kind == T_ACTIVATION) {
        int p = t->producer;
        consumers[consumers_start[p] + fill[p]++] = i;
      }
    }
  }
  for (int i = 0; i < n; i++)
    if (pending[i] == 0)
      order[count++] = i;
  while (done < count) {
    int i = order[done++];
    for (int c = consumers_start[i]; c < consumers_start[i + 1]; c++)
      if (--pending[consumers[c]] == 0)
        order[count++] = consumers[c];
  }
  free(fill);
  free(consumers);
  if (count < n) {
    for (int i = 0; i < n; i++)
      if (pending[i] > 0) {
        diag_node(d, g->nodes[i], "is part of a cycle: the graph is not a DAG");
        break;
      }
    rc = -1;
    goto out;
  }
  Node **sorted = xcalloc((size_t)n + 1, sizeof(Node *));
  for (int i = 0; i < n; i++)
    sorted[i] = g->nodes[order[i]];
  // Producer indices refer to positions in g->nodes: renumber.
  for (int i = 0; i < n; i++) {
    g->nodes[i] = sorted[i];
    for (int k = 0; k < sorted[i]->noutputs; k++)
      if (sorted[i]->outputs[k])
        sorted[i]->outputs[k]->producer = i;
  }
  free(sorted);
out:
  free(pending);
  free(order);
  free(consumers_start);
  return rc;
}

static int inputs_known(const Node *n)
{
  for (int k = 0; k < n->ninputs; k++)
    if (n->inputs[k] && n->inputs[k]->rank < 0)
      return 0;
  return 1;
}

static int inputs_const(const Node *n)
{
  for (int k = 0; k < n->ninputs; k++)
    if (n->inputs[k] && (n->inputs[k]->kind != T_CONST || !n->inputs[k]->data))
      return 0;
  return 1;
}

static int outputs_const(const Node *n)
{
  for (int k = 0; k < n->noutputs; k++)
    if (n->outputs[k] && (n->outputs[k]->kind != T_CONST || !n->outputs[k]->data))
      return 0;
  return 1;
}

// Outputs must have sane shapes whatever the op computed.
static int check_outputs(Diag *d, const Node *n)
{
  for (int k = 0; k < n->noutputs; k++) {
    Tensor *t = n->outputs[k];
    if (!t)
      continue;
    CHECK(d, n, t->rank >= 0, "output '%s' has no shape (internal error)", t->name);
    int64_t count = tensor_count(t);
    CHECK(d, n, count >= 0 && count <= INT32_MAX,
          "output '%s' has more than 2^31 elements (dimension overflow)", t->name);
  }
  return 0;
}

int check_graph(Diag *d, Graph *g)
{
  if (topological_sort(d, g) != 0)
    return -1;
  graph_count_uses(g);
  int rc = 0;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    n->op = ops_find(n->domain, n->op_type);
    if (!n->op) {
      if (*n->domain && strcmp(n->domain, "ai.onnx"))
        diag_node(d, n, "operator '%s' of domain '%s' is not supported", n->op_type, n->domain);
      else
        diag_node(d, n, "operator '%s' is not supported", n->op_type);
      rc = -1;
      continue;
    }
    if (!inputs_known(n))
      continue; // downstream of an earlier error
    if (n->op->check(d, g, n) != 0 || check_outputs(d, n) != 0) {
      for (int k = 0; k < n->noutputs; k++)
        if (n->outputs[k])
          n->outputs[k]->rank = -1;
      rc = -1;
      continue;
    }
    if (n->op->fold && inputs_const(n)) {
      if (n->op->fold(d, g, n) != 0) {
        rc = -1;
        continue;
      }
    }
    n->dead = outputs_const(n); // folded, or known from shapes alone (Shape, Size)
  }
  for (int i = 0; i < g->noutputs && rc == 0; i++)
    if (g->outputs[i]->rank < 0) {
      diag_error(d, "graph output '%s' has no known shape", g->outputs[i]->name);
      rc = -1;
    }
  return rc;
}
