/*
 * test_grad_gemm.c - nn_gemm_backward and nn_matmul_backward.
 *
 * Gemm against central differences of nn_gemm_forward (grad_check.h: eps
 * 1e-3, |error| <= 1e-3 + 1e-2 * |numeric|) for all four trans_a/trans_b
 * combinations times every C layout: none, a row vector (n), a column
 * (m, 1), a scalar, and a full (m, n) matrix, with alpha and beta not 1.
 * m = 5 covers both the packed 4-row blocks and the leftover row. A larger
 * product (k = 300, more than one packed panel) is compared with a
 * reference computed here in double precision. MatMul: a plain product and
 * broadcast batches on both sides ((2,1) x (1,3) batch dims), whose
 * gradients sum over the entries that share an operand. Also: beta = 0
 * gives C no gradient, and NULL gradients are skipped.
 */
#include "nn.h"
#include "grad_check.h"

enum { M = 5, N = 6, K = 7 };

typedef struct {
  nn_gemm_params p;
  int has_c, nc;
  float a[M * K], b[K * N], c[M * N];
  float da[M * K], db[K * N], dc[M * N];
} gemm_case;

static void gemm_fwd(void *ctx, float *out)
{
  gemm_case *g = ctx;
  nn_gemm_forward(out, g->a, g->b, g->has_c ? g->c : NULL, &g->p);
}

static void gemm_bwd(void *ctx, const float *dout)
{
  gemm_case *g = ctx;
  nn_gemm_backward(g->da, g->db, g->has_c ? g->dc : NULL, dout, g->a, g->b, &g->p);
}

// C layouts: {has_c, row stride, col stride, element count}.
static const int c_layouts[5][4] = {
    {0, 0, 0, 0}, // no C
    {1, 0, 1, N}, // row vector (n), the usual bias
    {1, 1, 0, M}, // column (m, 1)
    {1, 0, 0, 1}, // scalar
    {1, N, 1, M * N},
};

static void test_gemm_backward_all_transposes_and_c_layouts(void **state)
{
  (void)state;
  static gemm_case g;
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int l = 0; l < 5; l++) {
        g.p = (nn_gemm_params){.m = M, .n = N, .k = K, .trans_a = ta, .trans_b = tb,
                               .alpha = 0.75f, .beta = 1.5f, .c_row_stride = c_layouts[l][1],
                               .c_col_stride = c_layouts[l][2], .act = NN_ACT_NONE};
        g.has_c = c_layouts[l][0];
        g.nc = c_layouts[l][3];
        gc_fill_uniform(g.a, M * K, 1u, -1.0f, 1.0f);
        gc_fill_uniform(g.b, K * N, 2u, -1.0f, 1.0f);
        gc_fill_uniform(g.c, M * N, 3u, -1.0f, 1.0f);
        grad_check_case gc = {.forward = gemm_fwd, .backward = gemm_bwd, .ctx = &g,
                              .out_count = M * N,
                              .in = {{"da", g.a, g.da, M * K}, {"db", g.b, g.db, K * N},
                                     {"dc", g.c, g.dc, g.nc}},
                              .nin = g.has_c ? 3 : 2};
        grad_check(&gc);
      }
}

enum { LM = 9, LN = 20, LK = 300 };

// Stored index of op(A)(i, q) and op(B)(q, j) in the large case.
static int a_at(int ta, int i, int q)
{
  return ta ? q * LM + i : i * LK + q;
}

static int b_at(int tb, int q, int j)
{
  return tb ? j * LK + q : q * LN + j;
}

// A larger product through every packed path, against double precision:
// op(A) (m, k), op(B) (k, n), dY (m, n).
static void test_gemm_backward_large_matches_reference(void **state)
{
  (void)state;
  static float a[LM * LK], b[LK * LN], dy[LM * LN], da[LM * LK], db[LK * LN];
  static float want_da[LM * LK], want_db[LK * LN];
  gc_fill_uniform(a, LM * LK, 4u, -1.0f, 1.0f);
  gc_fill_uniform(b, LK * LN, 5u, -1.0f, 1.0f);
  gc_fill_uniform(dy, LM * LN, 6u, -1.0f, 1.0f);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++) {
      nn_gemm_params p = {.m = LM, .n = LN, .k = LK, .trans_a = ta, .trans_b = tb,
                          .alpha = 0.5f, .beta = 1.0f, .act = NN_ACT_NONE};
      for (int i = 0; i < LM; i++)
        for (int q = 0; q < LK; q++) {
          double s = 0.0;
          for (int j = 0; j < LN; j++)
            s += (double)dy[i * LN + j] * (double)b[b_at(tb, q, j)];
          want_da[a_at(ta, i, q)] = (float)(0.5 * s);
        }
      for (int q = 0; q < LK; q++)
        for (int j = 0; j < LN; j++) {
          double s = 0.0;
          for (int i = 0; i < LM; i++)
            s += (double)a[a_at(ta, i, q)] * (double)dy[i * LN + j];
          want_db[b_at(tb, q, j)] = (float)(0.5 * s);
        }
      nn_fill(da, 0.0f, LM * LK);
      nn_fill(db, 0.0f, LK * LN);
      nn_gemm_backward(da, db, NULL, dy, a, b, &p);
      assert_floats_near(da, want_da, LM * LK, 1e-5f);
      assert_floats_near(db, want_db, LK * LN, 1e-5f);
    }
}

static void test_gemm_backward_beta_zero_and_null_gradients(void **state)
{
  (void)state;
  nn_gemm_params p = {.m = 2, .n = 2, .k = 2, .alpha = 1.0f, .beta = 0.0f,
                      .c_row_stride = 2, .c_col_stride = 1, .act = NN_ACT_NONE};
  const float a[4] = {1, 2, 3, 4}, b[4] = {1, 0, 0, 1}, dy[4] = {1, 1, 1, 1};
  float dc[4] = {0, 0, 0, 0}, da[4] = {0, 0, 0, 0};
  const float zero[4] = {0, 0, 0, 0}, want_da[4] = {1, 1, 1, 1};
  // beta = 0: the forward never read C. Only b is needed for da.
  nn_gemm_backward(da, NULL, dc, dy, NULL, b, &p);
  assert_floats_near(dc, zero, 4, 0.0f);
  assert_floats_near(da, want_da, 4, 0.0f);
  nn_gemm_backward(NULL, NULL, NULL, dy, a, b, &p);
}

typedef struct {
  int batch, m, n, k, na, nb;
  int a_off[6], b_off[6];
  float a[64], b[64], da[64], db[64];
} matmul_case;

static void matmul_fwd(void *ctx, float *out)
{
  matmul_case *c = ctx;
  nn_matmul_forward(out, c->a, c->b, c->batch, c->a_off, c->b_off, c->m, c->n, c->k);
}

static void matmul_bwd(void *ctx, const float *dout)
{
  matmul_case *c = ctx;
  nn_matmul_backward(c->da, c->db, dout, c->a, c->b, c->batch, c->a_off, c->b_off, c->m,
                     c->n, c->k);
}

static void check_matmul(matmul_case *c)
{
  gc_fill_uniform(c->a, c->na, 7u, -1.0f, 1.0f);
  gc_fill_uniform(c->b, c->nb, 8u, -1.0f, 1.0f);
  grad_check_case g = {.forward = matmul_fwd, .backward = matmul_bwd, .ctx = c,
                       .out_count = c->batch * c->m * c->n,
                       .in = {{"da", c->a, c->da, c->na}, {"db", c->b, c->db, c->nb}},
                       .nin = 2};
  grad_check(&g);
}

static void test_matmul_backward_plain_and_broadcast_batches(void **state)
{
  (void)state;
  static matmul_case c;
  // (5, 3) x (3, 4).
  c = (matmul_case){.batch = 1, .m = 5, .n = 4, .k = 3, .na = 15, .nb = 12};
  check_matmul(&c);
  // a (2, 1, 2, 3) x b (1, 3, 3, 2): batch (2, 3); entry (i, j) uses a[i], b[j].
  c = (matmul_case){.batch = 6, .m = 2, .n = 2, .k = 3, .na = 12, .nb = 18,
                    .a_off = {0, 0, 0, 6, 6, 6}, .b_off = {0, 6, 12, 0, 6, 12}};
  check_matmul(&c);
  // A shared matrix against a batch: a (4, 3) x b (3, 3, 2).
  c = (matmul_case){.batch = 3, .m = 4, .n = 2, .k = 3, .na = 12, .nb = 18,
                    .a_off = {0, 0, 0}, .b_off = {0, 6, 12}};
  check_matmul(&c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_backward_all_transposes_and_c_layouts),
      cmocka_unit_test(test_gemm_backward_large_matches_reference),
      cmocka_unit_test(test_gemm_backward_beta_zero_and_null_gradients),
      cmocka_unit_test(test_matmul_backward_plain_and_broadcast_batches),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
