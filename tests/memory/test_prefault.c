// While the heap grows, its next pages are faulted in by the scavenger's thread (SHADE_PREFAULT,
// on by default), so the allocating thread takes few page faults of its own: this thread grows
// a kept list round by round, each round ROUND_BYTES of new objects, and counts its own minor
// faults (RUSAGE_THREAD) against the pages the rounds used. With prefaulting, fewer than half
// are its own; with SHADE_PREFAULT=off (memory_prefault_off), most are, and shade_stats says
// nothing was prefaulted. Every object handed out from prefaulted pages reads as zero. Under
// TSan the thread's faults include the shadow memory's, so only the counters are checked there.
#define _GNU_SOURCE // RUSAGE_THREAD
#include "memory_test.h"

#include <sys/resource.h>

#define OBJECT_BYTES 1024
#define ROUND_BYTES ((size_t)4 << 20)
#define ROUNDS (SHADE_TEST_SANITIZED ? 16 : 48)

struct object {
  struct object *next;
  uint64_t words[OBJECT_BYTES / 8 - 2];
};

static struct object *kept; // a root: the data segment is scanned

static long own_minor_faults(void) {
  struct rusage usage;
  getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt;
}

// One round of new objects on the kept list; false if one was not zero.
static bool grow_one_round(void) {
  bool zero = true;
  for (size_t i = 0; i < ROUND_BYTES / OBJECT_BYTES; i++) {
    struct object *o = shade_malloc(sizeof *o);
    if (o == NULL) {
      SHADE_TEST_EXPECT(o != NULL);
      return false;
    }
    if (o->next != NULL || o->words[0] != 0 || o->words[sizeof o->words / 8 - 1] != 0)
      zero = false;
    o->next = kept;
    kept = o;
  }
  return zero;
}

// Gives the scavenger's thread time to fault the next round's pages in (it looks every 10 ms
// while the heap grows): until it put a round's worth back, at most 0.2 s (10 ms when off).
static void let_prefaulting_catch_up(bool prefault_on) {
  uint64_t prefaulted_before = shade_test_stats().heap_prefaulted;
  double start = shade_test_now();
  do
    sleep_seconds(0.01);
  while (prefault_on && shade_test_stats().heap_prefaulted < prefaulted_before + ROUND_BYTES &&
         shade_test_now() - start < 0.2);
}

static void test_a_growing_heap_is_faulted_in_ahead(bool prefault_on) {
  bool all_zero = grow_one_round(); // the first round: the growth the thread reacts to
  long own = 0;
  for (int round = 1; round < ROUNDS; round++) {
    let_prefaulting_catch_up(prefault_on);
    long before = own_minor_faults();
    all_zero &= grow_one_round();
    own += own_minor_faults() - before;
  }
  struct shade_stats stats = shade_test_stats();
  long pages = (long)(ROUND_BYTES / 4096) * (ROUNDS - 1);
  fprintf(stderr, "  %ld own minor faults for %ld new pages; %.1f MB prefaulted, resident %.1f MB\n",
          own, pages, stats.heap_prefaulted / MB, stats.heap_resident / MB);
  SHADE_TEST_EXPECT(all_zero);
  if (prefault_on) {
    SHADE_TEST_EXPECTF(stats.heap_prefaulted >= ROUND_BYTES, "%.1f MB prefaulted",
                       stats.heap_prefaulted / MB);
#if !defined(SHADE_SANITIZER_THREAD)
    SHADE_TEST_EXPECTF(own < pages / 2, "%ld own faults for %ld pages", own, pages);
#endif
  } else {
    SHADE_TEST_EXPECT_EQ(stats.heap_prefaulted, 0);
#if !defined(SHADE_SANITIZER_THREAD)
    SHADE_TEST_EXPECTF(own > pages * 3 / 4, "%ld own faults for %ld pages", own, pages);
#endif
  }
  size_t count = 0;
  for (struct object *o = kept; o != NULL; o = o->next)
    count++;
  SHADE_TEST_EXPECT_EQ(count, (size_t)ROUNDS * (ROUND_BYTES / OBJECT_BYTES));
}

static void test_prefaulting(void) {
  const char *option = getenv("SHADE_PREFAULT");
  test_a_growing_heap_is_faulted_in_ahead(option == NULL || strcmp(option, "off") != 0);
}

int main(void) {
  shade_init(NULL);
  SHADE_TEST_RUN(test_prefaulting);
  kept = NULL;
  return shade_test_finish();
}
