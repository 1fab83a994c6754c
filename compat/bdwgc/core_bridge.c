// core_bridge.c: the only file of the bdwgc layer that reaches Shade's internals, for four
// things bdwgc programs need and shade.h does not offer:
//
//   - The allocation lock (GC_call_with_alloc_lock, GC_alloc_lock): bdwgc programs read weak
//     data under it, relying on no collection clearing links or queueing finalizers meanwhile.
//     Shade's collector lock gives exactly that: every step that stops the world or changes the
//     phase holds it. It is taken with lock_stoppable, so the waiting thread can still be
//     stopped by a collection that holds it.
//   - The suspend signal (GC_get_suspend_signal): programs unblock it in their own threads.
//   - Objects by the batch (compat_malloc_batch, for GC_generic_malloc_many): one call fills a
//     free list with slots of the thread's cached span, where one call per object cost Guile a
//     tenth of its time.
//   - Messages: Shade's message channel (shade_set_message_handler's handler, else stderr), so
//     that the layer's messages go where the program sent Shade's.
//
// libgc.so.1 holds Shade's objects and this layer's in one shared object, so these internal
// (hidden) functions are reachable from here without being exported.
#include "compat.h"

#include "api/api_internal.h"
#include "base/message.h"
#include "gc/collector.h"
#include "gc/stop_world.h"

void compat_collections_lock(void) { collector_lock(); }
void compat_collections_unlock(void) { collector_unlock(); }
int compat_suspend_signal(void) { return stop_world_signal(); }
size_t compat_malloc_batch(size_t bytes, bool atomic, size_t max, void **list) {
  if (bytes == SIZE_MAX) {
    *list = NULL;
    return 0;
  }
  return api_allocate_batch(bytes, atomic, max, list, "GC_generic_malloc_many");
}
void compat_shade_message(const char *line) { shade_message("%s", line); }
