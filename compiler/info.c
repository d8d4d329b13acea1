/*
 * info.c - `onnxcc info`: one row per emitted layer (node, op, output
 * shape, parameters, MACs, output bytes) and the totals, with the planned
 * arena beside its lower bound.
 */
#include "compiler.h"

static int64_t param_count(const Node *n)
{
  int64_t count = 0;
  for (int k = 0; k < n->ninputs; k++)
    if (n->inputs[k] && n->inputs[k]->storage == S_CONST)
      count += tensor_count(n->inputs[k]);
  return count;
}

// Bytes of a layer's trainable weights, their gradients and optimizer state,
// and of the gradient of its output.
static void layer_training_bytes(const Compiled *c, const Node *n, int64_t *weights,
                                 int64_t *grads, int64_t *state)
{
  const TrainInfo *ti = &c->train;
  *weights = *grads = *state = 0;
  for (int k = 0; k < n->ninputs; k++) {
    const Tensor *t = n->inputs[k];
    if (!t || !t->trainable)
      continue;
    int seen = 0; // a weight read twice by one node counts once
    for (int j = 0; j < k; j++)
      seen |= n->inputs[j] == t;
    if (seen)
      continue;
    *weights += tensor_count(t) * 4;
    *grads += tensor_count(t) * 4;
    for (int p = 0; p < ti->nparams; p++)
      if (ti->params[p] == t)
        for (int m = 0; m < 2; m++)
          if (ti->moments[2 * p + m])
            *state += tensor_count(t) * 4;
  }
  for (int k = 0; k < n->noutputs; k++)
    if (n->outputs[k] && n->outputs[k]->grad)
      *grads += tensor_count(n->outputs[k]) * 4;
}

static void info_print_training(FILE *out, const Compiled *c)
{
  const Graph *g = c->g;
  const TrainInfo *ti = &c->train;
  char shape[128];
  fprintf(out, "\ntraining (batch %d, %d classes, loss on '%s'%s):\n", ti->batch, ti->classes,
          ti->logits->name, ti->final_softmax ? ", fused with the final softmax" : "");
  fprintf(out, "%-4s %-28s %-18s %-22s %12s %12s %12s %12s\n", "#", "node", "op", "output",
          "trainable", "kept", "gradients", "opt. state");
  int64_t tw = 0, tk = 0, tg = 0, ts = 0;
  int row = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const Node *n = g->nodes[i];
    if (n->dead)
      continue;
    int64_t w, gr, st, kept = 0;
    layer_training_bytes(c, n, &w, &gr, &st);
    // Forward tensors this layer's backward reads are kept until then.
    for (int k = 0; k < n->noutputs && n->outputs[0]->requires_grad; k++)
      if (n->outputs[k] && (n->op->backward_reads & BWD_OUT(k)))
        kept += tensor_count(n->outputs[k]) * 4;
    for (int k = 0; k < n->ninputs && n->outputs[0]->requires_grad; k++)
      if (n->inputs[k] && n->inputs[k]->storage == S_ARENA && (n->op->backward_reads & BWD_IN(k)))
        kept += tensor_count(n->inputs[k]) * 4;
    fprintf(out, "%-4d %-28.28s %-18.18s %-22.22s %12lld %12lld %12lld %12lld\n", row++, n->name,
            n->op_type, shape_str(n->outputs[0], shape, sizeof shape), (long long)w,
            (long long)kept, (long long)gr, (long long)st);
    tw += w;
    tk += kept;
    tg += gr;
    ts += st;
  }
  fprintf(out, "%-4s %-28s %-18s %-22s %12lld %12lld %12lld %12lld\n\n", "", "total", "", "",
          (long long)tw, (long long)tk, (long long)tg, (long long)ts);
  const MemoryPlan *m = &c->mem;
  fprintf(out, "trainable weights (RAM):  %12lld bytes\n", (long long)m->param_bytes);
  fprintf(out, "frozen weights (const):   %12lld bytes\n", (long long)m->weight_bytes);
  fprintf(out, "activations:              %12lld bytes (before reuse)\n",
          (long long)m->activation_bytes);
  fprintf(out, "gradients:                %12lld bytes (before reuse)\n", (long long)m->grad_bytes);
  fprintf(out, "optimizer state:          %12lld bytes\n", (long long)m->state_bytes);
  fprintf(out, "arena (all of the above but weights, with reuse): %lld bytes\n",
          (long long)m->arena_bytes);
  fprintf(out, "total RAM:                %12lld bytes\n",
          (long long)(m->arena_bytes + m->param_bytes));
}

void info_print(FILE *out, const Compiled *c)
{
  const Graph *g = c->g;
  char shape[128];
  fprintf(out, "model %s: opset %d, producer '%s', name '%s'\n\n", g->path, g->opset,
          g->producer, c->name);
  fprintf(out, "%-4s %-28s %-18s %-22s %10s %12s %10s\n", "#", "node", "op", "output", "params",
          "MACs", "bytes");
  int64_t params = 0, macs = 0, bytes = 0;
  int row = 0;
  for (int i = 0; i < g->nnodes; i++) {
    const Node *n = g->nodes[i];
    if (n->dead)
      continue;
    const Tensor *y = n->outputs[0];
    int64_t p = param_count(n), m = n->op->macs ? n->op->macs(n) : 0;
    int64_t b = tensor_count(y) * 4;
    fprintf(out, "%-4d %-28.28s %-18.18s %-22.22s %10lld %12lld %10lld\n", row++, n->name,
            n->op_type, shape_str(y, shape, sizeof shape), (long long)p, (long long)m,
            (long long)b);
    params += p;
    macs += m;
    bytes += b;
  }
  fprintf(out, "%-4s %-28s %-18s %-22s %10lld %12lld %10lld\n\n", "", "total", "", "",
          (long long)params, (long long)macs, (long long)bytes);
  fprintf(out, "weights:      %12lld bytes\n", (long long)c->mem.weight_bytes);
  fprintf(out, "arena:        %12lld bytes planned\n", (long long)c->mem.arena_bytes);
  fprintf(out, "lower bound:  %12lld bytes (most bytes live at once)\n",
          (long long)c->mem.lower_bound);
  if (c->g->training)
    info_print_training(out, c);
}
