/*
 * test.h - the few helpers every cmocka test shares: cmocka's includes in
 * the order it needs, and float-array comparison that names the first bad
 * index. Deliberately no framework of our own on top of cmocka.
 */
#ifndef TEST_H
#define TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <cmocka.h>

/* Fails the test at the first i with |got[i] - want[i]| > tol, naming i. */
static inline void assert_floats_near(const float *got, const float *want, int count,
                                      float tol)
{
  for (int i = 0; i < count; i++) {
    if (!(fabsf(got[i] - want[i]) <= tol))
      fail_msg("element %d: got %.9g, want %.9g (tolerance %g)", i, (double)got[i],
               (double)want[i], (double)tol);
  }
}

#endif /* TEST_H */
