// alloc.c: bdwgc's allocation calls, explicit free, realloc, and the object queries.
//
// Every request goes through compat_request_size (compat.h), so objects are 16-byte granules,
// 16-aligned, with at least one byte past the requested end unless the program turned interior
// pointers off (then exact granules, as bdwgc gives: see compat.h). GC_malloc is shade_malloc
// (conservative, zeroed), GC_malloc_atomic is shade_malloc_atomic (never scanned; bdwgc does
// not zero it either), the uncollectable calls are shade_malloc_uncollectable (atomic
// uncollectable objects are scanned too: conservative is the safe direction). A refused
// request returns what GC_oom_fn returns (NULL by default), as in bdwgc. The debugging
// allocators (GC_debug_*) are the plain ones: Shade's own checks report misuse of free.
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "gc/gc_inline.h"

static void *GC_CALLBACK default_oom(size_t bytes) {
  (void)bytes;
  return NULL;
}
GC_oom_func GC_oom_fn = default_oom;

GC_API void GC_CALL GC_set_oom_fn(GC_oom_func fn) { GC_oom_fn = fn ? fn : default_oom; }
GC_API GC_oom_func GC_CALL GC_get_oom_fn(void) { return GC_oom_fn; }
GC_API void GC_CALL GC_abort_on_oom(void) { compat_abort("GC_abort_on_oom: out of memory"); }

void *compat_out_of_memory(size_t bytes) {
  GC_oom_func fn = GC_oom_fn;
  return fn ? fn(bytes) : NULL;
}

GC_API void *GC_CALL GC_malloc(size_t bytes) {
  compat_ready();
  return compat_after_alloc(shade_malloc(compat_request_size(bytes)), bytes);
}

GC_API void *GC_CALL GC_malloc_atomic(size_t bytes) {
  compat_ready();
  return compat_after_alloc(shade_malloc_atomic(compat_request_size(bytes)), bytes);
}

GC_API void *GC_CALL GC_malloc_uncollectable(size_t bytes) {
  compat_ready();
  return compat_after_alloc(shade_malloc_uncollectable(compat_request_size(bytes)), bytes);
}

GC_API void *GC_CALL GC_malloc_atomic_uncollectable(size_t bytes) {
  return GC_malloc_uncollectable(bytes);
}

GC_API void *GC_CALL GC_malloc_ignore_off_page(size_t bytes) { return GC_malloc(bytes); }
GC_API void *GC_CALL GC_malloc_atomic_ignore_off_page(size_t bytes) {
  return GC_malloc_atomic(bytes);
}
GC_API void *GC_CALL GC_malloc_stubborn(size_t bytes) { return GC_malloc(bytes); }

GC_API char *GC_CALL GC_strdup(const char *s) {
  if (s == NULL)
    return NULL;
  size_t length = strlen(s);
  char *copy = GC_malloc_atomic(length + 1);
  if (copy)
    memcpy(copy, s, length + 1);
  return copy;
}

GC_API char *GC_CALL GC_strndup(const char *s, size_t n) {
  size_t length = strnlen(s, n);
  char *copy = GC_malloc_atomic(length + 1);
  if (copy) {
    memcpy(copy, s, length);
    copy[length] = '\0';
  }
  return copy;
}

GC_API void GC_CALL GC_free(void *p) {
  if (p == NULL)
    return;
  compat_ready();
  shade_free(p); // Shade reports a foreign, interior or freed pointer in one line and ignores it
}

GC_API void *GC_CALL GC_base(void *p) {
  if (!atomic_load_explicit(&compat_initialized, memory_order_acquire))
    return NULL;
  return shade_base(p);
}

GC_API int GC_CALL GC_is_heap_ptr(const void *p) {
  if (!atomic_load_explicit(&compat_initialized, memory_order_acquire))
    return 0;
  return shade_is_heap_pointer(p);
}

// The usable size: the size class (a multiple of 16) for small objects, the rounded request for
// large ones. Inside a mark procedure the object being traced answers from the trace itself.
GC_API size_t GC_CALL GC_size(const void *p) {
  if (p == compat_tracing_object && p != NULL)
    return compat_tracing_size;
  if (!atomic_load_explicit(&compat_initialized, memory_order_acquire))
    return 0;
  size_t size = shade_size(p);
  return (size + COMPAT_GRANULE - 1) & ~(size_t)(COMPAT_GRANULE - 1);
}

// bdwgc keeps the kind; so does shade_realloc. A shrink or a growth within the usable size
// returns p itself, as bdwgc does.
GC_API void *GC_CALL GC_realloc(void *p, size_t bytes) {
  if (p == NULL)
    return GC_malloc(bytes);
  if (bytes == 0) {
    GC_free(p);
    return NULL;
  }
  compat_ready();
  void *base = shade_base(p);
  if (base == NULL || base != p) {
    compat_message("shade: GC_realloc(%p, %zu): not the start of a collected object; "
                   "returning NULL", p, bytes);
    return NULL;
  }
  size_t usable = shade_size(p);
  if (bytes + 1 <= usable && bytes + 1 >= usable / 2)
    return p;
  return compat_after_alloc(shade_realloc(p, compat_request_size(bytes)), bytes);
}

GC_API void *GC_CALL GC_memalign(size_t alignment, size_t bytes) {
  if (alignment <= COMPAT_GRANULE)
    return GC_malloc(bytes);
  if (alignment & (alignment - 1)) {
    errno = EINVAL;
    return NULL;
  }
  // Shade's large objects start on a page; beyond that, take room and return an aligned
  // interior pointer (interior pointers keep the object alive).
  if (alignment <= 4096 && bytes >= 4096)
    return GC_malloc(bytes < 32768 ? 32768 : bytes);
  char *raw = GC_malloc(bytes + alignment);
  if (raw == NULL)
    return NULL;
  return (void *)(((uintptr_t)raw + alignment - 1) & ~(uintptr_t)(alignment - 1));
}

GC_API int GC_CALL GC_posix_memalign(void **result, size_t alignment, size_t bytes) {
  if (alignment < sizeof(void *) || (alignment & (alignment - 1)))
    return EINVAL;
  void *p = GC_memalign(alignment, bytes);
  if (p == NULL)
    return ENOMEM;
  *result = p;
  return 0;
}

// A list of objects of `bytes` linked through their first word, about a page's worth.
GC_API void *GC_CALL GC_malloc_many(size_t bytes) {
  void *list = NULL;
  GC_generic_malloc_many(bytes, COMPAT_KIND_NORMAL, &list);
  return list;
}

// ---- The debugging allocators: the plain ones (see above).
GC_API void *GC_CALL GC_debug_malloc(size_t bytes, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_malloc(bytes);
}
GC_API void *GC_CALL GC_debug_malloc_atomic(size_t bytes, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_malloc_atomic(bytes);
}
GC_API char *GC_CALL GC_debug_strdup(const char *str, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_strdup(str);
}
GC_API char *GC_CALL GC_debug_strndup(const char *str, size_t n, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_strndup(str, n);
}
GC_API void *GC_CALL GC_debug_malloc_uncollectable(size_t bytes, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_malloc_uncollectable(bytes);
}
GC_API void *GC_CALL GC_debug_malloc_atomic_uncollectable(size_t bytes, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_malloc_atomic_uncollectable(bytes);
}
GC_API void *GC_CALL GC_debug_malloc_stubborn(size_t bytes, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_malloc(bytes);
}
GC_API void *GC_CALL GC_debug_malloc_ignore_off_page(size_t bytes, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_malloc(bytes);
}
GC_API void *GC_CALL GC_debug_malloc_atomic_ignore_off_page(size_t bytes, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_malloc_atomic(bytes);
}
GC_API void GC_CALL GC_debug_free(void *p) { GC_free(p); }
GC_API void *GC_CALL GC_debug_realloc(void *p, size_t bytes, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_realloc(p, bytes);
}
GC_API void *GC_CALL GC_debug_malloc_replacement(size_t bytes) { return GC_malloc(bytes); }
GC_API void *GC_CALL GC_debug_realloc_replacement(void *p, size_t bytes) {
  return GC_realloc(p, bytes);
}
GC_API void *GC_CALL GC_debug_generic_or_special_malloc(size_t bytes, int kind, GC_EXTRA_PARAMS) {
  (void)s, (void)i;
  return GC_generic_or_special_malloc(bytes, kind);
}
GC_API void GC_CALL GC_debug_register_displacement(size_t offset) {
  GC_register_displacement(offset);
}
// Every interior pointer is a pointer on Shade: displacements need no registration.
GC_API void GC_CALL GC_register_displacement(size_t offset) { (void)offset; }
GC_API size_t GC_CALL GC_get_debug_header_size(void) { return 0; }

// Stubborn objects and the manual dirty bits exist for bdwgc's incremental mode; Shade's
// collections stop the world, so a store needs no barrier.
GC_API void GC_CALL GC_change_stubborn(const void *p) { (void)p; }
GC_API void GC_CALL GC_debug_change_stubborn(const void *p) { (void)p; }
GC_API void GC_CALL GC_end_stubborn_change(const void *p) { (void)p; }
GC_API void GC_CALL GC_debug_end_stubborn_change(const void *p) { (void)p; }
GC_API void GC_CALL GC_ptr_store_and_dirty(void *p, const void *q) { *(const void **)p = q; }
GC_API void GC_CALL GC_debug_ptr_store_and_dirty(void *p, const void *q) {
  *(const void **)p = q;
}

