// memory_test.h: what the memory tests (tests/memory/: memory returned to the OS, the scavenger,
// soft and hard limits) share, on top of the harness in test_util.h.
//
// A test file is written like every other (see test_util.h): `static void test_<what>(void)`
// functions with SHADE_TEST_EXPECT / SHADE_TEST_EXPECTF, run from main with SHADE_TEST_RUN,
// main returning shade_test_finish(). RSS comes from shade_test_rss (/proc/self/statm), and a
// dropped buffer's address is wiped off the stack with shade_test_clear_stack so that the
// conservative scan does not find it. This header adds whether RSS can be checked exactly in
// this build, MB for printing sizes, and a sleep that survives the collector's stop signal.
#ifndef SHADE_MEMORY_TEST_H
#define SHADE_MEMORY_TEST_H

#include "test_util.h"

// TSan keeps shadow memory for every byte the program touched, and does not give it back when
// Shade returns the pages: RSS cannot fall back there. Its stack layout also leaves more stale
// words for the conservative scan, so "this exact buffer was freed" is not checked either.
#if defined(SHADE_SANITIZER_THREAD)
#define MEMORY_TEST_RSS_EXACT 0
#else
#define MEMORY_TEST_RSS_EXACT 1
#endif
#define MB (1024.0 * 1024.0)

// Sleeps the whole time even when a collection's stop signal interrupts nanosleep. Under TSan
// it naps 1 ms at a time: TSan holds a signal for a thread asleep in clock_nanosleep until the
// call returns, and a concurrent cycle needs this thread to answer three stops (mark start, its
// stack scan, mark termination), so one long sleep would let at most one through.
static inline void sleep_seconds(double seconds) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  long long ns = until.tv_nsec + (long long)(seconds * 1e9);
  until.tv_sec += ns / 1000000000;
  until.tv_nsec = ns % 1000000000;
#if defined(SHADE_SANITIZER_THREAD)
  for (;;) {
    struct timespec now, nap = {0, 1000000};
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > until.tv_sec || (now.tv_sec == until.tv_sec && now.tv_nsec >= until.tv_nsec))
      return;
    nanosleep(&nap, NULL);
  }
#else
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) == EINTR) {
  }
#endif
}

#endif
