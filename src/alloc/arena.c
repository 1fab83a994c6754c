// arena.c: arena reservation and the arena index (see arena.h).
#include "alloc/arena.h"

#include <pthread.h>

#include "alloc/metadata.h"
#include "base/message.h"
#include "os/os_memory.h"

_Atomic(struct arena *) *arena_index;
_Atomic uintptr_t heap_lowest_inverted = 0, heap_highest_inverted = UINTPTR_MAX;
static _Atomic size_t mapped_bytes;

void arena_index_init(void) {
  // 2^21 pointers, 16 MiB of address space; only the pages that are written become resident.
  arena_index = os_map(ARENA_INDEX_ENTRIES * sizeof(*arena_index));
  if (arena_index == NULL)
    shade_fatal("shade: shade_init: cannot map the arena index");
}

uintptr_t arena_grow(size_t size) {
  void *memory = os_reserve_aligned(size, ARENA_SIZE);
  if (memory == NULL)
    return 0;
  uintptr_t base = (uintptr_t)memory;
  if (((base + size - 1) >> ADDRESS_BITS) != 0) {
    os_unmap(memory, size);
    return 0;
  }
  for (uintptr_t a = base; a < base + size; a += ARENA_SIZE) {
    struct arena *record = metadata_alloc(sizeof(struct arena));
    record->base = a;
    store_release(&arena_index[a >> ARENA_SHIFT], record);
  }
  uintptr_t low = load_relaxed(&heap_lowest_inverted); // inverted: a larger value is lower
  while (~base > low && !atomic_compare_exchange_weak(&heap_lowest_inverted, &low, ~base)) {
  }
  uintptr_t high = load_relaxed(&heap_highest_inverted);
  while (~(base + size) < high &&
         !atomic_compare_exchange_weak(&heap_highest_inverted, &high, ~(base + size))) {
  }
  atomic_fetch_add(&mapped_bytes, size);
  return base;
}

void arena_set_span(uintptr_t page_address, struct span *s) {
  struct arena *a = load_relaxed(&arena_index[page_address >> ARENA_SHIFT]);
  store_relaxed(&a->pages[(page_address & (ARENA_SIZE - 1)) >> PAGE_SHIFT], s);
}

size_t arena_mapped_bytes(void) { return load_relaxed(&mapped_bytes); }
