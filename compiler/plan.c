/*
 * plan.c - the static memory plan.
 *
 * Two layers. The planner proper (plan_*) knows nothing of graphs: buffers
 * with a size and a lifetime [first, last] in schedule steps get offsets in
 * one arena, greedily, largest first, each at the lowest offset that does
 * not overlap a placed buffer whose lifetime intersects its own (the
 * TFLite Micro greedy planner). plan_lower_bound() is the largest total of
 * simultaneously live buffers, which no placement can beat.
 *
 * plan_graph() maps the IR onto it: graph inputs and outputs live in the
 * caller's buffers, constants in the weights, views (Reshape, Flatten,
 * Squeeze...) alias their input, elementwise ops reuse an input that dies
 * at that step, and every remaining activation gets an arena buffer.
 * It does not reorder nodes.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

void plan_init(Plan *p, int64_t alignment)
{
  memset(p, 0, sizeof *p);
  p->alignment = alignment;
}

void plan_free(Plan *p)
{
  free(p->buffers);
  p->buffers = NULL;
  p->count = p->cap = 0;
}

int plan_add(Plan *p, int64_t size, int first, int last)
{
  if (p->count == p->cap) {
    p->cap = p->cap ? p->cap * 2 : 32;
    p->buffers = xrealloc(p->buffers, (size_t)p->cap * sizeof(PlanBuffer));
  }
  PlanBuffer *b = &p->buffers[p->count];
  b->size = (size + p->alignment - 1) / p->alignment * p->alignment;
  b->first = first;
  b->last = last;
  b->offset = -1;
  return p->count++;
}

static int lifetimes_overlap(const PlanBuffer *a, const PlanBuffer *b)
{
  return a->first <= b->last && b->first <= a->last;
}

static const Plan *sort_plan; // qsort has no context argument in C99

static int by_size_desc(const void *x, const void *y)
{
  const PlanBuffer *a = &sort_plan->buffers[*(const int *)x];
  const PlanBuffer *b = &sort_plan->buffers[*(const int *)y];
  if (a->size != b->size)
    return a->size > b->size ? -1 : 1;
  if (a->first != b->first)
    return a->first < b->first ? -1 : 1;
  return *(const int *)x - *(const int *)y;
}

void plan_solve(Plan *p)
{
  int *order = xcalloc((size_t)p->count + 1, sizeof(int));
  for (int i = 0; i < p->count; i++)
    order[i] = i;
  sort_plan = p;
  qsort(order, (size_t)p->count, sizeof(int), by_size_desc);
  int *placed = xcalloc((size_t)p->count + 1, sizeof(int));
  int *conflicts = xcalloc((size_t)p->count + 1, sizeof(int));
  int nplaced = 0;
  for (int i = 0; i < p->count; i++) {
    PlanBuffer *b = &p->buffers[order[i]];
    // Only placed buffers live at the same time matter: list them once, so
    // a long graph costs one pass per buffer, not one per candidate. placed[]
    // is kept in offset order, so the list is too.
    int nconflicts = 0;
    for (int k = 0; k < nplaced; k++)
      if (lifetimes_overlap(&p->buffers[placed[k]], b))
        conflicts[nconflicts++] = placed[k];
    // The lowest of offset 0 and the ends of the conflicting buffers where b
    // fits: one sweep over them by offset (linear, even when thousands of
    // buffers are live at once), skipping past every one b would overlap.
    int64_t best = 0;
    for (int k = 0; k < nconflicts; k++) {
      const PlanBuffer *o = &p->buffers[conflicts[k]];
      if (best + b->size <= o->offset)
        break;
      if (o->offset + o->size > best)
        best = o->offset + o->size;
    }
    b->offset = best;
    int at = nplaced; // insert in offset order
    while (at > 0 && p->buffers[placed[at - 1]].offset > best)
      at--;
    memmove(placed + at + 1, placed + at, (size_t)(nplaced - at) * sizeof(int));
    placed[at] = order[i];
    nplaced++;
  }
  free(conflicts);
  free(placed);
  free(order);
}

int64_t plan_peak(const Plan *p)
{
  int64_t peak = 0;
  for (int i = 0; i < p->count; i++)
    if (p->buffers[i].offset + p->buffers[i].size > peak)
      peak = p->buffers[i].offset + p->buffers[i].size;
  return peak;
}

typedef struct {
  int step;
  int64_t delta; // +size where a buffer starts, -size the step after it ends
} PlanEvent;

static int by_step(const void *x, const void *y)
{
  const PlanEvent *a = x, *b = y;
  return (a->step > b->step) - (a->step < b->step);
}

int64_t plan_lower_bound(const Plan *p)
{
  // A sweep over the steps where the live total changes.
  PlanEvent *ev = xcalloc(2 * (size_t)p->count + 1, sizeof(PlanEvent));
  for (int i = 0; i < p->count; i++) {
    ev[2 * i] = (PlanEvent){p->buffers[i].first, p->buffers[i].size};
    ev[2 * i + 1] = (PlanEvent){p->buffers[i].last + 1, -p->buffers[i].size};
  }
  qsort(ev, 2 * (size_t)p->count, sizeof(PlanEvent), by_step);
  int64_t best = 0, live = 0;
  for (int i = 0; i < 2 * p->count; i++) {
    live += ev[i].delta;
    if (i + 1 == 2 * p->count || ev[i + 1].step != ev[i].step)
      best = live > best ? live : best; // all of this step's changes applied
  }
  free(ev);
  return best;
}

//
// The graph side.
//

static Tensor *root_of(Tensor *t)
{
  while (t->alias)
    t = t->alias;
  return t;
}

// Forward tensors the arena holds. A training build keeps its graph
// outputs there too (the training step has no output buffers); run()
// copies them out.
static int in_arena(const Graph *g, const Tensor *t)
{
  return t->kind == T_ACTIVATION && (t->output_index < 0 || g->training);
}

// Reuse the buffer of an input that dies at this step, for elementwise ops.
static void try_in_place(const Graph *g, Node *n, int step)
{
  Tensor *out = n->outputs[0];
  if (!in_arena(g, out) || n->ninputs > 2)
    return;
  for (int i = 0; i < n->ninputs; i++) {
    Tensor *in = n->inputs[i];
    if (!in || !shape_equal(in, out) || in->dtype != out->dtype)
      continue;
    Tensor *root = root_of(in);
    if (!in_arena(g, root) || root->last_use != step)
      continue;
    out->alias = root; // the root itself: alias chains stay one link long
    if (out->last_use > root->last_use)
      root->last_use = out->last_use;
    return;
  }
}

// The identifiers given out so far: a hash set, so naming stays linear.
typedef struct {
  const char **slots;
  size_t cap, used;
} NameSet;

// Adds name (not copied) unless present; returns 0 if it was present.
static int nameset_add(NameSet *s, const char *name)
{
  if ((s->used + 1) * 2 > s->cap) {
    NameSet bigger = {xcalloc(s->cap ? s->cap * 2 : 64, sizeof(char *)), s->cap ? s->cap * 2 : 64,
                      0};
    for (size_t i = 0; i < s->cap; i++)
      if (s->slots[i])
        nameset_add(&bigger, s->slots[i]);
    free(s->slots);
    *s = bigger;
  }
  uint64_t h = 1469598103934665603ull; // FNV-1a
  for (const char *c = name; *c; c++)
    h = (h ^ (unsigned char)*c) * 1099511628211ull;
  size_t i = h & (s->cap - 1);
  for (; s->slots[i]; i = (i + 1) & (s->cap - 1))
    if (!strcmp(s->slots[i], name))
      return 0;
  s->slots[i] = name;
  s->used++;
  return 1;
}

static void assign_cname(NameSet *used, Tensor *t, const char *prefix, int *serial)
{
  char *id = c_identifier(t->name);
  size_t len = strlen(prefix) + strlen(id) + 16;
  t->cname = xmalloc(len);
  snprintf(t->cname, len, "%s%s", prefix, id);
  // Names that sanitize alike get a numeric suffix.
  while (!nameset_add(used, t->cname))
    snprintf(t->cname, len, "%s%s_%d", prefix, id, ++*serial);
  free(id);
}

const char *emit_ref(const Tensor *t)
{
  if (!t)
    return "NULL";
  // Recording the reference is the one write emission makes to the IR:
  // it tells which constants the generated code needs as weights.
  Tensor *r = (Tensor *)t;
  while (r->alias)
    r = r->alias;
  r->referenced = 1;
  return r->cname ? r->cname : "NULL";
}

// Runs every node's emitter into a scratch file, so that exactly the
// constants the code reads become weights (BatchNormalization, for one,
// reads its folded scale and shift, not its inputs).
static int64_t referenced_weight_bytes(Graph *g)
{
  FILE *scratch = tmpfile();
  Emitter e = {scratch, "scratch", g, "SCRATCH"};
  for (int i = 0; i < g->ntensors; i++)
    g->tensors[i]->referenced = 0;
  for (int i = 0; i < g->nnodes && scratch; i++)
    if (!g->nodes[i]->dead)
      g->nodes[i]->op->emit(&e, g->nodes[i]);
  for (int i = 0; i < g->noutputs; i++) // copied at the end by emit_passthrough_outputs()
    if (g->outputs[i]->kind != T_ACTIVATION)
      emit_ref(g->outputs[i]);
  if (scratch)
    fclose(scratch);
  int64_t bytes = 0;
  for (int i = 0; i < g->ntensors; i++) {
    Tensor *t = g->tensors[i];
    if ((t->storage != S_CONST && t->storage != S_PARAM) || t->alias)
      continue;
    if (t->storage == S_PARAM) // counted apart, as trainable weights
      continue;
    if (scratch && !t->referenced) {
      t->storage = S_NONE;
      continue;
    }
    bytes += tensor_count(t) * 4;
  }
  return bytes;
}

static void extend(Tensor *t, int step)
{
  if (!t)
    return;
  if (t->first_use < 0 || step < t->first_use)
    t->first_use = step;
  if (step > t->last_use)
    t->last_use = step;
}

// Training lifetimes: the loss reads the logits and writes their gradient;
// node k's backward (step 2F - k) reads its outputs' gradients and what
// backward_reads names, and writes its inputs' gradients; the optimizer
// (step 2F + 1) reads every weight gradient. Optimizer state lives always.
static void training_lifetimes(Graph *g, const TrainInfo *ti)
{
  int F = ti->forward_steps, last = 2 * F + 1;
  extend(ti->logits, F);
  extend(ti->logits->grad, F);
  for (int i = 0, k = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead)
      continue;
    int position = k++;
    if (n == ti->final_softmax || !n->outputs[0] || !n->outputs[0]->requires_grad)
      continue;
    int step = grad_backward_step(ti, position);
    for (int o = 0; o < n->noutputs; o++)
      if (n->outputs[o]) {
        extend(n->outputs[o]->grad, step);
        if (n->op->backward_reads & BWD_OUT(o))
          extend(n->outputs[o], step);
      }
    for (int in = 0; in < n->ninputs; in++)
      if (n->inputs[in]) {
        extend(n->inputs[in]->grad, step);
        if (n->op->backward_reads & BWD_IN(in))
          extend(n->inputs[in], step);
      }
  }
  for (int p = 0; p < ti->nparams; p++) {
    Tensor *w = ti->params[p];
    extend(w->grad, last);
    if (ti->opt.accumulate > 1) { // accumulated across calls
      w->grad->persistent = 1;
      extend(w->grad, 0);
    }
    for (int m = 0; m < 2; m++)
      if (ti->moments[2 * p + m]) {
        extend(ti->moments[2 * p + m], 0);
        extend(ti->moments[2 * p + m], last);
      }
  }
}

int plan_graph(Diag *d, Graph *g, const TrainInfo *ti, MemoryPlan *mp)
{
  (void)d;
  graph_count_uses(g);
  int steps = 0;
  for (int i = 0; i < g->ntensors; i++) {
    Tensor *t = g->tensors[i];
    t->alias = NULL;
    t->storage = S_NONE;
    t->first_use = t->last_use = -1;
    free(t->cname);
    t->cname = NULL;
  }
  // Pass 1: each tensor's own lifetime over the schedule of live nodes.
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead)
      continue;
    for (int k = 0; k < n->ninputs; k++)
      if (n->inputs[k])
        n->inputs[k]->last_use = steps;
    for (int k = 0; k < n->noutputs; k++)
      if (n->outputs[k]) {
        n->outputs[k]->first_use = steps;
        if (n->outputs[k]->last_use < steps)
          n->outputs[k]->last_use = steps;
      }
    steps++;
  }
  if (ti)
    training_lifetimes(g, ti);
  // Pass 2: views and in-place reuse, in schedule order.
  for (int i = 0, step = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead)
      continue;
    Tensor *out = n->outputs[0];
    if (out && (n->op->flags & OP_VIEW) && in_arena(g, out) && n->inputs[0]) {
      out->alias = root_of(n->inputs[0]); // one link long, as in try_in_place()
      Tensor *root = out->alias;
      if (out->last_use > root->last_use)
        root->last_use = out->last_use;
    } else if (out && (n->op->flags & OP_IN_PLACE)) {
      try_in_place(g, n, step);
    }
    step++;
  }
  // Pass 3: storage for every root; arena buffers for activations.
  memset(mp, 0, sizeof *mp);
  Plan plan;
  plan_init(&plan, 16);
  int serial = 0;
  NameSet names = {NULL, 0, 0};
  int *buffer_of = xcalloc((size_t)g->ntensors + 1, sizeof(int));
  for (int i = 0; i < g->ntensors; i++) {
    Tensor *t = g->tensors[i];
    buffer_of[i] = -1;
    if (t->alias)
      continue;
    char buf[64];
    if (t->kind == T_INPUT) {
      t->storage = S_INPUT;
      snprintf(buf, sizeof buf, "inputs[%d]", t->input_index);
      t->cname = xstrdup(buf);
    } else if (t->kind == T_ACTIVATION && t->output_index >= 0 && !g->training) {
      t->storage = S_OUTPUT;
      snprintf(buf, sizeof buf, "outputs[%d]", t->output_index);
      t->cname = xstrdup(buf);
    } else if (t->kind == T_CONST) {
      if ((t->nuses > 0 || t->output_index >= 0) && t->dtype == DT_FLOAT) {
        t->storage = t->trainable ? S_PARAM : S_CONST;
        assign_cname(&names, t, "w_", &serial);
        if (t->trainable)
          mp->param_bytes += tensor_count(t) * 4;
      }
    } else if (t->first_use >= 0) {
      t->storage = S_ARENA;
      int64_t bytes = tensor_count(t) * 4;
      // Training tensors are named d_x, m_x, v_x, velocity_x already.
      assign_cname(&names, t, t->kind == T_GRAD ? "" : "t_", &serial);
      buffer_of[i] = plan_add(&plan, bytes, t->first_use, t->last_use);
      if (t->kind == T_ACTIVATION)
        mp->activation_bytes += bytes;
      else if (t->persistent)
        mp->state_bytes += bytes;
      else
        mp->grad_bytes += bytes;
    }
  }
  plan_solve(&plan);
  for (int i = 0; i < g->ntensors; i++)
    if (buffer_of[i] >= 0)
      g->tensors[i]->offset = plan.buffers[buffer_of[i]].offset;
  mp->arena_bytes = plan_peak(&plan);
  mp->lower_bound = plan_lower_bound(&plan);
  free(buffer_of);
  free(names.slots);
  plan_free(&plan);
  // Aliases resolve to their root's storage.
  for (int i = 0; i < g->ntensors; i++) {
    Tensor *t = g->tensors[i];
    if (t->alias)
      t->storage = root_of(t)->storage;
  }
  mp->weight_bytes = referenced_weight_bytes(g);
  return 0;
}

