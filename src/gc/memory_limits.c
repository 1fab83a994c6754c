// memory_limits.c: how much memory Shade may hold, and what it does near the limits.
//
// Soft memory limit (Go's GOMEMLIMIT). The memory Shade holds is estimated as the page heap's
// resident bytes (pages of in-use spans plus free pages not yet given back) plus the metadata
// mapped (span records, bitmaps, typed objects' type pointers: 8 bytes per typed small object,
// a third again the 24-byte slots of 16-byte typed objects). At the end of a cycle the goal is
// lowered to
//     marked + room,   room = limit - limit/16 - overhead - marked   (at least marked/16),
// where overhead = in-use span pages - the pacer's heap_in_use before the cycle (fragmentation
// and empty slots) + metadata, and limit/16 is slack for free pages between scavenger passes.
// When the memory held passes 9/10 of the limit after a cycle, every span is swept at once and
// free pages above limit - limit/16 are returned before the collecting thread goes back to the
// program. With automatic collection off (gc_percent < 0), the soft limit alone triggers cycles.
//
// CPU limiter. A limit below what the program keeps live would make every allocation collect
// (a death spiral). The last LIMITER_CYCLES cycles give the share of wall time spent collecting;
// above 1/2, the room under the limit is multiplied by a scale that grows by share/(1/2) each
// cycle (by at most 3/2 a cycle, to at most 64x) and shrinks back to 1 the same way below 1/2. So a limit that is too low
// costs the program about half of its time (a 2x slowdown) and lets the heap exceed the limit,
// instead of freezing it.
//
// Hard heap limit (.NET's GCHeapHardLimit): enforced by the page heap, which refuses a span that
// would take the in-use pages above it; the allocation paths then run one full collection and
// retry once before failing with NULL / ENOMEM (or the out-of-memory handler). Near the limit
// (3/4), every cycle sweeps all spans at once so the retry sees the freed pages.
#include "gc/memory_limits.h"

#include <stdio.h>

#include "alloc/central.h"
#include "alloc/metadata.h"
#include "alloc/pageheap.h"
#include "base/message.h"
#include "gc/collector.h"
#include "gc/events.h"
#include "gc/phases.h"
#include "gc/pacer.h"
#include "gc/scavenger.h"
#include "os/os_memory.h"

#define LIMITER_CYCLES 8
#define SCALE_ONE 1024u
#define SCALE_MAX (64u * SCALE_ONE)

struct memory_config memory_config;
struct memory_stats memory_stats;
static _Atomic size_t soft_limit;
static _Atomic uint32_t limiter_scale = SCALE_ONE; // room multiplier, x1024
static uint64_t recent_begin[LIMITER_CYCLES], recent_end[LIMITER_CYCLES]; // gc lock held
static unsigned recent_count, recent_next;
static size_t released_at_last_cycle;

void memory_limits_init(const struct shade_options *o) {
  memory_config.scavenge = o->scavenge >= 0;
  memory_config.trace = o->trace_scavenger > 0;
  memory_config.idle_return_ns = (uint64_t)o->scavenge_idle_ms * 1000000u;
  memory_config.idle_gc_ns = o->idle_gc_ms > 0 ? (uint64_t)o->idle_gc_ms * 1000000u : 0;
  store_relaxed(&memory_config.periodic_gc_ns,
                o->periodic_gc_ms > 0 ? (uint64_t)o->periodic_gc_ms * 1000000u : 0);
  store_relaxed(&memory_stats.last_cycle_end_ns, cycle_now_ns());
  pageheap_set_release_lazily(o->madv_free > 0);
  pageheap_set_hard_limit(o->heap_limit);
  memory_set_soft_limit(o->memory_limit);
  if (memory_config.scavenge || memory_config.idle_gc_ns || o->periodic_gc_ms > 0)
    scavenger_start();
}

bool memory_soft_limit_set(void) { return load_relaxed(&soft_limit) != 0; }
size_t memory_soft_limit(void) { return load_relaxed(&soft_limit); }

size_t memory_hard_limit(void) { return pageheap_hard_limit(); }

size_t memory_set_hard_limit(size_t bytes) { return pageheap_set_hard_limit(bytes); }

size_t memory_set_soft_limit(size_t bytes) {
  size_t old = atomic_exchange(&soft_limit, bytes);
  store_relaxed(&pacer.soft_limit_on, bytes != 0);
  pacer_update_goal();
  return old;
}

uint64_t memory_limits_goal(uint64_t goal, uint64_t marked, uint64_t heap_in_use_now) {
  size_t limit = load_relaxed(&soft_limit);
  if (limit == 0)
    return goal;
  size_t in_use_pages = pageheap_in_use_bytes();
  uint64_t overhead = in_use_pages > heap_in_use_now ? in_use_pages - heap_in_use_now : 0;
  overhead += metadata_mapped_bytes();
  uint64_t usable = limit - limit / 16;
  uint64_t room = usable > overhead + marked ? usable - overhead - marked : 0;
  uint64_t least = marked / 16 > 64 * PAGE_SIZE ? marked / 16 : 64 * PAGE_SIZE;
  if (room < least)
    room = least;
  room = room / SCALE_ONE * load_relaxed(&limiter_scale);
  uint64_t limited = marked + room;
  return limited < goal ? limited : goal;
}

// Share of wall time the last cycles spent collecting, x1024.
static uint32_t recent_gc_share(void) {
  if (recent_count < 2)
    return 0;
  unsigned oldest = (recent_next + LIMITER_CYCLES - recent_count) % LIMITER_CYCLES;
  unsigned newest = (recent_next + LIMITER_CYCLES - 1) % LIMITER_CYCLES;
  uint64_t busy = 0;
  for (unsigned i = 0; i < recent_count; i++) {
    unsigned k = (oldest + i) % LIMITER_CYCLES;
    busy += recent_end[k] - recent_begin[k];
  }
  uint64_t wall = recent_end[newest] - recent_begin[oldest];
  return wall ? (uint32_t)(busy * SCALE_ONE / wall) : 0;
}

static void update_limiter(uint64_t begin_ns, uint64_t end_ns) {
  recent_begin[recent_next] = begin_ns;
  recent_end[recent_next] = end_ns;
  recent_next = (recent_next + 1) % LIMITER_CYCLES;
  if (recent_count < LIMITER_CYCLES)
    recent_count++;
  if (!memory_soft_limit_set()) {
    store_relaxed(&limiter_scale, SCALE_ONE);
    return;
  }
  uint32_t share = recent_gc_share();
  uint64_t factor = (uint64_t)share * 2; // share / (1/2), x1024, within [1/2, 3/2] per cycle
  if (factor < SCALE_ONE / 2)
    factor = SCALE_ONE / 2;
  if (factor > SCALE_ONE * 3 / 2)
    factor = SCALE_ONE * 3 / 2;
  uint32_t old_scale = load_relaxed(&limiter_scale);
  uint64_t scale = (uint64_t)old_scale * factor / SCALE_ONE;
  if (scale < SCALE_ONE)
    scale = SCALE_ONE;
  if (scale > SCALE_MAX)
    scale = SCALE_MAX;
  store_relaxed(&limiter_scale, (uint32_t)scale);
  if (scale > SCALE_ONE)
    atomic_fetch_add(&memory_stats.limiter_cycles, 1);
  // The goal set by this cycle used the old scale. Back to 1 too: with generations, full
  // collections (which set the goal) may not come for long, and a goal the limiter raised stayed
  // (memory_soft_limit: 44 MB under a 32 MB limit, for the whole run).
  if (scale != old_scale)
    pacer_update_goal();
}

static void trace_cycle(void) {
  const double mb = 1048576.0;
  size_t total = pageheap_total_released_bytes();
  size_t soft = memory_soft_limit(), hard = memory_hard_limit();
  char limits[160] = "";
  int n = 0;
  if (soft)
    n += snprintf(limits + n, sizeof limits - (size_t)n, ", soft limit %.1f MB (cpu limiter x%.2f)",
                  (double)soft / mb, (double)load_relaxed(&limiter_scale) / SCALE_ONE);
  if (hard && n >= 0 && (size_t)n < sizeof limits)
    snprintf(limits + n, sizeof limits - (size_t)n, ", hard limit %.1f MB", (double)hard / mb);
  shade_message("scav %llu: %.1f MB returned since the last cycle, %.1f MB in all; heap %.1f MB "
                "resident (%.1f MB free), %.1f MB released; rss %.1f MB%s",
                (unsigned long long)load_relaxed(&cycle_stats.cycles),
                (double)(total - released_at_last_cycle) / mb, (double)total / mb,
                (double)pageheap_resident_bytes() / mb,
                (double)(pageheap_free_bytes() - pageheap_released_bytes()) / mb,
                (double)pageheap_released_bytes() / mb, (double)os_resident_bytes() / mb, limits);
}

// What the soft limit compares with: the resident heap and the metadata.
static size_t held_bytes(void) { return pageheap_resident_bytes() + metadata_mapped_bytes(); }

void memory_after_cycle(uint64_t begin_ns, uint64_t end_ns) {
  update_limiter(begin_ns, end_ns);
  store_relaxed(&memory_stats.last_cycle_end_ns, end_ns);
  size_t soft = memory_soft_limit(), hard = memory_hard_limit();
  bool near_hard = hard && pageheap_in_use_bytes() > hard / 4 * 3;
  bool near_soft = soft && held_bytes() > soft / 10 * 9;
  if (near_hard || near_soft)
    central_sweep_all();
  if (soft) {
    size_t target = soft - soft / 16, held = held_bytes();
    if (held > target)
      events_scavenge(SHADE_SCAVENGE_SOFT_LIMIT, // (only heap pages can go back)
                      pageheap_scavenge(held - target, UINT64_MAX));
  }
  if (memory_config.trace)
    trace_cycle();
  released_at_last_cycle = pageheap_total_released_bytes();
  scavenger_wake();
}

size_t memory_free_os_memory(void) {
  uint64_t begin = cycle_now_ns();
  collector_request(REASON_FREE_OS_MEMORY, COLLECTION_FULL);
  // Sweeping and scavenging under the collector lock: no marking runs meanwhile (pageheap.h),
  // and this thread cannot be stopped by another collection while it holds a central lock.
  collector_lock();
  central_sweep_all();
  size_t released = pageheap_scavenge(SIZE_MAX, UINT64_MAX);
  collector_unlock();
  events_scavenge(SHADE_SCAVENGE_FREE_OS_MEMORY, released);
  if (memory_config.trace)
    shade_message("scav free-os-memory: collection and %.1f MB returned in %.3f ms; heap %.1f MB "
                  "resident; rss %.1f MB", (double)released / 1048576.0,
                  (double)(cycle_now_ns() - begin) / 1e6,
                  (double)pageheap_resident_bytes() / 1048576.0,
                  (double)os_resident_bytes() / 1048576.0);
  return released;
}

void memory_get_stats(struct shade_stats *out) {
  out->heap_released = pageheap_released_bytes();
  out->heap_resident = pageheap_resident_bytes();
  out->metadata_bytes = metadata_mapped_bytes();
  out->total_released = pageheap_total_released_bytes();
  out->scavenge_steps = pageheap_scavenge_steps();
  out->idle_collections = load_relaxed(&memory_stats.idle_collections);
  out->periodic_collections = load_relaxed(&memory_stats.periodic_collections);
  out->memory_limit = memory_soft_limit();
  out->heap_limit = memory_hard_limit();
  out->heap_limit_refusals = pageheap_limit_refusals();
  out->limiter_cycles = load_relaxed(&memory_stats.limiter_cycles);
  out->process_rss = os_resident_bytes();
}
