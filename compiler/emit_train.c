/*
 * emit_train.c - the training step of a model compiled with --train.
 *
 * Adds to the generated files: the NAME_train_config struct and its
 * defaults, the memory table by category, and NAME_train_step(), which
 * runs, in one straight line,
 *   forward     the same calls as NAME_run(), up to the logits;
 *   loss        softmax cross-entropy over int32 class labels, PyTorch's
 *               mean reduction, fused with a final Softmax/LogSoftmax;
 *   backward    each node's backward in reverse order, accumulating into
 *               gradient buffers that are cleared right before their first
 *               contribution;
 *   update      after K calls (--accumulate K): finite check, optional
 *               gradient-norm clipping, then the optimizer on each weight.
 * A non-finite loss or gradient skips the update, leaves the weights as
 * they were, and is reported by the return code.
 *
 * It decides nothing about memory (plan.c) or gradients (grad.c).
 */
#include "compiler.h"

#include <string.h>

void emit_train_header(Emitter *e, const Compiled *c, const char *NAME)
{
  const TrainInfo *ti = &c->train;
  const MemoryPlan *m = &c->mem;
  const char *opt_names[] = {"sgd", "momentum", "adam", "adamw"};
  emitf(e, "/* Training (--train --optimizer %s --accumulate %d): */\n",
        opt_names[ti->opt.optimizer], ti->opt.accumulate);
  emitf(e, "#define %s_TRAIN_BATCH %d /* samples per train_step() call */\n", NAME, ti->batch);
  emitf(e, "#define %s_TRAIN_CLASSES %d\n", NAME, ti->classes);
  emitf(e, "#define %s_TRAIN_ACCUMULATE %d /* calls averaged into one update */\n", NAME,
        ti->opt.accumulate);
  emitf(e, "#define %s_TRAINABLE_WEIGHT_BYTES %lld /* in RAM, updated in place */\n", NAME,
        (long long)m->param_bytes);
  emitf(e, "#define %s_FROZEN_WEIGHT_BYTES %lld /* static const */\n", NAME,
        (long long)m->weight_bytes);
  emitf(e, "#define %s_ACTIVATION_BYTES %lld /* forward tensors, in the arena */\n", NAME,
        (long long)m->activation_bytes);
  emitf(e, "#define %s_GRADIENT_BYTES %lld /* gradient buffers, in the arena */\n", NAME,
        (long long)m->grad_bytes);
  emitf(e, "#define %s_OPTIMIZER_STATE_BYTES %lld /* persistent, in the arena */\n", NAME,
        (long long)m->state_bytes);
  emitf(e, "#define %s_TOTAL_RAM_BYTES %lld /* arena (with reuse) + trainable weights */\n\n",
        NAME, (long long)(m->arena_bytes + m->param_bytes));
  emitf(e, "typedef struct {\n"
           "  float lr;           /* learning rate; may change between steps */\n"
           "  float momentum;     /* SGD momentum (--optimizer momentum) */\n"
           "  float dampening;    /* SGD dampening */\n"
           "  float weight_decay; /* L2 (SGD, Adam) or decoupled (AdamW) */\n"
           "  int nesterov;       /* SGD: Nesterov momentum */\n"
           "  float beta1, beta2; /* Adam moments */\n"
           "  float eps;          /* Adam denominator */\n"
           "  float clip_norm;    /* > 0: clip the gradient's global L2 norm to this */\n"
           "} %s_train_config;\n",
        c->name);
  emitf(e, "#define %s_TRAIN_DEFAULTS {%s, 0.9f, 0.0f, 0.0f, 0, 0.9f, 0.999f, 1e-8f, 0.0f}\n\n",
        NAME, ti->opt.optimizer >= OPT_ADAM ? "0.001f" : "0.01f");
  emitf(e, "#define %s_TRAIN_OK 0          /* weights updated */\n"
           "#define %s_TRAIN_ACCUMULATED 1 /* gradients stored, update after more calls */\n"
           "#define %s_TRAIN_NONFINITE -1  /* loss or gradient not finite: no update */\n"
           "#define %s_TRAIN_BADLABEL -2   /* a label out of range: nothing done */\n\n",
        NAME, NAME, NAME, NAME);
  emitf(e, "/*\n * One training step on %s_TRAIN_BATCH samples: inputs as for %s_run()\n"
           " * with the batch dimension filled, labels[i] the class of sample i\n"
           " * (int32, 0 <= label < %s_TRAIN_CLASSES, or -100: a sample that does not\n"
           " * count, PyTorch's default ignore_index; any other label returns\n"
           " * %s_TRAIN_BADLABEL before anything is computed). *loss receives the\n"
           " * mean cross-entropy over the counted samples before the update. Not\n"
           " * re-entrant.\n */\n",
        NAME, c->name, NAME, NAME);
  emitf(e, "int %s_train_step(const %s_train_config *cfg, const float *const inputs[],\n"
           "    const int32_t *labels, float *loss);\n\n",
        c->name, c->name);
  emitf(e, "/*\n * Checkpoints of the trainable weights and the optimizer state (format:\n"
           " * runtime/kernels/checkpoint.c). save returns the bytes written or\n"
           " * NN_CKPT_ETOOSMALL; load returns 0, or a negative NN_CKPT_E* code for a\n"
           " * checkpoint of another model, a truncated or a corrupted one, and then\n"
           " * leaves the weights untouched.\n */\n");
  emitf(e, "#define %s_CHECKPOINT_BYTES %lld\n", NAME, (long long)emit_checkpoint_bytes(c));
  emitf(e, "long %s_save(void *buf, size_t cap);\nint %s_load(const void *buf, size_t len);\n\n",
        c->name, c->name);
}

// What a checkpoint holds, in order: each weight, then its optimizer state.
static int checkpoint_tensors(const Compiled *c, const Tensor **out, int *kinds)
{
  const TrainInfo *ti = &c->train;
  int count = 0;
  for (int p = 0; p < ti->nparams; p++) {
    out[count] = ti->params[p];
    kinds[count++] = 0;
    for (int m = 0; m < 2; m++)
      if (ti->moments[2 * p + m]) {
        out[count] = ti->moments[2 * p + m];
        kinds[count++] = 1;
      }
  }
  return count;
}

int64_t emit_checkpoint_bytes(const Compiled *c)
{
  const Tensor *ts[3 * c->train.nparams + 1];
  int kinds[3 * c->train.nparams + 1];
  int count = checkpoint_tensors(c, ts, kinds);
  int64_t size = 8 + 4 * 4 + 4;
  for (int i = 0; i < count; i++)
    size += 12 + (int64_t)strlen(ts[i]->name) + 4 * tensor_count(ts[i]);
  return size;
}

// FNV-1a over the layout: names, sizes, kinds, optimizer.
static uint32_t fingerprint(const Compiled *c, const Tensor **ts, const int *kinds, int count)
{
  uint32_t h = 2166136261u;
  char buf[64];
  for (int i = 0; i < count; i++) {
    for (const char *p = ts[i]->name; *p; p++)
      h = (h ^ (unsigned char)*p) * 16777619u;
    snprintf(buf, sizeof buf, ":%lld:%d;", (long long)tensor_count(ts[i]), kinds[i]);
    for (const char *p = buf; *p; p++)
      h = (h ^ (unsigned char)*p) * 16777619u;
  }
  return h ^ (uint32_t)c->train.opt.optimizer;
}

static void emit_checkpoint(Emitter *e, const Compiled *c)
{
  const Tensor *ts[3 * c->train.nparams + 1];
  int kinds[3 * c->train.nparams + 1];
  int count = checkpoint_tensors(c, ts, kinds);
  emitf(e, "\n/* What a checkpoint holds: each trainable weight, then its optimizer state. */\n");
  emitf(e, "static const nn_ckpt_tensor checkpoint[%d] = {\n", count);
  for (int i = 0; i < count; i++) {
    const Tensor *t = ts[i];
    // Optimizer state lives in the arena: its address is a constant expression.
    if (t->storage == S_ARENA)
      emitf(e, "  {\"%s\", %d, arena + %lld, %lld},\n", t->name, kinds[i],
            (long long)(t->offset / 4), (long long)tensor_count(t));
    else
      emitf(e, "  {\"%s\", %d, %s, %lld},\n", t->name, kinds[i], t->cname,
            (long long)tensor_count(t));
  }
  uint32_t fp = fingerprint(c, ts, kinds, count);
  emitf(e, "};\n\nlong %s_save(void *buf, size_t cap)\n{\n"
           "  return nn_ckpt_save(buf, cap, 0x%08xu, (uint32_t)train_steps, checkpoint, %d);\n}\n",
        c->name, fp, count);
  emitf(e, "\nint %s_load(const void *buf, size_t len)\n{\n  uint32_t steps;\n"
           "  int rc = nn_ckpt_load(buf, len, 0x%08xu, &steps, checkpoint, %d);\n"
           "  if (rc == 0)\n    train_steps = (int)steps;\n  return rc;\n}\n",
        c->name, fp, count);
}

// Declares the arena buffers the step's body referenced (emit_ref marks them).
static void emit_arena_pointers(Emitter *e, Graph *g)
{
  for (int i = 0; i < g->ntensors; i++) {
    Tensor *t = g->tensors[i];
    if (t->storage != S_ARENA || t->alias || !t->referenced)
      continue;
    char shape[128];
    emitf(e, "  float *const %s = arena + %lld; /* '%s' %s */\n", t->cname,
          (long long)(t->offset / 4), t->name, shape_str(t, shape, sizeof shape));
  }
}

// Copies what the scratch file holds to the real output.
static void append_file(FILE *out, FILE *scratch)
{
  char buf[4096];
  size_t n;
  rewind(scratch);
  while ((n = fread(buf, 1, sizeof buf, scratch)) > 0)
    fwrite(buf, 1, n, out);
}

// Clears a gradient buffer before its first contribution of this step.
static void zero_before_use(Emitter *e, Tensor *grad)
{
  if (!grad || grad->grad_zeroed)
    return;
  grad->grad_zeroed = 1;
  emitf(e, "  nn_fill(%s, 0.0f, %lld);\n", emit_ref(grad), (long long)tensor_count(grad));
}

static void emit_backward_pass(Emitter *e, Graph *g, const TrainInfo *ti)
{
  for (int i = 0; i < g->ntensors; i++)
    g->tensors[i]->grad_zeroed = g->tensors[i]->persistent;
  ti->logits->grad->grad_zeroed = 1; // the loss writes it
  for (int i = g->nnodes - 1; i >= 0; i--) {
    Node *n = g->nodes[i];
    if (n->dead || n == ti->final_softmax || !n->outputs[0] || !n->outputs[0]->requires_grad)
      continue;
    emitf(e, "\n  /* backward of node %d '%s' (%s) */\n", n->index, n->name, n->op_type);
    for (int k = 0; k < n->noutputs; k++) // an output nothing differentiable read
      if (n->outputs[k])
        zero_before_use(e, n->outputs[k]->grad);
    for (int k = 0; k < n->ninputs; k++)
      if (n->inputs[k])
        zero_before_use(e, n->inputs[k]->grad);
    n->op->emit_backward(e, n);
  }
}

static void emit_update(Emitter *e, const Compiled *c)
{
  const TrainInfo *ti = &c->train;
  emitf(e, "\n  /* update: skipped if any gradient is not finite */\n");
  for (int p = 0; p < ti->nparams; p++) {
    Tensor *w = ti->params[p];
    emitf(e, "  finite &= nn_all_finite(%s, %lld);\n", emit_ref(w->grad),
          (long long)tensor_count(w));
  }
  emitf(e, "  if (!finite) {\n");
  if (ti->opt.accumulate > 1)
    for (int p = 0; p < ti->nparams; p++)
      emitf(e, "    nn_fill(%s, 0.0f, %lld);\n", emit_ref(ti->params[p]->grad),
            (long long)tensor_count(ti->params[p]));
  emitf(e, "    return %s_TRAIN_NONFINITE;\n  }\n", e->upper);
  emitf(e, "  if (cfg->clip_norm > 0.0f) {\n    float norm_sq = 0.0f;\n");
  for (int p = 0; p < ti->nparams; p++)
    emitf(e, "    norm_sq += nn_grad_norm_sq(%s, %lld);\n", emit_ref(ti->params[p]->grad),
          (long long)tensor_count(ti->params[p]));
  emitf(e, "    if (norm_sq > cfg->clip_norm * cfg->clip_norm) {\n"
           "      const float scale = cfg->clip_norm / (sqrtf(norm_sq) + 1e-6f);\n");
  for (int p = 0; p < ti->nparams; p++)
    emitf(e, "      nn_scale(%s, scale, %lld);\n", emit_ref(ti->params[p]->grad),
          (long long)tensor_count(ti->params[p]));
  emitf(e, "    }\n  }\n");
  emitf(e, "  train_steps++;\n");
  for (int p = 0; p < ti->nparams; p++) {
    Tensor *w = ti->params[p], *m0 = ti->moments[2 * p], *m1 = ti->moments[2 * p + 1];
    long long count = (long long)tensor_count(w);
    if (ti->opt.optimizer >= OPT_ADAM)
      emitf(e, "  nn_adam_step(%s, %s, %s, %s, %lld, &oc, train_steps, %d);\n", w->cname, emit_ref(m0),
            emit_ref(m1), emit_ref(w->grad), count, ti->opt.optimizer == OPT_ADAMW);
    else
      emitf(e, "  nn_sgd_step(%s, %s, %s, %lld, &oc, train_steps);\n", w->cname,
            m0 ? emit_ref(m0) : "NULL", emit_ref(w->grad), count);
    if (ti->opt.accumulate > 1)
      emitf(e, "  nn_fill(%s, 0.0f, %lld);\n", emit_ref(w->grad), count);
  }
}

void emit_train_step(Emitter *e, const Compiled *c)
{
  Graph *g = c->g;
  const TrainInfo *ti = &c->train;
  int K = ti->opt.accumulate;
  emitf(e, "\n/* Updates so far: Adam's bias correction, momentum's start, checkpoints. */\n"
           "static int train_steps;\n");
  emitf(e, "\nint %s_train_step(const %s_train_config *cfg, const float *const inputs[],\n"
           "    const int32_t *labels, float *loss)\n{\n",
        c->name, c->name);
  if (K > 1)
    emitf(e, "  static int calls; /* calls since the last update */\n");
  emitf(e, "  for (int i = 0; i < %d; i++) /* labels: a class, or -100 (ignored) */\n"
           "    if (labels[i] != -100 && (labels[i] < 0 || labels[i] >= %d))\n"
           "      return %s_TRAIN_BADLABEL;\n",
        ti->batch, ti->classes, e->upper);
  emitf(e, "  int finite = 1;\n");
  emitf(e, "  const nn_optim_config oc = {cfg->lr, cfg->momentum, cfg->dampening, "
           "cfg->weight_decay,\n      cfg->nesterov, cfg->beta1, cfg->beta2, cfg->eps, 0};\n");
  // The body goes to a scratch file first, so that only the buffers it
  // references are declared.
  FILE *out = e->out, *scratch = tmpfile();
  if (scratch)
    e->out = scratch;
  for (int i = 0; i < g->ntensors; i++)
    g->tensors[i]->referenced = 0;
  emitf(e, "  (void)inputs;\n");
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead || n == ti->final_softmax)
      continue;
    emitf(e, "\n  /* node %d '%s' (%s) */\n", n->index, n->name, n->op_type);
    n->op->emit(e, n);
  }
  char scale[32];
  emitf(e, "\n  /* loss: softmax cross-entropy, mean over the batch%s */\n",
        ti->final_softmax ? ", fused with the final softmax" : "");
  emitf(e, "  *loss = nn_softmax_xent_forward_backward(%s, NULL, %s, labels, %d, %d, %s);\n",
        emit_ref(ti->logits->grad), emit_ref(ti->logits), ti->batch, ti->classes,
        emit_float_literal(1.0f / (float)K, scale));
  emitf(e, "  if (!nn_all_finite(loss, 1))\n    return %s_TRAIN_NONFINITE;\n", e->upper);
  emit_backward_pass(e, g, ti);
  if (K > 1)
    emitf(e, "\n  if (++calls < %d)\n    return %s_TRAIN_ACCUMULATED;\n  calls = 0;\n", K,
          e->upper);
  emit_update(e, c);
  emitf(e, "  return %s_TRAIN_OK;\n}\n", e->upper);
  if (scratch) {
    e->out = out;
    emit_arena_pointers(e, g);
    append_file(out, scratch);
    fclose(scratch);
  }
  emit_checkpoint(e, c);
}
