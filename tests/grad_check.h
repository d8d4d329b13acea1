/*
 * grad_check.h - central-difference gradient check for backward kernels
 * (kann's kad_check_grad, llm.c's gradient checks).
 *
 * A kernel under test is wrapped as two callbacks over a test-owned
 * context: forward(ctx, out) computes the outputs from the current inputs,
 * backward(ctx, dout) accumulates the analytic gradients into the test's
 * gradient buffers. The scalar loss is L = sum_i r[i] * out[i] for a fixed
 * pseudo-random projection r in [-1, 1], so dL/dout = r, and
 *   analytic   = backward with dout = r
 *   numeric[j] = (L(x_j + eps) - L(x_j - eps)) / (2 eps)
 * L is summed in double so that rounding in the sum does not swamp the
 * difference; the outputs themselves are float.
 *
 * Every check also proves the accumulate contract: each gradient buffer is
 * pre-filled with a known pattern and the pattern is subtracted afterwards,
 * so a kernel that writes (=) instead of adding (+=) fails. It also checks
 * that the backward leaves dout (r) untouched.
 *
 * An element passes when |analytic - numeric| <= abs_tol + rel_tol *
 * |numeric|; the first failing element is reported with both values.
 * Inputs are perturbed in place and restored exactly.
 */
#ifndef GRAD_CHECK_H
#define GRAD_CHECK_H

#include "test.h"

enum { GC_MAX_INPUTS = 4, GC_MAX_OUT = 1 << 14 };

typedef struct {
  const char *name; /* for messages, e.g. "dw" */
  float *x;         /* the input, perturbed in place */
  float *dx;        /* its gradient buffer, (count) */
  int count;
} gc_input;

typedef struct {
  void (*forward)(void *ctx, float *out);
  void (*backward)(void *ctx, const float *dout);
  void *ctx;
  int out_count;
  gc_input in[GC_MAX_INPUTS];
  int nin;
  float eps;     /* 0: 1e-3 */
  float abs_tol; /* 0: 1e-3 */
  float rel_tol; /* 0: 1e-2 */
} grad_check_case;

static float gc_out[GC_MAX_OUT];
static float gc_r[GC_MAX_OUT];

/* Deterministic uniform values in [lo, hi): a 32-bit LCG, seeded per use. */
static inline float gc_uniform(uint32_t *seed, float lo, float hi)
{
  *seed = *seed * 1664525u + 1013904223u;
  return lo + (hi - lo) * (float)(*seed >> 8) / 16777216.0f;
}

static inline void gc_fill_uniform(float *x, int count, uint32_t seed, float lo, float hi)
{
  for (int i = 0; i < count; i++)
    x[i] = gc_uniform(&seed, lo, hi);
}

/* The accumulate pattern a gradient buffer starts from. */
static inline float gc_prefill(int i)
{
  return 0.25f * (float)(i % 7) - 0.75f;
}

static inline double gc_loss(const grad_check_case *c)
{
  c->forward(c->ctx, gc_out);
  double l = 0.0;
  for (int i = 0; i < c->out_count; i++)
    l += (double)gc_r[i] * (double)gc_out[i];
  return l;
}

static inline void grad_check(const grad_check_case *c)
{
  float eps = c->eps > 0.0f ? c->eps : 1e-3f;
  float abs_tol = c->abs_tol > 0.0f ? c->abs_tol : 1e-3f;
  float rel_tol = c->rel_tol > 0.0f ? c->rel_tol : 1e-2f;
  assert_true(c->out_count <= GC_MAX_OUT);

  gc_fill_uniform(gc_r, c->out_count, 12345u, -1.0f, 1.0f);
  for (int k = 0; k < c->nin; k++)
    for (int i = 0; i < c->in[k].count; i++)
      c->in[k].dx[i] = gc_prefill(i);
  c->backward(c->ctx, gc_r);
  uint32_t seed = 12345u;
  for (int i = 0; i < c->out_count; i++)
    if (gc_r[i] != gc_uniform(&seed, -1.0f, 1.0f))
      fail_msg("backward modified dout[%d]", i);

  for (int k = 0; k < c->nin; k++) {
    const gc_input *in = &c->in[k];
    for (int i = 0; i < in->count; i++) {
      float saved = in->x[i];
      in->x[i] = saved + eps;
      double lp = gc_loss(c);
      in->x[i] = saved - eps;
      double lm = gc_loss(c);
      in->x[i] = saved;
      // The step actually taken: saved +- eps rounded to float.
      double h = (double)(saved + eps) - (double)(saved - eps);
      double numeric = (lp - lm) / h;
      double analytic = (double)in->dx[i] - (double)gc_prefill(i);
      if (!(fabs(analytic - numeric) <= (double)abs_tol + (double)rel_tol * fabs(numeric)))
        fail_msg("%s[%d] (x = %.6g): analytic %.7g, numeric %.7g (tolerance %g + %g*|numeric|)",
                 in->name, i, (double)saved, analytic, numeric, (double)abs_tol,
                 (double)rel_tol);
    }
  }
}

#endif /* GRAD_CHECK_H */
