/*
 * nn.h - the onnxcc runtime: the kernels that generated model code calls.
 *
 * This is the only public runtime header; generated code includes it and
 * nothing else from the runtime. Every kernel is pure math over float32
 * buffers: it validates nothing (the compiler proved the shapes), allocates
 * nothing, prints nothing and never exits. Only libm is used.
 *
 * Conventions, shared by every kernel:
 *  - arguments are ordered outputs, inputs, then dimensions/parameters;
 *  - tensors are dense, row-major (C order); shape comments use the ONNX
 *    letters: n batch, c channels, h/w spatial, m/k/n matrix sizes;
 *  - strides are in elements; a stride of 0 broadcasts that dimension;
 *  - an output may alias an input only where a kernel says "in place ok";
 *  - backward kernels (added with training) accumulate into d<name> (+=).
 *
 * Parameter structs (nn_conv_params, ...) are emitted by the compiler as
 * static const data, so that calls in generated code stay short and readable.
 */
#ifndef NN_H
#define NN_H

#include <stddef.h>
#include <stdint.h>

#define NN_MAX_RANK 8

/* ---------------------------------------------------------------- basics */

/* y[i] = x[i], i < count.  y and x must not overlap. */
void nn_copy(float *y, const float *x, int count);

/* y[i] = value, i < count. */
void nn_fill(float *y, float value, int count);

/*
 * Strided copy over an index space of `rank` dims:
 *   y[sum idx[d]*y_strides[d]] = x[sum idx[d]*x_strides[d]]
 * Transpose, Slice (steps, negative steps through negative strides with x
 * pointing at the first element read), Concat and Split (sub-blocks of y or
 * x), Pad (interior of y) and Expand (0 strides in x) are all this one copy.
 * dims, y_strides, x_strides: (rank)
 */
void nn_copy_strided(float *y, const float *x, int rank, const int *dims,
                     const int *y_strides, const int *x_strides);

/* ----------------------------------------------------------- activations */

/*
 * Elementwise unary functions. alpha and beta are the ONNX attributes of
 * the op named in the comment (unused ones are ignored).
 */
typedef enum {
  NN_ACT_NONE = 0,       /* y = x                                          */
  NN_ACT_RELU,           /* y = max(x, 0)                                  */
  NN_ACT_LEAKY_RELU,     /* y = x >= 0 ? x : alpha*x                       */
  NN_ACT_ELU,            /* y = x >= 0 ? x : alpha*(exp(x)-1)              */
  NN_ACT_SELU,           /* y = beta*(x > 0 ? x : alpha*(exp(x)-1)), beta=gamma */
  NN_ACT_CELU,           /* y = max(0,x) + min(0, alpha*(exp(x/alpha)-1))  */
  NN_ACT_SIGMOID,        /* y = 1/(1+exp(-x))                              */
  NN_ACT_HARD_SIGMOID,   /* y = max(0, min(1, alpha*x + beta))             */
  NN_ACT_TANH,           /* y = tanh(x)                                    */
  NN_ACT_SOFTPLUS,       /* y = log(1+exp(x))                              */
  NN_ACT_SOFTSIGN,       /* y = x/(1+|x|)                                  */
  NN_ACT_HARD_SWISH,     /* y = x*max(0, min(1, x/6 + 1/2))                */
  NN_ACT_THRESHOLDED_RELU, /* y = x > alpha ? x : 0                        */
  NN_ACT_CLIP,           /* y = min(max(x, alpha), beta)                   */
  NN_ACT_ABS,            /* y = |x|                                        */
  NN_ACT_NEG,            /* y = -x                                         */
  NN_ACT_EXP,            /* y = exp(x)                                     */
  NN_ACT_LOG,            /* y = log(x)                                     */
  NN_ACT_SQRT,           /* y = sqrt(x)                                    */
  NN_ACT_ERF,            /* y = erf(x)                                     */
  NN_ACT_RECIPROCAL,     /* y = 1/x                                        */
  NN_ACT_FLOOR,          /* y = floor(x)                                   */
  NN_ACT_CEIL,           /* y = ceil(x)                                    */
  NN_ACT_SIN,            /* y = sin(x)                                     */
  NN_ACT_COS,            /* y = cos(x)                                     */
  NN_ACT_SIGN,           /* y = x > 0 ? 1 : x < 0 ? -1 : 0                 */
  NN_ACT_ROUND,          /* y = round half to even                         */
  NN_ACT_SCALE_SHIFT     /* y = alpha*x + beta                             */
} nn_act;

/* y[i] = act(x[i]), i < count.  In place ok (y == x). */
void nn_act_forward(float *y, const float *x, int count, nn_act act,
                    float alpha, float beta);

/* --------------------------------------------------- broadcasting binary */

typedef enum {
  NN_ADD = 0, /* y = a + b                 */
  NN_SUB,     /* y = a - b                 */
  NN_MUL,     /* y = a * b                 */
  NN_DIV,     /* y = a / b                 */
  NN_MIN,     /* y = min(a, b), NaN-propagating (unlike fminf) */
  NN_MAX,     /* y = max(a, b), NaN-propagating          */
  NN_POW,     /* y = pow(a, b)             */
  NN_PRELU    /* y = a < 0 ? a * b : a     (b is the slope) */
} nn_binop;

/*
 * y[idx] = a[idx . a_strides] op b[idx . b_strides] over the index space
 * `dims`; y is dense. Broadcasting is a 0 stride. The compiler merges
 * dimensions first, so the common cases reach here with rank 1 or 2.
 * dims, a_strides, b_strides: (rank).  In place ok when y == a or y == b
 * and that operand is not broadcast.
 */
void nn_binary_forward(float *y, const float *a, const float *b, nn_binop op,
                       int rank, const int *dims, const int *a_strides,
                       const int *b_strides);

/* -------------------------------------------------------- matrix products */

/*
 * ONNX Gemm with a fused activation:
 *   y = act(alpha * op(A) * op(B) + beta * C)
 * op(A): (m, k), stored as (m, k) or, when trans_a, as (k, m).
 * op(B): (k, n), stored as (k, n) or, when trans_b, as (n, k).
 * C: broadcast to (m, n) through c_row_stride/c_col_stride (0 broadcasts);
 * c may be NULL (no bias).  y: (m, n).  y must not alias a, b or c.
 */
typedef struct {
  int m, n, k;
  int trans_a, trans_b;
  float alpha, beta;
  int c_row_stride, c_col_stride;
  nn_act act;
  float act_alpha, act_beta;
} nn_gemm_params;

void nn_gemm_forward(float *y, const float *a, const float *b, const float *c,
                     const nn_gemm_params *p);

/*
 * The same Gemm with a constant B packed by nn_gemm_pack_weights(): op(B)
 * in panels of NN_GEMM_PANEL_WIDTH columns, each stored row after row, so
 * that a product of few rows (a batch-1 fully connected layer, bound by
 * reading B) streams B once, in order, with a vector of y per lane group
 * (gemm.c). The compiler packs a constant B of an x86-64 inference build
 * when nn_gemm_packs(p) (fewer than 4 rows).
 * bp: k * nn_gemm_packed_columns(p) floats; the panel of columns j0 = 0,
 * 64, ... has width w = min(64, n - j0) rounded up to a multiple of 16,
 * starts at bp + j0*k, and holds
 *   bp[j0*k + q*w + c] = op(B)(q, j0 + c) for c < n - j0, and 0 after.
 */
#define NN_GEMM_PANEL_WIDTH 64
int nn_gemm_packs(const nn_gemm_params *p);
long nn_gemm_packed_columns(const nn_gemm_params *p);
void nn_gemm_pack_weights(float *bp, const float *b, const nn_gemm_params *p);
void nn_gemm_packed_forward(float *y, const float *a, const float *bp, const float *c,
                            const nn_gemm_params *p);

/*
 * Batched MatMul: for i < batch,
 *   y[i*m*n ..](m, n) = a[a_offsets[i] ..](m, k) * b[b_offsets[i] ..](k, n)
 * The offsets (in elements) express numpy-style batch broadcasting.
 * a_offsets, b_offsets: (batch).  y must not alias a or b.
 */
void nn_matmul_forward(float *y, const float *a, const float *b, int batch,
                       const int *a_offsets, const int *b_offsets,
                       int m, int n, int k);

/* ----------------------------------------------------------- convolution */

/*
 * ONNX Conv (1-D as h = 1) with optional bias and fused activation.
 * x: (n, c, h, w)  w: (m, c/group, kh, kw)  b: (m) or NULL
 * y: (n, m, oh, ow) with
 *   y[n,o,i,j] = act(b[o] + sum_{ci,u,v} x[n, g*c/group+ci,
 *                 i*stride_h + u*dil_h - pad_t, j*stride_w + v*dil_w - pad_l]
 *                 * w[o, ci, u, v]),   g = o / (m/group)
 * Positions outside x read as 0.  y must not alias x.
 */
typedef struct {
  int n, c, h, w;
  int m, kh, kw;
  int oh, ow;
  int group;
  int stride_h, stride_w;
  int dil_h, dil_w;
  int pad_t, pad_l;
  nn_act act;
  float act_alpha, act_beta;
} nn_conv_params;

void nn_conv_forward(float *y, const float *x, const float *w, const float *b,
                     const nn_conv_params *p);

/*
 * The same convolution with its weights packed by nn_conv_pack_weights():
 * blocks of NN_CONV_PACK_WIDTH output channels, the block's weights of one
 * tap side by side, so that a kernel can hold output channels across its
 * vector lanes (conv_packed.c). The compiler packs constant weights of an
 * inference build for x86-64 (--target x86-64) when nn_conv_packs(p) (one
 * group, dilation 1, a kernel larger than 1x1, at least one block of
 * outputs).
 * w: (m, c, kh, kw)  wp: m*c*kh*kw floats, block o0 = 0, 32, ... of width
 * min(32, m - o0) at wp + o0*c*kh*kw:
 *   wp[o0*c*kh*kw + q*width + j] = w[(o0 + j)*c*kh*kw + q]
 */
#define NN_CONV_PACK_WIDTH 32
int nn_conv_packs(const nn_conv_params *p);
void nn_conv_pack_weights(float *wp, const float *w, const nn_conv_params *p);
/* y = act(conv(x) + b + r): r (n, m, oh, ow) is a tensor added before the
 * activation (a residual connection), or NULL; y overlaps neither x nor r
 * (conv_small.c keeps partial sums in y). next: the packed weights
 * of the convolution that runs next (next_floats of them), or NULL: the
 * last blocks prefetch their start into L2, a hint that changes no result. */
void nn_conv_packed_forward(float *y, const float *x, const float *wp, const float *b,
                            const float *r, const float *next, long next_floats,
                            const nn_conv_params *p);

/* --------------------------------------------------------------- pooling */

/*
 * MaxPool / AveragePool over (n, c, h, w) (1-D as h = 1).
 * Window (i, j) covers rows i*stride_h - pad_t + u*dil_h, u < kh (likewise
 * columns). Positions outside x are skipped by max. For average, the
 * divisor counts in-bounds positions, plus, when count_include_pad, the
 * positions inside the explicit padding [-pad_t, h + pad_b) x [-pad_l,
 * w + pad_r) (never the extra cells that ceil_mode adds).
 * x: (n, c, h, w)  y: (n, c, oh, ow)
 */
typedef struct {
  int n, c, h, w;
  int oh, ow;
  int kh, kw;
  int stride_h, stride_w;
  int dil_h, dil_w;
  int pad_t, pad_l, pad_b, pad_r;
  int count_include_pad;
} nn_pool_params;

void nn_maxpool_forward(float *y, const float *x, const nn_pool_params *p);
void nn_avgpool_forward(float *y, const float *x, const nn_pool_params *p);

/* y[i] = mean (or max) over x[i*size .. (i+1)*size).  x: (count, size)  y: (count) */
void nn_global_avgpool_forward(float *y, const float *x, int count, int size);
void nn_global_maxpool_forward(float *y, const float *x, int count, int size);

/*
 * Per-channel affine map, the inference form of BatchNormalization once
 * the compiler has folded mean, variance, scale and bias:
 *   y[n, c, i] = x[n, c, i] * scale[c] + shift[c]
 * x, y: (n, c, size)  scale, shift: (c).  In place ok.
 */
void nn_channel_affine_forward(float *y, const float *x, const float *scale,
                               const float *shift, int n, int c, int size);

/* ------------------------------------------------------------- normalise */

/*
 * Softmax / LogSoftmax along the middle axis of x viewed as
 * (outer, len, inner). Numerically stable (subtracts the max).
 * x, y: (outer, len, inner).  In place ok.
 */
void nn_softmax_forward(float *y, const float *x, int outer, int len, int inner);
void nn_log_softmax_forward(float *y, const float *x, int outer, int len,
                            int inner);

/* ------------------------------------------------------------- reduction */

typedef enum {
  NN_REDUCE_SUM = 0,
  NN_REDUCE_MEAN,
  NN_REDUCE_MAX,
  NN_REDUCE_MIN,
  NN_REDUCE_PROD,
  NN_REDUCE_SUM_SQUARE,
  NN_REDUCE_L1,
  NN_REDUCE_L2,
  NN_REDUCE_LOG_SUM,
  NN_REDUCE_LOG_SUM_EXP
} nn_reduce_op;

/*
 * For every index o of the kept space (keep_dims), y[o] (dense) is the
 * reduction of x[o . keep_strides + r . red_strides] over r in red_dims.
 * An empty reduced space gives the reduction's identity (0 for sums,
 * -inf for max, +inf for min, 1 for product).
 * keep_dims, keep_strides: (keep_rank)  red_dims, red_strides: (red_rank)
 */
void nn_reduce_forward(float *y, const float *x, nn_reduce_op op,
                       int keep_rank, const int *keep_dims,
                       const int *keep_strides, int red_rank,
                       const int *red_dims, const int *red_strides);

/* ---------------------------------------------------------------- gather */

/*
 * Gather along an axis with indices known at compile time (already made
 * non-negative): x viewed as (outer, axis_len, inner), y as
 * (outer, count, inner):  y[o, i, j] = x[o, indices[i], j].
 * indices: (count).
 */
void nn_gather_forward(float *y, const float *x, const int32_t *indices,
                       int outer, int axis_len, int count, int inner);

/* ----------------------------------------------------------- checkpoints */

/* CRC-32 (zlib's): crc = nn_crc32(0, data, len); chain by passing it back. */
uint32_t nn_crc32(uint32_t crc, const void *data, size_t len);

/* See runtime/kernels/checkpoint.c for the byte layout. */
#define NN_CKPT_VERSION 1u
#define NN_CKPT_ETOOSMALL (-2) /* the buffer is smaller than the checkpoint */
#define NN_CKPT_EMAGIC (-3)    /* not an onnxcc checkpoint */
#define NN_CKPT_EVERSION (-4)  /* a checkpoint format this runtime does not read */
#define NN_CKPT_EMODEL (-5)    /* a checkpoint of another model or configuration */
#define NN_CKPT_ETRUNCATED (-6)
#define NN_CKPT_ECORRUPT (-7)  /* CRC mismatch or trailing bytes */

typedef struct {
  const char *name; /* ONNX initializer name (weights) or state name */
  int kind;         /* 0: trainable weight, 1: optimizer state */
  float *data;      /* (count) */
  int count;
} nn_ckpt_tensor;

/* Bytes a checkpoint of these tensors takes. */
size_t nn_ckpt_size(const nn_ckpt_tensor *tensors, int count);
/* Writes a checkpoint into buf; returns its size, or NN_CKPT_ETOOSMALL. */
long nn_ckpt_save(void *buf, size_t cap, uint32_t fingerprint, uint32_t steps,
                  const nn_ckpt_tensor *tensors, int count);
/* Validates buf completely, then copies into the tensors and *steps;
   returns 0, or a negative NN_CKPT_E* leaving everything untouched. */
int nn_ckpt_load(const void *buf, size_t len, uint32_t fingerprint, uint32_t *steps,
                 const nn_ckpt_tensor *tensors, int count);

/* ============================================================== Training */

/*
 * Backward kernels, losses and optimizer updates, called by the training
 * step the compiler emits (forward, loss, backward through every node in
 * reverse, update).
 *
 * Conventions, shared by every backward kernel:
 *  - nn_<op>_backward takes the gradient outputs first (dx, dw, db, ... in
 *    the order of the forward's inputs), then dy, then the forward tensors
 *    it reads, then the forward's own params struct or dimensions;
 *  - a gradient d<name> is dL/d<name>, of <name>'s shape, and is
 *    ACCUMULATED (+=): the caller zeroes it once per step, so a tensor read
 *    by several nodes (fan-out, y = x op x) sums every contribution;
 *  - any gradient output may be NULL (frozen weight, input that needs no
 *    gradient): its work is skipped, and the forward tensors only it needs
 *    may be NULL too; each kernel says which tensors it reads;
 *  - gradient outputs never alias dy or a forward tensor (two gradient
 *    outputs may be the same buffer where the forward inputs are the same
 *    tensor);
 *  - fused activations are a forward-only optimisation: params structs
 *    passed to a backward kernel have act == NN_ACT_NONE;
 *  - derivatives at kinks follow PyTorch 1.13 (see nn_act_backward).
 */

/*
 * dx[i] += dy[i] * act'(x[i]).  Reads y for RELU, SIGMOID, TANH (x is then
 * ignored and may be NULL; if y is NULL they fall back to x); reads nothing
 * for NONE, NEG, SCALE_SHIFT, FLOOR, CEIL, SIGN, ROUND (the last four have
 * zero gradient and add nothing); reads x for every other kind (y may be
 * NULL). Derivative at the kinks, as PyTorch: RELU 0 at 0; LEAKY_RELU, ELU,
 * SELU, CELU take the negative side at x = 0 (alpha, alpha, beta*alpha, 1);
 * CLIP passes where alpha <= x <= beta; HARD_SIGMOID passes alpha only where
 * 0 < alpha*x + beta < 1; HARD_SWISH is x/3 + 1/2 on [-3, 3] (-1/2 at -3,
 * 3/2 at 3); THRESHOLDED_RELU passes where x > alpha; ABS is 0 at 0.
 * dx, dy, x, y: (count)
 */
void nn_act_backward(float *dx, const float *dy, const float *x, const float *y,
                     int count, nn_act act, float alpha, float beta);

/*
 * Backward of nn_binary_forward, same index space and strides; a 0 stride
 * sums the gradient over the broadcast dimension. dy and y are dense.
 *   ADD/SUB read nothing; MUL, MIN, MAX, PRELU read a and b; DIV and POW
 *   read a, b and y (y may be NULL: recomputed).  MIN/MAX split ties
 *   evenly (torch.minimum/maximum); PRELU's db is the slope gradient, with
 *   da = a > 0 ? dy : b*dy; POW gives 0 where b == 0 (da) and where a == 0,
 *   b >= 0 (db).  da and db may be the same buffer (y = x op x).
 */
void nn_binary_backward(float *da, float *db, const float *dy, const float *a,
                        const float *b, const float *y, nn_binop op, int rank,
                        const int *dims, const int *a_strides,
                        const int *b_strides);

/*
 * Backward of nn_gemm_forward (p->act == NN_ACT_NONE), each gradient in its
 * operand's stored layout:
 *   dop(A) += alpha * dY op(B)^T   (reads b)
 *   dop(B) += alpha * op(A)^T dY   (reads a)
 *   dC     += beta * dY through c_row_stride/c_col_stride (0 strides sum;
 *             nothing when beta == 0)
 * dy: (m, n)
 */
void nn_gemm_backward(float *da, float *db, float *dc, const float *dy,
                      const float *a, const float *b, const nn_gemm_params *p);

/*
 * Backward of nn_matmul_forward: per batch entry i,
 *   dA_i += dY_i B_i^T (reads b),  dB_i += A_i^T dY_i (reads a);
 * offsets shared by several entries (broadcast batches) accumulate.
 * dy: (batch, m, n)
 */
void nn_matmul_backward(float *da, float *db, const float *dy, const float *a,
                        const float *b, int batch, const int *a_offsets,
                        const int *b_offsets, int m, int n, int k);

/*
 * Backward of nn_conv_forward (p->act == NN_ACT_NONE), any group, stride,
 * dilation and padding:
 *   dx += dY correlated with w flipped back (reads w)
 *   dw += dY correlated with x              (reads x)
 *   db[o] += sum of dY's plane o            (reads nothing)
 * dx: (n, c, h, w)  dw: (m, c/group, kh, kw)  db: (m)  dy: (n, m, oh, ow)
 */
void nn_conv_backward(float *dx, float *dw, float *db, const float *dy,
                      const float *x, const float *w, const nn_conv_params *p);

/*
 * Pool backward. Max: each dY cell goes to its window's maximum in x (the
 * first one on ties, as PyTorch; recomputed from x). Average: dY / divisor
 * to every in-bounds position the forward summed (the forward's divisor).
 * Global: max as above over each row, average dY / size to the whole row.
 * dx: (n, c, h, w) or (count, size)  dy: (n, c, oh, ow) or (count)
 */
void nn_maxpool_backward(float *dx, const float *dy, const float *x,
                         const nn_pool_params *p);
void nn_avgpool_backward(float *dx, const float *dy, const nn_pool_params *p);
void nn_global_avgpool_backward(float *dx, const float *dy, int count, int size);
void nn_global_maxpool_backward(float *dx, const float *dy, const float *x,
                                int count, int size);

/*
 * Backward of nn_channel_affine_forward with frozen (folded) BatchNorm
 * statistics and parameters: dx[n, c, i] += dy[n, c, i] * scale[c].
 */
void nn_channel_affine_backward(float *dx, const float *dy, const float *scale,
                                int n, int c, int size);

/*
 * Softmax: dx += y * (dy - sum_len(dy * y)), y the softmax output.
 * LogSoftmax: dx += dy - exp(y) * sum_len(dy), y the log-softmax output.
 * dx, dy, y: (outer, len, inner)
 */
void nn_softmax_backward(float *dx, const float *dy, const float *y, int outer,
                         int len, int inner);
void nn_log_softmax_backward(float *dx, const float *dy, const float *y,
                             int outer, int len, int inner);

/* y[i] += x[i], i < count (Identity, Reshape, one-input Sum backward). */
void nn_add(float *y, const float *x, int count);

/*
 * nn_copy_strided with += : y[idx . y_strides] += x[idx . x_strides].
 * The backward of Transpose, Slice, Concat, Split, Pad and Expand is this
 * call with the forward's roles swapped (y the input gradient, x the output
 * gradient); a 0 stride in y sums (Expand).  y and x must not overlap.
 */
void nn_add_strided(float *y, const float *x, int rank, const int *dims,
                    const int *y_strides, const int *x_strides);

/*
 * Backward of nn_gather_forward: dx[o, indices[i], j] += dy[o, i, j]
 * (repeated indices accumulate).  dx: (outer, axis_len, inner)
 */
void nn_gather_backward(float *dx, const float *dy, const int32_t *indices,
                        int outer, int axis_len, int count, int inner);

/*
 * Backward of nn_reduce_forward, same stride arguments:
 *   SUM dy   MEAN dy/count   SUM_SQUARE 2x*dy   L1 sign(x)*dy
 *   L2 x/y*dy (0 where y == 0)   LOG_SUM dy/exp(y)   LOG_SUM_EXP exp(x-y)*dy
 *   MAX/MIN dy/ties to every element equal to y (torch.amax/amin)
 *   PROD dy*y/x; with zeros, torch's rule (only a single zero gets a
 *        gradient: the product of the others)
 * x is read by all but SUM, MEAN, LOG_SUM; y by L2, LOG_SUM, LOG_SUM_EXP,
 * MAX, MIN, PROD (the unread one may be NULL).  dy: (keep count)
 */
void nn_reduce_backward(float *dx, const float *dy, const float *x, const float *y,
                        nn_reduce_op op, int keep_rank, const int *keep_dims,
                        const int *keep_strides, int red_rank, const int *red_dims,
                        const int *red_strides);

/* ----------------------------------------------------------------- losses */

/*
 * Softmax cross-entropy, mean over the batch, fused with its gradient, as
 * torch.nn.functional.cross_entropy(logits, labels, reduction='mean'):
 *   returns L = (1/V) sum_r [log sum_c exp(logits[r, c]) - logits[r, labels[r]]]
 *   WRITES  dlogits = (softmax(logits) - onehot(labels)) / V * grad_scale
 *   writes  probs_or_null = softmax(logits) when not NULL
 * V is the number of rows whose label is in [0, classes); a label outside
 * it is ignored (never read through; its row adds no loss and gets zero
 * gradient, like PyTorch's ignore_index); no valid row returns 0.
 * grad_scale (e.g. 1/K when K calls accumulate into one update) scales the
 * gradient only, not the returned loss. Stable for any logit magnitude.
 * dlogits may be logits (in place); probs must not alias either.
 * logits, dlogits, probs: (batch, classes)  labels: (batch)
 */
float nn_softmax_xent_forward_backward(float *dlogits, float *probs_or_null,
                                       const float *logits, const int32_t *labels,
                                       int batch, int classes, float grad_scale);

/*
 * Negative log-likelihood over log-probabilities (a model ending in
 * LogSoftmax; chain nn_log_softmax_backward after it):
 *   returns L = -(1/V) sum_r logp[r, labels[r]]
 *   WRITES  dlogp = -onehot(labels) / V * grad_scale
 * Labels and V as for nn_softmax_xent_forward_backward.
 */
float nn_nll_forward_backward(float *dlogp, const float *logp, const int32_t *labels,
                              int batch, int classes, float grad_scale);

/* ------------------------------------------------------------- optimizers */

/*
 * Hyperparameters, as torch.optim names them. SGD reads lr, momentum,
 * dampening, weight_decay, nesterov; Adam/AdamW read lr, weight_decay,
 * beta1, beta2, eps.
 */
typedef struct {
  float lr, momentum, dampening, weight_decay;
  int nesterov;
  float beta1, beta2, eps;
  int amsgrad_unused; /* reserved: AMSGrad is not implemented */
} nn_optim_config;

/*
 * One update of w with its gradient, PyTorch 1.13's torch.optim.SGD:
 *   g = grad + weight_decay * w
 *   velocity = step == 1 ? g : momentum * velocity + (1 - dampening) * g
 *   w -= lr * (nesterov ? g + momentum * velocity : velocity)
 * step counts updates from 1 (the first initialises velocity). Without
 * momentum (momentum == 0 or velocity NULL): w -= lr * g.
 * w, velocity, grad: (count)
 */
void nn_sgd_step(float *w, float *velocity_or_null, const float *grad, int count,
                 const nn_optim_config *c, int step);

/*
 * One update, PyTorch 1.13's torch.optim.Adam (decoupled = 0, weight decay
 * added to the gradient) or AdamW (decoupled = 1, w *= 1 - lr*weight_decay
 * first):
 *   m = beta1 m + (1 - beta1) g,   v = beta2 v + (1 - beta2) g^2
 *   w -= lr / (1 - beta1^step) * m / (sqrt(v) / sqrt(1 - beta2^step) + eps)
 * m and v start at 0; step counts updates from 1.
 * w, m, v, grad: (count)
 */
void nn_adam_step(float *w, float *m, float *v, const float *grad, int count,
                  const nn_optim_config *c, int step, int decoupled);

/* sum_i g[i]^2: add over all parameters for the global norm of clipping. */
float nn_grad_norm_sq(const float *g, int count);

/* g[i] *= s. */
void nn_scale(float *g, float s, int count);

/* 1 if every x[i] is finite (no inf, no NaN), else 0. */
int nn_all_finite(const float *x, int count);

#endif /* NN_H */
