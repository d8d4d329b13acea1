/*
 * test_gemm.c - nn_gemm_forward and nn_matmul_forward.
 *
 * One case is worked by hand. The rest compare with a naive triple loop
 * written here from the ONNX definition (double accumulation), on
 * pseudo-random data and sizes chosen to hit every path of the kernel: row
 * blocks and left-over rows (m = 9 and m = 3), column panels with a partial
 * one (n = 37), and more than one panel of k (k = 300), for all four
 * transpose combinations.
 */
#include "nn.h"
#include "test.h"

#define MAX_M 150
#define MAX_N 70
#define MAX_K 530

// Deterministic values in [-1, 1).
static void fill_random(float *x, int count, unsigned seed)
{
  for (int i = 0; i < count; i++) {
    seed = seed * 1103515245u + 12345u;
    x[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
  }
}

// y = alpha * op(A) * op(B) + beta * C straight from the definition, then
// relu if asked (the only fused activation checked against the reference).
static void ref_gemm(float *y, const float *a, const float *b, const float *c,
                     const nn_gemm_params *p)
{
  for (int i = 0; i < p->m; i++) {
    for (int j = 0; j < p->n; j++) {
      double s = 0.0;
      for (int q = 0; q < p->k; q++) {
        double av = p->trans_a ? a[q * p->m + i] : a[i * p->k + q];
        double bv = p->trans_b ? b[j * p->k + q] : b[q * p->n + j];
        s += av * bv;
      }
      s *= p->alpha;
      if (c != NULL && p->beta != 0.0f)
        s += (double)p->beta * c[i * p->c_row_stride + j * p->c_col_stride];
      if (p->act == NN_ACT_RELU && s < 0.0)
        s = 0.0;
      y[i * p->n + j] = (float)s;
    }
  }
}

static nn_gemm_params params(int m, int n, int k, int trans_a, int trans_b)
{
  nn_gemm_params p = {0};
  p.m = m;
  p.n = n;
  p.k = k;
  p.trans_a = trans_a;
  p.trans_b = trans_b;
  p.alpha = 1.0f;
  p.beta = 1.0f;
  p.act = NN_ACT_NONE;
  return p;
}

// Runs nn_gemm_forward and ref_gemm on random A, B and a full (m, n) C.
static void check_against_reference(nn_gemm_params p, int with_c)
{
  static float a[MAX_M * MAX_K], b[MAX_K * MAX_N], c[MAX_M * MAX_N];
  static float y[MAX_M * MAX_N], want[MAX_M * MAX_N];
  fill_random(a, p.m * p.k, 1u);
  fill_random(b, p.k * p.n, 2u);
  fill_random(c, p.m * p.n, 3u);
  if (with_c) {
    p.c_row_stride = p.n;
    p.c_col_stride = 1;
  }
  nn_gemm_forward(y, a, b, with_c ? c : NULL, &p);
  ref_gemm(want, a, b, with_c ? c : NULL, &p);
  assert_floats_near(y, want, p.m * p.n, 1e-4f);
}

static void test_gemm_hand_computed_alpha_beta_row_bias(void **state)
{
  (void)state;
  // A (2, 3) * B (3, 2) = [[4, 5], [10, 11]];
  // y = 2 * A*B + 0.5 * C, C = (1, -2) broadcast down the rows.
  const float a[6] = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f};
  const float b[6] = {1.0f, 0.0f, 0.0f, 1.0f, 1.0f, 1.0f};
  const float c[2] = {1.0f, -2.0f};
  nn_gemm_params p = params(2, 2, 3, 0, 0);
  p.alpha = 2.0f;
  p.beta = 0.5f;
  p.c_row_stride = 0;
  p.c_col_stride = 1;
  float y[4];
  nn_gemm_forward(y, a, b, c, &p);
  const float want[4] = {8.5f, 9.0f, 20.5f, 21.0f};
  assert_floats_near(y, want, 4, 0.0f);
}

static void test_gemm_hand_computed_transposed_a_and_b(void **state)
{
  (void)state;
  // The same product with A stored (3, 2) and B stored (2, 3).
  const float at[6] = {1.0f, 4.0f, 2.0f, 5.0f, 3.0f, 6.0f};
  const float bt[6] = {1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 1.0f};
  nn_gemm_params p = params(2, 2, 3, 1, 1);
  float y[4];
  nn_gemm_forward(y, at, bt, NULL, &p);
  const float want[4] = {4.0f, 5.0f, 10.0f, 11.0f};
  assert_floats_near(y, want, 4, 0.0f);
}

static void test_gemm_all_transposes_match_reference(void **state)
{
  (void)state;
  for (int ta = 0; ta < 2; ta++) {
    for (int tb = 0; tb < 2; tb++) {
      check_against_reference(params(9, 37, 300, ta, tb), 1);
      check_against_reference(params(3, 37, 300, ta, tb), 1);
      check_against_reference(params(8, 16, 5, ta, tb), 0);
      check_against_reference(params(1, 5, 17, ta, tb), 0);
    }
  }
}

// Shapes past every block of the packed engine: more rows than one pass
// over B takes (128 on AVX-512), more products than one panel (256), and
// rows and columns that leave partial tiles; transposed A is copied in
// blocks of its own.
static void test_gemm_large_shapes_cross_engine_blocks(void **state)
{
  (void)state;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      check_against_reference(params(150, 70, 530, ta, tb), 1);
      check_against_reference(params(133, 33, 257, ta, tb), 0);
    }
}

// Every kind of last panel and strip of the engine: columns n % 32 of 0
// (whole panels), up to 16 (a half-width micro-kernel), 17 and 18 (half
// width plus dot products: a 7x7 plane's 49 pixels), more (full width);
// rows m % 8 of up to 6 (a short micro-kernel) and 7; products k across
// two blocks of 256, with a fused ReLU.
static void test_gemm_last_panel_and_strip_widths_match_reference(void **state)
{
  (void)state;
  const int ns[] = {16, 17, 31, 32, 33, 48, 49, 50, 51, 60};
  const int ms[] = {5, 14, 15};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 10; b++) {
      nn_gemm_params p = params(ms[a], ns[b], b % 2 ? 300 : 40, 0, b % 3 == 0);
      p.act = a == 1 ? NN_ACT_RELU : NN_ACT_NONE;
      check_against_reference(p, b % 2);
    }
}

static void test_gemm_alpha_and_beta_match_reference(void **state)
{
  (void)state;
  nn_gemm_params p = params(9, 37, 300, 0, 1);
  p.alpha = -0.5f;
  p.beta = 3.0f;
  check_against_reference(p, 1);
}

static void test_gemm_broadcasts_column_and_scalar_c(void **state)
{
  (void)state;
  // A (2, 1) * B (1, 2) = [[1, 2], [3, 6]]; C as a column (2, 1), then a
  // scalar.
  const float a[2] = {1.0f, 3.0f};
  const float b[2] = {1.0f, 2.0f};
  const float c[2] = {10.0f, 20.0f};
  nn_gemm_params p = params(2, 2, 1, 0, 0);
  float y[4];
  p.c_row_stride = 1;
  p.c_col_stride = 0;
  nn_gemm_forward(y, a, b, c, &p);
  const float want_col[4] = {11.0f, 12.0f, 23.0f, 26.0f};
  assert_floats_near(y, want_col, 4, 0.0f);
  p.c_row_stride = 0;
  nn_gemm_forward(y, a, b, c, &p);
  const float want_scalar[4] = {11.0f, 12.0f, 13.0f, 16.0f};
  assert_floats_near(y, want_scalar, 4, 0.0f);
}

static void test_gemm_null_c_means_no_bias(void **state)
{
  (void)state;
  check_against_reference(params(9, 37, 300, 1, 0), 0);
}

static void test_gemm_beta_zero_ignores_nan_c(void **state)
{
  (void)state;
  const float a[2] = {1.0f, 2.0f};
  const float b[2] = {3.0f, 4.0f};
  const float c[1] = {NAN};
  nn_gemm_params p = params(1, 1, 2, 0, 0);
  p.beta = 0.0f;
  float y[1];
  nn_gemm_forward(y, a, b, c, &p);
  const float want[1] = {11.0f};
  assert_floats_near(y, want, 1, 0.0f);
}

static void test_gemm_fuses_relu(void **state)
{
  (void)state;
  nn_gemm_params p = params(9, 37, 300, 0, 1);
  p.act = NN_ACT_RELU;
  check_against_reference(p, 1);

  // By hand: [1, -1] . columns (1, 2) and (3, 1) = -1 and 2.
  const float a[2] = {1.0f, -1.0f};
  const float b[4] = {1.0f, 3.0f, 2.0f, 1.0f};
  nn_gemm_params q = params(1, 2, 2, 0, 0);
  q.act = NN_ACT_RELU;
  float y[2];
  nn_gemm_forward(y, a, b, NULL, &q);
  const float want[2] = {0.0f, 2.0f};
  assert_floats_near(y, want, 2, 0.0f);
}

static void test_gemm_k_zero_gives_beta_c(void **state)
{
  (void)state;
  const float unused[1] = {NAN};
  const float c[2] = {1.0f, 2.0f};
  nn_gemm_params p = params(1, 2, 0, 0, 0);
  p.beta = 2.0f;
  p.c_col_stride = 1;
  float y[2];
  nn_gemm_forward(y, unused, unused, c, &p);
  const float want[2] = {2.0f, 4.0f};
  assert_floats_near(y, want, 2, 0.0f);
}

static void test_matmul_hand_computed_shared_b(void **state)
{
  (void)state;
  // a (2, 1, 2) * b (2, 2) with b shared by both batches.
  const float a[4] = {1.0f, 2.0f, 3.0f, 4.0f};
  const float b[4] = {1.0f, 1.0f, 0.0f, 2.0f};
  const int a_off[2] = {0, 2}, b_off[2] = {0, 0};
  float y[4];
  nn_matmul_forward(y, a, b, 2, a_off, b_off, 1, 2, 2);
  const float want[4] = {1.0f, 5.0f, 3.0f, 11.0f};
  assert_floats_near(y, want, 4, 0.0f);
}

static void test_matmul_broadcast_offsets_match_reference(void **state)
{
  (void)state;
  // a (2, 1, m, k) * b (1, 3, k, n) -> y (2, 3, m, n).
  enum { M = 5, N = 19, K = 33, BATCH = 6 };
  static float a[2 * M * K], b[3 * K * N], y[BATCH * M * N], want[BATCH * M * N];
  fill_random(a, 2 * M * K, 4u);
  fill_random(b, 3 * K * N, 5u);
  int a_off[BATCH], b_off[BATCH];
  for (int i = 0; i < 2; i++)
    for (int j = 0; j < 3; j++) {
      a_off[i * 3 + j] = i * M * K;
      b_off[i * 3 + j] = j * K * N;
    }
  nn_matmul_forward(y, a, b, BATCH, a_off, b_off, M, N, K);
  nn_gemm_params p = params(M, N, K, 0, 0);
  for (int t = 0; t < BATCH; t++)
    ref_gemm(want + t * M * N, a + a_off[t], b + b_off[t], NULL, &p);
  assert_floats_near(y, want, BATCH * M * N, 1e-5f);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_hand_computed_alpha_beta_row_bias),
      cmocka_unit_test(test_gemm_hand_computed_transposed_a_and_b),
      cmocka_unit_test(test_gemm_all_transposes_match_reference),
      cmocka_unit_test(test_gemm_large_shapes_cross_engine_blocks),
      cmocka_unit_test(test_gemm_last_panel_and_strip_widths_match_reference),
      cmocka_unit_test(test_gemm_alpha_and_beta_match_reference),
      cmocka_unit_test(test_gemm_broadcasts_column_and_scalar_c),
      cmocka_unit_test(test_gemm_null_c_means_no_bias),
      cmocka_unit_test(test_gemm_beta_zero_ignores_nan_c),
      cmocka_unit_test(test_gemm_fuses_relu),
      cmocka_unit_test(test_gemm_k_zero_gives_beta_c),
      cmocka_unit_test(test_matmul_hand_computed_shared_b),
      cmocka_unit_test(test_matmul_broadcast_offsets_match_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
