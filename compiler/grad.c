/*
 * grad.c - what a training step needs, decided before planning.
 *
 * Reads: a checked graph after the passes (compiled with --train, so
 * BatchNormalization stays a frozen per-channel affine and no activation
 * is fused: every trainable tensor is an ONNX initializer, by name).
 * Fills in:
 *  - the loss input: graph output 0, shaped (batch, classes); when the
 *    model ends in Softmax/LogSoftmax over the classes, the loss reads that
 *    node's input instead (softmax cross-entropy fused with it);
 *  - the trainable weights: float initializers at an op's trainable input
 *    positions, all of them or those --trainable names (initializer or node
 *    names, or last:N for the last N layers with weights);
 *  - requires_grad, forward: a tensor needs a gradient if a trainable
 *    weight is upstream of it. Nothing below the lowest trainable layer
 *    gets a gradient buffer or a backward call;
 *  - a T_GRAD tensor for each tensor that needs a gradient.
 * It does not allocate memory (plan.c) or write code (emit_train.c).
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

int grad_backward_step(const TrainInfo *ti, int forward_position)
{
  return 2 * ti->forward_steps - forward_position;
}

void train_info_free(TrainInfo *ti)
{
  free(ti->params);
  free(ti->moments);
  memset(ti, 0, sizeof *ti);
}

static int find_loss_input(Diag *d, Graph *g, TrainInfo *ti)
{
  Tensor *out = g->outputs[0];
  if (out->kind != T_ACTIVATION || out->rank != 2) {
    char shape[64];
    diag_error(d, "--train: graph output '%s' %s is not (batch, classes) logits or "
                  "probabilities", out->name, shape_str(out, shape, sizeof shape));
    return -1;
  }
  ti->logits = out;
  Node *last = NULL;
  for (int i = 0; i < g->nnodes; i++)
    if (!g->nodes[i]->dead && g->nodes[i]->outputs[0] == out)
      last = g->nodes[i];
  if (last && (!strcmp(last->op_type, "Softmax") || !strcmp(last->op_type, "LogSoftmax")) &&
      out->nuses == 0 && last->inputs[0]->kind == T_ACTIVATION) {
    // Over the class axis of (batch, classes), both axis semantics agree.
    const Attr *axis = node_attr(last, "axis");
    int64_t a = axis ? axis->i : (g->opset >= 13 ? -1 : 1);
    if (a == 1 || a == -1) {
      ti->final_softmax = last;
      ti->logits = last->inputs[0];
    }
  }
  ti->batch = (int)out->dims[0];
  ti->classes = (int)out->dims[1];
  return 0;
}

static int is_candidate(const Tensor *t)
{
  // Initializers only: folded constants and Constant nodes have a producer.
  return t && t->kind == T_CONST && t->dtype == DT_FLOAT && t->producer < 0 && t->data &&
         tensor_count(t) > 0;
}

// Calls mark(t) for every candidate weight of live node n.
static int node_weights(const Node *n, Tensor **out, int max)
{
  int count = 0;
  for (int i = 0; i < n->ninputs && i < 16; i++)
    if ((n->op->trainable_inputs & BWD_IN(i)) && is_candidate(n->inputs[i]) && count < max)
      out[count++] = n->inputs[i];
  return count;
}

static int select_trainable(Diag *d, Graph *g, const char *spec)
{
  int layers = 0, last_n = -1;
  if (spec && !strncmp(spec, "last:", 5)) {
    char *end;
    last_n = (int)strtol(spec + 5, &end, 10);
    if (*end || last_n < 1) {
      diag_error(d, "--trainable %s: last:N needs a positive N", spec);
      return -1;
    }
  }
  // Walk layers from the output back, so last:N counts from the end.
  for (int i = g->nnodes - 1; i >= 0; i--) {
    Node *n = g->nodes[i];
    if (n->dead)
      continue;
    Tensor *w[16];
    int count = node_weights(n, w, 16);
    if (count == 0)
      continue;
    layers++;
    for (int k = 0; k < count; k++) {
      int take = !spec || (last_n > 0 && layers <= last_n);
      if (spec && last_n < 0) {
        // A comma-separated list of initializer or node names.
        size_t wl = strlen(w[k]->name), nl = strlen(n->name);
        for (const char *p = spec; *p;) {
          const char *comma = strchr(p, ',');
          size_t len = comma ? (size_t)(comma - p) : strlen(p);
          take |= (len == wl && !strncmp(p, w[k]->name, len)) ||
                  (nl && len == nl && !strncmp(p, n->name, len));
          p += len + (comma ? 1 : 0);
        }
      }
      w[k]->trainable |= take;
    }
  }
  if (spec && last_n < 0) { // every name must match something
    for (const char *p = spec; *p;) {
      const char *comma = strchr(p, ',');
      size_t len = comma ? (size_t)(comma - p) : strlen(p);
      int found = 0;
      for (int i = 0; i < g->nnodes && !found; i++) {
        Node *n = g->nodes[i];
        Tensor *w[16];
        int count = n->dead ? 0 : node_weights(n, w, 16);
        for (int k = 0; k < count; k++)
          found |= (strlen(w[k]->name) == len && !strncmp(p, w[k]->name, len)) ||
                   (strlen(n->name) == len && !strncmp(p, n->name, len));
      }
      if (!found) {
        diag_error(d, "--trainable: '%.*s' names no trainable initializer or layer", (int)len, p);
        return -1;
      }
      p += len + (comma ? 1 : 0);
    }
  }
  return 0;
}

// A training tensor shaped like t: its gradient, or optimizer state.
static Tensor *new_like(Graph *g, const Tensor *t, const char *prefix)
{
  char name[600];
  Tensor *gt = NULL;
  for (int i = 0; !gt; i++) {
    snprintf(name, sizeof name, "%s%s%s%.0d", prefix, t->name, i ? "_" : "", i);
    gt = graph_add_tensor(g, name);
  }
  set_shape(gt, DT_FLOAT, t->rank, t->dims);
  gt->kind = T_GRAD;
  return gt;
}

static void new_grad(Graph *g, Tensor *t)
{
  t->grad = new_like(g, t, "d_");
}

int grad_build(Diag *d, Graph *g, const TrainOptions *opt, TrainInfo *ti)
{
  memset(ti, 0, sizeof *ti);
  ti->opt = *opt;
  if (ti->opt.accumulate < 1)
    ti->opt.accumulate = 1;
  graph_count_uses(g);
  if (find_loss_input(d, g, ti) != 0 || select_trainable(d, g, opt->trainable) != 0)
    return -1;
  for (int i = 0; i < g->ntensors; i++)
    g->tensors[i]->requires_grad = g->tensors[i]->trainable;
  // Forward: a tensor needs a gradient when a trainable weight is upstream.
  int rc = 0;
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead || n == ti->final_softmax)
      continue;
    ti->forward_steps++;
    int rg = 0;
    for (int k = 0; k < n->ninputs; k++)
      rg |= n->inputs[k] && n->inputs[k]->requires_grad;
    if (!rg)
      continue;
    if (!n->op->emit_backward || (n->op->can_backward && !n->op->can_backward(n))) {
      diag_node(d, n, "has no backward pass, and trainable weights lie below it");
      diag_note(d, "train only the layers after it with --trainable (e.g. --trainable last:1)");
      rc = -1;
      continue;
    }
    for (int k = 0; k < n->noutputs; k++)
      if (n->outputs[k])
        n->outputs[k]->requires_grad = 1;
  }
  if (ti->final_softmax)
    ti->forward_steps++;
  if (rc != 0)
    return -1;
  if (!ti->logits->requires_grad) {
    diag_error(d, "--train: no trainable weight reaches the loss");
    return -1;
  }
  // Gradient tensors, and the parameter list in forward order.
  ti->params = xcalloc((size_t)g->ntensors + 1, sizeof(Tensor *));
  ti->moments = xcalloc(2 * (size_t)g->ntensors + 2, sizeof(Tensor *));
  int ntensors = g->ntensors; // new_grad() appends
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead)
      continue;
    for (int k = 0; k < n->ninputs; k++) {
      Tensor *t = n->inputs[k];
      if (t && t->trainable && !t->grad) {
        ti->params[ti->nparams++] = t;
        new_grad(g, t);
      }
    }
  }
  for (int i = 0; i < ntensors; i++) {
    Tensor *t = g->tensors[i];
    if (t->requires_grad && !t->grad && t->kind == T_ACTIVATION)
      new_grad(g, t);
  }
  // Optimizer state: SGD momentum keeps a velocity, Adam two moments.
  for (int p = 0; p < ti->nparams; p++) {
    const char *names[2] = {NULL, NULL};
    if (ti->opt.optimizer == OPT_MOMENTUM)
      names[0] = "velocity_";
    if (ti->opt.optimizer == OPT_ADAM || ti->opt.optimizer == OPT_ADAMW) {
      names[0] = "m_";
      names[1] = "v_";
    }
    for (int m = 0; m < 2; m++)
      if (names[m]) {
        Tensor *s = new_like(g, ti->params[p], names[m]);
        s->persistent = 1;
        ti->moments[2 * p + m] = s;
      }
  }
  return 0;
}
