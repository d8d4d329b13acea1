/*
 * matmul.c - MatMul with numpy semantics: batched over leading dims with
 * broadcasting, 1-D operands promoted to a row (A) or column (B) vector
 * and the added dimension removed from the result.
 *
 * The batch index space is flattened at compile time into two offset
 * tables (where each batch's A and B start), so the run-time kernel is a
 * plain loop of matrix products. A 2-D MatMul followed by a constant bias
 * Add becomes a Gemm (pass_matmul_add_to_gemm).
 */
#include "compiler.h"

#include <stdlib.h>

typedef struct {
  int batch, m, n, k;
  int *a_offsets, *b_offsets; // (batch), pointing into data
  int data[];
} MatMulParams;

static int matmul_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {NULL};
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 2, 2) != 0 ||
      require_float(d, n, 0) != 0 || require_float(d, n, 1) != 0)
    return -1;
  Tensor *a = n->inputs[0], *b = n->inputs[1];
  CHECK(d, n, a->rank >= 1 && b->rank >= 1, "inputs must have rank 1 or more");
  // Promote 1-D operands to matrices.
  int64_t ad[MAX_RANK + 1], bd[MAX_RANK + 1];
  int ar = a->rank, br = b->rank;
  for (int i = 0; i < ar; i++)
    ad[i] = a->dims[i];
  for (int i = 0; i < br; i++)
    bd[i] = b->dims[i];
  if (ar == 1) {
    ad[1] = ad[0];
    ad[0] = 1;
    ar = 2;
  }
  if (br == 1) {
    bd[1] = 1;
    br = 2;
  }
  int64_t m = ad[ar - 2], k = ad[ar - 1], nn = bd[br - 1];
  CHECK(d, n, bd[br - 2] == k, "inner dimensions differ: A has K=%lld, B has K=%lld",
        (long long)k, (long long)bd[br - 2]);
  int batch_rank = (ar > br ? ar : br) - 2;
  int64_t out[MAX_RANK + 2];
  int64_t batch = 1;
  int a_str[MAX_RANK], b_str[MAX_RANK];
  int64_t as = m * k, bs = k * nn;
  for (int i = batch_rank - 1; i >= 0; i--) {
    int ai = i - (batch_rank - (ar - 2)), bi = i - (batch_rank - (br - 2));
    int64_t av = ai >= 0 ? ad[ai] : 1, bv = bi >= 0 ? bd[bi] : 1;
    CHECK(d, n, av == bv || av == 1 || bv == 1, "batch dimensions %lld and %lld do not broadcast",
          (long long)av, (long long)bv);
    out[i] = av > bv ? av : bv;
    a_str[i] = av == 1 ? 0 : (int)as;
    b_str[i] = bv == 1 ? 0 : (int)bs;
    as *= av;
    bs *= bv;
    batch *= out[i];
  }
  CHECK(d, n, batch <= (1 << 20), "%lld batches are more than supported", (long long)batch);
  int rank = batch_rank;
  if (a->rank > 1)
    out[rank++] = m;
  if (b->rank > 1)
    out[rank++] = nn;
  CHECK(d, n, rank <= MAX_RANK, "output rank %d is not supported", rank);
  set_shape(n->outputs[0], DT_FLOAT, rank, out);

  MatMulParams *p = xcalloc(1, sizeof *p + 2 * (size_t)batch * sizeof(int));
  n->params = p;
  p->batch = (int)batch;
  p->m = (int)m;
  p->n = (int)nn;
  p->k = (int)k;
  p->a_offsets = p->data;
  p->b_offsets = p->data + batch;
  int idx[MAX_RANK] = {0};
  for (int64_t i = 0; i < batch; i++) {
    int64_t ao = 0, bo = 0;
    for (int j = 0; j < batch_rank; j++) {
      ao += (int64_t)idx[j] * a_str[j];
      bo += (int64_t)idx[j] * b_str[j];
    }
    p->a_offsets[i] = (int)ao;
    p->b_offsets[i] = (int)bo;
    for (int j = batch_rank - 1; j >= 0 && ++idx[j] == out[j]; j--)
      idx[j] = 0;
  }
  return 0;
}

static int matmul_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const MatMulParams *p = n->params;
  nn_matmul_forward(const_alloc(n->outputs[0]), n->inputs[0]->data, n->inputs[1]->data,
                    p->batch, p->a_offsets, p->b_offsets, p->m, p->n, p->k);
  return 0;
}

static void matmul_emit(Emitter *e, const Node *n)
{
  const MatMulParams *p = n->params;
  emit_open_block(e, n);
  emit_int_array(e, "a_offsets", p->a_offsets, p->batch);
  emit_int_array(e, "b_offsets", p->b_offsets, p->batch);
  emitf(e, "    nn_matmul_forward(%s, %s, %s, %d, a_offsets, b_offsets, %d, %d, %d);\n",
        emit_ref(n->outputs[0]), emit_ref(n->inputs[0]), emit_ref(n->inputs[1]), p->batch, p->m,
        p->n, p->k);
  emit_close_block(e);
}

// dA += dY B^T, dB += A^T dY per batch, broadcast batches accumulating.
static void matmul_backward(Emitter *e, const Node *n)
{
  const MatMulParams *p = n->params;
  const Tensor *a = n->inputs[0], *b = n->inputs[1];
  emit_open_block(e, n);
  emit_int_array(e, "a_offsets", p->a_offsets, p->batch);
  emit_int_array(e, "b_offsets", p->b_offsets, p->batch);
  emitf(e, "    nn_matmul_backward(%s, %s, %s, %s, %s, %d, a_offsets, b_offsets, %d, %d, %d);\n",
        emit_grad(a), emit_grad(b), emit_grad(n->outputs[0]), emit_saved(n, a), emit_saved(n, b),
        p->batch, p->m, p->n, p->k);
  emit_close_block(e);
}

static int64_t matmul_macs(const Node *n)
{
  const MatMulParams *p = n->params;
  return (int64_t)p->batch * p->m * p->n * p->k;
}

const OpDef op_MatMul = {.name = "MatMul",
                         .check = matmul_check,
                         .fold = matmul_fold,
                         .emit = matmul_emit,
                         .emit_backward = matmul_backward,
                         .backward_reads = BWD_IN(0) | BWD_IN(1),
                         .trainable_inputs = BWD_IN(0) | BWD_IN(1),
                         .macs = matmul_macs};
