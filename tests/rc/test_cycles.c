// test_cycles.c: the cycle collector finds exactly the unreachable cycles.
#include "rc_test.h"

// An object referencing itself is freed by a collection, not before.
static void test_self_cycle_is_collected(void) {
  long before = atomic_load(&nodes_finalized);
  struct node *n = node_new(1);
  link_to(&n->left, n);
  shade_decref(n);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(0), 1);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before + 1);
}

// Two objects referencing each other.
static void test_two_object_cycle_is_collected(void) {
  long before = atomic_load(&nodes_finalized);
  struct node *a = node_new(1), *b = node_new(2);
  link_to(&a->left, b);
  link_to(&b->left, a);
  shade_decref(a);
  shade_decref(b);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 2);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before + 2);
}

// A ring of 100,000 objects (scaled) in a doubly linked list: found and freed by one collection.
static void test_long_cycle_is_collected(void) {
  size_t n = shade_test_scaled(100000, 1000);
  shade_rc_disable();
  long before = atomic_load(&nodes_finalized);
  struct node *first = node_new(0), *prev = first;
  for (size_t i = 1; i < n; i++) {
    struct node *cur = node_new((long)i);
    link_to(&prev->left, cur);
    link_to(&cur->right, prev);
    shade_decref(cur);
    prev = cur;
  }
  link_to(&prev->left, first);
  link_to(&first->right, prev);
  shade_decref(first);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), n);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before + (long)n);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(-1, NULL, 0), 0);
}

// A cycle the program still holds a reference to is kept, whole, and promoted.
static void test_cycle_reachable_from_outside_is_kept(void) {
  long before = atomic_load(&nodes_finalized);
  struct node *a = node_new(1), *b = node_new(2), *c = node_new(3);
  link_to(&a->left, b);
  link_to(&b->left, c);
  link_to(&c->left, a);
  shade_decref(b);
  shade_decref(c); // only a is held from outside
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(0), 0);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(1, NULL, 0), 3);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 0);
  SHADE_TEST_EXPECT_EQ(((struct node *)a->left)->id, 2);
  shade_decref(a);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 3);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before + 3);
}

// A young cycle referenced from an object of an older generation is kept by a young collection:
// that reference counts as coming from outside.
static void test_reference_from_older_generation_keeps_young_cycle(void) {
  struct node *old = node_new(0);
  shade_rc_collect(0);
  shade_rc_collect(1); // old is in generation 2 now
  void *gen2[4];
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(2, gen2, 4), 1);
  struct node *a = node_new(1), *b = node_new(2);
  link_to(&a->left, b);
  link_to(&b->left, a);
  old->left = a; // takes a's reference
  shade_decref(b);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(0), 0);
  SHADE_TEST_EXPECT_EQ(shade_rc_count(a), 2);
  shade_decref(old); // frees old, which drops a: now an unreachable cycle in generation 1
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(1), 2);
}

// An untracked container's references count as outside references.
static void test_reference_from_untracked_container_keeps_cycle(void) {
  struct node *holder = node_new(0);
  shade_rc_untrack(holder);
  struct node *a = node_new(1);
  link_to(&a->left, a);
  holder->left = a;
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 0);
  shade_decref(holder);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 1);
}

// A cycle hanging off a garbage cycle is garbage too, and atomic children are released with it.
static void test_garbage_reachable_only_from_garbage_is_collected(void) {
  long leaves = atomic_load(&leaves_finalized);
  struct node *a = node_new(1), *b = node_new(2), *c = node_new(3);
  link_to(&a->left, a);
  a->right = b; // a's reference to b is b's only one
  link_to(&b->left, c);
  c->left = b;  // c <-> b, c owned by b
  shade_incref(b);
  shade_decref(c);
  b->right = shade_rc_new(&leaf_type);
  shade_decref(a);
  SHADE_TEST_EXPECT_EQ(shade_rc_count(b), 2);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 3);
  SHADE_TEST_EXPECT_EQ(atomic_load(&leaves_finalized), leaves + 1);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(-1, NULL, 0), 0);
}

// Random graphs: after a full collection, exactly the objects reachable from the ones the program
// still holds are alive (checked against a reachability computed by the test).
#define GRAPH_MAX 2000
static struct node *graph[GRAPH_MAX];
static unsigned char graph_dead[GRAPH_MAX];
static struct shade_rc_type graph_type;
static void graph_finalize(void *obj) { graph_dead[((struct node *)obj)->id] = 1; }
static uint64_t rng; // seeded by main

static void test_random_graphs_match_reachability(void) {
  graph_type = node_type;
  graph_type.name = "graph_node";
  graph_type.finalize = graph_finalize;
  graph_type.shade_private = 0;
  int rounds = (int)shade_test_scaled(40, 5);
  shade_rc_disable(); // everything stays in generation 0, so any collection sees it all
  for (int round = 0; round < rounds; round++) {
    int n = 10 + (int)(shade_test_random(&rng) % (GRAPH_MAX - 10));
    memset(graph_dead, 0, sizeof graph_dead);
    for (int i = 0; i < n; i++) {
      graph[i] = shade_rc_new(&graph_type);
      graph[i]->id = i;
    }
    int edges[GRAPH_MAX][2];
    for (int i = 0; i < n; i++) {
      for (int k = 0; k < 2; k++) {
        edges[i][k] = shade_test_random(&rng) % 3 == 0
                          ? -1
                          : (int)(shade_test_random(&rng) % (unsigned)n);
        if (edges[i][k] >= 0)
          link_to(k ? &graph[i]->right : &graph[i]->left, graph[edges[i][k]]);
      }
    }
    // Keep a random tenth; drop the program's reference to the rest.
    unsigned char held[GRAPH_MAX] = {0}, reachable[GRAPH_MAX] = {0};
    int stack[GRAPH_MAX], top = 0;
    for (int i = 0; i < n; i++) {
      held[i] = shade_test_random(&rng) % 10 == 0;
      if (held[i]) {
        reachable[i] = 1;
        stack[top++] = i;
      }
    }
    while (top > 0) {
      int i = stack[--top];
      for (int k = 0; k < 2; k++) {
        int j = edges[i][k];
        if (j >= 0 && !reachable[j]) {
          reachable[j] = 1;
          stack[top++] = j;
        }
      }
    }
    int expected_garbage = 0;
    for (int i = 0; i < n; i++)
      expected_garbage += !reachable[i];
    struct node *kept[GRAPH_MAX];
    int kept_count = 0;
    for (int i = 0; i < n; i++) {
      if (held[i])
        kept[kept_count++] = graph[i];
      else
        shade_decref(graph[i]); // may free acyclic garbage at once
    }
    int freed_at_once = 0;
    for (int i = 0; i < n; i++)
      freed_at_once += graph_dead[i];
    size_t found = shade_rc_collect((int)(shade_test_random(&rng) % 3));
    SHADE_TEST_EXPECT_EQ((long)found + freed_at_once, expected_garbage);
    for (int i = 0; i < n; i++)
      SHADE_TEST_EXPECT_EQ(graph_dead[i], !reachable[i]);
    for (int i = 0; i < kept_count; i++)
      shade_decref(kept[i]);
    shade_rc_collect(2);
    for (int i = 0; i < n; i++)
      SHADE_TEST_EXPECT(graph_dead[i]);
  }
}

// A cycle none of whose types has clear cannot be broken: it is reported as uncollectable by the
// callbacks and stays, tracked, in the oldest generation.
static struct shade_rc_collect_info last_info;
static void remember_info(enum shade_rc_phase phase, const struct shade_rc_collect_info *info,
                          void *arg) {
  (void)arg;
  if (phase == SHADE_RC_STOP)
    last_info = *info;
}

static void test_cycle_without_clear_is_uncollectable(void) {
  struct pair *p = shade_rc_new(&pair_type), *q = shade_rc_new(&pair_type);
  link_to(&p->a, q);
  link_to(&q->a, p);
  shade_decref(p);
  shade_decref(q);
  shade_rc_add_callback(remember_info, NULL);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 2);
  SHADE_TEST_EXPECT_EQ(last_info.collected, 2);
  SHADE_TEST_EXPECT_EQ(last_info.uncollectable, 2);
  SHADE_TEST_EXPECT(shade_rc_is_tracked(p) && shade_rc_is_tracked(q));
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(2, NULL, 0), 2);
  // Breaking the cycle by hand frees both.
  void *held = p->a;
  p->a = NULL;
  shade_decref(held);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(-1, NULL, 0), 0);
  shade_rc_remove_callback(remember_info, NULL);
}

int main(void) {
  rng = shade_test_seed();
  shade_test_between_tests(rc_test_reset);
  SHADE_TEST_RUN(test_self_cycle_is_collected);
  SHADE_TEST_RUN(test_two_object_cycle_is_collected);
  SHADE_TEST_RUN(test_long_cycle_is_collected);
  SHADE_TEST_RUN(test_cycle_reachable_from_outside_is_kept);
  SHADE_TEST_RUN(test_reference_from_older_generation_keeps_young_cycle);
  SHADE_TEST_RUN(test_reference_from_untracked_container_keeps_cycle);
  SHADE_TEST_RUN(test_garbage_reachable_only_from_garbage_is_collected);
  SHADE_TEST_RUN(test_random_graphs_match_reachability);
  SHADE_TEST_RUN(test_cycle_without_clear_is_uncollectable);
  return shade_test_finish();
}
