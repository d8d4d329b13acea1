/*
 * finetune_demo.c - `make demo`, second part: on-device fine-tuning.
 *
 * A digits classifier trained in PyTorch (models/make_finetune.py) meets
 * a shifted distribution: the same digits seen in a mirror. The demo
 * measures its accuracy on held-out mirrored digits, fine-tunes it in C on
 * a small mirrored set with the training step onnxcc generated, and
 * measures again. Everything runs in the generated code's static memory;
 * the memory table comes from the generated header.
 * It exits 1 unless the accuracy ends above 85% and rose by at least 20
 * points, so `make demo` fails if on-device training stops working.
 *
 * Build (what the Makefile does):
 *   python3 models/make_finetune.py build/demo      # model and data
 *   onnxcc compile build/demo/finetune_mlp.onnx --name finetune --train \
 *     --batch 16 --optimizer adam -o finetune.c
 *   cc -O2 -std=c99 -Iruntime finetune.c examples/finetune_demo.c build/libonnxcc.a -lm
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>

#include "finetune.h"
#include "finetune_data.h"

#define EPOCHS 5
#define LEARNING_RATE 0.01f
#define BATCH FINETUNE_TRAIN_BATCH
#define PIXELS (FINETUNE_INPUT_0_SIZE / BATCH)

static float x[FINETUNE_INPUT_0_SIZE];       // one batch: (BATCH, PIXELS)
static float scores[FINETUNE_OUTPUT_0_SIZE]; // (BATCH, classes)
static int32_t labels[BATCH];

static double now_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// Copies samples order[0..BATCH-1] of a data set into x and labels.
static void load_batch(const uint8_t *q, const int32_t *y, const int *order)
{
  for (int b = 0; b < BATCH; b++) {
    for (int i = 0; i < PIXELS; i++)
      x[b * PIXELS + i] = (float)q[order[b] * PIXELS + i] / 255.0f;
    labels[b] = y[order[b]];
  }
}

static double test_accuracy(void)
{
  int correct = 0, order[BATCH];
  for (int start = 0; start + BATCH <= TEST_SAMPLES; start += BATCH) {
    for (int b = 0; b < BATCH; b++)
      order[b] = start + b;
    load_batch(test_x, test_y, order);
    const float *in[1] = {x};
    float *out[1] = {scores};
    finetune_run(in, out);
    for (int b = 0; b < BATCH; b++) {
      const float *s = scores + b * FINETUNE_TRAIN_CLASSES;
      int best = 0;
      for (int c = 1; c < FINETUNE_TRAIN_CLASSES; c++)
        if (s[c] > s[best])
          best = c;
      correct += best == labels[b];
    }
  }
  return (double)correct / (TEST_SAMPLES / BATCH * BATCH);
}

// Fisher-Yates with a fixed linear congruential generator: the same run every time.
static void shuffle(int *order, int n, unsigned *state)
{
  for (int i = n - 1; i > 0; i--) {
    *state = *state * 1664525u + 1013904223u;
    int j = (int)((*state >> 8) % (unsigned)(i + 1));
    int t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
}

int main(void)
{
  printf("fine-tuning demo: a digits classifier meets mirrored digits\n\n");
  printf("memory of the training build (--train --batch %d --optimizer adam):\n", BATCH);
  printf("  trainable weights  %7ld bytes (RAM, updated in place)\n",
         (long)FINETUNE_TRAINABLE_WEIGHT_BYTES);
  printf("  frozen weights     %7ld bytes (const)\n", (long)FINETUNE_FROZEN_WEIGHT_BYTES);
  printf("  activations        %7ld bytes\n", (long)FINETUNE_ACTIVATION_BYTES);
  printf("  gradients          %7ld bytes\n", (long)FINETUNE_GRADIENT_BYTES);
  printf("  optimizer state    %7ld bytes\n", (long)FINETUNE_OPTIMIZER_STATE_BYTES);
  printf("  arena              %7ld bytes (the three above, sharing memory where lifetimes allow)\n",
         (long)FINETUNE_ARENA_BYTES);
  printf("  total RAM          %7ld bytes (arena with reuse + trainable weights)\n\n",
         (long)FINETUNE_TOTAL_RAM_BYTES);

  double before = test_accuracy();
  printf("held-out mirrored digits: %d; PyTorch accuracy %.1f%% on the original digits, "
         "%.1f%% mirrored\n", TEST_SAMPLES, 100.0 * TORCH_ACC_ORIGINAL, 100.0 * TORCH_ACC_SHIFTED);
  printf("accuracy before fine-tuning: %.1f%%\n\n", 100.0 * before);

  finetune_train_config cfg = FINETUNE_TRAIN_DEFAULTS;
  cfg.lr = LEARNING_RATE;
  static int order[TUNE_SAMPLES];
  for (int i = 0; i < TUNE_SAMPLES; i++)
    order[i] = i;
  unsigned rng = 7u;
  int steps = 0, refused = 0;
  double train_seconds = 0.0;
  printf("fine-tuning on %d mirrored digits, Adam lr %g, batch %d:\n", TUNE_SAMPLES,
         (double)cfg.lr, BATCH);
  for (int epoch = 1; epoch <= EPOCHS; epoch++) {
    shuffle(order, TUNE_SAMPLES, &rng);
    double loss_sum = 0.0;
    int batches = 0;
    for (int start = 0; start + BATCH <= TUNE_SAMPLES; start += BATCH) {
      load_batch(tune_x, tune_y, order + start);
      const float *in[1] = {x};
      float loss;
      double t0 = now_seconds();
      int rc = finetune_train_step(&cfg, in, labels, &loss);
      train_seconds += now_seconds() - t0;
      if (rc != FINETUNE_TRAIN_OK) {
        refused++;
        continue;
      }
      loss_sum += loss;
      batches++;
      steps++;
    }
    printf("  epoch %d: mean loss %.4f, held-out accuracy %.1f%%\n", epoch,
           batches ? loss_sum / batches : 0.0, 100.0 * test_accuracy());
  }
  double after = test_accuracy();
  printf("\n%d training steps, %.1f us per step", steps, 1e6 * train_seconds / (steps + refused));
  if (refused)
    printf(", %d refused (non-finite)", refused);
  printf("\naccuracy after fine-tuning: %.1f%% (before %.1f%%)\n", 100.0 * after, 100.0 * before);
  if (after < 0.85 || after - before < 0.20) {
    printf("FAIL: fine-tuning did not clearly improve the accuracy\n");
    return 1;
  }
  return 0;
}
