/*
 * test_gemm.c - nn_gemm_forward, nn_gemm_packed_forward (B in panels) and
 * nn_matmul_forward.
 *
 * One case of each is worked by hand. The rest compare with a naive triple loop
 * written here from the ONNX definition (double accumulation), on
 * pseudo-random data and sizes chosen to hit every path of the kernel: row
 * blocks and left-over rows (m = 9 and m = 3), column panels with a partial
 * one (n = 37), and more than one panel of k (k = 300), for all four
 * transpose combinations. Every product of fewer than 4 rows runs a second
 * time with B packed in panels: full and partial panels of 64 columns,
 * odd k, and, over the builds of make simd-test, each of the pass widths
 * (8, 4, 2 and 1 vectors).
 */
#include "nn.h"
#include "test.h"

#define MAX_M 150
#define MAX_N 200
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

// Runs nn_gemm_forward and ref_gemm on random A, B and a full (m, n) C,
// and nn_gemm_packed_forward too when nn_gemm_packs(p).
static void check_against_reference(nn_gemm_params p, int with_c)
{
  static float a[MAX_M * MAX_K], b[MAX_K * MAX_N], c[MAX_M * MAX_N];
  static float y[MAX_M * MAX_N], want[MAX_M * MAX_N];
  static float panels[MAX_K * MAX_N + 64 * MAX_K];
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
  if (!nn_gemm_packs(&p))
    return;
  nn_gemm_pack_weights(panels, b, &p);
  fill_random(y, p.m * p.n, 4u); // the packed product must overwrite y
  nn_gemm_packed_forward(y, a, panels, with_c ? c : NULL, &p);
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

// Panels by hand: B (2, 70) is two panels, 64 columns and 16 (6 of them
// padding), each row after row; B^T stored (3, 2) packs like B (2, 3).
static void test_gemm_pack_weights_hand_checked_panels(void **state)
{
  (void)state;
  static float b[2 * 70], bp[2 * 80];
  for (int i = 0; i < 2 * 70; i++)
    b[i] = (float)i; // B(q, j) = 70q + j
  nn_gemm_params p = params(1, 70, 2, 0, 0);
  assert_int_equal(nn_gemm_packed_columns(&p), 80);
  nn_gemm_pack_weights(bp, b, &p);
  assert_float_equal(bp[0], 0.0f, 0.0f);      // B(0, 0)
  assert_float_equal(bp[63], 63.0f, 0.0f);    // B(0, 63)
  assert_float_equal(bp[64], 70.0f, 0.0f);    // B(1, 0)
  assert_float_equal(bp[127], 133.0f, 0.0f);  // B(1, 63)
  assert_float_equal(bp[128], 64.0f, 0.0f);   // panel 2: B(0, 64)
  assert_float_equal(bp[133], 69.0f, 0.0f);   // B(0, 69)
  assert_float_equal(bp[134], 0.0f, 0.0f);    // padding
  assert_float_equal(bp[143], 0.0f, 0.0f);    // padding
  assert_float_equal(bp[144], 134.0f, 0.0f);  // B(1, 64)
  assert_float_equal(bp[149], 139.0f, 0.0f);  // B(1, 69)
  assert_float_equal(bp[159], 0.0f, 0.0f);    // padding

  const float bt[6] = {1.0f, 4.0f, 2.0f, 5.0f, 3.0f, 6.0f}; // B = [[1 2 3] [4 5 6]]
  float small[32];
  nn_gemm_params t = params(1, 3, 2, 0, 1);
  nn_gemm_pack_weights(small, bt, &t);
  const float want[32] = {1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                          4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  assert_floats_near(small, want, 32, 0.0f);

  // y = 2 * (1, -1) * B + 0.5 * (1, 2, 3), then relu: (-5.5, -5, -4.5) -> 0.
  const float a[2] = {1.0f, -1.0f}, c[3] = {1.0f, 2.0f, 3.0f};
  t.alpha = 2.0f;
  t.beta = 0.5f;
  t.c_col_stride = 1;
  float y[3];
  nn_gemm_packed_forward(y, a, small, c, &t);
  const float want_y[3] = {-5.5f, -5.0f, -4.5f};
  assert_floats_near(y, want_y, 3, 0.0f);
  t.act = NN_ACT_RELU;
  nn_gemm_packed_forward(y, a, small, c, &t);
  const float zeros[3] = {0.0f, 0.0f, 0.0f};
  assert_floats_near(y, zeros, 3, 0.0f);
}

// Few rows take panels; four or more take the engine.
static void test_gemm_packs_products_of_few_rows(void **state)
{
  (void)state;
  for (int m = 1; m <= 6; m++) {
    nn_gemm_params p = params(m, 10, 10, 0, 0);
    assert_int_equal(nn_gemm_packs(&p), m < 4);
  }
  const int ns[] = {1, 15, 16, 17, 64, 65, 1000}, cols[] = {16, 16, 16, 32, 64, 80, 1008};
  for (int i = 0; i < 7; i++) {
    nn_gemm_params p = params(1, ns[i], 3, 0, 0);
    assert_int_equal(nn_gemm_packed_columns(&p), cols[i]);
  }
}

// Products of 1 to 3 rows through panels: widths that leave every pass
// of some build (64 columns: 4 vectors of 16, 8 of 8; 48, 32 and 16
// columns: 3, 2 and 1 vectors of 16, 6, 4 and 2 of 8),
// one or more panels, k of 0, odd and past the 2-way split, both
// transposes, with a C row, alpha and beta, and a fused ReLU.
static void test_gemm_packed_matches_reference(void **state)
{
  (void)state;
  const int ns[] = {1, 10, 16, 17, 40, 48, 64, 65, 100, 130, 200};
  const int ks[] = {0, 1, 3, 16, 301, 530};
  for (int i = 0; i < 11; i++)
    for (int j = 0; j < 6; j++) {
      nn_gemm_params p = params(1 + (i + j) % 3, ns[i], ks[j], (i + j) % 2, j % 2);
      p.alpha = j == 2 ? 0.5f : 1.0f;
      p.beta = j == 3 ? 2.0f : 1.0f;
      p.act = i % 3 == 1 ? NN_ACT_RELU : NN_ACT_NONE;
      check_against_reference(p, (i + j) % 2);
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
      cmocka_unit_test(test_gemm_pack_weights_hand_checked_panels),
      cmocka_unit_test(test_gemm_packs_products_of_few_rows),
      cmocka_unit_test(test_gemm_packed_matches_reference),
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
