// collect.c: collections, roots, statistics and collection events for bdwgc programs.
//
// GC_gcollect is shade_collect (a full collection; skipped while GC_dont_gc is set, as bdwgc
// skips it). GC_disable/GC_enable nest as in bdwgc. Incremental mode: Shade's incremental and
// concurrent marking need a write barrier that bdwgc programs do not have, so Shade stays
// stop-the-world. What bdwgc's incremental mode is for, collecting the young objects without
// tracing the old ones (its dirty bits come from page protection), Shade's generations give
// (the kernel reports the written pages): GC_enable_incremental before GC_init, or
// GC_ENABLE_INCREMENTAL in the environment, turns them on, unless SHADE_GENERATIONAL says
// otherwise. Called after GC_init it changes nothing (generations are chosen at start-up).
// GC_is_incremental_mode says whether young collections run. The program stays correct. Statistics come from shade_get_stats: the heap size is the memory the
// heap holds in pages, free bytes what of it no object uses, bytes since the last collection
// what the heap grew by since that collection ended.
//
// Events: one Shade event listener (the layer owns it) turns cycle begin into the start
// callback and GC_EVENT_START, pauses into the stop/start-world events, cycle end into
// GC_EVENT_END and GC_gc_no, heap growth into GC_on_heap_resize. The listener runs on the
// collecting thread with Shade's collector lock held, like bdwgc's callbacks under its
// allocation lock: the program's callbacks must not allocate (bdwgc's rule as well).
#include <stdio.h>
#include <string.h>

#include "compat.h"

atomic_int compat_disable_depth;
static GC_start_callback_proc start_callback;
static GC_on_collection_event_proc collection_event;
static GC_on_thread_event_proc thread_event;
GC_on_heap_resize_proc GC_on_heap_resize;
static _Atomic uint64_t in_use_after_last_cycle;
static _Atomic uint64_t full_gc_total_ns;
static _Atomic uint64_t performance_measurement;
static GC_stop_func stop_func;
// The heap's resident size as the last event reported it: GC_get_heap_size is called in loops
// (every few allocations in bdwgc's own tests), and shade_get_stats reads /proc.
static _Atomic uint64_t heap_resident_now;

static void on_event(const struct shade_event *event, void *data) {
  (void)data;
  GC_on_collection_event_proc on_collection = collection_event;
  switch (event->type) {
  case SHADE_EVENT_CYCLE_BEGIN: {
    GC_start_callback_proc callback = start_callback;
    if (callback)
      callback();
    if (on_collection)
      on_collection(GC_EVENT_START);
    break;
  }
  case SHADE_EVENT_PAUSE_BEGIN:
    if (on_collection)
      on_collection(GC_EVENT_PRE_STOP_WORLD), on_collection(GC_EVENT_POST_STOP_WORLD);
    break;
  case SHADE_EVENT_PHASE_BEGIN:
    if (on_collection && event->phase.phase == SHADE_PHASE_MARK_STW)
      on_collection(GC_EVENT_MARK_START);
    break;
  case SHADE_EVENT_PHASE_END:
    if (on_collection && event->phase.phase == SHADE_PHASE_MARK_STW)
      on_collection(GC_EVENT_MARK_END);
    break;
  case SHADE_EVENT_PAUSE_END:
    if (on_collection)
      on_collection(GC_EVENT_PRE_START_WORLD), on_collection(GC_EVENT_POST_START_WORLD);
    break;
  case SHADE_EVENT_CYCLE_END:
    GC_gc_no = event->cycle;
    atomic_store_explicit(&in_use_after_last_cycle, event->cycle_info.heap_in_use,
                          memory_order_relaxed);
    atomic_store_explicit(&heap_resident_now, event->cycle_info.heap_resident,
                          memory_order_relaxed);
    if (atomic_load_explicit(&performance_measurement, memory_order_relaxed))
      atomic_fetch_add_explicit(&full_gc_total_ns, event->cycle_info.duration_ns,
                                memory_order_relaxed);
    if (on_collection)
      on_collection(GC_EVENT_RECLAIM_START), on_collection(GC_EVENT_RECLAIM_END),
          on_collection(GC_EVENT_END);
    break;
  case SHADE_EVENT_HEAP_RESIZE: {
    atomic_store_explicit(&heap_resident_now, event->heap.heap_resident, memory_order_relaxed);
    GC_on_heap_resize_proc on_resize = GC_on_heap_resize;
    if (on_resize && event->heap.mapped_change > 0)
      on_resize((GC_word)event->heap.heap_mapped);
    break;
  }
  default:
    break;
  }
}

void compat_events_init(void) {
  static const struct shade_event_listener listener = {
      .on_event = on_event,
      .types = (1u << SHADE_EVENT_CYCLE_BEGIN) | (1u << SHADE_EVENT_CYCLE_END) |
               (1u << SHADE_EVENT_PAUSE_BEGIN) | (1u << SHADE_EVENT_PAUSE_END) |
               (1u << SHADE_EVENT_PHASE_BEGIN) | (1u << SHADE_EVENT_PHASE_END) |
               (1u << SHADE_EVENT_HEAP_RESIZE)};
  shade_set_event_listener(&listener, NULL);
}

GC_API void GC_CALL GC_set_start_callback(GC_start_callback_proc fn) { start_callback = fn; }
GC_API GC_start_callback_proc GC_CALL GC_get_start_callback(void) { return start_callback; }
GC_API void GC_CALL GC_set_on_collection_event(GC_on_collection_event_proc fn) {
  collection_event = fn;
}
GC_API GC_on_collection_event_proc GC_CALL GC_get_on_collection_event(void) {
  return collection_event;
}
// Thread suspension is Shade's business; no per-thread events are reported.
GC_API void GC_CALL GC_set_on_thread_event(GC_on_thread_event_proc fn) { thread_event = fn; }
GC_API GC_on_thread_event_proc GC_CALL GC_get_on_thread_event(void) { return thread_event; }
GC_API void GC_CALL GC_set_on_heap_resize(GC_on_heap_resize_proc fn) { GC_on_heap_resize = fn; }
GC_API GC_on_heap_resize_proc GC_CALL GC_get_on_heap_resize(void) { return GC_on_heap_resize; }

extern int compat_force_unmap_on_gcollect(void);

GC_API void GC_CALL GC_gcollect(void) {
  compat_ready();
  if (GC_dont_gc)
    return;
  if (compat_force_unmap_on_gcollect())
    shade_free_os_memory();
  else
    shade_collect();
  if (!GC_finalize_on_demand)
    compat_run_waiting_finalizers();
}

GC_API void GC_CALL GC_gcollect_and_unmap(void) {
  compat_ready();
  if (GC_dont_gc)
    return;
  shade_free_os_memory();
  if (!GC_finalize_on_demand)
    compat_run_waiting_finalizers();
}

// bdwgc polls stop_func during marking to abandon a collection; Shade's collections are not
// abandoned: the function is asked once, before.
GC_API int GC_CALL GC_try_to_collect(GC_stop_func fn) {
  if (GC_dont_gc || fn())
    return 0;
  GC_gcollect();
  return 1;
}
GC_API void GC_CALL GC_set_stop_func(GC_stop_func fn) { stop_func = fn; }
GC_API GC_stop_func GC_CALL GC_get_stop_func(void) { return stop_func; }

GC_API void GC_CALL GC_disable(void) {
  compat_ready();
  atomic_fetch_add(&compat_disable_depth, 1);
  shade_disable();
}
GC_API void GC_CALL GC_enable(void) {
  compat_ready();
  int depth = atomic_load(&compat_disable_depth);
  while (depth > 0 && !atomic_compare_exchange_weak(&compat_disable_depth, &depth, depth - 1)) {
  }
  if (depth <= 0) {
    compat_message("shade: GC_enable: called more often than GC_disable; ignored");
    return;
  }
  shade_enable();
}
GC_API int GC_CALL GC_is_disabled(void) { return atomic_load(&compat_disable_depth) > 0; }
GC_API void GC_CALL GC_set_disable_automatic_collection(int disable) {
  static atomic_int disabled_by_setting;
  if (disable && !atomic_exchange(&disabled_by_setting, 1))
    GC_disable();
  else if (!disable && atomic_exchange(&disabled_by_setting, 0))
    GC_enable();
}
GC_API int GC_CALL GC_get_disable_automatic_collection(void) { return GC_is_disabled(); }

// ---- Incremental mode (see the top of the file)
GC_API void GC_CALL GC_enable_incremental(void) {
  if (!atomic_load_explicit(&compat_initialized, memory_order_acquire))
    compat_generations_wanted = 1;
  compat_ready();
}
GC_API int GC_CALL GC_is_incremental_mode(void) {
  if (!atomic_load_explicit(&compat_initialized, memory_order_acquire))
    return 0;
  struct shade_stats stats;
  shade_get_stats(&stats);
  return stats.generational;
}
GC_API int GC_CALL GC_incremental_protection_needs(void) { return GC_PROTECTS_NONE; }
GC_API void GC_CALL GC_start_incremental_collection(void) {}
GC_API int GC_CALL GC_collect_a_little(void) {
  if (atomic_load(&compat_initialized) && !GC_finalize_on_demand)
    compat_run_waiting_finalizers();
  return 0; // no collection is ever left half done
}

// ---- Heap size and roots
// The heap grows as the pacer decides; expanding it ahead of time is not needed.
GC_API int GC_CALL GC_expand_hp(size_t bytes) {
  (void)bytes;
  compat_ready();
  return 1;
}

GC_API void GC_CALL GC_add_roots(void *low, void *high) {
  compat_ready();
  shade_add_roots(low, high);
}
GC_API void GC_CALL GC_remove_roots(void *low, void *high) {
  compat_ready();
  shade_remove_roots(low, high);
}
// Root ranges the program added stay; Shade's own roots (stacks, data segments) are not
// "cleared" by bdwgc's call either.
GC_API void GC_CALL GC_clear_roots(void) {}
// Shade scans whole data segments; exclusions are recorded as not honoured (docs/bdwgc.md).
GC_API void GC_CALL GC_exclude_static_roots(void *start, void *end) { (void)start, (void)end; }
GC_API void GC_CALL GC_clear_exclusion_table(void) {}
GC_API void GC_CALL GC_register_has_static_roots_callback(GC_has_static_roots_func fn) {
  (void)fn;
}

// ---- Statistics
static struct shade_stats stats_now(void) {
  struct shade_stats stats;
  compat_ready();
  shade_get_stats(&stats);
  return stats;
}
static GC_word heap_size(const struct shade_stats *s) {
  uint64_t size = s->heap_committed > s->heap_in_use ? s->heap_committed : s->heap_in_use;
  return (GC_word)size;
}
static GC_word since_gc(const struct shade_stats *s) {
  uint64_t after = atomic_load_explicit(&in_use_after_last_cycle, memory_order_relaxed);
  return s->heap_in_use > after ? (GC_word)(s->heap_in_use - after) : 0;
}

GC_API size_t GC_CALL GC_get_heap_size(void) {
  uint64_t resident = atomic_load_explicit(&heap_resident_now, memory_order_relaxed);
  if (resident != 0)
    return (size_t)resident;
  struct shade_stats s = stats_now();
  return heap_size(&s);
}
GC_API size_t GC_CALL GC_get_free_bytes(void) {
  struct shade_stats s = stats_now();
  return heap_size(&s) - s.heap_in_use;
}
GC_API size_t GC_CALL GC_get_unmapped_bytes(void) { return stats_now().heap_released; }
GC_API size_t GC_CALL GC_get_bytes_since_gc(void) {
  struct shade_stats s = stats_now();
  return since_gc(&s);
}
GC_API size_t GC_CALL GC_get_expl_freed_bytes_since_gc(void) { return 0; }
GC_API size_t GC_CALL GC_get_total_bytes(void) { return stats_now().total_allocated; }
GC_API size_t GC_CALL GC_get_obtained_from_os_bytes(void) { return stats_now().heap_mapped; }
GC_API size_t GC_CALL GC_get_memory_use(void) { return stats_now().heap_in_use; }

GC_API void GC_CALL GC_get_heap_usage_safe(GC_word *heap, GC_word *free_bytes, GC_word *unmapped,
                                           GC_word *bytes_since_gc, GC_word *total) {
  struct shade_stats s = stats_now();
  if (heap)
    *heap = heap_size(&s);
  if (free_bytes)
    *free_bytes = heap_size(&s) - s.heap_in_use;
  if (unmapped)
    *unmapped = s.heap_released;
  if (bytes_since_gc)
    *bytes_since_gc = since_gc(&s);
  if (total)
    *total = s.total_allocated;
}

GC_API size_t GC_CALL GC_get_prof_stats(struct GC_prof_stats_s *out, size_t out_size) {
  struct shade_stats s = stats_now();
  struct GC_prof_stats_s stats = {
      .heapsize_full = heap_size(&s) + s.heap_released,
      .free_bytes_full = heap_size(&s) - s.heap_in_use + s.heap_released,
      .unmapped_bytes = s.heap_released,
      .bytes_allocd_since_gc = since_gc(&s),
      .allocd_bytes_before_gc = s.total_allocated - since_gc(&s),
      .non_gc_bytes = GC_non_gc_bytes,
      .gc_no = s.cycles,
      .markers_m1 = s.markers ? s.markers - 1 : 0,
      .bytes_reclaimed_since_gc = 0,
      .reclaimed_bytes_before_gc = s.total_allocated > s.heap_in_use
                                       ? s.total_allocated - s.heap_in_use : 0,
      .expl_freed_bytes_since_gc = 0,
      .obtained_from_os_bytes = s.heap_mapped,
  };
  if (out_size > sizeof stats) { // a newer caller's larger struct: the rest reads "unknown"
    memset((char *)out + sizeof stats, 0xff, out_size - sizeof stats);
    out_size = sizeof stats;
  }
  memcpy(out, &stats, out_size);
  return out_size;
}
GC_API size_t GC_CALL GC_get_prof_stats_unsafe(struct GC_prof_stats_s *out, size_t out_size) {
  return GC_get_prof_stats(out, out_size);
}

// The usable size of a request of i granules' worth in bdwgc's small-size map: Shade's size
// class for it.
GC_API size_t GC_CALL GC_get_size_map_at(int i) {
  if (i < 0)
    return 0;
  return ((size_t)i + COMPAT_GRANULE) & ~(size_t)(COMPAT_GRANULE - 1);
}

GC_API void GC_CALL GC_start_performance_measurement(void) {
  atomic_store(&performance_measurement, 1);
}
GC_API unsigned long GC_CALL GC_get_full_gc_total_time(void) {
  return (unsigned long)(atomic_load(&full_gc_total_ns) / 1000000);
}
