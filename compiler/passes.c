/*
 * passes.c - graph rewrites between checking and planning.
 *
 * Each pass reads a checked graph (shapes known, constants folded) and
 * rewrites it in place, marking removed nodes dead; node order is kept, so
 * the schedule stays topological. In order:
 *   pass_drop_identities     Identity and inference Dropout vanish
 *   pass_fold_batchnorm      BatchNormalization after Conv/Gemm goes into
 *                            their weights and bias
 *   pass_matmul_add_to_gemm  MatMul(x, W) + b with constant W, b -> Gemm
 *   pass_fuse_activations    Conv/Gemm absorb the activation that follows
 *   pass_pack_weights        constant weights in a faster kernel's order
 *   pass_fuse_residuals      Conv + r -> Conv with r added in its output
 *                            stage (then pass_fuse_activations again)
 *   pass_remove_dead         nodes whose results nobody reads
 * A rewrite only fires when the intermediate tensor has exactly one reader
 * and is not a graph output, so no observable value changes.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

void graph_count_uses(Graph *g)
{
  for (int i = 0; i < g->ntensors; i++)
    g->tensors[i]->nuses = 0, g->tensors[i]->reader = NULL;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead)
      continue;
    for (int k = 0; k < n->ninputs; k++)
      if (n->inputs[k])
        n->inputs[k]->nuses++, n->inputs[k]->reader = n;
  }
}

static void replace_uses(Graph *g, Tensor *from, Tensor *to)
{
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead)
      continue;
    for (int k = 0; k < n->ninputs; k++)
      if (n->inputs[k] == from)
        n->inputs[k] = to;
  }
}

// The single live node reading t, or NULL. As graph_count_uses left it: a
// node that a rewrite since then killed counts as none.
static Node *sole_consumer(const Tensor *t)
{
  if (t->output_index >= 0 || t->nuses != 1 || !t->reader || t->reader->dead)
    return NULL;
  return t->reader;
}

static void add_note(Node *n, const Node *merged, const char *how)
{
  size_t len = (n->note ? strlen(n->note) : 0) + strlen(merged->name) +
               strlen(merged->op_type) + strlen(how) + 64;
  char *note = xmalloc(len);
  snprintf(note, len, "%s%s%s node %d '%s' (%s)", n->note ? n->note : "", n->note ? ", " : "",
           how, merged->index, merged->name, merged->op_type);
  free(n->note);
  n->note = note;
}

// n, node `at` of the schedule, takes over the output of `absorbed`,
// which dies.
static void take_output(Node *n, int at, Node *absorbed)
{
  Tensor *out = absorbed->outputs[0];
  n->outputs[0]->producer = -1;
  n->outputs[0] = out;
  out->producer = at;
  absorbed->dead = 1;
}

static int is_identity(const Node *n)
{
  if (!strcmp(n->op_type, "Identity"))
    return 1;
  // Dropout is the identity in inference, whatever its ratio or training_mode.
  return !strcmp(n->op_type, "Dropout") && (n->noutputs < 2 || !n->outputs[1] ||
                                             n->outputs[1]->nuses == 0);
}

int pass_drop_identities(Diag *d, Graph *g)
{
  (void)d;
  graph_count_uses(g);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead || !is_identity(n) || n->outputs[0]->output_index >= 0)
      continue;
    replace_uses(g, n->outputs[0], n->inputs[0]);
    n->dead = 1;
  }
  return 0;
}

int pass_fold_batchnorm(Diag *d, Graph *g)
{
  graph_count_uses(g);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead || !n->op || !n->op->absorb_affine)
      continue;
    Node *bn = sole_consumer(n->outputs[0]);
    const float *scale, *shift;
    int channels;
    if (!bn || !batchnorm_affine(bn, &scale, &shift, &channels))
      continue;
    int rc = n->op->absorb_affine(d, g, n, scale, shift, channels);
    if (rc < 0)
      return -1;
    if (rc == 0)
      continue; // the op declined (layout it cannot fold)
    add_note(n, bn, "folded");
    take_output(n, i, bn);
  }
  return 0;
}

static int all_dims_one(const Tensor *t, int except_last)
{
  for (int k = 0; k < t->rank - (except_last ? 1 : 0); k++)
    if (t->dims[k] != 1)
      return 0;
  return 1;
}

int pass_matmul_add_to_gemm(Diag *d, Graph *g)
{
  graph_count_uses(g);
  const OpDef *gemm = ops_find("", "Gemm");
  for (int i = 0; i < g->nnodes; i++) {
    Node *mm = g->nodes[i];
    if (mm->dead || strcmp(mm->op_type, "MatMul"))
      continue;
    Tensor *a = mm->inputs[0], *w = mm->inputs[1], *y = mm->outputs[0];
    if (a->rank != 2 || w->rank != 2 || w->kind != T_CONST)
      continue;
    Node *add = sole_consumer(y);
    if (!add || strcmp(add->op_type, "Add") || add->ninputs != 2)
      continue;
    Tensor *bias = add->inputs[0] == y ? add->inputs[1] : add->inputs[0];
    if (bias->kind != T_CONST || !bias->data || !shape_equal(add->outputs[0], y))
      continue;
    // Gemm's C broadcasts unidirectionally to (M, N): (N), (1, N) or (M, N).
    if (!(bias->rank <= 2 && (all_dims_one(bias, 1) || shape_equal(bias, y))))
      continue;
    add_note(mm, mm, "rewritten from MatMul");
    add_note(mm, add, "plus");
    free(mm->params);
    mm->params = NULL;
    Tensor **inputs = xcalloc(4, sizeof(Tensor *));
    inputs[0] = a;
    inputs[1] = w;
    inputs[2] = bias;
    free(mm->inputs);
    mm->inputs = inputs;
    mm->ninputs = 3;
    mm->op = gemm;
    free(mm->op_type);
    mm->op_type = xstrdup("Gemm");
    take_output(mm, i, add);
    if (gemm->check(d, g, mm) != 0)
      return -1;
  }
  return 0;
}

int pass_fuse_activations(Diag *d, Graph *g)
{
  (void)d;
  graph_count_uses(g);
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead || !n->op || !n->op->fuse_activation)
      continue;
    Node *act_node = sole_consumer(n->outputs[0]);
    nn_act act;
    float alpha, beta;
    if (!act_node || !activation_of(act_node, &act, &alpha, &beta))
      continue;
    if (!n->op->fuse_activation(n, act, alpha, beta))
      continue;
    add_note(n, act_node, "fused");
    take_output(n, i, act_node);
  }
  return 0;
}

void pass_pack_weights(Graph *g)
{
  Node *prev = NULL; // the last node whose weights were packed
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (!n->dead && n->op && n->op->pack_weights && n->op->pack_weights(g, n, prev))
      prev = n;
  }
}

// Index of the live node that computes t, or -1 (an input or a constant).
static int live_producer(const Graph *g, const Tensor *t)
{
  return t->producer >= 0 && !g->nodes[t->producer]->dead ? t->producer : -1;
}

// Add(y, r) where y's only reader is the Add and its producer can take r
// (same shape, no broadcast), and r is ready before that producer runs.
void pass_fuse_residuals(Graph *g)
{
  graph_count_uses(g);
  for (int i = 0; i < g->nnodes; i++) {
    Node *add = g->nodes[i];
    if (add->dead || strcmp(add->op_type, "Add") || add->ninputs != 2 ||
        add->inputs[0] == add->inputs[1])
      continue;
    for (int side = 0; side < 2; side++) {
      Tensor *y = add->inputs[side], *r = add->inputs[1 - side];
      int at = live_producer(g, y);
      if (at < 0 || sole_consumer(y) != add || !shape_equal(y, add->outputs[0]) ||
          !shape_equal(r, add->outputs[0]) || live_producer(g, r) > at)
        continue;
      Node *n = g->nodes[at];
      if (!n->op || !n->op->fuse_residual || !n->op->fuse_residual(n, r))
        continue;
      add_note(n, add, "plus");
      take_output(n, at, add);
      break;
    }
  }
}

void pass_remove_dead(Graph *g)
{
  graph_count_uses(g);
  for (int i = g->nnodes - 1; i >= 0; i--) {
    Node *n = g->nodes[i];
    if (n->dead)
      continue;
    int needed = 0;
    for (int k = 0; k < n->noutputs; k++) {
      Tensor *t = n->outputs[k];
      needed |= t && (t->nuses > 0 || t->output_index >= 0);
    }
    if (needed)
      continue;
    n->dead = 1;
    for (int k = 0; k < n->ninputs; k++)
      if (n->inputs[k])
        n->inputs[k]->nuses--;
  }
}
