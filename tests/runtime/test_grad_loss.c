/*
 * test_grad_loss.c - nn_softmax_xent_forward_backward and
 * nn_nll_forward_backward.
 *
 * Reference values are PyTorch 1.13's, from /usr/bin/python3 (float32
 * tensors; never from this code):
 *   x = torch.tensor(logits).view(b, c).requires_grad_()
 *   F.cross_entropy(x, torch.tensor(labels), reduction='mean').backward()
 *   lp = F.log_softmax(x.detach(), 1).requires_grad_()
 *   F.nll_loss(lp, labels, reduction='mean').backward()
 * for a (3, 4) batch, for logits of magnitude 1e4 (where a naive exp
 * overflows), and with one label -100 (PyTorch's ignore_index: the mean is
 * over the 2 valid rows), here any label outside [0, classes).
 * Tolerances: loss 1e-6 relative, gradients 1e-6 absolute (large logits:
 * loss 1e-3 absolute on 15000, i.e. float rounding).
 * Also: hand-checked values (two equal logits: loss log 2, gradient
 * +-1/2), central differences of the returned loss (grad_check.h: eps
 * 1e-3, |error| <= 1e-3 + 1e-2 * |numeric|), grad_scale, the probs
 * output, in-place use, all labels ignored, and NLL chained through
 * nn_log_softmax_backward equal to the fused gradient.
 */
#include "nn.h"
#include "grad_check.h"

static const float small_logits[12] = {0.5f, -1.0f, 2.0f,  0.25f, 3.0f,  1.5f,
                                       -0.5f, 0.0f, -2.0f, 0.75f, 1.25f, -0.25f};
static const int32_t small_labels[3] = {2, 0, 3};
static const float small_loss = 0.919712603f;
static const float small_dlogits[12] = {
    0.0514115989f, 0.0114714792f, -0.102922522f, 0.0400393978f,
    -0.0775359496f, 0.0570761189f, 0.00772441318f, 0.0127354041f,
    0.00691741239f, 0.108206533f, 0.178402409f, -0.293526381f};
static const float small_dlogp[12] = {0.0f, 0.0f, -0.333333343f, 0.0f,
                                      -0.333333343f, 0.0f, 0.0f, 0.0f,
                                      0.0f, 0.0f, 0.0f, -0.333333343f};
static const float small_logp[12] = {
    -1.86927915f, -3.36927915f, -0.369279087f, -2.11927915f,
    -0.264757276f, -1.76475728f, -3.76475716f, -3.26475716f,
    -3.87510133f, -1.12510133f, -0.625101268f, -2.12510133f};

static const float large_logits[8] = {1e4f, -1e4f, 9990.0f, 0.0f, -5e3f, 1e4f, 1e4f, 2e4f};
static const int32_t large_labels[2] = {1, 2};
static const float large_loss = 15000.0f;
static const float large_dlogits[8] = {0.499977291f, -0.5f, 2.2698925e-05f, 0.0f,
                                       0.0f, 0.0f, -0.5f, 0.5f};

static const int32_t ignored_labels[3] = {2, -100, 3};
static const float ignored_loss = 1.24719024f;
static const float ignored_dlogits[12] = {
    0.0771173984f, 0.0172072183f, -0.154383779f, 0.0600590929f,
    0.0f, 0.0f, 0.0f, 0.0f,
    0.0103761181f, 0.162309796f, 0.267603606f, -0.440289557f};

static void assert_rel(float got, float want, float rel)
{
  if (!(fabsf(got - want) <= rel * fabsf(want)))
    fail_msg("got %.9g, want %.9g (relative tolerance %g)", (double)got, (double)want,
             (double)rel);
}

static void test_xent_by_hand(void **state)
{
  (void)state;
  // Two equal logits: p = (1/2, 1/2), loss = log 2, dlogits = p - onehot.
  const float logits[4] = {0.0f, 0.0f, 3.0f, 3.0f};
  const int32_t labels[2] = {0, 1};
  float d[4], probs[4];
  float loss = nn_softmax_xent_forward_backward(d, probs, logits, labels, 2, 2, 1.0f);
  assert_rel(loss, 0.693147181f, 1e-6f);
  const float want[4] = {-0.25f, 0.25f, 0.25f, -0.25f}, want_p[4] = {0.5f, 0.5f, 0.5f, 0.5f};
  assert_floats_near(d, want, 4, 1e-7f);
  assert_floats_near(probs, want_p, 4, 1e-7f);
}

static void test_xent_matches_pytorch(void **state)
{
  (void)state;
  float d[12];
  float loss = nn_softmax_xent_forward_backward(d, NULL, small_logits, small_labels, 3, 4,
                                                1.0f);
  assert_rel(loss, small_loss, 1e-6f);
  assert_floats_near(d, small_dlogits, 12, 1e-6f);
  // grad_scale scales the gradient only.
  loss = nn_softmax_xent_forward_backward(d, NULL, small_logits, small_labels, 3, 4, 0.25f);
  assert_rel(loss, small_loss, 1e-6f);
  for (int i = 0; i < 12; i++)
    assert_float_equal(d[i], 0.25f * small_dlogits[i], 1e-6);
}

static void test_xent_large_logits_stay_finite_and_match_pytorch(void **state)
{
  (void)state;
  float d[8], probs[8];
  float loss = nn_softmax_xent_forward_backward(d, probs, large_logits, large_labels, 2, 4,
                                                1.0f);
  assert_true(isfinite(loss));
  assert_float_equal(loss, large_loss, 1e-3);
  assert_true(nn_all_finite(d, 8));
  assert_floats_near(d, large_dlogits, 8, 1e-6f);
  // Logits of 1e4 everywhere: uniform, loss log 4.
  const float same[4] = {1e4f, 1e4f, 1e4f, 1e4f};
  const int32_t label[1] = {3};
  loss = nn_softmax_xent_forward_backward(d, probs, same, label, 1, 4, 1.0f);
  assert_rel(loss, 1.38629436f, 1e-6f);
}

static void test_xent_ignores_labels_out_of_range(void **state)
{
  (void)state;
  float d[12];
  float loss = nn_softmax_xent_forward_backward(d, NULL, small_logits, ignored_labels, 3, 4,
                                                1.0f);
  assert_rel(loss, ignored_loss, 1e-6f);
  assert_floats_near(d, ignored_dlogits, 12, 1e-6f);
  // Past the end too (never read), and a batch with no valid label at all.
  const int32_t past_end[3] = {2, 4, 3};
  loss = nn_softmax_xent_forward_backward(d, NULL, small_logits, past_end, 3, 4, 1.0f);
  assert_rel(loss, ignored_loss, 1e-6f);
  assert_floats_near(d, ignored_dlogits, 12, 1e-6f);
  const int32_t none[3] = {-1, 4, 1000};
  const float zero[12] = {0};
  loss = nn_softmax_xent_forward_backward(d, NULL, small_logits, none, 3, 4, 1.0f);
  assert_float_equal(loss, 0.0f, 0.0);
  assert_floats_near(d, zero, 12, 0.0f);
  loss = nn_nll_forward_backward(d, small_logp, none, 3, 4, 1.0f);
  assert_float_equal(loss, 0.0f, 0.0);
  assert_floats_near(d, zero, 12, 0.0f);
}

static void test_xent_works_in_place(void **state)
{
  (void)state;
  float x[12];
  nn_copy(x, small_logits, 12);
  float loss = nn_softmax_xent_forward_backward(x, NULL, x, small_labels, 3, 4, 1.0f);
  assert_rel(loss, small_loss, 1e-6f);
  assert_floats_near(x, small_dlogits, 12, 1e-6f);
}

static void test_nll_matches_pytorch_and_chains_to_the_fused_gradient(void **state)
{
  (void)state;
  float dlogp[12], dx[12];
  float loss = nn_nll_forward_backward(dlogp, small_logp, small_labels, 3, 4, 1.0f);
  assert_rel(loss, small_loss, 1e-6f);
  assert_floats_near(dlogp, small_dlogp, 12, 1e-7f);
  // Through LogSoftmax's backward: the same gradient as the fused loss.
  nn_fill(dx, 0.0f, 12);
  nn_log_softmax_backward(dx, dlogp, small_logp, 3, 4, 1);
  assert_floats_near(dx, small_dlogits, 12, 1e-6f);
}

// The loss as a one-output kernel, for grad_check. The losses write their
// gradient, so the backward adds dout * (that gradient) to honour the
// accumulate contract grad_check tests.
typedef struct {
  int is_nll;
  float x[12], dx[12], tmp[12];
} loss_case;

static void loss_fwd(void *ctx, float *out)
{
  loss_case *c = ctx;
  out[0] = c->is_nll ? nn_nll_forward_backward(c->tmp, c->x, small_labels, 3, 4, 1.0f)
                     : nn_softmax_xent_forward_backward(c->tmp, NULL, c->x, small_labels, 3,
                                                        4, 1.0f);
}

static void loss_bwd(void *ctx, const float *dout)
{
  loss_case *c = ctx;
  float unused[1];
  loss_fwd(c, unused);
  for (int i = 0; i < 12; i++)
    c->dx[i] += dout[0] * c->tmp[i];
}

static void test_losses_match_finite_difference(void **state)
{
  (void)state;
  static loss_case c;
  for (int is_nll = 0; is_nll < 2; is_nll++) {
    c.is_nll = is_nll;
    nn_copy(c.x, small_logits, 12);
    grad_check_case g = {.forward = loss_fwd, .backward = loss_bwd, .ctx = &c,
                         .out_count = 1, .in = {{"dlogits", c.x, c.dx, 12}}, .nin = 1};
    grad_check(&g);
  }
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xent_by_hand),
      cmocka_unit_test(test_xent_matches_pytorch),
      cmocka_unit_test(test_xent_large_logits_stay_finite_and_match_pytorch),
      cmocka_unit_test(test_xent_ignores_labels_out_of_range),
      cmocka_unit_test(test_xent_works_in_place),
      cmocka_unit_test(test_nll_matches_pytorch_and_chains_to_the_fused_gradient),
      cmocka_unit_test(test_losses_match_finite_difference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
