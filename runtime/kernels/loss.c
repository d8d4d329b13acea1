/*
 * loss.c - the training losses: softmax cross-entropy fused with its
 * gradient, and negative log-likelihood for models that end in LogSoftmax.
 *
 * Key idea: one pass per row computes the loss and writes its gradient,
 * the way darknet and llm.c fuse them: d(mean cross-entropy)/d(logits) is
 * simply (softmax - onehot) / batch, with no division by a probability that
 * may underflow. The log-sum-exp subtracts the row's maximum first, so
 * logits of any magnitude (1e4 and beyond) stay finite, and the loss of a
 * row is formed as (max - logit[label]) + log(sum exp(logit - max)), whose
 * two parts are both small when the prediction is good.
 *
 * Reduction is PyTorch's reduction='mean': the sum over the rows whose
 * label is valid, divided by their number. A label outside [0, classes) is
 * ignored (as PyTorch's ignore_index): it is never used as an index, its
 * row adds nothing to the loss and gets a zero gradient. (The generated
 * train step lets only -100, PyTorch's default ignore_index, through and
 * refuses any other such label before it calls this.) With no valid
 * label at all the loss is 0 and every gradient 0 (PyTorch gives NaN).
 *
 * Deliberately not here: label smoothing, class weights, and reductions
 * other than the mean.
 */
#include "nn.h"

#include <math.h>

static int label_ok(int32_t label, int classes)
{
  return label >= 0 && label < classes;
}

static int count_valid(const int32_t *labels, int batch, int classes)
{
  int valid = 0;
  for (int r = 0; r < batch; r++)
    valid += label_ok(labels[r], classes);
  return valid;
}

// Loss L = (1/V) sum_{valid r} -log softmax(l_r)[label_r], V valid rows.
// Per valid row, with p = softmax(l_r):
//   dL/dl[r, c] = (p[c] - [c == label_r]) / V
//     term 1  p[c]: through log(sum exp(l)), whose gradient is softmax
//     term 2  -[c == label_r]: through -l[label_r]
// Everything is scaled by grad_scale (not the returned loss).
float nn_softmax_xent_forward_backward(float *dlogits, float *probs_or_null,
                                       const float *logits, const int32_t *labels,
                                       int batch, int classes, float grad_scale)
{
  int valid = count_valid(labels, batch, classes);
  float scale = valid > 0 ? grad_scale / (float)valid : 0.0f;
  float total = 0.0f;
  for (int r = 0; r < batch; r++) {
    const float *l = logits + (ptrdiff_t)r * classes;
    float *d = dlogits + (ptrdiff_t)r * classes;
    float mx = -INFINITY;
    for (int c = 0; c < classes; c++)
      if (l[c] > mx)
        mx = l[c];
    float sum = 0.0f;
    for (int c = 0; c < classes; c++)
      sum += expf(l[c] - mx);
    int32_t label = labels[r];
    int ok = label_ok(label, classes);
    if (ok)
      total += (mx - l[label]) + logf(sum);
    // Each l[c] is read before d[c] is written: dlogits may be logits.
    float inv = 1.0f / sum, row_scale = ok ? scale : 0.0f;
    for (int c = 0; c < classes; c++) {
      float p = expf(l[c] - mx) * inv;
      if (probs_or_null != NULL)
        probs_or_null[(ptrdiff_t)r * classes + c] = p;
      d[c] = (p - (c == label ? 1.0f : 0.0f)) * row_scale;
    }
  }
  return valid > 0 ? total / (float)valid : 0.0f;
}

// Loss L = (1/V) sum_{valid r} -logp[r, label_r], so
//   dL/dlogp[r, c] = -[c == label_r] / V   (times grad_scale)
float nn_nll_forward_backward(float *dlogp, const float *logp, const int32_t *labels,
                              int batch, int classes, float grad_scale)
{
  int valid = count_valid(labels, batch, classes);
  float scale = valid > 0 ? grad_scale / (float)valid : 0.0f;
  float total = 0.0f;
  for (int r = 0; r < batch; r++) {
    int32_t label = labels[r];
    int ok = label_ok(label, classes);
    if (ok)
      total -= logp[(ptrdiff_t)r * classes + label];
    float *d = dlogp + (ptrdiff_t)r * classes;
    for (int c = 0; c < classes; c++)
      d[c] = ok && c == label ? -scale : 0.0f;
  }
  return valid > 0 ? total / (float)valid : 0.0f;
}
