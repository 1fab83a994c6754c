// finalize.c: bdwgc's finalizers, disappearing links and disclaim procedures over Shade's
// finalization (shade_set_finalizer, shade_weak_link).
//
// Flavours: GC_register_finalizer is SHADE_FINALIZE_ORDERED, _ignore_self IGNORE_SELF,
// _no_order UNORDERED, _unreachable UNREACHABLE; the previous finalizer comes back through
// ofn/ocd. A pointer that is not in Shade's heap registers nothing and reports no old finalizer
// (bdwgc's behaviour); an interior pointer gets one message and registers nothing.
//
// Delivery: Shade runs finalizers on demand here (init.c asks for it), and calls our notifier
// when some are ready. Without GC_finalize_on_demand the notifier raises
// compat_finalizers_waiting and the next allocation call on any thread runs them (where bdwgc
// runs them), never nested in a finalizer of the same thread. With GC_finalize_on_demand the
// program's GC_finalizer_notifier is called instead, and GC_invoke_finalizers runs them.
//
// Disappearing links: short ones are SHADE_WEAK_SHORT links, long ones SHADE_WEAK_LONG, with
// bdwgc's results (GC_SUCCESS, GC_DUPLICATE, GC_NO_MEMORY, GC_NOT_FOUND).
//
// Disclaim (gc_disclaim.h): a disclaim procedure becomes a finalizer on each object of its kind,
// ordered when the kind marks from all its objects (what they reach outlives them), unordered
// otherwise; a nonzero result keeps the object, with its finalizer set again. GC_set_mark_bit
// and GC_is_marked serve the procedure's "was it revived?" question: a mark set since the object
// was last found unreachable makes GC_is_marked true inside its disclaim procedure.
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "compat.h"
#include "gc/gc_disclaim.h"
#include "gc/javaxfc.h"

atomic_int compat_finalizers_waiting;
static __thread int running_finalizers;

static void finalizers_ready(void) {
  if (GC_finalize_on_demand) {
    GC_finalizer_notifier_proc notifier = GC_finalizer_notifier;
    if (notifier)
      notifier();
  } else {
    atomic_store_explicit(&compat_finalizers_waiting, 1, memory_order_relaxed);
  }
}

void compat_finalization_init(void) {
  shade_set_finalize_on_demand(1);
  shade_set_finalizer_notifier(finalizers_ready);
}

void compat_run_waiting_finalizers(void) {
  if (running_finalizers || GC_finalize_on_demand)
    return;
  running_finalizers = 1;
  atomic_store_explicit(&compat_finalizers_waiting, 0, memory_order_relaxed);
  shade_run_finalizers();
  running_finalizers = 0;
}

GC_API void GC_CALL GC_set_finalize_on_demand(int on) {
  GC_finalize_on_demand = on;
  if (!on && atomic_load(&compat_initialized) && shade_finalizers_pending() > 0)
    atomic_store(&compat_finalizers_waiting, 1);
}
GC_API int GC_CALL GC_get_finalize_on_demand(void) { return GC_finalize_on_demand; }
GC_API void GC_CALL GC_set_finalizer_notifier(GC_finalizer_notifier_proc fn) {
  GC_finalizer_notifier = fn;
}
GC_API GC_finalizer_notifier_proc GC_CALL GC_get_finalizer_notifier(void) {
  return GC_finalizer_notifier;
}

GC_API int GC_CALL GC_should_invoke_finalizers(void) {
  if (!atomic_load(&compat_initialized))
    return 0;
  return shade_finalizers_pending() > 0;
}

GC_API int GC_CALL GC_invoke_finalizers(void) {
  compat_ready();
  int was_running = running_finalizers;
  running_finalizers = 1;
  int count = shade_run_finalizers();
  running_finalizers = was_running;
  return count;
}

// Java's runFinalizersOnExit: Shade cannot finalize reachable objects; this collects and runs
// every finalizer that is ready (docs/bdwgc.md).
GC_API void GC_CALL GC_finalize_all(void) {
  GC_gcollect();
  GC_invoke_finalizers();
}

// bdwgc keeps a finalizer's client data alive while the finalizer is registered (Guile's
// guardians hang their state there); so does Shade's finalizer table.
static void register_finalizer(const char *call, void *object, GC_finalization_proc fn,
                               void *data, GC_finalization_proc *old_fn, void **old_data,
                               unsigned flags) {
  compat_ready();
  if (old_fn)
    *old_fn = NULL;
  if (old_data)
    *old_data = NULL;
  void *base = shade_base(object);
  if (base == NULL)
    return; // not a Shade object: bdwgc registers nothing, silently
  if (base != object) {
    compat_message("shade: %s(%p): not the start of an object (it starts at %p); no finalizer "
                   "registered", call, object, base);
    return;
  }
  shade_finalizer_fn previous;
  void *previous_data;
  if (shade_get_finalizer(object, &previous, &previous_data)) {
    if (old_fn)
      *old_fn = (GC_finalization_proc)previous;
    if (old_data)
      *old_data = previous_data;
  }
  if (shade_set_finalizer(object, (shade_finalizer_fn)fn, data, flags) == 0 || errno == EINVAL)
    return; // EINVAL: an uncollectable object; bdwgc accepts the call and never runs it
  compat_message("shade: %s(%p): no memory for the finalizer", call, object);
}

GC_API void GC_CALL GC_register_finalizer(void *obj, GC_finalization_proc fn, void *cd,
                                          GC_finalization_proc *ofn, void **ocd) {
  register_finalizer("GC_register_finalizer", obj, fn, cd, ofn, ocd, SHADE_FINALIZE_ORDERED);
}
GC_API void GC_CALL GC_register_finalizer_ignore_self(void *obj, GC_finalization_proc fn,
                                                      void *cd, GC_finalization_proc *ofn,
                                                      void **ocd) {
  register_finalizer("GC_register_finalizer_ignore_self", obj, fn, cd, ofn, ocd,
                     SHADE_FINALIZE_IGNORE_SELF);
}
GC_API void GC_CALL GC_register_finalizer_no_order(void *obj, GC_finalization_proc fn, void *cd,
                                                   GC_finalization_proc *ofn, void **ocd) {
  register_finalizer("GC_register_finalizer_no_order", obj, fn, cd, ofn, ocd,
                     SHADE_FINALIZE_UNORDERED);
}
GC_API void GC_CALL GC_register_finalizer_unreachable(void *obj, GC_finalization_proc fn,
                                                      void *cd, GC_finalization_proc *ofn,
                                                      void **ocd) {
  register_finalizer("GC_register_finalizer_unreachable", obj, fn, cd, ofn, ocd,
                     SHADE_FINALIZE_UNREACHABLE);
}
GC_API void GC_CALL GC_debug_register_finalizer(void *obj, GC_finalization_proc fn, void *cd,
                                                GC_finalization_proc *ofn, void **ocd) {
  GC_register_finalizer(obj, fn, cd, ofn, ocd);
}
GC_API void GC_CALL GC_debug_register_finalizer_ignore_self(void *obj, GC_finalization_proc fn,
                                                            void *cd, GC_finalization_proc *ofn,
                                                            void **ocd) {
  GC_register_finalizer_ignore_self(obj, fn, cd, ofn, ocd);
}
GC_API void GC_CALL GC_debug_register_finalizer_no_order(void *obj, GC_finalization_proc fn,
                                                         void *cd, GC_finalization_proc *ofn,
                                                         void **ocd) {
  GC_register_finalizer_no_order(obj, fn, cd, ofn, ocd);
}
GC_API void GC_CALL GC_debug_register_finalizer_unreachable(void *obj, GC_finalization_proc fn,
                                                            void *cd, GC_finalization_proc *ofn,
                                                            void **ocd) {
  GC_register_finalizer_unreachable(obj, fn, cd, ofn, ocd);
}

// ---- Disappearing links

static int register_link(const char *call, void **link, const void *object, unsigned flags) {
  compat_ready();
  if (((uintptr_t)link & (sizeof(void *) - 1)) != 0)
    compat_abort("Bad arg to GC_general_register_disappearing_link"); // bdwgc's abort
  (void)call;
  int result = shade_weak_link(link, object, flags);
  if (result == 0)
    return GC_SUCCESS;
  if (result == 1)
    return GC_DUPLICATE;
  if (errno == ENOMEM)
    return GC_NO_MEMORY;
  compat_message("shade: %s(%p, %p): the object is not in Shade's heap; no link registered",
                 call, (void *)link, object);
  return GC_NO_MEMORY;
}

GC_API int GC_CALL GC_general_register_disappearing_link(void **link, const void *obj) {
  return register_link("GC_general_register_disappearing_link", link, obj, SHADE_WEAK_SHORT);
}
GC_API int GC_CALL GC_register_long_link(void **link, const void *obj) {
  return register_link("GC_register_long_link", link, obj, SHADE_WEAK_LONG);
}
// The link lies inside the object it watches (bdwgc's oldest form).
GC_API int GC_CALL GC_register_disappearing_link(void **link) {
  compat_ready();
  void *base = shade_base(link);
  if (base == NULL)
    compat_abort("Bad arg to GC_register_disappearing_link");
  return GC_general_register_disappearing_link(link, base);
}

static int unregister_link(void **link, unsigned flags) {
  if (link == NULL || !atomic_load(&compat_initialized))
    return 0;
  if (((uintptr_t)link & (sizeof(void *) - 1)) != 0)
    return 0;
  return shade_weak_unlink(link, flags) == 1;
}
GC_API int GC_CALL GC_unregister_disappearing_link(void **link) {
  return unregister_link(link, SHADE_WEAK_SHORT);
}
GC_API int GC_CALL GC_unregister_long_link(void **link) {
  return unregister_link(link, SHADE_WEAK_LONG);
}

static int move_link(void **link, void **new_link, unsigned flags) {
  compat_ready();
  if (((uintptr_t)new_link & (sizeof(void *) - 1)) != 0)
    compat_abort("Bad new_link arg to GC_move_disappearing_link");
  if (link == NULL || ((uintptr_t)link & (sizeof(void *) - 1)) != 0)
    return GC_NOT_FOUND;
  int result = shade_weak_move(link, new_link, flags);
  if (result == 0)
    return GC_SUCCESS;
  if (result == 1)
    return GC_DUPLICATE;
  return GC_NOT_FOUND;
}
GC_API int GC_CALL GC_move_disappearing_link(void **link, void **new_link) {
  return move_link(link, new_link, SHADE_WEAK_SHORT);
}
GC_API int GC_CALL GC_move_long_link(void **link, void **new_link) {
  return move_link(link, new_link, SHADE_WEAK_LONG);
}

// ---- Toggle references (Mono's): Shade has no equivalent; they are documented unsupported.
static GC_toggleref_func toggleref_func;
GC_API void GC_CALL GC_set_toggleref_func(GC_toggleref_func fn) { toggleref_func = fn; }
GC_API GC_toggleref_func GC_CALL GC_get_toggleref_func(void) { return toggleref_func; }
GC_API int GC_CALL GC_toggleref_add(void *obj, int is_strong) {
  (void)obj, (void)is_strong;
  return GC_UNIMPLEMENTED;
}
static GC_await_finalize_proc await_finalize;
GC_API void GC_CALL GC_set_await_finalize_proc(GC_await_finalize_proc fn) { await_finalize = fn; }
GC_API GC_await_finalize_proc GC_CALL GC_get_await_finalize_proc(void) { return await_finalize; }

// ---- Mark bits set by the program, for disclaim procedures (see the top of the file).
static pthread_mutex_t marks_lock = PTHREAD_MUTEX_INITIALIZER;
static const void **marks;  // open addressing; NULL: empty, (void *)1: removed
static size_t marks_capacity, marks_used;
static __thread const void *disclaiming;

static size_t mark_slot(const void *p, size_t capacity) {
  return (size_t)(((uintptr_t)p >> 4) * 0x9E3779B97F4A7C15ull) & (capacity - 1);
}

static void marks_grow(void) {
  size_t old_capacity = marks_capacity;
  const void **old = marks;
  marks_capacity = old_capacity ? old_capacity * 2 : 256;
  marks = calloc(marks_capacity, sizeof *marks);
  if (marks == NULL)
    compat_abort("GC_set_mark_bit: out of memory");
  marks_used = 0;
  for (size_t i = 0; i < old_capacity; i++) {
    if (old[i] == NULL || old[i] == (const void *)1)
      continue;
    size_t s = mark_slot(old[i], marks_capacity);
    while (marks[s] != NULL)
      s = (s + 1) & (marks_capacity - 1);
    marks[s] = old[i];
    marks_used++;
  }
  free(old);
}

static size_t marks_find(const void *p) { // caller holds marks_lock; SIZE_MAX if absent
  if (marks_capacity == 0)
    return SIZE_MAX;
  for (size_t s = mark_slot(p, marks_capacity), n = 0; n < marks_capacity;
       s = (s + 1) & (marks_capacity - 1), n++) {
    if (marks[s] == NULL)
      return SIZE_MAX;
    if (marks[s] == p)
      return s;
  }
  return SIZE_MAX;
}

GC_API void GC_CALL GC_set_mark_bit(const void *p) {
  pthread_mutex_lock(&marks_lock);
  if (marks_find(p) == SIZE_MAX) {
    if ((marks_used + 1) * 2 > marks_capacity)
      marks_grow();
    size_t s = mark_slot(p, marks_capacity);
    while (marks[s] != NULL && marks[s] != (const void *)1)
      s = (s + 1) & (marks_capacity - 1);
    if (marks[s] == NULL)
      marks_used++;
    marks[s] = p;
  }
  pthread_mutex_unlock(&marks_lock);
}

static int marks_take(const void *p) {
  pthread_mutex_lock(&marks_lock);
  size_t s = marks_find(p);
  if (s != SIZE_MAX)
    marks[s] = (const void *)1;
  pthread_mutex_unlock(&marks_lock);
  return s != SIZE_MAX;
}

GC_API void GC_CALL GC_clear_mark_bit(const void *p) { marks_take(p); }

// Inside a disclaim procedure, for its object: was it marked again since it was found
// unreachable? Elsewhere: is it a live object (the last collection kept it, or it is newer).
GC_API int GC_CALL GC_is_marked(const void *p) {
  if (p == disclaiming) {
    pthread_mutex_lock(&marks_lock);
    int marked = marks_find(p) != SIZE_MAX;
    pthread_mutex_unlock(&marks_lock);
    return marked;
  }
  return GC_is_heap_ptr(p);
}

static unsigned disclaim_flags(int mark_from_all) {
  return mark_from_all ? SHADE_FINALIZE_ORDERED : SHADE_FINALIZE_UNORDERED;
}
static int kind_marks_from_all[COMPAT_MAX_KINDS];

static void GC_CALLBACK run_disclaim(void *object, void *data) {
  int kind = (int)(intptr_t)data;
  compat_disclaim_fn proc = compat_kind_disclaim(kind);
  if (proc == NULL)
    return;
  const void *outer = disclaiming;
  disclaiming = object;
  int keep = proc(object);
  disclaiming = outer;
  marks_take(object);
  if (keep) // the object stays; its procedure runs again when it is next found unreachable
    shade_set_finalizer(object, run_disclaim, data, disclaim_flags(kind_marks_from_all[kind]));
}

void compat_disclaim_register(void *base, int kind) {
  shade_set_finalizer(base, run_disclaim, (void *)(intptr_t)kind,
                      disclaim_flags(kind_marks_from_all[kind]));
}

GC_API void GC_CALL GC_register_disclaim_proc(int kind, GC_disclaim_proc proc, int mark_from_all) {
  compat_ready();
  if (kind < 0 || kind >= compat_kind_count()) {
    compat_message("shade: GC_register_disclaim_proc(%d): no such kind; ignored", kind);
    return;
  }
  kind_marks_from_all[kind] = mark_from_all;
  compat_kinds_set_disclaim(kind, proc);
}

// ---- GC_finalized_malloc: the closure pointer (tagged with bit 0) in a word before the object.
GC_API void GC_CALL GC_init_finalized_malloc(void) { compat_ready(); }

static void GC_CALLBACK run_closure(void *base, void *data) {
  (void)data;
  GC_word tagged = *(GC_word *)base;
  const struct GC_finalizer_closure *closure =
      (const struct GC_finalizer_closure *)(tagged & ~(GC_word)1);
  if (closure != NULL && closure->proc != NULL)
    closure->proc((GC_word *)base + 1, closure->cd);
}

GC_API void *GC_CALL GC_finalized_malloc(size_t bytes, const struct GC_finalizer_closure *fc) {
  if (bytes > SIZE_MAX - sizeof(GC_word))
    return compat_out_of_memory(bytes);
  GC_word *base = GC_malloc(bytes + sizeof(GC_word));
  if (base == NULL)
    return NULL;
  *base = (GC_word)fc | 1;
  // Ordered: what the object reaches outlives its closure (bdwgc marks from these objects).
  shade_set_finalizer(base, run_closure, NULL, SHADE_FINALIZE_ORDERED);
  return base + 1;
}
