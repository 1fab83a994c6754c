// test_reclaim.c (gen_reclaim): a gen0 collection frees dropped young objects and leaves dropped
// old ones alone (sticky marks: old objects are neither traced nor freed); a gen1 collection
// frees dropped gen0 and gen1 objects and leaves dropped gen2 ones intact; a full one frees them
// all. Checked statistically over many objects known only by hidden addresses. And allocating
// young objects again after a young collection does not fault on every page (a count of minor
// faults, not a timing).
#include "gen_test.h"


enum { N = 4000, SIZE = 96 };

static void *holder[N]; // a global: a root
static shade_test_hidden gen2_hidden[N], gen1_hidden[N], young_hidden[N];

static SHADE_TEST_NOINLINE void make_held(shade_test_hidden *hidden, uint64_t seed) {
  for (int i = 0; i < N; i++) {
    holder[i] = shade_malloc(SIZE);
    shade_test_fill(holder[i], SIZE, seed + (uint64_t)i);
    hidden[i] = shade_test_hide(holder[i]);
  }
}

static SHADE_TEST_NOINLINE void make_young_garbage(uint64_t seed) {
  for (int i = 0; i < N; i++)
    young_hidden[i] = shade_test_new_filled(SIZE, seed + (uint64_t)i);
}

static size_t count_generation(const shade_test_hidden *hidden, int generation) {
  size_t n = 0;
  for (int i = 0; i < N; i++)
    n += shade_generation(shade_test_unhide(hidden[i])) == generation;
  return n;
}

static size_t count_intact(const shade_test_hidden *hidden, uint64_t seed) {
  size_t n = 0;
  for (int i = 0; i < N; i++) {
    void *p = shade_test_unhide(hidden[i]);
    n += shade_is_heap_pointer(p) == 1 && shade_test_is_filled(p, SIZE, seed + (uint64_t)i);
  }
  return n;
}

static void test_young_collections_free_young_garbage_only(void) {
  shade_disable(); // only the collections the test asks for
  // gen2 garbage: held through two collections, then dropped.
  make_held(gen2_hidden, 100000);
  gen_collect_clean(0);
  gen_collect_clean(1);
  SHADE_TEST_EXPECT_EQ(count_generation(gen2_hidden, 2), N);
  memset(holder, 0, sizeof holder);
  // gen1 garbage: held through one gen0 collection, then dropped.
  make_held(gen1_hidden, 200000);
  gen_collect_clean(0);
  SHADE_TEST_EXPECT_EQ(count_generation(gen1_hidden, 1), N);
  SHADE_TEST_EXPECT_EQ(count_generation(gen2_hidden, 2), N);
  memset(holder, 0, sizeof holder);
  // gen0 garbage: never held.
  make_young_garbage(300000);
  SHADE_TEST_EXPECT_EQ(count_generation(young_hidden, 0), N);

  gen_collect_clean(0);
  size_t young = shade_test_count_live(young_hidden, N);
  size_t gen1 = count_intact(gen1_hidden, 200000), gen2 = count_intact(gen2_hidden, 100000);
  fprintf(stderr, "after gen0: young %zu, gen1 %zu, gen2 %zu of %d live\n", young, gen1, gen2, N);
  SHADE_TEST_EXPECTF(young <= N / 20, "a gen0 collection left %zu of %d dropped young objects",
                     young, N);
  SHADE_TEST_EXPECTF(gen1 == N, "a gen0 collection freed or damaged %zu of %d dropped gen1 objects",
                     (size_t)N - gen1, N);
  SHADE_TEST_EXPECTF(gen2 == N, "a gen0 collection freed or damaged %zu of %d dropped gen2 objects",
                     (size_t)N - gen2, N);

  // A gen1 collection frees the gen1 garbage (and gen0's), not gen2's.
  make_young_garbage(400000);
  gen_collect_clean(1);
  young = shade_test_count_live(young_hidden, N);
  gen1 = shade_test_count_live(gen1_hidden, N);
  gen2 = count_intact(gen2_hidden, 100000);
  fprintf(stderr, "after gen1: young %zu, gen1 %zu, gen2 %zu of %d live\n", young, gen1, gen2, N);
  SHADE_TEST_EXPECTF(young <= N / 20, "a gen1 collection left %zu of %d dropped young objects",
                     young, N);
  SHADE_TEST_EXPECTF(gen1 <= N / 20, "a gen1 collection left %zu of %d dropped gen1 objects",
                     gen1, N);
  SHADE_TEST_EXPECTF(gen2 == N, "a gen1 collection freed or damaged %zu of %d dropped gen2 objects",
                     (size_t)N - gen2, N);
  SHADE_TEST_EXPECT_EQ(count_generation(gen2_hidden, 2), N);

  // A full collection frees the gen2 garbage.
  gen_collect_clean(2);
  gen2 = shade_test_count_live(gen2_hidden, N);
  fprintf(stderr, "after gen2: gen2 %zu of %d live\n", gen2, N);
  SHADE_TEST_EXPECTF(gen2 <= N / 20, "a full collection left %zu of %d dropped gen2 objects",
                     gen2, N);
  shade_enable();
}

// The heap in use falls back after young garbage is collected, and the generation sizes say
// where the bytes went.
static void test_statistics_follow_young_collections(void) {
  shade_disable();
  gen_collect_clean(2);
  struct shade_stats before = shade_test_stats();
  shade_test_allocate_garbage(4 << 20);
  gen_collect_clean(0);
  struct shade_stats after = shade_test_stats();
  fprintf(stderr, "gen0 before %" PRIu64 " after %" PRIu64 ", promoted %" PRIu64 " -> %" PRIu64
          ", in use %" PRIu64 " -> %" PRIu64 "\n", after.generation_size_before[0],
          after.generation_size_after[0], before.promoted_bytes, after.promoted_bytes,
          before.heap_in_use, after.heap_in_use);
  SHADE_TEST_EXPECTF(after.generation_size_before[0] >= (2u << 20),
                     "gen0 was %" PRIu64 " bytes before a collection after 4 MiB of garbage",
                     after.generation_size_before[0]);
  SHADE_TEST_EXPECT_EQ(after.generation_size_after[0], 0);
  SHADE_TEST_EXPECTF(after.promoted_bytes - before.promoted_bytes < (1u << 20),
                     "%" PRIu64 " bytes of 4 MiB of garbage promoted",
                     after.promoted_bytes - before.promoted_bytes);
  SHADE_TEST_EXPECTF(after.heap_in_use < before.heap_in_use + (1u << 20),
                     "heap in use %" PRIu64 " after a gen0 collection, %" PRIu64 " before the garbage",
                     after.heap_in_use, before.heap_in_use);
  shade_enable();
}

static SHADE_TEST_NOINLINE void write_young_garbage(size_t bytes) {
  for (size_t done = 0; done < bytes; done += 64) {
    unsigned char *volatile p = shade_malloc(64);
    if (p != NULL)
      memset(p, 0x5a, 64);
  }
}

// The pages young objects are allocated in hold no old object: the collector leaves them
// unprotected, and allocating there again after a young collection does not fault on every page
// (the kernel's write tracking protects only the pages of old objects).
static void test_young_pages_are_not_write_protected(void) {
  enum { ROUND = 4 << 20, ROUNDS = 8 };
  shade_disable();
  gen_collect_clean(2);
  for (int r = 0; r < 4; r++) { // the young area is in place, resident, and left unprotected
    write_young_garbage(ROUND);
    gen_collect_clean(0);
  }
  long before = gen_minor_faults();
  for (int r = 0; r < ROUNDS; r++) {
    write_young_garbage(ROUND);
    gen_collect_clean(0);
  }
  long faults = gen_minor_faults() - before, pages = (long)ROUNDS * ROUND / 4096;
  fprintf(stderr, "%ld minor faults writing %ld young pages over %d gen0 collections\n", faults,
          pages, ROUNDS);
  SHADE_TEST_EXPECTF(faults < pages / 8, "%ld faults for %ld pages written", faults, pages);
  shade_enable();
}

int main(void) {
  gen_start(NULL);
  gen_require_generational();
  SHADE_TEST_RUN(test_young_collections_free_young_garbage_only);
  SHADE_TEST_RUN(test_statistics_follow_young_collections);
  SHADE_TEST_RUN(test_young_pages_are_not_write_protected);
  return shade_test_finish();
}
