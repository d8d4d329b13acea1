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
 *
 * The caps of g->limits hold here for what the reader could not see: graph
 * input shapes, every node output's element count (checked before a fold
 * allocates it) and the constant data folding makes. Folding a node whose
 * multiply-accumulates would exceed what is left of max_fold_macs is
 * skipped (the node runs in the generated code instead), so compile time
 * stays bounded too.
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

// NULL if t's shape fits the element cap, else what is too large, for a
// message. An empty tensor counts its other dimensions: strides and
// offsets over them must fit an int too.
static const char *size_problem(const Tensor *t, int64_t limit, char *buf, size_t cap)
{
  int64_t extent = 1;
  for (int i = 0; i < t->rank && extent >= 0; i++)
    extent = checked_mul(extent, t->dims[i] > 0 ? t->dims[i] : 1);
  if (extent >= 0 && extent <= limit)
    return NULL;
  char shape[200];
  shape_str(t, shape, sizeof shape);
  if (extent < 0)
    snprintf(buf, cap, "%s has more than 2^63 elements", shape);
  else if (tensor_count(t) == 0)
    snprintf(buf, cap, "%s is empty, but its other dimensions make %lld elements", shape,
             (long long)extent);
  else
    snprintf(buf, cap, "%s has %lld elements", shape, (long long)extent);
  return buf;
}

int check_output_size(Diag *d, const Graph *g, const Node *n, const Tensor *t)
{
  CHECK(d, n, t->rank >= 0 && t->rank <= MAX_RANK, "output '%s' has no shape (internal error)",
        t->name);
  char buf[300];
  const char *problem = size_problem(t, g->limits.max_elements, buf, sizeof buf);
  CHECK(d, n, !problem, "output '%s' %s, more than the limit of %lld (--max-elements)", t->name,
        problem, (long long)g->limits.max_elements);
  return 0;
}

// Outputs must have sane shapes whatever the op computed, within the caps.
static int check_outputs(Diag *d, const Graph *g, const Node *n)
{
  for (int k = 0; k < n->noutputs; k++)
    if (n->outputs[k] && check_output_size(d, g, n, n->outputs[k]) != 0)
      return -1;
  return 0;
}

// Graph inputs, their shapes now fixed, within the caps. Empty inputs (a
// dimension of 0) are legal, as in ONNX: the generated code handles them.
static int check_inputs(Diag *d, const Graph *g)
{
  int rc = 0;
  for (int i = 0; i < g->ninputs; i++) {
    const Tensor *t = g->inputs[i];
    char buf[300];
    const char *problem = t->rank < 0 ? NULL // the driver reports unknown shapes
                                      : size_problem(t, g->limits.max_elements, buf, sizeof buf);
    if (problem) {
      diag_error(d, "graph input '%s' %s, more than the limit of %lld (--max-elements)", t->name,
                 problem, (long long)g->limits.max_elements);
      rc = -1;
    }
  }
  return rc;
}

// Bytes of the constant data t holds (see const_alloc), 0 if none.
static int64_t const_bytes(const Tensor *t)
{
  if (t->kind != T_CONST || !t->data)
    return 0;
  int64_t count = tensor_count(t);
  return (count > 0 ? count : 1) * (is_float_type(t->dtype) ? 4 : 8);
}

// Whether to fold n now: its folds fit what is left of the budgets. The
// constant data must fit the cap (an error); the work must fit the MAC
// budget, or a float node is left to run in the generated code.
static int fold_fits(Diag *d, const Graph *g, const Node *n, int64_t *bytes, int64_t *macs)
{
  int64_t need = 0;
  int is_float = 1;
  for (int k = 0; k < n->noutputs; k++) {
    const Tensor *t = n->outputs[k];
    if (!t)
      continue;
    int64_t count = tensor_count(t);
    need += (count > 0 ? count : 1) * (is_float_type(t->dtype) ? 4 : 8);
    is_float &= is_float_type(t->dtype);
  }
  CHECK(d, n, need <= g->limits.max_weight_bytes - *bytes, "folding it at compile time brings "
        "the constant data to %lld bytes, more than the limit of %lld (--max-weight-bytes)",
        (long long)(*bytes + need), (long long)g->limits.max_weight_bytes);
  int64_t m = n->op->macs ? n->op->macs(n) : 0;
  if (is_float && (m < 0 || m > *macs))
    return 0;
  if (m > 0 && m <= *macs)
    *macs -= m;
  *bytes += need;
  return 1;
}

int check_graph(Diag *d, Graph *g)
{
  if (check_inputs(d, g) != 0 || topological_sort(d, g) != 0)
    return -1;
  graph_count_uses(g);
  int64_t bytes = 0, macs = g->limits.max_fold_macs;
  for (int i = 0; i < g->ntensors; i++)
    bytes += const_bytes(g->tensors[i]);
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
    if (n->noutputs < 1 || !n->outputs[0]) { // every supported op writes output 0
      diag_node(d, n, "%s", n->noutputs < 1 ? "has no outputs" : "output 0 has an empty name");
      rc = -1;
      continue;
    }
    if (!inputs_known(n))
      continue; // downstream of an earlier error
    if (n->op->check(d, g, n) != 0 || check_outputs(d, g, n) != 0) {
      for (int k = 0; k < n->noutputs; k++)
        if (n->outputs[k])
          n->outputs[k]->rank = -1;
      rc = -1;
      continue;
    }
    if (n->op->fold && inputs_const(n)) {
      int fits = fold_fits(d, g, n, &bytes, &macs);
      if (fits < 0 || (fits && n->op->fold(d, g, n) != 0)) {
        for (int k = 0; k < n->noutputs; k++)
          if (n->outputs[k])
            n->outputs[k]->rank = -1;
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
