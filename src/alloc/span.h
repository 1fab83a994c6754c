// span.h: a span is a run of pages holding objects of one size class and one kind, or one large
// object. Its metadata lives off to the side, so object memory is all payload.
//
// Allocation state, per object, is kept in side tables:
//   allocated(i)  <=>  i < freeindex  ||  alloc_bits[i]         (and not freed_bits[i])
// The owning thread cache hands out slots at and above freeindex whose alloc bit is clear,
// scanning a bitmap word at a time (alloc_cache holds the complement of the current word, shifted
// so that bit 0 is slot freeindex); no bit is written on allocation.
//
// Collection state, per object, is one byte (object_states), read and written only through the
// accessors below (the allocator, the sweeper and the markers use them; nobody else indexes the
// bytes):
//   OBJECT_MARKED    reached by the marking under way or the last one; with generations on, an
//                    object that survived a collection keeps it ("sticky" marks: it is old, and
//                    a young collection does not trace it again)
//   OBJECT_AGE_*     (bits 1-2) the object's generation: 0 until it survives a collection of
//                    its generation, then 1, then 2 (.NET's gen0, gen1, gen2)
// Bits 3-7 are free (pinned, finalizable). Rule: the bits other than OBJECT_MARKED change only
// while no marker runs (world stopped, or by the span's sweeper); markers set OBJECT_MARKED with
// a plain read and store, not an atomic read-modify-write, so two markers racing for one object
// may both scan it (nothing is lost). Sweeping packs the MARKED bits into the new alloc bits
// ("sweep-free allocation"): no free list is built.
//
// Sweep generations (heap_sweepgen advances by 2 at the end of every marking):
//   sweepgen == heap_sweepgen - 2   marked by the last cycle, needs sweeping
//   sweepgen == heap_sweepgen - 1   being swept by one thread
//   sweepgen == heap_sweepgen       swept (or new), ready to allocate from
#ifndef SHADE_ALLOC_SPAN_H
#define SHADE_ALLOC_SPAN_H
#include "base/base.h"
#include "shade.h"

enum object_kind {
  KIND_CONSERVATIVE,  // every aligned word may be a pointer
  KIND_ATOMIC,        // never scanned
  KIND_TYPED,         // scanned through its shade_type
  KIND_UNCOLLECTABLE, // scanned, a root, freed only explicitly
  KIND_MANUAL,        // not scanned, not a root, freed only explicitly (reference counting)
  KIND_COUNT
};

// RESERVED: taken from the page heap, fields being filled in; markers running concurrently ignore
// the span until span_publish makes it SMALL or LARGE (release: its fields are visible first).
enum span_state { SPAN_FREE, SPAN_SMALL, SPAN_LARGE, SPAN_RESERVED };

struct span {
  // First cache line: what marking and the allocation fast path read.
  uintptr_t base;
  _Atomic(uint8_t) *object_states; // object_count bytes (rounded up to 64): OBJECT_* bits
  _Atomic(uint64_t) *alloc_bits;    // relaxed atomics: other threads may query (shade_base)
  _Atomic(_Atomic(uint64_t) *) freed_bits; // lazily allocated by shade_free (CAS)
  uint32_t object_size;   // small spans: the class size; large spans: 0 (see large_requested)
  uint32_t object_count;  // 1 for large spans
  uint32_t divide_magic;
  _Atomic uint32_t freeindex;       // written by the owner only; read by queries
  uint64_t alloc_cache;
  uint8_t size_class;     // 0 for large spans
  uint8_t kind;
  uint8_t state;
  uint8_t unused;         // (other threads read the three bytes above while the span is swept:
                          //  no byte written during sweeping may share their word)
  _Atomic uint32_t black_from; // in a cache while marking: slots taken from here on are black
                               // (every mark reads it: black_allocation_pending)
  // The rest.
  _Atomic uint32_t sweepgen;
  uint32_t needs_zeroing; // free slots may hold old contents (owner and sweeper only)
  size_t pages;
  uint8_t released;       // FREE spans: pages were given back to the OS
  uint8_t in_cache;       // owned by a thread cache
  uint32_t allocated_at_sweep;  // objects allocated when the span was last swept
  size_t large_requested;       // large spans: requested size (precise scan bound)
  const struct shade_type *large_type;
  _Atomic(uint64_t) *check_bits;   // lazily allocated by the verifier
  const struct shade_type **types; // KIND_TYPED small spans: one type per object
  struct span *next, *prev;        // list links (central lists, page heap lists, large list)
  struct span *allocated_next;     // the class's spans allocated from since the last marking
  uint64_t allocated_epoch;        // small spans: the class's allocated_epoch + 1 while on that
                                   // list (taken by a cache since the last marking ended); 0 new
} __attribute__((aligned(64)));

static inline uint32_t span_bitmap_words(const struct span *s) {
  return (s->object_count + 63) / 64;
}

static inline uint32_t span_object_index(const struct span *s, uintptr_t address) {
  return (uint32_t)(((uint64_t)(address - s->base) * s->divide_magic) >> 32);
}

static inline uintptr_t span_object_address(const struct span *s, uint32_t index) {
  return s->base + (uintptr_t)index * s->object_size;
}

static inline bool bit_test(const uint64_t *bits, uint32_t i) {
  return (bits[i / 64] >> (i % 64)) & 1;
}

static inline bool atomic_bit_test(_Atomic(uint64_t) *bits, uint32_t i) {
  return (load_relaxed(&bits[i / 64]) >> (i % 64)) & 1;
}

// Sets bit i; returns true if this call set it (it was clear).
static inline bool atomic_bit_set(_Atomic(uint64_t) *bits, uint32_t i) {
  uint64_t mask = (uint64_t)1 << (i % 64);
  if (load_relaxed(&bits[i / 64]) & mask)
    return false;
  return !(atomic_fetch_or_explicit(&bits[i / 64], mask, memory_order_relaxed) & mask);
}

// The states of object_states (a bit each). OBJECT_MARKED is bit 0: sweeping gathers bit 0 of
// eight state bytes at a time.
enum object_state {
  OBJECT_MARKED = 1,
  OBJECT_AGE_SHIFT = 1,
  OBJECT_AGE_MASK = 3 << OBJECT_AGE_SHIFT,
  OBJECT_OLDEST = 2, // the oldest generation
  OBJECT_EPHEMERON_KEY = 8, // the key of an ephemeron waiting for it (set and cleared within the
                            // collector's weak pass, world stopped: gc/weak_resolution.c)
};

// The generation of object i (0, 1 or 2).
static inline unsigned span_object_generation(const struct span *s, uint32_t i) {
  return (load_relaxed(&s->object_states[i]) & OBJECT_AGE_MASK) >> OBJECT_AGE_SHIFT;
}

// An object born old (the Large Object Heap): marked, in the oldest generation (no marker runs
// on it yet: it is being allocated).
static inline void span_object_born_old(struct span *s, uint32_t i) {
  store_relaxed(&s->object_states[i], (uint8_t)(OBJECT_MARKED | OBJECT_OLDEST << OBJECT_AGE_SHIFT));
}

static inline bool span_object_is_marked(const struct span *s, uint32_t i) {
  return (load_relaxed(&s->object_states[i]) & OBJECT_MARKED) != 0;
}

// Marks object i; returns true if this call marked it (it was unmarked). Not atomic as a whole:
// two markers may both return true for one object, and both scan it.
static inline bool span_mark_object(struct span *s, uint32_t i) {
  uint8_t state = load_relaxed(&s->object_states[i]);
  if (state & OBJECT_MARKED)
    return false;
  store_relaxed(&s->object_states[i], (uint8_t)(state | OBJECT_MARKED));
  return true;
}

// The ephemeron-key flag (world stopped, one marker). take: clears it, says if it was set.
static inline void span_object_flag_key(struct span *s, uint32_t i) {
  store_relaxed(&s->object_states[i], (uint8_t)(load_relaxed(&s->object_states[i]) |
                                                OBJECT_EPHEMERON_KEY));
}
static inline bool span_object_take_key_flag(struct span *s, uint32_t i) {
  uint8_t state = load_relaxed(&s->object_states[i]);
  store_relaxed(&s->object_states[i], (uint8_t)(state & ~OBJECT_EPHEMERON_KEY));
  return (state & OBJECT_EPHEMERON_KEY) != 0;
}

// Large objects, at the end of marking (world stopped).
static inline void span_unmark_object(struct span *s, uint32_t i) {
  store_relaxed(&s->object_states[i], (uint8_t)(load_relaxed(&s->object_states[i]) &
                                                ~OBJECT_MARKED));
}

// The markers' pipeline prefetches an object's state before it marks (mark.c).
static inline void span_prefetch_object_state(const struct span *s, uint32_t i) {
  __builtin_prefetch((const void *)&s->object_states[i], 1);
}

static inline size_t span_object_states_size(const struct span *s) {
  return align_up(s->object_count, 64); // whole words of 64 states for packing
}

static inline bool span_object_is_freed(const struct span *s, uint32_t i) {
  _Atomic(uint64_t) *freed = load_acquire(&s->freed_bits);
  // acquire: a set bit orders shade_free's release before whatever the reader then frees
  return freed != NULL && ((load_acquire(&freed[i / 64]) >> (i % 64)) & 1);
}

static inline _Atomic(uint64_t) *span_freed_bits(const struct span *s) {
  return load_acquire(&((struct span *)s)->freed_bits);
}

static inline bool span_object_is_allocated(const struct span *s, uint32_t i) {
  return (i < load_relaxed(&s->freeindex) || atomic_bit_test(s->alloc_bits, i)) &&
         !span_object_is_freed(s, i);
}

// The owner's allocation fast path: the next free slot, or NULL when the cached bitmap word is
// used up (then span_take_slow looks further).
static inline void *span_take_fast(struct span *s) {
  uint64_t cache = s->alloc_cache;
  if (SHADE_LIKELY(cache != 0)) {
    unsigned bit = (unsigned)__builtin_ctzll(cache);
    uint32_t index = load_relaxed(&s->freeindex) + bit;
    if (SHADE_LIKELY(index < s->object_count)) {
      s->alloc_cache = (cache >> bit) >> 1;
      store_relaxed(&s->freeindex, index + 1);
      return (void *)span_object_address(s, index);
    }
  }
  return NULL;
}

static inline void span_publish(struct span *s, enum span_state state) {
  __atomic_store_n(&s->state, (uint8_t)state, __ATOMIC_RELEASE);
}

static inline enum span_state span_state_acquire(const struct span *s) {
  return (enum span_state)__atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
}

void *span_take_slow(struct span *s);
// Slots at or above freeindex that are free.
uint32_t span_count_free(const struct span *s);
struct span *span_record_new(void);
void span_record_free(struct span *s);
void span_bitmaps_allocate(struct span *s);
void span_bitmaps_free(struct span *s);
void span_reset_allocation(struct span *s);

#endif
