/*
 * pool.c - MaxPool and AveragePool (1-D and 2-D: kernel_shape, strides,
 * pads or auto_pad, dilations, ceil_mode, count_include_pad), and
 * GlobalAveragePool / GlobalMaxPool over any spatial rank.
 *
 * MaxPool's optional Indices output and storage_order=1 are not
 * supported; 3-D pooling is not supported.
 */
#include "compiler.h"

#include <string.h>

static int pool_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  int is_max = !strcmp(n->op_type, "MaxPool");
  const char *known[] = {"auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides",
                         is_max ? "storage_order" : "count_include_pad", NULL};
  int64_t kernel[4], ceil_mode, cip = 0, storage_order = 0;
  int nk;
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0 ||
      require_float(d, n, 0) != 0 || attr_ints(d, n, "kernel_shape", kernel, 4, &nk) != 0 ||
      attr_int(d, n, "ceil_mode", 0, &ceil_mode) != 0 ||
      attr_int(d, n, "count_include_pad", 0, &cip) != 0 ||
      attr_int(d, n, "storage_order", 0, &storage_order) != 0)
    return -1;
  CHECK(d, n, storage_order == 0, "storage_order=1 is not supported");
  CHECK(d, n, n->noutputs < 2 || !n->outputs[1] ||
                  (n->outputs[1]->nuses == 0 && n->outputs[1]->output_index < 0),
        "the Indices output is not supported");
  Tensor *x = n->inputs[0];
  CHECK(d, n, x->rank == 3 || x->rank == 4,
        "%d-D pooling is not supported (input X has rank %d; 1-D and 2-D are)",
        x->rank - 2, x->rank);
  int rank = x->rank - 2;
  CHECK(d, n, nk >= 0, "attribute 'kernel_shape' is missing");
  CHECK(d, n, nk == rank, "kernel_shape has %d values, expected %d", nk, rank);
  Window w;
  if (window_check(d, n, x->dims + 2, rank, kernel, ceil_mode != 0, &w) != 0)
    return -1;
  nn_pool_params *p = xcalloc(1, sizeof *p);
  n->params = p;
  int two = rank == 2;
  p->n = (int)x->dims[0];
  p->c = (int)x->dims[1];
  p->h = two ? (int)x->dims[2] : 1;
  p->w = (int)x->dims[x->rank - 1];
  p->oh = two ? (int)w.out[0] : 1;
  p->ow = (int)w.out[rank - 1];
  p->kh = two ? (int)w.kernel[0] : 1;
  p->kw = (int)w.kernel[rank - 1];
  p->stride_h = two ? (int)w.stride[0] : 1;
  p->stride_w = (int)w.stride[rank - 1];
  p->dil_h = two ? (int)w.dilation[0] : 1;
  p->dil_w = (int)w.dilation[rank - 1];
  p->pad_t = two ? (int)w.pad_begin[0] : 0;
  p->pad_l = (int)w.pad_begin[rank - 1];
  p->pad_b = two ? (int)w.pad_end[0] : 0;
  p->pad_r = (int)w.pad_end[rank - 1];
  p->count_include_pad = cip != 0;
  int64_t dims[4] = {x->dims[0], x->dims[1], w.out[0], w.out[1]};
  set_shape(n->outputs[0], DT_FLOAT, x->rank, dims);
  return 0;
}

static void emit_params(Emitter *e, const nn_pool_params *p)
{
  emitf(e, "  {\n    static const nn_pool_params p = {.n = %d, .c = %d, .h = %d, .w = %d, "
           ".oh = %d, .ow = %d, .kh = %d, .kw = %d,\n        .stride_h = %d, .stride_w = %d, "
           ".dil_h = %d, .dil_w = %d, .pad_t = %d, .pad_l = %d, .pad_b = %d, .pad_r = %d,\n"
           "        .count_include_pad = %d};\n",
        p->n, p->c, p->h, p->w, p->oh, p->ow, p->kh, p->kw, p->stride_h, p->stride_w, p->dil_h,
        p->dil_w, p->pad_t, p->pad_l, p->pad_b, p->pad_r, p->count_include_pad);
}

static int is_max(const Node *n)
{
  return !strcmp(n->op_type, "MaxPool") || !strcmp(n->op_type, "GlobalMaxPool");
}

static void pool_emit(Emitter *e, const Node *n)
{
  emit_params(e, n->params);
  emitf(e, "    nn_%s_forward(%s, %s, &p);\n  }\n", is_max(n) ? "maxpool" : "avgpool",
        emit_ref(n->outputs[0]), emit_ref(n->inputs[0]));
}

// Max: dY goes to the window's (first) maximum. Average: dY / divisor to
// every position the divisor counted.
static void pool_backward(Emitter *e, const Node *n)
{
  const Tensor *x = n->inputs[0];
  if (!x->grad)
    return;
  emit_params(e, n->params);
  if (is_max(n))
    emitf(e, "    nn_maxpool_backward(%s, %s, %s, &p);\n  }\n", emit_grad(x),
          emit_grad(n->outputs[0]), emit_saved(n, x));
  else
    emitf(e, "    nn_avgpool_backward(%s, %s, &p);\n  }\n", emit_grad(x), emit_grad(n->outputs[0]));
}

static int pool_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  float *y = const_alloc(n->outputs[0]);
  if (!is_max(n))
    nn_avgpool_forward(y, n->inputs[0]->data, n->params);
  else
    nn_maxpool_forward(y, n->inputs[0]->data, n->params);
  return 0;
}

static int64_t pool_macs(const Node *n) // -1 past int64_t
{
  const nn_pool_params *p = n->params;
  return checked_mul(checked_mul((int64_t)p->n * p->c * p->oh * p->ow, p->kh), p->kw);
}

static int global_check(Diag *d, Graph *g, Node *n)
{
  (void)g;
  const char *known[] = {NULL};
  if (check_attrs_known(d, n, known) != 0 || require_inputs(d, n, 1, 1) != 0 ||
      require_float(d, n, 0) != 0)
    return -1;
  Tensor *x = n->inputs[0];
  CHECK(d, n, x->rank >= 3, "input X has rank %d, expected at least 3", x->rank);
  int64_t dims[MAX_RANK];
  for (int k = 0; k < x->rank; k++)
    dims[k] = k < 2 ? x->dims[k] : 1;
  set_shape(n->outputs[0], DT_FLOAT, x->rank, dims);
  return 0;
}

static void global_emit(Emitter *e, const Node *n)
{
  const Tensor *x = n->inputs[0];
  int64_t count = x->dims[0] * x->dims[1];
  emitf(e, "  nn_global_%s_forward(%s, %s, %lld, %lld);\n", is_max(n) ? "maxpool" : "avgpool",
        emit_ref(n->outputs[0]), emit_ref(x), (long long)count,
        (long long)(tensor_count(x) / (count ? count : 1)));
}

static void global_backward(Emitter *e, const Node *n)
{
  const Tensor *x = n->inputs[0];
  int64_t count = x->dims[0] * x->dims[1];
  if (!x->grad)
    return;
  if (is_max(n))
    emitf(e, "  nn_global_maxpool_backward(%s, %s, %s, %lld, %lld);\n", emit_grad(x),
          emit_grad(n->outputs[0]), emit_saved(n, x), (long long)count,
          (long long)(tensor_count(x) / (count ? count : 1)));
  else
    emitf(e, "  nn_global_avgpool_backward(%s, %s, %lld, %lld);\n", emit_grad(x),
          emit_grad(n->outputs[0]), (long long)count,
          (long long)(tensor_count(x) / (count ? count : 1)));
}

static int global_fold(Diag *d, Graph *g, Node *n)
{
  (void)d, (void)g;
  const Tensor *x = n->inputs[0];
  int count = (int)(x->dims[0] * x->dims[1]);
  int size = count ? (int)(tensor_count(x) / count) : 0;
  float *y = const_alloc(n->outputs[0]);
  if (!is_max(n))
    nn_global_avgpool_forward(y, x->data, count, size);
  else
    nn_global_maxpool_forward(y, x->data, count, size);
  return 0;
}

static int64_t global_macs(const Node *n)
{
  return tensor_count(n->inputs[0]);
}

const OpDef op_MaxPool = {.name = "MaxPool", .check = pool_check, .fold = pool_fold,
                          .emit = pool_emit, .emit_backward = pool_backward,
                          .backward_reads = BWD_IN(0), .macs = pool_macs};
const OpDef op_AveragePool = {.name = "AveragePool", .check = pool_check, .fold = pool_fold,
                              .emit = pool_emit, .emit_backward = pool_backward,
                              .macs = pool_macs};
const OpDef op_GlobalAveragePool = {.name = "GlobalAveragePool", .check = global_check,
                                    .fold = global_fold, .emit = global_emit,
                                    .emit_backward = global_backward, .macs = global_macs};
const OpDef op_GlobalMaxPool = {.name = "GlobalMaxPool", .check = global_check,
                                .fold = global_fold, .emit = global_emit,
                                .emit_backward = global_backward, .backward_reads = BWD_IN(0),
                                .macs = global_macs};
