/*
 * digits_demo.c - `make demo`: a host application embedding a generated
 * model. It runs the digits classifier compiled by onnxcc from
 * models/digits_mlp.onnx on held-out samples, prints each prediction next
 * to the true label and PyTorch's prediction, the memory the generated
 * code uses, and the time per inference.
 *
 * Build (what the Makefile does):
 *   onnxcc compile models/digits_mlp.onnx -o digits.c
 *   cc -O2 -std=c99 -Iruntime digits.c examples/digits_demo.c build/libonnxcc.a -lm
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>

#include "digits.h"
#include "samples.h"

static int argmax(const float *v, int n)
{
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

static double now_seconds(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(void)
{
  float scores[DIGITS_OUTPUT_0_SIZE];
  float *outputs[1] = {scores};
  int correct = 0, agree = 0;

  printf("digits_mlp compiled by onnxcc: %d samples of %d pixels\n\n", NUM_SAMPLES, SAMPLE_SIZE);
  printf("sample  label  onnxcc  pytorch\n");
  for (int i = 0; i < NUM_SAMPLES; i++) {
    const float *inputs[1] = {samples[i]};
    digits_run(inputs, outputs);
    int predicted = argmax(scores, DIGITS_OUTPUT_0_SIZE);
    correct += predicted == labels[i];
    agree += predicted == torch_predictions[i];
    printf("%6d  %5d  %6d  %7d\n", i, labels[i], predicted, torch_predictions[i]);
  }
  printf("\naccuracy %d/%d, agreement with PyTorch %d/%d\n", correct, NUM_SAMPLES, agree,
         NUM_SAMPLES);
  printf("arena %d bytes, weights %d bytes\n", DIGITS_ARENA_BYTES, DIGITS_WEIGHT_BYTES);

  // Time many runs; report the best of five batches to damp a noisy machine.
  const int runs = 20000;
  double best = 1e9;
  for (int batch = 0; batch < 5; batch++) {
    double start = now_seconds();
    for (int r = 0; r < runs; r++) {
      const float *inputs[1] = {samples[r % NUM_SAMPLES]};
      digits_run(inputs, outputs);
    }
    double per_run = (now_seconds() - start) / runs;
    if (per_run < best)
      best = per_run;
  }
  printf("time per inference %.2f us (best of 5 x %d runs)\n", best * 1e6, runs);
  return agree == NUM_SAMPLES ? 0 : 1;
}
