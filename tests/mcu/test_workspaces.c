/*
 * test_workspaces.c - two instances of one model, each with its own
 * workspace, one interrupting the other in the middle of an inference.
 *
 * The model (MODEL_HEADER, MODEL_RUN, WORKSPACE_BYTES, WORKSPACE_ALIGN) is
 * compiled with `onnxcc compile --arena caller`: it then has no RAM of its
 * own, and everything run() writes besides its outputs is in the workspace
 * the caller passes. The two workspaces live in the .workspace section of
 * the linker script (a RAM region the application chooses).
 *
 * Instance B runs in main() on golden set 1. SysTick interrupts it after a
 * chosen number of ticks, and the handler runs instance A on set 0 to
 * completion, as a higher-priority task would; then B resumes. Both outputs
 * must match PyTorch's. This is done for interrupts at 1/4, 2/4 and 3/4 of
 * B's inference. On the M4F the handler's floating-point registers are
 * saved and restored by the core (lazy stacking), which this exercises too.
 *
 * The control: the same with both instances given the same workspace. B's
 * output must then be wrong, which shows that the interrupt really lands
 * inside run() and that the comparison would catch shared state (a model
 * compiled with the default --arena static shares its arena the same way).
 */
#include <stdio.h>

#include MODEL_HEADER
#include GOLDEN_HEADER
#include "mcu.h"
#include "startup.h"

#define RTOL 1e-3f
#define ATOL 1e-5f

// SysTick, the core's 24-bit timer; counts the same 25 MHz clock as timer 0.
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

extern unsigned char __workspace_start[], __workspace_end[];

static unsigned char workspace_a[WORKSPACE_BYTES]
    __attribute__((section(".workspace"), aligned(WORKSPACE_ALIGN)));
static unsigned char workspace_b[WORKSPACE_BYTES]
    __attribute__((section(".workspace"), aligned(WORKSPACE_ALIGN)));

static float got_a[GOLDEN_NUM_OUTPUTS][GOLDEN_MAX_OUTPUT_SIZE];
static float got_b[GOLDEN_NUM_OUTPUTS][GOLDEN_MAX_OUTPUT_SIZE];

// Shared between main() and the interrupt handler.
static void *volatile interrupt_workspace;
static volatile int interrupt_runs, interrupted_inside, b_inside;

// Instance A: one inference on set 0 from the SysTick interrupt.
void SysTick_Handler(void)
{
  float *outputs[GOLDEN_NUM_OUTPUTS];
  SYST_CSR = 0;  // once
  for (int k = 0; k < GOLDEN_NUM_OUTPUTS; k++)
    outputs[k] = got_a[k];
  interrupted_inside = b_inside;
  MODEL_RUN(interrupt_workspace, golden_inputs[0], outputs);
  interrupt_runs++;
}

// Instance B: one inference on set 1 in main(), with instance A interrupting
// it after `delay` ticks (0: no interrupt). Returns its timer ticks.
static uint32_t run_b(void *workspace, uint32_t delay)
{
  float *outputs[GOLDEN_NUM_OUTPUTS];
  for (int k = 0; k < GOLDEN_NUM_OUTPUTS; k++) {
    outputs[k] = got_b[k];
    for (int i = 0; i < GOLDEN_MAX_OUTPUT_SIZE; i++)
      got_a[k][i] = got_b[k][i] = -12345.0f;
  }
  interrupt_runs = 0;
  interrupted_inside = 0;
  if (delay > 0) {
    SYST_RVR = delay < 0xFFFFFFu ? delay : 0xFFFFFFu;
    SYST_CVR = 0;
    SYST_CSR = 7;  // enable, interrupt, processor clock
  }
  uint32_t start = counter_ticks();
  b_inside = 1;
  MODEL_RUN(workspace, golden_inputs[1], outputs);
  b_inside = 0;
  uint32_t ticks = counter_ticks() - start;
  SYST_CSR = 0;
  return ticks;
}

// Compares got[k] with set `set`'s outputs; returns the number of outputs that differ.
static int compare(float got[][GOLDEN_MAX_OUTPUT_SIZE], int set)
{
  int bad_outputs = 0;
  for (int k = 0; k < GOLDEN_NUM_OUTPUTS; k++) {
    float max_abs, max_rel;
    bad_outputs += allclose(got[k], golden_outputs[set][k], golden_output_sizes[k], RTOL,
                            ATOL, &max_abs, &max_rel) != 0;
  }
  return bad_outputs;
}

static int check(int ok, const char *what)
{
  printf("%s workspaces: %s\n", ok ? "PASS" : "FAIL", what);
  return !ok;
}

int main(void)
{
  int failed = 0;
  char what[120];
  counter_start();

  int in_section = (unsigned char *)workspace_a >= __workspace_start &&
                   (unsigned char *)workspace_b + WORKSPACE_BYTES <= __workspace_end;
  snprintf(what, sizeof what, "two workspaces of %d bytes at 0x%08lx and 0x%08lx in .workspace",
           WORKSPACE_BYTES, (unsigned long)(uintptr_t)workspace_a,
           (unsigned long)(uintptr_t)workspace_b);
  failed += check(in_section, what);

  uint32_t alone = run_b(workspace_b, 0);
  snprintf(what, sizeof what, "instance B alone on set 1 (%lu instructions)",
           (unsigned long)alone * INSTRUCTIONS_PER_TICK);
  failed += check(compare(got_b, 1) == 0, what);

  for (int quarter = 1; quarter <= 3; quarter++) {
    interrupt_workspace = workspace_a;
    uint32_t delay = alone / 4u * (uint32_t)quarter;
    run_b(workspace_b, delay);
    snprintf(what, sizeof what, "A (set 0) interrupts B (set 1) at %d/4 of its run: A %s, B %s",
             quarter, compare(got_a, 0) == 0 ? "matches" : "DIFFERS",
             compare(got_b, 1) == 0 ? "matches" : "DIFFERS");
    failed += check(interrupt_runs == 1 && interrupted_inside && compare(got_a, 0) == 0 &&
                        compare(got_b, 1) == 0,
                    what);
  }

  interrupt_workspace = workspace_b;
  run_b(workspace_b, alone / 2u);
  snprintf(what, sizeof what, "control, one workspace shared, A interrupts B at 2/4: B %s",
           compare(got_b, 1) == 0 ? "matches (the test cannot see sharing)" : "differs, as it must");
  failed += check(interrupt_runs == 1 && interrupted_inside && compare(got_b, 1) != 0, what);

  printf("result model=%s workspace_bytes=%d failed=%d\n", GOLDEN_NAME, WORKSPACE_BYTES, failed);
  return failed;
}
