// shade/rc.h: reference-counted objects with a generational cycle collector (CPython's model).
//
// An RC object is freed the moment its count reaches zero; reference cycles, which counting alone
// never frees, are found by a cycle collector over "container" objects (those whose type has a
// traverse function), with CPython's gc_refs algorithm and generations. RC objects share Shade's
// allocator but not its tracing collector: the tracing collector never scans them, so an RC object
// must not be the only holder of a pointer to a shade_malloc'd object.
//
// Threading: one process-wide lock, the RC lock (CPython's GIL), protects every count, every RC
// object's reference fields and the collector. A program that uses RC objects from one thread only
// need not take it. Once RC objects are used from two threads, every thread holds the lock
// (shade_rc_lock / shade_rc_unlock) around every call below and every read or write of a counted
// reference. The lock is recursive; finalizers, clear, weak-reference and collection callbacks run
// with it held. See docs/rc.md.
//
// Object layout (the inline functions below rely on the last two words only):
//   container:  [ gc next | gc prev | type+flags | count ] object...
//   atomic:                        [ type+flags | count ] object...
#ifndef SHADE_RC_H
#define SHADE_RC_H

#include <shade.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifndef SHADE_API
#define SHADE_API __attribute__((visibility("default")))
#endif

// ---------------------------------------------------------------------------------------------
// Types

// traverse calls visit(child, arg) once for each reference the object holds to a counted object
// (NULL children may be passed; they are ignored). It must not change counts, allocate or lock.
typedef void (*shade_rc_visit_fn)(void *child, void *arg);

struct __attribute__((aligned(16))) shade_rc_type {
  const char *name;                 // for messages
  size_t size;                      // bytes of an object made by shade_rc_new
  size_t (*size_of)(size_t length); // optional: bytes of an object made by shade_rc_new_var
  // Lists the object's references to other counted objects. NULL: the type is atomic (holds no
  // counted references) and its objects are never tracked by the cycle collector.
  void (*traverse)(void *object, shade_rc_visit_fn visit, void *arg);
  // Drops the object's references (decref each one and set the field to NULL). Called to break a
  // cycle, and to release the children when the object is freed. NULL for a container: freeing
  // decrefs the children traverse lists, and a cycle made only of such objects is uncollectable.
  void (*clear)(void *object);
  // Optional; called once in the object's life, just before it would be freed (count zero, or
  // found unreachable). It may store a new reference to the object ("resurrection"): the object
  // then survives and its finalizer is not called again.
  void (*finalize)(void *object);
  uintptr_t shade_private; // Shade's; zero in a new description
};

// Checks a type description once (name, size or size_of, ...). Returns 0, or -1 after a message.
// shade_rc_new registers an unregistered type on its first use.
SHADE_API int shade_rc_register_type(struct shade_rc_type *type);

// ---------------------------------------------------------------------------------------------
// Objects

// A new zeroed object with count 1 (NULL with errno = ENOMEM). A container is tracked at once,
// in generation 0: its traverse must accept an object that is still all zeroes.
SHADE_API void *shade_rc_new(struct shade_rc_type *type);
SHADE_API void *shade_rc_new_var(struct shade_rc_type *type, size_t length); // size_of(length)
SHADE_API struct shade_rc_type *shade_rc_type_of(const void *object);

struct shade_rc_head {
  uintptr_t shade_type_and_flags;
  uintptr_t shade_count; // the word just before the object
};

static inline struct shade_rc_head *shade_rc__head(const void *object) {
  return (struct shade_rc_head *)object - 1;
}

// The slow paths of shade_decref (count was 1, or 0: misuse) and, in checked code, shade_incref.
SHADE_API void shade_rc__dealloc(void *object);
SHADE_API void shade_rc__incref_dead(void *object);

// Code compiled without NDEBUG (or with SHADE_RC_CHECKS=1) also checks each increment.
#ifndef SHADE_RC_CHECKS
#ifdef NDEBUG
#define SHADE_RC_CHECKS 0
#else
#define SHADE_RC_CHECKS 1
#endif
#endif

static inline void shade_incref(void *object) {
  struct shade_rc_head *head = shade_rc__head(object);
  if (SHADE_RC_CHECKS && __builtin_expect(head->shade_count == 0, 0))
    shade_rc__incref_dead(object);
  else
    head->shade_count++;
}

static inline void shade_decref(void *object) {
  struct shade_rc_head *head = shade_rc__head(object);
  if (__builtin_expect(head->shade_count > 1, 1))
    head->shade_count--;
  else
    shade_rc__dealloc(object); // 1 -> 0: finalize and free; 0: reported
}

static inline void shade_xincref(void *object) { if (object) shade_incref(object); }
static inline void shade_xdecref(void *object) { if (object) shade_decref(object); }
static inline size_t shade_rc_count(const void *object) { return shade_rc__head(object)->shade_count; }

// Tracking, as CPython's PyObject_GC_Track / _UnTrack / gc.is_tracked. Only containers can be
// tracked; tracking an atomic object is reported and ignored.
SHADE_API void shade_rc_track(void *object);
SHADE_API void shade_rc_untrack(void *object);
SHADE_API int shade_rc_is_tracked(const void *object);
SHADE_API int shade_rc_is_finalized(const void *object); // its finalizer has run

// ---------------------------------------------------------------------------------------------
// The cycle collector (the controls of Python's gc module)

#define SHADE_RC_GENERATIONS 3

// Collects generations 0..generation (0, 1 or 2) now, even when disabled. Returns the number of
// unreachable objects found (0 when a collection is already running).
SHADE_API size_t shade_rc_collect(int generation);
SHADE_API void shade_rc_get_count(long counts[SHADE_RC_GENERATIONS]);
// Defaults 700, 10, 10. threshold0 = 0 turns automatic collection off.
SHADE_API void shade_rc_set_threshold(long threshold0, long threshold1, long threshold2);
SHADE_API void shade_rc_get_threshold(long thresholds[SHADE_RC_GENERATIONS]);
SHADE_API void shade_rc_enable(void);  // automatic collection on (the default)
SHADE_API void shade_rc_disable(void); // off; shade_rc_collect still works
SHADE_API int shade_rc_is_enabled(void);
// Moves every tracked object to the permanent generation, which no collection looks at;
// unfreeze moves them back into the oldest generation.
SHADE_API void shade_rc_freeze(void);
SHADE_API void shade_rc_unfreeze(void);
SHADE_API size_t shade_rc_get_freeze_count(void);
// Writes up to capacity tracked objects of the generation (-1: all three, not the permanent one)
// into out and returns how many there are. The pointers are borrowed.
SHADE_API size_t shade_rc_get_objects(int generation, void **out, size_t capacity);

struct shade_rc_collect_info {
  int generation;       // the oldest generation collected
  size_t collected;     // unreachable objects found (0 in the "start" call)
  size_t uncollectable; // of those, still alive after their cycles were cleared
};
enum shade_rc_phase { SHADE_RC_START, SHADE_RC_STOP };
typedef void (*shade_rc_callback_fn)(enum shade_rc_phase phase,
                                     const struct shade_rc_collect_info *info, void *arg);
// Up to 16 callbacks, called in registration order at the start and end of every collection.
SHADE_API int shade_rc_add_callback(shade_rc_callback_fn callback, void *arg); // 0 or -1
SHADE_API int shade_rc_remove_callback(shade_rc_callback_fn callback, void *arg);

struct shade_rc_gen_stats {
  uint64_t collections;   // collections of this generation (as the oldest collected)
  uint64_t collected;     // unreachable objects found by them
  uint64_t uncollectable; // objects those left alive
};
SHADE_API void shade_rc_get_stats(struct shade_rc_gen_stats stats[SHADE_RC_GENERATIONS]);

// ---------------------------------------------------------------------------------------------
// Weak references. A weak reference does not count; when its object dies (count zero, or found
// unreachable and not resurrected) it is cleared, then its callback, if any, is called. The
// program frees each weak reference it made with shade_rc_weakref_free (also from the callback).

struct shade_rc_weakref;
typedef void (*shade_rc_weakref_callback)(struct shade_rc_weakref *ref, void *arg);
SHADE_API struct shade_rc_weakref *shade_rc_weakref_new(void *object,
                                                        shade_rc_weakref_callback callback,
                                                        void *arg);
SHADE_API void *shade_rc_weakref_get(struct shade_rc_weakref *ref); // new reference, or NULL
SHADE_API void *shade_rc_weakref_peek(struct shade_rc_weakref *ref); // borrowed, or NULL
SHADE_API void shade_rc_weakref_free(struct shade_rc_weakref *ref);
SHADE_API size_t shade_rc_weakref_count(const void *object);

// ---------------------------------------------------------------------------------------------
// The RC lock (recursive). See the threading rule at the top.

SHADE_API void shade_rc_lock(void);
SHADE_API void shade_rc_unlock(void);

#ifdef __cplusplus
}
#endif
#endif // SHADE_RC_H
