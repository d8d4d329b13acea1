/*
 * gemm.c - Gemm: Y = act(alpha * op(A) * op(B) + beta * C), with transA,
 * transB, and C broadcast unidirectionally to (M, N) from (), (N), (1, N),
 * (M, 1) or (M, N); C is optional from opset 11.
 *
 * The activation comes from pass_fuse_activations(); a following
 * BatchNormalization folds into B and C (absorb_affine) when they are
 * constants. One nn_gemm_forward() call with a static parameter block; in
 * inference builds, a constant B of a product of few rows (nn_gemm_packs)
 * is rewritten in panels for nn_gemm_packed_forward (pack_weights).
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

// n->params; p first, so that the op's params read as nn_gemm_params.
typedef struct {
  nn_gemm_params p;
  int packed; // B is in nn_gemm_pack_weights() order
} GemmParams;

static int gemm_check(Diag *d, Graph *g, Node *n)
{
  const char *known[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
  GemmParams *gp = xcalloc(1, sizeof *gp);
  n->params = gp;
  nn_gemm_params *p = &gp->p;
  int64_t ta, tb;
  if (check_attrs_known(d, n, known) != 0 || attr_float(d, n, "alpha", 1.0f, &p->alpha) != 0 ||
      attr_float(d, n, "beta", 1.0f, &p->beta) != 0 || attr_int(d, n, "transA", 0, &ta) != 0 ||
      attr_int(d, n, "transB", 0, &tb) != 0 ||
      require_inputs(d, n, g->opset >= 11 ? 2 : 3, 3) != 0)
    return -1;
  for (int i = 0; i < n->ninputs; i++)
    if (require_float(d, n, i) != 0)
      return -1;
  Tensor *a = n->inputs[0], *b = n->inputs[1], *c = node_input(n, 2);
  CHECK(d, n, a->rank == 2 && b->rank == 2, "inputs A and B must be 2-D, got ranks %d and %d",
        a->rank, b->rank);
  p->trans_a = ta != 0;
  p->trans_b = tb != 0;
  p->m = (int)a->dims[ta ? 1 : 0];
  int k = (int)a->dims[ta ? 0 : 1];
  p->k = k;
  CHECK(d, n, b->dims[tb ? 1 : 0] == k, "inner dimensions differ: A gives K=%d, B gives K=%lld", k,
        (long long)b->dims[tb ? 1 : 0]);
  p->n = (int)b->dims[tb ? 0 : 1];
  if (c) {
    int64_t cm = c->rank == 2 ? c->dims[0] : 1;
    int64_t cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    CHECK(d, n, c->rank <= 2 && (cm == 1 || cm == p->m) && (cn == 1 || cn == p->n),
          "C of rank %d with dims (%lld, %lld) does not broadcast to (%d, %d)", c->rank,
          (long long)cm, (long long)cn, p->m, p->n);
    p->c_row_stride = cm == 1 ? 0 : (int)cn;
    p->c_col_stride = cn == 1 ? 0 : 1;
  }
  p->act = NN_ACT_NONE;
  int64_t dims[2] = {p->m, p->n};
  set_shape(n->outputs[0], DT_FLOAT, 2, dims);
  return 0;
}

static int gemm_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const nn_gemm_params *p = n->params;
  const Tensor *c = node_input(n, 2);
  nn_gemm_forward(const_alloc(n->outputs[0]), n->inputs[0]->data, n->inputs[1]->data,
                  c ? c->data : NULL, p);
  return 0;
}

static void emit_params(Emitter *e, const nn_gemm_params *p)
{
  char alpha[32], beta[32], aa[32], ab[32];
  emitf(e, "  {\n    static const nn_gemm_params p = {.m = %d, .n = %d, .k = %d, "
           ".trans_a = %d, .trans_b = %d,\n"
           "        .alpha = %s, .beta = %s, .c_row_stride = %d, .c_col_stride = %d,\n"
           "        .act = %s, .act_alpha = %s, .act_beta = %s};\n",
        p->m, p->n, p->k, p->trans_a, p->trans_b, emit_float_literal(p->alpha, alpha),
        emit_float_literal(p->beta, beta), p->c_row_stride, p->c_col_stride,
        emit_act_name(p->act), emit_float_literal(p->act_alpha, aa),
        emit_float_literal(p->act_beta, ab));
}

static void gemm_emit(Emitter *e, const Node *n)
{
  const GemmParams *gp = n->params;
  const Tensor *c = node_input(n, 2);
  emit_params(e, &gp->p);
  emitf(e, "    %s(%s, %s, %s, %s, &p);\n  }\n",
        gp->packed ? "nn_gemm_packed_forward" : "nn_gemm_forward", emit_ref(n->outputs[0]),
        emit_ref(n->inputs[0]), emit_ref(n->inputs[1]), c ? emit_ref(c) : "NULL");
}

// dA += alpha dY op(B)^T (transposed back), dB likewise, dC += beta dY summed
// over C's broadcast dims.
static void gemm_backward(Emitter *e, const Node *n)
{
  const Tensor *a = n->inputs[0], *b = n->inputs[1], *c = node_input(n, 2);
  emit_params(e, n->params);
  emitf(e, "    nn_gemm_backward(%s, %s, %s, %s, %s, %s, &p);\n  }\n", emit_grad(a), emit_grad(b),
        emit_grad(c), emit_grad(n->outputs[0]), emit_saved(n, a), emit_saved(n, b));
}

static int gemm_fuse(Node *n, nn_act act, float alpha, float beta)
{
  nn_gemm_params *p = n->params;
  if (p->act != NN_ACT_NONE)
    return 0;
  p->act = act;
  p->act_alpha = alpha;
  p->act_beta = beta;
  return 1;
}

// y*scale[j] + shift[j] per output column j, folded into B and C.
static int gemm_absorb(Diag *d, Graph *g, Node *n, const float *scale, const float *shift,
                       int channels)
{
  (void)d;
  nn_gemm_params *p = n->params;
  Tensor *b = n->inputs[1], *c = node_input(n, 2);
  if (channels != p->n || b->kind != T_CONST || (c && c->kind != T_CONST) ||
      p->act != NN_ACT_NONE)
    return 0;
  Tensor *nb = new_const_like(g, b, "bnfold", 2, b->dims);
  float *bw = nb->data;
  for (int64_t i = 0; i < tensor_count(b); i++) {
    int j = (int)(p->trans_b ? i / p->k : i % p->n); // output column of element i
    bw[i] = const_float(b, i) * scale[j];
  }
  int full = c && c->rank == 2 && c->dims[0] == p->m && p->m > 1;
  int64_t cdims[2] = {p->m, p->n};
  Tensor *nc = full ? new_const_like(g, c, "bnfold", 2, cdims)
                    : new_const_like(g, b, "bnfold_bias", 1, &cdims[1]);
  float *cw = nc->data;
  for (int i = 0; i < (full ? p->m : 1); i++)
    for (int j = 0; j < p->n; j++) {
      float cv = c ? const_float(c, (int64_t)i * p->c_row_stride + (int64_t)j * p->c_col_stride)
                   : 0.0f;
      cw[(int64_t)i * p->n + j] = p->beta * cv * scale[j] + shift[j];
    }
  p->beta = 1.0f;
  p->c_row_stride = full ? p->n : 0;
  p->c_col_stride = 1;
  n->inputs[1] = nb;
  node_set_input(n, 2, nc);
  return 1;
}

// Inference only: a constant B of a product that nn_gemm_packs() takes
// becomes a new constant in panels (the old one goes when nothing else
// reads it).
static int gemm_pack(Graph *g, Node *n, Node *prev)
{
  (void)prev; // a matrix-vector product streams its weights: no prefetch
  GemmParams *gp = n->params;
  Tensor *b = n->inputs[1];
  if (gp->packed || b->kind != T_CONST || !nn_gemm_packs(&gp->p))
    return 0;
  int64_t count = (int64_t)gp->p.k * nn_gemm_packed_columns(&gp->p);
  Tensor *pb = new_const_like(g, b, "panels", 1, &count);
  nn_gemm_pack_weights(pb->data, b->data, &gp->p);
  n->inputs[1] = pb;
  gp->packed = 1;
  return 1;
}

static int64_t gemm_macs(const Node *n)
{
  const nn_gemm_params *p = n->params;
  return (int64_t)p->m * p->n * p->k;
}

const OpDef op_Gemm = {.name = "Gemm",
                       .check = gemm_check,
                       .fold = gemm_fold,
                       .emit = gemm_emit,
                       .fuse_activation = gemm_fuse,
                       .emit_backward = gemm_backward,
                       .backward_reads = BWD_IN(0) | BWD_IN(1),
                       .trainable_inputs = BWD_IN(0) | BWD_IN(1) | BWD_IN(2),
                       .absorb_affine = gemm_absorb,
                       .pack_weights = gemm_pack,
                       .macs = gemm_macs};
