/*
 * emit.c - write the generated model: one .c and one .h.
 *
 * The .c holds, in order: the memory plan as a comment table, the weights
 * as static const arrays (C99 hexadecimal float literals, the exact bits of
 * each float32), the arena, the I/O names, and NAME_run(): a
 * straight line of runtime calls, each under a comment naming its ONNX
 * node. Ops write their calls through emitf(); parameters that need arrays
 * go in a { static const ... } block local to the call.
 *
 * It does not decide anything: storage, offsets and names come from
 * plan.c, kernel arguments from each op's emit().
 */
#include "compiler.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ONNXCC_VERSION "0.1"

// s made safe inside a /* */ comment: no comment delimiters, no control or
// non-ASCII bytes (the model path comes from the command line, the
// producer from the file).
static const char *comment_safe(const char *s, char *buf, size_t cap)
{
  size_t n = 0;
  for (; *s && n + 1 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    int closes = (c == '*' && s[1] == '/') || (c == '/' && s[1] == '*');
    buf[n++] = (c < 0x20 || c > 0x7e || closes) ? '_' : (char)c;
  }
  buf[n] = 0;
  return buf;
}

void emitf(Emitter *e, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  vfprintf(e->out, fmt, ap);
  va_end(ap);
}

const char *emit_act_name(nn_act act)
{
  static const char *names[] = {
      "NN_ACT_NONE", "NN_ACT_RELU", "NN_ACT_LEAKY_RELU", "NN_ACT_ELU", "NN_ACT_SELU",
      "NN_ACT_CELU", "NN_ACT_SIGMOID", "NN_ACT_HARD_SIGMOID", "NN_ACT_TANH",
      "NN_ACT_SOFTPLUS", "NN_ACT_SOFTSIGN", "NN_ACT_HARD_SWISH", "NN_ACT_THRESHOLDED_RELU",
      "NN_ACT_CLIP", "NN_ACT_ABS", "NN_ACT_NEG", "NN_ACT_EXP", "NN_ACT_LOG", "NN_ACT_SQRT",
      "NN_ACT_ERF", "NN_ACT_RECIPROCAL", "NN_ACT_FLOOR", "NN_ACT_CEIL", "NN_ACT_SIN",
      "NN_ACT_COS", "NN_ACT_SIGN", "NN_ACT_ROUND", "NN_ACT_SCALE_SHIFT"};
  return names[act];
}

char *emit_float_literal(float v, char *buf)
{
  if (isnan(v)) {
    strcpy(buf, "NAN");
  } else if (isinf(v)) {
    strcpy(buf, v > 0 ? "HUGE_VALF" : "-HUGE_VALF");
  } else {
    snprintf(buf, 24, "%.9g", (double)v);
    if (!strpbrk(buf, ".e"))
      strcat(buf, ".0");
    strcat(buf, "f");
  }
  return buf;
}

const char *emit_saved(const Node *n, const Tensor *t)
{
  for (int i = 0; i < n->ninputs && i < 16; i++)
    if (n->inputs[i] == t && (n->op->backward_reads & BWD_IN(i)))
      return emit_ref(t);
  for (int k = 0; k < n->noutputs && k < 16; k++)
    if (n->outputs[k] == t && (n->op->backward_reads & BWD_OUT(k)))
      return emit_ref(t);
  return "NULL";
}

const char *emit_grad(const Tensor *t)
{
  return t && t->grad ? emit_ref(t->grad) : "NULL";
}

void emit_int_array(Emitter *e, const char *cname, const int *v, int count)
{
  emitf(e, "    static const int %s[%d] = {", cname, count > 0 ? count : 1);
  for (int i = 0; i < count; i++)
    emitf(e, "%s%d", i ? ", " : "", v[i]);
  emitf(e, "%s};\n", count > 0 ? "" : "0");
}

char *emit_offset(char *buf, size_t cap, const char *ref, int64_t offset)
{
  if (offset)
    snprintf(buf, cap, "%s + %lld", ref, (long long)offset);
  else
    snprintf(buf, cap, "%s", ref);
  return buf;
}

void emit_strided(Emitter *e, const char *kernel, const char *dst, const char *src, int rank,
                  const int *dims, const int *dst_strides, const int *src_strides)
{
  int d[MAX_RANK], ds[MAX_RANK], ss[MAX_RANK];
  for (int k = 0; k < rank; k++) {
    d[k] = dims[k];
    ds[k] = dst_strides[k];
    ss[k] = src_strides[k];
  }
  int *strides[2] = {ds, ss};
  rank = merge_dims(rank, d, 2, strides);
  emitf(e, "  {\n");
  emit_int_array(e, "dims", d, rank);
  emit_int_array(e, "y_strides", ds, rank);
  emit_int_array(e, "x_strides", ss, rank);
  emitf(e, "    %s(%s, %s, %d, dims, y_strides, x_strides);\n  }\n", kernel, dst, src, rank);
}

void emit_open_block(Emitter *e, const Node *n)
{
  (void)n;
  emitf(e, "  {\n");
}

void emit_close_block(Emitter *e)
{
  emitf(e, "  }\n");
}

// A weight as a C99 hexadecimal float, exact by construction. Compilers read
// these faster than decimal literals, which they convert with multi-precision
// arithmetic: gcc 12 -O2 on resnet18 (11.7M weights) took 24% less CPU time
// (26.7 s against 35.0 s) than with the 9-digit decimals that
// emit_float_literal writes for the scalar parameters of kernel calls; its
// memory (2.5 GB, the initializer trees) stayed the same.
static char *weight_literal(float v, char *buf)
{
  if (!isfinite(v))
    return emit_float_literal(v, buf);
  snprintf(buf, 32, "%af", (double)v);
  return buf;
}

static void emit_weights(Emitter *e, Graph *g)
{
  for (int i = 0; i < g->ntensors; i++) {
    Tensor *t = g->tensors[i];
    if ((t->storage != S_CONST && t->storage != S_PARAM) || t->alias)
      continue;
    char shape[128], lit[32];
    int64_t count = tensor_count(t);
    emitf(e, "/* '%s' %s%s */\nstatic %sfloat %s[%lld] = {", t->name,
          shape_str(t, shape, sizeof shape), t->storage == S_PARAM ? ", trainable" : "",
          t->storage == S_PARAM ? "" : "const ", t->cname, (long long)(count ? count : 1));
    const float *data = t->data;
    for (int64_t k = 0; k < count; k++)
      emitf(e, "%s%s", k % 8 ? ", " : (k ? ",\n  " : "\n  "), weight_literal(data[k], lit));
    emitf(e, "%s};\n\n", count ? "\n" : "0");
  }
}

static void emit_plan_table(Emitter *e, Graph *g, const MemoryPlan *mp)
{
  emitf(e, "/*\n * Memory plan: one arena of %lld bytes (lower bound %lld bytes,\n"
           " * the most that is ever live at once). Views share their input's\n"
           " * storage; graph inputs and outputs use the caller's buffers.\n *\n"
           " *     offset      bytes   steps   tensor\n",
        (long long)mp->arena_bytes, (long long)mp->lower_bound);
  for (int i = 0; i < g->ntensors; i++) {
    Tensor *t = g->tensors[i];
    if (t->storage != S_ARENA || t->alias)
      continue;
    char shape[128];
    emitf(e, " * %10lld %10lld %3d..%-3d %s %s\n", (long long)t->offset,
          (long long)tensor_count(t) * 4, t->first_use, t->last_use, t->name,
          shape_str(t, shape, sizeof shape));
  }
  emitf(e, " */\n");
}

static void emit_node_comment(Emitter *e, const Node *n)
{
  emitf(e, "\n  /* node %d '%s' (%s)", n->index, n->name, n->op_type);
  if (n->note)
    emitf(e, ", %s", n->note);
  emitf(e, " */\n");
}

static char *upper(const char *s)
{
  char *u = xstrdup(s);
  for (char *p = u; *p; p++)
    *p = (char)toupper((unsigned char)*p);
  return u;
}

static void emit_io_macros(Emitter *e, const char *NAME, const char *kind, Tensor **ts,
                           int count)
{
  for (int i = 0; i < count; i++) {
    Tensor *t = ts[i];
    char shape[128];
    emitf(e, "#define %s_%s_%d_SIZE %lld /* float elements */\n", NAME, kind, i,
          (long long)tensor_count(t));
    emitf(e, "#define %s_%s_%d_NAME \"%s\"\n", NAME, kind, i, t->name);
    emitf(e, "#define %s_%s_%d_RANK %d\n", NAME, kind, i, t->rank);
    shape_str(t, shape, sizeof shape);
    shape[0] = '{';
    shape[strlen(shape) - 1] = '}';
    emitf(e, "#define %s_%s_%d_SHAPE %s\n", NAME, kind, i, t->rank ? shape : "{1}");
  }
}

static void emit_header(Emitter *e, Compiled *c, const char *NAME)
{
  char path[1024], producer[256];
  Graph *g = c->g;
  emitf(e, "/* Generated by onnxcc %s from %s (opset %d, producer '%s'). Do not edit. */\n",
        ONNXCC_VERSION, comment_safe(g->path, path, sizeof path), g->opset,
        comment_safe(g->producer, producer, sizeof producer));
  emitf(e, "#ifndef %s_H\n#define %s_H\n\n%s#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n", NAME,
        NAME, c->g->training ? "#include <stddef.h>\n#include <stdint.h>\n\n" : "");
  emitf(e, "#define %s_NUM_INPUTS %d\n#define %s_NUM_OUTPUTS %d\n", NAME, g->ninputs, NAME,
        g->noutputs);
  emit_io_macros(e, NAME, "INPUT", g->inputs, g->ninputs);
  emit_io_macros(e, NAME, "OUTPUT", g->outputs, g->noutputs);
  emitf(e, "#define %s_ARENA_BYTES %lld /* activations, %s */\n", NAME,
        (long long)c->mem.arena_bytes,
        c->arena_caller ? "in the caller's workspace" : "statically allocated");
  if (c->arena_caller) {
    emitf(e, "#define %s_WORKSPACE_BYTES %lld /* what run() needs at `workspace` */\n", NAME,
          (long long)(c->mem.arena_bytes > 0 ? c->mem.arena_bytes : 1));
    emitf(e, "#define %s_WORKSPACE_ALIGN 16 /* its alignment in bytes */\n", NAME);
  }
  emitf(e, "#define %s_WEIGHT_BYTES %lld /* constant weights */\n\n", NAME,
        (long long)c->mem.weight_bytes);
  emitf(e, "extern const char *const %s_input_names[%s_NUM_INPUTS > 0 ? %s_NUM_INPUTS : 1];\n",
        c->name, NAME, NAME);
  emitf(e, "extern const char *const %s_output_names[%s_NUM_OUTPUTS];\n\n", c->name, NAME);
  emitf(e, "/*\n * Runs the model once. inputs[k] points to %s_INPUT_k_SIZE floats and\n"
           " * outputs[k] to %s_OUTPUT_k_SIZE floats (row-major, shapes above).\n",
        NAME, NAME);
  if (c->arena_caller) {
    emitf(e, " * workspace points to %s_WORKSPACE_BYTES bytes aligned to\n"
             " * %s_WORKSPACE_ALIGN, owned by the caller: calls with different\n"
             " * workspaces may run concurrently (re-entrant). Returns 0.\n */\n",
          NAME, NAME);
    emitf(e, "int %s_run(void *workspace, const float *const inputs[], float *const outputs[]);\n\n",
          c->name);
  } else {
    emitf(e, " * Not re-entrant: the activations live in one static arena.\n * Returns 0.\n */\n");
    emitf(e, "int %s_run(const float *const inputs[], float *const outputs[]);\n\n", c->name);
  }
  if (c->g->training)
    emit_train_header(e, c, NAME);
  emitf(e, "#ifdef __cplusplus\n}\n#endif\n\n#endif /* %s_H */\n", NAME);
}

// Graph outputs that are not computed by a node (an input or a constant
// passed straight through) are copied at the end.
static void emit_passthrough_outputs(Emitter *e, Graph *g)
{
  for (int i = 0; i < g->noutputs; i++) {
    Tensor *t = g->outputs[i];
    if (t->kind == T_ACTIVATION && g->training) { // computed in the arena
      emitf(e, "  nn_copy(outputs[%d], %s, %lld);\n", i, emit_ref(t), (long long)tensor_count(t));
      continue;
    }
    if (t->kind == T_ACTIVATION)
      continue;
    emitf(e, "\n  /* graph output '%s' is %s */\n", t->name,
          t->kind == T_INPUT ? "a graph input" : "a constant");
    emitf(e, "  nn_copy(outputs[%d], %s, %lld);\n", i, emit_ref(t), (long long)tensor_count(t));
  }
}

int emit_c(Diag *d, Compiled *c, FILE *src, FILE *hdr, const char *header_name)
{
  char path[1024], producer[256];
  Graph *g = c->g;
  for (int i = 0; i < g->noutputs; i++) {
    Tensor *t = g->outputs[i];
    if (t->dtype != DT_FLOAT) {
      diag_error(d, "graph output '%s' has type %s; only float32 outputs are supported",
                 t->name, dtype_name(t->dtype));
      return -1;
    }
  }
  for (int i = 0; i < g->ninputs; i++) {
    Tensor *t = g->inputs[i];
    if (t->dtype != DT_FLOAT) {
      diag_error(d, "graph input '%s' has type %s; only float32 inputs are supported",
                 t->name, dtype_name(t->dtype));
      diag_note(d, "an integer input that fixes shapes can be made a constant with "
                   "--bind NAME=FILE.pb");
      return -1;
    }
  }
  if (g->training && c->arena_caller) {
    diag_error(d, "--train with --arena caller is not supported: the training state is static");
    return -1;
  }
  char *NAME = upper(c->name);
  Emitter e = {hdr, c->name, g, NAME};
  emit_header(&e, c, NAME);

  e.out = src;
  emitf(&e, "/* Generated by onnxcc %s from %s (opset %d, producer '%s'). Do not edit. */\n",
        ONNXCC_VERSION, comment_safe(g->path, path, sizeof path), g->opset,
        comment_safe(g->producer, producer, sizeof producer));
  emitf(&e, "#include <math.h>\n#include \"nn.h\"\n#include \"%s\"\n\n", header_name);
  emit_plan_table(&e, g, &c->mem);
  // run() declares only the arena tensors its code reads or writes (not an
  // unread Split output, say); the arena exists if one does, or for train_step().
  int arena_used = 0;
  for (int i = 0; i < g->ntensors; i++) {
    const Tensor *t = g->tensors[i];
    arena_used |= t->storage == S_ARENA && !t->alias &&
                  (g->training || (t->referenced && t->kind != T_GRAD));
  }
  if (arena_used && !c->arena_caller) // empty tensors alone plan 0 bytes: keep 1 float
    emitf(&e, "static float arena[%lld];\n\n",
          (long long)(c->mem.arena_bytes >= 4 ? c->mem.arena_bytes / 4 : 1));
  emit_weights(&e, g);
  emitf(&e, "const char *const %s_input_names[%s_NUM_INPUTS > 0 ? %s_NUM_INPUTS : 1] = {",
        c->name, NAME, NAME);
  for (int i = 0; i < g->ninputs; i++)
    emitf(&e, "%s\"%s\"", i ? ", " : "", g->inputs[i]->name);
  emitf(&e, "%s};\nconst char *const %s_output_names[%s_NUM_OUTPUTS] = {", g->ninputs ? "" : "0",
        c->name, NAME);
  for (int i = 0; i < g->noutputs; i++)
    emitf(&e, "%s\"%s\"", i ? ", " : "", g->outputs[i]->name);
  emitf(&e, "};\n\n");

  if (c->arena_caller) {
    emitf(&e, "int %s_run(void *workspace, const float *const inputs[], float *const outputs[])\n{\n",
          c->name);
    emitf(&e, arena_used ? "  float *const arena = (float *)workspace;\n"
                         : "  (void)workspace;\n");
  } else {
    emitf(&e, "int %s_run(const float *const inputs[], float *const outputs[])\n{\n", c->name);
  }
  int uses_inputs = 0, uses_arena = 0;
  for (int i = 0; i < g->ntensors; i++) {
    Tensor *t = g->tensors[i];
    uses_inputs |= t->storage == S_INPUT && t->referenced; // see referenced_weight_bytes()
    if (t->storage != S_ARENA || t->alias || t->kind == T_GRAD || // gradients: train_step only
        !t->referenced)
      continue;
    char shape[128];
    emitf(&e, "  float *const %s = arena + %lld; /* '%s' %s */\n", t->cname,
          (long long)(t->offset / 4), t->name, shape_str(t, shape, sizeof shape));
    uses_arena = 1;
  }
  (void)uses_arena;
  if (!uses_inputs)
    emitf(&e, "  (void)inputs;\n");
  int writes_outputs = g->training; // nothing to write when every output is empty
  for (int i = 0; i < g->ntensors; i++)
    writes_outputs |= g->tensors[i]->storage == S_OUTPUT && g->tensors[i]->referenced;
  for (int i = 0; i < g->noutputs; i++)
    writes_outputs |= g->outputs[i]->kind != T_ACTIVATION; // copied at the end
  if (!writes_outputs)
    emitf(&e, "  (void)outputs;\n");
  for (int i = 0; i < g->nnodes; i++) {
    Node *n = g->nodes[i];
    if (n->dead)
      continue;
    emit_node_comment(&e, n);
    n->op->emit(&e, n);
  }
  emit_passthrough_outputs(&e, g);
  emitf(&e, "  return 0;\n}\n");
  if (g->training)
    emit_train_step(&e, c);
  free(NAME);
  return 0;
}
