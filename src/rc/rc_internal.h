// rc_internal.h: what the files of src/rc share: the object header, the generation lists and the
// collector's state.
//
// Header words (see include/shade/rc.h for the layout):
//   type_and_flags  the type pointer (16-byte aligned) | RC_FLAG_* in the low four bits
//   count           the reference count; 0 only while the object is being freed, or after
//   gc next / prev  containers only: links of the doubly linked list of the object's generation
//                   (next == NULL: untracked). During a collection, prev of an object being
//                   collected holds gc_refs << RC_REFS_SHIFT | RC_PREV_COLLECTING, and next may
//                   carry RC_NEXT_UNREACHABLE (CPython's trick: no extra word per object).
// Every list is circular around a head node that is never an object.
#ifndef SHADE_RC_INTERNAL_H
#define SHADE_RC_INTERNAL_H

#include <shade/rc.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RC_LIKELY(x) __builtin_expect(!!(x), 1)
#define RC_UNLIKELY(x) __builtin_expect(!!(x), 0)

enum {
  RC_FLAG_CONTAINER = 1, // has a gc head (its type has traverse)
  RC_FLAG_FINALIZED = 2, // finalize has run
  RC_FLAG_WEAKREFS = 4,  // the weak-reference table has an entry for it
  RC_FLAG_FREED = 8,     // freed (seen only while the memory waits in the debug quarantine)
  RC_FLAG_MASK = 15,
};

struct rc_gc {
  uintptr_t next; // struct rc_gc *, low bit RC_NEXT_UNREACHABLE during a collection
  uintptr_t prev; // struct rc_gc *, or gc_refs << 2 | flags during a collection
};

#define RC_PREV_COLLECTING ((uintptr_t)1)
#define RC_PREV_FLAGS ((uintptr_t)3)
#define RC_REFS_SHIFT 2
#define RC_NEXT_UNREACHABLE ((uintptr_t)1)

// Header and object.
static inline struct shade_rc_head *rc_head(const void *obj) { return shade_rc__head(obj); }
static inline struct shade_rc_type *rc_type(const void *obj) {
  return (struct shade_rc_type *)(rc_head(obj)->shade_type_and_flags & ~(uintptr_t)RC_FLAG_MASK);
}
static inline uintptr_t rc_flags(const void *obj) {
  return rc_head(obj)->shade_type_and_flags & RC_FLAG_MASK;
}
static inline void rc_set_flag(void *obj, uintptr_t f) { rc_head(obj)->shade_type_and_flags |= f; }
static inline void rc_clear_flag(void *obj, uintptr_t f) { rc_head(obj)->shade_type_and_flags &= ~f; }
static inline bool rc_is_container(const void *obj) { return rc_flags(obj) & RC_FLAG_CONTAINER; }
static inline struct rc_gc *rc_gc_of(const void *obj) {
  return (struct rc_gc *)((char *)obj - sizeof(struct shade_rc_head)) - 1;
}
static inline void *rc_object_of(struct rc_gc *gc) {
  return (char *)(gc + 1) + sizeof(struct shade_rc_head);
}
static inline size_t rc_header_size(bool container) {
  return sizeof(struct shade_rc_head) + (container ? sizeof(struct rc_gc) : 0);
}

// Lists (valid outside the subtract / move_unreachable phases; prev's flag bits are kept).
static inline struct rc_gc *gc_next(struct rc_gc *g) { return (struct rc_gc *)g->next; }
static inline struct rc_gc *gc_prev(struct rc_gc *g) {
  return (struct rc_gc *)(g->prev & ~RC_PREV_FLAGS);
}
static inline void gc_set_prev(struct rc_gc *g, struct rc_gc *p) {
  g->prev = (g->prev & RC_PREV_FLAGS) | (uintptr_t)p;
}
static inline bool gc_is_tracked(struct rc_gc *g) { return g->next != 0; }
static inline void gc_list_init(struct rc_gc *list) {
  list->next = (uintptr_t)list;
  list->prev = (uintptr_t)list;
}
static inline bool gc_list_is_empty(struct rc_gc *list) { return gc_next(list) == list; }
static inline void gc_list_append(struct rc_gc *node, struct rc_gc *list) {
  struct rc_gc *last = gc_prev(list);
  gc_set_prev(node, last);
  node->next = (uintptr_t)list;
  last->next = (uintptr_t)node;
  list->prev = (uintptr_t)node;
}
static inline void gc_list_remove(struct rc_gc *node) {
  struct rc_gc *prev = gc_prev(node), *next = gc_next(node);
  prev->next = (uintptr_t)next;
  gc_set_prev(next, prev);
  node->next = 0;
  node->prev = 0;
}
static inline void gc_list_move(struct rc_gc *node, struct rc_gc *list) {
  struct rc_gc *prev = gc_prev(node), *next = gc_next(node);
  prev->next = (uintptr_t)next;
  gc_set_prev(next, prev);
  gc_list_append(node, list);
}
// Appends every node of from to to; from becomes empty.
static inline void gc_list_merge(struct rc_gc *from, struct rc_gc *to) {
  if (gc_list_is_empty(from))
    return;
  struct rc_gc *to_last = gc_prev(to), *first = gc_next(from), *last = gc_prev(from);
  to_last->next = (uintptr_t)first;
  gc_set_prev(first, to_last);
  last->next = (uintptr_t)to;
  to->prev = (uintptr_t)last;
  gc_list_init(from);
}
size_t gc_list_size(struct rc_gc *list);

// The collector's state (rc_generations.c). Everything is protected by the RC lock.
struct rc_generation {
  struct rc_gc head;
  long threshold;
  long count; // gen 0: container allocations minus deallocations; gen n: collections of gen n-1
};

#define RC_MAX_CALLBACKS 16

struct rc_state {
  struct rc_generation generations[SHADE_RC_GENERATIONS];
  struct rc_gc permanent;
  size_t long_lived_total;   // objects in the oldest generation after its last collection
  size_t long_lived_pending; // objects promoted into it since
  bool enabled;
  bool collecting;
  int callback_count;
  struct {
    shade_rc_callback_fn fn;
    void *arg;
  } callbacks[RC_MAX_CALLBACKS];
  struct shade_rc_gen_stats stats[SHADE_RC_GENERATIONS];
};
extern struct rc_state rc_state;

// rc_object.c
void rc_track_new(void *obj); // into generation 0, counts as an allocation
void rc_maybe_collect(void);  // the automatic trigger, called before a container is allocated
bool rc_object_is_freed(const void *obj);

// rc_cycle.c: collects generations 0..generation; returns unreachable objects found.
size_t rc_collect_generation(int generation, size_t *uncollectable);

// rc_generations.c: collection with callbacks and counter updates.
size_t rc_collect_with_callbacks(int generation);

// rc_weakref.c: clears the object's weak references and queues their callbacks on *pending;
// rc_weakref_run_callbacks runs and empties the queue.
struct shade_rc_weakref;
void rc_weakref_clear(void *obj, struct shade_rc_weakref **pending);
void rc_weakref_run_callbacks(struct shade_rc_weakref **pending);

// rc_lock.c
void rc_lock_check(const char *call, const void *ptr); // reports a call without the lock

// rc_message.c: one line "shade: <call>(<pointer>): <what> (type <name>)".
void rc_report(const char *call, const void *ptr, const char *what, const char *type_name);
const char *rc_type_name(const struct shade_rc_type *type);

#endif
