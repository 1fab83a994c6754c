// memory_test.h: the small harness of the memory tests (issue 5): expectations, RSS from
// /proc/self/statm, a sleep that survives the collector's stop signal, and a stack wipe so that a
// dropped buffer's address does not linger where the conservative scan would find it.
#ifndef SHADE_MEMORY_TEST_H
#define SHADE_MEMORY_TEST_H

#include <shade.h>

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(SHADE_SANITIZER_ADDRESS) || defined(SHADE_SANITIZER_THREAD)
#define MEMORY_TEST_SANITIZED 1
#else
#define MEMORY_TEST_SANITIZED 0
#endif
// TSan keeps shadow memory for every byte the program touched, and does not give it back when
// Shade returns the pages: RSS cannot fall back there. Its stack layout also leaves more stale
// words for the conservative scan, so "this exact buffer was freed" is not checked either.
#if defined(SHADE_SANITIZER_THREAD)
#define MEMORY_TEST_RSS_EXACT 0
#else
#define MEMORY_TEST_RSS_EXACT 1
#endif
#define MEMORY_TEST_SKIP 77
#define MB (1024.0 * 1024.0)

static atomic_int memory_test_failures;
static const char *memory_test_current = "(main)";

#define EXPECTF(cond, ...)                                                                        \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      atomic_fetch_add(&memory_test_failures, 1);                                                 \
      fprintf(stderr, "%s:%d: FAILED in %s: %s  -- ", __FILE__, __LINE__, memory_test_current,   \
              #cond);                                                                             \
      fprintf(stderr, __VA_ARGS__);                                                               \
      fputc('\n', stderr);                                                                        \
    }                                                                                             \
  } while (0)
#define EXPECT(cond) EXPECTF(cond, "%s", "")

static inline double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define RUN(test)                                                                                 \
  do {                                                                                            \
    memory_test_current = #test;                                                                  \
    int failures_before = atomic_load(&memory_test_failures);                                    \
    double t0 = now_seconds();                                                                    \
    test();                                                                                       \
    fprintf(stderr, "%s %s (%.2f s)\n",                                                           \
            atomic_load(&memory_test_failures) == failures_before ? "ok  " : "FAIL", #test,      \
            now_seconds() - t0);                                                                  \
  } while (0)

static inline int memory_test_finish(void) {
  int failures = atomic_load(&memory_test_failures);
  if (failures)
    fprintf(stderr, "%d expectation(s) failed\n", failures);
  return failures ? 1 : 0;
}

static inline size_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &resident) != 2)
      resident = 0;
    fclose(f);
  }
  return resident * (size_t)sysconf(_SC_PAGESIZE);
}

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

static __attribute__((noinline, unused)) void clear_stack(void) {
  volatile char wipe[64 * 1024];
  memset((char *)wipe, 0, sizeof wipe);
  __asm__ volatile("" : : "r"(wipe) : "memory");
}

static inline double test_scale(void) {
  const char *s = getenv("SHADE_TEST_SCALE");
  double scale = s ? atof(s) : 1.0;
  return scale > 0 ? scale : 1.0;
}

#endif
