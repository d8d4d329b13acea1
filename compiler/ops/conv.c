/*
 * conv.c - Conv, 1-D and 2-D: groups (depthwise when group == channels),
 * strides, dilations, explicit pads or auto_pad, optional bias.
 *
 * A 1-D convolution runs as 2-D with height 1. The activation that
 * follows is fused by pass_fuse_activations(); a BatchNormalization after
 * it folds into W and B (absorb_affine); in inference builds, a constant W
 * that nn_conv_packs() takes is rewritten in packed order for
 * nn_conv_packed_forward (pack_weights), which can also add a residual
 * tensor before the activation (fuse_residual: input 3, past ONNX's).
 * 3-D convolution is not supported.
 */
#include "compiler.h"

#include <stdlib.h>
#include <string.h>

// n->params; p first, so that the op's params read as nn_conv_params.
typedef struct {
  nn_conv_params p;
  int packed;           // W is in nn_conv_pack_weights() order
  const Tensor *next_w; // the next packed Conv's W: this one prefetches its start
} ConvParams;

static int conv_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads", "strides",
                         NULL};
  int64_t group, kshape[4];
  int nk;
  if (check_attrs_known(d, n, known) != 0 || attr_int(d, n, "group", 1, &group) != 0 ||
      attr_ints(d, n, "kernel_shape", kshape, 4, &nk) != 0 || require_inputs(d, n, 2, 3) != 0)
    return -1;
  for (int i = 0; i < n->ninputs; i++)
    if (require_float(d, n, i) != 0)
      return -1;
  Tensor *x = n->inputs[0], *w = n->inputs[1], *b = node_input(n, 2);
  CHECK(d, n, x->rank == 3 || x->rank == 4,
        "%d-D convolution is not supported (input X has rank %d; 1-D and 2-D are)",
        x->rank - 2, x->rank);
  CHECK(d, n, w->rank == x->rank, "weight W has rank %d, expected %d", w->rank, x->rank);
  int rank = x->rank - 2;
  CHECK(d, n, group >= 1 && group <= INT32_MAX && x->dims[1] % group == 0 &&
                  w->dims[0] % group == 0,
        "group %lld does not divide the %lld input and %lld output channels", (long long)group,
        (long long)x->dims[1], (long long)w->dims[0]);
  CHECK(d, n, w->dims[1] * group == x->dims[1],
        "weight W has %lld input channels per group, X has %lld channels in %lld groups",
        (long long)w->dims[1], (long long)x->dims[1], (long long)group);
  for (int i = 0; i < nk; i++)
    CHECK(d, n, kshape[i] == w->dims[2 + i], "kernel_shape[%d] = %lld differs from W's %lld", i,
          (long long)kshape[i], (long long)w->dims[2 + i]);
  if (b)
    CHECK(d, n, tensor_count(b) == w->dims[0], "bias B has %lld values, expected %lld",
          (long long)tensor_count(b), (long long)w->dims[0]);
  Window win;
  if (window_check(d, n, x->dims + 2, rank, w->dims + 2, 0, &win) != 0)
    return -1;
  ConvParams *cp = xcalloc(1, sizeof *cp);
  nn_conv_params *p = &cp->p;
  n->params = cp;
  int s = rank == 2 ? 0 : -1; // index of the height dim in win, -1 for 1-D
  p->n = (int)x->dims[0];
  p->c = (int)x->dims[1];
  p->h = rank == 2 ? (int)x->dims[2] : 1;
  p->w = (int)x->dims[x->rank - 1];
  p->m = (int)w->dims[0];
  p->kh = rank == 2 ? (int)w->dims[2] : 1;
  p->kw = (int)w->dims[w->rank - 1];
  p->oh = s == 0 ? (int)win.out[0] : 1;
  p->ow = (int)win.out[rank - 1];
  p->group = (int)group;
  p->stride_h = s == 0 ? (int)win.stride[0] : 1;
  p->stride_w = (int)win.stride[rank - 1];
  p->dil_h = s == 0 ? (int)win.dilation[0] : 1;
  p->dil_w = (int)win.dilation[rank - 1];
  p->pad_t = s == 0 ? (int)win.pad_begin[0] : 0;
  p->pad_l = (int)win.pad_begin[rank - 1];
  p->act = NN_ACT_NONE;
  int64_t dims[4] = {x->dims[0], w->dims[0], win.out[0], win.out[1]};
  set_shape(n->outputs[0], DT_FLOAT, x->rank, dims);
  return 0;
}

static void emit_params(Emitter *e, const nn_conv_params *p)
{
  char aa[32], ab[32];
  emitf(e, "  {\n    static const nn_conv_params p = {.n = %d, .c = %d, .h = %d, .w = %d, "
           ".m = %d, .kh = %d, .kw = %d, .oh = %d, .ow = %d,\n"
           "        .group = %d, .stride_h = %d, .stride_w = %d, .dil_h = %d, .dil_w = %d, "
           ".pad_t = %d, .pad_l = %d,\n        .act = %s, .act_alpha = %s, .act_beta = %s};\n",
        p->n, p->c, p->h, p->w, p->m, p->kh, p->kw, p->oh, p->ow, p->group, p->stride_h,
        p->stride_w, p->dil_h, p->dil_w, p->pad_t, p->pad_l, emit_act_name(p->act),
        emit_float_literal(p->act_alpha, aa), emit_float_literal(p->act_beta, ab));
}

static void conv_emit(Emitter *e, const Node *n)
{
  const ConvParams *cp = n->params;
  const Tensor *b = node_input(n, 2);
  emit_params(e, &cp->p);
  const Tensor *r = node_input(n, 3), *next = cp->next_w;
  if (next && next->storage != S_CONST) // not emitted: its Conv was dropped
    next = NULL;
  if (cp->packed)
    emitf(e, "    nn_conv_packed_forward(%s, %s, %s, %s, %s, %s, %lld, &p);\n  }\n",
          emit_ref(n->outputs[0]), emit_ref(n->inputs[0]), emit_ref(n->inputs[1]),
          b ? emit_ref(b) : "NULL", r ? emit_ref(r) : "NULL", next ? emit_ref(next) : "NULL",
          next ? (long long)tensor_count(next) : 0LL);
  else
    emitf(e, "    nn_conv_forward(%s, %s, %s, %s, &p);\n  }\n", emit_ref(n->outputs[0]),
          emit_ref(n->inputs[0]), emit_ref(n->inputs[1]), b ? emit_ref(b) : "NULL");
}

// dX += dY correlated back through W, dW += dY x X, dB += dY summed.
static void conv_backward(Emitter *e, const Node *n)
{
  const Tensor *x = n->inputs[0], *w = n->inputs[1], *b = node_input(n, 2);
  emit_params(e, n->params);
  emitf(e, "    nn_conv_backward(%s, %s, %s, %s, %s, %s, &p);\n  }\n", emit_grad(x), emit_grad(w),
        emit_grad(b), emit_grad(n->outputs[0]), emit_saved(n, x), emit_saved(n, w));
}

static int conv_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const Tensor *b = node_input(n, 2);
  nn_conv_forward(const_alloc(n->outputs[0]), n->inputs[0]->data, n->inputs[1]->data,
                  b ? b->data : NULL, n->params);
  return 0;
}

static int conv_fuse(Node *n, nn_act act, float alpha, float beta)
{
  nn_conv_params *p = n->params;
  if (p->act != NN_ACT_NONE)
    return 0;
  p->act = act;
  p->act_alpha = alpha;
  p->act_beta = beta;
  return 1;
}

// y*scale[o] + shift[o] per output channel o, folded into W and B.
static int conv_absorb(Diag *d, Graph *g, Node *n, const float *scale, const float *shift,
                       int channels)
{
  (void)d;
  nn_conv_params *p = n->params;
  Tensor *w = n->inputs[1], *b = node_input(n, 2);
  if (channels != p->m || w->kind != T_CONST || (b && b->kind != T_CONST) ||
      p->act != NN_ACT_NONE)
    return 0;
  Tensor *nw = new_const_like(g, w, "bnfold", w->rank, w->dims);
  int64_t per_out = tensor_count(w) / p->m;
  for (int64_t i = 0; i < tensor_count(w); i++)
    ((float *)nw->data)[i] = const_float(w, i) * scale[i / per_out];
  int64_t m = p->m;
  Tensor *nb = new_const_like(g, w, "bnfold_bias", 1, &m);
  for (int o = 0; o < p->m; o++)
    ((float *)nb->data)[o] = (b ? const_float(b, o) : 0.0f) * scale[o] + shift[o];
  n->inputs[1] = nw;
  node_set_input(n, 2, nb);
  return 1;
}

// Inference only: a constant W that the packed kernels take becomes a new
// constant in their order (the old one goes when nothing else reads it).
// The packed Conv before this one (prev, in schedule order) prefetches
// these weights while it ends, as they would come cold from memory.
static int conv_pack(Graph *g, Node *n, Node *prev)
{
  ConvParams *cp = n->params;
  Tensor *w = n->inputs[1];
  if (cp->packed || w->kind != T_CONST || !nn_conv_packs(&cp->p))
    return 0;
  Tensor *pw = new_const_like(g, w, "packed", w->rank, w->dims);
  nn_conv_pack_weights(pw->data, w->data, &cp->p);
  n->inputs[1] = pw;
  cp->packed = 1;
  if (prev != NULL && prev->op == n->op)
    ((ConvParams *)prev->params)->next_w = pw;
  return 1;
}

// Inference only, after packing: the packed kernel adds r to its tiles
// before the activation, which must not have been fused yet.
static int conv_fuse_residual(Node *n, Tensor *r)
{
  ConvParams *cp = n->params;
  if (!cp->packed || cp->p.act != NN_ACT_NONE || node_input(n, 3) || r->dtype != DT_FLOAT)
    return 0;
  node_set_input(n, 3, r);
  return 1;
}

static int64_t conv_macs(const Node *n)
{
  const nn_conv_params *p = n->params;
  return (int64_t)p->n * p->m * p->oh * p->ow * (p->c / p->group) * p->kh * p->kw;
}

const OpDef op_Conv = {.name = "Conv",
                       .check = conv_check,
                       .fold = conv_fold,
                       .emit = conv_emit,
                       .fuse_activation = conv_fuse,
                       .emit_backward = conv_backward,
                       .backward_reads = BWD_IN(0) | BWD_IN(1),
                       .trainable_inputs = BWD_IN(1) | BWD_IN(2),
                       .absorb_affine = conv_absorb,
                       .pack_weights = conv_pack,
                       .fuse_residual = conv_fuse_residual,
                       .macs = conv_macs};
