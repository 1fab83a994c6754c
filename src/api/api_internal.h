// api_internal.h: what the public API layer offers the rest of Shade.
#ifndef SHADE_API_INTERNAL_H
#define SHADE_API_INTERNAL_H
#include "gc/threads.h"

struct shade_thread *api_thread_slow(const char *call);

// The calling thread's record; initialises Shade or registers the thread as documented, or
// reports an unregistered thread and aborts.
static inline struct shade_thread *api_thread(const char *call) {
  struct shade_thread *t = current_thread;
  return SHADE_LIKELY(t != NULL) ? t : api_thread_slow(call);
}

void api_free(void *p, const char *call);
// Up to `max` objects of exactly `size` bytes (no byte past the end is added: the caller's size
// includes it if it wants one), linked through their first word into
// *list; returns how many. Slots come a bitmap word at a time (allocate_small_batch), and a batch
// takes at most three words: it may return fewer than `max`. 0: out of memory.
size_t api_allocate_batch(size_t size, bool atomic, size_t max, void **list, const char *call);
// memmove(dst, src, bytes) of memory that may hold pointers, as shade_write would store them:
// the cards of dst set (generations with cards) with no stop between them and the copy, and
// while marking, the overwritten and the copied words shaded (write_barrier.c). t is the caller.
void api_copy_pointers(struct shade_thread *t, void *dst, const void *src, size_t bytes);
// shade_init, once: SHADE_HEAP_SNAPSHOT (at exit) and SHADE_HEAP_SNAPSHOT_SIGNAL (heap_snapshot_api.c).
void api_heap_snapshot_init(void);

#endif
