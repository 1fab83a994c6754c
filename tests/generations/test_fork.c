// test_fork.c (gen_fork): fork during a generational program. The kernel gives a child none of
// the parent's write tracking, so the child must not trust what it knew of written pages: a
// pointer the parent stored into an old object just before fork (never seen by a collection)
// must survive the child's first young collection. The child then stores old-to-young pointers
// itself (plain stores, memcpy, read(2)), runs young collections (they must be young ones again)
// and checks every object after each. The parent, whose tracking goes on, does the same after
// fork, pointer stored before fork included.
//
// A child that hangs is killed by its own alarm(); its exit status is the number of damaged
// objects it found (at most 100), 101-103 for other failures.
#include "gen_test.h"

#include <signal.h>
#include <sys/wait.h>

enum { HOLDERS = 32, SLOTS = 48 };
static struct gen_node **holders[HOLDERS]; // a global: gen2 holders

static SHADE_TEST_NOINLINE void store_chains(uint64_t *rng, int count, int pipe_write, int pipe_read) {
  for (int k = 0; k < count; k++) {
    struct gen_node **h = holders[shade_test_random(rng) % HOLDERS];
    size_t s = (size_t)(shade_test_random(rng) % (SLOTS - 4));
    struct gen_node *volatile buffer[4];
    for (int i = 0; i < 4; i++)
      buffer[i] = gen_node_new(shade_test_random(rng), shade_test_random_between(rng, 2, 16),
                               gen_node_new(shade_test_random(rng), 3, NULL));
    switch (k % 3) {
    case 0:
      for (int i = 0; i < 4; i++)
        h[s + (size_t)i] = buffer[i];
      break;
    case 1:
      memcpy(&h[s], (const void *)buffer, sizeof buffer);
      break;
    default:
      if (write(pipe_write, (const void *)buffer, sizeof buffer) != (ssize_t)sizeof buffer ||
          read(pipe_read, &h[s], sizeof buffer) != (ssize_t)sizeof buffer)
        memcpy(&h[s], (const void *)buffer, sizeof buffer); // a pipe this small never splits
      break;
    }
    memset((void *)buffer, 0, sizeof buffer);
  }
}

static int count_bad(void) {
  int bad = 0;
  for (int h = 0; h < HOLDERS; h++)
    for (int s = 0; s < SLOTS; s++)
      if (holders[h][s] != NULL && gen_chain_bad(holders[h][s], 2, NULL))
        bad++;
  return bad;
}

// Young collections with old-to-young stores between them; returns the number of damaged
// objects seen (0 when all went well).
static int rounds_of_young_collections(uint64_t seed, size_t rounds, int *young_collections) {
  int fds[2];
  if (pipe(fds) != 0)
    return 1000;
  uint64_t rng = seed;
  int bad = 0;
  uint64_t young_before = shade_collection_count(0) - shade_collection_count(2);
  for (size_t round = 0; round < rounds && bad == 0; round++) {
    store_chains(&rng, 12, fds[1], fds[0]);
    shade_test_clear_stack();
    shade_test_allocate_garbage(128 << 10);
    shade_test_clear_stack();
    shade_collect_generation(0, SHADE_COLLECT_FORCED);
    shade_test_allocate_garbage(128 << 10);
    bad += count_bad();
  }
  *young_collections = (int)(shade_collection_count(0) - shade_collection_count(2) - young_before);
  close(fds[0]);
  close(fds[1]);
  return bad;
}

static SHADE_TEST_NOINLINE void store_one_before_fork(void) {
  holders[0][SLOTS - 1] = gen_node_new(12345, 9, gen_node_new(54321, 4, NULL));
}

static _Noreturn void child(uint64_t seed, size_t rounds) {
  alarm(30);
  struct shade_stats stats = shade_test_stats();
  if (!stats.generational)
    _exit(101);
  uint64_t full_before = shade_collection_count(2), all_before = shade_collection_count(0);
  shade_test_clear_stack();
  shade_collect_generation(0, SHADE_COLLECT_FORCED); // the child's first: made a full one
  int bad = gen_chain_bad(holders[0][SLOTS - 1], 2, NULL);
  if (bad != 0)
    _exit(bad);
  if (shade_collection_count(0) != all_before + 1)
    _exit(102);
  fprintf(stderr, "child: first collection after fork was %s\n",
          shade_collection_count(2) == full_before + 1 ? "full" : "young");
  int young = 0;
  bad = rounds_of_young_collections(seed, rounds, &young);
  if (bad != 0)
    _exit(bad > 100 ? 100 : bad);
  if (young < (int)rounds / 2) { // write tracking must work again in the child
    fprintf(stderr, "child: only %d young collections in %zu rounds\n", young, rounds);
    _exit(103);
  }
  _exit(0);
}

static void test_young_collections_in_child_and_parent(void) {
  uint64_t seed = shade_test_seed();
  for (int h = 0; h < HOLDERS; h++)
    holders[h] = shade_malloc(SLOTS * sizeof(void *));
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECT_EQ(shade_generation(holders[0]), 2);
  size_t rounds = shade_test_scaled(150, 20);
  int young = 0;
  SHADE_TEST_EXPECT_EQ(rounds_of_young_collections(seed, rounds / 3, &young), 0);
  store_one_before_fork(); // no collection has seen this store
  shade_test_clear_stack();
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0)
    child(seed + 1, rounds);
  SHADE_TEST_EXPECT(pid > 0);
  // The parent goes on: its first collection after fork may be young, and must see the store.
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  SHADE_TEST_EXPECTF(gen_chain_bad(holders[0][SLOTS - 1], 2, NULL) == 0,
                     "parent: the object stored before fork was lost by its first collection");
  int bad = rounds_of_young_collections(seed + 2, rounds, &young);
  SHADE_TEST_EXPECTF(bad == 0, "parent: %d damaged objects after fork", bad);
  SHADE_TEST_EXPECTF(young >= (int)rounds / 2, "parent: only %d young collections in %zu rounds",
                     young, rounds);
  int status = 0;
  if (pid > 0) {
    SHADE_TEST_EXPECT(waitpid(pid, &status, 0) == pid);
    if (WIFSIGNALED(status))
      SHADE_TEST_EXPECTF(0, "child killed by signal %d (%s)", WTERMSIG(status),
                         WTERMSIG(status) == SIGALRM ? "hung" : strsignal(WTERMSIG(status)));
    else
      SHADE_TEST_EXPECTF(WEXITSTATUS(status) == 0, "child exited with %d (1-100: damaged objects; "
                         "101: not generational; 102: first collection miscounted; 103: few "
                         "young collections)", WEXITSTATUS(status));
  }
  gen_print_stats("parent");
}

int main(void) {
#ifdef SHADE_SANITIZER_THREAD // as core_fork: TSan's deadlock detector holds 64 mutexes at most
  shade_test_skip("TSan allows 64 held mutexes; Shade's fork handler holds 340");
#endif
  gen_start(NULL);
  gen_require_generational();
  SHADE_TEST_RUN(test_young_collections_in_child_and_parent);
  return shade_test_finish();
}
