// stw_cycle.h: the stop-the-world collection (stw_cycle.c).
#ifndef SHADE_GC_STW_CYCLE_H
#define SHADE_GC_STW_CYCLE_H
#include "gc/threads.h"

// A whole collection with the world stopped. Collector lock held, no marking under way; self is
// the calling registered thread (or NULL), stack_pointer where its roots start. generation: the
// oldest generation to collect (2, or anything without generations: a full collection).
void stw_cycle_run(struct shade_thread *self, uintptr_t stack_pointer, unsigned generation);

// The same collection, with inspect(self, stack_pointer, context) called once in its pause right
// after marking, before anything is swept: the world is stopped, the registry and the roots are
// locked, every cache is flushed, and the live objects are exactly the marked ones (the heap
// snapshot, heap_snapshot.c). inspect must not use the C library's malloc.
typedef void (*stw_inspect_fn)(struct shade_thread *self, uintptr_t stack_pointer, void *context);
void stw_cycle_run_inspecting(struct shade_thread *self, uintptr_t stack_pointer,
                              unsigned generation, stw_inspect_fn inspect, void *context);

#endif
