// test_roots_churn.c (conc_roots_churn_concurrent, conc_roots_churn_incremental): root ranges
// added and removed all the time while cycles run back to back.
//
// ROOTERS threads each keep their objects in a C-library array registered with shade_add_roots
// (the only place the objects are referenced, written with SHADE_STORE). Each thread, in a
// loop: replaces an object by a new one; moves everything into a new array (SHADE_STORE into it,
// shade_add_roots of the new one, shade_remove_roots and free of the old one); checks its
// objects (a magic word and a key each); allocates garbage. A thread can be stopped for a
// collection anywhere, including inside shade_add_roots or shade_remove_roots while it holds
// the roots' lock: the collector must not need that lock once the world is stopped (a deadlock
// otherwise: the test times out).
#include "conc_test.h"

enum { ROOTERS = 3, SLOTS = 16 };
#define OBJECT_MAGIC 0xF0B7EC7F0B7EC7ull

struct object {
  uint64_t magic;
  uint64_t key;   // tagged
  uint64_t check; // conc_hash(key)
};

static atomic_int stop;
static atomic_long bad_objects, moves_done, replacements_done;

struct rooter {
  uint64_t rng;
  uint64_t keys[SLOTS];
  uint64_t serial;
  int index;
};

static struct object *new_object(struct rooter *r, int slot) {
  struct object *o = shade_malloc(sizeof *o);
  r->keys[slot] = CONC_TAG | (uint64_t)r->index << 48 | r->serial++;
  o->magic = OBJECT_MAGIC;
  o->key = r->keys[slot];
  o->check = conc_hash(o->key);
  return o;
}

static void check(struct rooter *r, struct object *const *range, int slot, const char *where) {
  const struct object *o = range[slot];
  if (o == NULL || o->magic != OBJECT_MAGIC || o->key != r->keys[slot] ||
      o->check != conc_hash(r->keys[slot])) {
    if (atomic_fetch_add(&bad_objects, 1) < 10)
      fprintf(stderr, "thread %d (%s): slot %d: object %p: magic %#" PRIx64 " key %#" PRIx64
              " (expected %#" PRIx64 ")\n", r->index, where, slot, (const void *)o,
              o ? o->magic : 0, o ? o->key : 0, r->keys[slot]);
  }
}

static void *rooter(void *arg) {
  struct rooter *r = arg;
  struct object **range = calloc(SLOTS, sizeof *range);
  // Registered before it holds anything: an object stored into an unregistered range is
  // garbage to a cycle that runs meanwhile (TSan once caught one freed and its slot reused).
  shade_add_roots(range, range + SLOTS);
  for (int i = 0; i < SLOTS; i++)
    SHADE_STORE(range[i], new_object(r, i));
  while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
    uint64_t op = shade_test_random(&r->rng) % 8;
    int slot = (int)(shade_test_random(&r->rng) % SLOTS);
    if (op < 4) {
      check(r, range, slot, "replace");
      SHADE_STORE(range[slot], new_object(r, slot));
      atomic_fetch_add(&replacements_done, 1);
    } else if (op < 6) {
      struct object **moved = calloc(SLOTS, sizeof *moved);
      for (int i = 0; i < SLOTS; i++)
        SHADE_STORE(moved[i], range[i]);
      shade_add_roots(moved, moved + SLOTS);
      shade_remove_roots(range, range + SLOTS);
      free(range); // not a root any more: its words are nobody's concern
      range = moved;
      atomic_fetch_add(&moves_done, 1);
    } else {
      for (int i = 0; i < SLOTS; i++)
        check(r, range, i, "check");
    }
    for (int g = 0; g < 4; g++)
      conc_garbage(&r->rng);
  }
  for (int i = 0; i < SLOTS; i++)
    check(r, range, i, "at the end");
  shade_remove_roots(range, range + SLOTS);
  free(range);
  return NULL;
}

static void test_root_ranges_come_and_go_during_marking(void) {
  uint64_t seed = shade_test_seed();
  const uint64_t target_cycles = shade_test_scaled(400, 20);
  struct rooter rooters[ROOTERS];
  pthread_t threads[ROOTERS];
  struct shade_stats before = shade_test_stats();
  for (int i = 0; i < ROOTERS; i++) {
    rooters[i] = (struct rooter){.rng = seed + (uint64_t)i * 7919, .index = i};
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[i], NULL, rooter, &rooters[i]) == 0);
  }
  double start = shade_test_now(), cap = conc_cap(20.0);
  struct shade_stats now = conc_wait_for_cycles(&before, target_cycles, cap);
  atomic_store(&stop, 1);
  for (int i = 0; i < ROOTERS; i++)
    pthread_join(threads[i], NULL);
  struct shade_stats after = shade_test_stats();
  fprintf(stderr, "%.1f s: %ld replacements, %ld moves to a new range\n",
          shade_test_now() - start, atomic_load(&replacements_done), atomic_load(&moves_done));
  conc_print_stats("roots_churn", &before, &after);
  SHADE_TEST_EXPECTF(atomic_load(&bad_objects) == 0, "%ld damaged or missing objects",
                     atomic_load(&bad_objects));
  CONC_EXPECT_CYCLES(now.concurrent_cycles - before.concurrent_cycles, target_cycles, cap,
                     now.cycles - before.cycles);
  SHADE_TEST_EXPECT(atomic_load(&moves_done) > 0);
}

int main(int argc, char **argv) {
  conc_start(conc_mode_from_args(argc, argv),
             (struct conc_pacing){.gc_percent = 5, .min_heap_goal = (size_t)1 << 20});
  SHADE_TEST_RUN(test_root_ranges_come_and_go_during_marking);
  return shade_test_finish();
}
