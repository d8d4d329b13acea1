/*
 * mcu.h - helpers shared by the Cortex-M test programs: an instruction
 * counter, numpy.allclose, and printing a float without double arithmetic.
 *
 * The counter is timer 0 of the MPS2 boards (a CMSDK APB timer, 32 bits,
 * counting down at the 25 MHz system clock). Under `qemu -icount shift=0`
 * QEMU advances virtual time by exactly 1 ns per executed instruction, so
 * one timer tick is 40 instructions: counter_instructions() counts
 * instructions, not cycles, to a resolution of 40, and is the same on every
 * run. counter_calibrate() checks that relation on a loop of known length.
 * A 32-bit timer needs no interrupt: a program may run 2^32 ticks (171
 * billion instructions) between two readings.
 */
#ifndef MCU_H
#define MCU_H

#include <stdint.h>

#define INSTRUCTIONS_PER_TICK 40u

// Starts timer 0, free-running from 2^32 - 1 down.
void counter_start(void);

// Timer ticks since counter_start(), modulo 2^32.
uint32_t counter_ticks(void);

// Times a loop of 2 * 10^6 instructions (a subs and a bne per iteration)
// and returns 0 if it took 2 * 10^6 / INSTRUCTIONS_PER_TICK ticks, give or
// take one, else -1 (QEMU without -icount shift=0, or another clock).
// *ticks receives the ticks measured.
int counter_calibrate(uint32_t *ticks);

// Compares got with want as numpy.allclose does: |got - want| <= atol +
// rtol * |want|, NaN equal to NaN. Returns the number of values that differ;
// *max_abs and *max_rel receive the largest absolute and relative errors
// (relative to |want|, 0 where want is 0).
int allclose(const float *got, const float *want, int count, float rtol, float atol,
             float *max_abs, float *max_rel);

// Writes x as "d.dde+XX" (3 significant digits) into buf, using only float
// arithmetic (printf's %e would pull in double-precision code).
void format_float(char buf[24], float x);

#endif // MCU_H
