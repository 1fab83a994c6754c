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

struct address_entry *address_map_insert(struct address_map *map, uintptr_t key, bool *created) {
  struct address_entry *found = address_map_find(map, key);
  *created = found == NULL;
  if (found)
    return found;
  SHADE_ASSERT(map->capacity && (map->used + map->tombstones + 1) * 4 <= map->capacity * 3);
  struct address_entry *reuse = NULL;
  for (size_t i = slot_of(key, map->capacity);; i = (i + 1) & (map->capacity - 1)) {
    struct address_entry *e = &map->entries[i];
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
  return reuse;
}

void address_map_remove(struct address_map *map, struct address_entry *entry) {
  *entry = (struct address_entry){.key = ADDRESS_TOMBSTONE};
  map->used--;
  map->tombstones++;
}

