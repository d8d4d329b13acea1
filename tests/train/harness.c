/*
 * harness.c - one training-parity case: a model compiled by `onnxcc
 * compile --train --name net` against the same training run in PyTorch.
 *
 * case.h (tests/train/gen_case.py) holds PyTorch's data, configuration,
 * losses, final trainable weights and output after training. The
 * generated net.c is included whole, so the harness reads the trainable
 * weights through the model's checkpoint table, by ONNX initializer name,
 * without a checkpoint round trip. It checks:
 *   - the trainable set: exactly the initializers PyTorch trained;
 *   - each step's loss (before the update) against PyTorch's, relative
 *     error <= LOSS_RTOL;
 *   - the final trainable weights, |got - want| <= W_ATOL + W_RTOL |want|;
 *   - net_run() after training against PyTorch's forward of the trained
 *     model on batch 0 (inference sees the updated weights), same bound;
 *   - accumulate mode (--batch 4 --accumulate 2): two calls per PyTorch
 *     step of 8 samples, the first returning NET_TRAIN_ACCUMULATED; the
 *     mean of their losses is PyTorch's loss;
 *   - nonfinite mode: a step with a NaN input before steps 0 and 10, and
 *     after training a step made non-finite by a huge learning rate,
 *     return NET_TRAIN_NONFINITE and leave every weight and optimizer
 *     state bit-identical; the other steps must still match PyTorch
 *     (a refused step does not advance Adam's step count); after
 *     training, labels out of range return NET_TRAIN_BADLABEL, also
 *     bit-identical, and a first label of -100 (ignored) gives the loss
 *     PyTorch's cross_entropy gives on the rest of batch 0.
 * It prints the largest errors measured and exits 0 on PASS, 1 on FAIL.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "net.c"

#include "case.h"

#define LOSS_RTOL 1e-4
#define W_ATOL 1e-4
#define W_RTOL 1e-3

#define NUM_CKPT ((int)(sizeof checkpoint / sizeof checkpoint[0]))

static float x[CASE_BATCH * CASE_SAMPLE];       // one PyTorch step: (CASE_BATCH, sample)
static float *got_w[CASE_NUM_WEIGHTS];          // the model's trainable arrays, by case index
static int failures;

static void load_batch(int step)
{
  const signed char *q = case_x_q + (long)step * CASE_BATCH * CASE_SAMPLE;
  for (int i = 0; i < CASE_BATCH * CASE_SAMPLE; i++)
    x[i] = (float)q[i] / CASE_X_SCALE;
}

// Pairs each PyTorch weight with the model's array of that name.
static int match_weights(void)
{
  int trainable = 0;
  for (int c = 0; c < NUM_CKPT; c++)
    trainable += checkpoint[c].kind == 0;
  if (trainable != CASE_NUM_WEIGHTS) {
    printf("  FAIL the model trains %d initializers, PyTorch %d:", trainable, CASE_NUM_WEIGHTS);
    for (int c = 0; c < NUM_CKPT; c++)
      if (checkpoint[c].kind == 0)
        printf(" '%s'", checkpoint[c].name);
    printf("\n");
    return -1;
  }
  for (int i = 0; i < CASE_NUM_WEIGHTS; i++) {
    for (int c = 0; c < NUM_CKPT; c++)
      if (checkpoint[c].kind == 0 && !strcmp(checkpoint[c].name, case_weights[i].name) &&
          checkpoint[c].count == case_weights[i].count)
        got_w[i] = checkpoint[c].data;
    if (!got_w[i]) {
      printf("  FAIL PyTorch trains '%s' (%d floats), the model does not\n", case_weights[i].name,
             case_weights[i].count);
      return -1;
    }
  }
  return 0;
}

// One PyTorch step: NET_TRAIN_ACCUMULATE calls of NET_TRAIN_BATCH samples.
static int train(const net_train_config *cfg, int step, float *loss)
{
  const int b = NET_TRAIN_BATCH, k_calls = NET_TRAIN_ACCUMULATE;
  double sum = 0.0;
  int rc = NET_TRAIN_OK;
  for (int k = 0; k < k_calls; k++) {
    const float *in[1] = {x + (long)k * b * CASE_SAMPLE};
    float l = 0.0f;
    rc = net_train_step(cfg, in, case_labels + step * CASE_BATCH + k * b, &l);
    int want = k + 1 < k_calls ? NET_TRAIN_ACCUMULATED : NET_TRAIN_OK;
    if (rc != want) {
      printf("  FAIL step %d call %d returned %d, expected %d\n", step, k, rc, want);
      failures++;
      return -1;
    }
    sum += l;
  }
  *loss = (float)(sum / k_calls);
  return 0;
}

#ifdef CASE_MODE_NONFINITE
static float snapshot[NET_CHECKPOINT_BYTES / 4]; // every checkpoint tensor, concatenated

static void fail(const char *what)
{
  printf("  FAIL %s\n", what);
  failures++;
}

static void take_snapshot(void)
{
  long n = 0;
  for (int c = 0; c < NUM_CKPT; c++) {
    memcpy(snapshot + n, checkpoint[c].data, (size_t)checkpoint[c].count * sizeof(float));
    n += checkpoint[c].count;
  }
}

// 1 if every weight and optimizer state is bit-identical to the snapshot.
static int unchanged(void)
{
  long n = 0;
  for (int c = 0; c < NUM_CKPT; c++) {
    if (memcmp(snapshot + n, checkpoint[c].data, (size_t)checkpoint[c].count * sizeof(float)))
      return 0;
    n += checkpoint[c].count;
  }
  return 1;
}

// A step whose input holds a NaN must be refused and change nothing.
static void nan_step(const net_train_config *cfg, int step)
{
  take_snapshot();
  load_batch(step);
  x[3] = NAN;
  const float *in[1] = {x};
  float l = 0.0f;
  int rc = net_train_step(cfg, in, case_labels + step * CASE_BATCH, &l);
  if (rc != NET_TRAIN_NONFINITE) {
    printf("  FAIL NaN input before step %d: returned %d, expected NET_TRAIN_NONFINITE\n", step,
           rc);
    failures++;
  } else if (!unchanged()) {
    fail("NaN input: weights or optimizer state changed");
  } else {
    printf("  NaN input before step %d: NET_TRAIN_NONFINITE, weights unchanged\n", step);
  }
}

// After one step with lr 1e30 the weights are huge, and the next step's loss
// overflows: it must be refused without touching them.
static void huge_lr_steps(net_train_config cfg)
{
  float l = 0.0f;
  cfg.lr = 1e30f;
  load_batch(1);
  const float *in[1] = {x};
  int rc1 = net_train_step(&cfg, in, case_labels + CASE_BATCH, &l);
  take_snapshot();
  int rc2 = net_train_step(&cfg, in, case_labels + CASE_BATCH, &l);
  if (rc1 != NET_TRAIN_OK || rc2 != NET_TRAIN_NONFINITE) {
    printf("  FAIL lr 1e30: returned %d then %d (loss %g), expected NET_TRAIN_OK then "
           "NET_TRAIN_NONFINITE\n", rc1, rc2, (double)l);
    failures++;
  } else if (!unchanged()) {
    fail("lr 1e30: weights or optimizer state changed by a refused step");
  } else {
    printf("  lr 1e30: next step NET_TRAIN_NONFINITE (loss %g), weights unchanged\n", (double)l);
  }
}

// Labels out of range are refused before anything runs; -100 is PyTorch's
// default ignore_index: that sample does not count in the mean loss.
static void label_steps(const net_train_config *cfg)
{
  static const int32_t bad[] = {CASE_CLASSES, -1, -101, INT32_MIN};
  int32_t labels[CASE_BATCH];
  float l = 0.0f;
  load_batch(0);
  const float *in[1] = {x};
  take_snapshot();
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memcpy(labels, case_labels, sizeof labels);
    labels[CASE_BATCH - 1] = bad[i];
    int rc = net_train_step(cfg, in, labels, &l);
    if (rc != NET_TRAIN_BADLABEL || !unchanged()) {
      printf("  FAIL label %ld: returned %d (expected NET_TRAIN_BADLABEL), weights %s\n",
             (long)bad[i], rc, unchanged() ? "unchanged" : "changed");
      failures++;
      return;
    }
  }
  printf("  labels %d, -1, -101, INT32_MIN: NET_TRAIN_BADLABEL, weights unchanged\n",
         CASE_CLASSES);
  memcpy(labels, case_labels, sizeof labels);
  labels[0] = -100;
  int rc = net_train_step(cfg, in, labels, &l);
  double rel = fabs((double)l - CASE_IGNORE_LOSS) / fabs((double)CASE_IGNORE_LOSS);
  if (rc != NET_TRAIN_OK || !(rel <= LOSS_RTOL)) {
    printf("  FAIL first label -100: returned %d, loss %.7g, PyTorch %.7g (rel %.2e)\n", rc,
           (double)l, (double)CASE_IGNORE_LOSS, rel);
    failures++;
  } else {
    printf("  first label -100: loss %.7g, PyTorch %.7g (rel %.2e)\n", (double)l,
           (double)CASE_IGNORE_LOSS, rel);
  }
}
#endif

// Largest error of got against want, elementwise as numpy.allclose does.
typedef struct {
  double abs, rel; // largest |got - want| and |got - want| / |want|
  int bad;         // elements beyond W_ATOL + W_RTOL |want|
  long worst;      // index of the largest excess over the bound
  double excess;
} Err;

static void compare(Err *e, const float *got, const float *want, long n)
{
  for (long i = 0; i < n; i++) {
    double d = fabs((double)got[i] - want[i]);
    double bound = W_ATOL + W_RTOL * fabs((double)want[i]);
    if (!(d <= bound))
      e->bad++;
    if (d > e->abs || d != d)
      e->abs = d;
    if (want[i] != 0.0f && d / fabs((double)want[i]) > e->rel)
      e->rel = d / fabs((double)want[i]);
    if (d - bound > e->excess || d != d) {
      e->excess = d - bound;
      e->worst = i;
    }
  }
}

int main(void)
{
  printf("%s: %s, batch %d x %d call(s) per step, %d step(s)\n", CASE_NAME, CASE_OPTIMIZER,
         NET_TRAIN_BATCH, NET_TRAIN_ACCUMULATE, CASE_STEPS);
  if (NET_TRAIN_BATCH * NET_TRAIN_ACCUMULATE != CASE_BATCH ||
      NET_INPUT_0_SIZE != NET_TRAIN_BATCH * CASE_SAMPLE ||
      NET_OUTPUT_0_SIZE != NET_TRAIN_BATCH * CASE_CLASSES) {
    printf("  FAIL the compiled shapes do not fit the case\nFAIL %s\n", CASE_NAME);
    return 1;
  }
  if (match_weights() != 0) {
    printf("FAIL %s\n", CASE_NAME);
    return 1;
  }
  net_train_config cfg = NET_TRAIN_DEFAULTS;
  cfg.lr = CASE_LR;
  cfg.momentum = CASE_MOMENTUM;
  cfg.dampening = CASE_DAMPENING;
  cfg.weight_decay = CASE_WEIGHT_DECAY;
  cfg.nesterov = CASE_NESTEROV;
  cfg.beta1 = CASE_BETA1;
  cfg.beta2 = CASE_BETA2;
  cfg.eps = CASE_EPS;
  cfg.clip_norm = CASE_CLIP_NORM;

  double loss_err = 0.0;
  int loss_worst = 0, loss_bad = 0;
  for (int step = 0; step < CASE_STEPS; step++) {
#ifdef CASE_MODE_NONFINITE
    if (step == 0 || step == CASE_STEPS / 2)
      nan_step(&cfg, step);
#endif
    load_batch(step);
    float loss;
    if (train(&cfg, step, &loss) != 0)
      break;
    double rel = fabs((double)loss - case_losses[step]) / fabs((double)case_losses[step]);
    if (!(rel <= LOSS_RTOL)) {
      if (!loss_bad)
        printf("  FAIL step %d: loss %.8g, PyTorch %.8g (relative error %.3g > %g)\n", step,
               (double)loss, (double)case_losses[step], rel, LOSS_RTOL);
      loss_bad++;
    }
    if (rel > loss_err || rel != rel) {
      loss_err = rel;
      loss_worst = step;
    }
  }
  failures += loss_bad;

  Err we = {0};
  const char *worst_name = "";
  long worst_index = 0;
  double worst_excess = -1.0;
  for (int i = 0; i < CASE_NUM_WEIGHTS; i++) {
    Err e = {0};
    e.excess = -1.0;
    compare(&e, got_w[i], case_weights[i].want, case_weights[i].count);
    if (e.excess > worst_excess) {
      worst_excess = e.excess;
      worst_name = case_weights[i].name;
      worst_index = e.worst;
    }
    if (e.bad) {
      printf("  FAIL '%s': %d of %d elements differ; [%ld] = %.8g, PyTorch %.8g\n",
             case_weights[i].name, e.bad, case_weights[i].count, e.worst,
             (double)got_w[i][e.worst], (double)case_weights[i].want[e.worst]);
      failures++;
    }
    we.abs = e.abs > we.abs ? e.abs : we.abs;
    we.rel = e.rel > we.rel ? e.rel : we.rel;
  }

  // Inference after training: the first NET_TRAIN_BATCH samples of batch 0.
  static float out[NET_OUTPUT_0_SIZE];
  load_batch(0);
  const float *in[1] = {x};
  float *outs[1] = {out};
  net_run(in, outs);
  Err re = {0};
  re.excess = -1.0;
  compare(&re, out, case_probe, NET_OUTPUT_0_SIZE);
  if (re.bad) {
    printf("  FAIL net_run after training: %d of %d outputs differ; [%ld] = %.8g, PyTorch %.8g\n",
           re.bad, NET_OUTPUT_0_SIZE, re.worst, (double)out[re.worst],
           (double)case_probe[re.worst]);
    failures++;
  }

#ifdef CASE_MODE_NONFINITE
  label_steps(&cfg);
  huge_lr_steps(cfg);
#endif
  printf("  loss: max relative error %.2e (step %d), tolerance %g\n", loss_err, loss_worst,
         LOSS_RTOL);
  printf("  weights: max abs error %.2e, max rel error %.2e (closest to the bound: '%s'[%ld]),"
         " tolerance %g + %g |want|\n", we.abs, we.rel, worst_name, worst_index, W_ATOL, W_RTOL);
  printf("  run after training: max abs error %.2e, max rel error %.2e\n", re.abs, re.rel);
  printf("%s %s\n", failures ? "FAIL" : "PASS", CASE_NAME);
  return failures != 0;
}
