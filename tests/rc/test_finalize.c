// test_finalize.c: finalizers run once, resurrection, and weak references.
#include "rc_test.h"

// A finalizer that stores a reference to its object in `resurrected` (once).
static void *resurrected;
static int resurrect_calls;
static bool resurrect_enabled;
static void resurrecting_finalize(void *obj) {
  resurrect_calls++;
  if (resurrect_enabled) {
    shade_incref(obj);
    resurrected = obj;
  }
}
static struct shade_rc_type phoenix_type = {.name = "phoenix",
                                            .size = sizeof(struct node),
                                            .traverse = node_traverse,
                                            .clear = node_clear,
                                            .finalize = resurrecting_finalize};

// An object resurrected by its finalizer at count zero survives; at its second death the
// finalizer is not called again, and the object is freed.
static void test_resurrection_at_count_zero(void) {
  resurrect_calls = 0;
  resurrect_enabled = true;
  struct node *p = shade_rc_new(&phoenix_type);
  shade_decref(p);
  SHADE_TEST_EXPECT(resurrected == p);
  SHADE_TEST_EXPECT_EQ(resurrect_calls, 1);
  SHADE_TEST_EXPECT_EQ(shade_rc_count(p), 1);
  SHADE_TEST_EXPECT(shade_rc_is_finalized(p));
  SHADE_TEST_EXPECT(shade_rc_is_tracked(p));
  resurrected = NULL;
  shade_decref(p); // freed for good, finalizer not called again
  SHADE_TEST_EXPECT_EQ(resurrect_calls, 1);
  SHADE_TEST_EXPECT(resurrected == NULL);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(-1, NULL, 0), 0);
}

// Finalizers of cyclic garbage run once, before anything is cleared: each can still see the
// whole cycle intact.
static int cycle_intact_seen;
static void checking_finalize(void *obj) {
  struct node *n = obj;
  if (n->left && ((struct node *)n->left)->left == n)
    cycle_intact_seen++;
}
static struct shade_rc_type checking_type = {.name = "checking",
                                             .size = sizeof(struct node),
                                             .traverse = node_traverse,
                                             .clear = node_clear,
                                             .finalize = checking_finalize};

static void test_cycle_finalizers_see_the_cycle_intact(void) {
  cycle_intact_seen = 0;
  struct node *a = shade_rc_new(&checking_type), *b = shade_rc_new(&checking_type);
  link_to(&a->left, b);
  link_to(&b->left, a);
  shade_decref(a);
  shade_decref(b);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 2);
  SHADE_TEST_EXPECT_EQ(cycle_intact_seen, 2);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(-1, NULL, 0), 0);
}

// A cycle member resurrected by its finalizer during a collection keeps itself and everything it
// reaches alive; the collection frees nothing of it; later, the same cycle, garbage again, is
// freed without a second finalizer call.
static void test_resurrection_during_collection(void) {
  resurrect_calls = 0;
  resurrect_enabled = true;
  long before = atomic_load(&nodes_finalized);
  struct node *p = shade_rc_new(&phoenix_type), *n = node_new(1);
  link_to(&p->left, n);
  link_to(&n->left, p);
  shade_decref(p);
  shade_decref(n);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 2); // found unreachable, then resurrected
  SHADE_TEST_EXPECT(resurrected == p);
  SHADE_TEST_EXPECT_EQ(resurrect_calls, 1);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before + 1); // n's finalizer ran, n lives on
  SHADE_TEST_EXPECT(((struct node *)p->left)->left == p);
  SHADE_TEST_EXPECT(shade_rc_is_tracked(p) && shade_rc_is_tracked(n));
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(-1, NULL, 0), 2);
  resurrected = NULL;
  shade_decref(p);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 2);
  SHADE_TEST_EXPECT_EQ(resurrect_calls, 1);
  SHADE_TEST_EXPECT_EQ(atomic_load(&nodes_finalized), before + 1);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(-1, NULL, 0), 0);
}

// Weak references: read while the object lives, cleared when it dies, callback called once.
static int weak_callbacks;
static struct shade_rc_weakref *weak_seen;
static void weak_callback(struct shade_rc_weakref *ref, void *arg) {
  weak_callbacks++;
  weak_seen = ref;
  SHADE_TEST_EXPECT(shade_rc_weakref_peek(ref) == NULL);
  SHADE_TEST_EXPECT(arg == (void *)&weak_callbacks);
}

static void test_weak_reference_cleared_at_count_zero(void) {
  weak_callbacks = 0;
  struct node *n = node_new(1);
  struct shade_rc_weakref *w = shade_rc_weakref_new(n, weak_callback, &weak_callbacks);
  struct shade_rc_weakref *plain = shade_rc_weakref_new(n, NULL, NULL);
  SHADE_TEST_EXPECT_EQ(shade_rc_weakref_count(n), 2);
  SHADE_TEST_EXPECT_EQ(shade_rc_count(n), 1); // weak references do not count
  struct node *strong = shade_rc_weakref_get(w);
  SHADE_TEST_EXPECT(strong == n);
  SHADE_TEST_EXPECT_EQ(shade_rc_count(n), 2);
  shade_decref(strong);
  shade_decref(n);
  SHADE_TEST_EXPECT_EQ(weak_callbacks, 1);
  SHADE_TEST_EXPECT(weak_seen == w);
  SHADE_TEST_EXPECT(shade_rc_weakref_get(w) == NULL);
  SHADE_TEST_EXPECT(shade_rc_weakref_get(plain) == NULL);
  shade_rc_weakref_free(w);
  shade_rc_weakref_free(plain);
}

static void freeing_callback(struct shade_rc_weakref *ref, void *arg) {
  (void)arg;
  weak_callbacks++;
  shade_rc_weakref_free(ref);
}

// Weak references to cyclic garbage are cleared by the collection; a callback may free its
// weak reference; freeing a weak reference before its object dies cancels its callback.
static void test_weak_references_to_cycles_cleared_by_collection(void) {
  weak_callbacks = 0;
  struct node *a = node_new(1), *b = node_new(2);
  link_to(&a->left, b);
  link_to(&b->left, a);
  struct shade_rc_weakref *wa = shade_rc_weakref_new(a, freeing_callback, NULL);
  shade_rc_weakref_new(b, freeing_callback, NULL);
  struct shade_rc_weakref *cancelled = shade_rc_weakref_new(b, weak_callback, &weak_callbacks);
  shade_rc_weakref_free(cancelled);
  SHADE_TEST_EXPECT_EQ(shade_rc_weakref_count(b), 1);
  SHADE_TEST_EXPECT(shade_rc_weakref_peek(wa) == a);
  shade_decref(a);
  shade_decref(b);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 2);
  SHADE_TEST_EXPECT_EQ(weak_callbacks, 2);
}

// Weak references to an object resurrected during a collection are not cleared.
static void test_weak_reference_survives_resurrection(void) {
  resurrect_enabled = true;
  struct node *p = shade_rc_new(&phoenix_type);
  link_to(&p->left, p);
  struct shade_rc_weakref *w = shade_rc_weakref_new(p, NULL, NULL);
  shade_decref(p);
  shade_rc_collect(2);
  SHADE_TEST_EXPECT(resurrected == p);
  SHADE_TEST_EXPECT(shade_rc_weakref_peek(w) == p);
  resurrected = NULL;
  resurrect_enabled = false;
  shade_decref(p);
  SHADE_TEST_EXPECT_EQ(shade_rc_collect(2), 1);
  SHADE_TEST_EXPECT(shade_rc_weakref_peek(w) == NULL);
  shade_rc_weakref_free(w);
}

// Many objects with weak references, dying in random order (exercises the side table).
static uint64_t rng; // seeded by main

static void test_many_weak_references(void) {
  enum { N = 5000 };
  static struct node *objs[N];
  static struct shade_rc_weakref *refs[N];
  for (int i = 0; i < N; i++) {
    objs[i] = node_new(i);
    refs[i] = shade_rc_weakref_new(objs[i], NULL, NULL);
  }
  for (int i = 0; i < N; i++) {
    int j = (int)(shade_test_random(&rng) % N);
    struct node *t = objs[i];
    objs[i] = objs[j];
    objs[j] = t;
  }
  for (int i = 0; i < N; i += 2)
    shade_decref(objs[i]);
  int alive = 0;
  for (int i = 0; i < N; i++)
    alive += shade_rc_weakref_peek(refs[i]) != NULL;
  SHADE_TEST_EXPECT_EQ(alive, N / 2);
  for (int i = 1; i < N; i += 2) {
    SHADE_TEST_EXPECT_EQ(shade_rc_weakref_count(objs[i]), 1);
    shade_decref(objs[i]);
  }
  for (int i = 0; i < N; i++) {
    SHADE_TEST_EXPECT(shade_rc_weakref_peek(refs[i]) == NULL);
    shade_rc_weakref_free(refs[i]);
  }
}

int main(void) {
  rng = shade_test_seed();
  shade_test_between_tests(rc_test_reset);
  SHADE_TEST_RUN(test_resurrection_at_count_zero);
  SHADE_TEST_RUN(test_cycle_finalizers_see_the_cycle_intact);
  SHADE_TEST_RUN(test_resurrection_during_collection);
  SHADE_TEST_RUN(test_weak_reference_cleared_at_count_zero);
  SHADE_TEST_RUN(test_weak_references_to_cycles_cleared_by_collection);
  SHADE_TEST_RUN(test_weak_reference_survives_resurrection);
  SHADE_TEST_RUN(test_many_weak_references);
  return shade_test_finish();
}
