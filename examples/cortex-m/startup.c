/*
 * startup.c - boots a bare-metal program on a Cortex-M3 or Cortex-M4(F):
 * the vector table and the reset handler, with no vendor SDK or OS.
 *
 * At reset the core loads its stack pointer from word 0 of the vector table
 * and jumps to word 1, Reset_Handler, which
 *   1. grants access to the FPU when the build uses it (hard float),
 *   2. copies .data's initial values from flash to RAM and zeroes .bss,
 *   3. paints the stack with STACK_PAINT, so that its high-water mark can be
 *      measured later (startup.h),
 *   4. calls main() and hands its return value to exit().
 * exit() is picolibc's; linked with `--oslib=semihost`, it ends the program
 * through semihosting, and QEMU exits with the same code. Any other exception
 * (a fault) prints its number and exits with 128 + that number.
 *
 * Not done here: clocks, caches, an interrupt controller (QEMU needs none of
 * them; a real board's SDK would), C++ constructors, thread-local storage.
 * The memory layout is mps2-an386.ld's.
 */
#include "startup.h"

#include <stdio.h>
#include <stdlib.h>

// From the linker script.
extern uint32_t __data_load[], __data_start[], __data_end[];
extern uint32_t __bss_start[], __bss_end[];

int main(void);

void Reset_Handler(void);
void Default_Handler(void);

// Weak: a program defines its own SysTick_Handler (or any other) to use it.
void NMI_Handler(void) __attribute__((weak, alias("Default_Handler")));
void HardFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void MemManage_Handler(void) __attribute__((weak, alias("Default_Handler")));
void BusFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void UsageFault_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SVC_Handler(void) __attribute__((weak, alias("Default_Handler")));
void DebugMon_Handler(void) __attribute__((weak, alias("Default_Handler")));
void PendSV_Handler(void) __attribute__((weak, alias("Default_Handler")));
void SysTick_Handler(void) __attribute__((weak, alias("Default_Handler")));

// The ARMv7-M vector table: the initial stack pointer, then the handlers of
// exceptions 1 to 15. External interrupts (16 and up) would follow; nothing
// here enables one.
typedef struct {
  uint32_t *initial_sp;
  void (*handler[15])(void);
} VectorTable;

__attribute__((section(".vectors"), used))
const VectorTable vector_table = {
  __stack_top,
  {
    Reset_Handler,      // 1
    NMI_Handler,        // 2
    HardFault_Handler,  // 3
    MemManage_Handler,  // 4
    BusFault_Handler,   // 5
    UsageFault_Handler, // 6
    0, 0, 0, 0,         // 7-10 reserved
    SVC_Handler,        // 11
    DebugMon_Handler,   // 12
    0,                  // 13 reserved
    PendSV_Handler,     // 14
    SysTick_Handler,    // 15
  },
};

void Reset_Handler(void)
{
#if defined(__ARM_FP)
  // CPACR: full access to coprocessors 10 and 11 (the FPU), before any
  // floating-point instruction runs.
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  for (uint32_t *src = __data_load, *dst = __data_start; dst < __data_end;)
    *dst++ = *src++;
  for (uint32_t *dst = __bss_start; dst < __bss_end;)
    *dst++ = 0;
  stack_paint();
  exit(main());
}

void Default_Handler(void)
{
  uint32_t ipsr;
  __asm__ volatile("mrs %0, ipsr" : "=r"(ipsr));
  printf("unexpected exception %lu\n", (unsigned long)ipsr);
  exit(128 + (int)ipsr);
}

void stack_paint(void)
{
  // Nothing below the stack pointer is live: an interrupt handler that runs
  // meanwhile pushes its frame there, but has returned before the loop goes on.
  volatile uint32_t *end = (volatile uint32_t *)stack_pointer();
  for (volatile uint32_t *p = __stack_bottom; p < end; p++)
    *p = STACK_PAINT;
}

uintptr_t stack_low_water(void)
{
  const uint32_t *p = __stack_bottom;
  while (p < __stack_top && *p == STACK_PAINT)
    p++;
  return (uintptr_t)p;
}
