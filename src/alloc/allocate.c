// allocate.c: the allocator's slower steps (allocate.h): a slot past the cached bitmap word, a
// new span for the cache, a large object. None of them collects; each returns NULL when it cannot
// deliver, and the collector's slow path decides what happens next.
//
// Byte accounting (heap_account.h) is per span, not per object: taking a span adds the bytes of
// its free slots, a cache giving back a span with slots left subtracts them.
#include "alloc/allocate.h"

#include <sys/sysinfo.h>

#include "alloc/arena.h"
#include "alloc/black_allocation.h"
#include "alloc/heap_account.h"
#include "alloc/large.h"
#include "alloc/pageheap.h"
#include "alloc/sweep.h"

struct heap_account heap_account;
static size_t born_old_size; // set once at start-up

void *allocate_zero_and_leave(struct thread_cache *c, void *p, size_t size) {
  memset(p, 0, size);
  critical_leave(c);
  return p;
}

void *allocate_leave_parking(struct thread_cache *c, void *p) {
  thread_cache_stop_handler(c);
  return p;
}

void allocate_set_born_old_size(size_t bytes) { born_old_size = bytes; }

// MAP_NORESERVE would otherwise hand out address space the machine could never back.
size_t allocate_max_object_size(void) {
  static _Atomic size_t limit;
  size_t known = load_relaxed(&limit);
  if (known == 0) {
    struct sysinfo info;
    known = (size_t)1 << 46;
    if (sysinfo(&info) == 0) {
      size_t machine = ((size_t)info.totalram + (size_t)info.totalswap) * info.mem_unit;
      if (machine < known)
        known = machine;
    }
    store_relaxed(&limit, known);
  }
  return known;
}

// Inside the critical section: zeroing and the type (see allocate.h).
static void *finish_slot(struct span *s, void *p, const struct shade_type *type) {
  if (p != NULL && s->kind != KIND_ATOMIC && s->needs_zeroing)
    zero_object(p, s->object_size);
  if (p != NULL && s->kind == KIND_TYPED)
    s->types[span_object_index(s, (uintptr_t)p)] = type;
  return p;
}

static void *take_slot(struct span *s) {
  void *p = span_take_fast(s);
  if (p == NULL && s != &empty_span)
    p = span_take_slow(s);
  return p;
}

void *allocate_small_from_cache(struct thread_cache *c, unsigned span_class,
                                const struct shade_type *type) {
  critical_enter(c);
  struct span *s = c->spans[span_class];
  void *p = finish_slot(s, take_slot(s), type);
  critical_leave(c);
  return p;
}

void *allocate_small_refill(struct thread_cache *c, unsigned span_class,
                            const struct shade_type *type, uint64_t *bytes) {
  critical_enter(c);
  void *p = NULL;
  *bytes = 0;
  // A span from the partial list may turn out to have no free slot after all (its freeindex was
  // short of the end, its alloc bits were not): it goes back as full, and the next one is tried.
  while (p == NULL) {
    thread_cache_release_span(c, span_class);
    struct span *s = central_acquire(span_class);
    if (s == NULL)
      break; // the OS refused memory
    black_allocation_span_acquired(s);
    c->spans[span_class] = s;
    uint64_t taken = (uint64_t)span_count_free(s) * s->object_size;
    heap_account_taken(taken);
    *bytes += taken;
    p = finish_slot(s, take_slot(s), type);
  }
  critical_leave(c);
  return p;
}

// The span is zeroed before it is published, outside any critical section (a large memset must
// not hold up a stop): until span_publish it is SPAN_RESERVED, on no list, and no collector looks
// at it, so no marking, sweep or verification ever sees a large object holding a dead object's
// words. (Published first and zeroed after, it could be old, born so or marked by a young
// collection, with stale words on pages not yet written: the next young collection would
// rightly not scan them, the verifier would, and follow stale pointers into young objects.)
// Until the object's address is in a register (where a collection sees it), the new span must
// not be swept: everything from publishing it up to reading its base happens inside one critical
// section, so it is black if and only if the marking under way when it appears is.
void *allocate_large(struct thread_cache *c, size_t size, size_t padding, enum object_kind kind,
                     const struct shade_type *type) {
  size_t pages = (size + PAGE_SIZE - 1) / PAGE_SIZE;
  critical_enter(c);
  struct span *s = pageheap_alloc(pages);
  critical_leave(c);
  if (s == NULL)
    return NULL;
  if (kind != KIND_ATOMIC && s->needs_zeroing)
    memset((void *)s->base, 0, align_up(size, WORD_SIZE));
  critical_enter(c);
  s->kind = (uint8_t)kind;
  s->size_class = 0;
  s->object_count = 1;
  s->object_size = 0;
  s->large_requested = size;
  s->large_type = type;
  span_bitmaps_allocate(s);
  // (Uncollectable and manual objects are never born old: they have no age, and an uncollectable
  // one born marked would not be scanned as the root it is by the next young collection.)
  if (born_old_size != 0 && size - padding >= born_old_size && kind != KIND_UNCOLLECTABLE &&
      kind != KIND_MANUAL)
    span_object_born_old(s, 0);
  else
    arena_note_young(s->base, s->pages);
  store_relaxed(&s->freeindex, 1); // the one object is allocated
  s->alloc_cache = 0;
  // Allocated while a marking runs: black (below), and black_from records that marking's epoch,
  // so that its sweep keeps the object however the marking ends; allocated after, it is of the
  // next sweep generation, which that sweep keeps too (black allocation ends after the
  // generation moves: read in the other order, so that "not black" implies the new generation).
  bool black = load_acquire(&allocate_black);
  uint64_t epoch = load_relaxed(&black_allocation_epoch);
  store_release(&s->sweepgen, load_acquire(&heap_sweepgen));
  store_relaxed(&s->black_from, black ? black_allocation_large_tag(epoch) : BLACK_NONE);
  span_publish(s, SPAN_LARGE);
  large_add(s);
  if (black)
    black_allocation_large(s);
  void *base = (void *)s->base;
  critical_leave(c);
  heap_account_taken(pages * PAGE_SIZE);
  return base;
}
