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
}
