/*
 * fuzz_compile.c - libFuzzer harness over the ONNX reader and the whole
 * compiler front end: bytes -> model file -> compile_load() (read, bind,
 * check and fold, passes, plan) -> emit_c() into /dev/null -> free.
 *
 * The input is written to a private temporary folder as model.onnx, so the
 * reader runs exactly as on the command line (external data resolves
 * inside that folder). A compiled model is also printed by info_print()
 * (`onnxcc info`), and the same bytes are read as a TensorProto, as --bind
 * and verify's test data are. A few options follow from the input's length, so
 * the training build (--train), --eval and --arena caller get fuzzed too
 * without changing the input format: a regression file replays the same
 * way forever. The caps are smaller than the defaults so that one input
 * costs at most a few MB and a fraction of a second.
 *
 * Invariants checked beyond the sanitizers': a failure always comes with
 * at least one error message, and a success with none. No C compiler is
 * run. tests/fuzz/replay.c gives the harness a main() for `make test`.
 */
#define _XOPEN_SOURCE 700 // mkdtemp
#include "compiler.h"
#include "onnx_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64], path[96];

static void remove_temp(void)
{
  unlink(path);
  rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (!dir[0]) {
    snprintf(dir, sizeof dir, "%s", "/tmp/onnxcc-fuzz-XXXXXX");
    if (!mkdtemp(dir))
      abort();
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    atexit(remove_temp);
  }
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
    abort();

  CompileOptions opt;
  memset(&opt, 0, sizeof opt);
  opt.limits.max_elements = 1 << 18;
  opt.limits.max_weight_bytes = 4 << 20;
  opt.limits.max_nodes = 10000;
  opt.limits.max_fold_macs = 1 << 22;
  opt.train.enabled = size % 3 == 0;
  opt.train.optimizer = (int)(size / 3 % 4);
  opt.train.accumulate = 1;
  opt.eval_mode = size % 2 == 0;
  opt.arena_caller = size % 5 == 0 && !opt.train.enabled;

  Diag d;
  diag_init(&d, "model.onnx");
  Compiled c;
  int rc = compile_load(&d, path, &opt, &c);
  if (rc == 0) {
    FILE *src = fopen("/dev/null", "w"), *hdr = fopen("/dev/null", "w");
    if (!src || !hdr)
      abort();
    rc = emit_c(&d, &c, src, hdr, "model.h");
    info_print(src, &c);
    fclose(src);
    fclose(hdr);
  }
  if ((rc != 0) != (d.errors > 0)) {
    fprintf(stderr, "fuzz_compile: returned %d with %d error messages:\n%s\n", rc, d.errors,
            d.text ? d.text : "");
    abort();
  }
  compiled_free(&c);
  diag_free(&d);

  diag_init(&d, "tensor.pb");
  Tensor *t = onnx_read_tensor_file(&d, path);
  if (!t != (d.errors > 0)) {
    fprintf(stderr, "fuzz_compile: tensor %p with %d error messages\n", (void *)t, d.errors);
    abort();
  }
  tensor_free(t);
  diag_free(&d);
  return 0;
}
