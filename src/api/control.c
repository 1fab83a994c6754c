// control.c: the public calls that steer the collector: collect, enable/disable, the percent,
// roots, and statistics.
#include "alloc/arena.h"
#include "alloc/pageheap.h"
#include "api/api_internal.h"
#include "base/message.h"
#include "gc/allocate_slow.h"
#include "gc/barrier.h"
#include "gc/stop_world.h"
#include "gc/collector.h"
#include "gc/generations.h"
#include "gc/marking.h"
#include "gc/memory_limits.h"
#include "gc/pacer.h"
#include "gc/roots.h"
#include "gc/sweep_pacer.h"

_Atomic uint64_t api_freed_explicitly;

SHADE_API void shade_collect(void) {
  api_thread("shade_collect");
  allocate_clear_dead_stack(); // stale words of earlier, deeper calls are no roots
  collector_request(REASON_EXPLICIT, COLLECTION_FULL);
}

SHADE_API int shade_max_generation(void) { return OBJECT_OLDEST; }

static int clamp_generation(int generation, const char *call) {
  if (generation >= 0 && generation <= OBJECT_OLDEST)
    return generation;
  int clamped = generation < 0 ? 0 : OBJECT_OLDEST;
  shade_message("shade: %s(%d): generations are 0 to %d; using %d", call, generation,
                OBJECT_OLDEST, clamped);
  return clamped;
}

SHADE_API void shade_collect_generation(int generation, unsigned flags) {
  api_thread("shade_collect_generation");
  generation = clamp_generation(generation, "shade_collect_generation");
  if (flags > SHADE_COLLECT_NONBLOCKING) {
    shade_message("shade: shade_collect_generation(%d, %u): flags are SHADE_COLLECT_FORCED, "
                  "_OPTIMIZED or _NONBLOCKING; collecting as FORCED", generation, flags);
    flags = SHADE_COLLECT_FORCED;
  }
  if (flags == SHADE_COLLECT_OPTIMIZED && !generations_worthwhile((unsigned)generation))
    return;
  if (flags == SHADE_COLLECT_NONBLOCKING && generation == OBJECT_OLDEST) {
    collector_request(REASON_EXPLICIT_BACKGROUND, COLLECTION_FULL);
    return;
  }
  collector_request(REASON_EXPLICIT, (enum collection_kind)generation);
}

SHADE_API uint64_t shade_collection_count(int generation) {
  if (generation < 0 || generation > OBJECT_OLDEST) {
    shade_message("shade: shade_collection_count(%d): generations are 0 to %d; returning 0",
                  generation, OBJECT_OLDEST);
    return 0;
  }
  return generations_collection_count((unsigned)generation);
}

SHADE_API void shade_disable(void) {
  api_thread("shade_disable");
  atomic_fetch_add(&pacer.disable_depth, 1);
}

SHADE_API void shade_enable(void) {
  api_thread("shade_enable");
  if (atomic_fetch_sub(&pacer.disable_depth, 1) <= 0) {
    atomic_fetch_add(&pacer.disable_depth, 1);
    shade_message("shade: shade_enable: called more often than shade_disable; ignored");
  }
}

SHADE_API int shade_set_gc_percent(int percent) {
  api_thread("shade_set_gc_percent");
  return pacer_set_percent(percent);
}

SHADE_API void shade_add_roots(void *lo, void *hi) {
  struct shade_thread *t = api_thread("shade_add_roots");
  if ((uintptr_t)lo < (uintptr_t)hi) {
    roots_add((uintptr_t)lo, (uintptr_t)hi);
    if (phase_is_marking()) // a range added after the roots were scanned: its words are new roots
      barrier_shade_words(t, lo, (size_t)((uintptr_t)hi - (uintptr_t)lo));
  }
}

SHADE_API void shade_remove_roots(void *lo, void *hi) {
  struct shade_thread *t = api_thread("shade_remove_roots");
  if (phase_is_marking() && (uintptr_t)lo < (uintptr_t)hi) // the range's references are dropped:
    barrier_shade_words(t, lo, (size_t)((uintptr_t)hi - (uintptr_t)lo)); // see shade_free
  roots_remove((uintptr_t)lo, (uintptr_t)hi);
}

SHADE_API void shade_get_stats(struct shade_stats *out) {
  *out = (struct shade_stats){0};
  out->cycles = load_relaxed(&cycle_stats.cycles);
  out->heap_live = load_relaxed(&pacer.heap_marked);
  out->heap_goal = load_relaxed(&pacer.heap_goal);
  out->root_bytes = load_relaxed(&pacer.root_bytes);
  out->retain_goal = pacer.retain_goal;
  out->noscan_weight = (int)pacer.noscan_weight;
  out->heap_live_noscan = load_relaxed(&pacer.heap_noscan);
  out->heap_in_use = load_relaxed(&heap_account.in_use);
  out->heap_mapped = arena_mapped_bytes();
  out->heap_committed = pageheap_in_use_bytes();
  out->heap_committed_peak = pageheap_in_use_peak_bytes();
  out->total_allocated = load_relaxed(&heap_account.total_allocated);
  out->total_freed_explicitly = load_relaxed(&api_freed_explicitly);
  out->pause_total_ns = load_relaxed(&cycle_stats.pause_total_ns);
  out->pause_max_ns = load_relaxed(&cycle_stats.pause_max_ns);
  out->last_pause_ns = load_relaxed(&cycle_stats.last_pause_ns);
  out->mark_total_ns = load_relaxed(&cycle_stats.mark_total_ns);
  threads_lock();
  out->threads = threads_count();
  threads_unlock();
  out->markers = cycle_config.markers;
  out->gc_percent = load_relaxed(&pacer.gc_percent);
  memory_get_stats(out);
  out->mode = collector_mode();
  out->concurrent_cycles = load_relaxed(&marking.cycles);
  out->mark_assist_ns = load_relaxed(&marking.assist_ns);
  out->assist_naps = load_relaxed(&marking.assist_naps);
  out->assist_pollers_max = load_relaxed(&marking.assist_pollers_max);
  out->mark_worker_ns = load_relaxed(&marking.worker_ns);
  out->concurrent_mark_ns = load_relaxed(&marking.concurrent_ns);
  out->barrier_flushes = load_relaxed(&barrier_flush_count);
  out->world_stops = load_relaxed(&stop_counts.world_stops);
  out->threads_stopped = load_relaxed(&stop_counts.threads_stopped);
  out->verify_stops = load_relaxed(&stop_counts.verify_stops);
  out->termination_stops = load_relaxed(&stop_counts.termination_stops);
  out->handshakes = load_relaxed(&stop_counts.handshakes);
  out->handshakes_anywhere = load_relaxed(&stop_counts.handshakes_anywhere);
  out->handshake_max_ns = load_relaxed(&stop_counts.handshake_max_ns);
  out->bailout_objects = load_relaxed(&marking.bailouts);
  out->sweep_paced_pages = sweep_pacer_paced_pages();
  out->sweep_termination_pages = sweep_pacer_termination_pages();
  out->sweep_termination_max_ns = sweep_pacer_termination_max_ns();
  generations_get_stats(out);
}
