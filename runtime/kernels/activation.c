/*
 * activation.c - elementwise unary functions (Relu, Sigmoid, Exp, Round, ...),
 * also used as the fused activation at the end of Gemm and Conv.
 *
 * Key idea: the switch on the activation kind sits outside the loops, so
 * every case is a simple loop over count elements that the compiler can
 * optimise on its own. Functions that overflow when written naively
 * (sigmoid, softplus) use the forms that stay finite for any |x|.
 *
 * NaN inputs give NaN wherever the formula propagates it: comparisons are
 * written so that a NaN x falls through to the branch that returns x.
 *
 * Deliberately not here: anything with more than one tensor input (see
 * binary.c), and any approximation of libm (expf, tanhf, erff are used as is).
 */
#include "nn.h"

#include <math.h>

// min(max(v, lo), hi), in that order, as ONNX Clip defines it: if lo > hi
// the result is hi. A NaN v stays NaN.
static float clampf(float v, float lo, float hi)
{
  if (v < lo)
    v = lo;
  if (v > hi)
    v = hi;
  return v;
}

// 1 / (1 + exp(-x)) without overflow: exp is only taken of a value <= 0.
static float sigmoidf(float x)
{
  if (x >= 0.0f)
    return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

// log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)); exact to float for
// large x, where the second term underflows to 0.
static float softplusf(float x)
{
  float pos = x > 0.0f ? x : 0.0f;
  return pos + log1pf(expf(-fabsf(x)));
}

void nn_act_forward(float *y, const float *x, int count, nn_act act,
                    float alpha, float beta)
{
  int i;
  switch (act) {
  case NN_ACT_NONE:
    if (y != x)
      for (i = 0; i < count; i++)
        y[i] = x[i];
    break;
  case NN_ACT_RELU:
    for (i = 0; i < count; i++)
      y[i] = x[i] < 0.0f ? 0.0f : x[i];
    break;
  case NN_ACT_LEAKY_RELU:
    for (i = 0; i < count; i++)
      y[i] = x[i] < 0.0f ? alpha * x[i] : x[i];
    break;
  case NN_ACT_ELU:
    for (i = 0; i < count; i++)
      y[i] = x[i] < 0.0f ? alpha * expm1f(x[i]) : x[i];
    break;
  case NN_ACT_SELU:
    for (i = 0; i < count; i++)
      y[i] = beta * (x[i] <= 0.0f ? alpha * expm1f(x[i]) : x[i]);
    break;
  case NN_ACT_CELU:
    for (i = 0; i < count; i++)
      y[i] = x[i] < 0.0f ? alpha * expm1f(x[i] / alpha) : x[i];
    break;
  case NN_ACT_SIGMOID:
    for (i = 0; i < count; i++)
      y[i] = sigmoidf(x[i]);
    break;
  case NN_ACT_HARD_SIGMOID:
    for (i = 0; i < count; i++)
      y[i] = clampf(alpha * x[i] + beta, 0.0f, 1.0f);
    break;
  case NN_ACT_TANH:
    for (i = 0; i < count; i++)
      y[i] = tanhf(x[i]);
    break;
  case NN_ACT_SOFTPLUS:
    for (i = 0; i < count; i++)
      y[i] = softplusf(x[i]);
    break;
  case NN_ACT_SOFTSIGN:
    for (i = 0; i < count; i++)
      y[i] = x[i] / (1.0f + fabsf(x[i]));
    break;
  case NN_ACT_HARD_SWISH:
    for (i = 0; i < count; i++)
      y[i] = x[i] * clampf(x[i] / 6.0f + 0.5f, 0.0f, 1.0f);
    break;
  case NN_ACT_THRESHOLDED_RELU:
    for (i = 0; i < count; i++)
      y[i] = x[i] > alpha ? x[i] : 0.0f;
    break;
  case NN_ACT_CLIP:
    for (i = 0; i < count; i++)
      y[i] = clampf(x[i], alpha, beta);
    break;
  case NN_ACT_ABS:
    for (i = 0; i < count; i++)
      y[i] = fabsf(x[i]);
    break;
  case NN_ACT_NEG:
    for (i = 0; i < count; i++)
      y[i] = -x[i];
    break;
  case NN_ACT_EXP:
    for (i = 0; i < count; i++)
      y[i] = expf(x[i]);
    break;
  case NN_ACT_LOG:
    for (i = 0; i < count; i++)
      y[i] = logf(x[i]);
    break;
  case NN_ACT_SQRT:
    for (i = 0; i < count; i++)
      y[i] = sqrtf(x[i]);
    break;
  case NN_ACT_ERF:
    for (i = 0; i < count; i++)
      y[i] = erff(x[i]);
    break;
  case NN_ACT_RECIPROCAL:
    for (i = 0; i < count; i++)
      y[i] = 1.0f / x[i];
    break;
  case NN_ACT_FLOOR:
    for (i = 0; i < count; i++)
      y[i] = floorf(x[i]);
    break;
  case NN_ACT_CEIL:
    for (i = 0; i < count; i++)
      y[i] = ceilf(x[i]);
    break;
  case NN_ACT_SIN:
    for (i = 0; i < count; i++)
      y[i] = sinf(x[i]);
    break;
  case NN_ACT_COS:
    for (i = 0; i < count; i++)
      y[i] = cosf(x[i]);
    break;
  case NN_ACT_SIGN:
    // 0, -0 and NaN map to themselves.
    for (i = 0; i < count; i++)
      y[i] = x[i] > 0.0f ? 1.0f : x[i] < 0.0f ? -1.0f : x[i];
    break;
  case NN_ACT_ROUND:
    // rintf rounds half to even under the default rounding mode, which the
    // runtime never changes.
    for (i = 0; i < count; i++)
      y[i] = rintf(x[i]);
    break;
  case NN_ACT_SCALE_SHIFT:
    for (i = 0; i < count; i++)
      y[i] = alpha * x[i] + beta;
    break;
  }
}
