// address_map.h: a hash map from addresses to a few words, for the collector's side tables
// (finalizers by object, weak links by link address). Open addressing with linear probing;
// removed entries leave a tombstone (or an empty slot, where no probe sequence goes on past it),
// so that removing while iterating never moves an entry.
//
// Invariants: keys are nonzero, word-aligned addresses (0 marks an empty slot, 1 a tombstone);
// used + tombstones <= 3/4 of capacity after every insert. Only address_map_reserve allocates
// (with the C library's malloc): lookups, removals and iteration never do, so the collector may
// call them with the world stopped. The caller serialises every call (finalization.c's lock).
#ifndef SHADE_GC_ADDRESS_MAP_H
#define SHADE_GC_ADDRESS_MAP_H
#include "base/base.h"

struct address_entry {
  uintptr_t key;
  uintptr_t first, second; // what the user of the map keeps (a target, a function, data)
  unsigned flags;
};

struct address_map {
  struct address_entry *entries;
  size_t capacity; // a power of two, or 0
  size_t used;     // live entries
  size_t tombstones;
};

#define ADDRESS_EMPTY ((uintptr_t)0)
#define ADDRESS_TOMBSTONE ((uintptr_t)1)

// Room for `more` inserts without allocating (rebuilding without tombstones if it helps).
// False if memory ran out (the map is unchanged).
bool address_map_reserve(struct address_map *map, size_t more);
// The entry for key, or NULL.
struct address_entry *address_map_find(const struct address_map *map, uintptr_t key);
// The entry for key, created (zeroed fields) if absent; room must have been reserved.
struct address_entry *address_map_insert(struct address_map *map, uintptr_t key, bool *created);
void address_map_remove(struct address_map *map, struct address_entry *entry);

static inline bool address_entry_live(const struct address_entry *e) {
  return e->key > ADDRESS_TOMBSTONE;
}
#define address_map_for_each(map, e)                                                      \
  for (struct address_entry *e = (map)->entries; e && e < (map)->entries + (map)->capacity; \
       e++)                                                                               \
    if (address_entry_live(e))

#endif
