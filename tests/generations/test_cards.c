// test_cards.c (gen_cards_*): how young collections find the old objects written since the last
// collection, by remembered set (SHADE_REMEMBERED_SET, struct shade_options.remembered_set):
//
//   gen_cards_barrier     the program declares the write barrier (auto: cards). shade_write sets
//                         the card (512 bytes) of each slot: a young collection scans a card, not
//                         the written page, and writing old objects costs no page fault
//   gen_cards_pages       the same program with SHADE_REMEMBERED_SET=pages: the kernel's written
//                         pages, a fault on the first write to each old page after a collection
//   gen_cards_refused     cards asked for by a program that did not declare the barrier: a
//                         message, and pages
//
// Each holder is old (gen2); the young objects stored into it are known only through it and
// carry a check word (gen_test.h); SHADE_VERIFY=1 aborts on a young object a collection missed.
#include "gen_test.h"


enum variant { BARRIER, PAGES, REFUSED };
static enum variant variant;

#define BIG_SLOTS ((size_t)(32u << 20) / sizeof(void *)) // 32 MiB of slots: born in gen2 (LOH)

static void **big;              // a LOH holder, gen2 from birth
static void **small_holders[64]; // small holders, gen2 after two collections

static void test_the_remembered_set_in_force(void) {
  struct shade_stats stats = shade_test_stats();
  int expected = variant == BARRIER ? SHADE_REMEMBERED_CARDS : SHADE_REMEMBERED_PAGES;
  SHADE_TEST_EXPECT_EQ(stats.remembered_set, expected);
  int refused = shade_test_messages_contain("remembered_set=cards", "using pages");
  SHADE_TEST_EXPECTF(refused == (variant == REFUSED), "message about cards refused: %d", refused);
}

// One young node stored into one slot of a 32 MiB old array: the young collection scans what
// the slot's card (512 bytes) or page (4 KiB) covers, not the array, and the node survives.
static SHADE_TEST_NOINLINE void store_young_into(size_t slot, uint64_t key) {
  shade_write(big, &big[slot], gen_node_new(key, 6, NULL));
}

static void test_a_young_collection_scans_the_written_card_only(void) {
  gen_collect_clean(2);
  size_t slot = BIG_SLOTS / 2 + 3;
  store_young_into(slot, 42);
  gen_collect_clean(0);
  struct shade_stats stats = shade_test_stats();
  fprintf(stderr, "remembered %" PRIu64 " bytes after one store\n", stats.remembered_bytes);
  uint64_t most = variant == BARRIER ? 1024 : (uint64_t)64 << 10; // a card or two; a page or more
  SHADE_TEST_EXPECTF(stats.remembered_bytes <= most, "%" PRIu64 " bytes remembered, at most %" PRIu64,
                     stats.remembered_bytes, most);
  if (variant == BARRIER) // cards only: the written page (4 KiB, or the kernel's run) is more
    SHADE_TEST_EXPECTF(stats.remembered_bytes >= 64, "%" PRIu64 " bytes remembered",
                       stats.remembered_bytes);
  SHADE_TEST_EXPECT(gen_chain_bad(big[slot], 1, NULL) == 0);
  SHADE_TEST_EXPECT_EQ(shade_generation(big[slot]), 1);
  shade_write(big, &big[slot], NULL);
}

// A store into every old page after a collection: with cards no page is write-protected, so no
// fault; with pages each first write faults.
static SHADE_TEST_NOINLINE void store_everywhere(uint64_t round) {
  for (size_t s = 0; s < BIG_SLOTS; s += 4096 / sizeof(void *))
    shade_write(big, &big[s], (void *)small_holders[(s + round) % 64]); // old values
}

static void test_writing_old_pages_faults_only_with_pages(void) {
  gen_collect_clean(2);
  store_everywhere(0); // resident, and written
  long faults = 0;
  enum { ROUNDS = 4 };
  for (uint64_t r = 1; r <= ROUNDS; r++) {
    gen_collect_clean(0);
    long before = gen_minor_faults();
    store_everywhere(r);
    faults += gen_minor_faults() - before;
  }
  long pages = (long)(BIG_SLOTS * sizeof(void *) / 4096) * ROUNDS;
  fprintf(stderr, "%ld minor faults storing into %ld old pages after young collections\n", faults,
          pages);
  if (variant == BARRIER)
    SHADE_TEST_EXPECTF(faults < pages / 16, "%ld faults for %ld stores into old pages", faults, pages);
  else
    SHADE_TEST_EXPECTF(faults > pages / 2, "%ld faults for %ld stores into protected pages", faults,
                       pages);
  for (size_t s = 0; s < BIG_SLOTS; s += 4096 / sizeof(void *))
    shade_write(big, &big[s], NULL);
}

// Young chains stored into old holders by shade_write_copy (how a program declaring the barrier
// copies pointers in bulk) and by shade_write survive many young collections; the garbage between
// them reuses what a wrong collection would free. A shade_realloc of an old holder into a LOH
// object (born old, so its contents are scanned only through its cards) keeps them too.
static SHADE_TEST_NOINLINE void write_holders(uint64_t *rng) {
  for (int k = 0; k < 16; k++) {
    void **holder = small_holders[shade_test_random_between(rng, 0, 63)];
    size_t n = (size_t)shade_test_random_between(rng, 1, 8), s = (size_t)shade_test_random_between(rng, 0, 24);
    if (k % 2) {
      for (size_t i = 0; i < n; i++)
        shade_write(holder, &holder[s + i], gen_node_new(shade_test_random(rng), 4, NULL));
      continue;
    }
    struct gen_node *volatile buffer[8];
    for (size_t i = 0; i < n; i++)
      buffer[i] = gen_node_new(shade_test_random(rng), 4, NULL);
    shade_write_copy(&holder[s], (const void *)buffer, n * sizeof(void *));
    memset((void *)buffer, 0, sizeof buffer);
  }
}

static int check_holders(size_t round) {
  int bad = 0;
  for (int h = 0; h < 64; h++)
    for (size_t s = 0; s < 32; s++)
      if (small_holders[h][s] != NULL && gen_chain_bad(small_holders[h][s], 1, NULL)) {
        if (bad++ < 5)
          SHADE_TEST_EXPECTF(0, "round %zu: slot %zu of holder %d damaged", round, s, h);
      }
  return bad;
}

// Each round a holder is reallocated to LOH size: the copy is born old, its young contents known
// only through its cards; it is cut back to 32 slots at the next round (a young small object).
static SHADE_TEST_NOINLINE void realloc_a_holder(uint64_t *rng) {
  int h = (int)shade_test_random_between(rng, 0, 63);
  size_t bytes = shade_generation(small_holders[h]) == 2 ? 100000 : 32 * sizeof(void *);
  void **grown = shade_realloc(small_holders[h], bytes);
  SHADE_TEST_EXPECT(grown != NULL);
  if (grown != NULL)
    small_holders[h] = grown;
}

static void test_copies_survive(void) {
  uint64_t rng = shade_test_seed();
  size_t rounds = shade_test_scaled(200, 20);
  int bad = 0;
  for (size_t round = 0; round < rounds && bad < 5; round++) {
    write_holders(&rng);
    realloc_a_holder(&rng);
    shade_test_clear_stack();
    shade_test_allocate_garbage(64 << 10);
    gen_collect_clean(round % 50 == 49 ? 1 : 0);
    shade_test_allocate_garbage(64 << 10);
    bad += check_holders(round);
  }
  gen_print_stats("shade_write_copy, shade_realloc");
}

int main(int argc, char **argv) {
  variant = argc > 1 && strcmp(argv[1], "pages") == 0     ? PAGES
            : argc > 1 && strcmp(argv[1], "refused") == 0 ? REFUSED
                                                          : BARRIER;
  struct shade_options options;
  memset(&options, 0, sizeof options);
  options.mode = SHADE_MODE_STW;
  options.write_barrier = variant != REFUSED;
  options.remembered_set = variant == REFUSED ? SHADE_REMEMBERED_CARDS : 0; // pages: environment
  shade_test_capture_messages();
  gen_start(&options);
  gen_require_generational();
  shade_disable(); // only the collections the tests ask for
  big = shade_malloc(BIG_SLOTS * sizeof(void *));
  SHADE_TEST_EXPECT(big != NULL && shade_generation(big) == 2);
  for (int h = 0; h < 64; h++)
    small_holders[h] = shade_malloc(32 * sizeof(void *));
  gen_collect_clean(0);
  gen_collect_clean(1);
  SHADE_TEST_RUN(test_the_remembered_set_in_force);
  SHADE_TEST_RUN(test_a_young_collection_scans_the_written_card_only);
  SHADE_TEST_RUN(test_writing_old_pages_faults_only_with_pages);
  SHADE_TEST_RUN(test_copies_survive);
  shade_enable();
  return shade_test_finish();
}
