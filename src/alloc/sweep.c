// sweep.c: returning the memory of unmarked objects to their spans.
//
// A span is swept at most once per cycle; its sweep generation says where it stands (span.h).
// Sweeping a small span packs its objects' marks into the new alloc bits and clears their
// states; nothing is written into object memory and no free list is built. Objects passed to
// shade_free (freed_bits) are dropped whatever their mark. Uncollectable and manual objects ignore marks: they stay
// allocated until freed explicitly. Large objects are swept with the world stopped at the end of
// marking; an unmarked one gives its pages back at once.
#include "alloc/sweep.h"

#include <pthread.h>
#include <string.h>

#include "alloc/pageheap.h"
#include "alloc/arena.h"
#include "alloc/central.h"
#include "alloc/large.h"

_Atomic uint32_t heap_sweepgen = 2; // spans are born swept at 2; the first marking makes it 4
_Atomic int heap_sweep_kind = SWEEP_FULL;
static _Atomic uint64_t freed_bytes;
static _Atomic uint64_t swept_pages;

uint64_t sweep_freed_bytes(void) { return load_relaxed(&freed_bytes); }
uint64_t sweep_swept_pages(void) { return load_relaxed(&swept_pages); }

bool sweep_claim(struct span *s) {
  uint32_t generation = load_relaxed(&heap_sweepgen);
  uint32_t expected = generation - 2;
  return atomic_compare_exchange_strong(&s->sweepgen, &expected, generation - 1);
}

// shade_free may set a freed bit while the span is swept: each word is taken with an exchange,
// so a racing free is applied by this sweep or left for the next one, never lost.
static uint64_t take_freed(_Atomic(uint64_t) *freed, uint32_t word) {
  // acquire: the freeing thread's last uses of the object happen before the slot is reused
  return freed ? atomic_exchange_explicit(&freed[word], 0, memory_order_acquire) : 0;
}

static void keep_explicit_allocations(struct span *s, uint32_t words) {
  // Slots below freeindex were handed out without setting their alloc bit.
  uint32_t freeindex = load_relaxed(&s->freeindex);
  _Atomic(uint64_t) *freed = span_freed_bits(s);
  for (uint32_t w = 0; w < words; w++) {
    uint32_t first = w * 64;
    uint64_t bits = load_relaxed(&s->alloc_bits[w]);
    if (freeindex >= first + 64)
      bits = ~(uint64_t)0;
    else if (freeindex > first)
      bits |= ((uint64_t)1 << (freeindex - first)) - 1;
    bits &= ~take_freed(freed, w);
    if (w == words - 1 && s->object_count % 64)
      bits &= ((uint64_t)1 << (s->object_count % 64)) - 1;
    store_relaxed(&s->alloc_bits[w], bits);
  }
}

// A sweep without generations forgets every state of every object: no state outlives the
// collection that set it.
static void clear_states(struct span *s) {
#ifdef SHADE_SANITIZER_THREAD // the same, as atomics TSan can see (shade_base reads them racily)
  for (size_t i = 0; i < span_object_states_size(s); i++)
    store_relaxed(&s->object_states[i], 0);
#else
  memset((void *)s->object_states, 0, span_object_states_size(s));
#endif
}

_Static_assert(OBJECT_MARKED == 1, "pack_marks gathers bit 0 of each state byte");

// Bit i of the result is the OBJECT_MARKED bit of the word's object i.
static uint64_t pack_marks(const struct span *s, uint32_t word) {
  uint64_t bits = 0;
  uint32_t first = word * 64;
  const uint64_t *bytes = (const uint64_t *)(const void *)&s->object_states[first];
  for (uint32_t group = 0; group < 8; group++) { // 8 objects at a time
    uint64_t eight = bytes[group] & 0x0101010101010101ull;
    if (eight == 0)
      continue;
    // Gather bit 0 of each byte into the top byte: multiply by a mask of shifted ones.
    uint64_t gathered = (eight * 0x0102040810204080ull) >> 56;
    bits |= gathered << (group * 8);
  }
  return bits;
}

// The state a live object keeps after a generational sweep of kind (SWEEP_GEN0 + g): marked, and
// one generation older if its generation was collected (every one gen2 after SWEEP_GEN2_ALL;
// gen2 and unmarked after SWEEP_GEN2_PLAIN).
static uint8_t aged_state(uint8_t state, enum sweep_kind kind) {
  unsigned age = (state & OBJECT_AGE_MASK) >> OBJECT_AGE_SHIFT;
  if (kind == SWEEP_GEN2_PLAIN)
    return (uint8_t)(OBJECT_OLDEST << OBJECT_AGE_SHIFT);
  if (kind == SWEEP_GEN2_ALL)
    age = OBJECT_OLDEST;
  else if (age <= (unsigned)(kind - SWEEP_GEN0) && age < OBJECT_OLDEST)
    age++;
  return (uint8_t)(OBJECT_MARKED | age << OBJECT_AGE_SHIFT);
}

_Static_assert(OBJECT_AGE_SHIFT == 1 && OBJECT_OLDEST == 2 && OBJECT_AGE_MASK == 6,
              "aged_eight: an age is bits 1-2 of a state, 0 to 2");

#define BYTES_01 0x0101010101010101ull

// aged_state of eight states at once (a byte each): `live` says which of them live (bit b for
// byte b); the others become 0. An age of 0 to 2 is bits 1-2 of each byte, so adding 1 to it
// never carries into the next byte.
static uint64_t aged_eight(uint64_t eight, uint8_t live, enum sweep_kind kind) {
  // bit 0 of byte b = bit b of live: each byte keeps its own bit of the copies, then is raised
  // to 0x80 or more by adding 0x7f when it is not 0 (without a carry out of the byte)
  uint64_t spread = ((uint64_t)live * BYTES_01) & 0x8040201008040201ull;
  uint64_t live01 = ((spread + 0x7f7f7f7f7f7f7f7full) >> 7) & BYTES_01;
  uint64_t age = (eight >> OBJECT_AGE_SHIFT) & (3 * BYTES_01);
  if (kind == SWEEP_GEN2_PLAIN)
    return (OBJECT_OLDEST * BYTES_01 << OBJECT_AGE_SHIFT) & (live01 * 0xff);
  if (kind == SWEEP_GEN2_ALL) {
    age = OBJECT_OLDEST * BYTES_01;
  } else {
    uint64_t young_enough = kind == SWEEP_GEN0 ? ~(age | age >> 1) & BYTES_01 // age 0
                                               : ~(age >> 1) & BYTES_01;       // age 0 or 1
    age += young_enough;
  }
  return (live01 * OBJECT_MARKED | age << OBJECT_AGE_SHIFT) & (live01 * 0xff);
}

// Generational: the states of word w's 64 objects, given which of them live, eight at a time.
static void age_states(struct span *s, uint32_t w, uint64_t live, enum sweep_kind kind) {
  _Atomic(uint8_t) *states = &s->object_states[w * 64];
  for (uint32_t group = 0; group < 8; group++) {
    uint8_t group_live = (uint8_t)(live >> (group * 8));
    uint64_t eight;
    memcpy(&eight, (const void *)&states[group * 8], sizeof eight);
    if (eight == 0) // (live objects are marked)
      continue;
    uint64_t aged = aged_eight(eight, group_live, kind);
#ifdef SHADE_SANITIZER_THREAD // (as atomics TSan can see)
    for (uint32_t b = 0; b < 8; b++)
      store_relaxed(&states[group * 8 + b], (uint8_t)(aged >> (b * 8)));
#else
    memcpy((void *)&states[group * 8], &aged, sizeof aged);
#endif
  }
}

uint32_t sweep_small_span(struct span *s, enum sweep_kind kind) {
  uint32_t words = span_bitmap_words(s);
  _Atomic(uint64_t) *freed = span_freed_bits(s);
  bool explicit_kind = s->kind == KIND_UNCOLLECTABLE || s->kind == KIND_MANUAL;
  if (explicit_kind) {
    keep_explicit_allocations(s, words);
  } else {
    for (uint32_t w = 0; w < words; w++) {
      uint64_t live = pack_marks(s, w) & ~take_freed(freed, w);
      store_relaxed(&s->alloc_bits[w], live);
      if (kind != SWEEP_FULL)
        age_states(s, w, live, kind);
    }
  }
  if (kind == SWEEP_FULL || explicit_kind) // (explicit kinds are roots: marked afresh each time)
    clear_states(s);
  span_reset_allocation(s);
  uint32_t live = s->object_count - span_count_free(s);
  s->allocated_at_sweep = live;
  s->needs_zeroing = 1;
  atomic_fetch_add_explicit(&swept_pages, s->pages, memory_order_relaxed); // still ours here
  store_release(&s->sweepgen, load_relaxed(&heap_sweepgen));
  return live;
}

void sweep_large_objects(enum sweep_kind kind) { sweep_large_objects_keeping(kind, UINT32_MAX); }

void sweep_large_objects_keeping(enum sweep_kind kind, uint32_t epoch) {
  struct span *s = large_first();
  while (s) {
    struct span *next = s->next;
    bool explicit_kind = s->kind == KIND_UNCOLLECTABLE || s->kind == KIND_MANUAL;
    bool marked = span_object_is_marked(s, 0);
    bool young = epoch != UINT32_MAX && (load_relaxed(&s->black_from) == epoch ||
                                         load_acquire(&s->sweepgen) == load_relaxed(&heap_sweepgen));
    bool keep = (explicit_kind || marked || young) && !span_object_is_freed(s, 0);
    if (kind != SWEEP_FULL && keep && marked && !explicit_kind)
      store_relaxed(&s->object_states[0], aged_state(load_relaxed(&s->object_states[0]), kind));
    else
      store_relaxed(&s->object_states[0], 0);
    if (s->check_bits)
      store_relaxed(&s->check_bits[0], 0);
    if (!keep) {
      atomic_fetch_add(&freed_bytes, s->pages * PAGE_SIZE);
      large_remove(s);
      pageheap_free_with_bitmaps(s);
    }
    s = next;
  }
}

unsigned sweep_object_generation(const struct span *s, uint32_t i) {
  enum sweep_kind kind = sweep_current_kind();
  uint8_t state = load_relaxed(&s->object_states[i]);
  if (kind != SWEEP_FULL && s->state == SPAN_SMALL && span_needs_sweeping(s) &&
      (state & OBJECT_MARKED))
    state = aged_state(state, kind);
  return (state & OBJECT_AGE_MASK) >> OBJECT_AGE_SHIFT;
}

_Static_assert(OBJECT_AGE_SHIFT == 1 && OBJECT_OLDEST == 2,
               "unmark_states: age 2, and only it, has bit 2 of the state set");

// Clears OBJECT_MARKED in the states of generation <= `generation` (1 or 2), eight states at a
// time; the other bits stay.
static void unmark_states(_Atomic(uint8_t) *states, size_t count, unsigned generation) {
  const uint64_t ones = 0x0101010101010101ull;
#ifndef SHADE_SANITIZER_THREAD
  if (generation >= OBJECT_OLDEST) { // every state: a loop the compiler vectorises (most of the
    uint64_t *words = (uint64_t *)(void *)states; // states after a full collection are marked)
    for (size_t i = 0; i < count / 8; i++)
      words[i] &= ~ones;
    return;
  }
#endif
  for (size_t i = 0; i < count; i += 8) { // (count is a multiple of 64)
    uint64_t eight;
    memcpy(&eight, (const void *)&states[i], sizeof eight);
    uint64_t marked = eight & ones;
    // gen1: the marked states whose bit 2 (the high bit of the age) is clear
    uint64_t clear = generation >= OBJECT_OLDEST ? marked : marked & ~(eight >> 2);
    if (clear == 0)
      continue;
#ifdef SHADE_SANITIZER_THREAD // (as atomics TSan can see)
    for (size_t b = 0; b < 8; b++)
      if ((clear >> (b * 8)) & 1)
        store_relaxed(&states[i + b], (uint8_t)(load_relaxed(&states[i + b]) & ~OBJECT_MARKED));
#else
    eight &= ~clear;
    memcpy((void *)&states[i], &eight, sizeof eight);
#endif
  }
}

static void unmark_span(struct span *s, void *context) {
  if (s->kind != KIND_UNCOLLECTABLE && s->kind != KIND_MANUAL)
    unmark_states(s->object_states, span_object_states_size(s), *(unsigned *)context);
}

// A share of the unmarking: the in-use spans whose first page is among the heap's pages
// [first, end), counted through the arenas in arena_for_each's order; for a gen1 collection, only
// those on pages of the YOUNG_SINCE_GEN1 map (alloc/arena.h), where every gen0 and gen1 object is
// (the whole heap's states took the cache workload's gen1 collections milliseconds to walk).
struct unmark_share {
  unsigned generation;
  size_t first, end, index; // index: the heap page where the arena under way starts
};

static void unmark_arena_share(struct arena *a, void *context) {
  struct unmark_share *u = context;
  size_t start = u->index;
  u->index += PAGES_PER_ARENA;
  if (start + PAGES_PER_ARENA <= u->first || start >= u->end)
    return;
  size_t from = u->first > start ? u->first - start : 0;
  size_t to = u->end - start < PAGES_PER_ARENA ? u->end - start : PAGES_PER_ARENA;
  for (size_t p = from; p < to; p++) {
    if (u->generation == 1 && !arena_page_in_map(a, YOUNG_SINCE_GEN1, p)) {
      if (load_relaxed(&a->young[YOUNG_SINCE_GEN1][p / 64]) == 0)
        p |= 63; // 64 pages holding no gen0 or gen1 object
      continue;
    }
    struct span *s = load_relaxed(&a->pages[p]);
    if (s == NULL || s->base != a->base + p * PAGE_SIZE)
      continue; // not the first page of a span
    enum span_state state = span_state_acquire(s);
    if (state == SPAN_SMALL || state == SPAN_LARGE)
      unmark_span(s, &u->generation);
  }
}

void sweep_unmark_generations_share(unsigned generation, unsigned share, unsigned shares) {
  if (generation == 0 || shares == 0)
    return;
  size_t pages = arena_mapped_bytes() / PAGE_SIZE;
  struct unmark_share u = {generation, pages * share / shares, pages * (share + 1) / shares, 0};
  arena_for_each(unmark_arena_share, &u);
}

void sweep_unmark_generations(unsigned generation) { sweep_unmark_generations_share(generation, 0, 1); }

void sweep_unmark_large(void) {
  for (struct span *s = large_first(); s; s = s->next)
    if (s->kind != KIND_UNCOLLECTABLE && s->kind != KIND_MANUAL)
      store_relaxed(&s->object_states[0],
                    (uint8_t)(load_relaxed(&s->object_states[0]) & ~OBJECT_MARKED));
}
