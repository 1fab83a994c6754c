// typed.c: gc_typed.h over Shade's bitmap types.
//
// A GC_descr is the address of a descriptor record made by GC_make_descriptor: the bitmap of
// its first `words` words and the Shade types made from it, one per element size (the object
// size for GC_malloc_explicitly_typed, the element size for GC_calloc_explicitly_typed; Shade
// repeats a type's bitmap over an object of several elements). Records and types live until the
// process ends; equal bitmaps share one record, so a program that makes its descriptor in a loop
// does not grow memory.
//
// Invariant: records are only added (under descriptors_lock) and never changed once published,
// except their type list, which grows under the same lock; readers take the lock too (making an
// object of a new size is rare next to allocating one of a known size, the cached case).
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "gc/gc_typed.h"

struct sized_type {
  struct sized_type *next;
  size_t element_bytes;
  struct shade_type type;
};

struct descriptor {
  struct descriptor *next; // in the table
  size_t words;            // bits that count
  struct sized_type *types;
  struct sized_type *last_used;
  uint64_t bitmap[];       // words bits, word 0 in bit 0 of bitmap[0]
};

static pthread_mutex_t descriptors_lock = PTHREAD_MUTEX_INITIALIZER;
static struct descriptor *descriptors;

GC_API GC_descr GC_CALL GC_make_descriptor(const GC_word *bitmap, size_t words) {
  size_t bitmap_words = (words + 63) / 64;
  while (words > 0 && !((bitmap[(words - 1) / 64] >> ((words - 1) % 64)) & 1))
    words--; // trailing pointer-free words need no bits
  bitmap_words = (words + 63) / 64;
  pthread_mutex_lock(&descriptors_lock);
  for (struct descriptor *d = descriptors; d != NULL; d = d->next) {
    if (d->words == words && memcmp(d->bitmap, bitmap, bitmap_words * sizeof(uint64_t)) == 0) {
      pthread_mutex_unlock(&descriptors_lock);
      return (GC_descr)d;
    }
  }
  struct descriptor *d = calloc(1, sizeof *d + (bitmap_words + 1) * sizeof(uint64_t));
  if (d == NULL)
    compat_abort("GC_make_descriptor: out of memory");
  d->words = words;
  memcpy(d->bitmap, bitmap, bitmap_words * sizeof(uint64_t));
  if (words % 64) // bits past `words` are not pointers
    d->bitmap[bitmap_words - 1] &= ((uint64_t)1 << (words % 64)) - 1;
  d->next = descriptors;
  descriptors = d;
  pthread_mutex_unlock(&descriptors_lock);
  return (GC_descr)d;
}

// The type for objects (or elements) of element_bytes laid out as d says: words past d's bitmap
// hold no pointers.
static const struct shade_type *type_for(struct descriptor *d, size_t element_bytes) {
  pthread_mutex_lock(&descriptors_lock);
  struct sized_type *t = d->last_used;
  if (t == NULL || t->element_bytes != element_bytes) {
    for (t = d->types; t != NULL && t->element_bytes != element_bytes; t = t->next) {
    }
  }
  if (t == NULL) {
    size_t element_words = (element_bytes + 7) / 8;
    size_t bitmap_words = (element_words + 63) / 64 + 1;
    uint64_t *bits = calloc(bitmap_words, sizeof(uint64_t));
    t = calloc(1, sizeof *t);
    if (bits == NULL || t == NULL)
      compat_abort("GC_malloc_explicitly_typed: out of memory");
    for (size_t i = 0; i < d->words && i < element_words; i++)
      if ((d->bitmap[i / 64] >> (i % 64)) & 1)
        bits[i / 64] |= (uint64_t)1 << (i % 64);
    t->element_bytes = element_bytes;
    t->type = (struct shade_type){.name = "bdwgc typed", .size = element_words * 8,
                                  .pointer_bitmap = bits};
    t->next = d->types;
    d->types = t;
  }
  d->last_used = t;
  pthread_mutex_unlock(&descriptors_lock);
  return &t->type;
}

static struct descriptor *descriptor_of(GC_descr descr, const char *call) {
  if (descr == 0 || (descr & 7) != 0) {
    compat_message("shade: %s: %#lx is not a descriptor from GC_make_descriptor; the object "
                   "is scanned conservatively", call, (unsigned long)descr);
    return NULL;
  }
  return (struct descriptor *)descr;
}

GC_API void *GC_CALL GC_malloc_explicitly_typed(size_t bytes, GC_descr descr) {
  compat_ready();
  struct descriptor *d = descriptor_of(descr, "GC_malloc_explicitly_typed");
  if (d == NULL)
    return GC_malloc(bytes);
  if (d->words == 0) { // no pointer at all: pointer-free, but zeroed as typed objects are
    void *p = GC_malloc_atomic(bytes);
    return p ? memset(p, 0, bytes) : NULL;
  }
  size_t element = (bytes + 7) & ~(size_t)7;
  const struct shade_type *type = type_for(d, element < 8 ? 8 : element);
  return compat_after_alloc(shade_malloc_typed(compat_request_size(bytes), type), bytes);
}

GC_API void *GC_CALL GC_malloc_explicitly_typed_ignore_off_page(size_t bytes, GC_descr descr) {
  return GC_malloc_explicitly_typed(bytes, descr);
}

GC_API void *GC_CALL GC_calloc_explicitly_typed(size_t count, size_t element_bytes,
                                                GC_descr descr) {
  size_t bytes;
  if (__builtin_mul_overflow(count, element_bytes, &bytes))
    return compat_out_of_memory(SIZE_MAX);
  compat_ready();
  struct descriptor *d = descriptor_of(descr, "GC_calloc_explicitly_typed");
  if (d == NULL)
    return GC_malloc(bytes);
  if (element_bytes % 8 != 0 || element_bytes == 0) // elements not word-aligned: conservative
    return GC_malloc(bytes);
  const struct shade_type *type = type_for(d, element_bytes);
  return compat_after_alloc(shade_malloc_typed(compat_request_size(bytes), type), bytes);
}
