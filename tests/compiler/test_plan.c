/*
 * test_plan.c - the memory planner: hand-checked placements, the lower
 * bound, and an exhaustive overlap check on random lifetimes; plus the
 * graph side (views cost nothing, elementwise ops run in place).
 */
#include "test.h"
#include "graph_builder.h"

static void test_plan_reuses_memory_of_dead_buffers(void **state)
{
  (void)state;
  Plan p;
  plan_init(&p, 16);
  int a = plan_add(&p, 100, 0, 1); // rounded up to 112
  int b = plan_add(&p, 64, 1, 2);
  int c = plan_add(&p, 96, 2, 3);
  plan_solve(&p);
  assert_int_equal(p.buffers[a].offset, 0);
  assert_int_equal(p.buffers[b].offset, 112); // overlaps a in time
  assert_int_equal(p.buffers[c].offset, 0);   // a is dead by step 2
  assert_int_equal(plan_peak(&p), 176);
  assert_int_equal(plan_lower_bound(&p), 176);
  plan_free(&p);
}

static void test_plan_places_largest_first_in_lowest_gap(void **state)
{
  (void)state;
  Plan p;
  plan_init(&p, 1);
  int small = plan_add(&p, 10, 0, 4);
  int big = plan_add(&p, 50, 1, 2);
  int mid = plan_add(&p, 30, 3, 4);
  plan_solve(&p);
  assert_int_equal(p.buffers[big].offset, 0);
  assert_int_equal(p.buffers[mid].offset, 0);   // big is dead at step 3
  assert_int_equal(p.buffers[small].offset, 50); // above big
  assert_int_equal(plan_peak(&p), 60);
  assert_int_equal(plan_lower_bound(&p), 60);
  plan_free(&p);
}

static void test_plan_never_overlaps_live_buffers(void **state)
{
  (void)state;
  srand(7);
  for (int round = 0; round < 200; round++) {
    Plan p;
    plan_init(&p, 16);
    int count = 1 + rand() % 40;
    for (int i = 0; i < count; i++) {
      int first = rand() % 30;
      plan_add(&p, 1 + rand() % 5000, first, first + rand() % 8);
    }
    plan_solve(&p);
    for (int i = 0; i < count; i++)
      for (int k = i + 1; k < count; k++) {
        const PlanBuffer *x = &p.buffers[i], *y = &p.buffers[k];
        int live_together = x->first <= y->last && y->first <= x->last;
        int share_bytes = x->offset < y->offset + y->size && y->offset < x->offset + x->size;
        assert_false(live_together && share_bytes);
      }
    assert_true(plan_peak(&p) >= plan_lower_bound(&p));
    assert_int_equal(p.buffers[0].offset % 16, 0);
    plan_free(&p);
  }
}

// x -> Add(x, c) -> Relu -> Reshape -> Sigmoid -> y: Relu reuses the Add
// buffer, Reshape is a view, and only one activation buffer remains.
static void test_plan_graph_views_and_in_place(void **state)
{
  (void)state;
  Graph *g = tb_graph(13);
  int64_t dims[2] = {4, 8}, shape[1] = {32};
  float c[32] = {0};
  tb_input(g, "x", 2, dims);
  tb_const(g, "c", 2, dims, c);
  tb_const_ints(g, "shape", 1, shape);
  tb_node(g, "add", "Add", IN("x", "c"), OUT("a"));
  tb_node(g, "relu", "Relu", IN("a"), OUT("r"));
  tb_node(g, "view", "Reshape", IN("r", "shape"), OUT("v"));
  tb_node(g, "sig", "Sigmoid", IN("v"), OUT("y"));
  tb_output(g, "y");
  Diag d;
  diag_init(&d, "test.onnx");
  assert_int_equal(check_graph(&d, g), 0);
  MemoryPlan mp;
  assert_int_equal(plan_graph(&d, g, NULL, &mp), 0);
  Tensor *a = graph_find_tensor(g, "a"), *r = graph_find_tensor(g, "r");
  Tensor *v = graph_find_tensor(g, "v");
  // Relu reuses the Add's buffer, the Reshape views it: one root for all three.
  assert_null(a->alias);
  assert_ptr_equal(r->alias, a);
  assert_ptr_equal(v->alias, a);
  assert_int_equal(mp.arena_bytes, 32 * 4);
  assert_int_equal(mp.lower_bound, 32 * 4);
  assert_int_equal(mp.weight_bytes, 32 * 4); // c, read by the Add
  assert_string_equal(emit_ref(v), emit_ref(a));
  diag_free(&d);
  graph_free(g);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_reuses_memory_of_dead_buffers),
      cmocka_unit_test(test_plan_places_largest_first_in_lowest_gap),
      cmocka_unit_test(test_plan_never_overlaps_live_buffers),
      cmocka_unit_test(test_plan_graph_views_and_in_place),
  };
  return cmocka_run_group_tests_name("plan", tests, NULL, NULL);
}
