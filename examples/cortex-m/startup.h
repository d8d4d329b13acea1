/*
 * startup.h - what startup.c offers a bare-metal program besides booting it:
 * the stack's high-water mark.
 *
 * The reset handler fills the whole stack region with STACK_PAINT before main
 * runs. A word that no longer holds the pattern has been written, so the
 * lowest such word is the deepest the stack has been (unless a program
 * happened to store the pattern itself there: a measurement, not a proof).
 * To measure one call, paint again just before it:
 *
 *   stack_paint();
 *   uintptr_t sp = stack_pointer();
 *   model_run(inputs, outputs);
 *   size_t used = sp - stack_low_water();   // bytes the call and its callees used
 */
#ifndef STARTUP_H
#define STARTUP_H

#include <stddef.h>
#include <stdint.h>

#define STACK_PAINT 0xC0DEFACEu

// From the linker script: the stack region, [__stack_bottom, __stack_top).
extern uint32_t __stack_bottom[], __stack_top[];

// Paints every stack word below the caller's stack pointer.
void stack_paint(void);

// The address of the lowest stack word written since it was last painted.
uintptr_t stack_low_water(void);

// The current stack pointer.
static inline uintptr_t stack_pointer(void)
{
  uintptr_t sp;
  __asm__ volatile("mov %0, sp" : "=r"(sp));
  return sp;
}

#endif // STARTUP_H
