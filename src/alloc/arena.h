// arena.h: the map from any address to the span that holds it, in O(1).
//
// The heap lives in 64 MiB arenas. arena_index[address >> ARENA_SHIFT] points to the arena's
// record (NULL for addresses Shade does not own); the record's page table maps each 8 KiB page
// to its span. Every page of an in-use span maps to it; a free span is mapped at its first and
// last page only (for coalescing); other pages map to NULL. heap_lowest/heap_highest bound all
// arenas so that most non-heap words are rejected by two compares.
#ifndef SHADE_ALLOC_ARENA_H
#define SHADE_ALLOC_ARENA_H
#include "alloc/span.h"
#include "base/base.h"

// Cards (gc/cards.h): with generations on, a byte per CARD_SIZE bytes of the arena, in metadata
// memory, allocated with the arena (or for every arena at once when generations start). Two
// tables: the markers' cards, and the write barrier's (written_cards, when young collections
// learn of writes from shade_write), which shade.h's inline path finds through
// shade_card_tables_[address >> ARENA_SHIFT] (the shifts there must be these).
#define CARD_SHIFT 9
#define CARD_SIZE ((size_t)1 << CARD_SHIFT)
#define CARDS_PER_ARENA (ARENA_SIZE / CARD_SIZE)
// The written cards (shade_write's) have their own size: 512 bytes too. Finer ones (128 bytes)
// set fewer old neighbours' cards but made more runs of cards to walk, each costing a span
// lookup: the cache workload's young collections walked for 0.9-1.3 ms instead of 0.5-0.8 ms.
#define WRITTEN_CARD_SHIFT 9
#define WRITTEN_CARD_SIZE ((size_t)1 << WRITTEN_CARD_SHIFT)
#define WRITTEN_CARDS_PER_ARENA (ARENA_SIZE / WRITTEN_CARD_SIZE)

// Young pages (generations): a bit per page in two maps, set for the pages of every span a cache
// takes and every young large object (arena_note_young), so that a young collection's markers
// pass over a pointer into any other page without reading its span record and mark byte (three
// cache misses: the cache workload's old objects on written cards point mostly to old ones).
//   YOUNG_SINCE_LAST  pages allocated from since the last collection: every gen0 object is there
//   YOUNG_SINCE_GEN1  pages allocated from since the last gen1 or full collection, and those
//                     allocated from before it where its gen0 survivors (now gen1) are: every
//                     gen0 and gen1 object is there
// Both only grow between collections; the end of each collection, world stopped, clears the
// first (arena_young_pages_end), and a gen1 or full one makes the second a copy of it first.
enum { YOUNG_SINCE_LAST, YOUNG_SINCE_GEN1, YOUNG_MAPS };
#define YOUNG_WORDS (PAGES_PER_ARENA / 64)

struct reservation; // the reservation the arena is part of (arena.c)

struct arena {
  uintptr_t base;
  struct reservation *reservation;
  _Atomic(uint8_t) *cards;         // NULL until arena_cards_enable
  _Atomic(uint8_t) *written_cards; // NULL unless arena_cards_enable(true)
  _Atomic uint64_t young[YOUNG_MAPS][YOUNG_WORDS];
  _Atomic(struct span *) pages[PAGES_PER_ARENA];
};

extern _Atomic(struct arena *) *arena_index;
// Stored inverted (~address): these globals sit in a scanned data segment, and the plain lowest
// address would keep the first object of the heap alive. Read them with heap_lowest_address().
extern _Atomic uintptr_t heap_lowest_inverted, heap_highest_inverted;

static inline uintptr_t heap_lowest_address(void) { return ~load_acquire(&heap_lowest_inverted); }
static inline uintptr_t heap_highest_address(void) { return ~load_acquire(&heap_highest_inverted); }

void arena_index_init(void);
// Reserve `size` bytes (a multiple of ARENA_SIZE) of new arenas; returns their base or NULL.
uintptr_t arena_grow(size_t size);
void arena_set_span(uintptr_t page_address, struct span *s);
size_t arena_mapped_bytes(void);

// Gives every arena, present and future, a zeroed card table (gc/cards.h), and with written, a
// zeroed table of written cards, published in shade_card_tables_.
void arena_cards_enable(bool written);
// Calls fn for every arena (the world is stopped, or nothing else grows the heap).
void arena_for_each(void (*fn)(struct arena *a, void *context), void *context);
// Calls fn for every span in use (small or large), wherever it is: on a list, in a cache, or
// on its way between them. Same conditions.
void arena_for_each_span(void (*fn)(struct span *s, void *context), void *context);

// Write tracking (os/write_tracking.h), for generations: the kernel tells which heap pages were
// written since the last look. Turns it on for every reservation, present and future; false
// (and *reason) when the kernel cannot.
bool arena_track_writes(const char **reason);
bool arena_tracking_writes(void);
// The page heap hands out [base, base + pages pages): written pages are looked for there from now
// on (pages never handed out hold no object and are never looked at). Before anything writes them.
void arena_note_used(uintptr_t base, size_t pages);
// Calls found(start, bytes, context) for every run of heap pages written since they were last
// protected (or never protected since tracking began: every page then counts as written), in
// address order, without protecting them. The world is stopped, or nothing else grows the heap.
// False when the kernel failed: every page must then count as written.
bool arena_peek_written(void (*found)(uintptr_t start, size_t bytes, void *context),
                        void *context);
// Write-protects the written pages of the heap again, except those inside the ranges of keep
// (kernel pages, 4 KiB; in ascending order within each reservation, not overlapping): the next
// collect or peek reports the protected ones only if written after this, the kept ones always.
// One system call per range between two kept ones. False when the kernel failed.
struct arena_range {
  uintptr_t start, end;
};
bool arena_protect_written_except(const struct arena_range *keep, size_t count);
// Write-protects exactly these ranges of heap pages (kernel pages), a system call each. False when
// the kernel failed.
bool arena_protect_runs(const struct arena_range *runs, size_t count);
// In a forked child: the kernel kept no registration; register again. False when
// the child cannot track writes (its collections must then all be full).
bool arena_after_fork_child(void);

// Generations start: the young maps are kept from now on (see struct arena).
void arena_track_young(void);
// The pages of [base, base + pages * PAGE_SIZE) hold young objects from now on (see struct
// arena; nothing without generations). Called inside the allocator's critical section, before the first object
// there is handed out, so that no collection ends in between.
void arena_note_young(uintptr_t base, size_t pages);
// World stopped, a collection's marking over: no page holds a gen0 object any more; promoted
// (a gen1 or full collection): the gen0 survivors, now gen1, are where the gen0 objects were.
void arena_young_pages_end(bool promoted);

static inline bool arena_page_in_map(struct arena *a, unsigned map, size_t page) {
  return (load_relaxed(&a->young[map][page / 64]) >> (page % 64)) & 1;
}

// For an address already known to lie between the heap bounds, with arena_index read by the
// caller (a loop's: the table never moves once made, and a char store would make the compiler
// read the pointer again at every word).
static inline struct span *arena_span_in_index(_Atomic(struct arena *) *index, uintptr_t address) {
  struct arena *a = load_relaxed(&index[address >> ARENA_SHIFT]);
  if (a == NULL)
    return NULL;
  return load_relaxed(&a->pages[(address & (ARENA_SIZE - 1)) >> PAGE_SHIFT]);
}

static inline struct span *arena_span_of_bounded(uintptr_t address) {
  return arena_span_in_index(arena_index, address);
}

static inline struct span *arena_span_of(uintptr_t address) {
  if (address < heap_lowest_address() || address >= heap_highest_address())
    return NULL;
  struct arena *a = load_acquire(&arena_index[address >> ARENA_SHIFT]);
  if (a == NULL)
    return NULL;
  return load_relaxed(&a->pages[(address & (ARENA_SIZE - 1)) >> PAGE_SHIFT]);
}

// Whether address lies in an arena Shade reserved (in use or not).
static inline bool arena_is_heap_address(uintptr_t address) {
  if (address < heap_lowest_address() || address >= heap_highest_address())
    return false;
  return load_acquire(&arena_index[address >> ARENA_SHIFT]) != NULL;
}

// The in-use span containing address and the index of the object in it, or NULL when address is
// not inside an object slot of an in-use span.
static inline struct span *arena_object_in_span(struct span *s, uintptr_t address,
                                                uint32_t *index) {
  if (s == NULL)
    return NULL;
  enum span_state state = span_state_acquire(s); // concurrent markers: see a published span only
  if (state != SPAN_SMALL && state != SPAN_LARGE)
    return NULL;
  uint32_t i = state == SPAN_LARGE ? 0 : span_object_index(s, address);
  if (i >= s->object_count)
    return NULL;
  *index = i;
  return s;
}

static inline struct span *arena_object_of(uintptr_t address, uint32_t *index) {
  return arena_object_in_span(arena_span_of(address), address, index);
}

#endif
