/*
 * replay.c - runs the fuzz harness (fuzz_compile.c) once per file named on
 * the command line, without libFuzzer: `make test` replays every
 * regression in tests/fuzz/regressions/ this way (under valgrind when it
 * is installed, and under ASan/UBSan in `make test-sanitize`). A crash,
 * a sanitizer report or an abort() of the harness fails the run.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
  for (int i = 1; i < argc; i++) {
    FILE *f = fopen(argv[i], "rb");
    if (!f) {
      fprintf(stderr, "replay: cannot open %s\n", argv[i]);
      return 1;
    }
    size_t cap = 1 << 16, n = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0)
      if ((n += got) == cap)
        buf = realloc(buf, cap *= 2);
    fclose(f);
    if (!buf)
      return 1;
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
  }
  printf("fuzz-regressions: %d passed, 0 failed\n", argc - 1);
  return 0;
}
