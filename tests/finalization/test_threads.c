// Threads setting finalizers, making weak references and ephemerons, reading them, and dropping
// objects, while collections run (allocation-driven, explicit, and in the mode under test).
// Checks: no object is finalized while still in its owner's table; no finalizer runs twice;
// whatever a weak reference or an ephemeron returns is intact; at the end almost every dropped
// finalizable object was finalized. Printed seed; SHADE_TEST_SEED replays each thread's choices.
#include "fin_test.h"

#define THREADS 4
#define SLOTS 512
#define MAX_IDS (1u << 20)

struct tracked {
  struct tracked *next;
  uintptr_t id;
  uintptr_t check;
  _Atomic int in_table; // 1 while its owner's table holds it
};

static _Atomic unsigned char finalized_times[MAX_IDS];
static atomic_int finalized_in_table, finalized_twice, broken_reads;
static atomic_uint next_id;
static uint64_t seed;

static void tracked_finalizer(void *object, void *data) {
  struct tracked *t = object;
  if (t->id != (uintptr_t)data || t->check != t->id * FIN_CHECK)
    atomic_fetch_add(&broken_reads, 1);
  if (atomic_load_explicit(&t->in_table, memory_order_relaxed))
    atomic_fetch_add(&finalized_in_table, 1);
  if (atomic_fetch_add(&finalized_times[t->id % MAX_IDS], 1) != 0)
    atomic_fetch_add(&finalized_twice, 1);
}

static struct tracked *tracked_new(bool finalizable) {
  struct tracked *t = shade_malloc(sizeof *t);
  t->id = atomic_fetch_add(&next_id, 1) % MAX_IDS;
  t->check = t->id * FIN_CHECK;
  if (finalizable)
    shade_set_finalizer(t, tracked_finalizer, (void *)t->id, SHADE_FINALIZE_ORDERED);
  return t;
}

static bool intact(const struct tracked *t) { return t->check == t->id * FIN_CHECK; }

static atomic_uint finalizable_made;

static void *worker(void *arg) {
  uint64_t rng = seed ^ ((uintptr_t)arg * 0x9E3779B97F4A7C15ull);
  struct tracked **table = shade_malloc(SLOTS * sizeof *table);
  struct shade_weak **weak = shade_malloc(SLOTS * sizeof *weak);
  struct shade_ephemeron **eph = shade_malloc(SLOTS * sizeof *eph);
  unsigned char weak_kind[SLOTS] = {0};
  size_t rounds = shade_test_scaled(200000, 5000);
  for (size_t r = 0; r < rounds; r++) {
    unsigned j = (unsigned)shade_test_random_between(&rng, 0, SLOTS - 1);
    switch (shade_test_random_between(&rng, 0, 5)) {
    case 0:
    case 1: { // replace a table entry (the old one is dropped)
      bool finalizable = shade_test_random_between(&rng, 0, 1);
      struct tracked *t = tracked_new(finalizable);
      finalizable_made += finalizable;
      SHADE_STORE(t->next, table[shade_test_random_between(&rng, 0, SLOTS - 1)]);
      atomic_store_explicit(&t->in_table, 1, memory_order_relaxed);
      if (table[j])
        atomic_store_explicit(&table[j]->in_table, 0, memory_order_relaxed);
      SHADE_STORE(table[j], t);
      break;
    }
    case 2: // a weak reference to whatever is there (or will soon be dropped)
      if (table[j]) {
        weak_kind[j] = (unsigned char)(r & 1);
        SHADE_STORE(weak[j], shade_weak_new(table[j], weak_kind[j]));
      }
      break;
    case 3: { // an ephemeron keyed by a table entry, its value fresh
      if (table[j]) {
        struct tracked *value = tracked_new(false);
        SHADE_STORE(eph[j], shade_ephemeron_new(table[j], value));
      }
      break;
    }
    case 4: { // read a weak reference and an ephemeron; keep what the weak one gives for a while
      struct tracked *t = shade_weak_get(weak[j]);
      if (t && !intact(t))
        atomic_fetch_add(&broken_reads, 1);
      struct tracked *v = shade_ephemeron_value(eph[j]);
      if (v && !intact(v))
        atomic_fetch_add(&broken_reads, 1);
      // A short reference gives only objects no collection found unreachable; a long one may
      // give one whose finalizer is queued (as .NET's long weak references track resurrection):
      // only the short ones may put their object back into the table.
      if (t && weak_kind[j] == SHADE_WEAK_SHORT && shade_test_random_between(&rng, 0, 3) == 0) {
        unsigned k = (unsigned)shade_test_random_between(&rng, 0, SLOTS - 1);
        if (table[k])
          atomic_store_explicit(&table[k]->in_table, 0, memory_order_relaxed);
        atomic_store_explicit(&t->in_table, 1, memory_order_relaxed);
        SHADE_STORE(table[k], t); // resurrect it through the table
      }
      break;
    }
    default:
      if (shade_test_random_between(&rng, 0, 2000) == 0)
        shade_collect();
      break;
    }
  }
  for (unsigned k = 0; k < SLOTS; k++) // drop everything
    if (table[k])
      atomic_store_explicit(&table[k]->in_table, 0, memory_order_relaxed);
  return NULL;
}

static void test_threads_with_finalizers_and_weak_references(void) {
  seed = shade_test_seed();
  pthread_t threads[THREADS];
  for (uintptr_t i = 0; i < THREADS; i++)
    SHADE_TEST_EXPECT(shade_pthread_create(&threads[i], NULL, worker, (void *)i) == 0);
  for (int i = 0; i < THREADS; i++)
    pthread_join(threads[i], NULL);
  // Chains of finalizable objects (through `next`) are finalized one link per collection.
  unsigned made = atomic_load(&finalizable_made), done = 0, before = UINT32_MAX;
  int collections = 0;
  for (int still = 0; still < 3 && collections < 200; collections++) {
    fin_test_collect_and_finalize();
    done = 0;
    for (unsigned i = 0; i < MAX_IDS; i++)
      done += atomic_load(&finalized_times[i]) != 0;
    still = done == before ? still + 1 : 0;
    before = done;
  }
  printf("finalizable %u, finalized %u after %d collections\n", made, done, collections);
  SHADE_TEST_EXPECTF(done >= made * 98 / 100, "%u of %u finalized", done, made);
  SHADE_TEST_EXPECT_EQ(atomic_load(&finalized_in_table), 0);
  SHADE_TEST_EXPECT_EQ(atomic_load(&finalized_twice), 0);
  SHADE_TEST_EXPECT_EQ(atomic_load(&broken_reads), 0);
}

int main(int argc, char **argv) {
  fin_test_init(argc, argv);
  SHADE_TEST_RUN(test_threads_with_finalizers_and_weak_references);
  return shade_test_finish();
}
