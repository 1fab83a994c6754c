// test_assist.c (conc_assist_concurrent, conc_assist_incremental): one mutator allocating garbage
// much faster than background marking can go, over a sizable live heap (64 MiB times
// SHADE_TEST_SCALE, at least 4 MiB, of small pointer-rich nodes, so each marking takes a while).
// Without mark assists (concurrent) or slices sized by allocation (incremental), the mutator
// would outrun the marking and the heap would grow without bound while a cycle is under way;
// with them it stays near the goal. So:
//   - heap_committed_peak, and heap_in_use sampled every MiB of allocation, stay under
//     ASSIST_BOUND (2.5) / 1.5 times the highest heap goal sampled, and that goal stays under
//     GOAL_BOUND (2.1) times the live heap measured after building it (SHADE_GC_PERCENT 50: the
//     goal is 1.5 x live + what the last marking allocated black, counted up to 0.5 x live; the
//     background share of the CPUs is set low, SHADE_GC_CPU 10);
//   - mark_assist_ns grew (assists, or incremental slices, did mark);
//   - concurrent cycles ran (a few at least), and the live nodes are intact at the end: every
//     node has a magic word, a key and a check word, checked on a walk of everything; the chunk
//     heads are replaced with barrier stores while the garbage flows.
// Then the same with MUTATORS threads allocating at once (3 x the live heap each): the same
// bound, plus 4 MiB per thread for the spans each thread's cache holds. Then with MANY_MUTATORS
// threads (many more than the CPUs: 64, 16 under TSan; together 24 x the live heap): the same
// bound, plus 1 MiB per thread. With more threads than CPUs, most allocating threads are off the
// CPU when a cycle should start, and without the wait for marking in concurrent mode (an
// allocating thread past 1.5 x the goal waits until the marking has begun) 64 threads ran the
// heap to 5 x its goal.
// The bounds are on memory, not on time.
#include "conc_test.h"

#define ASSIST_BOUND 2.5
#define GOAL_BOUND 2.1 // 2 x what tracing reaches, which is a little more than the live nodes
#define NODE_MAGIC 0xFA55157FA55157ull

enum { CHUNKS = 2048 };

struct anode {
  uint64_t magic;
  uint64_t key;  // tagged: chunk << 32 | position, or a fresh key for a replaced head
  uint64_t check; // conc_hash(key)
  struct anode *next;
  struct anode *other; // a node further down the same chunk, or NULL
};

static struct anode **heads; // a Shade object (global: SHADE_STORE)
static uint64_t *head_key;   // C-library memory
static size_t per_chunk;
static atomic_long bad_nodes;

static void bad(const struct anode *n, const char *what, uint64_t seen, uint64_t expected) {
  if (atomic_fetch_add(&bad_nodes, 1) < 20)
    fprintf(stderr, "bad node %p: %s: saw %#" PRIx64 ", expected %#" PRIx64 " (shade_base %p)\n",
            (const void *)n, what, seen, expected, n ? shade_base(n) : NULL);
}

static struct anode *new_node(uint64_t key) {
  struct anode *n = shade_malloc(sizeof *n);
  if (n == NULL) {
    fprintf(stderr, "out of memory\n");
    abort();
  }
  n->magic = NODE_MAGIC;
  n->key = key;
  n->check = conc_hash(key);
  return n;
}

static uint64_t position_key(size_t chunk, size_t position) {
  return CONC_TAG | (uint64_t)chunk << 32 | position;
}

static SHADE_TEST_NOINLINE void build(uint64_t *rng) {
  struct anode **h = shade_malloc(CHUNKS * sizeof *h);
  SHADE_STORE(heads, h);
  head_key = calloc(CHUNKS, sizeof *head_key);
  struct anode **chunk_nodes = malloc(per_chunk * sizeof *chunk_nodes); // C memory: no root
  for (size_t c = 0; c < CHUNKS; c++) {
    struct anode *next = NULL;
    for (size_t p = per_chunk; p-- > 0;) {
      struct anode *n = new_node(position_key(c, p));
      shade_write(n, (void **)&n->next, next);
      if (p + 1 < per_chunk && shade_test_random(rng) % 2 == 0) // somewhere further down
        shade_write(n, (void **)&n->other,
                    chunk_nodes[p + 1 + shade_test_random(rng) % (per_chunk - p - 1)]);
      chunk_nodes[p] = n;
      next = n;
    }
    shade_write(heads, (void **)&heads[c], next);
    head_key[c] = position_key(c, 0);
  }
  free(chunk_nodes);
}

// Every node of every chunk.
static void check_all(const char *where) {
  size_t nodes = 0;
  for (size_t c = 0; c < CHUNKS; c++) {
    size_t p = 0;
    for (struct anode *n = heads[c]; n != NULL && p < per_chunk; n = n->next, p++, nodes++) {
      uint64_t expected = p == 0 ? head_key[c] : position_key(c, p);
      if (n->magic != NODE_MAGIC || n->key != expected || n->check != conc_hash(expected)) {
        bad(n, n->magic != NODE_MAGIC ? "magic" : "key or check",
            n->magic != NODE_MAGIC ? n->magic : n->key, expected);
        break;
      }
      struct anode *other = n->other;
      if (other != NULL && (other->magic != NODE_MAGIC || other->check != conc_hash(other->key) ||
                            (other->key >> 32 & 0x7FFFFFFF) != c)) {
        bad(other, "other node", other->key, c);
        break;
      }
    }
    if (p != per_chunk)
      bad(heads[c], "chunk length", p, per_chunk);
  }
  fprintf(stderr, "%s: %zu nodes checked\n", where, nodes);
}

// The head of a chunk is replaced by a new node: a barrier store into a scanned or unscanned
// part of the live heap while the garbage flows.
static void replace_head(uint64_t *rng, uint64_t serial) {
  size_t c = shade_test_random(rng) % CHUNKS;
  struct anode *old = heads[c];
  if (old->magic != NODE_MAGIC || old->key != head_key[c]) {
    bad(old, "head", old->key, head_key[c]);
    return;
  }
  uint64_t key = CONC_TAG | (uint64_t)1 << 62 | serial;
  struct anode *n = new_node(key);
  shade_write(n, (void **)&n->next, old->next);
  shade_write(n, (void **)&n->other, old->other);
  shade_write(heads, (void **)&heads[c], n);
  shade_write(old, (void **)&old->next, NULL);
  head_key[c] = key;
}

static uint64_t live; // measured after building

static void test_assists_keep_the_heap_near_its_goal(void) {
  uint64_t rng = shade_test_seed();
  const size_t live_target = shade_test_scaled(64.0 * 1048576, 4 << 20);
  per_chunk = live_target / 64 / CHUNKS; // nodes take 64 bytes (40 + the end byte, rounded)
  if (per_chunk < 2)
    per_chunk = 2;
  build(&rng);
  shade_test_collect_clean();
  struct shade_stats built = shade_test_stats();
  live = built.heap_live;
  fprintf(stderr, "live heap %.1f MiB (%zu nodes), committed %.1f MiB, peak so far %.1f MiB\n",
          (double)live / 1048576, per_chunk * CHUNKS, (double)built.heap_committed / 1048576,
          (double)built.heap_committed_peak / 1048576);
  check_all("after building");

  // The garbage: twelve times the live heap, in small objects, as fast as one thread can.
  const uint64_t garbage = 12 * (uint64_t)live;
  uint64_t allocated = 0, next_sample = 0, next_replace = 0, serial = 0;
  uint64_t max_in_use = 0, max_committed = 0, max_goal = built.heap_goal;
  double start = shade_test_now();
  while (allocated < garbage) {
    uint64_t r = shade_test_random(&rng);
    size_t size = (r & 3) == 0 ? 16 + (size_t)(r >> 8) % 496 : 16 + (size_t)(r >> 8) % 112;
    unsigned char *volatile p = (r >> 40) % 8 == 0 ? shade_malloc_atomic(size) : shade_malloc(size);
    if (p == NULL) {
      SHADE_TEST_EXPECTF(p != NULL, "allocation of %zu bytes failed after %.1f MiB", size,
                         (double)allocated / 1048576);
      break;
    }
    p[0] = 1;
    allocated += size;
    if (allocated >= next_replace) {
      replace_head(&rng, serial++);
      next_replace = allocated + 4096;
    }
    if (allocated >= next_sample) {
      struct shade_stats now = shade_test_stats();
      if (now.heap_in_use > max_in_use)
        max_in_use = now.heap_in_use;
      if (now.heap_committed > max_committed)
        max_committed = now.heap_committed;
      if (now.heap_goal > max_goal)
        max_goal = now.heap_goal;
      next_sample = allocated + ((uint64_t)1 << 20);
    }
  }
  double seconds = shade_test_now() - start;
  struct shade_stats after = shade_test_stats();
  fprintf(stderr,
          "%.0f MiB of garbage in %.1f s (%.0f MiB/s); max heap_in_use %.1f MiB, max "
          "heap_committed %.1f MiB, heap_committed_peak %.1f MiB = %.2f x live\n",
          (double)allocated / 1048576, seconds, (double)allocated / 1048576 / seconds,
          (double)max_in_use / 1048576, (double)max_committed / 1048576,
          (double)after.heap_committed_peak / 1048576,
          (double)after.heap_committed_peak / (double)live);
  conc_print_stats("assist", &built, &after);

  double bound = ASSIST_BOUND / 1.5 * (double)max_goal;
  fprintf(stderr, "highest goal %.1f MiB = %.2f x live; bound %.1f MiB\n",
          (double)max_goal / 1048576, (double)max_goal / (double)live, bound / 1048576);
  SHADE_TEST_EXPECTF((double)max_goal <= GOAL_BOUND * (double)live,
                     "heap goal reached %.1f MiB > %.1f x the live %.1f MiB",
                     (double)max_goal / 1048576, GOAL_BOUND, (double)live / 1048576);
  SHADE_TEST_EXPECTF((double)after.heap_committed_peak <= bound,
                     "heap_committed_peak %.1f MiB > %.2f x the highest goal %.1f MiB",
                     (double)after.heap_committed_peak / 1048576, ASSIST_BOUND / 1.5,
                     (double)max_goal / 1048576);
  SHADE_TEST_EXPECTF((double)max_in_use <= bound,
                     "heap_in_use reached %.1f MiB > %.2f x the highest goal %.1f MiB",
                     (double)max_in_use / 1048576, ASSIST_BOUND / 1.5, (double)max_goal / 1048576);
  SHADE_TEST_EXPECTF(after.mark_assist_ns > built.mark_assist_ns,
                     "mark_assist_ns did not grow (%" PRIu64 " -> %" PRIu64 ")",
                     built.mark_assist_ns, after.mark_assist_ns);
  SHADE_TEST_EXPECTF(after.concurrent_cycles - built.concurrent_cycles >= 3,
                     "%" PRIu64 " concurrent/incremental cycles during the garbage (%" PRIu64
                     " in all)",
                     after.concurrent_cycles - built.concurrent_cycles, after.cycles - built.cycles);

  check_all("after the garbage");
  shade_test_collect_clean();
  check_all("after a last collection");
  SHADE_TEST_EXPECTF(atomic_load(&bad_nodes) == 0, "%ld damaged nodes", atomic_load(&bad_nodes));
}

// ---------------------------------------------------------------------------------------------
// Several mutators at once, over the same live heap: the cycle must start, and the assists
// throttle, whichever thread crosses the trigger and however busy the CPUs are. The heap is
// sampled by every thread; the bound allows for the spans each thread's cache holds.

#ifdef SHADE_SANITIZER_THREAD
enum { MUTATORS = 4, MANY_MUTATORS = 16 }; // 64 TSan threads took 280 s in incremental mode
#else
enum { MUTATORS = 4, MANY_MUTATORS = 64 };
#endif
static atomic_ullong max_in_use_seen, max_committed_seen, max_goal_seen;
static atomic_long mutator_failures;

static void note_max(atomic_ullong *max, uint64_t value) {
  unsigned long long seen = atomic_load(max);
  while (value > seen && !atomic_compare_exchange_weak(max, &seen, value)) {
  }
}

struct mutator_arg {
  uint64_t rng;
  uint64_t bytes;
};

static void *mutator(void *p) {
  struct mutator_arg *arg = p;
  uint64_t allocated = 0, next_sample = 0;
  while (allocated < arg->bytes) {
    uint64_t r = shade_test_random(&arg->rng);
    size_t size = 16 + (size_t)(r >> 8) % 240;
    unsigned char *volatile q = (r >> 40) % 8 == 0 ? shade_malloc_atomic(size) : shade_malloc(size);
    if (q == NULL) {
      atomic_fetch_add(&mutator_failures, 1);
      break;
    }
    q[0] = 1;
    allocated += size;
    if (allocated >= next_sample) {
      struct shade_stats now = shade_test_stats();
      note_max(&max_in_use_seen, now.heap_in_use);
      note_max(&max_committed_seen, now.heap_committed);
      note_max(&max_goal_seen, now.heap_goal);
      next_sample = allocated + ((uint64_t)1 << 20);
    }
  }
  return NULL;
}

// `count` threads allocate `share` x the live heap each; the heap stays under the bound plus
// `allowance` per thread (the spans its cache holds).
static void throttle_mutators(int count, double share, uint64_t allowance) {
  uint64_t rng = shade_test_seed() ^ 0x5A5A ^ (uint64_t)count;
  atomic_store(&max_in_use_seen, 0);
  atomic_store(&max_committed_seen, 0);
  atomic_store(&max_goal_seen, 0);
  shade_test_collect_clean();
  struct shade_stats before = shade_test_stats();
  uint64_t live_now = before.heap_live;
  pthread_t threads[MANY_MUTATORS];
  struct mutator_arg args[MANY_MUTATORS];
  for (int i = 0; i < count; i++) {
    args[i] = (struct mutator_arg){shade_test_random(&rng), (uint64_t)(share * (double)live_now)};
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[i], NULL, mutator, &args[i]) == 0);
  }
  for (int i = 0; i < count; i++)
    pthread_join(threads[i], NULL);
  struct shade_stats after = shade_test_stats();
  uint64_t max_goal = atomic_load(&max_goal_seen);
  if (max_goal < before.heap_goal)
    max_goal = before.heap_goal;
  uint64_t bound = (uint64_t)(ASSIST_BOUND / 1.5 * (double)max_goal) + count * allowance;
  fprintf(stderr,
          "%d mutators, %.0f MiB of garbage each: max heap_in_use %.1f MiB, max heap_committed "
          "%.1f MiB (bound %.1f MiB = %.2f x the highest goal %.1f MiB + %d x %d MiB; live "
          "%.1f MiB)\n",
          count, (double)args[0].bytes / 1048576,
          (double)atomic_load(&max_in_use_seen) / 1048576,
          (double)atomic_load(&max_committed_seen) / 1048576, (double)bound / 1048576,
          ASSIST_BOUND / 1.5, (double)max_goal / 1048576, count, (int)(allowance >> 20),
          (double)live_now / 1048576);
  SHADE_TEST_EXPECTF((double)max_goal <= GOAL_BOUND * (double)live_now + count * allowance,
                     "heap goal reached %.1f MiB > %.1f x the live %.1f MiB",
                     (double)max_goal / 1048576, GOAL_BOUND, (double)live_now / 1048576);
  conc_print_stats(count > MUTATORS ? "many mutators" : "several mutators", &before, &after);
  SHADE_TEST_EXPECT(atomic_load(&mutator_failures) == 0);
  SHADE_TEST_EXPECTF(atomic_load(&max_committed_seen) <= bound,
                     "heap_committed reached %.1f MiB > bound %.1f MiB",
                     (double)atomic_load(&max_committed_seen) / 1048576, (double)bound / 1048576);
  SHADE_TEST_EXPECTF(atomic_load(&max_in_use_seen) <= bound,
                     "heap_in_use reached %.1f MiB > bound %.1f MiB",
                     (double)atomic_load(&max_in_use_seen) / 1048576, (double)bound / 1048576);
  SHADE_TEST_EXPECT(after.concurrent_cycles - before.concurrent_cycles >= 3);
  check_all(count > MUTATORS ? "after many mutators" : "after several mutators");
  SHADE_TEST_EXPECTF(atomic_load(&bad_nodes) == 0, "%ld damaged nodes", atomic_load(&bad_nodes));
}

static void test_assists_throttle_several_mutators(void) {
  throttle_mutators(MUTATORS, 3.0, (uint64_t)4 << 20);
}

static void test_many_more_mutators_than_cpus_keep_the_bound(void) {
  throttle_mutators(MANY_MUTATORS, 24.0 / MANY_MUTATORS, (uint64_t)1 << 20);
}

int main(int argc, char **argv) {
  conc_start(conc_mode_from_args(argc, argv),
             (struct conc_pacing){.gc_percent = 50, .gc_cpu_percent = 10});
  SHADE_TEST_RUN(test_assists_keep_the_heap_near_its_goal);
  SHADE_TEST_RUN(test_assists_throttle_several_mutators);
  SHADE_TEST_RUN(test_many_more_mutators_than_cpus_keep_the_bound);
  return shade_test_finish();
}
