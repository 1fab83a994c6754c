// barrier.h: the write barrier's slow path and the per-thread buffers it fills (barrier.c has the
// algorithm). Invariants: shade_barrier_flags_ turns on (1) and off (0) only while no thread
// can be inside a barrier's critical section that saw the old value (the world stopped, or
// mark_handshakes.c's grace periods); it is 2 only while every registered thread's stack is
// black; a thread's
// buffer is written by that thread inside a critical section, and emptied by it or, while it is
// stopped (handshake, mark termination), by the collector; every buffer is empty when marking ends.
#ifndef SHADE_GC_BARRIER_H
#define SHADE_GC_BARRIER_H
#include "gc/mark.h"
#include "gc/threads.h"

extern int shade_barrier_flags_; // shade.h reads it inline; written with the world stopped
extern _Atomic uint64_t barrier_flush_count;

// shade_barrier_flags_'s bits (shade.h): the marking state, and the cards of generations.
enum { BARRIER_MARKING_BITS = 3, BARRIER_CARDS = 4 };

static inline bool barrier_active(void) {
  return (__atomic_load_n(&shade_barrier_flags_, __ATOMIC_RELAXED) & BARRIER_MARKING_BITS) != 0;
}
void barrier_set_active(bool on); // world stopped; on: both halves (marking state 1)
// From now on shade_write sets the written card of every slot it stores a pointer into (at
// start-up, before the program stores).
void barrier_set_cards(void);
// Every thread's stack is black: from now on the inline path skips stores over NULL (the
// insertion half is off for every thread, and the deletion half has nothing to shade).
void barrier_all_stacks_black(void);
// A thread with a grey stack joined the marking (registered while it runs): back from 2 to 1,
// so that its stores into new objects are shaded too (registry locked).
void barrier_some_stack_grey(void);

// Mark what t's buffer holds with marker m and empty it. t is the caller, or stopped.
// Returns the number of objects that turned grey.
uint64_t barrier_flush_into(struct shade_thread *t, struct marker *m);
// Shade every word of [start, start + bytes): library calls that copy or drop references without
// a barrier store (shade_realloc's copy, shade_free, shade_remove_roots). Caller registered.
void barrier_shade_words(struct shade_thread *t, const void *start, size_t bytes);
// The calling thread's own flush (inside a critical section): marks, then publishes the work.
void barrier_flush(struct shade_thread *t);
// The slow path of shade_write (t is the caller): buffer the overwritten value, and the new one
// while t's stack is grey.
void barrier_record(struct shade_thread *t, void *old_value, void *new_value);

#endif
