// mark.c: scanning objects and marking what their words point to.
//
// A word is a pointer candidate if it falls between the lowest and highest heap addresses, its
// arena is Shade's, its page belongs to an in-use span, and the object slot it lands in is
// allocated (below the span's freeindex or alloc bit set, and not explicitly freed). Interior
// pointers resolve to their object by one multiply (span_object_index). The mark is the object's
// OBJECT_MARKED state (span.h), set with a plain read and store: two markers racing for one
// object may both push it and scan it twice, which loses nothing.
//
// What is pushed is a range: a small object whole, a large object in LARGE_SCAN_CHUNK pieces so
// no unit of work is longer than scanning 128 KiB. Atomic objects are marked but never pushed;
// manual objects (reference counted) are neither. Typed objects scan only the words their type's
// bitmap names (repeating every type->size bytes), or call the type's trace function; while the
// program runs (incremental and concurrent marking), objects whose type says
// SHADE_TYPE_SCAN_STOPPED go to the bailout worklist instead, for mark termination.
//
// Parallel marking: the collecting thread plus helpers from a pool, all draining the same shared
// worklist (worklist.c); a helper with spare work shares it when others are idle.
#include "gc/mark.h"

#include <pthread.h>

#include "alloc/arena.h"
#include "alloc/metadata.h"
#include "alloc/black_allocation.h"
#include "gc/cards.h"
#include "gc/phases.h"
#include "gc/threads.h"
#include "gc/verify.h"

unsigned mark_card_line;
_Atomic uint64_t mark_scanned_objects_total;
_Atomic uint64_t mark_gen0_bytes_total;
_Atomic uint64_t mark_explicit_bytes_total;
_Atomic uint64_t mark_scanned_bytes_total;

void marker_begin(struct marker *m, bool checking) {
  worklist_init_local(&m->work);
  m->checking = checking;
  m->wake_keys = false;
  m->marked_bytes = 0;
  m->marked_objects = 0;
  m->scanned_objects = 0;
  m->marked_gen0_bytes = 0;
  m->marked_explicit_bytes = 0;
  m->scanned_bytes = 0;
  m->edges.added = m->edges.marked = 0;
}

void marker_end(struct marker *m) {
  worklist_release_local(&m->work);
  if (!m->checking) {
    atomic_fetch_add_explicit(&mark_scanned_objects_total, m->scanned_objects,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&mark_gen0_bytes_total, m->marked_gen0_bytes, memory_order_relaxed);
    atomic_fetch_add_explicit(&mark_explicit_bytes_total, m->marked_explicit_bytes,
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&mark_scanned_bytes_total, m->scanned_bytes, memory_order_relaxed);
  }
}

static inline __attribute__((always_inline)) bool mark_for_marker(struct marker *m, struct span *s,
                                                                  uint32_t index) {
  if (SHADE_LIKELY(!m->checking))
    return span_mark_object(s, index);
  if (s->check_bits == NULL) // verifier only, single-threaded
    s->check_bits = metadata_alloc(span_bitmap_words(s) * sizeof(uint64_t));
  return atomic_bit_set(s->check_bits, index);
}

// A work item's start has its low bit set when the object is typed (scan_typed): addresses are
// word aligned, so the bit is free, and scanning a conservative object (the common case) then
// needs no look at its span record, a cache miss of its own. Bit 1 (ITEM_OLD) says the object
// will be gen2 after this collection: its scan notes cards (mark_card_line).
#define ITEM_TYPED ((uintptr_t)1)
#define ITEM_OLD ((uintptr_t)2)
#define ITEM_TAGS (ITEM_TYPED | ITEM_OLD)

static inline uintptr_t item_tag(const struct span *s, uint32_t index) {
  uintptr_t tag = s->kind == KIND_TYPED ? ITEM_TYPED : 0;
  unsigned line = mark_card_line;
  if (SHADE_UNLIKELY(line != 0) && span_object_generation(s, index) >= line)
    tag |= ITEM_OLD;
  return tag;
}

// [lo, hi) of a large object, in LARGE_SCAN_CHUNK pieces.
static void push_large_range(struct marker *m, uintptr_t lo, uintptr_t hi, uintptr_t tag) {
  for (uintptr_t chunk = lo; chunk < hi; chunk += LARGE_SCAN_CHUNK) {
    uintptr_t chunk_end = chunk + LARGE_SCAN_CHUNK < hi ? chunk + LARGE_SCAN_CHUNK : hi;
    worklist_push(&m->work, chunk | tag, chunk_end);
  }
}

static inline uintptr_t large_object_end(struct span *s) {
  // (shade_realloc may grow the object in place meanwhile: read the size once, atomically)
  size_t size = __atomic_load_n(&s->large_requested, __ATOMIC_RELAXED);
  return s->base + align_up(size, WORD_SIZE);
}

static SHADE_NOINLINE void push_large_object(struct marker *m, struct span *s, uintptr_t base,
                                             uintptr_t tag) {
  push_large_range(m, base, large_object_end(s), tag);
}

static inline void push_object(struct marker *m, struct span *s, uint32_t index) {
  uintptr_t base = span_object_address(s, index), tag = item_tag(s, index);
  m->scanned_objects++;
  if (SHADE_UNLIKELY(s->state == SPAN_LARGE))
    push_large_object(m, s, base, tag);
  else
    worklist_push(&m->work, base | tag, base + s->object_size);
}

static inline __attribute__((always_inline)) bool mark_slot(struct marker *m, struct span *s,
                                                            uint32_t index) {
  if (!span_object_is_allocated(s, index))
    return false;
  if (black_allocation_pending(s, index) && !m->checking)
    return false;
  if (!mark_for_marker(m, s, index))
    return false;
  if (SHADE_UNLIKELY(m->wake_keys))
    ephemeron_key_marked(s, index);
  uint64_t bytes = s->state == SPAN_LARGE ? s->pages * PAGE_SIZE : s->object_size;
  m->marked_bytes += bytes;
  if (s->kind >= KIND_UNCOLLECTABLE)
    m->marked_explicit_bytes += bytes;
  else if (span_object_generation(s, index) == 0)
    m->marked_gen0_bytes += bytes;
  m->marked_objects++;
  if (s->kind != KIND_ATOMIC)
    push_object(m, s, index);
  return true;
}

// from: where an old object (ITEM_OLD) holds a pointer to object index of s (marked or not by
// this call), which is below the line: its card is noted. Explicit objects need none
// (uncollectable ones are roots of every collection). The verifier checks instead that the card
// is set, where the target is marked (an unmarked one it reports itself).
static SHADE_NOINLINE void note_young_card(struct marker *m, struct span *s, uint32_t index,
                                           uintptr_t from) {
  if (s->kind == KIND_UNCOLLECTABLE || !span_object_is_allocated(s, index))
    return;
  if (SHADE_LIKELY(!m->checking))
    card_note(from);
  else if (span_object_is_marked(s, index) && !card_is_set(from))
    verify_card_clean(from, span_object_address(s, index));
}

static inline __attribute__((always_inline)) void
note_card_if_young(struct marker *m, struct span *s, uint32_t index, uintptr_t from) {
  if (SHADE_UNLIKELY(span_object_generation(s, index) < mark_card_line))
    note_young_card(m, s, index, from);
}

static inline void mark_word_from(struct marker *m, uintptr_t word, uintptr_t from) {
  uint32_t index;
  struct span *s = arena_object_of(word, &index);
  if (s != NULL && s->kind != KIND_MANUAL) {
    mark_slot(m, s, index);
    if (from != 0)
      note_card_if_young(m, s, index, from);
  }
}

static inline void mark_word(struct marker *m, uintptr_t word) { mark_word_from(m, word, 0); }

void mark_object_and_scan(struct marker *m, struct span *s, uint32_t index) {
  mark_slot(m, s, index);
}

void mark_scan_marked_object(struct marker *m, struct span *s, uint32_t index) {
  if (s->kind != KIND_ATOMIC && s->kind != KIND_MANUAL)
    push_object(m, s, index);
}

void mark_scan_marked_range(struct marker *m, struct span *s, uintptr_t lo, uintptr_t hi) {
  if (s->kind == KIND_ATOMIC || s->kind == KIND_MANUAL)
    return;
  const struct shade_type *type = s->large_type;
  if (s->kind == KIND_TYPED && (type == NULL || type->pointer_bitmap == NULL)) {
    push_object(m, s, 0); // a trace function sees the whole object
    return;
  }
  uintptr_t end = large_object_end(s);
  lo = align_up(lo > s->base ? lo : s->base, WORD_SIZE);
  hi = hi < end ? hi : end;
  if (lo < hi) {
    m->scanned_objects++;
    push_large_range(m, lo, hi, item_tag(s, 0));
  }
}

SHADE_NO_SANITIZE void mark_root_range(struct marker *m, uintptr_t lo, uintptr_t hi) {
  lo = align_up(lo, WORD_SIZE);
  for (uintptr_t p = lo; p + WORD_SIZE <= hi; p += WORD_SIZE) {
    uintptr_t word = *(volatile uintptr_t *)p;
    mark_word(m, word);
  }
}

// ---- the edge pipeline ----------------------------------------------------------------------
// Marking an object's children costs three dependent cache misses each: the span record, then its
// allocation bits and mark byte. Handled one after another they leave the CPU waiting on memory,
// so a pointer found by scan_conservative (an edge) goes through three stages, some edges apart,
// with the next stage's memory prefetched in between:
//   1. edge_add: the span comes from the page table (small, cache-resident); its record is
//      prefetched.
//   2. EDGE_HALF edges later, edge_resolve: the record gives the object's index; its allocation
//      bit word and mark byte are prefetched.
//   3. EDGE_PIPE_DEPTH edges after entering, edge_mark: mark_slot, as for any other word.
// Edge k (counting from 0 since marker_begin) is resolved when edge k + EDGE_HALF enters and marked
// when edge k + EDGE_PIPE_DEPTH does, or by edge_flush, which every drain calls before it asks for
// more work or returns. Stage 2 reads the span record again, so it sees the span as it is then.
#define EDGE_HALF (EDGE_PIPE_DEPTH / 2)
#define EDGE_SLOT(k) ((k) % EDGE_PIPE_DEPTH)
_Static_assert((EDGE_PIPE_DEPTH & (EDGE_PIPE_DEPTH - 1)) == 0, "a power of two (counters wrap)");

static inline void edge_resolve(struct edge_pipe *p, unsigned k) {
  uint32_t index;
  struct span *s = arena_object_in_span(p->span[k], p->word[k], &index);
  if (s != NULL) {
    __builtin_prefetch((const void *)&s->alloc_bits[index / 64]);
    span_prefetch_object_state(s, index);
    p->index[k] = index;
  }
  p->span[k] = s;
}

static inline __attribute__((always_inline)) void edge_mark(struct marker *m, unsigned k) {
  struct span *s = m->edges.span[k];
  if (s != NULL && s->kind != KIND_MANUAL) {
    mark_slot(m, s, m->edges.index[k]);
    if (SHADE_UNLIKELY(m->edges.from[k] != 0))
      note_card_if_young(m, s, m->edges.index[k], m->edges.from[k]);
  }
}

static inline __attribute__((always_inline)) void edge_add(struct marker *m, uintptr_t word,
                                                        struct span *s, uintptr_t from) {
  struct edge_pipe *p = &m->edges;
  if (p->added - p->marked == EDGE_PIPE_DEPTH) { // the oldest edge leaves (resolved long ago)
    edge_mark(m, EDGE_SLOT(p->marked));
    p->marked++;
  }
  unsigned k = EDGE_SLOT(p->added);
  p->word[k] = word;
  p->from[k] = from;
  p->span[k] = s;
  __builtin_prefetch(s);
  p->added++;
  if (p->added - p->marked > EDGE_HALF)
    edge_resolve(p, EDGE_SLOT(p->added - 1 - EDGE_HALF));
}

static void edge_flush(struct marker *m) {
  struct edge_pipe *p = &m->edges;
  for (unsigned j = p->marked; j != p->added; j++) {
    if (j + EDGE_HALF >= p->added) // entered too recently to have been resolved
      edge_resolve(p, EDGE_SLOT(j));
    edge_mark(m, EDGE_SLOT(j));
  }
  p->marked = p->added;
}

void mark_pointers(struct marker *m, const uintptr_t *words, size_t count) {
  uintptr_t low = heap_lowest_address(), high = heap_highest_address();
  for (size_t i = 0; i < count; i++) {
    uintptr_t word = words[i];
    if (word - low >= high - low)
      continue;
    struct span *s = arena_span_of_bounded(word);
    if (s != NULL)
      edge_add(m, word, s, 0);
  }
  edge_flush(m);
}

static inline bool edges_pending(const struct marker *m) {
  return m->edges.added != m->edges.marked;
}

// old: the range is in an object that will be gen2 (ITEM_OLD): each edge carries its address.
SHADE_NO_SANITIZE static inline __attribute__((always_inline)) void
scan_words(struct marker *m, uintptr_t start, uintptr_t end, bool old) {
  uintptr_t low = heap_lowest_address(), high = heap_highest_address();
  for (uintptr_t p = start; p < end; p += WORD_SIZE) {
    uintptr_t word = *(uintptr_t *)p;
    if (word - low >= high - low)
      continue;
    struct span *s = arena_span_of_bounded(word);
    if (s != NULL)
      edge_add(m, word, s, old ? p : 0);
  }
}

SHADE_NO_SANITIZE static void scan_conservative(struct marker *m, uintptr_t start, uintptr_t end) {
  scan_words(m, start, end, false);
}

SHADE_NO_SANITIZE static SHADE_NOINLINE void scan_conservative_old(struct marker *m,
                                                                   uintptr_t start, uintptr_t end) {
  scan_words(m, start, end, true);
}

struct trace_visit {
  struct marker *m;
  uintptr_t from; // an old object's base (its card is the one noted), or 0
};

static void visit_from_trace(void *pointer, void *context) {
  struct trace_visit *visit = context;
  mark_word_from(visit->m, (uintptr_t)pointer, visit->from);
}

SHADE_NO_SANITIZE static void scan_typed(struct marker *m, struct span *s, uintptr_t start,
                                         uintptr_t end, bool old) {
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
  if (SHADE_UNLIKELY(type->flags & SHADE_TYPE_SCAN_STOPPED) &&
      phase_now() == PHASE_MARK_CONCURRENT) {
    worklist_bailout_push((struct work_item){start | ITEM_TYPED, end}); // mark termination's
    return;
  }
  if (type->pointer_bitmap == NULL) {
    struct trace_visit visit = {m, old ? base : 0};
    if (start == base && type->trace)
      type->trace((void *)base, object_size, visit_from_trace, &visit);
    return;
  }
  size_t element_words = type->size / WORD_SIZE;
  if (element_words == 0)
    return;
  size_t word_index = (start - base) / WORD_SIZE;
  size_t in_element = word_index % element_words;
  for (uintptr_t p = start; p + WORD_SIZE <= end; p += WORD_SIZE) {
    if ((type->pointer_bitmap[in_element / 64] >> (in_element % 64)) & 1)
      mark_word_from(m, *(uintptr_t *)p, old ? p : 0);
    if (++in_element == element_words)
      in_element = 0;
  }
}

static void scan_range(struct marker *m, struct work_item item) {
  uintptr_t start = item.start & ~ITEM_TAGS;
  m->scanned_bytes += item.end - start;
  if (item.start & ITEM_TYPED)
    scan_typed(m, arena_span_of(start), start, item.end, (item.start & ITEM_OLD) != 0);
  else if (SHADE_UNLIKELY(item.start & ITEM_OLD))
    scan_conservative_old(m, start, item.end);
  else
    scan_conservative(m, start, item.end);
}

// Objects wait in a small FIFO between leaving the worklist and being scanned, their first
// and last cache lines prefetched on the way in: the scan of one object overlaps the memory
// latency of the next few (most of the marking time is cache misses on object contents).
#define PREFETCH_DEPTH 8

static inline void prefetch_item(struct work_item item) {
  __builtin_prefetch((const void *)item.start);
  if (item.end - item.start <= 256) // (a small object: it may straddle two lines)
    __builtin_prefetch((const void *)(item.end - 1));
}

struct scan_ring {
  struct work_item items[PREFETCH_DEPTH];
  unsigned head, count;
};

// Tops the ring up from the marker's local work, prefetching; false if it is still empty.
static inline bool ring_fill(struct marker *m, struct scan_ring *r) {
  struct work_item item;
  while (r->count < PREFETCH_DEPTH && worklist_pop_local(&m->work, &item)) {
    prefetch_item(item);
    r->items[(r->head + r->count++) % PREFETCH_DEPTH] = item;
  }
  return r->count > 0;
}

static inline struct work_item ring_take(struct scan_ring *r) {
  struct work_item item = r->items[r->head];
  r->head = (r->head + 1) % PREFETCH_DEPTH;
  r->count--;
  return item;
}

void mark_drain(struct marker *m) {
  struct scan_ring ring = {.head = 0, .count = 0};
  for (;;) {
    if (!ring_fill(m, &ring)) {
      if (edges_pending(m)) {
        edge_flush(m);
        continue;
      }
      struct work_item item;
      if (!worklist_pop(&m->work, &item)) // waits for shared work or the end of marking
        return;
      ring.items[ring.head] = item;
      ring.count = 1;
    }
    scan_range(m, ring_take(&ring));
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
  struct scan_ring ring = {.head = 0, .count = 0};
  bool more = true;
  for (;;) {
    if (!ring_fill(m, &ring)) {
      if (edges_pending(m)) {
        edge_flush(m);
        continue;
      }
      if (worklist_take_shared(&m->work, stop == NULL)) // (an assist: never waits for the lock)
        continue;
      more = false;
      break;
    }
    scan_range(m, ring_take(&ring));
    if (m->scanned_bytes >= limit)
      break;
    if (stop && (++polls & 31) == 0 && *stop)
      break;
  }
  edge_flush(m);
  while (ring.count > 0) { // back to the local list
    struct work_item item = ring_take(&ring);
    worklist_push(&m->work, item.start, item.end);
  }
  return more;
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
// mark_pool_run's job (NULL: the round is a drain); shares are claimed one at a time
static void (*pool_job)(unsigned share, unsigned shares, void *context);
static void *pool_job_context;
static unsigned pool_job_shares;
static _Atomic unsigned pool_job_next;

static void run_job_shares(void) {
  for (unsigned share; (share = atomic_fetch_add(&pool_job_next, 1)) < pool_job_shares;)
    pool_job(share, pool_job_shares, pool_job_context);
}

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
    bool job = pool_job != NULL;
    pthread_mutex_unlock(&pool_mutex);
    struct marker m;
    if (job) {
      run_job_shares();
    } else {
      marker_begin(&m, false);
      mark_drain(&m);
      marker_end(&m);
    }
    pthread_mutex_lock(&pool_mutex);
    if (!job)
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

void mark_pool_run(void (*job)(unsigned share, unsigned shares, void *context), void *context,
                   unsigned helpers, unsigned shares) {
  pthread_mutex_lock(&pool_mutex);
  if (helpers > pool_size)
    helpers = pool_size;
  pool_job = job;
  pool_job_context = context;
  pool_job_shares = shares;
  store_relaxed(&pool_job_next, 0);
  pool_wanted = helpers;
  pool_joined = pool_finished = 0;
  pool_generation++;
  pthread_cond_broadcast(&pool_wake);
  pthread_mutex_unlock(&pool_mutex);

  run_job_shares();

  pthread_mutex_lock(&pool_mutex);
  while (pool_finished < pool_wanted)
    pthread_cond_wait(&pool_done, &pool_mutex);
  pool_job = NULL;
  pthread_mutex_unlock(&pool_mutex);
}

void mark_pool_after_fork_child(void) {
  pthread_mutex_init(&pool_mutex, NULL);
  pthread_cond_init(&pool_wake, NULL);
  pthread_cond_init(&pool_done, NULL);
  pool_size = 0; // the helpers did not survive the fork
  pool_wanted = pool_joined = pool_finished = 0;
}
