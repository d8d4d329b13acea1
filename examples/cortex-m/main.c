/*
 * main.c - the digits classifier of `make demo` on a bare-metal Cortex-M4F.
 *
 * The model is models/digits_mlp.onnx compiled by onnxcc (digits.c, digits.h);
 * the held-out samples, their labels and PyTorch's predictions come from
 * examples/make_samples.py (samples.h). The program classifies each sample,
 * prints the prediction beside the label and PyTorch's, then the memory the
 * model uses, and returns 0 when every prediction agrees with PyTorch's.
 *
 * Everything the model needs is in this image: its weights are const (flash),
 * its activations one static arena (.bss), and the runtime kernels need only
 * libm. printf is picolibc's integer-only printf, writing to the host through
 * semihosting. Build and run with the Makefile next to this file.
 */
#include <stdio.h>

#include "digits.h"
#include "samples.h"
#include "startup.h"

static int argmax(const float *v, int n)
{
  int best = 0;
  for (int i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

int main(void)
{
  float scores[DIGITS_OUTPUT_0_SIZE];
  float *outputs[1] = {scores};
  int correct = 0, agree = 0;

  printf("digits_mlp on a Cortex-M4F: %d samples of %d pixels\n\n", NUM_SAMPLES, SAMPLE_SIZE);
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
  printf("weights %d bytes (flash), arena %d bytes (.bss), stack high-water mark %lu bytes\n",
         DIGITS_WEIGHT_BYTES, DIGITS_ARENA_BYTES,
         (unsigned long)((uintptr_t)__stack_top - stack_low_water()));
  return agree == NUM_SAMPLES ? 0 : 1;
}
