// fin_test.h: what the finalization tests share on top of test_util.h.
//
// Every program stores pointers with SHADE_STORE and declares the barrier, so that one binary
// runs in each marking mode: argv[1] names it ("stw", "incremental", "concurrent"; none: the
// environment's SHADE_MODE decides, as in CI's mode stages).
#ifndef SHADE_FIN_TEST_H
#define SHADE_FIN_TEST_H
#include "test_util.h"

static SHADE_TEST_UNUSED void fin_test_init(int argc, char **argv) {
  struct shade_options o = {.write_barrier = 1};
  if (argc > 1 && strcmp(argv[1], "stw") == 0)
    o.mode = SHADE_MODE_STW;
  if (argc > 1 && strcmp(argv[1], "incremental") == 0)
    o.mode = SHADE_MODE_INCREMENTAL;
  if (argc > 1 && strcmp(argv[1], "concurrent") == 0)
    o.mode = SHADE_MODE_CONCURRENT;
  SHADE_TEST_EXPECT(shade_init(&o) == 0);
  struct shade_stats s = shade_test_stats();
  printf("mode %d, generational %d\n", s.mode, s.generational);
}

// A collection that also runs what it queued: the finalizers have run when it returns.
static SHADE_TEST_NOINLINE SHADE_TEST_UNUSED void fin_test_collect_and_finalize(void) {
  shade_test_collect_clean();
  shade_wait_for_pending_finalizers();
}

// An object of `words` pointer slots, each slot filled with a recognisable non-pointer.
struct fin_node {
  struct fin_node *next;
  struct fin_node *other;
  uintptr_t id;
  uintptr_t check; // id * FIN_CHECK: a freed and reused object would not keep it
};
#define FIN_CHECK 0x9E3779B97F4A7C15ull

static SHADE_TEST_UNUSED struct fin_node *fin_node_new(uintptr_t id) {
  struct fin_node *n = shade_malloc(sizeof *n);
  n->id = id;
  n->check = id * FIN_CHECK;
  return n;
}
static SHADE_TEST_UNUSED bool fin_node_intact(const struct fin_node *n, uintptr_t id) {
  return n->id == id && n->check == id * FIN_CHECK;
}

#endif
