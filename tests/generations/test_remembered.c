// test_remembered.c (gen_remembered, gen_remembered_barrier): pointers from old objects to young
// ones survive hundreds of young collections, whoever wrote them and however: plain stores,
// memcpy of a buffer of pointers, read(2) from a pipe (the kernel writes the pointers), and
// another registered thread storing while this one collects. The young objects are known only
// through the old ones (the stack is wiped before each collection); each carries a checksum,
// verified after every collection. The old holders are of every kind a young collection scans
// in its own way: small conservative objects, typed objects (bitmap), a large object promoted to
// gen2 and a LOH object born there.
//
// The collections here are gen0 ones and now and then a full one; gen1 collections have their
// own test (test_gen1.c), where a remembered pointer must outlive a gen1 collection.
//
// gen_remembered_barrier (argument "barrier") runs the same with every pointer store written
// shade_write / SHADE_STORE, the program declaring the barrier (options.write_barrier) in stw
// mode, where generations stay on (with cards; _pages: with the kernel's pages): bulk copies go
// through shade_write_copy, and read(2) lands in a stack buffer first.
#include "gen_test.h"

enum { SMALL_HOLDERS = 48, TYPED_HOLDERS = 16, SLOTS = 32, CHAIN = 3 };
#define BIG_BYTES ((size_t)40000)   // large, promoted to gen2 by collections
#define LOH_BYTES ((size_t)200000)  // born in gen2

struct holder {
  void **slots;
  size_t count;
};

enum { HOLDERS = SMALL_HOLDERS + TYPED_HOLDERS + 2 };
static struct holder holders[HOLDERS];        // a global: the holders are reachable
static struct holder thread_holders[HOLDERS]; // the other thread's
static int use_barrier;

static const uint64_t all_pointers_bitmap[1] = {1};
static const struct shade_type slot_type = {"slot", sizeof(void *), all_pointers_bitmap, NULL, 0};

static inline void store_pointer(void *object, void **slot, void *value) {
  if (!use_barrier)
    *slot = value;
  else if (((uintptr_t)slot / sizeof(void *)) % 2)
    shade_write(object, slot, value);
  else
    SHADE_STORE(*slot, value);
}

static void make_holders(struct holder *h) {
  for (int i = 0; i < HOLDERS; i++) {
    if (i < SMALL_HOLDERS) {
      h[i].count = SLOTS - (size_t)(i % 4) * 3;
      h[i].slots = shade_malloc(h[i].count * sizeof(void *));
    } else if (i < SMALL_HOLDERS + TYPED_HOLDERS) {
      h[i].count = SLOTS;
      h[i].slots = shade_malloc_typed(SLOTS * sizeof(void *), &slot_type);
    } else {
      size_t bytes = i == HOLDERS - 2 ? BIG_BYTES : LOH_BYTES;
      h[i].count = bytes / sizeof(void *);
      h[i].slots = shade_malloc(bytes);
    }
    SHADE_TEST_EXPECT(h[i].slots != NULL);
  }
  shade_collect_generation(0, SHADE_COLLECT_FORCED);
  shade_collect_generation(1, SHADE_COLLECT_FORCED);
  for (int i = 0; i < HOLDERS; i++)
    SHADE_TEST_EXPECTF(shade_generation(h[i].slots) == 2, "holder %d is in generation %d", i,
                       shade_generation(h[i].slots));
}

// A slot of a holder; in the large holders, slots spread over every page.
static size_t pick_slot(const struct holder *h, uint64_t *rng) {
  return (size_t)shade_test_random_between(rng, 0, h->count - 1);
}

static struct gen_node *new_chain(uint64_t *rng) {
  int length = (int)shade_test_random_between(rng, 1, CHAIN);
  struct gen_node *head = NULL;
  for (int i = 0; i < length; i++) {
    struct gen_node *n = gen_node_new(shade_test_random(rng), shade_test_random_between(rng, 2, 24),
                                      NULL);
    if (n == NULL)
      return head;
    store_pointer(n, (void **)&n->next, head);
    gen_node_seal(n);
    head = n;
  }
  return head;
}

// Checks every chain the holders lead to; returns the number of bad ones (the first few are
// reported).
static int verify_holders(const struct holder *h, const char *what, uint64_t round, int *reported) {
  int bad = 0;
  for (int i = 0; i < HOLDERS; i++) {
    for (size_t s = 0; s < h[i].count; s++) {
      const struct gen_node *n = h[i].slots[s], *wrong = NULL;
      if (n == NULL)
        continue;
      if (gen_chain_bad(n, CHAIN, &wrong)) {
        bad++;
        if ((*reported)++ < 5)
          SHADE_TEST_EXPECTF(0, "%s, round %" PRIu64 ": chain in slot %zu of holder %d (gen %d, "
                             "%zu slots) damaged at %p (live %d, generation %d)", what, round, s, i,
                             shade_generation(h[i].slots), h[i].count, (const void *)wrong,
                             shade_is_heap_pointer(wrong), shade_generation(wrong));
      }
    }
  }
  return bad;
}

static void clear_holders(struct holder *h) {
  for (int i = 0; i < HOLDERS; i++)
    for (size_t s = 0; s < h[i].count; s++)
      if (h[i].slots[s] != NULL)
        store_pointer(h[i].slots, &h[i].slots[s], NULL);
}

enum method { PLAIN, MEMCPY, READ_PIPE };
static const char *const method_names[] = {"plain stores", "memcpy", "read(2) from a pipe"};
static int pipe_fds[2];

// Writes `count` new chains into the holders by `method`; no young pointer is left in this frame.
static SHADE_TEST_NOINLINE void write_round(struct holder *h, enum method method, uint64_t *rng,
                                            int count) {
  for (int k = 0; k < count; k++) {
    struct holder *target = &h[shade_test_random_between(rng, 0, HOLDERS - 1)];
    if (method == PLAIN) {
      size_t s = pick_slot(target, rng);
      // now and then a slot is emptied: its chain dies
      void *value = shade_test_random(rng) % 8 == 0 ? NULL : new_chain(rng);
      store_pointer(target->slots, &target->slots[s], value);
      continue;
    }
    struct gen_node *volatile buffer[8];
    size_t n = (size_t)shade_test_random_between(rng, 1, 8);
    if (n > target->count)
      n = target->count;
    size_t s = (size_t)shade_test_random_between(rng, 0, target->count - n);
    for (size_t i = 0; i < n; i++)
      buffer[i] = new_chain(rng);
    if (method == MEMCPY && use_barrier) { // the program declares the barrier: a bulk copy of
      shade_write_copy(&target->slots[s], (const void *)buffer, n * sizeof(void *)); // pointers
    } else if (method == MEMCPY) {
      memcpy(&target->slots[s], (const void *)buffer, n * sizeof(void *));
    } else {
      ssize_t written = write(pipe_fds[1], (const void *)buffer, n * sizeof(void *));
      SHADE_TEST_EXPECT(written == (ssize_t)(n * sizeof(void *)));
      memset((void *)buffer, 0, sizeof buffer);
      // A program declaring the barrier reads into a buffer of its own (a root), then copies
      // through the barrier; otherwise the kernel writes the old object directly.
      void *volatile landing[8];
      char *into = use_barrier ? (char *)landing : (char *)&target->slots[s];
      size_t done = 0;
      while (done < n * sizeof(void *)) {
        ssize_t got = read(pipe_fds[0], into + done, n * sizeof(void *) - done);
        if (got <= 0) {
          SHADE_TEST_EXPECTF(got > 0, "read from the pipe: %s", strerror(errno));
          break;
        }
        done += (size_t)got;
      }
      if (use_barrier) {
        shade_write_copy(&target->slots[s], (const void *)landing, done);
        memset((void *)landing, 0, sizeof landing);
      }
    }
    memset((void *)buffer, 0, sizeof buffer);
  }
}

static void run_rounds(enum method method, uint64_t seed) {
  uint64_t rng = seed;
  size_t rounds = shade_test_scaled(300, 30);
  int reported = 0, bad_rounds = 0;
  uint64_t young_before = shade_collection_count(0) - shade_collection_count(2);
  for (uint64_t round = 0; round < rounds && bad_rounds < 3; round++) {
    write_round(holders, method, &rng, 24);
    shade_test_clear_stack();
    shade_test_allocate_garbage(96 << 10); // reuses what a wrong collection would free
    shade_test_clear_stack();
    int generation = round % 97 == 96 ? 2 : 0; // gen1 collections: gen_gen1_*
    shade_collect_generation(generation, SHADE_COLLECT_FORCED);
    shade_test_allocate_garbage(96 << 10);
    bad_rounds += verify_holders(holders, method_names[method], round, &reported) != 0;
  }
  uint64_t young = shade_collection_count(0) - shade_collection_count(2) - young_before;
  SHADE_TEST_EXPECTF(young >= rounds * 9 / 10, "only %" PRIu64 " young collections in %zu rounds",
                     young, rounds);
  clear_holders(holders);
  gen_print_stats(method_names[method]);
}

static uint64_t seed;

static void test_plain_stores_into_old_objects(void) { run_rounds(PLAIN, seed + 1); }
static void test_memcpy_into_old_objects(void) { run_rounds(MEMCPY, seed + 2); }
static void test_read_from_a_pipe_into_old_objects(void) {
  SHADE_TEST_EXPECT(pipe(pipe_fds) == 0);
  run_rounds(READ_PIPE, seed + 3);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

// Another thread stores into its own old holders while this one runs young collections; it
// checks its chains whenever a collection has happened since it last looked.
static atomic_int writer_stop;
static atomic_ulong writer_ops;

static SHADE_TEST_NOINLINE void writer_step(uint64_t *rng) {
  struct holder *target = &thread_holders[shade_test_random_between(rng, 0, HOLDERS - 1)];
  size_t s = pick_slot(target, rng);
  store_pointer(target->slots, &target->slots[s], new_chain(rng));
}

static void *writer(void *arg) {
  uint64_t rng = *(uint64_t *)arg;
  uint64_t last_count = shade_collection_count(0), checks = 0;
  int reported = 0;
  while (!atomic_load(&writer_stop)) {
    writer_step(&rng);
    shade_test_allocate_garbage(2048);
    atomic_fetch_add(&writer_ops, 1);
    uint64_t count = shade_collection_count(0);
    if (count != last_count) {
      last_count = count;
      checks++;
      if (verify_holders(thread_holders, "another thread's stores", count, &reported) != 0 &&
          reported >= 5)
        break;
    }
  }
  verify_holders(thread_holders, "another thread's stores (end)", last_count, &reported);
  fprintf(stderr, "writer: %lu stores, %" PRIu64 " checks after collections\n",
          (unsigned long)atomic_load(&writer_ops), checks);
  return NULL;
}

static void test_another_thread_stores_into_old_objects(void) {
  make_holders(thread_holders);
  atomic_store(&writer_stop, 0);
  atomic_store(&writer_ops, 0);
  uint64_t writer_seed = seed + 4;
  pthread_t thread;
  SHADE_TEST_EXPECT(shade_pthread_create(&thread, NULL, writer, &writer_seed) == 0);
  size_t rounds = shade_test_scaled(400, 40);
  for (size_t round = 0; round < rounds; round++) {
    // let the writer store between collections
    unsigned long ops = atomic_load(&writer_ops);
    for (int spin = 0; atomic_load(&writer_ops) < ops + 8 && spin < 2000; spin++)
      shade_safepoint(), sched_yield();
    shade_test_clear_stack();
    shade_collect_generation(round % 50 == 49 ? 2 : 0, SHADE_COLLECT_FORCED);
  }
  atomic_store(&writer_stop, 1);
  pthread_join(thread, NULL);
  SHADE_TEST_EXPECTF(atomic_load(&writer_ops) >= rounds, "the writer stored only %lu times",
                     (unsigned long)atomic_load(&writer_ops));
  gen_print_stats("another thread");
}

int main(int argc, char **argv) {
  use_barrier = argc > 1 && strcmp(argv[1], "barrier") == 0;
  struct shade_options options;
  memset(&options, 0, sizeof options);
  if (use_barrier) {
    options.mode = SHADE_MODE_STW;
    options.write_barrier = 1;
  }
  gen_start(&options);
  gen_require_generational();
  fprintf(stderr, "pointer stores: %s\n", use_barrier ? "shade_write / SHADE_STORE" : "plain");
  seed = shade_test_seed();
  make_holders(holders);
  SHADE_TEST_RUN(test_plain_stores_into_old_objects);
  SHADE_TEST_RUN(test_memcpy_into_old_objects);
  SHADE_TEST_RUN(test_read_from_a_pipe_into_old_objects);
  SHADE_TEST_RUN(test_another_thread_stores_into_old_objects);
  return shade_test_finish();
}
