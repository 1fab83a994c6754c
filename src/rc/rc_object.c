// rc_object.c: RC objects: types, allocation, counts reaching zero, tracking.
//
// An object is allocated with a header in front (rc_internal.h) and starts with count 1; a
// container is tracked at once in generation 0. When a decrement finds the count at 1, the object
// dies here, in this order: finalize (once in its life; a finalizer that stores a new reference
// resurrects the object, which is then left alive and tracked again), its weak references are
// cleared and their callbacks called, its references are dropped (clear, or a decrement of each
// child traverse lists), its memory goes back to the allocator.
//
// Freeing never recurses: dropping the references of a dying container can kill its children,
// which kill theirs, and a chain of ten million nested containers must not take ten million stack
// frames. So only the outermost death runs at once (dealloc_depth 0 -> 1); a container that dies
// while another death is in progress is untracked and pushed on a stack linked through its gc
// next word, and the outermost death pops and frees them one by one (CPython's trashcan, with a
// nesting limit of one). Atomic objects hold no counted references, so they die at once.
//
// Invariants: a tracked object has count >= 1; an object with count 0 is dying (on the pending
// stack, or inside dealloc_one) or freed; the pending stack is empty whenever dealloc_depth is 0.
// Generation 0's count goes up by one per container allocated and down by one per container freed
// (never below zero), as CPython's does.
//
// Debug builds (no NDEBUG, or SHADE_RC_DEBUG=1 in the environment) keep the last
// RC_QUARANTINE_SLOTS freed objects in a quarantine, marked RC_FLAG_FREED and with count 0, so
// that a decrement, increment (in checked code) or other call on a freed object is reported as
// such rather than corrupting whatever reuses the memory.
#include "rc/rc_internal.h"

#include "api/manual.h"
#include "base/options.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define RC_TYPE_REGISTERED ((uintptr_t)0x5348414445524331ull) // "SHADERC1"
#define RC_QUARANTINE_SLOTS 4096

static unsigned dealloc_depth;
static struct rc_gc *pending_top; // dying containers, linked through gc->next

static void *quarantine[RC_QUARANTINE_SLOTS];
static size_t quarantine_next;

// The quarantine: options.rc_debug / SHADE_RC_DEBUG, always in a library built without NDEBUG.
static bool rc_debug(void) {
#ifdef NDEBUG
  return shade_options_in_force.rc_debug > 0;
#else
  return true;
#endif
}

bool rc_object_is_freed(const void *obj) { return rc_flags(obj) & RC_FLAG_FREED; }

// ---------------------------------------------------------------------------------------------
// Types

SHADE_API int shade_rc_register_type(struct shade_rc_type *type) {
  if (type == NULL) {
    rc_report("shade_rc_register_type", type, "no type", NULL);
    errno = EINVAL;
    return -1;
  }
  if (type->shade_private == RC_TYPE_REGISTERED)
    return 0;
  const char *wrong = NULL;
  if (type->name == NULL)
    wrong = "the type has no name";
  else if (((uintptr_t)type & RC_FLAG_MASK) != 0)
    wrong = "the type description is not 16-byte aligned";
  else if (type->size == 0 && type->size_of == NULL)
    wrong = "the type has neither a size nor a size function";
  else if (type->clear != NULL && type->traverse == NULL)
    wrong = "the type has clear but no traverse";
  if (wrong) {
    rc_report("shade_rc_register_type", type, wrong, rc_type_name(type));
    errno = EINVAL;
    return -1;
  }
  type->shade_private = RC_TYPE_REGISTERED;
  return 0;
}

SHADE_API struct shade_rc_type *shade_rc_type_of(const void *obj) { return rc_type(obj); }

// ---------------------------------------------------------------------------------------------
// Allocation

static void *rc_new(struct shade_rc_type *type, size_t size, const char *call) {
  rc_lock_check(call, type);
  if (RC_UNLIKELY(type == NULL || type->shade_private != RC_TYPE_REGISTERED)) {
    if (shade_rc_register_type(type) != 0)
      return NULL;
  }
  bool container = type->traverse != NULL;
  size_t header = rc_header_size(container);
  if (RC_UNLIKELY(size > SIZE_MAX - header)) {
    errno = ENOMEM;
    return NULL;
  }
  if (container)
    rc_maybe_collect();
  char *base = manual_alloc(header + size);
  if (RC_UNLIKELY(base == NULL))
    return NULL;
  void *obj = base + header;
  struct shade_rc_head *head = rc_head(obj);
  head->shade_type_and_flags = (uintptr_t)type | (container ? RC_FLAG_CONTAINER : 0);
  head->shade_count = 1;
  if (container)
    rc_track_new(obj);
  return obj;
}

SHADE_API void *shade_rc_new(struct shade_rc_type *type) {
  return rc_new(type, type ? type->size : 0, "shade_rc_new");
}

SHADE_API void *shade_rc_new_var(struct shade_rc_type *type, size_t length) {
  if (type && type->size_of == NULL) {
    rc_report("shade_rc_new_var", type, "the type has no size function", rc_type_name(type));
    errno = EINVAL;
    return NULL;
  }
  return rc_new(type, type ? type->size_of(length) : 0, "shade_rc_new_var");
}

void rc_track_new(void *obj) {
  gc_list_append(rc_gc_of(obj), &rc_state.generations[0].head);
  rc_state.generations[0].count++;
}

void rc_maybe_collect(void) {
  struct rc_state *s = &rc_state;
  long threshold0 = s->generations[0].threshold;
  if (s->generations[0].count + 1 > threshold0 && threshold0 > 0 && s->enabled && !s->collecting) {
    for (int i = SHADE_RC_GENERATIONS - 1; i >= 0; i--) {
      if (s->generations[i].count + (i == 0) <= s->generations[i].threshold)
        continue;
      // The oldest generation only when the objects promoted into it since its last collection
      // are more than a quarter of those that survived it (CPython's rule against quadratic cost).
      if (i == SHADE_RC_GENERATIONS - 1 && !(s->long_lived_pending > s->long_lived_total / 4))
        continue;
      rc_collect_with_callbacks(i);
      break;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Death

static void rc_free_memory(void *obj) {
  bool container = rc_is_container(obj);
  if (container && rc_state.generations[0].count > 0)
    rc_state.generations[0].count--;
  char *base = (char *)obj - rc_header_size(container);
  struct shade_rc_head *head = rc_head(obj);
  head->shade_count = 0;
  head->shade_type_and_flags |= RC_FLAG_FREED;
  if (RC_UNLIKELY(rc_debug())) {
    void *evicted = quarantine[quarantine_next];
    quarantine[quarantine_next] = base;
    quarantine_next = (quarantine_next + 1) % RC_QUARANTINE_SLOTS;
    if (evicted)
      manual_free(evicted);
    return;
  }
  manual_free(base);
}

static void visit_release(void *child, void *arg) {
  (void)arg;
  if (child)
    shade_decref(child);
}

// The object's count is 0 and it is untracked. was_tracked: track it again if it is resurrected.
static void dealloc_one(void *obj, bool was_tracked) {
  struct shade_rc_head *head = rc_head(obj);
  struct shade_rc_type *type = rc_type(obj);
  if (type->finalize && !(rc_flags(obj) & RC_FLAG_FINALIZED)) {
    rc_set_flag(obj, RC_FLAG_FINALIZED);
    head->shade_count = 1; // the finalizer's own reference
    type->finalize(obj);
    if (--head->shade_count != 0) { // resurrected
      if (was_tracked)
        gc_list_append(rc_gc_of(obj), &rc_state.generations[0].head);
      return;
    }
  }
  if (rc_flags(obj) & RC_FLAG_WEAKREFS) {
    struct shade_rc_weakref *callbacks = NULL;
    rc_weakref_clear(obj, &callbacks);
    rc_weakref_run_callbacks(&callbacks);
  }
  if (type->clear)
    type->clear(obj);
  else if (type->traverse)
    type->traverse(obj, visit_release, NULL);
  rc_free_memory(obj);
}

static void rc_dealloc(void *obj) {
  bool was_tracked = false;
  if (rc_is_container(obj)) {
    struct rc_gc *gc = rc_gc_of(obj);
    was_tracked = gc_is_tracked(gc);
    if (was_tracked)
      gc_list_remove(gc);
    if (dealloc_depth > 0) { // another death is running: let its loop free this one
      gc->prev = was_tracked;
      gc->next = (uintptr_t)pending_top;
      pending_top = gc;
      return;
    }
  }
  dealloc_depth++;
  dealloc_one(obj, was_tracked);
  if (dealloc_depth == 1) {
    while (pending_top) {
      struct rc_gc *gc = pending_top;
      pending_top = gc_next(gc);
      bool tracked = gc->prev;
      gc->next = gc->prev = 0;
      dealloc_one(rc_object_of(gc), tracked);
    }
  }
  dealloc_depth--;
}

SHADE_API void shade_rc__dealloc(void *obj) {
  struct shade_rc_head *head = rc_head(obj);
  if (RC_UNLIKELY(head->shade_count == 0)) {
    if (rc_object_is_freed(obj))
      rc_report("shade_decref", obj, "use of a freed object", rc_type_name(rc_type(obj)));
    else
      rc_report("shade_decref", obj, "count below zero", rc_type_name(rc_type(obj)));
    return;
  }
  if (head->shade_count > 1) { // not reached through shade_decref
    head->shade_count--;
    return;
  }
  head->shade_count = 0;
  rc_dealloc(obj);
}

SHADE_API void shade_rc__incref_dead(void *obj) {
  if (rc_object_is_freed(obj))
    rc_report("shade_incref", obj, "use of a freed object", rc_type_name(rc_type(obj)));
  else
    rc_report("shade_incref", obj, "the object is being freed (count 0)", rc_type_name(rc_type(obj)));
}

// ---------------------------------------------------------------------------------------------
// Tracking

static bool rc_check_live(const char *call, const void *obj) {
  if (obj == NULL) {
    rc_report(call, obj, "not an RC object", NULL);
    return false;
  }
  if (RC_UNLIKELY(rc_object_is_freed(obj))) {
    rc_report(call, obj, "use of a freed object", rc_type_name(rc_type(obj)));
    return false;
  }
  return true;
}

SHADE_API void shade_rc_track(void *obj) {
  rc_lock_check("shade_rc_track", obj);
  if (!rc_check_live("shade_rc_track", obj))
    return;
  if (!rc_is_container(obj)) {
    rc_report("shade_rc_track", obj, "the type has no traverse: not a container, not tracked",
              rc_type_name(rc_type(obj)));
    return;
  }
  struct rc_gc *gc = rc_gc_of(obj);
  if (!gc_is_tracked(gc) && rc_head(obj)->shade_count > 0)
    gc_list_append(gc, &rc_state.generations[0].head);
}

SHADE_API void shade_rc_untrack(void *obj) {
  rc_lock_check("shade_rc_untrack", obj);
  if (!rc_check_live("shade_rc_untrack", obj))
    return;
  if (rc_is_container(obj) && gc_is_tracked(rc_gc_of(obj)) && rc_head(obj)->shade_count > 0)
    gc_list_remove(rc_gc_of(obj));
}

SHADE_API int shade_rc_is_tracked(const void *obj) {
  if (!rc_check_live("shade_rc_is_tracked", obj))
    return 0;
  return rc_is_container(obj) && rc_head(obj)->shade_count > 0 && gc_is_tracked(rc_gc_of(obj));
}

SHADE_API int shade_rc_is_finalized(const void *obj) {
  if (!rc_check_live("shade_rc_is_finalized", obj))
    return 0;
  return (rc_flags(obj) & RC_FLAG_FINALIZED) != 0;
}
