/*
 * test_ops_shape.c - shape inference and constant folding of the data
 * movement and shape operators (slice.c, pad.c, concat.c, gather.c,
 * reduce.c, constant.c): tiny graphs built in C, run through
 * check_graph(), then the inferred shapes and folded values are checked
 * by hand, as are the error messages for what is not supported.
 */
#include "test.h"
#include "graph_builder.h"

//
// Helpers the shared graph builder does not have.
//

static Attr *add_attr(Node *n, const char *name, AttrType type)
{
  n->attrs = realloc(n->attrs, (size_t)(n->nattrs + 1) * sizeof(Attr));
  Attr *a = &n->attrs[n->nattrs++];
  memset(a, 0, sizeof *a);
  a->name = xstrdup(name);
  a->type = type;
  return a;
}

static void attr_ints_set(Node *n, const char *name, int count, const int64_t *values)
{
  Attr *a = add_attr(n, name, A_INTS);
  a->count = count;
  a->ints = xcalloc((size_t)count + 1, sizeof(int64_t));
  memcpy(a->ints, values, (size_t)count * sizeof(int64_t));
}

static void attr_string_set(Node *n, const char *name, const char *value)
{
  Attr *a = add_attr(n, name, A_STRING);
  a->s = xstrdup(value);
}

// A rank-0 int64 constant.
static Tensor *const_scalar_int(Graph *g, const char *name, int64_t v)
{
  Tensor *t = tb_const_ints(g, name, 1, &v);
  t->rank = 0;
  return t;
}

static Tensor *tensor(Graph *g, const char *name)
{
  Tensor *t = graph_find_tensor(g, name);
  assert_non_null(t);
  return t;
}

static void assert_shape(const Tensor *t, int rank, const int64_t *dims)
{
  assert_int_equal(t->rank, rank);
  for (int k = 0; k < rank; k++)
    assert_int_equal(t->dims[k], dims[k]);
}

static void assert_ints(const Tensor *t, int count, const int64_t *want)
{
  assert_int_equal(t->kind, T_CONST);
  assert_non_null(t->data);
  assert_int_equal(tensor_count(t), count);
  const int64_t *got = t->data;
  for (int i = 0; i < count; i++)
    assert_int_equal(got[i], want[i]);
}

static void assert_floats(const Tensor *t, int count, const float *want)
{
  assert_int_equal(t->kind, T_CONST);
  assert_non_null(t->data);
  assert_int_equal(tensor_count(t), count);
  assert_floats_near(t->data, want, count, 0.0f);
}

// Runs check_graph(), which must succeed.
static void check_ok(Graph *g)
{
  Diag d;
  diag_init(&d, "test.onnx");
  int rc = check_graph(&d, g);
  if (rc != 0)
    fail_msg("check_graph failed:\n%s", d.text ? d.text : "");
  diag_free(&d);
}

// Runs check_graph(), which must fail with a message containing both
// strings (the node's name and the problem).
static void check_fails(Graph *g, const char *node_text, const char *problem)
{
  Diag d;
  diag_init(&d, "test.onnx");
  assert_int_equal(check_graph(&d, g), -1);
  assert_non_null(d.text);
  if (!strstr(d.text, node_text) || !strstr(d.text, problem))
    fail_msg("expected '%s' and '%s' in:\n%s", node_text, problem, d.text);
  diag_free(&d);
}

//
// Slice
//

static void test_slice_negative_step_folds(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  const float x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  tb_const(g, "x", 2, (int64_t[]){3, 4}, x);
  tb_const_ints(g, "starts", 1, (int64_t[]){-1});
  tb_const_ints(g, "ends", 1, (int64_t[]){INT64_MIN});
  tb_const_ints(g, "axes", 1, (int64_t[]){1});
  tb_const_ints(g, "steps", 1, (int64_t[]){-2});
  tb_node(g, "slice", "Slice", IN("x", "starts", "ends", "axes", "steps"), OUT("y"));
  check_ok(g);
  Tensor *y = tensor(g, "y");
  assert_shape(y, 2, (int64_t[]){3, 2});
  assert_floats(y, 6, (float[]){3, 1, 7, 5, 11, 9});
  graph_free(g);
}

static void test_slice_runtime_clamps_ends(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "x", 3, (int64_t[]){2, 5, 7});
  tb_const_ints(g, "starts", 3, (int64_t[]){-100, 1, 6});
  tb_const_ints(g, "ends", 3, (int64_t[]){INT64_MAX, 1000, -100});
  tb_const_ints(g, "axes", 3, (int64_t[]){0, -2, 2});
  tb_const_ints(g, "steps", 3, (int64_t[]){1, 3, -4});
  tb_node(g, "slice", "Slice", IN("x", "starts", "ends", "axes", "steps"), OUT("y"));
  check_ok(g);
  // axis 1: 1, 4; axis 2: 6, 2 (end clamps to -1)
  assert_shape(tensor(g, "y"), 3, (int64_t[]){2, 2, 2});
  assert_int_equal(tensor(g, "y")->kind, T_ACTIVATION);
  graph_free(g);
}

static void test_slice_zero_step_is_an_error(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "x", 1, (int64_t[]){4});
  tb_const_ints(g, "starts", 1, (int64_t[]){0});
  tb_const_ints(g, "ends", 1, (int64_t[]){4});
  tb_const_ints(g, "axes", 1, (int64_t[]){0});
  tb_const_ints(g, "steps", 1, (int64_t[]){0});
  tb_node(g, "bad_slice", "Slice", IN("x", "starts", "ends", "axes", "steps"), OUT("y"));
  check_fails(g, "node 0 'bad_slice' (Slice)", "steps[0] is 0");
  graph_free(g);
}

//
// Pad
//

static void test_pad_pads_and_crops(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_const(g, "x", 2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4});
  // Axis 0: one row before; axis 1: crop one column at the end.
  tb_const_ints(g, "pads", 4, (int64_t[]){1, 0, 0, -1});
  tb_const(g, "value", 0, NULL, (float[]){9});
  tb_node(g, "pad", "Pad", IN("x", "pads", "value"), OUT("y"));
  check_ok(g);
  Tensor *y = tensor(g, "y");
  assert_shape(y, 2, (int64_t[]){3, 1});
  assert_floats(y, 3, (float[]){9, 1, 3});
  graph_free(g);
}

static void test_pad_reflect_is_rejected(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "x", 2, (int64_t[]){2, 2});
  tb_const_ints(g, "pads", 4, (int64_t[]){1, 1, 1, 1});
  Node *n = tb_node(g, "pad1", "Pad", IN("x", "pads"), OUT("y"));
  attr_string_set(n, "mode", "reflect");
  check_fails(g, "'pad1' (Pad)", "mode 'reflect' is not supported");
  graph_free(g);
}

//
// Concat and Split
//

static void test_concat_shapes_and_int_fold(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "a", 2, (int64_t[]){2, 3});
  tb_input(g, "b", 2, (int64_t[]){2, 5});
  tb_attr_int(tb_node(g, "cat", "Concat", IN("a", "b"), OUT("y")), "axis", -1);
  tb_const_ints(g, "i", 1, (int64_t[]){2});
  tb_const_ints(g, "j", 2, (int64_t[]){3, 4});
  tb_const_ints(g, "empty", 0, (int64_t[]){0});
  tb_attr_int(tb_node(g, "cat_ints", "Concat", IN("i", "empty", "j"), OUT("z")), "axis", 0);
  check_ok(g);
  assert_shape(tensor(g, "y"), 2, (int64_t[]){2, 8});
  Tensor *z = tensor(g, "z");
  assert_int_equal(z->dtype, DT_INT64);
  assert_ints(z, 3, (int64_t[]){2, 3, 4});
  graph_free(g);
}

static void test_split_sizes_and_equal_fold(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "x", 2, (int64_t[]){2, 6});
  tb_const_ints(g, "split", 2, (int64_t[]){1, 5});
  tb_attr_int(tb_node(g, "split", "Split", IN("x", "split"), OUT("p", "q")), "axis", 1);
  tb_const(g, "c", 1, (int64_t[]){6}, (float[]){1, 2, 3, 4, 5, 6});
  tb_node(g, "split3", "Split", IN("c"), OUT("c0", "c1", "c2"));
  check_ok(g);
  assert_shape(tensor(g, "p"), 2, (int64_t[]){2, 1});
  assert_shape(tensor(g, "q"), 2, (int64_t[]){2, 5});
  assert_floats(tensor(g, "c0"), 2, (float[]){1, 2});
  assert_floats(tensor(g, "c1"), 2, (float[]){3, 4});
  assert_floats(tensor(g, "c2"), 2, (float[]){5, 6});
  graph_free(g);
}

//
// Gather
//

static void test_gather_scalar_index_and_runtime_shape(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_const_ints(g, "dims", 3, (int64_t[]){5, 6, 7});
  const_scalar_int(g, "last", -1);
  tb_node(g, "pick", "Gather", IN("dims", "last"), OUT("v"));
  tb_input(g, "table", 2, (int64_t[]){4, 3});
  tb_const_ints(g, "rows", 2, (int64_t[]){3, -4});
  tb_node(g, "rows_of", "Gather", IN("table", "rows"), OUT("r"));
  check_ok(g);
  Tensor *v = tensor(g, "v");
  assert_int_equal(v->rank, 0);
  assert_ints(v, 1, (int64_t[]){7});
  assert_shape(tensor(g, "r"), 2, (int64_t[]){2, 3});
  graph_free(g);
}

static void test_gather_out_of_range_index_is_an_error(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "table", 2, (int64_t[]){4, 3});
  tb_const_ints(g, "rows", 2, (int64_t[]){1, 4});
  tb_node(g, "embed", "Gather", IN("table", "rows"), OUT("r"));
  check_fails(g, "'embed' (Gather)", "indices[1] = 4 is out of range for axis 0 of size 4");
  graph_free(g);
}

//
// Reduce
//

static void test_reduce_mean_without_keepdims(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "x", 3, (int64_t[]){2, 3, 4});
  Node *n = tb_node(g, "mean", "ReduceMean", IN("x"), OUT("y"));
  attr_ints_set(n, "axes", 1, (int64_t[]){1});
  tb_attr_int(n, "keepdims", 0);
  tb_const(g, "c", 2, (int64_t[]){2, 2}, (float[]){1, 2, 3, 4});
  Node *m = tb_node(g, "mean_c", "ReduceMean", IN("c"), OUT("z"));
  attr_ints_set(m, "axes", 1, (int64_t[]){-2});
  tb_attr_int(m, "keepdims", 0);
  check_ok(g);
  assert_shape(tensor(g, "y"), 2, (int64_t[]){2, 4});
  Tensor *z = tensor(g, "z");
  assert_shape(z, 1, (int64_t[]){2});
  assert_floats(z, 2, (float[]){2, 3});
  graph_free(g);
}

//
// Shape subgraphs
//

// PyTorch's flatten: Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])).
static void test_shape_gather_unsqueeze_concat_folds(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "x", 4, (int64_t[]){1, 3, 8, 8});
  const_scalar_int(g, "zero", 0);
  tb_const_ints(g, "axes0", 1, (int64_t[]){0});
  tb_const_ints(g, "minus1", 1, (int64_t[]){-1});
  tb_node(g, "shape", "Shape", IN("x"), OUT("s"));
  tb_node(g, "gather", "Gather", IN("s", "zero"), OUT("batch"));
  tb_node(g, "unsqueeze", "Unsqueeze", IN("batch", "axes0"), OUT("batch1"));
  tb_attr_int(tb_node(g, "concat", "Concat", IN("batch1", "minus1"), OUT("target")), "axis", 0);
  tb_node(g, "reshape", "Reshape", IN("x", "target"), OUT("y"));
  check_ok(g);
  assert_ints(tensor(g, "s"), 4, (int64_t[]){1, 3, 8, 8});
  assert_ints(tensor(g, "batch"), 1, (int64_t[]){1});
  assert_ints(tensor(g, "target"), 2, (int64_t[]){1, -1});
  assert_shape(tensor(g, "y"), 2, (int64_t[]){1, 192});
  graph_free(g);
}

static void test_cast_and_compare_fold_shape_vectors(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "x", 3, (int64_t[]){2, 3, 4});
  tb_const_ints(g, "probe", 3, (int64_t[]){2, 0, 4});
  tb_const_ints(g, "minus1", 3, (int64_t[]){-1, -1, -1});
  tb_node(g, "shape", "Shape", IN("x"), OUT("s"));
  tb_node(g, "eq", "Equal", IN("s", "probe"), OUT("mask"));
  tb_node(g, "where", "Where", IN("mask", "minus1", "s"), OUT("w"));
  tb_attr_int(tb_node(g, "cast", "Cast", IN("w"), OUT("wf")), "to", DT_FLOAT);
  tb_const(g, "f", 1, (int64_t[]){3}, (float[]){-1.7f, 2.5f, 300.2f});
  tb_attr_int(tb_node(g, "to_int8", "Cast", IN("f"), OUT("i8")), "to", DT_INT8);
  check_ok(g);
  Tensor *mask = tensor(g, "mask");
  assert_int_equal(mask->dtype, DT_BOOL);
  assert_ints(mask, 3, (int64_t[]){1, 0, 1});
  assert_ints(tensor(g, "w"), 3, (int64_t[]){-1, 3, -1});
  assert_floats(tensor(g, "wf"), 3, (float[]){-1, 3, -1});
  assert_ints(tensor(g, "i8"), 3, (int64_t[]){-1, 2, 44}); // 300 wraps to 44
  graph_free(g);
}

static void test_compare_on_runtime_data_is_an_error(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "x", 1, (int64_t[]){3});
  tb_const(g, "zero", 0, NULL, (float[]){0});
  tb_node(g, "is_neg", "Less", IN("x", "zero"), OUT("y"));
  check_fails(g, "'is_neg' (Less)", "Less is only supported on compile-time constants");
  graph_free(g);
}

static void test_runtime_cast_to_int_is_an_error(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  tb_input(g, "x", 1, (int64_t[]){3});
  tb_attr_int(tb_node(g, "to_long", "Cast", IN("x"), OUT("y")), "to", DT_INT64);
  check_fails(g, "'to_long' (Cast)", "Cast to int64 at run time is not supported");
  graph_free(g);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_slice_negative_step_folds),
      cmocka_unit_test(test_slice_runtime_clamps_ends),
      cmocka_unit_test(test_slice_zero_step_is_an_error),
      cmocka_unit_test(test_pad_pads_and_crops),
      cmocka_unit_test(test_pad_reflect_is_rejected),
      cmocka_unit_test(test_concat_shapes_and_int_fold),
      cmocka_unit_test(test_split_sizes_and_equal_fold),
      cmocka_unit_test(test_gather_scalar_index_and_runtime_shape),
      cmocka_unit_test(test_gather_out_of_range_index_is_an_error),
      cmocka_unit_test(test_reduce_mean_without_keepdims),
      cmocka_unit_test(test_shape_gather_unsqueeze_concat_folds),
      cmocka_unit_test(test_cast_and_compare_fold_shape_vectors),
      cmocka_unit_test(test_compare_on_runtime_data_is_an_error),
      cmocka_unit_test(test_runtime_cast_to_int_is_an_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
