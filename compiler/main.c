/*
 * main.c - the onnxcc command line: parse arguments, call the compiler,
 * print diagnostics, choose the exit code (0 ok, 1 error or mismatch,
 * 2 bad usage). The only file that prints errors or exits.
 */
#define _POSIX_C_SOURCE 200809L
#include "compiler.h"
#include "onnx_read.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
    "usage: onnxcc compile MODEL.onnx [-o OUT.c] [options]   write OUT.c and OUT.h\n"
    "       onnxcc info MODEL.onnx [options]                 per-layer table and memory\n"
    "       onnxcc verify MODEL.onnx DIR... [options]        build, run, compare with DIR/output_K.pb\n"
    "       onnxcc export MODEL.onnx CHECKPOINT -o OUT.onnx  write trained weights back\n"
    "\n"
    "options:\n"
    "  --name NAME          C identifier prefix (default: the model file's stem)\n"
    "  --batch N            value of a symbolic batch dimension (default 1)\n"
    "  --dim NAME=VALUE     value of the symbolic dimension NAME\n"
    "  --bind NAME=FILE.pb  make graph input NAME a constant with FILE's TensorProto\n"
    "  --arena static|caller  where the activations live: one static array in the\n"
    "                       generated file (default), or a workspace the caller\n"
    "                       passes to run() (re-entrant)\n"
    "  --train              also emit NAME_train_step(): loss, backward, update\n"
    "  --optimizer O        sgd (default), momentum, adam or adamw\n"
    "  --trainable LIST     initializer or layer names, comma-separated, or last:N\n"
    "                       (default: every weight)\n"
    "  --accumulate K       average gradients over K calls per update (default 1)\n"
    "  --eval               compile training-mode Dropout/BatchNormalization as\n"
    "                       model.eval() would (identity, running statistics)\n"
    "  --target T           generic (default) or x86-64: for x86-64, inference code\n"
    "                       takes Conv and Gemm weights packed for its vector units\n"
    "                       (packed Conv is much slower on other cores)\n"
    "  --max-elements N     refuse a tensor of more than N elements (default 2^28)\n"
    "  --max-weight-bytes N refuse more than N bytes of constant data, initializers\n"
    "                       and folded tensors (default 2^30)\n"
    "  --max-nodes N        refuse a graph of more than N nodes (default 100000)\n"
    "  --rtol R --atol A    verify tolerances (default 1e-3 and 1e-5)\n"
    "  --cc CC              C compiler verify uses (default: $CC or cc)\n"
    "  --keep               verify keeps its build folder\n";

static int bad_usage(const char *fmt, const char *arg)
{
  fprintf(stderr, "onnxcc: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n%s", usage);
  return 2;
}

static int parse_int(const char *s, long long min, long long max, long long *out)
{
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < min || v > max)
    return -1;
  *out = v;
  return 0;
}

static int parse_double(const char *s, double *out)
{
  char *end;
  *out = strtod(s, &end);
  return (!*s || *end || *out < 0) ? -1 : 0;
}

// Where nn.h and libonnxcc.a are: libonnxcc.a beside the binary and nn.h in
// the source tree it was built from (ONNXCC_RUNTIME_DIR, a build tree), or
// lib/ and include/onnxcc/ beside bin/ (an installed tree).
static void find_runtime(VerifyOptions *v, char *inc, char *lib, size_t cap)
{
  char exe[PATH_MAX - 64];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0)
    n = 0;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (slash)
    *slash = 0;
  struct stat st;
  snprintf(lib, cap, "%s/libonnxcc.a", exe);
  snprintf(inc, cap, "%s", ONNXCC_RUNTIME_DIR);
  char probe[PATH_MAX + 32];
  snprintf(probe, sizeof probe, "%s/nn.h", inc);
  if (stat(lib, &st) != 0 || stat(probe, &st) != 0) {
    snprintf(lib, cap, "%s/../lib/libonnxcc.a", exe);
    snprintf(inc, cap, "%s/../include/onnxcc", exe);
  }
  v->runtime_include = inc;
  v->runtime_lib = lib;
}

static char *header_path_for(const char *c_path)
{
  size_t n = strlen(c_path);
  char *h = xmalloc(n + 3);
  strcpy(h, c_path);
  if (n > 2 && !strcmp(h + n - 2, ".c"))
    h[n - 1] = 'h';
  else
    strcat(h, ".h");
  return h;
}

static int cmd_compile(const char *model, const char *out_path, const CompileOptions *opt)
{
  Diag d;
  diag_init(&d, model);
  Compiled c;
  int rc = compile_load(&d, model, opt, &c);
  char *default_out = NULL, *hdr_path = NULL;
  if (rc == 0) {
    if (!out_path) {
      size_t n = strlen(c.name) + 3;
      default_out = xmalloc(n);
      snprintf(default_out, n, "%s.c", c.name);
      out_path = default_out;
    }
    hdr_path = header_path_for(out_path);
    const char *hdr_base = strrchr(hdr_path, '/') ? strrchr(hdr_path, '/') + 1 : hdr_path;
    FILE *src = fopen(out_path, "w"), *hdr = fopen(hdr_path, "w");
    if (!src || !hdr) {
      diag_error(&d, "cannot write %s", !src ? out_path : hdr_path);
      rc = -1;
    } else {
      rc = emit_c(&d, &c, src, hdr, hdr_base);
    }
    if (src && fclose(src) != 0)
      rc = -1;
    if (hdr && fclose(hdr) != 0)
      rc = -1;
  }
  if (d.text)
    fputs(d.text, stderr);
  if (rc != 0 && hdr_path) { // no half-written output
    remove(out_path);
    remove(hdr_path);
  }
  free(default_out);
  free(hdr_path);
  compiled_free(&c);
  diag_free(&d);
  return rc == 0 ? 0 : 1;
}

static int cmd_info(const char *model, const CompileOptions *opt)
{
  Diag d;
  diag_init(&d, model);
  Compiled c;
  int rc = compile_load(&d, model, opt, &c);
  if (rc == 0)
    info_print(stdout, &c);
  if (d.text)
    fputs(d.text, stderr);
  compiled_free(&c);
  diag_free(&d);
  return rc == 0 ? 0 : 1;
}

static int cmd_verify(const char *model, int ndirs, char **dirs, const CompileOptions *opt,
                      const VerifyOptions *vopt)
{
  Diag d;
  diag_init(&d, model);
  int rc = verify_model(&d, model, ndirs, dirs, opt, vopt, stdout);
  fflush(stdout);
  if (d.text)
    fputs(d.text, stderr);
  diag_free(&d);
  if (rc == 0)
    printf("PASS\n");
  else if (rc > 0)
    printf("FAIL\n");
  return rc == 0 ? 0 : 1;
}

static int split_binding(const char *arg, const char **name, const char **value)
{
  const char *eq = strchr(arg, '=');
  if (!eq || eq == arg || !eq[1])
    return -1;
  char *copy = xstrdup(arg); // lives until exit, like argv
  copy[eq - arg] = 0;
  *name = copy;
  *value = copy + (eq - arg) + 1;
  return 0;
}

int main(int argc, char **argv)
{
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "compile") && strcmp(cmd, "info") && strcmp(cmd, "verify") &&
      strcmp(cmd, "export"))
    return bad_usage("unknown command '%s'", cmd);
  CompileOptions opt = {0};
  VerifyOptions vopt = {1e-3, 1e-5, getenv("CC") ? getenv("CC") : "cc", 0, NULL, NULL};
  const char *out_path = NULL;
  char **positional = xcalloc((size_t)argc, sizeof(char *));
  int npos = 0;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    long long v;
    if (a[0] != '-' || !a[1]) {
      positional[npos++] = argv[i];
      continue;
    }
    static const char *const valued[] = {"-o", "--name", "--batch", "--dim", "--bind", "--arena",
                                         "--optimizer", "--trainable", "--accumulate",
                                         "--rtol", "--atol", "--cc", "--max-elements",
                                         "--max-weight-bytes", "--max-nodes", "--target",
                                         NULL};
    int takes_value = 0;
    for (const char *const *opt_name = valued; *opt_name; opt_name++)
      takes_value |= !strcmp(a, *opt_name);
    if (!takes_value && strcmp(a, "--keep") && strcmp(a, "--eval") && strcmp(a, "--train"))
      return bad_usage("unknown option '%s'", a);
    if (takes_value && !next)
      return bad_usage("option %s needs a value", a);
    if (!strcmp(a, "-o")) {
      out_path = next;
    } else if (!strcmp(a, "--name")) {
      opt.name = next;
    } else if (!strcmp(a, "--batch")) {
      if (parse_int(next, 1, INT32_MAX, &v) != 0)
        return bad_usage("--batch needs a positive integer, got '%s'", next);
      opt.batch = (int)v;
    } else if (!strcmp(a, "--dim") || !strcmp(a, "--bind")) {
      const char *name, *value;
      int is_dim = !strcmp(a, "--dim");
      if (split_binding(next, &name, &value) != 0)
        return bad_usage("expected NAME=VALUE, got '%s'", next);
      if ((is_dim ? opt.ndims : opt.nbinds) >= 16)
        return bad_usage("too many %s options (at most 16)", a);
      if (is_dim) {
        if (parse_int(value, 1, INT32_MAX, &v) != 0)
          return bad_usage("--dim needs a positive integer value, got '%s'", next);
        opt.dim_names[opt.ndims] = name;
        opt.dim_values[opt.ndims++] = v;
      } else {
        opt.bind_names[opt.nbinds] = name;
        opt.bind_files[opt.nbinds++] = value;
      }
    } else if (!strcmp(a, "--max-elements")) {
      if (parse_int(next, 1, LIMIT_ELEMENTS_CEILING, &v) != 0)
        return bad_usage("--max-elements needs an integer from 1 to 2147483647, got '%s'", next);
      opt.limits.max_elements = v;
    } else if (!strcmp(a, "--max-weight-bytes")) {
      if (parse_int(next, 1, LLONG_MAX, &v) != 0)
        return bad_usage("--max-weight-bytes needs a positive integer, got '%s'", next);
      opt.limits.max_weight_bytes = v;
    } else if (!strcmp(a, "--max-nodes")) {
      if (parse_int(next, 1, LLONG_MAX, &v) != 0)
        return bad_usage("--max-nodes needs a positive integer, got '%s'", next);
      opt.limits.max_nodes = v;
    } else if (!strcmp(a, "--rtol") || !strcmp(a, "--atol")) {
      double x;
      if (parse_double(next, &x) != 0)
        return bad_usage("tolerance must be a non-negative number, got '%s'", next);
      *(a[2] == 'r' ? &vopt.rtol : &vopt.atol) = x;
    } else if (!strcmp(a, "--arena")) {
      if (strcmp(next, "static") && strcmp(next, "caller"))
        return bad_usage("--arena is 'static' or 'caller', got '%s'", next);
      opt.arena_caller = !strcmp(next, "caller");
    } else if (!strcmp(a, "--target")) {
      if (strcmp(next, "generic") && strcmp(next, "x86-64"))
        return bad_usage("--target is 'generic' or 'x86-64', got '%s'", next);
      opt.target_x86_64 = !strcmp(next, "x86-64");
    } else if (!strcmp(a, "--cc")) {
      vopt.cc = next;
    } else if (!strcmp(a, "--keep")) {
      vopt.keep = 1;
      continue;
    } else if (!strcmp(a, "--eval")) {
      opt.eval_mode = 1;
      continue;
    } else if (!strcmp(a, "--train")) {
      opt.train.enabled = 1;
      continue;
    } else if (!strcmp(a, "--optimizer")) {
      static const char *const names[] = {"sgd", "momentum", "adam", "adamw"};
      int found = -1;
      for (int k = 0; k < 4; k++)
        if (!strcmp(next, names[k]))
          found = k;
      if (found < 0)
        return bad_usage("--optimizer is sgd, momentum, adam or adamw, got '%s'", next);
      opt.train.optimizer = found;
    } else if (!strcmp(a, "--trainable")) {
      opt.train.trainable = next;
    } else if (!strcmp(a, "--accumulate")) {
      if (parse_int(next, 1, 1 << 20, &v) != 0)
        return bad_usage("--accumulate needs a positive integer, got '%s'", next);
      opt.train.accumulate = (int)v;
    } else {
      return bad_usage("unknown option '%s'", a);
    }
    i++;
  }
  if (npos < 1)
    return bad_usage("%s needs a model file", cmd);
  int rc;
  if (!strcmp(cmd, "compile")) {
    if (npos != 1)
      return bad_usage("compile takes one model, got extra argument '%s'", positional[1]);
    rc = cmd_compile(positional[0], out_path, &opt);
  } else if (!strcmp(cmd, "info")) {
    if (npos != 1)
      return bad_usage("info takes one model, got extra argument '%s'", positional[1]);
    rc = cmd_info(positional[0], &opt);
  } else if (!strcmp(cmd, "export")) {
    if (npos != 2 || !out_path)
      return bad_usage("%s", "export needs MODEL.onnx CHECKPOINT -o OUT.onnx");
    Diag d;
    diag_init(&d, positional[0]);
    rc = onnx_export_checkpoint(&d, positional[0], positional[1], out_path) == 0 ? 0 : 1;
    if (d.text)
      fputs(d.text, stderr);
    diag_free(&d);
  } else {
    if (npos < 2)
      return bad_usage("%s needs at least one test-data folder", cmd);
    char inc[PATH_MAX], lib[PATH_MAX];
    find_runtime(&vopt, inc, lib, sizeof inc);
    rc = cmd_verify(positional[0], npos - 1, positional + 1, &opt, &vopt);
  }
  free(positional);
  return rc;
}
