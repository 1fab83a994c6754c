// cards.h: the card tables of generations: a byte per CARD_SIZE (512) bytes of heap, in tables
// each arena's record points to (alloc/arena.h). The markers' cards are set to 1 by the markers
// for a slot of a gen2 object that points to a younger one; the written cards by shade_write
// (shade.h) for a slot it stored a pointer into, when young collections learn of writes from the
// barrier rather than the kernel. generations.c states the invariant and says when cards are set
// and cleared; this module only keeps the bytes.
//
// Cards are set with a relaxed load and store (racing writers write the same value); they are
// read and cleared with the world stopped, before marking starts.
#ifndef SHADE_GC_CARDS_H
#define SHADE_GC_CARDS_H
#include "alloc/arena.h"

// Sets the card of a heap address (one inside an object of an in-use span).
static inline void card_note(uintptr_t address) {
  struct arena *a = load_relaxed(&arena_index[address >> ARENA_SHIFT]);
  _Atomic(uint8_t) *cards = a->cards;
  if (SHADE_UNLIKELY(cards == NULL))
    return; // (generations off: no card is ever read)
  size_t i = (address & (ARENA_SIZE - 1)) >> CARD_SHIFT;
  if (load_relaxed(&cards[i]) == 0)
    store_relaxed(&cards[i], 1);
}

static inline bool card_is_set(uintptr_t address) {
  struct arena *a = load_relaxed(&arena_index[address >> ARENA_SHIFT]);
  return a->cards != NULL && load_relaxed(&a->cards[(address & (ARENA_SIZE - 1)) >> CARD_SHIFT]);
}

// Every arena gets a card table, and with written, a table of written cards (generations_init).
void cards_enable(bool written);
// World stopped: calls found(start, bytes, context) for every run of set cards, clearing them
// (found may be NULL: clear only). Returns the bytes the runs cover.
uint64_t cards_take(void (*found)(uintptr_t start, size_t bytes, void *context), void *context);
// The same for the written cards.
uint64_t cards_take_written(void (*found)(uintptr_t start, size_t bytes, void *context),
                            void *context);
// World stopped: clears every card of both tables.
void cards_clear_all(void);
// Sets the written cards of [start, start + bytes) that lie in the heap (shade_write_copy, shade_realloc).
void cards_note_written(uintptr_t start, size_t bytes);

#endif
