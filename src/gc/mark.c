// mark.c: scanning objects and marking what their words point to.
//
// A word is a pointer candidate if it falls between the lowest and highest heap addresses, its
// arena is Shade's, its page belongs to an in-use span, and the object slot it lands in is
// allocated (below the span's freeindex or alloc bit set, and not explicitly freed). Interior
// pointers resolve to their object by one multiply (span_object_index). The mark bit is set with
// an atomic OR, so several markers may race for an object and exactly one pushes it.
//
// What is pushed is a range: a small object whole, a large object in LARGE_SCAN_CHUNK pieces so
// no unit of work is longer than scanning 128 KiB. Atomic objects are marked but never pushed;
// manual objects (reference counted) are neither. Typed objects scan only the words their type's
// bitmap names (repeating every type->size bytes), or call the type's trace function.
//
// Parallel marking: the collecting thread plus helpers from a pool, all draining the same shared
// worklist (worklist.c); a helper with spare work shares it when others are idle.
#include "gc/mark.h"

#include <pthread.h>

#include "alloc/arena.h"
#include "alloc/metadata.h"
#include "gc/black_allocation.h"
#include "gc/threads.h"

void marker_begin(struct marker *m, bool checking) {
  worklist_init_local(&m->work);
  m->checking = checking;
  m->marked_bytes = 0;
  m->marked_objects = 0;
  m->scanned_bytes = 0;
}

void marker_end(struct marker *m) { worklist_release_local(&m->work); }

static inline __attribute__((always_inline)) bool mark_for_marker(struct marker *m, struct span *s,
                                                                  uint32_t index) {
  if (SHADE_LIKELY(!m->checking))
    return span_mark_object(s, index);
  if (s->check_bits == NULL) // verifier only, single-threaded
    s->check_bits = metadata_alloc(span_bitmap_words(s) * sizeof(uint64_t));
  return atomic_bit_set(s->check_bits, index);
}

static SHADE_NOINLINE void push_large_object(struct marker *m, struct span *s, uintptr_t base) {
  // (shade_realloc may grow the object in place meanwhile: read the size once, atomically)
  size_t size = __atomic_load_n(&s->large_requested, __ATOMIC_RELAXED);
  uintptr_t end = base + align_up(size, WORD_SIZE);
  for (uintptr_t chunk = base; chunk < end; chunk += LARGE_SCAN_CHUNK) {
    uintptr_t chunk_end = chunk + LARGE_SCAN_CHUNK < end ? chunk + LARGE_SCAN_CHUNK : end;
    worklist_push(&m->work, chunk, chunk_end);
  }
}

static inline void push_object(struct marker *m, struct span *s, uintptr_t base) {
  if (SHADE_UNLIKELY(s->state == SPAN_LARGE))
    push_large_object(m, s, base);
  else
    worklist_push(&m->work, base, base + s->object_size);
}

static inline __attribute__((always_inline)) bool mark_slot(struct marker *m, struct span *s,
                                                            uint32_t index) {
  if (!span_object_is_allocated(s, index))
    return false;
  if (black_allocation_pending(s, index) && !m->checking)
    return false;
  if (!mark_for_marker(m, s, index))
    return false;
  m->marked_bytes += s->state == SPAN_LARGE ? s->pages * PAGE_SIZE : s->object_size;
  m->marked_objects++;
  if (s->kind != KIND_ATOMIC)
    push_object(m, s, span_object_address(s, index));
  return true;
}

static inline void mark_word(struct marker *m, uintptr_t word) {
  uint32_t index;
  struct span *s = arena_object_of(word, &index);
  if (s != NULL && s->kind != KIND_MANUAL)
    mark_slot(m, s, index);
}

void mark_pointer(struct marker *m, uintptr_t word) { mark_word(m, word); }

void mark_object_and_scan(struct marker *m, struct span *s, uint32_t index) {
  mark_slot(m, s, index);
}

SHADE_NO_SANITIZE void mark_root_range(struct marker *m, uintptr_t lo, uintptr_t hi) {
  lo = align_up(lo, WORD_SIZE);
  for (uintptr_t p = lo; p + WORD_SIZE <= hi; p += WORD_SIZE) {
    uintptr_t word = *(volatile uintptr_t *)p;
    mark_word(m, word);
  }
}

SHADE_NO_SANITIZE static void scan_conservative(struct marker *m, uintptr_t start, uintptr_t end) {
  uintptr_t low = heap_lowest_address(), high = heap_highest_address();
  for (uintptr_t p = start; p < end; p += WORD_SIZE) {
    uintptr_t word = *(uintptr_t *)p;
    if (word - low >= high - low)
      continue;
    uint32_t index;
    struct span *s = arena_object_in_span(arena_span_of_bounded(word), word, &index);
    if (s != NULL && s->kind != KIND_MANUAL)
      mark_slot(m, s, index);
  }
}

static void visit_from_trace(void *pointer, void *context) {
  mark_word(context, (uintptr_t)pointer);
}

SHADE_NO_SANITIZE static void scan_typed(struct marker *m, struct span *s, uintptr_t start,
                                         uintptr_t end) {
  uintptr_t base;
  const struct shade_type *type;
  size_t object_size;
  if (s->state == SPAN_LARGE) {
    base = s->base;
    type = s->large_type;
    object_size = __atomic_load_n(&s->large_requested, __ATOMIC_RELAXED);
  } else {
    uint32_t index = span_object_index(s, start);
    base = span_object_address(s, index);
    type = s->types[index];
    object_size = s->object_size;
  }
  if (type == NULL)
    return;
  if (type->pointer_bitmap == NULL) {
    if (start == base && type->trace)
      type->trace((void *)base, object_size, visit_from_trace, m);
    return;
  }
  size_t element_words = type->size / WORD_SIZE;
  if (element_words == 0)
    return;
  size_t word_index = (start - base) / WORD_SIZE;
  size_t in_element = word_index % element_words;
  for (uintptr_t p = start; p + WORD_SIZE <= end; p += WORD_SIZE) {
    if ((type->pointer_bitmap[in_element / 64] >> (in_element % 64)) & 1)
      mark_word(m, *(uintptr_t *)p);
    if (++in_element == element_words)
      in_element = 0;
  }
}

static void scan_range(struct marker *m, struct work_item item) {
  struct span *s = arena_span_of(item.start);
  m->scanned_bytes += item.end - item.start;
  if (s->kind == KIND_TYPED)
    scan_typed(m, s, item.start, item.end);
  else
    scan_conservative(m, item.start, item.end);
}

// Objects wait in a small FIFO between leaving the worklist and being scanned, their first
// cache line prefetched on the way in: the scan of one object overlaps the memory latency of the
// next few (most of the marking time is cache misses on object contents).
#define PREFETCH_DEPTH 8

void mark_drain(struct marker *m) {
  struct work_item ring[PREFETCH_DEPTH];
  unsigned head = 0, count = 0;
  for (;;) {
    struct work_item item;
    while (count < PREFETCH_DEPTH && worklist_pop_local(&m->work, &item)) {
      __builtin_prefetch((const void *)item.start);
      ring[(head + count++) % PREFETCH_DEPTH] = item;
    }
    if (count == 0) {
      if (!worklist_pop(&m->work, &item)) // waits for shared work or the end of marking
        return;
      ring[head] = item;
      count = 1;
    }
    item = ring[head];
    head = (head + 1) % PREFETCH_DEPTH;
    count--;
    scan_range(m, item);
    if (SHADE_UNLIKELY(++m->work.pops_since_share >= 64)) {
      m->work.pops_since_share = 0;
      if (worklist_idle_workers() > 0)
        worklist_share(&m->work);
    }
  }
}

bool mark_drain_budget(struct marker *m, uint64_t budget, volatile sig_atomic_t *stop) {
  uint64_t limit = m->scanned_bytes + budget;
  unsigned polls = 0;
  for (;;) {
    struct work_item item;
    if (!worklist_pop_local(&m->work, &item)) {
      if (!worklist_take_shared(&m->work))
        return false;
      continue;
    }
    scan_range(m, item);
    if (m->scanned_bytes >= limit)
      return true;
    if (stop && (++polls & 31) == 0 && *stop)
      return true;
  }
}

// ---- the helper pool ------------------------------------------------------------------------

static pthread_mutex_t pool_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_wake = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_done = PTHREAD_COND_INITIALIZER;
static unsigned pool_size;      // helper threads started
static unsigned pool_wanted;    // helpers taking part in the current drain
static unsigned pool_joined, pool_finished;
static uint64_t pool_generation;
static uint64_t pool_marked_bytes;

static void *helper_main(void *unused) {
  (void)unused;
  uint64_t seen = 0;
  pthread_mutex_lock(&pool_mutex);
  for (;;) {
    while (pool_generation == seen || pool_joined >= pool_wanted) {
      if (pool_generation != seen && pool_joined >= pool_wanted)
        seen = pool_generation; // not needed this time
      pthread_cond_wait(&pool_wake, &pool_mutex);
    }
    seen = pool_generation;
    pool_joined++;
    pthread_mutex_unlock(&pool_mutex);
    struct marker m;
    marker_begin(&m, false);
    mark_drain(&m);
    marker_end(&m);
    pthread_mutex_lock(&pool_mutex);
    pool_marked_bytes += m.marked_bytes;
    if (++pool_finished == pool_wanted)
      pthread_cond_signal(&pool_done);
  }
  return NULL;
}

static void pool_grow(unsigned helpers) {
  while (pool_size < helpers && threads_start_internal(helper_main, "shade-marker") == 0)
    pool_size++;
}

void mark_pool_prepare(unsigned helpers) {
  pthread_mutex_lock(&pool_mutex);
  pool_grow(helpers);
  pthread_mutex_unlock(&pool_mutex);
}

void mark_drain_parallel(struct marker *m, unsigned helpers, uint64_t *marked_bytes) {
  pthread_mutex_lock(&pool_mutex);
  if (helpers > pool_size)
    helpers = pool_size;
  worklist_begin(helpers + 1);
  pool_wanted = helpers;
  pool_joined = pool_finished = 0;
  pool_marked_bytes = 0;
  pool_generation++;
  pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_mutex);

  worklist_share(&m->work); // give the helpers something to start on
  mark_drain(m);

  pthread_mutex_lock(&pool_mutex);
  while (pool_finished < pool_wanted)
    pthread_cond_wait(&pool_done, &pool_mutex);
  *marked_bytes = m->marked_bytes + pool_marked_bytes;
  pthread_mutex_unlock(&pool_mutex);
}

void mark_pool_after_fork_child(void) {
  pthread_mutex_init(&pool_mutex, NULL);
  pthread_cond_init(&pool_wake, NULL);
  pthread_cond_init(&pool_done, NULL);
  pool_size = 0; // the helpers did not survive the fork
  pool_wanted = pool_joined = pool_finished = 0;
}
