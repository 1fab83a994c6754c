// The soft memory limit (32 MiB) holds the heap near the limit under a steady workload (4 MiB
// live, a table of 256-byte objects replaced at random) whose own goal (gc_percent 1000: 44 MiB
// and more) would be above it; a limit below the live heap slows the program down
// (the CPU limiter lets the heap exceed the limit) instead of freezing it.
// With the argument "metadata" (memory_soft_limit_metadata, its own process): Shade's metadata
// counts against the limit. A list of 16-byte typed objects carries an 8-byte type pointer per
// object in metadata; after a collection, stats.metadata_bytes has grown by at least that, and
// the goal leaves room for it: goal + metadata stays under the limit (without counting it, the
// goal alone came to about the limit).
#include "memory_test.h"

#define SLOTS 16384
#define OBJECT 256 // 4 MiB live
#define LIMIT ((size_t)32 << 20)

static void *table[SLOTS];
static uint64_t random_state = 12345; // a fixed sequence: every run does the same work
static volatile uint64_t work_sum;

// Replaces random slots `operations` times; returns the largest resident heap seen.
static size_t churn(size_t operations) {
  size_t max_resident = 0;
  for (size_t i = 0; i < operations; i++) {
    // The program's own work per object: fill it, and read another one.
    unsigned char *object = shade_malloc(OBJECT);
    memset(object, (int)i, OBJECT);
    const unsigned char *other = table[shade_test_random(&random_state) % SLOTS];
    for (size_t b = 0; other && b < OBJECT; b += 8)
      work_sum += other[b];
    table[shade_test_random(&random_state) % SLOTS] = object;
    if (i % 4096 == 0) {
      struct shade_stats stats;
      shade_get_stats(&stats);
      if (stats.heap_resident > max_resident)
        max_resident = stats.heap_resident;
    }
  }
  return max_resident;
}

static void fill(void) {
  for (size_t i = 0; i < SLOTS; i++)
    table[i] = shade_malloc(OBJECT);
}

static void test_the_heap_stays_near_the_limit(void) {
  size_t operations = (size_t)(4000000 * shade_test_scale());
  fill();
  churn(operations / 4); // warm up to a steady state
  struct shade_stats before;
  shade_get_stats(&before);
  size_t max_resident = churn(operations);
  struct shade_stats stats;
  shade_get_stats(&stats);
  fprintf(stderr, "  limit %.0f MB: resident heap at most %.1f MB, goal %.1f MB, rss %.1f MB, "
          "%llu cycles\n", LIMIT / MB, max_resident / MB, stats.heap_goal / MB,
          stats.process_rss / MB, (unsigned long long)stats.cycles);
  // The CPU limiter lets the heap exceed the limit when collections take too much of the time
  // (documented). Whether it steps in depends on the machine's speed at that moment (a slow
  // phase of a shared host, sanitizers): then the bound does not apply, and the run says so.
  // With generations the resident heap has measured up to 1.15 x the limit with the goal within
  // it (old objects freed only by the full collections); without, up to 1.1 x.
  size_t slack = stats.generational ? LIMIT / 4 : LIMIT / 10;
  if (stats.limiter_cycles == before.limiter_cycles) {
    SHADE_TEST_EXPECTF(max_resident <= LIMIT + slack, "resident %.1f MB", max_resident / MB);
    SHADE_TEST_EXPECT(stats.heap_goal <= LIMIT);
  } else {
    fprintf(stderr, "  the CPU limiter stepped in (%llu cycles): the limit may be exceeded\n",
            (unsigned long long)(stats.limiter_cycles - before.limiter_cycles));
  }
  SHADE_TEST_EXPECT(max_resident >= 4 << 20);
}

static void test_a_limit_below_the_live_heap_slows_down_but_does_not_freeze(void) {
  shade_set_memory_limit(2 << 20); // half the live heap
  struct shade_stats before, after;
  shade_get_stats(&before);
  double t0 = shade_test_now();
  churn((size_t)(1000000 * shade_test_scale()));
  double wall = shade_test_now() - t0;
  shade_get_stats(&after);
  double gc_share = (double)(after.pause_total_ns - before.pause_total_ns) / 1e9 / wall;
  fprintf(stderr, "  limit 2 MB, 4 MB live: %.2f s, %llu cycles, collector %.0f%% of the time, "
          "%llu limited cycles, goal %.1f MB\n", wall,
          (unsigned long long)(after.cycles - before.cycles), 100 * gc_share,
          (unsigned long long)after.limiter_cycles, after.heap_goal / MB);
  // Not frozen at the limit: the goal rose above it, by the CPU limiter. With generations, young
  // collections can be cheap enough that the limiter never needs to step in.
  if (!after.generational)
    SHADE_TEST_EXPECT(after.limiter_cycles > before.limiter_cycles);
  SHADE_TEST_EXPECT(after.heap_goal > (2u << 20));
#if !SHADE_TEST_SANITIZED
  SHADE_TEST_EXPECTF(gc_share < 0.75, "collector took %.0f%% of the time", 100 * gc_share);
#endif
  shade_set_memory_limit(LIMIT);
}

struct cell {
  struct cell *next;
  uint64_t value;
};
static const uint64_t cell_pointers[1] = {1}; // word 0 is a pointer
static const struct shade_type cell_type = {
    .name = "cell", .size = sizeof(struct cell), .pointer_bitmap = cell_pointers};
static struct cell *cells;

static void test_metadata_counts_against_the_limit(void) {
  // Built without the limit, so that the CPU limiter (which widens the room while collections
  // crowd the program) is back to 1 when the limit comes back and the goal is set from it.
  shade_set_memory_limit(0);
  struct shade_stats before, after;
  shade_get_stats(&before);
  size_t count = 500000; // not scaled: metadata comes in 1 MiB chunks; live + metadata < limit
  for (size_t i = 0; i < count; i++) {
    struct cell *c = shade_malloc_typed(sizeof *c, &cell_type);
    c->next = cells;
    c->value = i;
    cells = c;
  }
  shade_collect();
  shade_set_memory_limit(LIMIT);
  shade_get_stats(&after);
  uint64_t grown = after.metadata_bytes - before.metadata_bytes;
  fprintf(stderr, "  %zu typed cells (%.1f MB): metadata %.1f -> %.1f MB, goal %.1f MB, limit "
          "%.0f MB, %llu limited cycles\n", count, (double)count * sizeof(struct cell) / MB,
          before.metadata_bytes / MB, after.metadata_bytes / MB, after.heap_goal / MB, LIMIT / MB,
          (unsigned long long)after.limiter_cycles);
  SHADE_TEST_EXPECTF(grown >= count * sizeof(void *), "metadata grew by %.1f MB", grown / MB);
  SHADE_TEST_EXPECTF(after.heap_goal + after.metadata_bytes <= LIMIT,
                     "goal %.1f MB + metadata %.1f MB", after.heap_goal / MB,
                     after.metadata_bytes / MB);
  size_t found = 0;
  for (const struct cell *c = cells; c != NULL; c = c->next, found++)
    if (c->value != count - 1 - found)
      break;
  SHADE_TEST_EXPECTF(found == count, "%zu of %zu cells intact", found, count);
  cells = NULL;
}

int main(int argc, char **argv) {
  struct shade_options options = {.gc_percent = 1000, .memory_limit = LIMIT};
  shade_init(&options);
  if (argc > 1 && strcmp(argv[1], "metadata") == 0) {
    SHADE_TEST_RUN(test_metadata_counts_against_the_limit);
    return shade_test_finish();
  }
  SHADE_TEST_RUN(test_the_heap_stays_near_the_limit);
  SHADE_TEST_RUN(test_a_limit_below_the_live_heap_slows_down_but_does_not_freeze);
  return shade_test_finish();
}
