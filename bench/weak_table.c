// weak_table.c: a weak-keyed table, the ephemeron-heavy workload, for Shade and bdwgc only.
//
// A table of SLOTS entries maps keys to values; OPS times, a new key (32 bytes) and value
// (64 bytes) are made, the key kept in a ring of KEPT rooted keys with probability 1/2 (the key
// it replaces is dropped), and the entry written over a random slot; then a random slot is
// read, and an entry whose key has died reads empty. Entries must not keep their keys alive.
//   Shade: each entry is an ephemeron (shade_ephemeron_new): the value lives while the key does,
//   even if the value pointed to its key.
//   bdwgc: it has no ephemerons; the entry is {hidden key, value} with the key's word a
//   disappearing link (GC_general_register_disappearing_link), the usual weak-key table, whose
//   value is strong: correct here only because values do not point to their keys.
// At the end every entry whose key is still in the ring must give the value made with it (the
// value records its key). Prints a BENCH line with ops_per_s=, cleared= (reads that found a dead
// key), and the collections' counts and pauses.
//
//   weak_table_<allocator> [OPS] [SLOTS] [KEPT]     (default 4000000 1000000 100000)
#if !defined(BENCH_SHADE) && !defined(BENCH_BDWGC)
#error "weak_table.c is for the collectors: BENCH_SHADE or BENCH_BDWGC"
#endif
#include "allocator.h"

struct key {
  uint64_t id;
  uint64_t padding[3];
};
struct value {
  uint64_t key_id;
  uint64_t payload[7];
};

#if defined(BENCH_SHADE)
typedef struct shade_ephemeron entry;
static entry *entry_new(struct key *k, struct value *v) { return shade_ephemeron_new(k, v); }
static struct key *entry_key(entry *e) { return shade_ephemeron_key(e); }
static struct value *entry_value(entry *e) { return shade_ephemeron_value(e); }
#else
typedef struct {
  GC_hidden_pointer key; // a disappearing link: set to 0 when the key dies
  struct value *value;
} entry;
static entry *entry_new(struct key *k, struct value *v) {
  entry *e = bench_alloc(sizeof *e);
  e->key = GC_HIDE_POINTER(k);
  e->value = v;
  GC_general_register_disappearing_link((void **)&e->key, k);
  return e;
}
static void *reveal(void *e) { return GC_REVEAL_POINTER(((entry *)e)->key); }
static struct key *entry_key(entry *e) {
  return ((entry *)e)->key ? GC_call_with_alloc_lock(reveal, e) : NULL;
}
static struct value *entry_value(entry *e) { return entry_key(e) ? e->value : NULL; }
#endif

static inline uint64_t next_random(uint64_t *state) { // splitmix64
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int main(int argc, char **argv) {
  bench_start();
  size_t ops = argc > 1 ? strtoull(argv[1], NULL, 10) : 4000000;
  size_t slots = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
  size_t kept = argc > 3 ? strtoull(argv[3], NULL, 10) : 100000;
  entry **table = bench_alloc(slots * sizeof *table);
  struct key **ring = bench_alloc(kept * sizeof *ring);
  for (size_t i = 0; i < slots; i++)
    table[i] = NULL;
  for (size_t i = 0; i < kept; i++)
    ring[i] = NULL;
  uint64_t rng = 42;
  size_t cleared = 0, found = 0;
  for (size_t i = 0; i < ops; i++) {
    struct key *k = bench_alloc_atomic(sizeof *k);
    k->id = i;
    struct value *v = bench_alloc_atomic(sizeof *v);
    v->key_id = i;
    uint64_t r = next_random(&rng);
    if (r & 1)
      ring[(r >> 1) % kept] = k;
    table[(r >> 20) % slots] = entry_new(k, v);
    entry *e = table[next_random(&rng) % slots];
    if (e) {
      struct key *ek = entry_key(e);
      struct value *ev = entry_value(e);
      if (ek == NULL)
        cleared++;
      else if (ev && ev->key_id == ek->id)
        found++;
    }
  }
  double seconds = bench_seconds_since(&bench_start_time);
  size_t bad = 0;
  for (size_t i = 0; i < slots; i++) { // kept keys give their values
    entry *e = table[i];
    struct key *ek = e ? entry_key(e) : NULL;
    struct value *ev = e ? entry_value(e) : NULL;
    if (ek && (ev == NULL || ev->key_id != ek->id))
      bad++;
  }
  char extra[160];
  snprintf(extra, sizeof extra, " ops_per_s=%.0f cleared=%zu found=%zu bad=%zu",
           (double)ops / seconds, cleared, found, bad);
  bench_finish(extra);
  return bad ? 1 : 0;
}
