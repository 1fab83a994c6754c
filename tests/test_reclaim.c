// test_reclaim.c (core_reclaim): unreachable objects are reclaimed and their memory reused, so a
// program that allocates without end but keeps little live runs in a small, bounded heap.
//
// The program allocates 10 GiB in total (times SHADE_TEST_SCALE) in objects of 64 B .. 64 KiB,
// mostly small, conservative and atomic, each replacing a random one of 800 live slots (about
// 1 MiB live). Every 1000 allocations the heap is sampled: heap_committed must stay under 16 MiB.
// The live objects carry a tag at both ends, checked when they are replaced.
#include "test_util.h"

enum { SLOTS = 800, SAMPLE_EVERY = 1000 };
#define COMMITTED_LIMIT ((uint64_t)16 << 20)
#define TAG_MAGIC 0x5EEDC0DE12345678ull

struct slot {
  uint64_t *object;
  size_t size;
  uint64_t tag;
};

// The slots live in a Shade object reachable from this global.
static struct slot *slots;

static size_t random_size(uint64_t *rng) {
  uint64_t r = shade_test_random(rng) % 100;
  if (r < 90)
    return shade_test_random_between(rng, 64, 1024);
  if (r < 99)
    return shade_test_random_between(rng, 1025, 8192);
  return shade_test_random_between(rng, 8193, 65536);
}

static int slot_is_intact(const struct slot *s) {
  size_t words = s->size / 8;
  return s->object[0] == (TAG_MAGIC ^ s->tag) && s->object[words - 1] == (TAG_MAGIC ^ ~s->tag);
}

static void test_allocating_without_end_keeps_heap_bounded(void) {
  uint64_t rng = shade_test_seed();
  const uint64_t total = (uint64_t)shade_test_scaled(10.0 * 1024 * 1024 * 1024, 64 << 20);
  fprintf(stderr, "allocating %.2f GiB\n", (double)total / (1 << 30));
  slots = shade_malloc(SLOTS * sizeof *slots);
  SHADE_TEST_EXPECT(slots != NULL);
  if (slots == NULL)
    return;

  size_t rss_before = shade_test_rss();
  struct shade_stats start = shade_test_stats();
  uint64_t allocated = 0, allocations = 0, max_committed = 0, damaged = 0, failed = 0;
  size_t max_rss = 0;
  while (allocated < total) {
    size_t size = random_size(&rng);
    int atomic = shade_test_random(&rng) % 10 < 3;
    uint64_t *object = atomic ? shade_malloc_atomic(size) : shade_malloc(size);
    if (object == NULL) {
      failed++;
      break;
    }
    struct slot *s = &slots[shade_test_random(&rng) % SLOTS];
    if (s->object != NULL && !slot_is_intact(s))
      damaged++;
    s->object = object;
    s->size = size;
    s->tag = allocations;
    object[0] = TAG_MAGIC ^ s->tag;
    object[size / 8 - 1] = TAG_MAGIC ^ ~s->tag;
    allocated += size;
    if (++allocations % SAMPLE_EVERY == 0) {
      struct shade_stats now = shade_test_stats();
      if (now.heap_committed > max_committed)
        max_committed = now.heap_committed;
      if (allocations % (SAMPLE_EVERY * 64) == 0) {
        size_t rss = shade_test_rss();
        if (rss > max_rss)
          max_rss = rss;
      }
    }
  }
  struct shade_stats end = shade_test_stats();
  for (size_t i = 0; i < SLOTS; i++)
    if (slots[i].object != NULL && !slot_is_intact(&slots[i]))
      damaged++;
  fprintf(stderr,
          "%" PRIu64 " allocations, %" PRIu64 " cycles, max heap_committed %.1f MiB, max RSS "
          "%.1f MiB (%.1f MiB before)\n",
          allocations, end.cycles - start.cycles, (double)max_committed / (1 << 20),
          (double)max_rss / (1 << 20), (double)rss_before / (1 << 20));
  SHADE_TEST_EXPECTF(failed == 0, "allocation failed after %.2f GiB",
                     (double)allocated / (1 << 30));
  SHADE_TEST_EXPECTF(damaged == 0, "%" PRIu64 " live objects lost their tags", damaged);
  SHADE_TEST_EXPECTF(max_committed < COMMITTED_LIMIT, "heap_committed reached %.1f MiB",
                     (double)max_committed / (1 << 20));
  SHADE_TEST_EXPECT(end.cycles > start.cycles);
  SHADE_TEST_EXPECTF(end.total_allocated - start.total_allocated >= total / 2,
                     "total_allocated grew by %" PRIu64 " bytes for %" PRIu64 " allocated",
                     end.total_allocated - start.total_allocated, total);
#if !SHADE_TEST_SANITIZED
  // The memory is really reused: the process does not grow with what it allocated.
  SHADE_TEST_EXPECTF(max_rss < rss_before + ((size_t)64 << 20), "RSS reached %.1f MiB",
                     (double)max_rss / (1 << 20));
#endif
}

// After everything is dropped, a collection leaves almost nothing live.
static void test_dropping_everything_empties_the_live_heap(void) {
  slots = NULL;
  shade_test_collect_clean();
  struct shade_stats stats = shade_test_stats();
  SHADE_TEST_EXPECTF(stats.heap_live < (2u << 20), "heap_live %" PRIu64 " bytes",
                     stats.heap_live);
}

int main(void) {
  SHADE_TEST_RUN(test_allocating_without_end_keeps_heap_bounded);
  SHADE_TEST_RUN(test_dropping_everything_empties_the_live_heap);
  return shade_test_finish();
}
