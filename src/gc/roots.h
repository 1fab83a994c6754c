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
// The same with the world running (mark start of a concurrent cycle): spans found through the
// page map, large objects under their lock.
void roots_mark_uncollectable_running(struct marker *m);
// The uncollectable objects of the spans thread t holds in its cache (t stopped).
void roots_mark_cached_uncollectable(struct marker *m, struct shade_thread *t);
// The ranges roots_mark_ranges scans, one call each, for the heap snapshot (roots locked;
// roots_prepare ran). Data segments come with the loader's path of their object ("" for the
// program itself) and its load address; user ranges with NULL and 0.
enum root_range_kind { ROOT_DATA_SEGMENT, ROOT_USER_RANGE };
typedef void (*roots_range_fn)(enum root_range_kind kind, const char *name, uintptr_t load_base,
                               uintptr_t lo, uintptr_t hi, void *context);
void roots_for_each_range(roots_range_fn fn, void *context);
void roots_add(uintptr_t lo, uintptr_t hi);
void roots_remove(uintptr_t lo, uintptr_t hi);
void roots_after_fork_child(void);
// Bytes of roots (stacks, thread-local storage, data segments, user ranges) the collector's
// markings scanned since the last call, which resets the count (shade_stats.root_bytes).
uint64_t roots_take_scanned_bytes(void);

#endif
