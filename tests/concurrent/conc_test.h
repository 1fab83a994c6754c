// conc_test.h: what the concurrent/incremental marking tests (tests/concurrent/) share, on top
// of the harness in test_util.h.
//
// A test file is written like every other (see test_util.h): `static void test_<what>(void)`
// functions with SHADE_TEST_EXPECT / SHADE_TEST_EXPECTF, run with SHADE_TEST_RUN after
// conc_start(conc_mode_from_args(argc, argv), pacing); main returns shade_test_finish().
//
// Mode. Every test but conc_barrier runs in the mode named by its first argument ("concurrent",
// "incremental" or "stw"), else by SHADE_MODE, else concurrent; CTest registers each one twice
// (conc_<what>_concurrent, conc_<what>_incremental). conc_start passes the mode to shade_init
// explicitly (struct shade_options.mode) with the test's pacing, and checks that
// shade_get_stats reports it back.
//
// Barrier discipline. In these modes every pointer store into a Shade object, a global or a
// root range goes through shade_write / SHADE_STORE, initialising stores into fresh objects
// included; the tests follow that rule without exception (stack variables excepted), so a
// checkmark failure (SHADE_VERIFY=1) or a damaged object is the collector's fault, not theirs.
// Non-pointer words that the tests store into conservatively scanned objects never look like a
// heap address: keys and checks carry bit 63 (CONC_TAG), which no user-space address has, and
// fill patterns have every byte odd. So no number stored without the barrier can be mistaken by
// the verifier for an unshaded pointer.
//
// Locks. A thread blocked in pthread_mutex_lock cannot be stopped under TSan (the stop signal
// waits until the thread re-enters TSan's runtime), while the holder may be stopped: the tests
// take their own locks with shade_test_lock (test_util.h), which polls shade_safepoint while it
// waits.
#ifndef CONC_TEST_H
#define CONC_TEST_H

#include "test_util.h"

#define CONC_TAG ((uint64_t)1 << 63)

// For trace callbacks: they run on marking threads and read fields the program may be writing,
// as the collector reads conservative objects, so they are not TSan-instrumented (the
// collector's own scanning is not either).
#if defined(__SANITIZE_THREAD__)
#define CONC_NO_TSAN __attribute__((no_sanitize_thread))
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define CONC_NO_TSAN __attribute__((no_sanitize("thread")))
#endif
#endif
#ifndef CONC_NO_TSAN
#define CONC_NO_TSAN
#endif

// A check word derived from x: tagged, so never a pointer.
static inline uint64_t conc_hash(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return x | CONC_TAG;
}

// Under sanitizers (and TSan in particular) everything runs many times slower.
#if SHADE_TEST_SANITIZED
#define CONC_SLOWDOWN 8.0
#else
#define CONC_SLOWDOWN 1.0
#endif

static int conc_mode = SHADE_MODE_CONCURRENT;

static SHADE_TEST_UNUSED const char *conc_mode_name(int mode) {
  switch (mode) {
  case SHADE_MODE_DEFAULT: return "default";
  case SHADE_MODE_STW: return "stw";
  case SHADE_MODE_INCREMENTAL: return "incremental";
  case SHADE_MODE_CONCURRENT: return "concurrent";
  default: return "unknown";
  }
}

// SHADE_MODE_* for "stw", "incremental", "concurrent"; -1 for anything else.
static SHADE_TEST_UNUSED int conc_mode_parse(const char *text) {
  if (text == NULL)
    return -1;
  if (strcmp(text, "stw") == 0)
    return SHADE_MODE_STW;
  if (strcmp(text, "incremental") == 0)
    return SHADE_MODE_INCREMENTAL;
  if (strcmp(text, "concurrent") == 0)
    return SHADE_MODE_CONCURRENT;
  return -1;
}

// The mode of this run: argv[1], else SHADE_MODE, else concurrent.
static SHADE_TEST_UNUSED int conc_mode_from_args(int argc, char **argv) {
  int mode = argc > 1 ? conc_mode_parse(argv[1]) : -1;
  if (argc > 1 && mode < 0) {
    fprintf(stderr, "usage: %s [concurrent|incremental|stw]\n", argv[0]);
    exit(2);
  }
  if (mode < 0)
    mode = conc_mode_parse(getenv("SHADE_MODE"));
  return mode < 0 ? SHADE_MODE_CONCURRENT : mode;
}

struct conc_pacing {
  int gc_percent;       // 0: default
  size_t min_heap_goal; // 0: default
  int gc_cpu_percent;   // 0: default
};

// shade_init in `mode` with the given pacing; stops the program if that fails.
static SHADE_TEST_UNUSED void conc_start(int mode, struct conc_pacing pacing) {
  conc_mode = mode;
  struct shade_options options;
  memset(&options, 0, sizeof options);
  options.mode = mode;
  options.gc_percent = pacing.gc_percent;
  options.min_heap_goal = pacing.min_heap_goal;
  options.gc_cpu_percent = pacing.gc_cpu_percent;
  if (shade_init(&options) != 0) {
    fprintf(stderr, "shade_init failed: %s\n", strerror(errno));
    exit(1);
  }
  struct shade_stats stats = shade_test_stats();
  fprintf(stderr, "mode=%s (stats.mode %d), markers %" PRIu64 ", verify %s, scale %g\n",
          conc_mode_name(mode), stats.mode, stats.markers,
          getenv("SHADE_VERIFY") ? getenv("SHADE_VERIFY") : "(unset)", shade_test_scale());
  SHADE_TEST_EXPECTF(stats.mode == mode, "shade_get_stats reports mode %d (%s), asked for %d (%s)",
                     stats.mode, conc_mode_name(stats.mode), mode, conc_mode_name(mode));
}

// A short nap for threads that poll (kept short: under TSan a sleeping thread answers a stop
// request only when its nap ends).
static SHADE_TEST_UNUSED void conc_nap_ms(long ms) {
  struct timespec nap = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&nap, NULL); // EINTR (a stop signal) just ends the nap early
}

// One small garbage object of a random size and kind.
static SHADE_TEST_UNUSED void conc_garbage(uint64_t *rng) {
  uint64_t r = shade_test_random(rng);
  size_t size = 16 + (size_t)(r % 241);
  unsigned char *volatile p = (r >> 32) % 4 == 0 ? shade_malloc_atomic(size) : shade_malloc(size);
  if (p != NULL)
    p[0] = 1;
}

// The marking state of the barrier's flag, which shade.h exports for its inline path (bits 0-1;
// bit 2 is generations' cards): 0 no marking, 1 some stack grey, 2 every stack black.
static SHADE_TEST_UNUSED int conc_barrier_state(void) {
  return __atomic_load_n(&shade_barrier_flags_, __ATOMIC_RELAXED) & 3;
}

// 1 while a marking is under way.
static SHADE_TEST_UNUSED int conc_marking_now(void) { return conc_barrier_state() != 0; }

// Allocates garbage until the barrier's flag reads `on` (a marking began / ended); in
// incremental mode marking only progresses while threads allocate. Returns 0 if that did not
// happen within `max_bytes` of garbage.
static SHADE_TEST_UNUSED int conc_allocate_until_marking(int on, uint64_t *rng, size_t max_bytes) {
  for (size_t done = 0; done < max_bytes; done += 136) {
    if (conc_marking_now() == on)
      return 1;
    conc_garbage(rng);
  }
  return conc_marking_now() == on;
}

// Waits, allocating, for the start of a new marking (the flag off, then on). 0 if none came.
static SHADE_TEST_UNUSED int conc_wait_for_new_marking(uint64_t *rng) {
  return conc_allocate_until_marking(0, rng, (size_t)256 << 20) &&
         conc_allocate_until_marking(1, rng, (size_t)256 << 20);
}

static SHADE_TEST_UNUSED void conc_print_stats(const char *what, const struct shade_stats *before,
                                               const struct shade_stats *after) {
  fprintf(stderr,
          "%s: %" PRIu64 " cycles, %" PRIu64 " concurrent/incremental, pause max %.2f ms, "
          "assist %.1f ms, workers %.1f ms, concurrent marking %.1f ms, barrier flushes %" PRIu64
          ", heap goal %.1f MiB, live %.1f MiB, committed peak %.1f MiB\n",
          what, after->cycles - before->cycles,
          after->concurrent_cycles - before->concurrent_cycles, (double)after->pause_max_ns / 1e6,
          (double)(after->mark_assist_ns - before->mark_assist_ns) / 1e6,
          (double)(after->mark_worker_ns - before->mark_worker_ns) / 1e6,
          (double)(after->concurrent_mark_ns - before->concurrent_mark_ns) / 1e6,
          after->barrier_flushes - before->barrier_flushes, (double)after->heap_goal / 1048576.0,
          (double)after->heap_live / 1048576.0, (double)after->heap_committed_peak / 1048576.0);
}

// Randomised tests run until the collector has completed a target number of concurrent or
// incremental cycles, or until a time cap (times the sanitizer slowdown) on a machine too busy to
// get there. Reaching a quarter of the target (and at least 10 cycles) is required: many cycles
// must have run under the mutators, however slow the machine.
static SHADE_TEST_UNUSED double conc_cap(double cap_seconds) { return cap_seconds * CONC_SLOWDOWN; }

// Waits while the mutators run until `target` more concurrent/incremental cycles than `before`
// counted have completed, or `cap` seconds (already scaled by conc_cap) have passed. Returns the
// stats then.
static SHADE_TEST_UNUSED struct shade_stats conc_wait_for_cycles(const struct shade_stats *before,
                                                                 uint64_t target, double cap) {
  double start = shade_test_now();
  struct shade_stats now = *before;
  while (now.concurrent_cycles - before->concurrent_cycles < target &&
         shade_test_now() - start < cap) {
    conc_nap_ms(5);
    now = shade_test_stats();
  }
  return now;
}

#define CONC_EXPECT_CYCLES(done, target, cap, all)                                                \
  do {                                                                                            \
    uint64_t conc_done_ = (done), conc_target_ = (target);                                        \
    if (conc_done_ < conc_target_)                                                                \
      fprintf(stderr, "note: time cap of %.0f s reached after %" PRIu64 " of %" PRIu64            \
              " concurrent/incremental cycles\n", (double)(cap), conc_done_, conc_target_);        \
    SHADE_TEST_EXPECTF(conc_done_ >= conc_target_ / 4 && conc_done_ >= 10,                        \
                       "only %" PRIu64 " concurrent/incremental cycles (target %" PRIu64          \
                       ", cap %.0f s; %" PRIu64 " cycles in all)",                                 \
                       conc_done_, conc_target_, (double)(cap), (uint64_t)(all));                   \
  } while (0)

#endif // CONC_TEST_H
