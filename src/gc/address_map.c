// address_map.c: see address_map.h.
#include "gc/address_map.h"

#include <stdlib.h>

static inline size_t slot_of(uintptr_t key, size_t capacity) {
  uint64_t h = (uint64_t)key * 0x9E3779B97F4A7C15ull; // Fibonacci hashing: high bits mix best
  return (size_t)(h >> 20) & (capacity - 1);
}

static void put(struct address_entry *entries, size_t capacity, const struct address_entry *e) {
  for (size_t i = slot_of(e->key, capacity);; i = (i + 1) & (capacity - 1))
    if (entries[i].key == ADDRESS_EMPTY) {
      entries[i] = *e;
      return;
    }
}

bool address_map_reserve(struct address_map *map, size_t more) {
  size_t need = map->used + map->tombstones + more;
  if (map->capacity && need * 4 <= map->capacity * 3)
    return true;
  size_t capacity = 64;
  while ((map->used + more) * 2 > capacity) // half full after a rebuild
    capacity *= 2;
  struct address_entry *entries = calloc(capacity, sizeof *entries);
  if (entries == NULL)
    return false;
  address_map_for_each(map, e) put(entries, capacity, e);
  free(map->entries);
  map->entries = entries;
  map->capacity = capacity;
  map->tombstones = 0;
  return true;
}

struct address_entry *address_map_find(const struct address_map *map, uintptr_t key) {
  if (map->capacity == 0)
    return NULL;
  for (size_t i = slot_of(key, map->capacity);; i = (i + 1) & (map->capacity - 1)) {
    struct address_entry *e = &map->entries[i];
    if (e->key == key)
      return e;
    if (e->key == ADDRESS_EMPTY)
      return NULL;
  }
}

// One pass: the key's entry if it is there, else the first tombstone or the empty slot that ends
// the probe sequence, which then takes the key.
struct address_entry *address_map_insert(struct address_map *map, uintptr_t key, bool *created) {
  SHADE_ASSERT(map->capacity && (map->used + map->tombstones + 1) * 4 <= map->capacity * 3);
  struct address_entry *reuse = NULL;
  for (size_t i = slot_of(key, map->capacity);; i = (i + 1) & (map->capacity - 1)) {
    struct address_entry *e = &map->entries[i];
    if (e->key == key) {
      *created = false;
      return e;
    }
    if (e->key == ADDRESS_TOMBSTONE && reuse == NULL)
      reuse = e;
    if (e->key == ADDRESS_EMPTY) {
      if (reuse)
        map->tombstones--;
      else
        reuse = e;
      break;
    }
  }
  *reuse = (struct address_entry){.key = key};
  map->used++;
  *created = true;
  return reuse;
}

// A slot followed by an empty one ends every probe sequence through it: it becomes empty, not a
// tombstone, and so do the tombstones just before it (no entry moves: iteration stays valid).
// Maps that keep inserting and removing (weak links of a table being filled and emptied) then
// keep their probe sequences short instead of filling with tombstones until the next rebuild.
void address_map_remove(struct address_map *map, struct address_entry *entry) {
  size_t mask = map->capacity - 1, i = (size_t)(entry - map->entries);
  map->used--;
  if (map->entries[(i + 1) & mask].key != ADDRESS_EMPTY) {
    *entry = (struct address_entry){.key = ADDRESS_TOMBSTONE};
    map->tombstones++;
    return;
  }
  *entry = (struct address_entry){.key = ADDRESS_EMPTY};
  for (i = (i - 1) & mask; map->entries[i].key == ADDRESS_TOMBSTONE; i = (i - 1) & mask) {
    map->entries[i].key = ADDRESS_EMPTY;
    map->tombstones--;
  }
}

