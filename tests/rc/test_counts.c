// test_counts.c: counts, and freeing at the instant the count reaches zero.
#include "rc_test.h"

#include <pthread.h>

// A new object has count 1; incref and decref move it by one.
static void test_new_object_has_count_one(void) {
  struct node *n = node_new(1);
  SHADE_TEST_EXPECT_EQ(shade_rc_count(n), 1);
  shade_incref(n);
  shade_incref(n);
  SHADE_TEST_EXPECT_EQ(shade_rc_count(n), 3);
  shade_decref(n);
  SHADE_TEST_EXPECT_EQ(shade_rc_count(n), 2);
  SHADE_TEST_EXPECT(shade_rc_type_of(n) == &node_type);
  shade_decref(n);
  shade_decref(n);
}

// The object is zeroed, and a container is tracked while an atomic object is not.
static void test_new_objects_are_zeroed_and_containers_tracked(void) {
  struct node *n = node_new(0);
  SHADE_TEST_EXPECT(n->left == NULL && n->right == NULL);
  SHADE_TEST_EXPECT(shade_rc_is_tracked(n));
  unsigned char *leaf = shade_rc_new(&leaf_type);
  for (int i = 0; i < 16; i++)
    SHADE_TEST_EXPECT_EQ(leaf[i], 0);
  SHADE_TEST_EXPECT(!shade_rc_is_tracked(leaf));
  shade_rc_untrack(n);
  SHADE_TEST_EXPECT(!shade_rc_is_tracked(n));
  shade_rc_track(n);
  SHADE_TEST_EXPECT(shade_rc_is_tracked(n));
  shade_decref(n);
  shade_decref(leaf);
}

// The last decref finalizes the object at once, not at the next collection.
static void test_last_decref_frees_at_once(void) {
  long before = atomic_load(&nodes_finalized);
  struct node *n = node_new(2);
  shade_incref(n);
  shade_decref(n);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before);
  shade_decref(n);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before + 1);
}

// Freeing a parent releases its children, which die at once when that was their last reference.
static void test_freeing_releases_children(void) {
  long nodes = atomic_load(&nodes_finalized), leaves = atomic_load(&leaves_finalized);
  struct node *parent = node_new(0);
  parent->left = node_new(1);
  parent->right = shade_rc_new(&leaf_type);
  void *kept = parent->left;
  shade_incref(kept);
  shade_decref(parent);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), nodes + 1);
  SHADE_TEST_EXPECT_EQ(atomic_load(&leaves_finalized), leaves + 1);
  SHADE_TEST_EXPECT_EQ(shade_rc_count(kept), 1);
  shade_decref(kept);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), nodes + 2);
}

// A type without clear: freeing decrefs each child its traverse lists.

static void test_type_without_clear_releases_children_through_traverse(void) {
  long leaves = atomic_load(&leaves_finalized);
  struct pair *p = shade_rc_new(&pair_type);
  p->a = shade_rc_new(&leaf_type);
  p->b = shade_rc_new(&leaf_type);
  shade_decref(p);
  SHADE_TEST_EXPECT_EQ(atomic_load(&leaves_finalized), leaves + 2);
}

// Variable-size objects take their size from the type's size function.
struct vec {
  size_t length;
  void *items[];
};
static size_t vec_size_of(size_t length) { return sizeof(struct vec) + length * sizeof(void *); }
static void vec_traverse(void *obj, shade_rc_visit_fn visit, void *arg) {
  struct vec *v = obj;
  for (size_t i = 0; i < v->length; i++)
    visit(v->items[i], arg);
}
static void vec_clear(void *obj) {
  struct vec *v = obj;
  for (size_t i = 0; i < v->length; i++) {
    void *item = v->items[i];
    v->items[i] = NULL;
    shade_xdecref(item);
  }
}
static struct shade_rc_type vec_type = {
    .name = "vec", .size_of = vec_size_of, .traverse = vec_traverse, .clear = vec_clear};

static void test_variable_size_objects(void) {
  long leaves = atomic_load(&leaves_finalized);
  struct vec *v = shade_rc_new_var(&vec_type, 1000);
  SHADE_TEST_EXPECT(v != NULL);
  v->length = 1000;
  for (size_t i = 0; i < 1000; i++) {
    SHADE_TEST_EXPECT(v->items[i] == NULL);
    v->items[i] = shade_rc_new(&leaf_type);
  }
  shade_decref(v);
  SHADE_TEST_EXPECT_EQ(atomic_load(&leaves_finalized), leaves + 1000);
}

// Freeing a chain of nested containers is iterative: ten million links (scaled) are freed from a
// thread with a 256 KiB stack, which a recursive free would overflow within a few thousand.
static size_t chain_length;
static void *free_chain_on_small_stack(void *arg) {
  shade_decref(arg);
  return NULL;
}

static void test_freeing_a_long_chain_does_not_recurse(void) {
  chain_length = shade_test_scaled(10 * 1000 * 1000, 100000);
  shade_rc_disable(); // building it is not what is measured
  long before = atomic_load(&nodes_finalized);
  struct node *head = node_new(0);
  struct node *tail = head;
  for (size_t i = 1; i < chain_length; i++) {
    struct node *n = node_new((long)i);
    tail->left = n; // the chain's only reference to n
    tail = n;
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_t thread;
  SHADE_TEST_EXPECT(shade_pthread_create(&thread, &attr, free_chain_on_small_stack, head) == 0);
  pthread_join(thread, NULL);
  pthread_attr_destroy(&attr);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before + (long)chain_length);
  long counts[3];
  shade_rc_get_count(counts);
  SHADE_TEST_EXPECT_EQ(counts[0], 0);
}

// A finalizer that drops references during a free: the nested frees complete too.
static struct node *finalizer_drops;
static void dropping_finalize(void *obj) {
  (void)obj;
  if (finalizer_drops) {
    struct node *n = finalizer_drops;
    finalizer_drops = NULL;
    shade_decref(n);
  }
}
static struct shade_rc_type dropping_type = {.name = "dropping",
                                             .size = sizeof(struct node),
                                             .traverse = node_traverse,
                                             .clear = node_clear,
                                             .finalize = dropping_finalize};

static void test_finalizer_may_free_other_objects(void) {
  long before = atomic_load(&nodes_finalized);
  finalizer_drops = node_new(1);
  finalizer_drops->left = node_new(2);
  void *d = shade_rc_new(&dropping_type);
  shade_decref(d);
  SHADE_TEST_EXPECT(finalizer_drops == NULL);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before + 2);
}

int main(void) {
  shade_test_between_tests(rc_test_reset);
  SHADE_TEST_RUN(test_new_object_has_count_one);
  SHADE_TEST_RUN(test_new_objects_are_zeroed_and_containers_tracked);
  SHADE_TEST_RUN(test_last_decref_frees_at_once);
  SHADE_TEST_RUN(test_freeing_releases_children);
  SHADE_TEST_RUN(test_type_without_clear_releases_children_through_traverse);
  SHADE_TEST_RUN(test_variable_size_objects);
  SHADE_TEST_RUN(test_freeing_a_long_chain_does_not_recurse);
  SHADE_TEST_RUN(test_finalizer_may_free_other_objects);
  return shade_test_finish();
}
