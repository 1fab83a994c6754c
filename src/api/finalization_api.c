// finalization_api.c: the public calls of finalization (shade.h, "Finalizers, weak references
// and ephemerons"): argument checks, then gc/finalization.h. A weak reference is an atomic
// Shade object of two words, {hidden target, flags}, whose first word is a weak link; an
// ephemeron one of two words, {hidden key, hidden value}, in the collector's ephemeron list.
// Atomic objects are never scanned, and the words hold the pointers complemented, so neither
// keeps anything alive.
#include <errno.h>

#include "alloc/arena.h"
#include "api/api_internal.h"
#include "gc/finalization.h"

struct shade_weak {
  uintptr_t hidden_target;
  uintptr_t flags;
};

struct shade_ephemeron {
  uintptr_t hidden_key;
  uintptr_t hidden_value;
};

// The span of the collectable object that starts at p, or NULL (errno EINVAL).
static struct span *collectable_object_start(const void *p) {
  uint32_t index;
  struct span *s = p ? arena_object_of((uintptr_t)p, &index) : NULL;
  if (s == NULL || s->kind == KIND_MANUAL || s->kind == KIND_UNCOLLECTABLE ||
      span_object_address(s, index) != (uintptr_t)p || shade_base(p) != p) {
    errno = EINVAL;
    return NULL;
  }
  return s;
}

// Whether p points into a live collectable object (a weak target or an ephemeron key).
static bool collectable_object(const void *p) {
  void *base = shade_base(p);
  if (base == NULL || collectable_object_start(base) == NULL) {
    errno = EINVAL;
    return false;
  }
  return true;
}

SHADE_API int shade_set_finalizer(void *object, shade_finalizer_fn fn, void *data,
                                  unsigned flags) {
  api_thread("shade_set_finalizer");
  if (flags > SHADE_FINALIZE_UNREACHABLE || collectable_object_start(object) == NULL) {
    errno = EINVAL;
    return -1;
  }
  if (finalizers_set((uintptr_t)object, fn, data, flags) != 0) {
    errno = ENOMEM;
    return -1;
  }
  return 0;
}

SHADE_API int shade_get_finalizer(const void *object, shade_finalizer_fn *fn, void **data) {
  shade_finalizer_fn found_fn = NULL;
  void *found_data = NULL;
  bool found = object && finalizers_get((uintptr_t)object, &found_fn, &found_data);
  if (fn)
    *fn = found_fn;
  if (data)
    *data = found_data;
  return found;
}

SHADE_API int shade_run_finalizers(void) {
  api_thread("shade_run_finalizers");
  return finalization_run_queued();
}

SHADE_API void shade_wait_for_pending_finalizers(void) {
  api_thread("shade_wait_for_pending_finalizers");
  finalization_wait();
}

SHADE_API size_t shade_finalizers_pending(void) { return finalization_pending(); }
SHADE_API void shade_set_finalize_on_demand(int on) { finalization_set_on_demand(on != 0); }
SHADE_API void shade_set_finalizer_notifier(void (*notifier)(void)) {
  finalization_set_notifier(notifier);
}

SHADE_API struct shade_weak *shade_weak_new(void *target, unsigned flags) {
  if (flags > SHADE_WEAK_LONG || (target && !collectable_object(target))) {
    errno = EINVAL;
    return NULL;
  }
  struct shade_weak *w = shade_malloc_atomic(sizeof *w);
  if (w == NULL)
    return NULL;
  w->hidden_target = weak_hide(target);
  w->flags = flags;
  if (target && weak_links_add((uintptr_t)&w->hidden_target, (uintptr_t)target, flags) < 0) {
    errno = ENOMEM;
    return NULL;
  }
  __asm__ volatile("" : : "r"(target) : "memory"); // target stays a root until registered
  return w;
}

SHADE_API void *shade_weak_get(const struct shade_weak *w) {
  if (w == NULL)
    return NULL;
  return weak_read(api_thread("shade_weak_get"), &w->hidden_target);
}

static bool link_arguments_valid(void **link, unsigned flags) {
  if (link == NULL || ((uintptr_t)link & (WORD_SIZE - 1)) || flags > SHADE_WEAK_LONG) {
    errno = EINVAL;
    return false;
  }
  return true;
}

SHADE_API int shade_weak_link(void **link, const void *target, unsigned flags) {
  if (!link_arguments_valid(link, flags) || !collectable_object(target))
    return -1;
  int result = weak_links_add((uintptr_t)link, (uintptr_t)target, flags);
  if (result < 0)
    errno = ENOMEM;
  __asm__ volatile("" : : "r"(target) : "memory");
  return result;
}

SHADE_API int shade_weak_unlink(void **link, unsigned flags) {
  if (!link_arguments_valid(link, flags))
    return 0;
  return weak_links_remove((uintptr_t)link, flags);
}

SHADE_API int shade_weak_move(void **link, void **new_link, unsigned flags) {
  if (!link_arguments_valid(link, flags) || !link_arguments_valid(new_link, flags))
    return -1;
  int result = weak_links_move((uintptr_t)link, (uintptr_t)new_link, flags);
  if (result == -1)
    errno = ENOENT;
  if (result == -2) {
    errno = ENOMEM;
    result = -1;
  }
  return result;
}

SHADE_API struct shade_ephemeron *shade_ephemeron_new(void *key, void *value) {
  if (!collectable_object(key))
    return NULL;
  struct shade_ephemeron *e = shade_malloc_atomic(sizeof *e);
  if (e == NULL)
    return NULL;
  e->hidden_key = weak_hide(key);
  e->hidden_value = weak_hide(value);
  if (ephemerons_add((uintptr_t)e) != 0) {
    errno = ENOMEM;
    return NULL;
  }
  __asm__ volatile("" : : "r"(key), "r"(value) : "memory");
  return e;
}

SHADE_API void *shade_ephemeron_key(const struct shade_ephemeron *e) {
  if (e == NULL)
    return NULL;
  return weak_read(api_thread("shade_ephemeron_key"), &e->hidden_key);
}

SHADE_API void *shade_ephemeron_value(const struct shade_ephemeron *e) {
  if (e == NULL)
    return NULL;
  struct shade_thread *t = api_thread("shade_ephemeron_value");
  if (weak_read(t, &e->hidden_key) == NULL)
    return NULL;
  return weak_read(t, &e->hidden_value);
}
