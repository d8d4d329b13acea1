/*
 * test_passes.c - each graph pass on a tiny hand-built graph, with the
 * rewritten structure and the folded numbers checked by hand.
 */
#include "test.h"
#include "graph_builder.h"

static Diag diag;

static void checked(Graph *g)
{
  diag_init(&diag, "test.onnx");
  if (check_graph(&diag, g) != 0)
    fail_msg("%s", diag.text);
}

static Node *node_named(Graph *g, const char *name)
{
  for (int i = 0; i < g->nnodes; i++)
    if (!strcmp(g->nodes[i]->name, name))
      return g->nodes[i];
  return NULL;
}

static void test_drop_identities_rewires_readers(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t dims[1] = {3};
  tb_input(g, "x", 1, dims);
  tb_node(g, "id", "Identity", IN("x"), OUT("i"));
  tb_node(g, "drop", "Dropout", IN("i"), OUT("dr"));
  tb_node(g, "relu", "Relu", IN("dr"), OUT("y"));
  tb_output(g, "y");
  checked(g);
  assert_int_equal(pass_drop_identities(&diag, g), 0);
  assert_true(node_named(g, "id")->dead);
  assert_true(node_named(g, "drop")->dead);
  assert_ptr_equal(node_named(g, "relu")->inputs[0], graph_find_tensor(g, "x"));
  diag_free(&diag);
  graph_free(g);
}

// Conv 1x1 with W = [2, 3] (2 output channels), B = [1, -1], then BN with
// scale [1, 2], bias [0.5, 0], mean [1, 0], var [3, 0] and epsilon 1:
// s = scale / sqrt(var + eps) = [0.5, 2]; t = bias - mean * s = [0, 0].
// Folded: W' = W * s = [1, 6]; B' = B * s + t = [0.5, -2].
static void test_fold_batchnorm_into_conv(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t xd[4] = {1, 1, 2, 2}, wd[4] = {2, 1, 1, 1}, cd[1] = {2};
  tb_input(g, "x", 4, xd);
  tb_const(g, "W", 4, wd, (float[]){2, 3});
  tb_const(g, "B", 1, cd, (float[]){1, -1});
  tb_const(g, "scale", 1, cd, (float[]){1, 2});
  tb_const(g, "bias", 1, cd, (float[]){0.5f, 0});
  tb_const(g, "mean", 1, cd, (float[]){1, 0});
  tb_const(g, "var", 1, cd, (float[]){3, 0});
  tb_node(g, "conv", "Conv", IN("x", "W", "B"), OUT("c"));
  Node *bn = tb_node(g, "bn", "BatchNormalization", IN("c", "scale", "bias", "mean", "var"),
                     OUT("y"));
  bn->attrs = calloc(1, sizeof(Attr));
  bn->nattrs = 1;
  bn->attrs[0].name = xstrdup("epsilon");
  bn->attrs[0].type = A_FLOAT;
  bn->attrs[0].f = 1.0f;
  tb_output(g, "y");
  checked(g);
  assert_int_equal(pass_fold_batchnorm(&diag, g), 0);
  Node *conv = node_named(g, "conv");
  assert_true(bn->dead);
  assert_ptr_equal(conv->outputs[0], graph_find_tensor(g, "y"));
  assert_floats_near(conv->inputs[1]->data, (float[]){1, 6}, 2, 1e-6f);
  assert_floats_near(conv->inputs[2]->data, (float[]){0.5f, -2}, 2, 1e-6f);
  assert_non_null(strstr(conv->note, "folded node 1 'bn' (BatchNormalization)"));
  diag_free(&diag);
  graph_free(g);
}

static void test_matmul_add_becomes_gemm(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t xd[2] = {1, 2}, wd[2] = {2, 3}, bd[1] = {3};
  tb_input(g, "x", 2, xd);
  tb_const(g, "W", 2, wd, (float[]){1, 2, 3, 4, 5, 6});
  tb_const(g, "b", 1, bd, (float[]){1, 1, 1});
  tb_node(g, "mm", "MatMul", IN("x", "W"), OUT("m"));
  tb_node(g, "add", "Add", IN("b", "m"), OUT("y"));
  tb_output(g, "y");
  checked(g);
  assert_int_equal(pass_matmul_add_to_gemm(&diag, g), 0);
  Node *mm = node_named(g, "mm");
  assert_string_equal(mm->op_type, "Gemm");
  // The note once read the freed op_type: it must name both original nodes.
  assert_string_equal(mm->note,
                      "rewritten from MatMul node 0 'mm' (MatMul), plus node 1 'add' (Add)");
  assert_true(node_named(g, "add")->dead);
  assert_ptr_equal(mm->inputs[2], graph_find_tensor(g, "b"));
  assert_ptr_equal(mm->outputs[0], graph_find_tensor(g, "y"));
  diag_free(&diag);
  graph_free(g);
}

static void test_matmul_add_keeps_shared_product(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t xd[2] = {1, 2}, wd[2] = {2, 2};
  tb_input(g, "x", 2, xd);
  tb_const(g, "W", 2, wd, (float[]){1, 2, 3, 4});
  tb_const(g, "b", 2, xd, (float[]){1, 1});
  tb_node(g, "mm", "MatMul", IN("x", "W"), OUT("m"));
  tb_node(g, "add", "Add", IN("m", "b"), OUT("y"));
  tb_output(g, "y");
  tb_output(g, "m"); // the product is read elsewhere: no rewrite
  checked(g);
  assert_int_equal(pass_matmul_add_to_gemm(&diag, g), 0);
  assert_string_equal(node_named(g, "mm")->op_type, "MatMul");
  assert_false(node_named(g, "add")->dead);
  diag_free(&diag);
  graph_free(g);
}

static void test_fuse_activation_into_gemm(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t xd[2] = {1, 2}, wd[2] = {2, 2};
  tb_input(g, "x", 2, xd);
  tb_const(g, "W", 2, wd, (float[]){1, 2, 3, 4});
  tb_node(g, "fc", "Gemm", IN("x", "W"), OUT("f"));
  Node *act = tb_node(g, "act", "LeakyRelu", IN("f"), OUT("y"));
  act->attrs = calloc(1, sizeof(Attr));
  act->nattrs = 1;
  act->attrs[0].name = xstrdup("alpha");
  act->attrs[0].type = A_FLOAT;
  act->attrs[0].f = 0.25f;
  tb_output(g, "y");
  checked(g);
  assert_int_equal(pass_fuse_activations(&diag, g), 0);
  Node *fc = node_named(g, "fc");
  const nn_gemm_params *p = fc->params;
  assert_true(act->dead);
  assert_int_equal(p->act, NN_ACT_LEAKY_RELU);
  assert_float_equal(p->act_alpha, 0.25f, 0);
  assert_ptr_equal(fc->outputs[0], graph_find_tensor(g, "y"));
  diag_free(&diag);
  graph_free(g);
}

static void test_constants_fold_away(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[1] = {2};
  tb_input(g, "x", 1, d);
  tb_const(g, "a", 1, d, (float[]){1, 2});
  tb_const(g, "b", 1, d, (float[]){3, 5});
  tb_node(g, "mul", "Mul", IN("a", "b"), OUT("ab"));
  tb_node(g, "neg", "Neg", IN("ab"), OUT("n"));
  tb_node(g, "add", "Add", IN("x", "n"), OUT("y"));
  tb_output(g, "y");
  checked(g);
  assert_true(node_named(g, "mul")->dead);
  assert_true(node_named(g, "neg")->dead);
  assert_false(node_named(g, "add")->dead);
  assert_floats_near(graph_find_tensor(g, "n")->data, (float[]){-3, -10}, 2, 0);
  diag_free(&diag);
  graph_free(g);
}

static void test_remove_dead_drops_unread_nodes(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t d[1] = {2};
  tb_input(g, "x", 1, d);
  tb_node(g, "unused", "Exp", IN("x"), OUT("e"));
  tb_node(g, "used", "Relu", IN("x"), OUT("y"));
  tb_output(g, "y");
  checked(g);
  pass_remove_dead(g);
  assert_true(node_named(g, "unused")->dead);
  assert_false(node_named(g, "used")->dead);
  diag_free(&diag);
  graph_free(g);
}

// Conv 1x2, 5 -> 32 channels, rows of 14: W (32, 5, 1, 2) with W[i] = i
// becomes a new constant in packed order, wp[q*32 + j] = W[j*10 + q], and
// the old W loses its reader; an activation input is not a constant W and
// stays.
static void test_pack_conv_weights(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t xd[4] = {1, 5, 14, 15}, wd[4] = {32, 5, 1, 2};
  float w[320];
  for (int i = 0; i < 320; i++)
    w[i] = (float)i;
  tb_input(g, "x", 4, xd);
  tb_input(g, "W2", 4, wd);
  Tensor *plain = tb_const(g, "W", 4, wd, w);
  tb_node(g, "conv", "Conv", IN("x", "W"), OUT("c"));
  tb_node(g, "conv2", "Conv", IN("x", "W2"), OUT("d"));
  tb_output(g, "c");
  tb_output(g, "d");
  checked(g);
  pass_pack_weights(g);
  Node *conv = node_named(g, "conv");
  const float *wp = conv->inputs[1]->data;
  assert_ptr_not_equal(conv->inputs[1], plain);
  assert_float_equal(wp[0], 0.0f, 0.0f);
  assert_float_equal(wp[1], 10.0f, 0.0f);   // tap 0 of output 1
  assert_float_equal(wp[32], 1.0f, 0.0f);   // tap 1 of output 0
  assert_float_equal(wp[9 * 32 + 31], 319.0f, 0.0f); // last tap of output 31
  assert_ptr_equal(node_named(g, "conv2")->inputs[1], graph_find_tensor(g, "W2"));
  pass_pack_weights(g); // once only
  assert_float_equal(((const float *)conv->inputs[1]->data)[1], 10.0f, 0.0f);
  pass_remove_dead(g);
  assert_int_equal(plain->nuses, 0);
  diag_free(&diag);
  graph_free(g);
}

// Gemm of one row, x (1, 3) * W^T with W (70, 3) constant, W[i] = i:
// W becomes two panels, bp[q*64 + j] = W[j*3 + q] and, from 64*3 on, 16
// columns of which 6 are W's; a Gemm of 4 rows keeps its W.
static void test_pack_gemm_weights_in_panels(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t xd[2] = {1, 3}, x4d[2] = {4, 3}, wd[2] = {70, 3};
  float w[210];
  for (int i = 0; i < 210; i++)
    w[i] = (float)i;
  tb_input(g, "x", 2, xd);
  tb_input(g, "x4", 2, x4d);
  Tensor *plain = tb_const(g, "W", 2, wd, w);
  tb_attr_int(tb_node(g, "fc", "Gemm", IN("x", "W"), OUT("f")), "transB", 1);
  tb_attr_int(tb_node(g, "fc4", "Gemm", IN("x4", "W"), OUT("f4")), "transB", 1);
  tb_output(g, "f");
  tb_output(g, "f4");
  checked(g);
  pass_pack_weights(g);
  Node *fc = node_named(g, "fc");
  const float *bp = fc->inputs[1]->data;
  assert_ptr_not_equal(fc->inputs[1], plain);
  assert_int_equal(tensor_count(fc->inputs[1]), 3 * 80);
  assert_float_equal(bp[0], 0.0f, 0.0f);
  assert_float_equal(bp[1], 3.0f, 0.0f);              // W(1, 0)
  assert_float_equal(bp[64], 1.0f, 0.0f);             // W(0, 1)
  assert_float_equal(bp[2 * 64 + 63], 191.0f, 0.0f);  // W(63, 2)
  assert_float_equal(bp[192], 192.0f, 0.0f);          // W(64, 0)
  assert_float_equal(bp[192 + 5], 207.0f, 0.0f);      // W(69, 0)
  assert_float_equal(bp[192 + 6], 0.0f, 0.0f);        // padding
  assert_float_equal(bp[192 + 2 * 16 + 5], 209.0f, 0.0f); // W(69, 2)
  assert_ptr_equal(node_named(g, "fc4")->inputs[1], plain);
  pass_pack_weights(g); // once only
  assert_float_equal(((const float *)fc->inputs[1]->data)[1], 3.0f, 0.0f);
  diag_free(&diag);
  graph_free(g);
}

// conv(x) + r, then Relu: the packed Conv takes r as input 3 and the
// Relu; the Add and the Relu die. Not fused: an Add whose other operand
// is computed after the Conv, one that broadcasts, one whose Conv has
// plain weights, and a Conv whose result has a second reader.
static void test_fuse_residual_into_packed_conv(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t xd[4] = {1, 5, 14, 15}, wd[4] = {32, 5, 1, 2}, rd[4] = {1, 32, 14, 14};
  int64_t bd[4] = {1, 32, 1, 1};
  static float w[320];
  tb_input(g, "x", 4, xd);
  tb_input(g, "r", 4, rd);
  tb_input(g, "b", 4, bd);
  tb_input(g, "W2", 4, wd);
  tb_const(g, "W", 4, wd, w);
  tb_node(g, "conv", "Conv", IN("x", "W"), OUT("c"));
  tb_node(g, "add", "Add", IN("r", "c"), OUT("s"));
  tb_node(g, "relu", "Relu", IN("s"), OUT("y"));
  tb_node(g, "conv_late", "Conv", IN("x", "W"), OUT("c2")); // r2 comes after it
  tb_node(g, "r2", "Neg", IN("r"), OUT("n"));
  tb_node(g, "add_late", "Add", IN("c2", "n"), OUT("y2"));
  tb_node(g, "conv_bcast", "Conv", IN("x", "W"), OUT("c3"));
  tb_node(g, "add_bcast", "Add", IN("c3", "b"), OUT("y3"));
  tb_node(g, "conv_plain", "Conv", IN("x", "W2"), OUT("c4"));
  tb_node(g, "add_plain", "Add", IN("c4", "r"), OUT("y4"));
  tb_node(g, "conv_shared", "Conv", IN("x", "W"), OUT("c5"));
  tb_node(g, "add_shared", "Add", IN("c5", "r"), OUT("y5"));
  tb_node(g, "neg_shared", "Neg", IN("c5"), OUT("y6"));
  const char *outs[] = {"y", "y2", "y3", "y4", "y5", "y6"};
  for (int i = 0; i < 6; i++)
    tb_output(g, outs[i]);
  checked(g);
  assert_int_equal(pass_fuse_activations(&diag, g), 0);
  pass_pack_weights(g);
  pass_fuse_residuals(g);
  assert_int_equal(pass_fuse_activations(&diag, g), 0);
  Node *conv = node_named(g, "conv");
  assert_int_equal(conv->ninputs, 4);
  assert_null(conv->inputs[2]);
  assert_ptr_equal(conv->inputs[3], graph_find_tensor(g, "r"));
  assert_ptr_equal(conv->outputs[0], graph_find_tensor(g, "y"));
  assert_int_equal(((const nn_conv_params *)conv->params)->act, NN_ACT_RELU);
  assert_true(node_named(g, "add")->dead && node_named(g, "relu")->dead);
  assert_string_equal(conv->note, "plus node 1 'add' (Add), fused node 2 'relu' (Relu)");
  const char *kept[] = {"add_late", "add_bcast", "add_plain", "add_shared"};
  for (int i = 0; i < 4; i++)
    assert_false(node_named(g, kept[i])->dead);
  assert_int_equal(node_named(g, "conv_late")->ninputs, 2);
  diag_free(&diag);
  graph_free(g);
}

// The residual of resnet's blocks: r is the output of a Relu that its
// Conv absorbed first, so r's producer is that Conv now; the later Conv
// must see r as computed before it and take the Add.
static void test_fuse_residual_from_fused_producer(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t xd[4] = {1, 32, 14, 14}, wd[4] = {32, 32, 3, 3};
  static float w[32 * 32 * 9];
  tb_input(g, "x", 4, xd);
  tb_const(g, "W", 4, wd, w);
  int64_t pads[4] = {1, 1, 1, 1};
  tb_attr_ints(tb_node(g, "conv0", "Conv", IN("x", "W"), OUT("c0")), "pads", 4, pads);
  tb_node(g, "relu0", "Relu", IN("c0"), OUT("r"));
  tb_attr_ints(tb_node(g, "conv1", "Conv", IN("r", "W"), OUT("c1")), "pads", 4, pads);
  tb_node(g, "add", "Add", IN("c1", "r"), OUT("y"));
  tb_output(g, "y");
  checked(g);
  assert_int_equal(pass_fuse_activations(&diag, g), 0);
  Tensor *r = graph_find_tensor(g, "r");
  assert_ptr_equal(g->nodes[r->producer], node_named(g, "conv0"));
  pass_pack_weights(g);
  pass_fuse_residuals(g);
  Node *conv1 = node_named(g, "conv1");
  assert_true(node_named(g, "add")->dead);
  assert_ptr_equal(conv1->inputs[3], r);
  Tensor *y = graph_find_tensor(g, "y");
  assert_ptr_equal(conv1->outputs[0], y);
  assert_ptr_equal(g->nodes[y->producer], conv1);
  diag_free(&diag);
  graph_free(g);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_drop_identities_rewires_readers),
      cmocka_unit_test(test_fold_batchnorm_into_conv),
      cmocka_unit_test(test_matmul_add_becomes_gemm),
      cmocka_unit_test(test_matmul_add_keeps_shared_product),
      cmocka_unit_test(test_fuse_activation_into_gemm),
      cmocka_unit_test(test_constants_fold_away),
      cmocka_unit_test(test_remove_dead_drops_unread_nodes),
      cmocka_unit_test(test_pack_conv_weights),
      cmocka_unit_test(test_pack_gemm_weights_in_panels),
      cmocka_unit_test(test_fuse_residual_into_packed_conv),
      cmocka_unit_test(test_fuse_residual_from_fused_producer),
  };
  return cmocka_run_group_tests_name("passes", tests, NULL, NULL);
}
