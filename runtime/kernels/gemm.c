/*
 * gemm.c - matrix products: ONNX Gemm (with transposes, alpha, beta, a
 * broadcast C and a fused activation) and batched MatMul.
 *
 * Key idea: both reduce to gemm_accumulate(), y += alpha * A * B, where A
 * and B are addressed through (row, column) strides, so a transpose is just
 * a swap of strides. Products of four rows or more go to the blocked,
 * packed engine (gemm_engine.c), whose packing makes every transpose case
 * read contiguous memory in its micro-kernel. Fewer rows (a batch-1 fully
 * connected layer is one row) are matrix-vector products, bound by reading
 * B once: they are done a row at a time without packing, which would cost
 * as much as the products. When B is a constant, the compiler packs it in
 * panels of 64 columns (nn_gemm_pack_weights), which those few rows then
 * stream in order, eight vectors of sums at a time: a read of B at close to
 * the cache's rate (bench/run.py's "largest Gemm" column compares the two).
 *
 * The backward kernels are gemm_accumulate() again: a gradient is a product
 * of dY with the other operand, transposed through strides.
 *
 * Deliberately not here: threads and heap buffers.
 */
#include "gemm_engine.h"
#include "vec.h"

// Products with fewer rows are matrix-vector products: see the top.
enum { ENGINE_MIN_ROWS = 4 };

// sum_p x[p*xs] * w[p], p < k. When x is contiguous too, 16 partial sums
// let the loop vectorise without reassociating a single sum.
static float dot(const float *x, int xs, const float *w, int k)
{
  float acc[16] = {0.0f};
  int p = 0;
  if (xs == 1)
    for (; p + 16 <= k; p += 16)
      for (int l = 0; l < 16; l++)
        acc[l] += x[p + l] * w[p + l];
  float s = 0.0f;
  for (; p < k; p++)
    s += x[(ptrdiff_t)p * xs] * w[p];
  for (int l = 0; l < 16; l++)
    s += acc[l];
  return s;
}

// Four dot products of one contiguous x with w0..w3 (each contiguous, k
// long), summed like dot(): x is loaded once for the four.
static void dot4(float *out, const float *x, const float *w0, const float *w1,
                 const float *w2, const float *w3, int k)
{
  float a0[16] = {0.0f}, a1[16] = {0.0f}, a2[16] = {0.0f}, a3[16] = {0.0f};
  int p = 0;
  for (; p + 16 <= k; p += 16)
    for (int l = 0; l < 16; l++) {
      float xv = x[p + l];
      a0[l] += xv * w0[p + l];
      a1[l] += xv * w1[p + l];
      a2[l] += xv * w2[p + l];
      a3[l] += xv * w3[p + l];
    }
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
  for (; p < k; p++) {
    s0 += x[p] * w0[p];
    s1 += x[p] * w1[p];
    s2 += x[p] * w2[p];
    s3 += x[p] * w3[p];
  }
  for (int l = 0; l < 16; l++) {
    s0 += a0[l];
    s1 += a1[l];
    s2 += a2[l];
    s3 += a3[l];
  }
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

// One row of a matrix-vector product: y(n) += alpha * a_row(k) * B(k, n),
// with a_row[p] = a[p*a_cs].
static void gemm_row(float *restrict y, const float *a, int a_cs, const float *b,
                     int b_rs, int b_cs, int n, int k, float alpha)
{
  if (b_cs != 1) {
    // B is transposed (b_rs == 1), its columns are contiguous: one dot
    // product each, four at a time when a_row is contiguous too.
    int j = 0;
    if (a_cs == 1)
      for (; j + 4 <= n; j += 4) {
        const float *bj = b + (ptrdiff_t)j * b_cs;
        float s[4];
        dot4(s, a, bj, bj + b_cs, bj + 2 * (ptrdiff_t)b_cs, bj + 3 * (ptrdiff_t)b_cs, k);
        for (int c = 0; c < 4; c++)
          y[j + c] += alpha * s[c];
      }
    for (; j < n; j++)
      y[j] += alpha * dot(a, a_cs, b + (ptrdiff_t)j * b_cs, k);
    return;
  }
  // B rows are contiguous: add scaled rows of B into y, which stays in cache.
  for (int p = 0; p < k; p++) {
    float s = alpha * a[(ptrdiff_t)p * a_cs];
    const float *br = b + (ptrdiff_t)p * b_rs;
    for (int j = 0; j < n; j++)
      y[j] += s * br[j];
  }
}

// y(m, n) += alpha * A(m, k) * B(k, n), y dense,
// A(i, p) = a[i*a_rs + p*a_cs], B(p, j) = b[p*b_rs + j*b_cs].
static void gemm_accumulate(float *restrict y, const float *a, int a_rs, int a_cs,
                            const float *b, int b_rs, int b_cs, int m, int n,
                            int k, float alpha)
{
  if (m >= ENGINE_MIN_ROWS) {
    nn_strided bs = {b, b_rs, b_cs};
    nn_gemm_engine(y, n, NULL, a, a_rs, a_cs, alpha, nn_pack_strided, &bs, m, n, k);
    return;
  }
  for (int i = 0; i < m; i++)
    gemm_row(y + (ptrdiff_t)i * n, a + (ptrdiff_t)i * a_rs, a_cs, b, b_rs, b_cs,
             n, k, alpha);
}

/* ------------------------------------------------- B packed in panels */

// A panel's columns are padded to a multiple of 16, which every VLEN
// divides, so that passes cover whole vectors.
static int padded_columns(int columns)
{
  return (columns + 15) / 16 * 16;
}

int nn_gemm_packs(const nn_gemm_params *p)
{
  return p->m < ENGINE_MIN_ROWS;
}

long nn_gemm_packed_columns(const nn_gemm_params *p)
{
  return padded_columns(p->n);
}

static int panel_width(int n, int j0)
{
  return padded_columns(n - j0 < NN_GEMM_PANEL_WIDTH ? n - j0 : NN_GEMM_PANEL_WIDTH);
}

void nn_gemm_pack_weights(float *bp, const float *b, const nn_gemm_params *p)
{
  int n = p->n, k = p->k;
  for (int j0 = 0; j0 < n; j0 += NN_GEMM_PANEL_WIDTH) {
    int w = panel_width(n, j0);
    float *panel = bp + (ptrdiff_t)j0 * k;
    for (int q = 0; q < k; q++)
      for (int c = 0; c < w; c++) {
        ptrdiff_t j = j0 + c;
        panel[(ptrdiff_t)q * w + c] =
            j >= n ? 0.0f : p->trans_b ? b[j * k + q] : b[(ptrdiff_t)q * n + j];
      }
  }
}

// out[c] = sum_q a[q*a_cs] * panel[q*w + c] for c < cv*VLEN, in cv*par
// sums: par chains of cv vectors over alternate q, so that 8 independent
// accumulators keep both FMA units busy. Inlined with constant cv and par.
static NN_ALWAYS_INLINE void panel_pass(float *out, const float *a, int a_cs,
                                        const float *panel, int w, int k, int cv,
                                        int par)
{
  vec acc[8];
  NN_UNROLL for (int v = 0; v < 8; v++)
    acc[v] = vzero();
  int q = 0;
  for (; q + par <= k; q += par)
    NN_UNROLL for (int r = 0; r < par; r++) {
      vec s = vsplat(a[(ptrdiff_t)(q + r) * a_cs]);
      const float *row = panel + (ptrdiff_t)(q + r) * w;
      NN_UNROLL for (int v = 0; v < cv; v++)
        acc[r * cv + v] = vmuladd(s, vload(row + v * VLEN), acc[r * cv + v]);
    }
  for (; q < k; q++) {
    vec s = vsplat(a[(ptrdiff_t)q * a_cs]);
    NN_UNROLL for (int v = 0; v < cv; v++)
      acc[v] = vmuladd(s, vload(panel + (ptrdiff_t)q * w + v * VLEN), acc[v]);
  }
  NN_UNROLL for (int r = 1; r < par; r++)
    NN_UNROLL for (int v = 0; v < cv; v++)
      acc[v] = vadd(acc[v], acc[r * cv + v]);
  NN_UNROLL for (int v = 0; v < cv; v++)
    vstore(out + v * VLEN, acc[v]);
}

// y(n) += alpha * a_row(k) * B(k, n), B in panels, a_row[q] = a[q*a_cs].
static void panels_row(float *restrict y, const float *a, int a_cs, const float *bp,
                       int n, int k, float alpha)
{
  for (int j0 = 0; j0 < n; j0 += NN_GEMM_PANEL_WIDTH) {
    int w = panel_width(n, j0);
    const float *panel = bp + (ptrdiff_t)j0 * k;
    float part[NN_GEMM_PANEL_WIDTH];
    for (int c0 = 0; c0 < w;) {
      int vectors = (w - c0) / VLEN;
      if (vectors >= 8) {
        panel_pass(part + c0, a, a_cs, panel + c0, w, k, 8, 1);
        c0 += 8 * VLEN;
      } else if (vectors >= 4) {
        panel_pass(part + c0, a, a_cs, panel + c0, w, k, 4, 2);
        c0 += 4 * VLEN;
      } else if (vectors >= 2) {
        panel_pass(part + c0, a, a_cs, panel + c0, w, k, 2, 4);
        c0 += 2 * VLEN;
      } else {
        panel_pass(part + c0, a, a_cs, panel + c0, w, k, 1, 8);
        c0 += VLEN;
      }
    }
    int valid = n - j0 < w ? n - j0 : w;
    for (int c = 0; c < valid; c++)
      y[j0 + c] += alpha * part[c];
  }
}

/* ------------------------------------------------------------ forward */

// y(m, n) = beta * C, broadcast; beta == 0 means no C at all, so that a
// NaN or inf in C cannot leak through.
static void start_with_c(float *restrict y, const float *c, const nn_gemm_params *p)
{
  int m = p->m, n = p->n;
  if (c != NULL && p->beta != 0.0f) {
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        y[(ptrdiff_t)i * n + j] =
            p->beta * c[(ptrdiff_t)i * p->c_row_stride + (ptrdiff_t)j * p->c_col_stride];
  } else {
    nn_fill(y, 0.0f, m * n);
  }
}

// y = act(alpha * op(A) * B + beta * C), B as stored (plain, transposed
// through strides) or in panels.
static void gemm_forward(float *restrict y, const float *a, const float *b, int panels,
                         const float *c, const nn_gemm_params *p)
{
  int m = p->m, n = p->n, k = p->k;
  if (m == 0 || n == 0)
    return;
  start_with_c(y, c, p);

  // op(A)(i, p) and op(B)(p, j) through strides: a transpose swaps them.
  int a_rs = p->trans_a ? 1 : k, a_cs = p->trans_a ? m : 1;
  int b_rs = p->trans_b ? 1 : n, b_cs = p->trans_b ? k : 1;
  if (panels)
    for (int i = 0; i < m; i++)
      panels_row(y + (ptrdiff_t)i * n, a + (ptrdiff_t)i * a_rs, a_cs, b, n, k, p->alpha);
  else
    gemm_accumulate(y, a, a_rs, a_cs, b, b_rs, b_cs, m, n, k, p->alpha);

  nn_act_forward(y, y, m * n, p->act, p->act_alpha, p->act_beta);
}

void nn_gemm_forward(float *restrict y, const float *a, const float *b,
                     const float *c, const nn_gemm_params *p)
{
  gemm_forward(y, a, b, 0, c, p);
}

void nn_gemm_packed_forward(float *restrict y, const float *a, const float *bp,
                            const float *c, const nn_gemm_params *p)
{
  gemm_forward(y, a, bp, 1, c, p);
}

void nn_matmul_forward(float *restrict y, const float *a, const float *b,
                       int batch, const int *a_offsets, const int *b_offsets,
                       int m, int n, int k)
{
  for (int i = 0; i < batch; i++) {
    float *yi = y + (ptrdiff_t)i * m * n;
    nn_fill(yi, 0.0f, m * n);
    gemm_accumulate(yi, a + a_offsets[i], k, 1, b + b_offsets[i], n, 1, m, n, k,
                    1.0f);
  }
}

// Backward of y = alpha * op(A) op(B) + beta * C (p->act must be NONE):
//   term 1  d op(A) = alpha * dY op(B)^T          (m, k)
//   term 2  d op(B) = alpha * op(A)^T dY          (k, n)
//   term 3  dC[i*crs + j*ccs] += beta * dY[i, j]  (0 strides sum)
// A transposed operand takes the transposed gradient: when trans_a, A is
// stored (k, m) and dA = (term 1)^T = alpha * op(B) dY^T, computed
// directly in that layout by gemm_accumulate through strides (likewise B).
void nn_gemm_backward(float *da, float *db, float *dc, const float *dy,
                      const float *a, const float *b, const nn_gemm_params *p)
{
  int m = p->m, n = p->n, k = p->k;
  int a_rs = p->trans_a ? 1 : k, a_cs = p->trans_a ? m : 1;
  int b_rs = p->trans_b ? 1 : n, b_cs = p->trans_b ? k : 1;

  if (da != NULL) {
    if (!p->trans_a) // da(m, k) += alpha * dY(m, n) * op(B)^T(n, k)
      gemm_accumulate(da, dy, n, 1, b, b_cs, b_rs, m, k, n, p->alpha);
    else // da(k, m) += alpha * op(B)(k, n) * dY^T(n, m)
      gemm_accumulate(da, b, b_rs, b_cs, dy, 1, n, k, m, n, p->alpha);
  }
  if (db != NULL) {
    if (!p->trans_b) // db(k, n) += alpha * op(A)^T(k, m) * dY(m, n)
      gemm_accumulate(db, a, a_cs, a_rs, dy, n, 1, k, n, m, p->alpha);
    else // db(n, k) += alpha * dY^T(n, m) * op(A)(m, k)
      gemm_accumulate(db, dy, 1, n, a, a_rs, a_cs, n, k, m, p->alpha);
  }
  // beta == 0: the forward never read C, so it gets no gradient.
  if (dc != NULL && p->beta != 0.0f) {
    for (int i = 0; i < m; i++)
      for (int j = 0; j < n; j++)
        dc[(ptrdiff_t)i * p->c_row_stride + (ptrdiff_t)j * p->c_col_stride] +=
            p->beta * dy[(ptrdiff_t)i * n + j];
  }
}

// Backward of y_i = A_i B_i per batch entry i:
//   term 1  dA_i(m, k) += dY_i(m, n) B_i^T(n, k)
//   term 2  dB_i(k, n) += A_i^T(k, m) dY_i(m, n)
// A broadcast operand repeats an offset, so its gradient sums over the
// batch entries that share it.
void nn_matmul_backward(float *da, float *db, const float *dy, const float *a,
                        const float *b, int batch, const int *a_offsets,
                        const int *b_offsets, int m, int n, int k)
{
  for (int i = 0; i < batch; i++) {
    const float *dyi = dy + (ptrdiff_t)i * m * n;
    if (da != NULL)
      gemm_accumulate(da + a_offsets[i], dyi, n, 1, b + b_offsets[i], 1, n, m, k, n,
                      1.0f);
    if (db != NULL)
      gemm_accumulate(db + b_offsets[i], a + a_offsets[i], 1, k, dyi, n, 1, k, n, m,
                      1.0f);
  }
}
