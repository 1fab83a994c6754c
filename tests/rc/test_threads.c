// test_threads.c: the threading contract. Several threads share RC objects; each holds the RC
// lock around every RC call and every access to a counted reference. Objects made by one thread
// are stored into shared slots, picked up, kept and dropped by others; cycles are made and left
// for the automatic and explicit collections, which run on whichever thread triggers them. Under
// TSan this checks that the lock orders everything the library touches; in every build it checks
// that nothing is freed twice or lost: every object made is finalized exactly once.
#include "rc_test.h"

#include <pthread.h>

enum { THREADS = 4, SLOTS = 64, HOLD = 16 };

static void *slots[SLOTS];
static atomic_long made;

struct worker {
  uint64_t rng;
  int iterations;
};

static void *work(void *arg) {
  struct worker *w = arg;
  void *held[HOLD] = {0};
  for (int i = 0; i < w->iterations; i++) {
    shade_rc_lock();
    uint64_t r = shade_test_random(&w->rng);
    struct node *n = node_new(i);
    atomic_fetch_add(&made, 1);
    switch (r % 4) {
    case 0: // a self-cycle, garbage at once
      link_to(&n->left, n);
      break;
    case 1: { // linked to a shared object: a cycle through the slots when that one links back
      void *other = slots[(r >> 8) % SLOTS];
      if (other)
        link_to(&n->left, other);
      break;
    }
    case 2: { // a leaf child, freed with n
      n->right = shade_rc_new(&leaf_type);
      atomic_fetch_add(&made, 1);
      break;
    }
    default:
      break;
    }
    // Publish n in a shared slot (dropping what was there), keep one slot's object for a while.
    void **slot = &slots[(r >> 16) % SLOTS];
    void *old = *slot;
    *slot = n; // takes n's reference
    shade_xdecref(old);
    void **keep = &held[(r >> 24) % HOLD];
    shade_xdecref(*keep);
    *keep = slots[(r >> 32) % SLOTS];
    shade_xincref(*keep);
    if (r % 97 == 0)
      shade_rc_collect((int)((r >> 40) % 3));
    shade_rc_unlock();
  }
  shade_rc_lock();
  for (int i = 0; i < HOLD; i++)
    shade_xdecref(held[i]);
  shade_rc_unlock();
  return NULL;
}

static void test_threads_sharing_objects_under_the_lock(void) {
  long before_nodes = atomic_load(&nodes_finalized), before_leaves = atomic_load(&leaves_finalized);
  atomic_store(&made, 0);
  shade_rc_lock();
  shade_rc_set_threshold(100, 5, 5);
  shade_rc_unlock();
  pthread_t threads[THREADS];
  struct worker workers[THREADS];
  uint64_t seed = shade_test_seed();
  int iterations = (int)shade_test_scaled(20000, 500);
  for (int t = 0; t < THREADS; t++) {
    workers[t] = (struct worker){.rng = seed + 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1),
                                 .iterations = iterations};
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[t], NULL, work, &workers[t]) == 0);
  }
  for (int t = 0; t < THREADS; t++)
    pthread_join(threads[t], NULL);
  shade_rc_lock();
  for (int i = 0; i < SLOTS; i++) {
    shade_xdecref(slots[i]);
    slots[i] = NULL;
  }
  shade_rc_collect(2);
  SHADE_TEST_EXPECT_EQ(shade_rc_get_objects(-1, NULL, 0), 0);
  SHADE_TEST_EXPECT_EQ((atomic_load(&nodes_finalized) - before_nodes) +
                   (atomic_load(&leaves_finalized) - before_leaves),
                       atomic_load(&made));
  shade_rc_set_threshold(700, 10, 10);
  shade_rc_unlock();
}

int main(void) {
  // No shade_test_between_tests(rc_test_reset): once threads have shared objects, every RC call
  // needs the lock, which rc_test_reset does not take.
  SHADE_TEST_RUN(test_threads_sharing_objects_under_the_lock);
  return shade_test_finish();
}
