// cards.c: walking the card tables (cards.h). A card table is read eight cards at a time, so a
// clean arena costs 16 Ki word reads (its untouched pages read as the kernel's zero page).
#include "gc/cards.h"

#include <string.h>

void cards_enable(bool written) { arena_cards_enable(written); }

struct take {
  void (*found)(uintptr_t start, size_t bytes, void *context);
  void *context;
  uint64_t bytes;
  bool written; // the written cards, else the markers'
};

static void report(struct take *t, struct arena *a, size_t first, size_t end) {
  size_t bytes = (end - first) * CARD_SIZE;
  t->bytes += bytes;
  if (t->found)
    t->found(a->base + first * CARD_SIZE, bytes, t->context);
}

static void take_arena(struct arena *a, void *context) {
  struct take *t = context;
  _Atomic(uint8_t) *cards = t->written ? a->written_cards : a->cards;
  if (cards == NULL)
    return;
  size_t run = SIZE_MAX; // the first card of the run of set cards under way
  for (size_t i = 0; i < CARDS_PER_ARENA; i++) {
    if ((i & 7) == 0 && run == SIZE_MAX) {
      uint64_t eight;
      memcpy(&eight, (const void *)&cards[i], sizeof eight);
      if (eight == 0) {
        i += 7;
        continue;
      }
    }
    if (load_relaxed(&cards[i]) != 0) {
      store_relaxed(&cards[i], 0);
      if (run == SIZE_MAX)
        run = i;
    } else if (run != SIZE_MAX) {
      report(t, a, run, i);
      run = SIZE_MAX;
    }
  }
  if (run != SIZE_MAX)
    report(t, a, run, CARDS_PER_ARENA);
}

uint64_t cards_take(void (*found)(uintptr_t start, size_t bytes, void *context), void *context) {
  struct take t = {found, context, 0, false};
  arena_for_each(take_arena, &t);
  return t.bytes;
}

uint64_t cards_take_written(void (*found)(uintptr_t start, size_t bytes, void *context),
                            void *context) {
  struct take t = {found, context, 0, true};
  arena_for_each(take_arena, &t);
  return t.bytes;
}

void cards_note_written(uintptr_t start, size_t bytes) {
  uintptr_t end = start + bytes, low = heap_lowest_address(), high = heap_highest_address();
  if (bytes == 0 || end < start)
    return;
  start = start > low ? start : low;
  end = end < high ? end : high;
  for (uintptr_t card = start & ~(CARD_SIZE - 1); card < end; card += CARD_SIZE) {
    if (!arena_is_heap_address(card))
      continue;
    struct arena *a = load_relaxed(&arena_index[card >> ARENA_SHIFT]);
    _Atomic(uint8_t) *cards = a->written_cards;
    if (cards != NULL)
      store_relaxed(&cards[(card & (ARENA_SIZE - 1)) >> CARD_SHIFT], 1);
  }
}
