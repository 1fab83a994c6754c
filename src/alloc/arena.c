// arena.c: arena reservation and the arena index (see arena.h).
#include "alloc/arena.h"

#include <pthread.h>

#include "alloc/metadata.h"
#include "base/message.h"
#include "os/os_memory.h"
#include "os/write_tracking.h"

// Every reservation arena_grow made, newest first (for write tracking). Appended under
// reservations_mutex; walked with the world stopped or the mutex held. used_end: the end of the
// highest page the page heap ever handed out in it (arena_note_used). No page above was ever part
// of a span, so no object was ever written there: the kernel's written pages are looked for below
// it only (a GCBench heap of 24 MB in its first 64 MiB reservation: each young collection walked
// the page tables of all 64 MiB three times, 13% of the program's time).
struct reservation {
  uintptr_t base;
  size_t size;
  _Atomic uintptr_t used_end;
  struct reservation *next;
};
static struct reservation *_Atomic reservations;
static pthread_mutex_t reservations_mutex = PTHREAD_MUTEX_INITIALIZER;
static _Atomic bool tracking;
static _Atomic bool cards_wanted; // arena_cards_enable was called (under reservations_mutex)
static _Atomic bool written_cards_wanted; // with written cards
// shade.h's inline barrier indexes this by address >> 26 and each table by the 512-byte card.
_Static_assert(ARENA_SHIFT == 26 && ADDRESS_BITS - ARENA_SHIFT == 21 &&
                   WRITTEN_CARD_SHIFT == SHADE_CARD_SHIFT_ &&
                   WRITTEN_CARDS_PER_ARENA == ((size_t)1 << (26 - SHADE_CARD_SHIFT_)),
               "shade.h's shade_card_of_ assumes these");
SHADE_API unsigned char **shade_card_tables_;

_Atomic(struct arena *) *arena_index;
_Atomic uintptr_t heap_lowest_inverted = 0, heap_highest_inverted = UINTPTR_MAX;
static _Atomic size_t mapped_bytes;

void arena_index_init(void) {
  // 2^21 pointers, 16 MiB of address space; only the pages that are written become resident.
  arena_index = os_map(ARENA_INDEX_ENTRIES * sizeof(*arena_index));
  if (arena_index == NULL)
    shade_fatal("shade: shade_init: cannot map the arena index");
}

static void give_cards(struct arena *a, void *unused);

uintptr_t arena_grow(size_t size) {
  void *memory = os_reserve_aligned(size, ARENA_SIZE);
  if (memory == NULL)
    return 0;
  uintptr_t base = (uintptr_t)memory;
  if (((base + size - 1) >> ADDRESS_BITS) != 0) {
    os_unmap(memory, size);
    return 0;
  }
  struct reservation *r = metadata_alloc(sizeof *r);
  r->base = base;
  r->size = size;
  store_relaxed(&r->used_end, base);
  for (uintptr_t a = base; a < base + size; a += ARENA_SIZE) {
    struct arena *record = metadata_alloc(sizeof(struct arena));
    record->base = a;
    record->reservation = r;
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
  pthread_mutex_lock(&reservations_mutex);
  if (load_relaxed(&cards_wanted)) // before the arenas hold any span
    for (uintptr_t a = base; a < base + size; a += ARENA_SIZE)
      give_cards(load_relaxed(&arena_index[a >> ARENA_SHIFT]), NULL);
  r->next = load_relaxed(&reservations);
  if (load_relaxed(&tracking) && write_tracking_register(memory, size) != 0)
    store_relaxed(&tracking, false); // (arena_peek_written then fails: full collections)
  store_release(&reservations, r);
  pthread_mutex_unlock(&reservations_mutex);
  return base;
}

void arena_for_each(void (*fn)(struct arena *a, void *context), void *context) {
  for (struct reservation *r = load_acquire(&reservations); r; r = r->next)
    for (uintptr_t a = r->base; a < r->base + r->size; a += ARENA_SIZE)
      fn(load_relaxed(&arena_index[a >> ARENA_SHIFT]), context);
}

struct span_walk {
  void (*fn)(struct span *s, void *context);
  void *context;
};

static void each_span_in_arena(struct arena *a, void *context) {
  struct span_walk *walk = context;
  for (size_t p = 0; p < PAGES_PER_ARENA; p++) {
    struct span *s = load_relaxed(&a->pages[p]);
    if (s == NULL || s->base != a->base + p * PAGE_SIZE)
      continue; // not the first page of a span
    enum span_state state = span_state_acquire(s);
    if (state == SPAN_SMALL || state == SPAN_LARGE)
      walk->fn(s, walk->context);
  }
}

void arena_for_each_span(void (*fn)(struct span *s, void *context), void *context) {
  struct span_walk walk = {fn, context};
  arena_for_each(each_span_in_arena, &walk);
}

static _Atomic bool young_tracking; // arena_track_young was called (generations)

void arena_track_young(void) { store_relaxed(&young_tracking, true); }

void arena_note_young(uintptr_t base, size_t pages) {
  if (!load_relaxed(&young_tracking))
    return;
  for (uintptr_t page = base; page < base + pages * PAGE_SIZE; page += PAGE_SIZE) {
    struct arena *a = load_relaxed(&arena_index[page >> ARENA_SHIFT]);
    size_t i = (page & (ARENA_SIZE - 1)) >> PAGE_SHIFT;
    uint64_t bit = (uint64_t)1 << (i % 64);
    for (unsigned map = 0; map < YOUNG_MAPS; map++)
      if (!(load_relaxed(&a->young[map][i / 64]) & bit))
        atomic_fetch_or_explicit(&a->young[map][i / 64], bit, memory_order_relaxed);
  }
}

static void end_young(struct arena *a, void *promoted) {
  for (size_t w = 0; w < YOUNG_WORDS; w++) {
    if (*(bool *)promoted)
      store_relaxed(&a->young[YOUNG_SINCE_GEN1][w], load_relaxed(&a->young[YOUNG_SINCE_LAST][w]));
    store_relaxed(&a->young[YOUNG_SINCE_LAST][w], 0);
  }
}

void arena_young_pages_end(bool promoted) {
  if (load_relaxed(&young_tracking))
    arena_for_each(end_young, &promoted);
}

static void give_cards(struct arena *a, void *unused) {
  (void)unused;
  if (a->cards == NULL)
    a->cards = metadata_alloc(CARDS_PER_ARENA);
  if (load_relaxed(&written_cards_wanted) && a->written_cards == NULL) {
    a->written_cards = metadata_alloc(WRITTEN_CARDS_PER_ARENA);
    __atomic_store_n(&shade_card_tables_[a->base >> ARENA_SHIFT],
                     (unsigned char *)a->written_cards, __ATOMIC_RELEASE);
  }
}

void arena_cards_enable(bool written) {
  pthread_mutex_lock(&reservations_mutex);
  if (written && shade_card_tables_ == NULL) {
    // 2^21 pointers, as the arena index; non-heap addresses read NULL
    shade_card_tables_ = os_map(ARENA_INDEX_ENTRIES * sizeof(*shade_card_tables_));
    if (shade_card_tables_ == NULL)
      shade_fatal("shade: shade_init: cannot map the card index");
    store_relaxed(&written_cards_wanted, true);
  }
  store_relaxed(&cards_wanted, true);
  arena_for_each(give_cards, NULL);
  pthread_mutex_unlock(&reservations_mutex);
}

// Registered, not protected: every page counts as written until a collection finds an old object
// on it and protects it (generations.c), which is never wrong. Protecting the untouched pages
// made each first touch of one cost two faults (the kernel's marker, then the page): GCBench took
// 20,900 page faults in all, 13,800 of them faulting in its 24 MB heap; now 15,600 in all.
static bool track_all(void) {
  for (struct reservation *r = load_acquire(&reservations); r; r = r->next)
    if (write_tracking_register((void *)r->base, r->size) != 0)
      return false;
  return true;
}

bool arena_track_writes(const char **reason) {
  if (!write_tracking_available(reason))
    return false;
  pthread_mutex_lock(&reservations_mutex);
  bool ok = track_all();
  store_relaxed(&tracking, ok);
  pthread_mutex_unlock(&reservations_mutex);
  if (!ok && reason)
    *reason = "the kernel refused to track the heap's pages";
  return ok;
}

bool arena_tracking_writes(void) { return load_relaxed(&tracking); }

void arena_note_used(uintptr_t base, size_t pages) {
  uintptr_t end = base + pages * PAGE_SIZE;
  struct reservation *r = load_relaxed(&arena_index[base >> ARENA_SHIFT])->reservation;
  uintptr_t used = load_relaxed(&r->used_end);
  while (end > used && !atomic_compare_exchange_weak(&r->used_end, &used, end)) {
  }
}

// The part of r that may hold written pages.
static size_t used_size(const struct reservation *r) {
  return load_relaxed(&r->used_end) - r->base;
}

bool arena_peek_written(void (*found)(uintptr_t start, size_t bytes, void *context),
                        void *context) {
  if (!load_relaxed(&tracking))
    return false;
  for (struct reservation *r = load_acquire(&reservations); r; r = r->next)
    if (used_size(r) && write_tracking_peek((void *)r->base, used_size(r), found, context) < 0)
      return false;
  return true;
}

bool arena_protect_written_except(const struct arena_range *keep, size_t count) {
  if (!load_relaxed(&tracking))
    return false;
  for (struct reservation *r = load_acquire(&reservations); r; r = r->next) {
    uintptr_t from = r->base, end = r->base + used_size(r);
    for (size_t i = 0; i < count; i++) {
      if (keep[i].start < r->base || keep[i].end > end)
        continue; // another reservation's (kept runs are written pages: below used_end)
      if (keep[i].start > from &&
          write_tracking_protect_written((void *)from, keep[i].start - from) != 0)
        return false;
      from = keep[i].end;
    }
    if (from < end && write_tracking_protect_written((void *)from, end - from) != 0)
      return false;
  }
  return true;
}

bool arena_protect_runs(const struct arena_range *runs, size_t count) {
  if (!load_relaxed(&tracking))
    return false;
  for (size_t i = 0; i < count; i++)
    if (write_tracking_protect((void *)runs[i].start, runs[i].end - runs[i].start) != 0)
      return false;
  return true;
}

bool arena_after_fork_child(void) {
  pthread_mutex_init(&reservations_mutex, NULL);
  if (!load_relaxed(&tracking))
    return true;
  write_tracking_after_fork_child();
  bool ok = write_tracking_available(NULL) && track_all();
  store_relaxed(&tracking, ok);
  return ok;
}

void arena_set_span(uintptr_t page_address, struct span *s) {
  struct arena *a = load_relaxed(&arena_index[page_address >> ARENA_SHIFT]);
  store_relaxed(&a->pages[(page_address & (ARENA_SIZE - 1)) >> PAGE_SHIFT], s);
}

size_t arena_mapped_bytes(void) { return load_relaxed(&mapped_bytes); }
