// gen_test.h: what the generation tests (tests/generations/) share, on top of test_util.h.
//
// Young objects carry a checksum of their contents (gen_node): a young object freed by mistake
// by a young collection is handed out again (zeroed, or overwritten by the garbage the tests
// allocate) and its check word no longer matches. Non-pointer words carry bit 63 (GEN_TAG), which
// no user-space address has, so the conservative scanner never takes them for pointers.
// SHADE_VERIFY=1 (every test runs with it) re-marks from the roots after every marking and aborts
// on a reachable object left unmarked: an old object pointing to a young one that a young
// collection missed.
#ifndef GEN_TEST_H
#define GEN_TEST_H

#include "test_util.h"

#include <sys/resource.h>
#include <unistd.h>

#define GEN_TAG ((uint64_t)1 << 63)

static inline uint64_t gen_hash(uint64_t x) {
  x ^= x >> 33;
  x *= 0xFF51AFD7ED558CCDull;
  x ^= x >> 33;
  x *= 0xC4CEB9FE1A85EC53ull;
  x ^= x >> 33;
  return x | GEN_TAG;
}

// Skips the program when young collections cannot run here (a kernel without write tracking).
static SHADE_TEST_UNUSED void gen_require_generational(void) {
  struct shade_stats stats = shade_test_stats();
  fprintf(stderr, "generational %d, gen0 budget %" PRIu64 " bytes, gen1 budget %" PRIu64
          " bytes, scale %g, verify %s\n", stats.generational, stats.gen0_budget,
          stats.gen1_budget, shade_test_scale(),
          getenv("SHADE_VERIFY") ? getenv("SHADE_VERIFY") : "(unset)");
  if (!stats.generational)
    shade_test_skip("not generational here (the kernel cannot track the heap's writes: "
                    "userfaultfd WP_ASYNC + PAGEMAP_SCAN, Linux 6.7+)");
}

// shade_init with automatic idle collections off, so that collection counts are exact.
static SHADE_TEST_UNUSED void gen_start(const struct shade_options *given) {
  struct shade_options options;
  if (given != NULL)
    options = *given;
  else
    memset(&options, 0, sizeof options);
  if (options.idle_gc_ms == 0)
    options.idle_gc_ms = -1;
  if (shade_init(&options) != 0) {
    fprintf(stderr, "shade_init failed: %s\n", strerror(errno));
    exit(1);
  }
}

// A forced collection of generations 0..generation, with no stale pointer to young objects left
// in this thread's dead stack slots.
static SHADE_TEST_UNUSED SHADE_TEST_NOINLINE void gen_collect_clean(int generation) {
  shade_test_clear_stack();
  shade_collect_generation(generation, SHADE_COLLECT_FORCED);
}

// The process's minor page faults so far (first writes to fresh or write-protected pages).
static SHADE_TEST_UNUSED long gen_minor_faults(void) {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// A young object with a check word: key, length, a link to another node, `words` data words
// (the last one is the check).
struct gen_node {
  uint64_t key;
  uint64_t words; // tagged
  struct gen_node *next;
  uint64_t data[];
};

static inline uint64_t gen_node_words(const struct gen_node *n) { return n->words & ~GEN_TAG; }

static inline uint64_t gen_node_check(const struct gen_node *n) {
  uint64_t h = gen_hash(n->key ^ n->words);
  h = gen_hash(h ^ (uint64_t)(uintptr_t)n->next);
  uint64_t words = gen_node_words(n);
  for (uint64_t i = 0; i + 1 < words; i++)
    h = gen_hash(h ^ n->data[i] ^ i);
  return h;
}

static inline void gen_node_seal(struct gen_node *n) {
  n->data[gen_node_words(n) - 1] = gen_node_check(n);
}

// A new node of 2..(2 + extra) data words, sealed. Returns NULL on allocation failure.
static inline struct gen_node *gen_node_new(uint64_t key, uint64_t words, struct gen_node *next) {
  if (words < 2)
    words = 2;
  struct gen_node *n = shade_malloc(sizeof *n + words * sizeof(uint64_t));
  if (n == NULL)
    return NULL;
  n->key = key | GEN_TAG;
  n->words = words | GEN_TAG;
  n->next = next;
  for (uint64_t i = 0; i + 1 < words; i++)
    n->data[i] = gen_hash(key + i);
  gen_node_seal(n);
  return n;
}

// 1 if n is the start of a live Shade object whose contents match its check word.
static inline int gen_node_ok(const struct gen_node *n) {
  if (shade_base(n) != (const void *)n)
    return 0;
  uint64_t words = gen_node_words(n);
  if ((n->key & GEN_TAG) == 0 || (n->words & GEN_TAG) == 0 || words < 2 || words > 4096)
    return 0;
  if (shade_size(n) < sizeof *n + words * sizeof(uint64_t))
    return 0;
  return n->data[words - 1] == gen_node_check(n);
}

// Checks a chain of nodes (at most `limit` long); returns the number of bad ones and describes
// the first in *what.
static inline int gen_chain_bad(const struct gen_node *n, int limit, const struct gen_node **what) {
  int bad = 0;
  for (int i = 0; n != NULL && i < limit; i++, n = n->next) {
    if (!gen_node_ok(n)) {
      if (bad++ == 0 && what != NULL)
        *what = n;
      break; // its link cannot be trusted
    }
  }
  return bad;
}

static SHADE_TEST_UNUSED void gen_print_stats(const char *what) {
  struct shade_stats s = shade_test_stats();
  fprintf(stderr,
          "%s: collections %" PRIu64 "/%" PRIu64 "/%" PRIu64 " (gen0+/gen1+/full), promoted %.1f MiB, "
          "young pause max %.2f ms, full pause max %.2f ms, remembered %" PRIu64 " bytes, "
          "gen0 budget %.1f MiB\n",
          what, s.collections[0], s.collections[1], s.collections[2],
          (double)s.promoted_bytes / 1048576.0, (double)s.young_pause_max_ns / 1e6,
          (double)s.full_pause_max_ns / 1e6, s.remembered_bytes, (double)s.gen0_budget / 1048576.0);
}

#endif // GEN_TEST_H
