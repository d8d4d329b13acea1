/*
 * activation.c - elementwise unary functions (Relu, Sigmoid, Exp, Round, ...),
 * also used as the fused activation at the end of Gemm and Conv.
 *
 * Key idea: the switch on the activation kind sits outside the loops, so
 * every case is a simple loop over count elements that the compiler can
 * vectorise on its own. For that the loop bodies have no calls and no
 * branches: exp, e^x - 1, log(1 + x), sigmoid and tanh come inline and
 * branch-free from fastmath.h instead of from libm, and conditions are
 * nn_select (fastmath.h), which computes both sides and picks one with
 * bit operations. From a plain ?: gcc often makes branches, when a side
 * is a constant or a computation it can move into the branch; they
 * mispredict on data of random sign, and on targets without masked vector
 * instructions (the SSE2 of a generic x86-64 build) they keep the loop
 * scalar. Functions that overflow when written naively (sigmoid,
 * softplus) use the forms that stay finite for any |x|.
 *
 * Accuracy: where libm's expf, expm1f, log1pf and tanhf were within about
 * 1 ulp, the fastmath.h versions are within 1 to 2 ulp (its header has
 * the exhaustive maxima). Measured over every float against double
 * precision, the kinds built on them are within: Exp 0.78 ulp, Sigmoid
 * 1.97, Tanh 1.41, Elu 1.49, Celu 1.85 and Selu 2.21 (alpha*, x/alpha and
 * beta* each round once more), Softplus 1.59 (built without FMA; with it,
 * fastmath.h's functions are no less accurate, and Elu, Selu and Celu take
 * about 20% less time). The derivatives that need an
 * exp (Elu, Selu, Celu, Exp, Erf, Softplus, and Sigmoid and Tanh from x)
 * use the same functions. Log, Sqrt, Erf, Sin and Cos still call libm per
 * element, so their loops stay scalar.
 *
 * NaN inputs give NaN wherever the formula propagates it: conditions are
 * written so that a NaN x selects the side that returns x (or a
 * fastmath.h value, which is then NaN too).
 *
 * nn_act_backward is the derivative of each case, from x or from y as nn.h
 * lists, with PyTorch 1.13's one-sided choice at every kink.
 *
 * Deliberately not here: anything with more than one tensor input (see
 * binary.c).
 */
#include "nn.h"

#include <math.h>

#include "fastmath.h"

// min(max(v, lo), hi), in that order, as ONNX Clip defines it: if lo > hi
// the result is hi. A NaN v stays NaN. With bounds known only at run time
// these ?: become max and min instructions, the one place where that beats
// nn_select.
static float clampf(float v, float lo, float hi)
{
  v = v < lo ? lo : v;
  return v > hi ? hi : v;
}

// min(max(v, 0), 1); a NaN v stays NaN.
static float clamp01f(float v)
{
  v = nn_select(v < 0.0f, 0.0f, v);
  return nn_select(v > 1.0f, 1.0f, v);
}

// log(1 + exp(x)) = max(x, 0) + log(1 + exp(-|x|)); exact to float for
// large x, where the second term underflows to 0.
static float softplusf(float x)
{
  float pos = nn_select(x > 0.0f, x, 0.0f);
  return pos + nn_fast_log1pf(nn_fast_expf(-fabsf(x)));
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
      y[i] = nn_select(x[i] < 0.0f, 0.0f, x[i]);
    break;
  case NN_ACT_LEAKY_RELU:
    for (i = 0; i < count; i++)
      y[i] = nn_select(x[i] < 0.0f, alpha * x[i], x[i]);
    break;
  case NN_ACT_ELU:
    for (i = 0; i < count; i++)
      y[i] = nn_select(x[i] < 0.0f, alpha * nn_fast_expm1f(x[i]), x[i]);
    break;
  case NN_ACT_SELU:
    for (i = 0; i < count; i++)
      y[i] = beta * nn_select(x[i] <= 0.0f, alpha * nn_fast_expm1f(x[i]), x[i]);
    break;
  case NN_ACT_CELU:
    for (i = 0; i < count; i++)
      y[i] = nn_select(x[i] < 0.0f, alpha * nn_fast_expm1f(x[i] / alpha), x[i]);
    break;
  case NN_ACT_SIGMOID:
    for (i = 0; i < count; i++)
      y[i] = nn_fast_sigmoidf(x[i]);
    break;
  case NN_ACT_HARD_SIGMOID:
    for (i = 0; i < count; i++)
      y[i] = clamp01f(alpha * x[i] + beta);
    break;
  case NN_ACT_TANH:
    for (i = 0; i < count; i++)
      y[i] = nn_fast_tanhf(x[i]);
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
      y[i] = x[i] * clamp01f(x[i] / 6.0f + 0.5f);
    break;
  case NN_ACT_THRESHOLDED_RELU:
    for (i = 0; i < count; i++)
      y[i] = nn_select(x[i] > alpha, x[i], 0.0f);
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
      y[i] = nn_fast_expf(x[i]);
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
      y[i] = nn_select(x[i] > 0.0f, 1.0f, nn_select(x[i] < 0.0f, -1.0f, x[i]));
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
        dx[i] += nn_select(y[i] > 0.0f, dy[i], 0.0f);
    } else {
      for (i = 0; i < count; i++)
        dx[i] += nn_select(x[i] > 0.0f, dy[i], 0.0f);
    }
    break;
  case NN_ACT_LEAKY_RELU: // act' = x > 0 ? 1 : alpha
    for (i = 0; i < count; i++)
      dx[i] += nn_select(x[i] > 0.0f, dy[i], alpha * dy[i]);
    break;
  case NN_ACT_ELU: // act' = x > 0 ? 1 : alpha*exp(x)
    for (i = 0; i < count; i++)
      dx[i] += nn_select(x[i] > 0.0f, dy[i], alpha * nn_fast_expf(x[i]) * dy[i]);
    break;
  case NN_ACT_SELU: // act' = beta * (x > 0 ? 1 : alpha*exp(x))
    for (i = 0; i < count; i++)
      dx[i] += nn_select(x[i] > 0.0f, beta * dy[i], beta * alpha * nn_fast_expf(x[i]) * dy[i]);
    break;
  case NN_ACT_CELU: // act' = x > 0 ? 1 : exp(x/alpha)
    for (i = 0; i < count; i++)
      dx[i] += nn_select(x[i] > 0.0f, dy[i], nn_fast_expf(x[i] / alpha) * dy[i]);
    break;
  case NN_ACT_SIGMOID: // act' = y*(1-y); y preferred, else y = sigmoid(x)
    if (y != NULL) {
      for (i = 0; i < count; i++)
        dx[i] += dy[i] * y[i] * (1.0f - y[i]);
    } else {
      for (i = 0; i < count; i++) {
        float s = nn_fast_sigmoidf(x[i]);
        dx[i] += dy[i] * s * (1.0f - s);
      }
    }
    break;
  case NN_ACT_HARD_SIGMOID: // act' = alpha where 0 < alpha*x + beta < 1, else 0
    for (i = 0; i < count; i++) {
      float t = alpha * x[i] + beta;
      dx[i] += nn_select((t > 0.0f) & (t < 1.0f), alpha * dy[i], 0.0f);
    }
    break;
  case NN_ACT_TANH: // act' = 1 - y^2; y preferred, else y = tanh(x)
    if (y != NULL) {
      for (i = 0; i < count; i++)
        dx[i] += dy[i] * (1.0f - y[i] * y[i]);
    } else {
      for (i = 0; i < count; i++) {
        float t = nn_fast_tanhf(x[i]);
        dx[i] += dy[i] * (1.0f - t * t);
      }
    }
    break;
  case NN_ACT_SOFTPLUS: // act' = sigmoid(x)
    for (i = 0; i < count; i++)
      dx[i] += dy[i] * nn_fast_sigmoidf(x[i]);
    break;
  case NN_ACT_SOFTSIGN: // act' = 1 / (1 + |x|)^2
    for (i = 0; i < count; i++) {
      float d = 1.0f + fabsf(x[i]);
      dx[i] += dy[i] / (d * d);
    }
    break;
  case NN_ACT_HARD_SWISH: // act' = 0 (x < -3), x/3 + 1/2 (-3 <= x <= 3), 1 (x > 3)
    for (i = 0; i < count; i++) {
      float g = nn_select(x[i] <= 3.0f, x[i] / 3.0f + 0.5f, 1.0f);
      g = nn_select(x[i] < -3.0f, 0.0f, g);
      dx[i] += g * dy[i];
    }
    break;
  case NN_ACT_THRESHOLDED_RELU: // act' = [x > alpha]
    for (i = 0; i < count; i++)
      dx[i] += nn_select(x[i] > alpha, dy[i], 0.0f);
    break;
  case NN_ACT_CLIP: // act' = [alpha <= x <= beta] (none when alpha > beta)
    for (i = 0; i < count; i++)
      dx[i] += nn_select((x[i] >= alpha) & (x[i] <= beta), dy[i], 0.0f);
    break;
  case NN_ACT_ABS: // act' = sign(x), 0 at 0
    for (i = 0; i < count; i++)
      dx[i] += nn_select(x[i] > 0.0f, dy[i], nn_select(x[i] < 0.0f, -dy[i], 0.0f));
    break;
  case NN_ACT_NEG: // act' = -1
    for (i = 0; i < count; i++)
      dx[i] -= dy[i];
    break;
  case NN_ACT_EXP: // act' = exp(x)
    for (i = 0; i < count; i++)
      dx[i] += dy[i] * nn_fast_expf(x[i]);
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
      dx[i] += dy[i] * 1.12837916709551257f * nn_fast_expf(-x[i] * x[i]);
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
