// allocation.c: the public allocation calls, explicit free, and object queries.
//
// Tiny allocator (Go's): pointer-free requests under 16 bytes are packed into the thread's
// current 16-byte atomic block, aligned to their size's alignment; the block lives while any of
// its pieces is referenced. Such pieces cannot be freed one by one: shade_free accepts and
// ignores pointers into 16-byte atomic spans, which the tiny blocks share.
//
// One-past-the-end pointers: every request is padded by one byte (unless SHADE_PAST_END=0), so a
// pointer just past the requested end still lands inside the object's slot, as in bdwgc. This is
// the only unambiguous way: without it, such a pointer is also the start of the next object.
//
// Explicit free marks the object in its span's freed bitmap; a small object's slot is reused
// after the next sweep of its span, a large object's pages go back to the page heap at once.
#include <errno.h>
#include <string.h>

#include "alloc/allocate.h"
#include "alloc/arena.h"
#include "alloc/large.h"
#include "alloc/metadata.h"
#include "alloc/pageheap.h"
#include "alloc/sweep.h"
#include "alloc/black_allocation.h"
#include "api/api_internal.h"
#include "base/message.h"
#include "gc/allocate_slow.h"
#include "gc/barrier.h"
#include "gc/finalization.h"
#include "gc/phases.h"

#define TINY_BLOCK 16

extern _Atomic uint64_t api_freed_explicitly;
size_t api_size_padding = 1; // 0 with SHADE_PAST_END=0; set by shade_init

static SHADE_NOINLINE void *allocate_other(size_t size, enum object_kind kind,
                                           const struct shade_type *type, const char *call) {
  struct shade_thread *t = api_thread(call);
  size_t padding = size + api_size_padding > size ? api_size_padding : 0; // SIZE_MAX: too large
  return allocate_slow(t, size + padding, padding, kind, type);
}

// The fast path keeps nothing across a call: every call in it is its last step.
static inline void *allocate(size_t size, enum object_kind kind, const struct shade_type *type,
                             const char *call) {
  struct shade_thread *t = current_thread;
  size_t padded = size + api_size_padding;
  if (SHADE_LIKELY(t != NULL) && SHADE_LIKELY(padded >= size && padded <= MAX_SMALL_SIZE) &&
      kind != KIND_TYPED) {
    void *p = allocate_small_fast(&t->cache, padded, kind);
    if (SHADE_LIKELY(p != NULL))
      return p;
  }
  return allocate_other(size, kind, type, call);
}

SHADE_API void *shade_malloc(size_t size) {
  return allocate(size, KIND_CONSERVATIVE, NULL, "shade_malloc");
}

size_t api_allocate_batch(size_t size, bool atomic, size_t max, void **list, const char *call) {
  struct shade_thread *t = api_thread(call);
  enum object_kind kind = atomic ? KIND_ATOMIC : KIND_CONSERVATIVE;
  void *head = NULL;
  size_t count = 0;
  if (max == 0 || size > MAX_SMALL_SIZE) {
    head = max == 0 ? NULL : allocate_slow(t, size, 0, kind, NULL);
    if (head != NULL)
      *(void **)head = NULL;
    *list = head;
    return head != NULL;
  }
  // Whole bitmap words of the cached span at a time; when one is used up, the slow path gives
  // one object (a fresh word or span behind it), and the batch goes on from there.
  for (unsigned refills = 0; count < max; refills++) {
    count += allocate_small_batch(&t->cache, size, kind, max - count, &head);
    if (count == max || refills == 2)
      break;
    void *p = allocate_slow(t, size, 0, kind, NULL);
    if (p == NULL)
      break;
    *(void **)p = head; // (head stays in this frame: a collection meanwhile sees the list)
    head = p;
    count++;
  }
  *list = head;
  return count;
}

// size: the requested size (it decides the alignment); footprint: size plus the padding byte.
static void *allocate_tiny(struct shade_thread *t, size_t requested, size_t size) {
  size_t alignment = requested == 0 || (requested & 7) == 0 ? 8
                     : (requested & 3) == 0                 ? 4
                     : (requested & 1) == 0                 ? 2
                                                            : 1;
  critical_enter(&t->cache); // a collection resets tiny_block: read and advance it without one between
  uintptr_t offset = align_up(t->cache.tiny_offset, alignment);
  uintptr_t block_address = t->cache.tiny_block;
  if (block_address != 0 && offset + size <= TINY_BLOCK)
    t->cache.tiny_offset = (uint32_t)(offset + size);
  critical_leave(&t->cache);
  if (block_address != 0 && offset + size <= TINY_BLOCK)
    return (void *)(block_address + offset);
  void *block = allocate_small_fast(&t->cache, TINY_BLOCK, KIND_ATOMIC);
  if (block == NULL)
    block = allocate_slow(t, TINY_BLOCK, 0, KIND_ATOMIC, NULL);
  if (block == NULL)
    return NULL;
  critical_enter(&t->cache);
  t->cache.tiny_block = (uintptr_t)block; // a collection inside allocate_slow reset the old one
  t->cache.tiny_offset = (uint32_t)size;
  critical_leave(&t->cache);
  return block;
}

SHADE_API void *shade_malloc_atomic(size_t size) {
  if (size + api_size_padding < TINY_BLOCK)
    return allocate_tiny(api_thread("shade_malloc_atomic"), size, size + api_size_padding);
  return allocate(size, KIND_ATOMIC, NULL, "shade_malloc_atomic");
}

SHADE_API void *shade_malloc_uncollectable(size_t size) {
  return allocate(size, KIND_UNCOLLECTABLE, NULL, "shade_malloc_uncollectable");
}

SHADE_API void *shade_malloc_typed(size_t size, const struct shade_type *type) {
  if (type == NULL) {
    shade_message("shade: shade_malloc_typed(%zu, NULL): no type; allocating a conservative "
                  "object", size);
    return shade_malloc(size);
  }
  if (type->pointer_bitmap == NULL && type->trace == NULL)
    return allocate(size, KIND_ATOMIC, NULL, "shade_malloc_typed"); // no pointers at all
  return allocate(size, KIND_TYPED, type, "shade_malloc_typed");
}

SHADE_API void *shade_calloc(size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return allocate(total, KIND_CONSERVATIVE, NULL, "shade_calloc");
}

SHADE_API char *shade_strdup(const char *s) {
  size_t length = strlen(s) + 1;
  char *copy = shade_malloc_atomic(length);
  if (copy)
    memcpy(copy, s, length);
  return copy;
}

// The object p points into, seen as of now: in a span not yet swept since the last marking, an
// object lives if it was marked (or is of an explicitly freed kind and not freed).
// Another thread may be sweeping the span meanwhile: the answer is taken between two reads of
// the span's sweep generation that agree and do not say "being swept" (a seqlock).
static struct span *live_object(const void *p, uint32_t *index) {
  struct span *s = arena_object_of((uintptr_t)p, index);
  if (s == NULL)
    return NULL;
  bool explicit_kind = s->kind == KIND_UNCOLLECTABLE || s->kind == KIND_MANUAL;
  for (;;) {
    uint32_t before = load_acquire(&s->sweepgen);
    uint32_t heap_generation = load_acquire(&heap_sweepgen);
    if (before == heap_generation - 1) { // being swept right now
      __builtin_ia32_pause();
      continue;
    }
    bool live;
    if (s->state == SPAN_SMALL && before == heap_generation - 2 && !explicit_kind) {
      // Not yet swept: the marks say what lives, and so does black allocation still pending in
      // a span some cache took before the marking ended (its marks come when the cache gives it
      // back, before black_from is cleared: so ask in this order).
      uint32_t from = load_acquire(&s->black_from), i = *index;
      bool pending = from != BLACK_NONE && i >= from && i < load_relaxed(&s->freeindex) &&
                     !atomic_bit_test(s->alloc_bits, i); // (black_allocation_pending)
      live = (pending || span_object_is_marked(s, i)) && !span_object_is_freed(s, i);
    }
    else
      live = span_object_is_allocated(s, *index);
    atomic_thread_fence(memory_order_acquire);
    if (load_relaxed(&s->sweepgen) == before)
      return live ? s : NULL;
  }
}

static size_t object_usable_size(const struct span *s) {
  return s->state == SPAN_LARGE ? align_up(s->large_requested, WORD_SIZE) : s->object_size;
}

SHADE_API void *shade_base(const void *p) {
  uint32_t index;
  struct span *s = live_object(p, &index);
  return s ? (void *)span_object_address(s, index) : NULL;
}

SHADE_API size_t shade_size(const void *p) {
  uint32_t index;
  struct span *s = live_object(p, &index);
  return s ? object_usable_size(s) : 0;
}

SHADE_API int shade_generation(const void *p) {
  uint32_t index;
  struct span *s = live_object(p, &index);
  if (s == NULL)
    return -1;
  return (int)sweep_object_generation(s, index);
}

SHADE_API int shade_is_heap_pointer(const void *p) {
  uint32_t index;
  return live_object(p, &index) != NULL;
}

static bool is_tiny_span(const struct span *s) {
  return s->kind == KIND_ATOMIC && s->state == SPAN_SMALL && s->object_size == TINY_BLOCK;
}

static _Atomic(uint64_t) *freed_bits_of(struct span *s) {
  _Atomic(uint64_t) *bits = span_freed_bits(s);
  if (bits)
    return bits;
  _Atomic(uint64_t) *fresh = metadata_alloc(span_bitmap_words(s) * sizeof(uint64_t));
  if (atomic_compare_exchange_strong(&s->freed_bits, &bits, fresh))
    return fresh;
  metadata_free((void *)fresh, span_bitmap_words(s) * sizeof(uint64_t));
  return bits;
}

void api_free(void *p, const char *call) {
  if (p == NULL)
    return;
  struct shade_thread *t = api_thread(call);
  uint32_t index;
  struct span *s = arena_object_of((uintptr_t)p, &index);
  if (s == NULL) {
    if (arena_span_of((uintptr_t)p) != NULL || arena_is_heap_address((uintptr_t)p))
      shade_message("shade: %s(%p): double free (no live object there: freed already?); ignored",
                    call, p);
    else
      shade_message("shade: %s(%p): not a pointer to a Shade object; ignored", call, p);
    return;
  }
  if (is_tiny_span(s))
    return; // shared tiny blocks are reclaimed by collection only
  uintptr_t base = span_object_address(s, index);
  if ((uintptr_t)p != base) {
    shade_message("shade: %s(%p): not the start of an object (the object starts at %p); ignored",
                  call, p, (void *)base);
    return;
  }
  if (live_object(p, &index) == NULL) {
    shade_message("shade: %s(%p): double free (the object is already free); ignored", call, p);
    return;
  }
  // Freeing drops every reference the object holds, and no barrier sees it: while marking, they
  // are shaded (a white object's contents would otherwise never be traced, and what only it
  // held and a scanned stack holds now would be lost).
  if (s->kind != KIND_ATOMIC && s->kind != KIND_MANUAL && phase_is_marking())
    barrier_shade_words(t, p, object_usable_size(s));
  // Its finalizer and the weak links inside it go with it (the slot will hold another object).
  finalization_forget_object(base, base + object_usable_size(s));
  // Read before the freed bit is set: from then on a sweeper may free the span and reuse its record.
  size_t freed_size = s->state == SPAN_LARGE ? s->pages * PAGE_SIZE : s->object_size;
  critical_enter(&t->cache);
  if (s->state == SPAN_LARGE && !phase_is_marking()) { // (while marking, a marker may be scanning
                                                     //  it: its pages go at mark termination)
    atomic_fetch_add(&api_freed_explicitly, s->pages * PAGE_SIZE);
    large_lock();
    large_remove(s);
    large_unlock();
    pageheap_free_with_bitmaps(s);
  } else if (!(atomic_fetch_or_explicit(&freed_bits_of(s)[index / 64], (uint64_t)1 << (index % 64),
                                         memory_order_release) & ((uint64_t)1 << (index % 64)))) {
    // release: pairs with the sweeper's acquire (take_freed) before the slot is reused
    atomic_fetch_add(&api_freed_explicitly, freed_size);
  } else {
    critical_leave(&t->cache);
    shade_message("shade: %s(%p): double free (the object is already free); ignored", call, p);
    return;
  }
  critical_leave(&t->cache);
}

SHADE_API void shade_free(void *p) { api_free(p, "shade_free"); }

SHADE_API void *shade_realloc(void *p, size_t size) {
  if (p == NULL)
    return shade_malloc(size);
  if (size == 0) {
    shade_free(p);
    return NULL;
  }
  uint32_t index;
  struct span *s = live_object(p, &index);
  if (s == NULL || (uintptr_t)p != span_object_address(s, index)) {
    shade_message("shade: shade_realloc(%p): not the start of a live Shade object; returning NULL",
                  p);
    errno = EINVAL;
    return NULL;
  }
  size_t old_size = object_usable_size(s);
  if (s->state == SPAN_LARGE && size <= s->pages * PAGE_SIZE) {
    if (size > s->large_requested) // grow in place; the new tail is zero already or is zeroed
      memset((char *)p + old_size, 0, align_up(size, WORD_SIZE) - old_size);
    if (size > s->large_requested) // atomic: a concurrent marker reads it (push_large_object)
      __atomic_store_n(&s->large_requested, size, __ATOMIC_RELAXED);
    return p;
  }
  if (size <= old_size && s->state == SPAN_SMALL)
    return p;
  enum object_kind kind = (enum object_kind)s->kind;
  const struct shade_type *type = s->state == SPAN_LARGE ? s->large_type
                                  : kind == KIND_TYPED   ? s->types[index]
                                                         : NULL;
  void *q = allocate(size, kind, type, "shade_realloc");
  if (q == NULL)
    return NULL;
  size_t copied = old_size < size ? old_size : size;
  if (kind == KIND_ATOMIC) // no pointers
    memcpy(q, p, copied);
  else // stores the barrier would miss: q may be born old (its cards), or black while marking
    api_copy_pointers(current_thread, q, p, copied);
  if (!is_tiny_span(s))
    shade_free(p);
  return q;
}
