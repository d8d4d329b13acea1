/*
 * mcu.c - the helpers of mcu.h: instruction counter, allclose, format_float.
 */
#include "mcu.h"

#include <stdio.h>

// CMSDK APB timer 0 of the MPS2 boards (AN385, AN386).
#define TIMER0_CTRL (*(volatile uint32_t *)0x40000000u)
#define TIMER0_VALUE (*(volatile uint32_t *)0x40000004u)
#define TIMER0_RELOAD (*(volatile uint32_t *)0x40000008u)

void counter_start(void)
{
  TIMER0_CTRL = 0;
  TIMER0_RELOAD = 0xFFFFFFFFu;
  TIMER0_VALUE = 0xFFFFFFFFu;
  TIMER0_CTRL = 1;  // enable; no interrupt, system clock
}

uint32_t counter_ticks(void)
{
  return 0xFFFFFFFFu - TIMER0_VALUE;
}

int counter_calibrate(uint32_t *ticks)
{
  const uint32_t iterations = 1000000u;
  uint32_t n = iterations;
  uint32_t start = counter_ticks();
  __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(n) : : "cc");
  *ticks = counter_ticks() - start;
  uint32_t want = 2u * iterations / INSTRUCTIONS_PER_TICK;
  return *ticks + 1u >= want && *ticks <= want + 1u ? 0 : -1;
}

int allclose(const float *got, const float *want, int count, float rtol, float atol,
             float *max_abs, float *max_rel)
{
  int bad = 0;
  *max_abs = 0.0f;
  *max_rel = 0.0f;
  for (int i = 0; i < count; i++) {
    float g = got[i], w = want[i];
    if (g != g || w != w) {  // NaN
      bad += (g != g) != (w != w);
      continue;
    }
    float err = g > w ? g - w : w - g;
    float mag = w < 0.0f ? -w : w;
    if (err > *max_abs)
      *max_abs = err;
    if (mag > 0.0f && err / mag > *max_rel)
      *max_rel = err / mag;
    bad += !(err <= atol + rtol * mag);
  }
  return bad;
}

void format_float(char buf[24], float x)
{
  char *p = buf;
  if (x != x) {
    snprintf(buf, 24, "nan");
    return;
  }
  if (x < 0.0f) {
    *p++ = '-';
    x = -x;
  }
  if (x > 3.4e38f) {
    snprintf(p, 8, "inf");
    return;
  }
  int e = 0;
  if (x != 0.0f) {
    while (x >= 10.0f) {
      x /= 10.0f;
      e++;
    }
    while (x < 1.0f) {
      x *= 10.0f;
      e--;
    }
  }
  unsigned digits = (unsigned)(x * 100.0f + 0.5f);  // 100..1000
  if (digits >= 1000u) {
    digits /= 10u;
    e++;
  }
  unsigned exponent = (unsigned)(e < 0 ? -e : e);  // at most 45
  *p++ = (char)('0' + digits / 100u);
  *p++ = '.';
  *p++ = (char)('0' + digits / 10u % 10u);
  *p++ = (char)('0' + digits % 10u);
  *p++ = 'e';
  *p++ = e < 0 ? '-' : '+';
  *p++ = (char)('0' + exponent / 10u);
  *p++ = (char)('0' + exponent % 10u);
  *p = '\0';
}
