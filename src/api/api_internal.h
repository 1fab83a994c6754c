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
// shade_init, once: SHADE_HEAP_SNAPSHOT (at exit) and SHADE_HEAP_SNAPSHOT_SIGNAL (heap_snapshot_api.c).
void api_heap_snapshot_init(void);

#endif
