/*
 * two_models.c - two generated models linked into one program: their
 * symbols must not collide, and each must still compute its own answer
 * (checked against the argmax of the PyTorch goldens in models/).
 */
#include <stdio.h>

#include "lenet.h"
#include "mlp.h"

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
  static float lenet_in[LENET_INPUT_0_SIZE], mlp_in[MLP_INPUT_0_SIZE];
  float lenet_out[LENET_OUTPUT_0_SIZE], mlp_out[MLP_OUTPUT_0_SIZE];
  for (int i = 0; i < LENET_INPUT_0_SIZE; i++)
    lenet_in[i] = (float)(i % 17) / 17.0f;
  for (int i = 0; i < MLP_INPUT_0_SIZE; i++)
    mlp_in[i] = (float)(i % 13) / 13.0f;
  const float *li[1] = {lenet_in}, *mi[1] = {mlp_in};
  float *lo[1] = {lenet_out}, *mo[1] = {mlp_out};
  if (lenet_run(li, lo) != 0 || mlp_run(mi, mo) != 0)
    return 1;
  printf("lenet %s -> class %d, mlp %s -> class %d\n", lenet_input_names[0],
         argmax(lenet_out, LENET_OUTPUT_0_SIZE), mlp_input_names[0],
         argmax(mlp_out, MLP_OUTPUT_0_SIZE));
  return 0;
}
