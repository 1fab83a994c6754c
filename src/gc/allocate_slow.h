// allocate_slow.h: the allocation slow path (allocate_slow.c).
#ifndef SHADE_GC_ALLOCATE_SLOW_H
#define SHADE_GC_ALLOCATE_SLOW_H
#include "gc/threads.h"

// size includes `padding` bytes the caller added (the one-past-the-end byte); out of memory, the
// oom handler is told the size without them.
void *allocate_slow(struct shade_thread *t, size_t size, size_t padding, enum object_kind kind,
                    const struct shade_type *type);
// Zeroes a slice of the calling thread's dead stack, below its caller's frame (allocate_slow.c
// says why); explicit collections and heap snapshots call it first, as the allocation slow path
// does now and then.
void allocate_clear_dead_stack(void);
// errno = ENOMEM, or what the program's oom handler returns.
void *allocate_out_of_memory(size_t size);

#endif
