// test_util.h: the one test harness of the suite, and the helpers every Shade test shares.
// The domain headers (memory/memory_test.h, rc/rc_test.h, concurrent/conc_test.h) include it and
// add only what their tests need on top.
//
// A test file is a list of `static void test_<what>(void)` functions, each a specification of
// one behaviour, run from main with SHADE_TEST_RUN(test_<what>); main returns
// shade_test_finish(), which is non-zero when any expectation failed (from any thread):
//
//   #include "test_util.h"
//
//   static void test_a_new_object_is_zeroed(void) {
//     unsigned char *p = shade_malloc(64);
//     SHADE_TEST_EXPECT(p != NULL);
//     SHADE_TEST_EXPECTF(p == NULL || p[0] == 0, "first byte %d", p ? p[0] : -1);
//   }
//
//   int main(void) {
//     SHADE_TEST_EXPECT(shade_init(NULL) == 0);
//     SHADE_TEST_RUN(test_a_new_object_is_zeroed);
//     return shade_test_finish();
//   }
//
// Expectations. SHADE_TEST_EXPECT(cond), SHADE_TEST_EXPECTF(cond, format, ...) and
// SHADE_TEST_EXPECT_EQ(a, b) (integers) record a failure and carry on, from any thread. A
// failure prints one line, `file:line: test: expression`, with `  -- detail` after it when there
// is one; `test` is the name SHADE_TEST_RUN gave the running test ("(main)" outside one).
// SHADE_TEST_RUN prints `ok   test_<what> (<seconds> s)` or `FAIL ...` after each test;
// shade_test_between_tests(fn) has it call fn before and after every test.
//
// Skipping. shade_test_skip(reason) prints `SKIPPED: <reason>` and exits with
// SHADE_TEST_SKIP_CODE (77), which CTest reports as skipped (SKIP_RETURN_CODE).
// SHADE_TEST_RUN_UNLESS_TSAN(test) runs a test except in the TSan build.
//
// Randomness and scale. Randomised tests call shade_test_seed() first, which prints `seed=<n>`;
// SHADE_TEST_SEED=<n> replays a run. shade_test_random(&state) is the generator (splitmix64:
// every thread can own a state). SHADE_TEST_SCALE (default 1.0; shade_test_scale,
// shade_test_scaled) scales the amount of work of the heavy tests; sanitizer builds run with less.
//
// Messages. shade_test_capture_messages() routes Shade's messages (shade_set_message_handler)
// into a buffer and empties it; shade_test_message_count_now() and
// shade_test_messages_contain(fragment, also) check it; shade_test_stop_capturing_messages()
// gives them back to stderr.
//
// Locks. Under TSan a thread blocked in pthread_mutex_lock takes no stop signal, so a lock that
// a thread stopped for a collection may hold is taken with shade_test_lock (polls the safepoint).
//
// Conservative scanning. Because Shade scans stacks and registers conservatively, a test that
// wants to see an object reclaimed must not leave its address lying around: it keeps only a
// hidden copy (shade_test_hide: the address XOR a mask, which is never a valid user-space
// address), allocates in a separate non-inlined function, wipes the dead part of the stack
// (shade_test_clear_stack) and then checks reclamation statistically over many objects
// (shade_test_count_live).
#ifndef SHADE_TEST_UTIL_H
#define SHADE_TEST_UTIL_H

#include <shade.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(SHADE_SANITIZER_ADDRESS) || defined(SHADE_SANITIZER_THREAD)
#define SHADE_TEST_SANITIZED 1
#else
#define SHADE_TEST_SANITIZED 0
#endif

#define SHADE_TEST_NOINLINE __attribute__((noinline))
#define SHADE_TEST_UNUSED __attribute__((unused))

// ---------------------------------------------------------------------------------------------
// Expectations

static atomic_int shade_test_failures;
static const char *_Atomic shade_test_current = "(main)";

// Prints `file:line: test: expression` (and `  -- detail` unless detail is empty) and counts it.
static SHADE_TEST_UNUSED void shade_test_fail(const char *file, int line, const char *expression,
                                              const char *detail) {
  atomic_fetch_add(&shade_test_failures, 1);
  fprintf(stderr, "%s:%d: %s: %s%s%s\n", file, line, atomic_load(&shade_test_current),
          expression, detail[0] ? "  -- " : "", detail);
  fflush(stderr);
}

// Records a failure when cond is false, and carries on.
#define SHADE_TEST_EXPECT(cond)                                                                   \
  do {                                                                                            \
    if (!(cond))                                                                                  \
      shade_test_fail(__FILE__, __LINE__, #cond, "");                                             \
  } while (0)

// The same, with a printf-style explanation of the values involved.
#define SHADE_TEST_EXPECTF(cond, ...)                                                             \
  do {                                                                                            \
    if (!(cond)) {                                                                                \
      char shade_test_detail_[512];                                                               \
      snprintf(shade_test_detail_, sizeof shade_test_detail_, __VA_ARGS__);                       \
      shade_test_fail(__FILE__, __LINE__, #cond, shade_test_detail_);                             \
    }                                                                                             \
  } while (0)

// Two integers (compared as long long) are equal; a failure shows both values.
#define SHADE_TEST_EXPECT_EQ(a, b)                                                                \
  do {                                                                                            \
    long long shade_test_a_ = (long long)(a), shade_test_b_ = (long long)(b);                     \
    if (shade_test_a_ != shade_test_b_) {                                                         \
      char shade_test_detail_[64];                                                                \
      snprintf(shade_test_detail_, sizeof shade_test_detail_, "%lld != %lld", shade_test_a_,      \
               shade_test_b_);                                                                    \
      shade_test_fail(__FILE__, __LINE__, #a " == " #b, shade_test_detail_);                      \
    }                                                                                             \
  } while (0)

// ---------------------------------------------------------------------------------------------
// Running tests

static SHADE_TEST_UNUSED double shade_test_now(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void (*shade_test_between_)(void);

// From now on SHADE_TEST_RUN calls reset before and after every test (NULL: nothing).
static SHADE_TEST_UNUSED void shade_test_between_tests(void (*reset)(void)) {
  shade_test_between_ = reset;
}

// Runs one test under its name, and prints whether it met its expectations and how long it took.
#define SHADE_TEST_RUN(test_function)                                                             \
  do {                                                                                            \
    atomic_store(&shade_test_current, #test_function);                                            \
    if (shade_test_between_ != NULL)                                                              \
      shade_test_between_();                                                                      \
    int shade_test_before_ = atomic_load(&shade_test_failures);                                   \
    double shade_test_t0_ = shade_test_now();                                                     \
    test_function();                                                                              \
    double shade_test_seconds_ = shade_test_now() - shade_test_t0_;                               \
    if (shade_test_between_ != NULL)                                                              \
      shade_test_between_();                                                                      \
    fprintf(stderr, "%s %s (%.2f s)\n",                                                           \
            atomic_load(&shade_test_failures) == shade_test_before_ ? "ok  " : "FAIL",            \
            #test_function, shade_test_seconds_);                                                 \
    atomic_store(&shade_test_current, "(main)");                                                  \
  } while (0)

// Tests that need a thread to be stopped while it spins without calls or blocks in read() or
// nanosleep cannot run under TSan: TSan holds asynchronous signals back until the thread next
// enters its runtime, so such a thread never stops. They run in the plain and ASan builds.
#ifdef SHADE_SANITIZER_THREAD
#define SHADE_TEST_RUN_UNLESS_TSAN(test_function)                                                 \
  do {                                                                                            \
    (void)test_function;                                                                          \
    fprintf(stderr, "skip %s (TSan delays the stop signal for this thread)\n", #test_function);   \
  } while (0)
#else
#define SHADE_TEST_RUN_UNLESS_TSAN(test_function) SHADE_TEST_RUN(test_function)
#endif

// What main returns: 1 if any expectation failed, else 0.
static SHADE_TEST_UNUSED int shade_test_finish(void) {
  int failures = atomic_load(&shade_test_failures);
  if (failures != 0)
    fprintf(stderr, "%d expectation(s) failed\n", failures);
  return failures != 0;
}

// CTest treats this exit status as "skipped" (SKIP_RETURN_CODE in the tests' CMakeLists.txt).
#define SHADE_TEST_SKIP_CODE 77

// Skips the whole program: says why, and exits with SHADE_TEST_SKIP_CODE.
static SHADE_TEST_UNUSED _Noreturn void shade_test_skip(const char *reason) {
  fprintf(stderr, "SKIPPED: %s\n", reason);
  fflush(stderr);
  exit(SHADE_TEST_SKIP_CODE);
}

// ---------------------------------------------------------------------------------------------
// Seeds, randomness, scale

// The seed of a randomised test: SHADE_TEST_SEED, or the clock. Printed as `seed=<n>`.
static SHADE_TEST_UNUSED uint64_t shade_test_seed(void) {
  uint64_t seed;
  const char *text = getenv("SHADE_TEST_SEED");
  if (text != NULL && text[0] != '\0') {
    seed = strtoull(text, NULL, 0);
  } else {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    seed = (uint64_t)now.tv_sec * 1000000007u ^ (uint64_t)now.tv_nsec ^ ((uint64_t)getpid() << 32);
  }
  fprintf(stderr, "seed=%" PRIu64 "\n", seed);
  fflush(stderr);
  return seed;
}

// splitmix64: small, fast, good enough, and every thread can own one. Any state is valid.
static inline uint64_t shade_test_random(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A uniformly random integer in [lo, hi].
static inline uint64_t shade_test_random_between(uint64_t *state, uint64_t lo, uint64_t hi) {
  return lo + shade_test_random(state) % (hi - lo + 1);
}

// SHADE_TEST_SCALE (default 1.0): the factor heavy tests apply to their amount of work.
static SHADE_TEST_UNUSED double shade_test_scale(void) {
  const char *text = getenv("SHADE_TEST_SCALE");
  double scale = 1.0;
  if (text != NULL && text[0] != '\0') {
    scale = strtod(text, NULL);
    if (!(scale > 0.0))
      scale = 1.0;
  }
  return scale;
}

// n scaled by SHADE_TEST_SCALE, at least minimum.
static SHADE_TEST_UNUSED size_t shade_test_scaled(double n, size_t minimum) {
  double scaled = n * shade_test_scale();
  return scaled < (double)minimum ? minimum : (size_t)scaled;
}

// ---------------------------------------------------------------------------------------------
// Capturing Shade's messages

static pthread_mutex_t shade_test_messages_lock = PTHREAD_MUTEX_INITIALIZER;
static char shade_test_messages[16384];
static size_t shade_test_messages_length;
static atomic_int shade_test_message_count;

// The handler shade_test_capture_messages installs: appends the line to the buffer.
static SHADE_TEST_UNUSED void shade_test_message_handler(const char *message) {
  pthread_mutex_lock(&shade_test_messages_lock);
  size_t length = strlen(message);
  if (shade_test_messages_length + length + 2 < sizeof shade_test_messages) {
    memcpy(shade_test_messages + shade_test_messages_length, message, length);
    shade_test_messages_length += length;
    shade_test_messages[shade_test_messages_length++] = '\n';
    shade_test_messages[shade_test_messages_length] = '\0';
  }
  atomic_fetch_add(&shade_test_message_count, 1);
  pthread_mutex_unlock(&shade_test_messages_lock);
}

// Routes Shade's messages into a buffer the test reads, and empties it.
static SHADE_TEST_UNUSED void shade_test_capture_messages(void) {
  shade_set_message_handler(shade_test_message_handler);
  pthread_mutex_lock(&shade_test_messages_lock);
  shade_test_messages_length = 0;
  shade_test_messages[0] = '\0';
  atomic_store(&shade_test_message_count, 0);
  pthread_mutex_unlock(&shade_test_messages_lock);
}

// Shade's messages go to stderr again; what was captured stays readable.
static SHADE_TEST_UNUSED void shade_test_stop_capturing_messages(void) {
  shade_set_message_handler(NULL);
}

// How many messages were captured since shade_test_capture_messages.
static SHADE_TEST_UNUSED int shade_test_message_count_now(void) {
  return atomic_load(&shade_test_message_count);
}

static SHADE_TEST_UNUSED void shade_test_lower_copy(char *copy, size_t size, const char *text,
                                                    size_t length) {
  if (length >= size)
    length = size - 1;
  for (size_t i = 0; i < length; i++)
    copy[i] = (char)tolower((unsigned char)text[i]);
  copy[length] = '\0';
}

// 1 if one captured line contains fragment, and also `also` (unless NULL), ignoring case.
static SHADE_TEST_UNUSED int shade_test_messages_contain(const char *fragment, const char *also) {
  char fragment_lower[256], also_lower[256];
  shade_test_lower_copy(fragment_lower, sizeof fragment_lower, fragment, strlen(fragment));
  if (also != NULL)
    shade_test_lower_copy(also_lower, sizeof also_lower, also, strlen(also));
  int found = 0;
  pthread_mutex_lock(&shade_test_messages_lock);
  const char *line = shade_test_messages;
  while (*line != '\0' && !found) {
    const char *end = strchr(line, '\n');
    size_t length = end ? (size_t)(end - line) : strlen(line);
    char copy[1024];
    shade_test_lower_copy(copy, sizeof copy, line, length);
    found = strstr(copy, fragment_lower) != NULL &&
            (also == NULL || strstr(copy, also_lower) != NULL);
    line += length + (end != NULL);
  }
  pthread_mutex_unlock(&shade_test_messages_lock);
  return found;
}

// The hexadecimal digits of p, lower case, without "0x": how a message names a pointer.
static SHADE_TEST_UNUSED const char *shade_test_pointer_text(const void *p, char *buffer,
                                                              size_t size) {
  snprintf(buffer, size, "%" PRIxPTR, (uintptr_t)p);
  return buffer;
}

// Prints what was captured (to explain a failed expectation about messages).
static SHADE_TEST_UNUSED void shade_test_print_messages(void) {
  pthread_mutex_lock(&shade_test_messages_lock);
  fprintf(stderr, "captured messages:\n%s", shade_test_messages);
  pthread_mutex_unlock(&shade_test_messages_lock);
}

// ---------------------------------------------------------------------------------------------
// Locks and process facts

// Takes a lock that another registered thread may hold while it is stopped for a collection: the
// waiter polls the safepoint. (Under TSan a thread blocked in pthread_mutex_lock takes no stop
// signal until it returns, so a plain lock there can deadlock a stop.)
static SHADE_TEST_UNUSED void shade_test_lock(pthread_mutex_t *mutex) {
  for (unsigned spins = 0; pthread_mutex_trylock(mutex) != 0; spins++) {
    shade_safepoint();
    if (spins % 16 == 15)
      sched_yield();
  }
}

static SHADE_TEST_UNUSED struct shade_stats shade_test_stats(void) {
  struct shade_stats stats;
  memset(&stats, 0, sizeof stats);
  shade_get_stats(&stats);
  return stats;
}

// Resident set size of this process, in bytes (0 if /proc is unreadable).
static SHADE_TEST_UNUSED size_t shade_test_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long size_pages = 0, resident_pages = 0;
  if (f == NULL)
    return 0;
  if (fscanf(f, "%lu %lu", &size_pages, &resident_pages) != 2)
    resident_pages = 0;
  fclose(f);
  return (size_t)resident_pages * (size_t)sysconf(_SC_PAGESIZE);
}

// ---------------------------------------------------------------------------------------------
// Hiding pointers from the conservative scanner

// p ^ mask has bits 47..63 set for any user-space p: it is never an address Shade could own.
#define SHADE_TEST_HIDE_MASK ((uintptr_t)0xA5A5A5A5A5A5A5A5ull)

typedef uintptr_t shade_test_hidden;

static inline shade_test_hidden shade_test_hide(const void *p) {
  return (uintptr_t)p ^ SHADE_TEST_HIDE_MASK;
}
static inline void *shade_test_unhide(shade_test_hidden h) {
  return (void *)(h ^ SHADE_TEST_HIDE_MASK);
}

// Overwrites the stack below the caller's frame, where dead frames keep old pointers, and
// the caller-saved registers a call leaves behind.
static SHADE_TEST_NOINLINE SHADE_TEST_UNUSED void shade_test_clear_stack(void) {
  volatile char buffer[64 * 1024];
  memset((char *)buffer, 0, sizeof buffer);
  __asm__ volatile("" : : "r"(buffer) : "memory");
}

// How many of the hidden objects shade_is_heap_pointer calls live (call after shade_collect).
static SHADE_TEST_UNUSED size_t shade_test_count_live(const shade_test_hidden *hidden, size_t n) {
  size_t live = 0;
  for (size_t i = 0; i < n; i++)
    live += shade_is_heap_pointer(shade_test_unhide(hidden[i])) == 1;
  return live;
}

// A collection after wiping stale pointers off the stack.
static SHADE_TEST_NOINLINE SHADE_TEST_UNUSED void shade_test_collect_clean(void) {
  shade_test_clear_stack();
  shade_collect();
}

// ---------------------------------------------------------------------------------------------
// Objects with recognisable contents

static inline unsigned char shade_test_pattern_byte(uint64_t seed, size_t i) {
  return (unsigned char)((seed * 0x9E3779B1u + i * 13u) >> 3 | 1); // never zero
}

static SHADE_TEST_UNUSED void shade_test_fill(void *p, size_t size, uint64_t seed) {
  unsigned char *bytes = p;
  for (size_t i = 0; i < size; i++)
    bytes[i] = shade_test_pattern_byte(seed, i);
}

static SHADE_TEST_UNUSED int shade_test_is_filled(const void *p, size_t size, uint64_t seed) {
  const unsigned char *bytes = p;
  for (size_t i = 0; i < size; i++)
    if (bytes[i] != shade_test_pattern_byte(seed, i))
      return 0;
  return 1;
}

// A new object of `size` bytes filled from `seed`, known to the caller only by its hidden
// address (the allocation happens in this frame, which is dead when the caller continues).
static SHADE_TEST_NOINLINE SHADE_TEST_UNUSED shade_test_hidden shade_test_new_filled(size_t size,
                                                                                  uint64_t seed) {
  void *p = shade_malloc(size);
  if (p != NULL)
    shade_test_fill(p, size, seed);
  return shade_test_hide(p);
}

// Allocates and drops about `bytes` bytes in objects of mixed sizes, so that memory reclaimed by
// mistake is handed out again (zeroed) and the loss shows in the contents of live objects.
static SHADE_TEST_NOINLINE SHADE_TEST_UNUSED void shade_test_allocate_garbage(size_t bytes) {
  static const size_t sizes[] = {8, 16, 24, 32, 48, 64, 96, 128, 256, 512, 1024, 4096, 40000};
  size_t done = 0;
  for (unsigned i = 0; done < bytes; i++) {
    size_t size = sizes[i % (sizeof sizes / sizeof *sizes)];
    unsigned char *volatile p = shade_malloc(size);
    if (p != NULL)
      p[0] = 1;
    done += size;
  }
}

#endif // SHADE_TEST_UTIL_H
