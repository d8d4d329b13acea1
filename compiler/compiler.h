/*
 * compiler.h - the one internal header of the onnxcc compiler.
 *
 * Sections follow the source files: the IR (graph.c), diagnostics (diag.c),
 * the operator registry (ops/), the passes (check.c, passes.c, plan.c,
 * emit.c) and the driver (compile.c). Protobuf types never appear here:
 * proto/onnx_read.c turns the ONNX file into this IR and is the only code
 * that knows protobuf-c.
 */
#ifndef COMPILER_H
#define COMPILER_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nn.h"

#define MAX_RANK NN_MAX_RANK

//
// graph.c: the IR
//

// ONNX TensorProto.DataType numbering, so the reader maps 1:1.
typedef enum {
  DT_UNDEFINED = 0, DT_FLOAT = 1, DT_UINT8 = 2, DT_INT8 = 3, DT_UINT16 = 4,
  DT_INT16 = 5, DT_INT32 = 6, DT_INT64 = 7, DT_STRING = 8, DT_BOOL = 9,
  DT_FLOAT16 = 10, DT_DOUBLE = 11, DT_UINT32 = 12, DT_UINT64 = 13,
  DT_COMPLEX64 = 14, DT_COMPLEX128 = 15, DT_BFLOAT16 = 16
} DType;

typedef enum {
  T_ACTIVATION, // computed by a node at run time
  T_INPUT,      // graph input, supplied by the caller
  T_CONST,      // initializer, Constant, or folded at compile time
  T_GRAD        // dL/d(another tensor), made by grad.c for training
} TensorKind;

// Storage of a tensor in generated code, decided by plan.c.
typedef enum {
  S_NONE, S_ARENA, S_INPUT, S_OUTPUT, S_CONST,
  S_PARAM,  // trainable weight: static, writable, initialised from the model
  S_STATE   // persistent training state: optimizer moments, accumulated gradients
} StorageKind;

typedef struct Tensor Tensor;
struct Tensor {
  char *name;
  DType dtype;
  int rank;                   // -1 while unknown
  int64_t dims[MAX_RANK];
  char *dim_params[MAX_RANK]; // symbolic dimension names of graph inputs, or NULL
  TensorKind kind;
  // T_CONST data: float[] for floating types, int64_t[] for integer and bool
  // types (widened), NULL for others. Owned by the tensor.
  void *data;
  int producer;     // index of the producing node, -1 for inputs and constants
  int input_index;  // k if graph input k, else -1
  int output_index; // k if graph output k, else -1
  int nuses;        // number of (live) node inputs reading it
  struct Node *reader; // with nuses == 1, the node reading it (graph_count_uses)
  // Set by plan.c:
  Tensor *alias;    // shares storage with this tensor (views, in-place ops)
  StorageKind storage;
  int64_t offset;   // bytes into the arena, for S_ARENA roots
  int first_use, last_use; // schedule positions
  char *cname;      // identifier in generated code
  int referenced;   // emitted code reads it (set by emit_ref)
  // Training (grad.c):
  int trainable;    // a T_CONST weight the optimizer updates
  int requires_grad;
  Tensor *grad;     // its T_GRAD tensor, or NULL
  int grad_zeroed;  // emission state: the gradient buffer has been cleared
  int persistent;   // lives across calls (optimizer state, accumulated gradients)
};

typedef enum {
  A_UNDEFINED = 0, A_FLOAT = 1, A_INT = 2, A_STRING = 3, A_TENSOR = 4,
  A_GRAPH = 5, A_FLOATS = 6, A_INTS = 7, A_STRINGS = 8
} AttrType;

typedef struct {
  char *name;
  AttrType type;
  float f;
  int64_t i;
  char *s;
  int count;       // elements of floats/ints/strings
  float *floats;
  int64_t *ints;
  Tensor *t;       // A_TENSOR (not in the graph's tensor list; owned here)
} Attr;

// Caps on what one model may make the compiler hold or do (README, "Hostile
// input"); rank is capped by MAX_RANK. Checked by the reader (initializers,
// node count) and by check.c (graph inputs, every node output, constant
// data made by folding). CompileOptions.limits fields left 0 take the
// defaults (limits_resolve).
typedef struct {
  int64_t max_elements;     // elements of any one tensor (--max-elements)
  int64_t max_weight_bytes; // constant data as held: initializers and folded
                            // tensors, 4 bytes per float, 8 per integer (--max-weight-bytes)
  int64_t max_nodes;        // nodes in the graph (--max-nodes)
  int64_t max_fold_macs;    // multiply-accumulates all folds may spend; past it, float
                            // nodes over constants run in generated code (no flag)
} Limits;

#define LIMIT_MAX_ELEMENTS ((int64_t)1 << 28)
#define LIMIT_MAX_WEIGHT_BYTES ((int64_t)1 << 30)
#define LIMIT_MAX_NODES 100000
#define LIMIT_MAX_FOLD_MACS ((int64_t)1 << 30)
// Upper bound of --max-elements: the kernels index tensors with int.
#define LIMIT_ELEMENTS_CEILING ((int64_t)INT32_MAX)

// The defaults where `in` (may be NULL) has 0.
Limits limits_resolve(const Limits *in);

typedef struct OpDef OpDef;

typedef struct Node {
  char *name;      // ONNX node name (may be empty)
  char *op_type;
  char *domain;
  int index;       // position in the original ONNX graph, for messages
  int ninputs, noutputs;
  Tensor **inputs; // an entry is NULL for an omitted optional input
  Tensor **outputs;
  int nattrs;
  Attr *attrs;
  const OpDef *op; // NULL when unsupported
  void *params;    // op-private parsed attributes, owned (free())
  int dead;        // removed by a pass
  char *note;      // what passes merged into this node, for the emitted comment
} Node;

typedef struct {
  char *path;      // model file, for messages
  char *producer;
  int64_t ir_version;
  int opset;       // of the default (ai.onnx) domain
  int eval_mode;   // compile training-mode Dropout/BatchNormalization as inference
  int training;    // compiling a training step too (--train)
  Tensor **tensors;
  int ntensors, tensors_cap;
  Node **nodes;
  int nnodes, nodes_cap;
  Tensor **inputs;
  int ninputs;
  Tensor **outputs;
  int noutputs;
  void *name_index; // hash table name -> tensor (graph.c)
  Limits limits;    // the caps in force (defaults from graph_new)
} Graph;

Graph *graph_new(const char *path);
void graph_free(Graph *g);
Tensor *graph_find_tensor(Graph *g, const char *name);
Tensor *graph_add_tensor(Graph *g, const char *name); // NULL if the name exists
Node *graph_add_node(Graph *g, const char *name, const char *op_type,
                     int ninputs, int noutputs);
void tensor_free(Tensor *t);
void node_free(Node *n);

int64_t tensor_count(const Tensor *t);        // element count; -1 if unknown
int dtype_size(DType dt);                     // bytes per element, 0 unknown
int is_float_type(DType dt);
int is_int_type(DType dt);                     // integers and bool
const char *dtype_name(DType dt);
const Attr *node_attr(const Node *n, const char *name);
int shape_equal(const Tensor *a, const Tensor *b);
char *shape_str(const Tensor *t, char *buf, size_t cap); // "(1, 3, 224, 224)"
// Allocation never returns NULL: failure longjmps to the handler the driver set.
char *xstrdup(const char *s);
void *xcalloc(size_t count, size_t size);
void *xmalloc(size_t size);
void *xrealloc(void *p, size_t size);
void oom_set_handler(jmp_buf *target);
Tensor *node_input(const Node *n, int i);      // NULL if absent or out of range

//
// diag.c: diagnostics, collected; only main.c prints them
//

typedef struct {
  const char *file;
  char *text;       // all messages, newline separated
  size_t len, cap;
  int errors;
} Diag;

void diag_init(Diag *d, const char *file);
void diag_free(Diag *d);
void diag_error(Diag *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void diag_node(Diag *d, const Node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void diag_note(Diag *d, const char *fmt, ...) // indented "  hint: ..." line
    __attribute__((format(printf, 2, 3)));

// Report and fail when cond is false: the one checking macro.
#define CHECK(d, node, cond, ...)                                              \
  do {                                                                         \
    if (!(cond)) {                                                             \
      diag_node((d), (node), __VA_ARGS__);                                     \
      return -1;                                                               \
    }                                                                          \
  } while (0)

//
// emit.c: generated C, written through emitf()
//

typedef struct {
  FILE *out;
  const char *name;   // model identifier, as given
  Graph *g;
  const char *upper;  // the identifier upper-cased, for macros
} Emitter;

void emitf(Emitter *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *emit_ref(const Tensor *t);         // C expression for t's data
// t's data if the op's backward_reads lists it (else "NULL"), for backward calls.
const char *emit_saved(const Node *n, const Tensor *t);
// t's gradient buffer, or "NULL" when t needs no gradient.
const char *emit_grad(const Tensor *t);
const char *emit_act_name(nn_act act);         // "NN_ACT_RELU"
// "ref + offset" (or ref when offset is 0) into buf.
char *emit_offset(char *buf, size_t cap, const char *ref, int64_t offset);
// One strided copy (kernel "nn_copy_strided") or accumulation
// ("nn_add_strided") of dims from src to dst, dims merged first, in a block.
void emit_strided(Emitter *e, const char *kernel, const char *dst, const char *src, int rank,
                  const int *dims, const int *dst_strides, const int *src_strides);
// "    static const int cname[count] = {...};" inside an open block.
void emit_int_array(Emitter *e, const char *cname, const int *v, int count);
char *emit_float_literal(float v, char *buf); // exact, C99, 'f' suffix

//
// ops/: operator registry (ops.def lists them)
//

#define BWD_IN(i) (1u << (i))
#define BWD_OUT(k) (1u << (16 + (k)))

enum {
  OP_VIEW = 1,     // output 0 is input 0 reinterpreted: no data movement
  OP_IN_PLACE = 2, // output 0 may reuse input 0's (or 1's) buffer
};

struct OpDef {
  const char *name;
  // Parse attributes into n->params, check inputs, set output dtypes and
  // shapes. Runs with every input's shape known; constant inputs have data.
  int (*check)(Diag *d, Graph *g, Node *n);
  // Compute the outputs' data when every input is constant (folding), or
  // NULL when the op is only run by generated code.
  int (*fold)(Diag *d, Graph *g, Node *n);
  // Write the kernel call(s) for n.
  void (*emit)(Emitter *e, const Node *n);
  // Absorb a following activation (Conv, Gemm); NULL if the op cannot.
  int (*fuse_activation)(Node *n, nn_act act, float alpha, float beta);
  // Training: accumulate dL/d(input i) into n->inputs[i]->grad (when not
  // NULL) from n->outputs[k]->grad. NULL: the op is not differentiable here.
  void (*emit_backward)(Emitter *e, const Node *n);
  // The forward tensors emit_backward reads: BWD_IN(i) | BWD_OUT(k).
  unsigned backward_reads;
  // When emit_backward covers only some uses of the op; NULL: all.
  int (*can_backward)(const Node *n);
  // Inputs that may be trainable weights when they are initializers: BWD_IN(i).
  unsigned trainable_inputs;
  // Absorb a following per-output-channel y*scale[c] + shift[c] into the
  // constant weights (BatchNormalization folding); NULL if the op cannot.
  int (*absorb_affine)(Diag *d, Graph *g, Node *n, const float *scale,
                       const float *shift, int channels);
  // Inference only: rewrite constant weights in the order a faster kernel
  // reads them (Conv: nn_conv_pack_weights); returns 1 if it did. prev is
  // the last node before n (in schedule order) whose weights were packed,
  // or NULL: it may prefetch n's.
  int (*pack_weights)(Graph *g, Node *n, Node *prev);
  // Inference only: take y + r, r of y's shape, as the op's output, added
  // before its activation (a residual connection); returns 1 if it did.
  int (*fuse_residual)(Node *n, Tensor *r);
  // Multiply-accumulates per run, for `onnxcc info`; NULL counts 0.
  int64_t (*macs)(const Node *n);
  unsigned flags;
};

const OpDef *ops_find(const char *domain, const char *op_type);
// If n is a unary activation nn_act can express (Relu, Clip with constant
// bounds, ...), fills act/alpha/beta and returns 1.
int activation_of(const Node *n, nn_act *act, float *alpha, float *beta);
// For an inference BatchNormalization node after check: its folded
// per-channel scale and shift. Returns 1 if n is one.
int batchnorm_affine(const Node *n, const float **scale, const float **shift,
                     int *channels);
// Sliding windows of Conv and the pools (ops/window.c): reads the strides,
// dilations, pads and auto_pad attributes and computes output sizes.
typedef struct {
  int rank;                 // spatial dims: 1 or 2
  int64_t kernel[2], stride[2], dilation[2];
  int64_t pad_begin[2], pad_end[2];
  int64_t out[2];
} Window;
int window_check(Diag *d, const Node *n, const int64_t *in, int rank, const int64_t *kernel,
                 int ceil_mode, Window *w);
// Compile-time strided copy of any constant dtype (4-byte float or int64
// storage); out must be allocated. offset is in elements of `in`.
void fold_strided_copy(Tensor *out, const Tensor *in, int64_t in_offset, int rank,
                       const int *dims, const int *out_strides, const int *in_strides);
// Emits "{ static const int name[] = {...}; " style blocks: see emit.c.
void emit_open_block(Emitter *e, const Node *n);
void emit_close_block(Emitter *e);

// Helpers shared by the op files (ops/common.c).
int attr_int(Diag *d, const Node *n, const char *name, int64_t dflt, int64_t *out);
int attr_float(Diag *d, const Node *n, const char *name, float dflt, float *out);
int attr_ints(Diag *d, const Node *n, const char *name, int64_t *out, int max,
              int *count); // count = -1 when absent
const char *attr_string(const Node *n, const char *name, const char *dflt);
int check_attrs_known(Diag *d, const Node *n, const char *const *known);
int require_inputs(Diag *d, const Node *n, int min, int max);
int require_float(Diag *d, const Node *n, int i);
int require_const(Diag *d, const Node *n, int i, const char *what);
int normalize_axis(Diag *d, const Node *n, int64_t axis, int rank, int *out);
void set_shape(Tensor *t, DType dt, int rank, const int64_t *dims);
int broadcast_shapes(Diag *d, const Node *n, int count, Tensor *const *ins,
                     Tensor *out);
// Dense row-major strides of t in elements, for its rank.
void dense_strides(const Tensor *t, int *strides);
// Strides that read `in` as if broadcast to `out`'s shape (0 on broadcast dims).
void broadcast_strides(const Tensor *in, const Tensor *out, int *strides);
// Merge adjacent dims whose strides all stay contiguous; returns the new rank.
int merge_dims(int rank, int *dims, int nstrides, int **strides);
void *const_alloc(Tensor *t);
// A new float constant named after `like` plus suffix (unique), data zeroed.
Tensor *new_const_like(Graph *g, const Tensor *like, const char *suffix, int rank,
                       const int64_t *dims);
// Sets input i, growing the input list when i is past its end.
void node_set_input(Node *n, int i, Tensor *t); // allocates t->data for its dtype and count
int64_t const_int(const Tensor *t, int64_t i);  // element i as an integer
float const_float(const Tensor *t, int64_t i);  // element i as a float
int64_t checked_mul(int64_t a, int64_t b);      // -1 on overflow or negative

//
// check.c: order, shapes, constant folding
//

int check_graph(Diag *d, Graph *g);
// t (an output of n) has a shape within g->limits.max_elements (so its
// dense strides fit int); for ops that lay out an output inside check().
int check_output_size(Diag *d, const Graph *g, const Node *n, const Tensor *t);

//
// passes.c: graph rewrites before planning
//

int pass_drop_identities(Diag *d, Graph *g);
int pass_fold_batchnorm(Diag *d, Graph *g);
int pass_matmul_add_to_gemm(Diag *d, Graph *g);
int pass_fuse_activations(Diag *d, Graph *g);
void pass_pack_weights(Graph *g);
void pass_fuse_residuals(Graph *g);
void pass_remove_dead(Graph *g);
void graph_count_uses(Graph *g);

//
// grad.c: what training needs: trainable weights, gradients, the loss
//

enum { OPT_SGD, OPT_MOMENTUM, OPT_ADAM, OPT_ADAMW };

typedef struct {
  int enabled;             // --train
  int optimizer;           // OPT_*
  const char *trainable;   // --trainable: names, "last:N", or NULL for all
  int accumulate;          // --accumulate K (>= 1)
} TrainOptions;

typedef struct {
  Tensor *logits;          // (batch, classes): what the loss reads
  Node *final_softmax;     // the Softmax/LogSoftmax the loss replaces, or NULL
  int batch, classes;
  Tensor **params;         // trainable weights, in first-use order
  Tensor **moments;        // per param two optimizer-state tensors (or NULL)
  int nparams;
  int forward_steps;       // live forward nodes (schedule positions 0..F-1)
  TrainOptions opt;
} TrainInfo;

// Marks trainable weights and what requires a gradient, creates the
// gradient tensors; runs after the passes, before plan_graph().
int grad_build(Diag *d, Graph *g, const TrainOptions *opt, TrainInfo *ti);
void train_info_free(TrainInfo *ti);
// Schedule positions of the training step: forward node k at k, the loss
// at F, node k's backward at 2F - k, the optimizer at 2F + 1.
int grad_backward_step(const TrainInfo *ti, int forward_position);

//
// plan.c: the static memory plan
//

typedef struct {
  int64_t size, offset;
  int first, last;
} PlanBuffer;

typedef struct {
  PlanBuffer *buffers;
  int count, cap;
  int64_t alignment;
} Plan;

void plan_init(Plan *p, int64_t alignment);
void plan_free(Plan *p);
int plan_add(Plan *p, int64_t size, int first, int last); // returns buffer id
void plan_solve(Plan *p);           // greedy: largest first, lowest fitting offset
int64_t plan_peak(const Plan *p);   // arena bytes the solution needs
int64_t plan_lower_bound(const Plan *p); // max bytes simultaneously live

typedef struct {
  int64_t arena_bytes, lower_bound, weight_bytes;
  // Training builds: bytes per category (sums of buffer sizes, before reuse).
  int64_t param_bytes;      // trainable weights, static and writable
  int64_t activation_bytes; // forward tensors in the arena
  int64_t grad_bytes;       // gradient buffers in the arena
  int64_t state_bytes;      // optimizer state, persistent in the arena
} MemoryPlan;

// ti is NULL for inference-only builds.
int plan_graph(Diag *d, Graph *g, const TrainInfo *ti, MemoryPlan *mp);

//
// compile.c: the driver that runs the passes in order
//

typedef struct {
  const char *name;        // C identifier prefix; NULL: derived from path
  int batch;               // value for a symbolic batch dimension (default 1)
  int eval_mode;           // --eval: training-mode nodes get inference semantics
  int arena_caller;        // --arena caller: run() takes the workspace
  int target_x86_64;       // --target x86-64: inference also packs conv weights
  TrainOptions train;      // --train and its options
  int ndims;               // --dim NAME=VALUE bindings
  const char *dim_names[16];
  int64_t dim_values[16];
  int nbinds;              // --bind NAME=FILE.pb: inputs made constants
  const char *bind_names[16];
  const char *bind_files[16];
  Limits limits;           // --max-elements, --max-weight-bytes, --max-nodes (0: default)
} CompileOptions;

typedef struct {
  Graph *g;
  MemoryPlan mem;
  char *name;              // C identifier used
  int arena_caller;        // the caller owns the arena (a workspace argument)
  TrainInfo train;         // filled when compiling with --train
} Compiled;

int compile_load(Diag *d, const char *path, const CompileOptions *opt,
                 Compiled *out);
int emit_c(Diag *d, Compiled *c, FILE *src, FILE *hdr, const char *header_name);
// emit_train.c: the --train additions to the header and the source.
void emit_train_header(Emitter *e, const Compiled *c, const char *NAME);
void emit_train_step(Emitter *e, const Compiled *c);
int64_t emit_checkpoint_bytes(const Compiled *c);
void compiled_free(Compiled *c);

//
// info.c: the per-layer table of `onnxcc info`
//

void info_print(FILE *out, const Compiled *c);

//
// verify.c: `onnxcc verify`, compile + build + run + compare
//

typedef struct {
  double rtol, atol;
  const char *cc;          // C compiler to use (default: $CC or cc)
  int keep;                // keep the temporary build folder
  const char *runtime_include, *runtime_lib; // where nn.h and libonnxcc.a are
} VerifyOptions;

// Returns 0 if every output of every data set matches, 1 on a mismatch,
// -1 on an error (reported through d). The report goes to out.
int verify_model(Diag *d, const char *model, int ndirs, char **dirs,
                 const CompileOptions *copt, const VerifyOptions *vopt, FILE *out);
char *c_identifier(const char *s);  // sanitized, malloc'ed

#endif /* COMPILER_H */
