/*
 * test_errors.c - bad input gets a clear error: each case asserts the
 * failure and that the message names the file, the node, the op and what
 * is wrong. Files are written by the test itself (from a real model where
 * a real one is needed); graphs are built in C.
 */
#include "test.h"
#include "graph_builder.h"

#include <stdio.h>

#define TMP "build/tests/compiler/bad.onnx"

static void write_file(const char *path, const void *bytes, size_t len)
{
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(bytes, 1, len, f), len);
  fclose(f);
}

static unsigned char *read_model(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  assert_non_null(f);
  fseek(f, 0, SEEK_END);
  *len = (size_t)ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *buf = malloc(*len);
  assert_int_equal(fread(buf, 1, *len, f), *len);
  fclose(f);
  return buf;
}

// Compiles path and expects failure with every fragment in the message.
static void expect_compile_error(const char *path, const char *const *fragments)
{
  Diag d;
  diag_init(&d, path);
  CompileOptions opt = {0};
  Compiled c;
  assert_int_equal(compile_load(&d, path, &opt, &c), -1);
  assert_non_null(d.text);
  for (const char *const *f = fragments; *f; f++)
    if (!strstr(d.text, *f))
      fail_msg("message lacks '%s':\n%s", *f, d.text);
  compiled_free(&c);
  diag_free(&d);
}

static void test_error_empty_file(void **state)
{
  (void)state;
  write_file(TMP, "", 0);
  expect_compile_error(TMP, IN(TMP ": the file is empty, not an ONNX model"));
}

static void test_error_not_onnx(void **state)
{
  (void)state;
  const char text[] = "this is plainly not a protobuf message \xff\xff\xff\xff";
  write_file(TMP, text, sizeof text);
  expect_compile_error(TMP, IN(TMP ": not an ONNX model"));
}

static void test_error_truncated_model(void **state)
{
  (void)state;
  size_t len;
  unsigned char *bytes = read_model("models/lenet5_op13.onnx", &len);
  for (size_t cut = 7; cut < len; cut += len / 5) {
    write_file(TMP, bytes, cut);
    expect_compile_error(TMP, IN(TMP ": "));
  }
  write_file(TMP, bytes, len / 2);
  expect_compile_error(TMP, IN(TMP ": not an ONNX model: the protobuf data is malformed or truncated"));
  free(bytes);
}

static void test_error_missing_file(void **state)
{
  (void)state;
  expect_compile_error("build/no/such/model.onnx", IN("build/no/such/model.onnx: cannot open"));
}

// Checks a hand-built graph and expects every fragment in the message.
static void expect_check_error(Graph *g, const char *const *fragments)
{
  Diag d;
  diag_init(&d, "test.onnx");
  assert_int_equal(check_graph(&d, g), -1);
  for (const char *const *f = fragments; *f; f++)
    if (!strstr(d.text, *f))
      fail_msg("message lacks '%s':\n%s", *f, d.text);
  diag_free(&d);
  graph_free(g);
}

static void test_error_every_unsupported_op_listed(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[1] = {4};
  tb_input(g, "x", 1, d);
  tb_node(g, "warp", "GridWarp", IN("x"), OUT("a"));
  tb_node(g, "ok", "Relu", IN("x"), OUT("b"));
  tb_node(g, "magic", "Magic", IN("b"), OUT("y"));
  tb_output(g, "y");
  expect_check_error(g, IN("test.onnx: node 0 'warp' (GridWarp): operator 'GridWarp' is not supported",
                           "test.onnx: node 2 'magic' (Magic): operator 'Magic' is not supported"));
}

static void test_error_missing_initializer(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[2] = {1, 4};
  tb_input(g, "x", 2, d);
  tb_node(g, "fc", "Gemm", IN("x", "fc.weight"), OUT("y"));
  tb_output(g, "y");
  expect_check_error(g, IN("test.onnx: node 0 'fc' (Gemm): input 'fc.weight' is not produced by "
                           "any node, graph input or initializer"));
}

static void test_error_shape_mismatch(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t xd[2] = {1, 4}, wd[2] = {5, 3};
  float w[15] = {0};
  tb_input(g, "x", 2, xd);
  tb_const(g, "W", 2, wd, w);
  tb_node(g, "fc", "Gemm", IN("x", "W"), OUT("y"));
  tb_output(g, "y");
  expect_check_error(g, IN("node 0 'fc' (Gemm): inner dimensions differ: A gives K=4, B gives K=5"));
}

static void test_error_broadcast_mismatch(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t ad[2] = {2, 3}, bd[1] = {4};
  tb_input(g, "a", 2, ad);
  tb_input(g, "b", 1, bd);
  tb_node(g, "sum", "Add", IN("a", "b"), OUT("y"));
  tb_output(g, "y");
  expect_check_error(g, IN("node 0 'sum' (Add): shapes (2, 3) and (4) cannot be broadcast together"));
}

static void test_error_cycle(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[1] = {4};
  tb_input(g, "x", 1, d);
  tb_node(g, "first", "Add", IN("x", "loop"), OUT("a"));
  tb_node(g, "second", "Relu", IN("a"), OUT("loop"));
  tb_output(g, "loop");
  expect_check_error(g, IN("(Add): is part of a cycle: the graph is not a DAG"));
}

static void test_error_dimension_overflow(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[3] = {1 << 20, 1 << 20, 1 << 20};
  tb_input(g, "x", 3, d);
  tb_node(g, "big", "Relu", IN("x"), OUT("y"));
  tb_output(g, "y");
  expect_check_error(g, IN("graph input 'x' (1048576, 1048576, 1048576) has 1152921504606846976 "
                           "elements, more than the limit of 268435456 (--max-elements)"));
}

static void test_error_output_over_element_limit(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[2] = {1, 4096}, shape[2] = {1 << 20, 4096};
  tb_input(g, "x", 2, d);
  tb_const_ints(g, "shape", 2, shape);
  tb_node(g, "big", "Expand", IN("x", "shape"), OUT("y"));
  tb_output(g, "y");
  expect_check_error(g, IN("node 0 'big' (Expand): output 'y' (1048576, 4096) has 4294967296 "
                           "elements, more than the limit of 268435456 (--max-elements)"));
}

static void test_error_unsupported_attribute(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[4] = {1, 1, 4, 4};
  tb_input(g, "x", 4, d);
  Node *n = tb_node(g, "pool", "MaxPool", IN("x"), OUT("y"));
  tb_attr_int(n, "storage_order", 1);
  tb_output(g, "y");
  expect_check_error(g, IN("node 0 'pool' (MaxPool): storage_order=1 is not supported"));
}

static void test_error_missing_attribute(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[4] = {1, 1, 4, 4};
  tb_input(g, "x", 4, d);
  tb_node(g, "pool", "MaxPool", IN("x"), OUT("y"));
  tb_output(g, "y");
  expect_check_error(g, IN("node 0 'pool' (MaxPool): attribute 'kernel_shape' is missing"));
}

static void test_error_unknown_attribute(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[1] = {4};
  tb_input(g, "x", 1, d);
  Node *n = tb_node(g, "act", "Relu", IN("x"), OUT("y"));
  tb_attr_int(n, "flavour", 3);
  tb_output(g, "y");
  expect_check_error(g, IN("node 0 'act' (Relu): attribute 'flavour' is not supported"));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_error_empty_file),
      cmocka_unit_test(test_error_not_onnx),
      cmocka_unit_test(test_error_truncated_model),
      cmocka_unit_test(test_error_missing_file),
      cmocka_unit_test(test_error_every_unsupported_op_listed),
      cmocka_unit_test(test_error_missing_initializer),
      cmocka_unit_test(test_error_shape_mismatch),
      cmocka_unit_test(test_error_broadcast_mismatch),
      cmocka_unit_test(test_error_cycle),
      cmocka_unit_test(test_error_dimension_overflow),
      cmocka_unit_test(test_error_output_over_element_limit),
      cmocka_unit_test(test_error_unsupported_attribute),
      cmocka_unit_test(test_error_unknown_attribute),
      cmocka_unit_test(test_error_missing_attribute),
  };
  return cmocka_run_group_tests_name("errors", tests, NULL, NULL);
}
