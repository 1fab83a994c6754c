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
//
// Speed: the drain loops scan conservative objects inline, through a cursor of locals (counters
// and the edge pipeline) that is added into the marker when a call returns; popped objects and
// found pointers wait in short FIFOs with their memory prefetched (below).
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
unsigned mark_young_filter;
_Atomic uint64_t mark_scanned_objects_total;
_Atomic uint64_t mark_gen0_bytes_total;
_Atomic uint64_t mark_explicit_bytes_total;
_Atomic uint64_t mark_scanned_bytes_total;
_Atomic uint64_t mark_noscan_bytes_total;

void marker_begin(struct marker *m, bool checking) {
  worklist_init_local(&m->work);
  m->checking = checking;
  m->wake_keys = false;
  m->marked_bytes = 0;
  m->marked_objects = 0;
  m->scanned_objects = 0;
  m->marked_gen0_bytes = 0;
  m->marked_explicit_bytes = 0;
  m->marked_noscan_bytes = 0;
  m->scanned_bytes = 0;
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
    atomic_fetch_add_explicit(&mark_noscan_bytes_total, m->marked_noscan_bytes,
                              memory_order_relaxed);
  }
}

// ---- the cursor -----------------------------------------------------------------------------
// Every function below that marks works through a cursor: a local copy of what the hot loops
// update (counters, the edge pipeline), opened from the marker on entry and closed into it before
// returning, so the marker's fields are up to date between calls. Held in locals the compiler
// keeps them in registers: the mark-byte stores are char stores, which may alias any memory the
// compiler cannot prove private, so fields reached through the marker would be reloaded and
// stored again after every mark. No cursor's address is ever given to a function that is not
// inlined, outside sanitizer builds (scan_typed_range opens its own for a typed object).

// Pointers found by scanning an object wait in the pipeline a little before they are marked, so
// that the memory they lead to (the span record, then the allocation and mark bits) is
// prefetched while other pointers are handled (below).
#define EDGE_PIPE_DEPTH 16
struct edge_pipe {
  uintptr_t word[EDGE_PIPE_DEPTH];
  uintptr_t from[EDGE_PIPE_DEPTH]; // where the word was read, if it was read in an old object
                                   // (cards, below); else 0
  struct span *span[EDGE_PIPE_DEPTH];
  uint32_t index[EDGE_PIPE_DEPTH];
  unsigned added, marked; // counts of edges that entered and left (added - marked in flight)
};

struct mark_cursor {
  struct marker *m;
  bool checking, wake_keys;
  uint8_t young_plain, young_old; // mark_young_filter's young map + 1 for words of objects below
                                  // and above the card line (0: no filter)
  uintptr_t low, high; // the heap's bounds when the cursor opened. An arena mapped since holds
                       // only objects allocated during this marking: black, or (concurrent
                       // mode, a thread whose stack is not scanned yet) white, and then every
                       // pointer to them is shaded by the barrier's insertion half or found by
                       // that stack scan, both of which read the bounds afresh. So a word of a
                       // scanned object that points there needs no marking from this cursor.
  uint64_t marked_bytes, marked_objects, scanned_objects, gen0_bytes, explicit_bytes,
      noscan_bytes, scanned_bytes;
  struct edge_pipe edges;
};

static inline __attribute__((always_inline)) void cursor_open(struct mark_cursor *c,
                                                               struct marker *m) {
  c->m = m;
  c->checking = m->checking;
  c->wake_keys = m->wake_keys;
  unsigned filter = m->checking ? 0 : mark_young_filter;
  c->young_plain = filter == 1 ? YOUNG_SINCE_LAST + 1 : filter == 2 ? YOUNG_SINCE_GEN1 + 1 : 0;
  c->young_old = filter != 0 ? YOUNG_SINCE_GEN1 + 1 : 0;
  c->low = heap_lowest_address();
  c->high = heap_highest_address();
  c->marked_bytes = c->marked_objects = c->scanned_objects = 0;
  c->gen0_bytes = c->explicit_bytes = c->noscan_bytes = c->scanned_bytes = 0;
  c->edges.added = c->edges.marked = 0;
}

static inline __attribute__((always_inline)) void edge_flush(struct mark_cursor *c);

static inline __attribute__((always_inline)) void cursor_close(struct mark_cursor *c) {
  edge_flush(c);
  struct marker *m = c->m;
  m->marked_bytes += c->marked_bytes;
  m->marked_objects += c->marked_objects;
  m->scanned_objects += c->scanned_objects;
  m->marked_gen0_bytes += c->gen0_bytes;
  m->marked_explicit_bytes += c->explicit_bytes;
  m->marked_noscan_bytes += c->noscan_bytes;
  m->scanned_bytes += c->scanned_bytes;
}

// The verifier's marker marks in check_bits, leaving the collector's marks as they are; true if
// this call marked the object.
static bool check_mark(struct span *s, uint32_t index) {
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

static inline void push_object(struct mark_cursor *c, struct span *s, uint32_t index) {
  uintptr_t base = span_object_address(s, index), tag = item_tag(s, index);
  c->scanned_objects++;
  if (SHADE_UNLIKELY(s->state == SPAN_LARGE))
    push_large_object(c->m, s, base, tag);
  else
    worklist_push(&c->m->work, base | tag, base + s->object_size);
}

// The accounting and push of an object mark_slot has just marked, for every span but a small
// conservative one (mark_slot does those inline). state: its state byte before the mark.
static inline void marked_other(struct mark_cursor *c, struct span *s, uint32_t index,
                                uint8_t state) {
  uint64_t bytes = s->state == SPAN_LARGE ? s->pages * PAGE_SIZE : s->object_size;
  c->marked_bytes += bytes;
  if (s->kind >= KIND_UNCOLLECTABLE)
    c->explicit_bytes += bytes;
  else if ((state & OBJECT_AGE_MASK) == 0)
    c->gen0_bytes += bytes;
  c->marked_objects++;
  if (s->kind != KIND_ATOMIC)
    push_object(c, s, index);
  else
    c->noscan_bytes += bytes;
}

// The mark byte is read first: a marked slot needs nothing, allocated or not (a free slot's
// byte is never marked but by a stale read, and skipping it then is right too).
static inline __attribute__((always_inline)) bool mark_slot(struct mark_cursor *c, struct span *s,
                                                            uint32_t index) {
  uint8_t state = load_relaxed(&s->object_states[index]); // before this mark (its age counts)
  if (SHADE_LIKELY(!c->checking) && (state & OBJECT_MARKED))
    return false;
  if (!span_object_is_allocated(s, index))
    return false;
  if (SHADE_LIKELY(!c->checking)) {
    if (black_allocation_pending(s, index))
      return false;
    store_relaxed(&s->object_states[index], (uint8_t)(state | OBJECT_MARKED));
  } else if (!check_mark(s, index)) {
    return false;
  }
  if (SHADE_UNLIKELY(c->wake_keys))
    ephemeron_key_marked(s, index);
  uint32_t size = s->object_size; // 0 for a large span
  if (SHADE_UNLIKELY(s->kind != KIND_CONSERVATIVE || size == 0)) {
    marked_other(c, s, index, state);
    return true;
  }
  // A small conservative object: nearly every mark.
  c->marked_bytes += size;
  if ((state & OBJECT_AGE_MASK) == 0)
    c->gen0_bytes += size;
  c->marked_objects++;
  c->scanned_objects++;
  uintptr_t base = s->base + (uintptr_t)index * size;
  unsigned line = mark_card_line;
  uintptr_t tag = SHADE_UNLIKELY(line != 0) && span_object_generation(s, index) >= line
                      ? ITEM_OLD : 0;
  worklist_push(&c->m->work, base | tag, base + size);
  return true;
}

// from: where an old object (ITEM_OLD) holds a pointer to object index of s (marked or not by
// this call), which is below the line: its card is noted. Explicit objects need none
// (uncollectable ones are roots of every collection). The verifier checks instead that the card
// is set, where the target is marked (an unmarked one it reports itself).
static SHADE_NOINLINE void note_young_card(bool checking, struct span *s, uint32_t index,
                                           uintptr_t from) {
  if (s->kind == KIND_UNCOLLECTABLE || !span_object_is_allocated(s, index))
    return;
  if (SHADE_LIKELY(!checking))
    card_note(from);
  else if (span_object_is_marked(s, index) && !card_is_set(from))
    verify_card_clean(from, span_object_address(s, index));
}

static inline __attribute__((always_inline)) void
note_card_if_young(const struct mark_cursor *c, struct span *s, uint32_t index, uintptr_t from) {
  if (SHADE_UNLIKELY(span_object_generation(s, index) < mark_card_line))
    note_young_card(c->checking, s, index, from);
}

static inline void mark_word_from(struct mark_cursor *c, uintptr_t word, uintptr_t from) {
  uint32_t index;
  struct span *s = arena_object_of(word, &index);
  if (s != NULL && s->kind != KIND_MANUAL) {
    mark_slot(c, s, index);
    if (from != 0)
      note_card_if_young(c, s, index, from);
  }
}

void mark_object_and_scan(struct marker *m, struct span *s, uint32_t index) {
  struct mark_cursor c;
  cursor_open(&c, m);
  mark_slot(&c, s, index);
  cursor_close(&c);
}

void mark_scan_marked_object(struct marker *m, struct span *s, uint32_t index) {
  if (s->kind == KIND_ATOMIC || s->kind == KIND_MANUAL)
    return;
  struct mark_cursor c;
  cursor_open(&c, m);
  push_object(&c, s, index);
  cursor_close(&c);
}

void mark_scan_marked_range(struct marker *m, struct span *s, uintptr_t lo, uintptr_t hi) {
  if (s->kind == KIND_ATOMIC || s->kind == KIND_MANUAL)
    return;
  const struct shade_type *type = s->large_type;
  if (s->kind == KIND_TYPED && (type == NULL || type->pointer_bitmap == NULL)) {
    mark_scan_marked_object(m, s, 0); // a trace function sees the whole object
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
  struct mark_cursor c;
  cursor_open(&c, m);
  lo = align_up(lo, WORD_SIZE);
  for (uintptr_t p = lo; p + WORD_SIZE <= hi; p += WORD_SIZE) {
    uintptr_t word = *(volatile uintptr_t *)p;
    mark_word_from(&c, word, 0);
  }
  cursor_close(&c);
}

// ---- the edge pipeline ----------------------------------------------------------------------
// Marking an object's children costs three dependent cache misses each: the span record, then its
// allocation bits and mark byte. Handled one after another they leave the CPU waiting on memory,
// so a pointer found by scan_words (an edge) goes through three stages, some edges apart, with
// the next stage's memory prefetched in between:
//   1. edge_add: the span comes from the page table (small, cache-resident); its record is
//      prefetched.
//   2. EDGE_HALF edges later, edge_resolve: the record gives the object's index; its allocation
//      bit word and mark byte are prefetched.
//   3. EDGE_PIPE_DEPTH edges after entering, edge_mark: mark_slot, as for any other word.
// Edge k (counting from 0 since the cursor opened) is resolved when edge k + EDGE_HALF enters and
// marked when edge k + EDGE_PIPE_DEPTH does, or by edge_flush, which every drain calls before it
// asks for more work, and cursor_close calls. Stage 2 reads the span record again, so it sees the
// span as it is then.
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

static inline __attribute__((always_inline)) void edge_mark(struct mark_cursor *c, unsigned k) {
  struct span *s = c->edges.span[k];
  if (s != NULL && s->kind != KIND_MANUAL) {
    mark_slot(c, s, c->edges.index[k]);
    if (SHADE_UNLIKELY(c->edges.from[k] != 0))
      note_card_if_young(c, s, c->edges.index[k], c->edges.from[k]);
  }
}

static inline __attribute__((always_inline)) void edge_add(struct mark_cursor *c, uintptr_t word,
                                                        struct span *s, uintptr_t from) {
  struct edge_pipe *p = &c->edges;
  if (p->added - p->marked == EDGE_PIPE_DEPTH) { // the oldest edge leaves (resolved long ago)
    edge_mark(c, EDGE_SLOT(p->marked));
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

static inline __attribute__((always_inline)) void edge_flush(struct mark_cursor *c) {
  struct edge_pipe *p = &c->edges;
  for (unsigned j = p->marked; j != p->added; j++) {
    if (j + EDGE_HALF >= p->added) // entered too recently to have been resolved
      edge_resolve(p, EDGE_SLOT(j));
    edge_mark(c, EDGE_SLOT(j));
  }
  p->marked = p->added;
}

void mark_pointers(struct marker *m, const uintptr_t *words, size_t count) {
  struct mark_cursor c;
  cursor_open(&c, m);
  uintptr_t low = heap_lowest_address(), high = heap_highest_address();
  for (size_t i = 0; i < count; i++) {
    uintptr_t word = words[i];
    if (word - low >= high - low)
      continue;
    struct span *s = arena_span_of_bounded(word);
    if (s != NULL)
      edge_add(&c, word, s, 0);
  }
  cursor_close(&c);
}

static inline bool edges_pending(const struct mark_cursor *c) {
  return c->edges.added != c->edges.marked;
}

// Sanitizer builds keep the drain loops instrumented and make the word scan a call of its own:
// GCC leaves the use-after-scope poison of an inlined function's locals on the stack when the
// function it is inlined into is not instrumented (memset over that stack then reports it).
#if defined(SHADE_SANITIZER_ADDRESS) || defined(SHADE_SANITIZER_THREAD)
#define SCAN_WORDS_INLINE SHADE_NOINLINE
#else
#define SCAN_WORDS_INLINE inline __attribute__((always_inline))
#endif

// old: the range is in an object that will be gen2 (ITEM_OLD): each edge carries its address.
// In a young collection, a word pointing into a page that holds no object the collection must
// see is passed over (mark_young_filter).
SHADE_NO_SANITIZE static SCAN_WORDS_INLINE void
scan_words(struct mark_cursor *c, uintptr_t start, uintptr_t end, bool old) {
  uintptr_t low = c->low, high = c->high;
  _Atomic(struct arena *) *index = arena_index;
  unsigned young = old ? c->young_old : c->young_plain;
  if (SHADE_LIKELY(young == 0)) { // (two loops: the test inside one cost full markings 6%)
    for (uintptr_t p = start; p < end; p += WORD_SIZE) {
      uintptr_t word = *(uintptr_t *)p;
      if (word - low >= high - low)
        continue;
      struct span *s = arena_span_in_index(index, word);
      if (s != NULL)
        edge_add(c, word, s, old ? p : 0);
    }
    return;
  }
  for (uintptr_t p = start; p < end; p += WORD_SIZE) {
    uintptr_t word = *(uintptr_t *)p;
    if (word - low >= high - low)
      continue;
    struct arena *a = load_relaxed(&index[word >> ARENA_SHIFT]);
    if (a == NULL)
      continue;
    size_t page = (word & (ARENA_SIZE - 1)) >> PAGE_SHIFT;
    if (!arena_page_in_map(a, young - 1, page))
      continue;
    struct span *s = load_relaxed(&a->pages[page]);
    if (s != NULL)
      edge_add(c, word, s, old ? p : 0);
  }
}

struct trace_visit {
  struct mark_cursor *c;
  uintptr_t from; // an old object's base (its card is the one noted), or 0
};

static void visit_from_trace(void *pointer, void *context) {
  struct trace_visit *visit = context;
  mark_word_from(visit->c, (uintptr_t)pointer, visit->from);
}

SHADE_NO_SANITIZE static void scan_typed(struct mark_cursor *c, struct span *s, uintptr_t start,
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
    struct trace_visit visit = {c, old ? base : 0};
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
      mark_word_from(c, *(uintptr_t *)p, old ? p : 0);
    if (++in_element == element_words)
      in_element = 0;
  }
}

// A typed item, with a cursor of its own: the type's trace function is handed the cursor, and
// the drain's must stay private to it.
static SHADE_NOINLINE void scan_typed_range(struct marker *m, struct work_item item) {
  struct mark_cursor c;
  cursor_open(&c, m);
  uintptr_t start = item.start & ~ITEM_TAGS;
  scan_typed(&c, arena_span_of(start), start, item.end, (item.start & ITEM_OLD) != 0);
  cursor_close(&c);
}

// The drain loops' step: conservative objects (nearly every one), young or old, are scanned
// inline, through the drain's cursor.
static inline __attribute__((always_inline)) void scan_range(struct mark_cursor *c,
                                                             struct work_item item) {
  uintptr_t start = item.start & ~ITEM_TAGS;
  c->scanned_bytes += item.end - start;
  if (SHADE_LIKELY((item.start & ITEM_TAGS) == 0))
    scan_words(c, start, item.end, false);
  else if (!(item.start & ITEM_TYPED))
    scan_words(c, start, item.end, true); // an object that will be gen2: notes cards
  else
    scan_typed_range(c->m, item);
}

// Objects wait in a small FIFO between leaving the worklist and being scanned, their first
// and last cache lines prefetched on the way in: the scan of one object overlaps the memory
// latency of the next few (most of the marking time is cache misses on object contents).
#define PREFETCH_DEPTH 16
_Static_assert((PREFETCH_DEPTH & (PREFETCH_DEPTH - 1)) == 0, "a power of two (counters wrap)");

struct scan_ring {
  struct work_item items[PREFETCH_DEPTH];
  unsigned taken, filled; // counts of items that left and entered
};

static inline void prefetch_item(struct work_item item) {
  __builtin_prefetch((const void *)item.start);
  if (item.end - item.start <= 256) // (a small object: it may straddle two lines)
    __builtin_prefetch((const void *)(item.end - 1));
}

// Tops the ring up from the marker's local work, prefetching; false if it is still empty.
static inline __attribute__((always_inline)) bool ring_fill(struct marker *m,
                                                            struct scan_ring *r) {
  struct work_item item;
  while (r->filled - r->taken < PREFETCH_DEPTH && worklist_pop_local(&m->work, &item)) {
    prefetch_item(item);
    r->items[r->filled++ % PREFETCH_DEPTH] = item;
  }
  return r->filled != r->taken;
}

static inline struct work_item ring_take(struct scan_ring *r) {
  return r->items[r->taken++ % PREFETCH_DEPTH];
}

void mark_drain(struct marker *m) {
  struct mark_cursor c;
  cursor_open(&c, m);
  struct scan_ring ring = {.taken = 0, .filled = 0};
  unsigned pops = 0;
  for (;;) {
    if (!ring_fill(m, &ring)) {
      if (edges_pending(&c)) {
        edge_flush(&c);
        continue;
      }
      struct work_item item;
      if (!worklist_pop(&m->work, &item)) // waits for shared work or the end of marking
        break;
      ring.items[ring.filled++ % PREFETCH_DEPTH] = item;
    }
    scan_range(&c, ring_take(&ring));
    if (SHADE_UNLIKELY(++pops % 64 == 0) && worklist_idle_workers() > 0)
      worklist_share(&m->work);
  }
  cursor_close(&c);
}

bool mark_drain_budget(struct marker *m, uint64_t budget, volatile sig_atomic_t *stop) {
  struct mark_cursor c;
  cursor_open(&c, m);
  unsigned polls = 0;
  struct scan_ring ring = {.taken = 0, .filled = 0};
  bool more = true;
  for (;;) {
    if (!ring_fill(m, &ring)) {
      if (edges_pending(&c)) {
        edge_flush(&c);
        continue;
      }
      if (worklist_take_shared(&m->work, stop == NULL)) // (an assist: never waits for the lock)
        continue;
      more = false;
      break;
    }
    scan_range(&c, ring_take(&ring));
    if (c.scanned_bytes >= budget)
      break;
    if (stop && (++polls & 31) == 0 && *stop)
      break;
  }
  while (ring.filled != ring.taken) { // back to the local list
    struct work_item item = ring_take(&ring);
    worklist_push(&m->work, item.start, item.end);
  }
  cursor_close(&c);
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
