// stw_cycle.h: the stop-the-world collection (stw_cycle.c).
#ifndef SHADE_GC_STW_CYCLE_H
#define SHADE_GC_STW_CYCLE_H
#include "gc/threads.h"

// A whole collection with the world stopped. Collector lock held, no marking under way; self is
// the calling registered thread (or NULL), stack_pointer where its roots start. generation: the
// oldest generation to collect (2, or anything without generations: a full collection).
void stw_cycle_run(struct shade_thread *self, uintptr_t stack_pointer, unsigned generation);

#endif
