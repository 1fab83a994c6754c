// The hard heap limit (SHADE_HEAP_LIMIT=64MiB in the environment): allocation beyond it fails
// cleanly with NULL and ENOMEM after a last collection, the program keeps running, and once it
// drops what it held it can allocate again.
#include "memory_test.h"

#define LIMIT ((size_t)64 << 20)

// Every object is held from this global table, none from another object: a stale copy of one
// address on the stack then keeps one object alive, not a whole chain.
#define MAX_HELD (1 << 19)
static void *held[MAX_HELD];

// Allocates objects of `size` bytes, all kept reachable, until allocation fails.
static __attribute__((noinline)) size_t fill_until_refused(size_t size, int *saved_errno) {
  size_t total = 0;
  for (size_t i = 0; i < MAX_HELD; i++) {
    errno = 0;
    held[i] = shade_malloc(size);
    if (held[i] == NULL) {
      *saved_errno = errno;
      return total;
    }
    total += size;
  }
  return total; // the limit is not enforced: stop before the machine suffers
}

static void check_fill(size_t object_size) {
  int error = 0;
  size_t total = fill_until_refused(object_size, &error);
  struct shade_stats stats;
  shade_get_stats(&stats);
  fprintf(stderr, "  %zu-byte objects: %.1f MB allocated before refusal (errno %d), heap "
          "%.1f MB in use, %llu refusals\n", object_size, total / MB, error,
          stats.heap_committed / MB, (unsigned long long)stats.heap_limit_refusals);
  SHADE_TEST_EXPECTF(total >= LIMIT / 2 && total <= LIMIT, "allocated %.1f MB", total / MB);
  SHADE_TEST_EXPECT(error == ENOMEM);
  SHADE_TEST_EXPECT(stats.heap_committed <= LIMIT);
  SHADE_TEST_EXPECT(stats.heap_limit == LIMIT);
  SHADE_TEST_EXPECT(stats.heap_limit_refusals > 0);
  memset(held, 0, sizeof held); // drop it all, and go on
  shade_test_clear_stack();
  shade_collect();
  void *again = shade_malloc(LIMIT / 4);
  SHADE_TEST_EXPECT(again != NULL);
}

static void test_large_objects_fail_at_the_limit_and_recover(void) { check_fill(1 << 20); }
static void test_small_objects_fail_at_the_limit_and_recover(void) { check_fill(256); }

static void test_a_request_above_the_limit_fails_at_once(void) {
  errno = 0;
  SHADE_TEST_EXPECT(shade_malloc(LIMIT + (1 << 20)) == NULL);
  SHADE_TEST_EXPECT(errno == ENOMEM);
  SHADE_TEST_EXPECT(shade_malloc(1 << 20) != NULL);
}

static void test_the_limit_can_be_changed(void) {
  SHADE_TEST_EXPECT(shade_set_heap_limit(0) == LIMIT); // none
  void *big = shade_malloc_atomic(LIMIT * 2);
  SHADE_TEST_EXPECT(big != NULL);
  big = NULL;
  shade_test_clear_stack();
  shade_collect();
  SHADE_TEST_EXPECT(shade_set_heap_limit(LIMIT) == 0);
}

int main(void) {
  shade_init(NULL);
  SHADE_TEST_RUN(test_large_objects_fail_at_the_limit_and_recover);
  SHADE_TEST_RUN(test_small_objects_fail_at_the_limit_and_recover);
  SHADE_TEST_RUN(test_a_request_above_the_limit_fails_at_once);
  SHADE_TEST_RUN(test_the_limit_can_be_changed);
  return shade_test_finish();
}
