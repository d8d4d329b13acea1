/*
 * test_model.c - one onnxcc-generated model on a Cortex-M under QEMU,
 * checked against PyTorch's goldens, with its instruction count and stack.
 *
 * Built once per model and core (the Makefile's "Cortex-M" section):
 *   -DMODEL_HEADER='"NAME.h"' -DMODEL_RUN=NAME_run -DGOLDEN_HEADER='"NAME_golden.h"'
 * where NAME.c comes from `onnxcc compile` and NAME_golden.h from goldens.py.
 *
 * For each golden data set it paints the stack, runs the model once between
 * two readings of the instruction counter (mcu.h), scans the stack, and
 * compares every output as numpy.allclose(rtol=1e-3, atol=1e-5) does: the
 * M4F build contracts multiply-adds into fused ones and picolibc's expf,
 * tanhf, ... are not glibc's, so the bits differ from PyTorch's a little.
 * It prints one PASS or FAIL line per check, then one "result" line of
 * key=value pairs that tests/mcu/report.py reads, and returns the number of
 * failed checks (QEMU exits with it, through semihosting).
 */
#include <stdio.h>

#include MODEL_HEADER
#include GOLDEN_HEADER
#include "mcu.h"
#include "startup.h"

#define RTOL 1e-3f
#define ATOL 1e-5f

static float got[GOLDEN_NUM_OUTPUTS][GOLDEN_MAX_OUTPUT_SIZE];

int main(void)
{
  float *outputs[GOLDEN_NUM_OUTPUTS];
  int failed = 0;
  unsigned long instructions[GOLDEN_NUM_SETS];
  unsigned long run_stack = 0;
  uintptr_t low_water = stack_low_water();  // lowest so far, since reset

  for (int k = 0; k < GOLDEN_NUM_OUTPUTS; k++)
    outputs[k] = got[k];

  counter_start();
  uint32_t calibration;
  if (counter_calibrate(&calibration) == 0) {
    printf("PASS counter: %lu ticks for 2000000 instructions\n", (unsigned long)calibration);
  } else {
    printf("FAIL counter: %lu ticks for 2000000 instructions, want %lu (is -icount shift=0 on?)\n",
           (unsigned long)calibration, 2000000ul / INSTRUCTIONS_PER_TICK);
    failed++;
  }

  for (int s = 0; s < GOLDEN_NUM_SETS; s++) {
    for (int k = 0; k < GOLDEN_NUM_OUTPUTS; k++)
      for (int i = 0; i < GOLDEN_MAX_OUTPUT_SIZE; i++)
        got[k][i] = -12345.0f;

    uintptr_t before = stack_low_water();
    if (before < low_water)
      low_water = before;
    stack_paint();
    uintptr_t sp = stack_pointer();
    uint32_t start = counter_ticks();
    int rc = MODEL_RUN(golden_inputs[s], outputs);
    uint32_t ticks = counter_ticks() - start;
    uintptr_t deepest = stack_low_water();
    if (deepest < low_water)
      low_water = deepest;

    instructions[s] = (unsigned long)ticks * INSTRUCTIONS_PER_TICK;
    if (sp - deepest > run_stack)
      run_stack = (unsigned long)(sp - deepest);
    if (rc != 0) {
      printf("FAIL %s set %d: run returned %d\n", GOLDEN_NAME, s, rc);
      failed++;
    }
    for (int k = 0; k < GOLDEN_NUM_OUTPUTS; k++) {
      float max_abs, max_rel;
      int bad = allclose(got[k], golden_outputs[s][k], golden_output_sizes[k], RTOL, ATOL,
                         &max_abs, &max_rel);
      char abs_text[24], rel_text[24];
      format_float(abs_text, max_abs);
      format_float(rel_text, max_rel);
      printf("%s %s set %d output %d: %d values, %d differ, max abs err %s, max rel err %s\n",
             bad ? "FAIL" : "PASS", GOLDEN_NAME, s, k, golden_output_sizes[k], bad, abs_text,
             rel_text);
      failed += bad != 0;
    }
    printf("     %s set %d: %lu instructions, %lu bytes of stack\n", GOLDEN_NAME, s,
           instructions[s], (unsigned long)(sp - deepest));
  }

  uintptr_t after = stack_low_water();
  if (after < low_water)
    low_water = after;
  // A stack that reached its last word has most likely overflowed.
  if (low_water <= (uintptr_t)__stack_bottom) {
    printf("FAIL %s: the stack overflowed its %lu bytes\n", GOLDEN_NAME,
           (unsigned long)((uintptr_t)__stack_top - (uintptr_t)__stack_bottom));
    failed++;
  }
  printf("result model=%s instructions=", GOLDEN_NAME);
  for (int s = 0; s < GOLDEN_NUM_SETS; s++)
    printf("%s%lu", s > 0 ? "," : "", instructions[s]);
  printf(" run_stack=%lu stack_peak=%lu failed=%d\n", run_stack,
         (unsigned long)((uintptr_t)__stack_top - low_water), failed);
  return failed;
}
