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
 * nn_act_backward is the derivative of each case, from x or from y as nn.h
 * lists, with PyTorch 1.13's one-sided choice at every kink.
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

// Backward: dL/dx[i] += dL/dy[i] * act'(x[i]), with act' written from
// whichever of x and y the case below reads (nn.h lists which). At the
// kinks the one-sided choice is PyTorch 1.13's, so that gradients match it
// exactly: Relu 0 at x = 0 (reads y: y > 0), LeakyRelu/Elu/Selu/Celu take
// the negative branch at x = 0, Clip passes lo <= x <= hi, HardSigmoid
// passes only strictly inside (0, 1), HardSwish is x/3 + 1/2 on
// [-3, 3] (so -1/2 at -3 and 3/2 at 3), ThresholdedRelu passes x > alpha,
// Abs is 0 at 0. Floor, Ceil, Round and Sign have derivative 0 almost
// everywhere, so they add nothing (and read nothing).
void nn_act_backward(float *dx, const float *dy, const float *x, const float *y,
                     int count, nn_act act, float alpha, float beta)
{
  int i;
  if (dx == NULL)
    return;
  switch (act) {
  case NN_ACT_NONE: // y = x: act' = 1
    for (i = 0; i < count; i++)
      dx[i] += dy[i];
    break;
  case NN_ACT_RELU: // act' = [y > 0] (= [x > 0]); y preferred, x accepted
    if (y != NULL) {
      for (i = 0; i < count; i++)
        dx[i] += y[i] > 0.0f ? dy[i] : 0.0f;
    } else {
      for (i = 0; i < count; i++)
        dx[i] += x[i] > 0.0f ? dy[i] : 0.0f;
    }
    break;
  case NN_ACT_LEAKY_RELU: // act' = x > 0 ? 1 : alpha
    for (i = 0; i < count; i++)
      dx[i] += x[i] > 0.0f ? dy[i] : alpha * dy[i];
    break;
  case NN_ACT_ELU: // act' = x > 0 ? 1 : alpha*exp(x)
    for (i = 0; i < count; i++)
      dx[i] += x[i] > 0.0f ? dy[i] : alpha * expf(x[i]) * dy[i];
    break;
  case NN_ACT_SELU: // act' = beta * (x > 0 ? 1 : alpha*exp(x))
    for (i = 0; i < count; i++)
      dx[i] += x[i] > 0.0f ? beta * dy[i] : beta * alpha * expf(x[i]) * dy[i];
    break;
  case NN_ACT_CELU: // act' = x > 0 ? 1 : exp(x/alpha)
    for (i = 0; i < count; i++)
      dx[i] += x[i] > 0.0f ? dy[i] : expf(x[i] / alpha) * dy[i];
    break;
  case NN_ACT_SIGMOID: // act' = y*(1-y); y preferred, else y = sigmoid(x)
    for (i = 0; i < count; i++) {
      float s = y != NULL ? y[i] : sigmoidf(x[i]);
      dx[i] += dy[i] * s * (1.0f - s);
    }
    break;
  case NN_ACT_HARD_SIGMOID: // act' = alpha where 0 < alpha*x + beta < 1, else 0
    for (i = 0; i < count; i++) {
      float t = alpha * x[i] + beta;
      dx[i] += t > 0.0f && t < 1.0f ? alpha * dy[i] : 0.0f;
    }
    break;
  case NN_ACT_TANH: // act' = 1 - y^2; y preferred, else y = tanh(x)
    for (i = 0; i < count; i++) {
      float t = y != NULL ? y[i] : tanhf(x[i]);
      dx[i] += dy[i] * (1.0f - t * t);
    }
    break;
  case NN_ACT_SOFTPLUS: // act' = sigmoid(x)
    for (i = 0; i < count; i++)
      dx[i] += dy[i] * sigmoidf(x[i]);
    break;
  case NN_ACT_SOFTSIGN: // act' = 1 / (1 + |x|)^2
    for (i = 0; i < count; i++) {
      float d = 1.0f + fabsf(x[i]);
      dx[i] += dy[i] / (d * d);
    }
    break;
  case NN_ACT_HARD_SWISH: // act' = 0 (x < -3), x/3 + 1/2 (-3 <= x <= 3), 1 (x > 3)
    for (i = 0; i < count; i++) {
      float g = x[i] < -3.0f ? 0.0f : x[i] <= 3.0f ? x[i] / 3.0f + 0.5f : 1.0f;
      dx[i] += g * dy[i];
    }
    break;
  case NN_ACT_THRESHOLDED_RELU: // act' = [x > alpha]
    for (i = 0; i < count; i++)
      dx[i] += x[i] > alpha ? dy[i] : 0.0f;
    break;
  case NN_ACT_CLIP: // act' = [alpha <= x <= beta] (none when alpha > beta)
    for (i = 0; i < count; i++)
      dx[i] += x[i] >= alpha && x[i] <= beta ? dy[i] : 0.0f;
    break;
  case NN_ACT_ABS: // act' = sign(x), 0 at 0
    for (i = 0; i < count; i++)
      dx[i] += x[i] > 0.0f ? dy[i] : x[i] < 0.0f ? -dy[i] : 0.0f;
    break;
  case NN_ACT_NEG: // act' = -1
    for (i = 0; i < count; i++)
      dx[i] -= dy[i];
    break;
  case NN_ACT_EXP: // act' = exp(x)
    for (i = 0; i < count; i++)
      dx[i] += dy[i] * expf(x[i]);
    break;
  case NN_ACT_LOG: // act' = 1/x
    for (i = 0; i < count; i++)
      dx[i] += dy[i] / x[i];
    break;
  case NN_ACT_SQRT: // act' = 1 / (2 sqrt(x))
    for (i = 0; i < count; i++)
      dx[i] += dy[i] / (2.0f * sqrtf(x[i]));
    break;
  case NN_ACT_ERF: // act' = 2/sqrt(pi) * exp(-x^2)
    for (i = 0; i < count; i++)
      dx[i] += dy[i] * 1.12837916709551257f * expf(-x[i] * x[i]);
    break;
  case NN_ACT_RECIPROCAL: // act' = -1/x^2
    for (i = 0; i < count; i++)
      dx[i] -= dy[i] / (x[i] * x[i]);
    break;
  case NN_ACT_SIN: // act' = cos(x)
    for (i = 0; i < count; i++)
      dx[i] += dy[i] * cosf(x[i]);
    break;
  case NN_ACT_COS: // act' = -sin(x)
    for (i = 0; i < count; i++)
      dx[i] -= dy[i] * sinf(x[i]);
    break;
  case NN_ACT_SCALE_SHIFT: // act' = alpha
    for (i = 0; i < count; i++)
      dx[i] += alpha * dy[i];
    break;
  case NN_ACT_FLOOR:
  case NN_ACT_CEIL:
  case NN_ACT_SIGN:
  case NN_ACT_ROUND: // act' = 0: nothing to add
    break;
  }
}
