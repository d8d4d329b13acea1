/*
 * test_grad_optim.c - nn_sgd_step, nn_adam_step and the clipping and
 * finiteness helpers.
 *
 * Four steps of each optimizer on w0 with the gradient sequence grads[],
 * against torch.optim in PyTorch 1.13 (/usr/bin/python3; never from this
 * code), every step compared with |got - want| <= 1e-6 * |want| + 1e-8.
 * The hyperparameters were given to torch rounded to float32
 * (float(np.float32(0.999)) and so on), as the C config holds them:
 *
 *   p = torch.nn.Parameter(torch.tensor(w0))
 *   opt = torch.optim.SGD([p], lr=0.1, ...)        # or Adam / AdamW
 *   for g in grads:
 *       p.grad = torch.tensor(g); opt.step(); print(p.tolist())
 *
 * Cases: plain SGD; momentum 0.9 with dampening 0.1 and weight decay 0.01
 * (the first step sets the buffer to the gradient, undampened); Nesterov
 * momentum 0.8 with weight decay 0.05; Adam (0.9, 0.999, eps 1e-8); Adam
 * with L2 weight decay 0.1 and betas (0.8, 0.99), eps 1e-6; AdamW with
 * decoupled weight decay 0.01.
 */
#include "nn.h"
#include "test.h"

static const float w0[5] = {0.5f, -1.25f, 2.0f, 0.0f, -0.3f};
static const float grads[4][5] = {{0.1f, -0.2f, 0.3f, 1.5f, -0.05f},
                                  {0.2f, 0.1f, -0.4f, 1.0f, 0.0f},
                                  {-0.3f, 0.25f, 0.5f, -2.0f, 0.07f},
                                  {0.05f, -0.15f, 0.2f, 0.5f, -0.01f}};

static const float want_sgd_plain[4][5] = {
    {0.49000001f, -1.23000002f, 1.97000003f, -0.150000006f, -0.295000017f},
    {0.469999999f, -1.24000001f, 2.00999999f, -0.25f, -0.295000017f},
    {0.5f, -1.26499999f, 1.96000004f, -0.049999997f, -0.302000016f},
    {0.495000005f, -1.25f, 1.94000006f, -0.099999994f, -0.301000029f},
};
static const float want_sgd_momentum_dampening_wd[4][5] = {
    {0.489499986f, -1.22874999f, 1.96800005f, -0.150000006f, -0.294700027f},
    {0.461609423f, -1.21751916f, 1.97342885f, -0.374864995f, -0.289664805f},
    {0.463092476f, -1.22881556f, 1.9315387f, -0.396906108f, -0.291172385f},
    {0.459510446f, -1.22437644f, 1.87409914f, -0.461385906f, -0.291367173f},
};
static const float want_sgd_nesterov_wd[4][5] = {
    {0.488750011f, -1.22637498f, 1.96399999f, -0.135000005f, -0.294150025f},
    {0.464550644f, -1.22145629f, 1.97836196f, -0.272392511f, -0.290746361f},
    {0.479078174f, -1.23297751f, 1.92387688f, -0.161350742f, -0.293603361f},
    {0.472973436f, -1.21558905f, 1.87758815f, -0.197336033f, -0.291449249f},
};
static const float want_adam[4][5] = {
    {0.49000001f, -1.24000001f, 1.99000001f, -0.00999999978f, -0.290000021f},
    {0.4803482f, -1.23733664f, 1.99193513f, -0.0197035223f, -0.283299446f},
    {0.481014192f, -1.24072814f, 1.98847389f, -0.0199764632f, -0.28549087f},
    {0.480784655f, -1.24088955f, 1.98416293f, -0.0212581679f, -0.286602348f},
};
static const float want_adam_wd[4][5] = {
    {0.480000138f, -1.23000002f, 1.98000002f, -0.0199999847f, -0.280000269f},
    {0.460072219f, -1.2163173f, 1.97422004f, -0.039188765f, -0.262910962f},
    {0.458585739f, -1.21232843f, 1.96045899f, -0.0378968492f, -0.258450061f},
    {0.454209358f, -1.20162129f, 1.94531393f, -0.0393808931f, -0.25047487f},
};
static const float want_adamw[4][5] = {
    {0.489950001f, -1.23987496f, 1.98979998f, -0.00999999978f, -0.289970011f},
    {0.480249196f, -1.23708761f, 1.99153614f, -0.0197025202f, -0.283240438f},
    {0.480867147f, -1.24035537f, 1.9878757f, -0.0199734904f, -0.28540352f},
    {0.480589509f, -1.24039268f, 1.98336589f, -0.0212531984f, -0.286486447f},
};

static void assert_close(const float *got, const float *want, int step)
{
  for (int i = 0; i < 5; i++)
    if (!(fabsf(got[i] - want[i]) <= 1e-6f * fabsf(want[i]) + 1e-8f))
      fail_msg("step %d, element %d: got %.9g, want %.9g", step, i, (double)got[i],
               (double)want[i]);
}

static void run_sgd(const nn_optim_config *c, int with_buffer, const float want[4][5])
{
  float w[5], velocity[5];
  nn_copy(w, w0, 5);
  nn_fill(velocity, 12345.0f, 5); // garbage: step 1 must not read it
  for (int s = 0; s < 4; s++) {
    nn_sgd_step(w, with_buffer ? velocity : NULL, grads[s], 5, c, s + 1);
    assert_close(w, want[s], s + 1);
  }
}

static void run_adam(const nn_optim_config *c, int decoupled, const float want[4][5])
{
  float w[5], m[5], v[5];
  nn_copy(w, w0, 5);
  nn_fill(m, 0.0f, 5);
  nn_fill(v, 0.0f, 5);
  for (int s = 0; s < 4; s++) {
    nn_adam_step(w, m, v, grads[s], 5, c, s + 1, decoupled);
    assert_close(w, want[s], s + 1);
  }
}

static void test_sgd_matches_torch(void **state)
{
  (void)state;
  const nn_optim_config plain = {.lr = 0.1f};
  run_sgd(&plain, 0, want_sgd_plain);
  run_sgd(&plain, 1, want_sgd_plain); // momentum 0: the buffer is unused
  const nn_optim_config momentum = {.lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f,
                                    .weight_decay = 0.01f};
  run_sgd(&momentum, 1, want_sgd_momentum_dampening_wd);
  const nn_optim_config nesterov = {.lr = 0.05f, .momentum = 0.8f, .weight_decay = 0.05f,
                                    .nesterov = 1};
  run_sgd(&nesterov, 1, want_sgd_nesterov_wd);
}

static void test_adam_and_adamw_match_torch(void **state)
{
  (void)state;
  const nn_optim_config adam = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f};
  run_adam(&adam, 0, want_adam);
  const nn_optim_config adam_wd = {.lr = 0.02f, .beta1 = 0.8f, .beta2 = 0.99f, .eps = 1e-6f,
                                   .weight_decay = 0.1f};
  run_adam(&adam_wd, 0, want_adam_wd);
  const nn_optim_config adamw = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                 .weight_decay = 0.01f};
  run_adam(&adamw, 1, want_adamw);
}

static void test_grad_norm_scale_and_finite_helpers(void **state)
{
  (void)state;
  float g[40];
  for (int i = 0; i < 40; i++)
    g[i] = (float)(i % 5) - 2.0f; // -2 -1 0 1 2: squares sum to 10 per 5
  assert_float_equal(nn_grad_norm_sq(g, 40), 80.0f, 0.0);
  assert_float_equal(nn_grad_norm_sq(g, 3), 5.0f, 0.0);
  nn_scale(g, 0.5f, 40);
  assert_float_equal(g[0], -1.0f, 0.0);
  assert_float_equal(nn_grad_norm_sq(g, 40), 20.0f, 0.0);
  assert_int_equal(nn_all_finite(g, 40), 1);
  assert_int_equal(nn_all_finite(g, 0), 1);
  g[37] = INFINITY;
  assert_int_equal(nn_all_finite(g, 40), 0);
  g[37] = -INFINITY;
  assert_int_equal(nn_all_finite(g, 40), 0);
  g[37] = NAN;
  assert_int_equal(nn_all_finite(g, 40), 0);
  assert_int_equal(nn_all_finite(g, 37), 1);
  const float big[2] = {3.0e38f, -3.0e38f}; // finite, though their sum of squares is not
  assert_int_equal(nn_all_finite(big, 2), 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sgd_matches_torch),
      cmocka_unit_test(test_adam_and_adamw_match_torch),
      cmocka_unit_test(test_grad_norm_scale_and_finite_helpers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
