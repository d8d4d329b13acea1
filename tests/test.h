/*
 * test.h - the few helpers every cmocka test shares: cmocka's includes in
 * the order it needs, float-array comparison that names the first bad
 * index, and the error of a float result in units in the last place. Deliberately no framework of our own on top of cmocka.
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

// |got - want| in units of the last place of want rounded to float (below
// FLT_MIN that unit is 2^-149; +-inf counts as +-2^128). NaN must meet NaN.
static inline double ulp_error(float got, double want)
{
  if (isnan(want) || isnan(got))
    return isnan(want) && isnan(got) ? 0.0 : (double)INFINITY;
  double g = isinf(got) ? copysign(0x1p128, (double)got) : (double)got;
  if (fabs(want) >= 0x1p128)
    return isinf(got) && (got > 0.0f) == (want > 0.0) ? 0.0 : (double)INFINITY;
  int e;
  frexp(want, &e); // |want| in [2^(e-1), 2^e)
  double ulp = ldexp(1.0, e - 24 < -149 ? -149 : e - 24);
  return fabs(g - want) / ulp;
}

#endif /* TEST_H */
