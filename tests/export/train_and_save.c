/*
 * train_and_save.c - the device side of the export round trip: train the
 * compiled digits model a few steps on fixed pseudo-random data, save a
 * checkpoint file atomically, and write run()'s output on a probe input.
 * It also checks that loading a corrupted or truncated checkpoint is
 * refused and leaves the weights untouched, and that a good one restores
 * the trained state exactly.
 * usage: train_and_save CHECKPOINT PROBE_OUT
 */
#include <stdio.h>
#include <string.h>

#include "digits.h"
#include "nn.h"
#include "nn_host.h"

static unsigned state = 12345u;

static float uniform(void)
{
  state = state * 1664525u + 1013904223u;
  return (float)(state >> 8) / 16777216.0f;
}

static int run_probe(float *out)
{
  static float probe[DIGITS_INPUT_0_SIZE];
  for (int i = 0; i < DIGITS_INPUT_0_SIZE; i++)
    probe[i] = (float)(i % 7) / 7.0f;
  const float *in[1] = {probe};
  float *outs[1] = {out};
  return digits_run(in, outs);
}

int main(int argc, char **argv)
{
  if (argc != 3)
    return 2;
  static float x[DIGITS_INPUT_0_SIZE];
  int32_t labels[DIGITS_TRAIN_BATCH];
  digits_train_config cfg = DIGITS_TRAIN_DEFAULTS;
  cfg.lr = 0.05f;
  for (int step = 0; step < 10; step++) {
    for (int i = 0; i < DIGITS_INPUT_0_SIZE; i++)
      x[i] = uniform();
    for (int b = 0; b < DIGITS_TRAIN_BATCH; b++)
      labels[b] = (int32_t)(uniform() * 10.0f) % 10;
    const float *in[1] = {x};
    float loss;
    if (digits_train_step(&cfg, in, labels, &loss) != DIGITS_TRAIN_OK)
      return 3;
  }
  static unsigned char ckpt[DIGITS_CHECKPOINT_BYTES];
  if (digits_save(ckpt, sizeof ckpt) != DIGITS_CHECKPOINT_BYTES)
    return 4;
  if (nn_write_file_atomic(argv[1], ckpt, sizeof ckpt) != 0)
    return 5;
  float before[DIGITS_OUTPUT_0_SIZE], after[DIGITS_OUTPUT_0_SIZE];
  run_probe(before);
  // Refusals leave the weights as they are.
  static unsigned char bad[DIGITS_CHECKPOINT_BYTES];
  memcpy(bad, ckpt, sizeof bad);
  bad[sizeof bad / 2] ^= 1;
  if (digits_load(bad, sizeof bad) != NN_CKPT_ECORRUPT || digits_load(ckpt, sizeof ckpt - 3) >= 0)
    return 6;
  run_probe(after);
  if (memcmp(before, after, sizeof before) != 0)
    return 7;
  // One more step changes the weights; loading the checkpoint restores them.
  const float *in[1] = {x};
  float loss;
  digits_train_step(&cfg, in, labels, &loss);
  if (digits_load(ckpt, sizeof ckpt) != 0)
    return 8;
  run_probe(after);
  if (memcmp(before, after, sizeof before) != 0)
    return 9;
  FILE *f = fopen(argv[2], "wb");
  if (!f || fwrite(before, sizeof before, 1, f) != 1)
    return 10;
  fclose(f);
  return 0;
}
