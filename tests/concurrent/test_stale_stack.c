// test_stale_stack.c (conc_stale_stack_concurrent, conc_stale_stack_incremental): a dead stack
// slot that becomes part of a live frame again must not make the checkmark fail.
//
// Conservative stacks hold stale words: a function returns, leaving pointers in its dead frame;
// a later, deeper call reuses that memory for its own frame without writing every word. Each
// round here: before a marking starts, a deep frame fills 32 KiB of stack with a pointer to a
// fresh object, then returns (the object is garbage: no live variable holds it); the marking
// starts while only shallow frames are live, so the stack scan at mark start (incremental) or the
// handshake scan (concurrent) does not see the stale words; then a frame that covers the same
// memory without initialising it is entered, and the marking runs to its end from inside it.
// The verifier (SHADE_VERIFY=1) re-marks conservatively and finds the stale words in a live
// frame: the collector must have seen them too (a rescan of the stacks at mark termination),
// else the program aborts although it never uses a stale value. Found by conc_hide_incremental,
// which failed within a second; this test fails deterministically without the rescan.
#include "conc_test.h"

enum { WORDS = 8192 }; // 64 KiB of frame; the pointer goes in the deeper half

static uint64_t rng;

static SHADE_TEST_NOINLINE void leave_stale_pointer(void) {
  volatile uintptr_t area[WORDS];
  void *p = shade_malloc(40);
  memset(p, 0x11, 40);
  for (int i = 0; i < WORDS; i++)
    area[i] = i < WORDS / 2 ? (uintptr_t)p : 0;
  __asm__ volatile("" : : "r"(area) : "memory");
}

static SHADE_TEST_NOINLINE void cover_and_finish_marking(void) {
  volatile uintptr_t area[WORDS]; // not initialised: the stale words are back in a live frame
  __asm__ volatile("" : : "r"(area) : "memory");
  SHADE_TEST_EXPECT(conc_allocate_until_marking(0, &rng, (size_t)1 << 30));
  __asm__ volatile("" : : "r"(area) : "memory");
}

static void test_stale_stack_words_do_not_fail_the_checkmark(void) {
  rng = shade_test_seed();
  int rounds = (int)shade_test_scaled(30, 10);
  struct shade_stats before = shade_test_stats();
  for (int round = 0; round < rounds; round++) {
    SHADE_TEST_EXPECT(conc_allocate_until_marking(0, &rng, (size_t)1 << 30));
    leave_stale_pointer();
    // only shallow frames until the marking begins
    for (long k = 0; !conc_marking_now() && k < 100000000; k++) {
      void *volatile q = shade_malloc(100);
      (void)q;
    }
    SHADE_TEST_EXPECT(conc_marking_now());
    cover_and_finish_marking();
  }
  struct shade_stats after = shade_test_stats();
  conc_print_stats("stale_stack", &before, &after);
  SHADE_TEST_EXPECT(after.concurrent_cycles - before.concurrent_cycles >= (uint64_t)rounds);
}

int main(int argc, char **argv) {
  int mode = conc_mode_from_args(argc, argv);
  if (mode == SHADE_MODE_STW)
    shade_test_skip("needs a concurrent or incremental mode");
  conc_start(mode, (struct conc_pacing){.gc_percent = 5, .min_heap_goal = (size_t)1 << 20});
  SHADE_TEST_RUN(test_stale_stack_words_do_not_fail_the_checkmark);
  return shade_test_finish();
}
