/*
 * compile.c - the driver: load -> bind inputs -> check -> passes -> plan.
 *
 * compile_load() runs every pass up to the memory plan and leaves a
 * Compiled model that emit_c() writes out and `onnxcc info` prints. Every
 * failure is reported through the Diag and returned as -1; out of memory
 * anywhere below longjmps back here and becomes an ordinary error.
 */
#include "compiler.h"
#include "onnx_read.h"

#include <stdlib.h>
#include <string.h>

#define MIN_OPSET 1
#define MAX_OPSET 17

static int bind_input(Diag *d, Graph *g, const char *name, const char *file)
{
  Tensor *in = graph_find_tensor(g, name);
  if (!in || in->kind != T_INPUT) {
    diag_error(d, "--bind %s: the model has no input named '%s'", name, name);
    return -1;
  }
  Diag td;
  diag_init(&td, file);
  Tensor *value = onnx_read_tensor_file(&td, file);
  if (!value) {
    diag_error(d, "--bind %s: %s", name, td.text ? td.text : "cannot read tensor");
    diag_free(&td);
    return -1;
  }
  diag_free(&td);
  in->kind = T_CONST;
  in->dtype = value->dtype;
  in->rank = value->rank;
  memcpy(in->dims, value->dims, sizeof in->dims);
  in->data = value->data;
  value->data = NULL;
  tensor_free(value);
  // Drop it from the inputs and renumber the rest.
  int k = 0;
  for (int i = 0; i < g->ninputs; i++)
    if (g->inputs[i] != in) {
      g->inputs[k] = g->inputs[i];
      g->inputs[k]->input_index = k;
      k++;
    }
  g->ninputs = k;
  in->input_index = -1;
  return 0;
}

static int resolve_input_dims(Diag *d, Graph *g, const CompileOptions *opt)
{
  int rc = 0;
  for (int i = 0; i < g->ninputs; i++) {
    Tensor *t = g->inputs[i];
    if (t->rank < 0) {
      diag_error(d, "graph input '%s' has no shape; onnxcc needs every shape at compile time",
                 t->name);
      rc = -1;
      continue;
    }
    for (int k = 0; k < t->rank; k++) {
      if (t->dims[k] >= 0) {
        if (k == 0 && opt->batch > 0 && t->dims[0] != opt->batch) {
          diag_error(d, "graph input '%s' has a fixed batch of %lld, not --batch %d", t->name,
                     (long long)t->dims[0], opt->batch);
          diag_note(d, "export the model with a dynamic batch axis (torch.onnx.export's "
                       "dynamic_axes) to choose the batch at compile time");
          rc = -1;
        }
        continue;
      }
      const char *param = t->dim_params[k] ? t->dim_params[k] : "?";
      int found = 0;
      for (int j = 0; j < opt->ndims; j++)
        if (!strcmp(opt->dim_names[j], param)) {
          t->dims[k] = opt->dim_values[j];
          found = 1;
        }
      if (found)
        continue;
      if (k == 0) { // a symbolic batch dimension
        t->dims[k] = opt->batch > 0 ? opt->batch : 1;
        continue;
      }
      diag_error(d, "graph input '%s' dimension %d ('%s') is not fixed", t->name, k, param);
      diag_note(d, "give it a value with --dim %s=VALUE", param);
      rc = -1;
    }
  }
  return rc;
}

static char *name_from_path(const char *path)
{
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  char *stem = xstrdup(base);
  char *dot = strrchr(stem, '.');
  if (dot && dot != stem)
    *dot = 0;
  char *id = c_identifier(stem);
  free(stem);
  return id;
}

static int run_passes(Diag *d, Compiled *c, const char *path, const CompileOptions *opt)
{
  Graph *g = c->g = onnx_read_model_limited(d, path, &opt->limits);
  if (!g)
    return -1;
  if (g->opset < MIN_OPSET || g->opset > MAX_OPSET) {
    diag_error(d, "the model uses opset %d; onnxcc supports opsets %d to %d", g->opset,
               MIN_OPSET, MAX_OPSET);
    return -1;
  }
  g->eval_mode = opt->eval_mode;
  for (int i = 0; i < opt->nbinds; i++)
    if (bind_input(d, g, opt->bind_names[i], opt->bind_files[i]) != 0)
      return -1;
  if (resolve_input_dims(d, g, opt) != 0)
    return -1;
  if (check_graph(d, g) != 0)
    return -1;
  // Training keeps BatchNormalization and activations as their own nodes,
  // so every trainable tensor is an initializer of the model, by name.
  g->training = opt->train.enabled;
  if (pass_drop_identities(d, g) != 0 || (!g->training && pass_fold_batchnorm(d, g) != 0) ||
      pass_matmul_add_to_gemm(d, g) != 0 || (!g->training && pass_fuse_activations(d, g) != 0))
    return -1;
  // Packed weights pay on x86-64's vector units; elsewhere (Arm, Cortex-M)
  // conv_packed.c would run them through a much slower fallback.
  if (!g->training && opt->target_x86_64) {
    pass_pack_weights(g);
    pass_fuse_residuals(g); // then the activation after the Add, if any
    if (pass_fuse_activations(d, g) != 0)
      return -1;
  }
  pass_remove_dead(g);
  if (g->training && grad_build(d, g, &opt->train, &c->train) != 0)
    return -1;
  return plan_graph(d, g, g->training ? &c->train : NULL, &c->mem);
}

int compile_load(Diag *d, const char *path, const CompileOptions *opt, Compiled *out)
{
  memset(out, 0, sizeof *out);
  out->name = opt->name ? c_identifier(opt->name) : name_from_path(path);
  out->arena_caller = opt->arena_caller;
  jmp_buf on_oom;
  if (setjmp(on_oom)) {
    oom_set_handler(NULL);
    diag_error(d, "out of memory");
    return -1;
  }
  oom_set_handler(&on_oom);
  int rc = run_passes(d, out, path, opt);
  oom_set_handler(NULL);
  return rc;
}

void compiled_free(Compiled *c)
{
  train_info_free(&c->train);
  graph_free(c->g);
  free(c->name);
  memset(c, 0, sizeof *c);
}
