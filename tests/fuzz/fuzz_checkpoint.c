/*
 * fuzz_checkpoint.c - libFuzzer harness for checkpoint loading
 * (nn_ckpt_load, what NAME_load() calls on bytes from flash or a file).
 *
 * The first input byte picks how the rest is used: raw (the bytes are the
 * checkpoint), or derived (a valid checkpoint is built from the bytes'
 * values and then damaged at a position and with a value the bytes also
 * choose), so the fuzzer reaches the deep checks without learning the
 * format first. Two invariants abort: a refused load must leave every
 * tensor and the step count untouched, and an accepted one must save back
 * to exactly the bytes it read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FINGERPRINT 0x5eedf00du

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  float w[6], b[3], m[6];
  nn_ckpt_tensor tensors[3] = {{"fc.weight", 0, w, 6}, {"fc.bias", 0, b, 3}, {"m_fc.weight", 1, m, 6}};
  unsigned char buf[512];
  const unsigned char *input = data + 1;
  size_t len = size ? size - 1 : 0;
  if (size > 0 && data[0] % 2 == 0) { // derived: valid, then damaged
    for (int i = 0; i < 6; i++)
      w[i] = m[i] = (float)(i < (int)len ? data[1 + i] : i);
    for (int i = 0; i < 3; i++)
      b[i] = (float)i;
    long n = nn_ckpt_save(buf, sizeof buf, FINGERPRINT, 7, tensors, 3);
    if (n < 0)
      abort();
    if (len >= 3) { // position, value, and how much to keep
      buf[data[1] % (size_t)n] ^= data[2];
      n -= data[3] % 4 == 0 ? data[3] % (n + 1) : 0;
    }
    input = buf;
    len = (size_t)n;
  }
  for (int i = 0; i < 6; i++)
    w[i] = m[i] = -1.0f;
  for (int i = 0; i < 3; i++)
    b[i] = -1.0f;
  uint32_t steps = 12345;
  int rc = nn_ckpt_load(input, len, FINGERPRINT, &steps, tensors, 3);
  if (rc != 0) {
    for (int i = 0; i < 6; i++)
      if (w[i] != -1.0f || m[i] != -1.0f)
        abort();
    for (int i = 0; i < 3; i++)
      if (b[i] != -1.0f)
        abort();
    if (steps != 12345)
      abort();
    return 0;
  }
  unsigned char again[512];
  long n = nn_ckpt_save(again, sizeof again, FINGERPRINT, steps, tensors, 3);
  if (n != (long)len || memcmp(again, input, len) != 0)
    abort();
  return 0;
}
