// test_gen1_pause.c (gen_gen1_pause): gen1 collections that allocation triggers. The first after a
// full collection runs on a sixteenth of gen1's budget (a trial); when a gen1 collection finds most
// of gen1 alive, no other runs until the next full collection, which starts a trial again. When
// gen1's objects die there, gen1 collections go on. Counts of collections, not timings.
//
// Run with SHADE_GEN0_BUDGET=1 MiB (gen1's floor is gen0's).
//   keep      a quarter of what is allocated lives on (gen0 survival 25%, below the rule that
//             pauses young collections): every gen1 collection would find all of gen1 alive
//   medium    a quarter of what is allocated lives through one gen0 collection and dies before the
//             next: gen1 collections find gen1 dead
#include "gen_test.h"

// medium: every fourth object lives until RING more fourths were allocated, 768 KiB in all:
// through the next gen0 collection (most of them), never through the one after.
enum { OBJECT = 64, TOTAL = 96 << 20, RING = (768 << 10) / OBJECT / 4 };

struct counts {
  uint64_t gen0, gen1, full;
};

static struct counts counts_now(void) {
  struct shade_stats s = shade_test_stats();
  return (struct counts){s.collections[0] - s.collections[1], s.collections[1] - s.collections[2],
                         s.collections[2]};
}

static void **slots; // uncollectable: a root
static bool medium;

static void test_gen1_collections_pause_when_gen1_lives_on(void) {
  size_t count = medium ? RING : TOTAL / OBJECT / 4;
  slots = shade_malloc_uncollectable(count * sizeof *slots);
  SHADE_TEST_EXPECT(slots != NULL);
  struct counts start = counts_now();
  size_t kept = 0;
  for (size_t done = 0, i = 0; done < TOTAL; done += OBJECT, i++) {
    void *p = shade_malloc(OBJECT);
    SHADE_TEST_EXPECT(p != NULL);
    memset(p, 0x22, 16);
    if (medium && i % 4 == 0)
      slots[(i / 4) % RING] = p; // lives until the ring comes round
    else if (!medium && i % 4 == 0 && kept < count)
      slots[kept++] = p;
  }
  struct counts end = counts_now();
  uint64_t gen0 = end.gen0 - start.gen0, gen1 = end.gen1 - start.gen1, full = end.full - start.full;
  fprintf(stderr, "%s: %" PRIu64 " gen0, %" PRIu64 " gen1 and %" PRIu64 " full collections\n",
          medium ? "medium-lived objects" : "a quarter kept", gen0, gen1, full);
  SHADE_TEST_EXPECT(gen0 >= 16);
  if (medium) // gen1 collections free what gen1 holds: they go on
    SHADE_TEST_EXPECTF(gen1 >= 4, "only %" PRIu64 " gen1 collections for %" PRIu64 " gen0 ones",
                       gen1, gen0);
  else // a trial after each full collection (and the first), and nothing more
    SHADE_TEST_EXPECTF(gen1 <= full + 1, "%" PRIu64 " gen1 collections, %" PRIu64 " full ones: "
                       "gen1 collections went on though gen1 lived on", gen1, full);
  shade_free(slots);
}

int main(int argc, char **argv) {
  medium = argc > 1 && strcmp(argv[1], "medium") == 0;
  gen_start(NULL);
  gen_require_generational();
  SHADE_TEST_RUN(test_gen1_collections_pause_when_gen1_lives_on);
  return shade_test_finish();
}
