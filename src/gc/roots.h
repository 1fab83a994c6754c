// roots.h: where marking starts.
#ifndef SHADE_GC_ROOTS_H
#define SHADE_GC_ROOTS_H
#include "gc/mark.h"
#include "gc/threads.h"

void roots_init(bool scan_data_segments);
// Before the world stops (dl_iterate_phdr takes the loader lock): list the writable segments.
void roots_prepare(void);
void roots_lock(void);
void roots_unlock(void);
// World stopped, registry and roots locked: mark everything the roots reach (grey).
void roots_mark(struct marker *m, struct shade_thread *self, uintptr_t self_stack_pointer);
// The parts, for concurrent and incremental marking:
// one thread's stack from stack_pointer up, and its thread-local storage (t stopped or t = caller);
void roots_mark_thread(struct marker *m, struct shade_thread *t, uintptr_t stack_pointer);
// data segments and user ranges (roots locked; roots_prepare ran);
void roots_mark_ranges(struct marker *m);
// uncollectable objects (world stopped: the central lists are walked without their locks).
void roots_mark_uncollectable(struct marker *m);
void roots_add(uintptr_t lo, uintptr_t hi);
void roots_remove(uintptr_t lo, uintptr_t hi);
void roots_after_fork_child(void);

#endif
