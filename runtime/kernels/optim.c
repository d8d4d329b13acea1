/*
 * optim.c - optimizer updates over flat parameter/gradient arrays (SGD with
 * momentum, Adam, AdamW) and the helpers a training step needs around
 * them: squared gradient norm and scaling for clipping, a finiteness check.
 *
 * Key idea: each update is PyTorch 1.13's single-tensor code path
 * (torch/optim/sgd.py _single_tensor_sgd, adam.py _single_tensor_adam,
 * adamw.py _single_tensor_adamw) transcribed element by element in the same
 * order of operations, so that a model trained here follows one trained by
 * torch.optim to float rounding. The step counter is the caller's: it is
 * 1 on the first update, which is when SGD initialises its momentum buffer
 * to the gradient (not to (1 - dampening) * gradient) and when Adam's bias
 * corrections 1 - beta^step are at their smallest.
 *
 * Adam's bias corrections are computed as -expm1(step * log1p(-(1 - beta))),
 * which is 1 - beta^step without the cancellation that subtracting a float
 * power from 1 suffers when beta is close to 1 (1 - beta is exact in float
 * for beta in [0.5, 1]).
 *
 * Deliberately not here: AMSGrad, maximize, learning-rate schedules (the
 * caller passes the lr of the step), and per-parameter-group settings (the
 * caller calls once per tensor with its own config).
 */
#include "nn.h"

#include <math.h>

// Per element, with g the gradient, b the momentum buffer (torch's names):
//   g = g + weight_decay * w                     (when weight_decay != 0)
//   b = step == 1 ? g : momentum * b + (1 - dampening) * g
//   g = nesterov ? g + momentum * b : b          (when momentum != 0)
//   w = w - lr * g
// Without momentum (momentum == 0, or no buffer) the update is plain SGD.
void nn_sgd_step(float *w, float *velocity_or_null, const float *grad, int count,
                 const nn_optim_config *c, int step)
{
  float lr = c->lr, wd = c->weight_decay, mom = c->momentum;
  int use_momentum = mom != 0.0f && velocity_or_null != NULL;
  for (int i = 0; i < count; i++) {
    float g = grad[i];
    if (wd != 0.0f)
      g = g + wd * w[i];
    if (use_momentum) {
      float b = step <= 1 ? g : mom * velocity_or_null[i] + (1.0f - c->dampening) * g;
      velocity_or_null[i] = b;
      g = c->nesterov ? g + mom * b : b;
    }
    w[i] = w[i] - lr * g;
  }
}

// 1 - beta^step, accurately for beta close to 1 (see the file comment).
static float bias_correction(float beta, int step)
{
  return -expm1f((float)step * log1pf(-(1.0f - beta)));
}

// Per element (torch's names; m and v are exp_avg and exp_avg_sq):
//   Adam:  g = g + weight_decay * w              (when weight_decay != 0)
//   AdamW: w = w * (1 - lr * weight_decay)       (decoupled, before the moments)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g * g
//   w = w - (lr / (1 - beta1^step)) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
void nn_adam_step(float *w, float *m, float *v, const float *grad, int count,
                  const nn_optim_config *c, int step, int decoupled)
{
  float b1 = c->beta1, b2 = c->beta2, eps = c->eps, wd = c->weight_decay;
  float step_size = c->lr / bias_correction(b1, step);
  float bc2_sqrt = sqrtf(bias_correction(b2, step));
  float decay = 1.0f - c->lr * wd;
  for (int i = 0; i < count; i++) {
    float g = grad[i];
    if (decoupled)
      w[i] = w[i] * decay;
    else if (wd != 0.0f)
      g = g + wd * w[i];
    m[i] = m[i] * b1 + (1.0f - b1) * g;
    v[i] = v[i] * b2 + (1.0f - b2) * g * g;
    float denom = sqrtf(v[i]) / bc2_sqrt + eps;
    w[i] = w[i] - step_size * (m[i] / denom);
  }
}

float nn_grad_norm_sq(const float *g, int count)
{
  // 16 partial sums: vectorisable, and each sums only count/16 terms.
  float acc[16] = {0.0f};
  int i = 0;
  for (; i + 16 <= count; i += 16)
    for (int l = 0; l < 16; l++)
      acc[l] += g[i + l] * g[i + l];
  float s = 0.0f;
  for (; i < count; i++)
    s += g[i] * g[i];
  for (int l = 0; l < 16; l++)
    s += acc[l];
  return s;
}

void nn_scale(float *g, float s, int count)
{
  for (int i = 0; i < count; i++)
    g[i] *= s;
}

int nn_all_finite(const float *x, int count)
{
  // x - x is 0 for finite x and NaN for inf or NaN; one NaN poisons the
  // sum, so a single branch-free pass decides.
  float poison = 0.0f;
  for (int i = 0; i < count; i++)
    poison += x[i] - x[i];
  return poison == 0.0f;
}
