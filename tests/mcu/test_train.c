/*
 * test_train.c - on-device training on a Cortex-M under QEMU: the training
 * steps of a model compiled with `onnxcc compile --train --name net`
 * against the same run in PyTorch, with the instructions and the stack of
 * each train_step().
 *
 * Built once per training case and core (the Makefile's "Cortex-M"
 * section), against net.h of the generated net.c (its own object, so that
 * the linker map shows the model's share) and case.h, written by
 * tests/train/gen_case.py from models/MODEL/data.npz and GOLDEN.npz as for
 * the host's training-parity test (tests/train/harness.c): the data of
 * CASE_STEPS batches as int8 (x = x_q / CASE_X_SCALE, exact), the labels,
 * the optimizer configuration, and PyTorch's losses, final trainable
 * weights (by ONNX initializer name) and output on batch 0 after training.
 *
 * It runs all CASE_STEPS steps and checks, with the host's tolerances:
 *   - each step returns NET_TRAIN_OK and its loss (before the update) is
 *     PyTorch's within a relative error of LOSS_RTOL;
 *   - the checkpoint (net_save, then parsed here): the step count, exactly
 *     the initializers PyTorch trained, and every trainable weight after
 *     the last step, |got - want| <= W_ATOL + W_RTOL |want|; net_load
 *     takes it back;
 *   - net_run() after training on batch 0 against PyTorch's forward of the
 *     trained model, same bound (inference sees the updated weights).
 * Each train_step() runs between two readings of the instruction counter
 * (mcu.h) with the stack painted just before it. It prints one PASS or
 * FAIL line per check; one line per step with the loss, its bits (to
 * compare cores and hosts exactly), its relative error, the instructions
 * and the stack; and a "result" line that tests/mcu/report.py reads. It
 * returns the number of failed checks (QEMU exits with it, through
 * semihosting). The float arithmetic is single precision throughout: the
 * file builds under -Wdouble-promotion like the model.
 */
#include <stdio.h>
#include <string.h>

#include "net.h"
#include "case.h"
#include "mcu.h"
#include "startup.h"

#define LOSS_RTOL 1e-4f
#define W_ATOL 1e-4f
#define W_RTOL 1e-3f
#define CHUNK 64

static float x[CASE_BATCH * CASE_SAMPLE];
static float out[NET_OUTPUT_0_SIZE];
static unsigned long instructions[CASE_STEPS];

// The checkpoint is the test's, not the model's: it lives in .workspace
// (neither loaded nor zeroed), outside the .data + .bss the report counts.
static unsigned char ckpt[NET_CHECKPOINT_BYTES] __attribute__((section(".workspace"), aligned(4)));

static void load_batch(int step)
{
  const signed char *q = case_x_q + (long)step * CASE_BATCH * CASE_SAMPLE;
  for (int i = 0; i < CASE_BATCH * CASE_SAMPLE; i++)
    x[i] = (float)q[i] / CASE_X_SCALE;
}

static uint32_t get_u32(const unsigned char *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

// Walks the checkpoint (format: runtime/kernels/checkpoint.c) and compares
// each trainable weight with PyTorch's. Returns the number of failed checks.
static int check_checkpoint(long size)
{
  const unsigned char *p = ckpt, *end = ckpt + size;
  int failed = 0, weights = 0, seen[CASE_NUM_WEIGHTS] = {0};
  float max_abs = 0.0f, max_rel = 0.0f;
  if (memcmp(p, "ONXCCKPT", 8) != 0 || get_u32(p + 8) != 1) {
    printf("FAIL %s checkpoint: not a version 1 onnxcc checkpoint\n", CASE_NAME);
    return 1;
  }
  // After magic and version: fingerprint, step count, tensor count.
  uint32_t steps = get_u32(p + 16), count = get_u32(p + 20);
  p += 24;
  for (uint32_t t = 0; t < count; t++) {
    if (end - p < 12) {
      printf("FAIL %s checkpoint: truncated at tensor %lu\n", CASE_NAME, (unsigned long)t);
      return failed + 1;
    }
    uint32_t kind = get_u32(p), len = get_u32(p + 4);
    const char *name = (const char *)p + 8;
    if ((size_t)(end - p) - 12 < len) {
      printf("FAIL %s checkpoint: truncated in tensor %lu\n", CASE_NAME, (unsigned long)t);
      return failed + 1;
    }
    p += 8 + len;
    uint32_t elements = get_u32(p);
    const unsigned char *data = p + 4;
    if ((size_t)(end - data) / 4 < elements) {
      printf("FAIL %s checkpoint: truncated in tensor %lu\n", CASE_NAME, (unsigned long)t);
      return failed + 1;
    }
    int n = (int)elements;
    p = data + 4 * (size_t)n;
    if (kind != 0)
      continue;  // optimizer state
    weights++;
    int w = 0;
    while (w < CASE_NUM_WEIGHTS && !(strlen(case_weights[w].name) == len &&
                                     !memcmp(case_weights[w].name, name, len) &&
                                     case_weights[w].count == n))
      w++;
    if (w == CASE_NUM_WEIGHTS) {
      printf("FAIL %s checkpoint: the model trains '%.*s' (%d floats), PyTorch does not\n",
             CASE_NAME, (int)len, name, n);
      failed++;
      continue;
    }
    seen[w] = 1;
    int bad = 0;
    float a = 0.0f;
    for (int i = 0; i < n; i += CHUNK) {  // a few floats at a time: no big buffer
      float got[CHUNK], chunk_abs, chunk_rel;
      int m = n - i < CHUNK ? n - i : CHUNK;
      for (int k = 0; k < m; k++) {
        uint32_t bits = get_u32(data + 4 * (i + k));
        memcpy(&got[k], &bits, sizeof bits);
      }
      bad += allclose(got, case_weights[w].want + i, m, W_RTOL, W_ATOL, &chunk_abs, &chunk_rel);
      if (chunk_abs > a)
        a = chunk_abs;
      if (chunk_rel > max_rel)
        max_rel = chunk_rel;
    }
    if (a > max_abs)
      max_abs = a;
    if (bad) {
      char abs_text[24];
      format_float(abs_text, a);
      printf("FAIL %s '%s': %d of %d values differ from PyTorch's, max abs err %s\n", CASE_NAME,
             case_weights[w].name, bad, n, abs_text);
      failed++;
    }
  }
  for (int w = 0; w < CASE_NUM_WEIGHTS; w++)
    if (!seen[w]) {
      printf("FAIL %s checkpoint: PyTorch trains '%s', the model does not\n", CASE_NAME,
             case_weights[w].name);
      failed++;
    }
  if (steps != CASE_STEPS) {
    printf("FAIL %s checkpoint: step count %lu, want %d\n", CASE_NAME, (unsigned long)steps,
           CASE_STEPS);
    failed++;
  }
  int rc = net_load(ckpt, (size_t)size);
  if (rc != 0) {
    printf("FAIL %s checkpoint: net_load returned %d\n", CASE_NAME, rc);
    failed++;
  }
  if (!failed) {
    char abs_text[24], rel_text[24];
    format_float(abs_text, max_abs);
    format_float(rel_text, max_rel);
    printf("PASS %s weights after %d steps: %d trainable tensors as PyTorch's, max abs err %s, "
           "max rel err %s (checkpoint of %ld bytes, loads back)\n",
           CASE_NAME, CASE_STEPS, weights, abs_text, rel_text, size);
  }
  return failed;
}

int main(void)
{
  int failed = 0;
  uintptr_t low_water = stack_low_water();  // lowest so far, since reset
  unsigned long train_stack = 0;

  printf("%s: %s, batch %d, %d steps\n", CASE_NAME, CASE_OPTIMIZER, NET_TRAIN_BATCH, CASE_STEPS);
  if (NET_TRAIN_BATCH != CASE_BATCH || NET_TRAIN_ACCUMULATE != 1 ||
      NET_INPUT_0_SIZE != CASE_BATCH * CASE_SAMPLE || NET_OUTPUT_0_SIZE != CASE_BATCH * CASE_CLASSES) {
    printf("FAIL %s: the compiled shapes do not fit the case\n", CASE_NAME);
    return 1;
  }

  counter_start();
  uint32_t calibration;
  if (counter_calibrate(&calibration) == 0) {
    printf("PASS counter: %lu ticks for 2000000 instructions\n", (unsigned long)calibration);
  } else {
    printf("FAIL counter: %lu ticks for 2000000 instructions, want %lu (is -icount shift=0 on?)\n",
           (unsigned long)calibration, 2000000ul / INSTRUCTIONS_PER_TICK);
    failed++;
  }

  net_train_config cfg = NET_TRAIN_DEFAULTS;
  cfg.lr = CASE_LR;
  cfg.momentum = CASE_MOMENTUM;
  cfg.dampening = CASE_DAMPENING;
  cfg.weight_decay = CASE_WEIGHT_DECAY;
  cfg.nesterov = CASE_NESTEROV;
  cfg.beta1 = CASE_BETA1;
  cfg.beta2 = CASE_BETA2;
  cfg.eps = CASE_EPS;
  cfg.clip_norm = CASE_CLIP_NORM;

  float loss_err = 0.0f;
  int loss_worst = 0, loss_bad = 0, steps_run = 0;
  for (int step = 0; step < CASE_STEPS; step++) {
    load_batch(step);
    const float *in[1] = {x};
    float loss = 0.0f;

    uintptr_t before = stack_low_water();
    if (before < low_water)
      low_water = before;
    stack_paint();
    uintptr_t sp = stack_pointer();
    uint32_t start = counter_ticks();
    int rc = net_train_step(&cfg, in, case_labels + step * CASE_BATCH, &loss);
    uint32_t ticks = counter_ticks() - start;
    uintptr_t deepest = stack_low_water();
    if (deepest < low_water)
      low_water = deepest;
    if (sp - deepest > train_stack)
      train_stack = (unsigned long)(sp - deepest);
    instructions[step] = (unsigned long)ticks * INSTRUCTIONS_PER_TICK;
    steps_run++;

    if (rc != NET_TRAIN_OK) {
      printf("FAIL %s step %d: train_step returned %d\n", CASE_NAME, step, rc);
      failed++;
      break;
    }
    float want = case_losses[step];
    float err = loss > want ? loss - want : want - loss;
    float rel = err / (want < 0.0f ? -want : want);
    char got_text[24], rel_text[24];
    format_float(got_text, loss);
    format_float(rel_text, rel);
    uint32_t bits;
    memcpy(&bits, &loss, sizeof bits);
    printf("     %s step %2d: loss %s (bits 0x%08lx), relative error %s, %lu instructions, "
           "%lu bytes of stack\n", CASE_NAME, step, got_text, (unsigned long)bits, rel_text,
           instructions[step], (unsigned long)(sp - deepest));
    if (!(rel <= LOSS_RTOL))
      loss_bad++;
    if (rel > loss_err || rel != rel) {
      loss_err = rel;
      loss_worst = step;
    }
  }
  char err_text[24];
  format_float(err_text, loss_err);
  printf("%s %s losses: %d of %d steps within relative %s of PyTorch's, max relative error %s "
         "(step %d)\n", loss_bad || steps_run < CASE_STEPS ? "FAIL" : "PASS", CASE_NAME,
         steps_run - loss_bad, CASE_STEPS, "1e-4", err_text, loss_worst);
  failed += loss_bad != 0 || steps_run < CASE_STEPS;

  long size = net_save(ckpt, sizeof ckpt);
  if (size < 28) {
    printf("FAIL %s checkpoint: net_save returned %ld\n", CASE_NAME, size);
    failed++;
  } else {
    failed += check_checkpoint(size);
  }

  // Inference after training: the first batch, against PyTorch's trained model.
  load_batch(0);
  const float *in[1] = {x};
  float *outs[1] = {out};
  int rc = net_run(in, outs);
  float max_abs, max_rel;
  int bad = allclose(out, case_probe, NET_OUTPUT_0_SIZE, W_RTOL, W_ATOL, &max_abs, &max_rel);
  char abs_text[24], rel_text[24];
  format_float(abs_text, max_abs);
  format_float(rel_text, max_rel);
  printf("%s %s run after training: %d of %d outputs differ, max abs err %s, max rel err %s\n",
         bad || rc ? "FAIL" : "PASS", CASE_NAME, bad, NET_OUTPUT_0_SIZE, abs_text, rel_text);
  failed += bad != 0 || rc != 0;

  uintptr_t after = stack_low_water();
  if (after < low_water)
    low_water = after;
  if (low_water <= (uintptr_t)__stack_bottom) {
    printf("FAIL %s: the stack overflowed its %lu bytes\n", CASE_NAME,
           (unsigned long)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom));
    failed++;
  }
  printf("result model=%s instructions=", CASE_NAME);
  for (int s = 0; s < steps_run; s++)
    printf("%s%lu", s > 0 ? "," : "", instructions[s]);
  printf(" train_stack=%lu stack_peak=%lu failed=%d\n", train_stack,
         (unsigned long)((uintptr_t)__stack_top - low_water), failed);
  return failed;
}
