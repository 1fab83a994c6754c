// central.h: per span class (size class x kind) lists of spans shared by all threads.
//
// Every small span that no thread cache owns sits on exactly one list of its class (but while
// central_mark_unswept_running sorts it, on that function's own lists):
//   partial  swept, has free slots
//   full     swept, no free slot known (or returned by a cache at a collection, or set aside
//            by a generational sweep: central.c)
//   unswept  marked by the last cycle, not yet swept
// At the end of marking partial and full move to unswept: all at once with the world stopped, or,
// after a marking that ended without stopping it, spans of the old generation found on partial
// by a thread needing a span, or given back by a cache, go to unswept as they are met, and the
// rest are taken off the lists and sorted outside the lock (central_mark_unswept_running). A
// thread needing a span takes a partial one, else sweeps unswept ones until one has room, else
// asks the page heap.
#ifndef SHADE_ALLOC_CENTRAL_H
#define SHADE_ALLOC_CENTRAL_H
#include <pthread.h>

#include "alloc/sizeclass.h"
#include "alloc/span.h"

#define SPAN_CLASS_COUNT (SIZE_CLASS_COUNT * KIND_COUNT)

static inline unsigned span_class_of(unsigned size_class, enum object_kind kind) {
  return size_class * KIND_COUNT + (unsigned)kind;
}

struct span_list {
  struct span *head, *tail;
  size_t length;
};

struct central_list {
  pthread_mutex_t lock;
  struct span_list partial, full, unswept;
  struct span *allocated_from; // spans taken by a cache since the last marking (allocated_next)
  _Atomic uint64_t allocated_epoch; // +1 each time that list is taken: the spans on it then leave it
                               // without being visited
};

extern struct central_list central_lists[SPAN_CLASS_COUNT];

void central_init(void);
// A swept span with at least one free slot, owned by the caller (in_cache set); NULL: no memory.
struct span *central_acquire(unsigned span_class);
// A cache gives a span back.
void central_release(struct span *s);
// Sweep every unswept span now (before a new marking starts). Mutators may run meanwhile.
// Both return the pages swept.
uint64_t central_sweep_all(void);
uint64_t central_sweep_class(unsigned span_class);
// World stopped, marking done: every span becomes unswept (the caller then advances
// heap_sweepgen by 2). Returns the pages they hold.
uint64_t central_mark_all_unswept(void);
// The same with the world running, after heap_sweepgen advanced: the spans of the old
// generation move to unswept, a batch per lock hold (spans swept since stay). Spans still in
// caches follow when they are given back (central_release), and central_acquire passes over old
// ones.
uint64_t central_mark_unswept_running(void);
// World stopped, a collection of generation 0 done: only the spans a cache took since the last
// marking (and those of explicit kinds, whose marks are roots' marks) become unswept, and
// heap_sweepgen stays: every other span holds old objects and free slots only, which such a
// collection leaves as they are, so it stays swept. Returns the pages made unswept.
uint64_t central_mark_allocated_unswept(void);
// Generational sweeps set spans dense with survivors aside (central.c) while the free slots they
// hold add up to at most `bytes` since the last gen1 or full collection.
void central_set_aside_limit(uint64_t bytes);
// Generations on: from now on, keep each class's list of spans allocated from (it costs a walk of
// those spans at every marking's end, so it is off without generations).
void central_track_allocated_spans(void);
// Sweep one unswept span of any class (proportional sweeping, gc/sweep_pacer.c); returns its
// pages, 0 when none is left. The cursor skips classes found empty until the next cycle's end
// resets it.
size_t central_sweep_one(void);
void central_sweep_cursor_reset(void);
// Call fn on every span of the class (world stopped).
void central_for_each_span(unsigned span_class, void (*fn)(struct span *, void *), void *ctx);
void central_lock_all(void);
void central_unlock_all(void);
void central_after_fork_child(void);

void span_list_push(struct span_list *list, struct span *s);
void span_list_remove(struct span_list *list, struct span *s);
struct span *span_list_pop(struct span_list *list);

#endif
