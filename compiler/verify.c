/*
 * verify.c - `onnxcc verify MODEL DIR...`: golden-output regression tests.
 *
 * Each DIR holds input_K.pb / output_K.pb (the ONNX test-data layout). The
 * model is compiled to C in a temporary folder, built with the system C
 * compiler against the runtime under -std=c99 -Wall -Wextra -pedantic
 * -Werror (the promise made for generated code), together with a small
 * harness that reads raw floats and writes raw floats. Each output is
 * compared elementwise as numpy.allclose does: |got - want| <= atol +
 * rtol * |want|, NaN matching NaN.
 *
 * Graph inputs that are not float32 (shape or index tensors) are bound to
 * the data set's values as compile-time constants, so the model is then
 * compiled once per data set.
 */
#define _POSIX_C_SOURCE 200809L
#include "compiler.h"
#include "onnx_read.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_IO 16

static const char harness_c[] =
    "/* verify harness: raw float32 files in, raw float32 files out. */\n"
    "#include <stdio.h>\n#include <stdlib.h>\n#include \"model.h\"\n"
    "static float *slurp(const char *path, long count) {\n"
    "  float *p = malloc((size_t)(count ? count : 1) * sizeof(float));\n"
    "  FILE *f = fopen(path, \"rb\");\n"
    "  if (!p || !f || fread(p, sizeof(float), (size_t)count, f) != (size_t)count) exit(3);\n"
    "  fclose(f);\n  return p;\n}\n"
    "int main(int argc, char **argv) {\n"
    "  const float *in[MODEL_NUM_INPUTS > 0 ? MODEL_NUM_INPUTS : 1];\n"
    "  float *out[MODEL_NUM_OUTPUTS];\n"
    "  static const long in_size[] = {IN_SIZES}, out_size[] = {OUT_SIZES};\n"
    "  int i;\n"
    "  if (argc != 1 + MODEL_NUM_INPUTS + MODEL_NUM_OUTPUTS) return 2;\n"
    "  for (i = 0; i < MODEL_NUM_INPUTS; i++) in[i] = slurp(argv[1 + i], in_size[i]);\n"
    "  for (i = 0; i < MODEL_NUM_OUTPUTS; i++) out[i] = calloc((size_t)out_size[i] + 1, sizeof(float));\n"
    "#ifdef MODEL_WORKSPACE_BYTES\n"
    "  { static double workspace[MODEL_WORKSPACE_BYTES / sizeof(double) + 1];\n"
    "    if (model_run(workspace, in, out) != 0) return 4; }\n"
    "#else\n"
    "  if (model_run(in, out) != 0) return 4;\n"
    "#endif\n"
    "  for (i = 0; i < MODEL_NUM_OUTPUTS; i++) {\n"
    "    FILE *f = fopen(argv[1 + MODEL_NUM_INPUTS + i], \"wb\");\n"
    "    if (!f || fwrite(out[i], sizeof(float), (size_t)out_size[i], f) != (size_t)out_size[i]) return 5;\n"
    "    fclose(f);\n  }\n"
    "  for (i = 0; i < MODEL_NUM_INPUTS; i++) free((void *)in[i]);\n"
    "  for (i = 0; i < MODEL_NUM_OUTPUTS; i++) free(out[i]);\n"
    "  return 0;\n}\n";

typedef struct {
  Tensor *inputs[MAX_IO], *outputs[MAX_IO];
  int ninputs, noutputs;
} DataSet;

static void dataset_free(DataSet *ds)
{
  for (int i = 0; i < ds->ninputs; i++)
    tensor_free(ds->inputs[i]);
  for (int i = 0; i < ds->noutputs; i++)
    tensor_free(ds->outputs[i]);
  memset(ds, 0, sizeof *ds);
}

static int file_exists(const char *path)
{
  struct stat st;
  return stat(path, &st) == 0;
}

// Reads dir/PREFIX_0.pb, PREFIX_1.pb, ... until one is missing.
static int read_tensors(Diag *d, const char *dir, const char *prefix, Tensor **out, int *count)
{
  char path[4096];
  for (*count = 0; *count < MAX_IO; ++*count) {
    snprintf(path, sizeof path, "%s/%s_%d.pb", dir, prefix, *count);
    if (!file_exists(path))
      break;
    Diag td;
    diag_init(&td, path);
    out[*count] = onnx_read_tensor_file(&td, path);
    if (!out[*count])
      diag_error(d, "%s", td.text ? td.text : path);
    diag_free(&td);
    if (!out[*count])
      return -1;
  }
  return 0;
}

// The data set's inputs first (they may decide the build), its outputs later.
static int read_inputs(Diag *d, const char *dir, DataSet *ds)
{
  memset(ds, 0, sizeof *ds);
  return read_tensors(d, dir, "input", ds->inputs, &ds->ninputs);
}

static int read_outputs(Diag *d, const char *dir, DataSet *ds)
{
  if (read_tensors(d, dir, "output", ds->outputs, &ds->noutputs) != 0)
    return -1;
  if (ds->noutputs == 0) {
    diag_error(d, "%s: no output_0.pb: not an ONNX test-data folder", dir);
    return -1;
  }
  return 0;
}

static int write_text(Diag *d, const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  if (!f || fputs(text, f) < 0) {
    diag_error(d, "cannot write %s", path);
    if (f)
      fclose(f);
    return -1;
  }
  fclose(f);
  return 0;
}

static int write_floats(Diag *d, const char *path, const Tensor *t)
{
  FILE *f = fopen(path, "wb");
  int64_t count = tensor_count(t);
  if (!f || (count && fwrite(t->data, sizeof(float), (size_t)count, f) != (size_t)count)) {
    diag_error(d, "cannot write %s", path);
    if (f)
      fclose(f);
    return -1;
  }
  fclose(f);
  return 0;
}

static int run_command(Diag *d, const char *cmd, const char *log)
{
  int status = system(cmd);
  if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    diag_error(d, "command failed (%s): %s", log, cmd);
    return -1;
  }
  return 0;
}

// Compiles the model (its non-float inputs bound to ds's values when ds is
// given) and builds it with the harness in dir: the executable dir/model.
static int build(Diag *d, const char *model, const Graph *probe, const CompileOptions *copt,
                 const VerifyOptions *vopt, const DataSet *ds, const char *dir,
                 Compiled *c)
{
  CompileOptions opt = *copt;
  opt.name = "model";
  // Bind non-float inputs to the data set's files (input_K.pb is graph input K).
  for (int k = 0; ds && k < probe->ninputs && k < ds->ninputs; k++) {
    if (!is_int_type(probe->inputs[k]->dtype) || opt.nbinds >= 16)
      continue;
    opt.bind_names[opt.nbinds] = probe->inputs[k]->name;
    opt.bind_files[opt.nbinds++] = ds->inputs[k]->dim_params[0]; // its path, see verify_model
  }
  if (compile_load(d, model, &opt, c) != 0)
    return -1;
  char path[4096], hpath[4096];
  snprintf(path, sizeof path, "%s/model.c", dir);
  snprintf(hpath, sizeof hpath, "%s/model.h", dir);
  FILE *src = fopen(path, "w"), *hdr = fopen(hpath, "w");
  if (!src || !hdr) {
    diag_error(d, "cannot write %s", path);
    if (src)
      fclose(src);
    if (hdr)
      fclose(hdr);
    return -1;
  }
  int rc = emit_c(d, c, src, hdr, "model.h");
  fclose(src);
  fclose(hdr);
  if (rc != 0)
    return -1;
  // The harness learns the I/O sizes through two macros.
  char sizes_in[2048] = "0", sizes_out[2048] = "0";
  size_t n = 0;
  for (int k = 0; k < c->g->ninputs; k++)
    n += (size_t)snprintf(sizes_in + n, sizeof sizes_in - n, "%s%lld", k ? "," : "",
                          (long long)tensor_count(c->g->inputs[k]));
  n = 0;
  for (int k = 0; k < c->g->noutputs; k++)
    n += (size_t)snprintf(sizes_out + n, sizeof sizes_out - n, "%s%lld", k ? "," : "",
                          (long long)tensor_count(c->g->outputs[k]));
  snprintf(path, sizeof path, "%s/harness.c", dir);
  if (write_text(d, path, harness_c) != 0)
    return -1;
  char cmd[16384];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && { %s -std=c99 -O1 -Wall -Wextra -pedantic -Werror -I'%s' -c model.c -o model.o"
           " && %s -std=c99 -O1 '-DIN_SIZES=%s' '-DOUT_SIZES=%s' -c harness.c -o harness.o"
           " && %s model.o harness.o '%s' -lm -o model; } > build.log 2>&1 || "
           "{ cat build.log >&2; exit 1; }",
           dir, vopt->cc, vopt->runtime_include, vopt->cc, sizes_in, sizes_out, vopt->cc,
           vopt->runtime_lib);
  return run_command(d, cmd, "building the generated C");
}

// Compares one output; prints a report line. Returns 1 if it matches.
static int compare(FILE *out, int k, const Tensor *model_out, const float *got,
                   const Tensor *want, const VerifyOptions *vopt)
{
  char a[128], b[128];
  if (tensor_count(want) != tensor_count(model_out) || !is_float_type(want->dtype)) {
    fprintf(out, "  output %d '%s': shape %s %s, expected %s %s: FAIL\n", k, model_out->name,
            shape_str(model_out, a, sizeof a), dtype_name(model_out->dtype),
            shape_str(want, b, sizeof b), dtype_name(want->dtype));
    return 0;
  }
  const float *w = want->data;
  double max_abs = 0, max_rel = 0;
  int64_t bad = 0, first_bad = -1;
  for (int64_t i = 0; i < tensor_count(want); i++) {
    double g = got[i], x = w[i];
    if (isnan(g) || isnan(x)) {
      if (!(isnan(g) && isnan(x)) && bad++ == 0)
        first_bad = i;
      continue;
    }
    if (isinf(g) || isinf(x)) {
      if (g != x && bad++ == 0)
        first_bad = i;
      continue;
    }
    double err = fabs(g - x);
    if (err > max_abs)
      max_abs = err;
    if (x != 0 && err / fabs(x) > max_rel)
      max_rel = err / fabs(x);
    if (err > vopt->atol + vopt->rtol * fabs(x) && bad++ == 0)
      first_bad = i;
  }
  fprintf(out, "  output %d '%s' %s: max abs err %.3g, max rel err %.3g: %s", k, model_out->name,
          shape_str(model_out, a, sizeof a), max_abs, max_rel, bad ? "FAIL" : "PASS");
  if (bad)
    fprintf(out, " (%lld elements differ; first at %lld: got %.9g, want %.9g)",
            (long long)bad, (long long)first_bad, (double)got[first_bad], (double)w[first_bad]);
  fprintf(out, "\n");
  return bad == 0;
}

static int run_dataset(Diag *d, const char *dir, const char *tmp, const Compiled *c,
                       const DataSet *ds, const VerifyOptions *vopt, FILE *out)
{
  const Graph *g = c->g;
  if (ds->noutputs != g->noutputs) {
    diag_error(d, "%s: has %d outputs, the model has %d", dir, ds->noutputs, g->noutputs);
    return -1;
  }
  char cmd[16384], path[4096];
  size_t n = (size_t)snprintf(cmd, sizeof cmd, "cd '%s' && ./model", tmp);
  // Graph input k (after binding) takes the k-th float data-set input.
  int next = 0;
  for (int k = 0; k < g->ninputs; k++) {
    while (next < ds->ninputs && ds->inputs[next]->dtype != DT_FLOAT)
      next++;
    if (next >= ds->ninputs) {
      diag_error(d, "%s: no data for model input '%s'", dir, g->inputs[k]->name);
      return -1;
    }
    const Tensor *t = ds->inputs[next++];
    if (tensor_count(t) != tensor_count(g->inputs[k])) {
      char a[128], b[128];
      diag_error(d, "%s: input '%s' has shape %s, the compiled model expects %s", dir,
                 g->inputs[k]->name, shape_str(t, a, sizeof a),
                 shape_str(g->inputs[k], b, sizeof b));
      diag_note(d, "compile with --batch N or --dim NAME=VALUE to match the data");
      return -1;
    }
    snprintf(path, sizeof path, "%s/in_%d.bin", tmp, k);
    if (write_floats(d, path, t) != 0)
      return -1;
    n += (size_t)snprintf(cmd + n, sizeof cmd - n, " in_%d.bin", k);
  }
  for (int k = 0; k < g->noutputs; k++)
    n += (size_t)snprintf(cmd + n, sizeof cmd - n, " out_%d.bin", k);
  if (run_command(d, cmd, "running the generated model") != 0)
    return -1;
  int ok = 1;
  fprintf(out, "%s:\n", dir);
  for (int k = 0; k < g->noutputs; k++) {
    int64_t count = tensor_count(g->outputs[k]);
    float *got = xcalloc((size_t)count + 1, sizeof(float));
    snprintf(path, sizeof path, "%s/out_%d.bin", tmp, k);
    FILE *f = fopen(path, "rb");
    size_t read = f ? fread(got, sizeof(float), (size_t)count, f) : 0;
    if (f)
      fclose(f);
    if ((int64_t)read != count) {
      free(got);
      diag_error(d, "%s: the model wrote no output %d", dir, k);
      return -1;
    }
    ok &= compare(out, k, g->outputs[k], got, ds->outputs[k], vopt);
    free(got);
  }
  return ok ? 0 : 1;
}

int verify_model(Diag *d, const char *model, int ndirs, char **dirs, const CompileOptions *copt,
                 const VerifyOptions *vopt, FILE *out)
{
  // The model is judged first: what onnxcc refuses is refused before any
  // data file is read.
  Graph *probe = onnx_read_model_limited(d, model, &copt->limits);
  if (!probe)
    return -1;
  // Integer inputs are bound per data set; other types are left for the
  // compiler to refuse.
  int binds = 0;
  for (int k = 0; k < probe->ninputs; k++)
    binds |= is_int_type(probe->inputs[k]->dtype);
  for (int k = 0; k < probe->ninputs; k++)
    if (probe->inputs[k]->dtype != DT_FLOAT && !is_int_type(probe->inputs[k]->dtype))
      binds = 0;
  char tmp[] = "/tmp/onnxcc-verify-XXXXXX";
  if (!mkdtemp(tmp)) {
    diag_error(d, "cannot create a temporary folder");
    graph_free(probe);
    return -1;
  }
  Compiled c = {0};
  int result = binds ? 0 : build(d, model, probe, copt, vopt, NULL, tmp, &c);
  for (int i = 0; i < ndirs && result >= 0; i++) {
    DataSet ds;
    if (read_inputs(d, dirs[i], &ds) != 0) {
      dataset_free(&ds);
      result = -1;
      break;
    }
    // Each input's file path, for binding (dim_params[0] is unused on data tensors).
    for (int k = 0; k < ds.ninputs; k++) {
      char path[4096];
      snprintf(path, sizeof path, "%s/input_%d.pb", dirs[i], k);
      free(ds.inputs[k]->dim_params[0]);
      ds.inputs[k]->dim_params[0] = xstrdup(path);
    }
    if (binds) {
      compiled_free(&c);
      if (build(d, model, probe, copt, vopt, &ds, tmp, &c) != 0) {
        dataset_free(&ds);
        result = -1;
        break;
      }
    }
    if (read_outputs(d, dirs[i], &ds) != 0) {
      dataset_free(&ds);
      result = -1;
      break;
    }
    int rc = run_dataset(d, dirs[i], tmp, &c, &ds, vopt, out);
    dataset_free(&ds);
    if (rc < 0)
      result = -1;
    else if (rc > 0)
      result = 1;
  }
  compiled_free(&c);
  graph_free(probe);
  if (!vopt->keep) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
      diag_error(d, "cannot remove %s", tmp);
  } else {
    fprintf(out, "build folder kept: %s\n", tmp);
  }
  return result;
}
