// cards.c: walking the card tables (cards.h). A card table is read 32 cards at a time where
// clean, so a clean arena costs 4 Ki reads of 32 bytes (its untouched pages read as the
// kernel's zero page).
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
  size_t card = t->written ? WRITTEN_CARD_SIZE : CARD_SIZE, bytes = (end - first) * card;
  t->bytes += bytes;
  if (t->found)
    t->found(a->base + first * card, bytes, t->context);
}

static void take_arena(struct arena *a, void *context) {
  struct take *t = context;
  _Atomic(uint8_t) *cards = t->written ? a->written_cards : a->cards;
  size_t count = t->written ? WRITTEN_CARDS_PER_ARENA : CARDS_PER_ARENA;
  if (cards == NULL)
    return;
  size_t run = SIZE_MAX; // the first card of the run of set cards under way
  for (size_t i = 0; i < count; i++) {
    if ((i & 31) == 0 && run == SIZE_MAX) { // 32 clean cards at a time
      uint64_t words[4];
      memcpy(words, (const void *)&cards[i], sizeof words);
      if ((words[0] | words[1] | words[2] | words[3]) == 0) {
        i += 31;
        continue;
      }
    }
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
    report(t, a, run, count);
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

// Clears the table 32 cards at a time, writing only where some are set: a table's untouched
// pages stay the kernel's zero page.
static void clear_arena(struct arena *a, void *context) {
  (void)context;
  _Atomic(uint8_t) *tables[2] = {a->cards, a->written_cards};
  size_t counts[2] = {CARDS_PER_ARENA, WRITTEN_CARDS_PER_ARENA};
  for (unsigned k = 0; k < 2; k++) {
    if (tables[k] == NULL)
      continue;
    for (size_t i = 0; i < counts[k]; i += 32) {
      uint64_t words[4];
      memcpy(words, (const void *)&tables[k][i], sizeof words);
      if ((words[0] | words[1] | words[2] | words[3]) == 0)
        continue;
#ifdef SHADE_SANITIZER_THREAD // (as atomics TSan can see)
      for (size_t j = i; j < i + 32; j++)
        store_relaxed(&tables[k][j], 0);
#else
      memset((void *)&tables[k][i], 0, 32);
#endif
    }
  }
}

void cards_clear_all(void) { arena_for_each(clear_arena, NULL); }

void cards_note_written(uintptr_t start, size_t bytes) {
  uintptr_t end = start + bytes, low = heap_lowest_address(), high = heap_highest_address();
  if (bytes == 0 || end < start)
    return;
  start = start > low ? start : low;
  end = end < high ? end : high;
  for (uintptr_t card = start & ~(WRITTEN_CARD_SIZE - 1); card < end; card += WRITTEN_CARD_SIZE) {
    if (!arena_is_heap_address(card))
      continue;
    struct arena *a = load_relaxed(&arena_index[card >> ARENA_SHIFT]);
    _Atomic(uint8_t) *cards = a->written_cards;
    if (cards != NULL)
      store_relaxed(&cards[(card & (ARENA_SIZE - 1)) >> WRITTEN_CARD_SHIFT], 1);
  }
}
