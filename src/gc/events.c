// events.c: building the collector's events and handing them to the listeners (events.h).
//
// An event is built on the emitting thread's stack: the time (cycle_now_ns's clock unless the
// step already read it), the thread id (cached per thread; the cache is dropped in a forked
// child, whose thread ids are new) and the type's fields, then passed to each slot's listener
// that wants its type. Nothing here allocates, locks or formats.
#define _GNU_SOURCE
#include "gc/events.h"

#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "alloc/arena.h"
#include "alloc/heap_account.h"
#include "alloc/metadata.h"
#include "alloc/pageheap.h"
#include "gc/generations.h"
#include "gc/pacer.h"
#include "gc/phases.h"
#include "gc/threads.h"
#include "gc/trace_file.h"

struct listener_record {
  void (*on_event)(const struct shade_event *event, void *data);
  void *data;
  uint32_t types;
};

_Atomic uint32_t events_wanted;
static struct listener_record *_Atomic slots[EVENTS_SLOT_COUNT];
static pthread_mutex_t set_mutex = PTHREAD_MUTEX_INITIALIZER; // serialises events_set_listener

// The cycle under way (collector lock held to write; `number` read relaxed by anyone).
static struct {
  _Atomic uint64_t number;
  uint64_t begin_ns, pause_ns;
  enum collect_reason reason;
  unsigned generation; // the oldest generation the cycle collects
  uint64_t phase_begin_ns[SHADE_PHASE_SWEEP + 1];
} cycle;
static enum collect_reason next_reason = REASON_ALLOCATION;       // collector lock held
static _Atomic int background_reason = REASON_ALLOCATION;

static _Atomic uint32_t fork_generation; // bumped in a forked child: cached thread ids are stale
static __thread struct {
  int32_t id;
  uint32_t generation;
} thread_id_cache __attribute__((tls_model("initial-exec")));

static int32_t thread_id(void) {
  uint32_t generation = load_relaxed(&fork_generation) + 1; // never 0: 0 means "not cached"
  if (thread_id_cache.generation != generation) {
    thread_id_cache.id = (int32_t)syscall(SYS_gettid);
    thread_id_cache.generation = generation;
  }
  return thread_id_cache.id;
}

static void heap_resized(size_t mapped, size_t released);

static void after_fork_child(void) {
  atomic_fetch_add(&fork_generation, 1);
  pthread_mutex_init(&set_mutex, NULL);
  trace_file_after_fork_child();
}

void events_set_listener(enum events_slot slot, const struct shade_event_listener *listener,
                         void *data) {
  struct listener_record *record = NULL;
  if (listener != NULL && listener->on_event != NULL) {
    struct shade_thread *self = current_thread; // metadata's lock: inside a critical section
    if (self)
      critical_enter(&self->cache);
    record = metadata_alloc(sizeof *record);
    if (self)
      critical_leave(&self->cache);
    record->on_event = listener->on_event;
    record->data = data;
    record->types = listener->types ? listener->types : ~(uint32_t)0;
  }
  pthread_mutex_lock(&set_mutex);
  atomic_store_explicit(&slots[slot], record, memory_order_release);
  uint32_t wanted = 0;
  for (unsigned i = 0; i < EVENTS_SLOT_COUNT; i++) {
    struct listener_record *r = load_relaxed(&slots[i]);
    if (r != NULL)
      wanted |= r->types;
  }
  store_relaxed(&events_wanted, wanted);
  pthread_mutex_unlock(&set_mutex);
  // The old record stays: an emitter may still be reading it (32 bytes per call).
}

void events_init(const char *trace_file) {
  static bool once;
  if (!once)
    pthread_atfork(NULL, NULL, after_fork_child);
  once = true;
  store_relaxed(&pageheap_resize_hook, heap_resized);
  trace_file_open_at_start(trace_file);
}

static void emit(struct shade_event *e) {
  e->size = sizeof *e;
  if (e->time_ns == 0)
    e->time_ns = cycle_now_ns();
  e->thread_id = thread_id();
  e->mutator = current_thread != NULL;
  for (unsigned i = 0; i < EVENTS_SLOT_COUNT; i++) {
    struct listener_record *r = atomic_load_explicit(&slots[i], memory_order_acquire);
    if (r != NULL && (r->types & (1u << e->type)))
      r->on_event(e, r->data);
  }
}

void events_set_reason(enum collect_reason reason) { next_reason = reason; }
void events_set_background_reason(enum collect_reason reason) {
  store_relaxed(&background_reason, (int)reason);
}
enum collect_reason events_background_reason(void) {
  return (enum collect_reason)load_relaxed(&background_reason);
}

static uint32_t public_reason(enum collect_reason reason) {
  switch (reason) {
  case REASON_ALLOCATION: return SHADE_REASON_ALLOCATION;
  case REASON_EXPLICIT: return SHADE_REASON_EXPLICIT;
  case REASON_EXPLICIT_BACKGROUND: return SHADE_REASON_EXPLICIT;
  case REASON_OUT_OF_MEMORY: return SHADE_REASON_OUT_OF_MEMORY;
  case REASON_FREE_OS_MEMORY: return SHADE_REASON_FREE_OS_MEMORY;
  case REASON_IDLE: return SHADE_REASON_IDLE;
  case REASON_PERIODIC: return SHADE_REASON_PERIODIC;
  }
  return 0;
}

static void fill_cycle(struct shade_event *e, enum shade_event_type type) {
  e->type = type;
  e->cycle = load_relaxed(&cycle.number);
  e->cycle_info.kind = cycle.generation >= SHADE_GENERATION_OLDEST ? SHADE_COLLECTION_FULL
                                                                   : SHADE_COLLECTION_YOUNG;
  e->cycle_info.reason = public_reason(cycle.reason);
  e->cycle_info.generation = (int32_t)cycle.generation;
  e->cycle_info.mode = collector_mode();
}

// The step records every cycle's state whether or not a listener is set, so that one set in
// the middle of a cycle gets the right figures at its end.
void events_cycle_begin(uint64_t time_ns, uint64_t heap_in_use, unsigned generation) {
  store_relaxed(&cycle.number, load_relaxed(&cycle_stats.cycles) + 1);
  cycle.generation = generation;
  cycle.begin_ns = time_ns;
  cycle.pause_ns = 0;
  cycle.reason = next_reason;
  next_reason = REASON_ALLOCATION;
  if (!events_on(SHADE_EVENT_CYCLE_BEGIN))
    return;
  struct shade_event e = {.time_ns = time_ns};
  fill_cycle(&e, SHADE_EVENT_CYCLE_BEGIN);
  e.cycle_info.heap_in_use = heap_in_use;
  emit(&e);
}

void events_cycle_end(const struct cycle_record *r, uint64_t since_start_ns, uint64_t gc_time_ns) {
  cycle.generation = r->generation; // (a young collection may have become a full one)
  if (!events_on(SHADE_EVENT_CYCLE_END))
    return;
  struct shade_event e = {0};
  fill_cycle(&e, SHADE_EVENT_CYCLE_END);
  e.time_ns = cycle_now_ns();
  struct shade_event_cycle *c = &e.cycle_info;
  c->heap_in_use = heap_account_in_use();
  c->duration_ns = e.time_ns - cycle.begin_ns;
  c->pause_ns = cycle.pause_ns;
  c->heap_live = r->marked;
  c->heap_black = r->black;
  c->heap_goal = load_relaxed(&pacer.heap_goal);
  c->heap_mapped = arena_mapped_bytes();
  c->heap_resident = pageheap_resident_bytes();
  if (r->driver == DRIVER_STW) {
    c->clock_ns[0] = r->stopped_ns - r->begin_ns;
    c->clock_ns[1] = r->marked_ns - r->stopped_ns;
    c->clock_ns[2] = r->end_ns - r->marked_ns;
  } else {
    c->clock_ns[0] = r->start_pause_ns;
    c->clock_ns[1] = r->concurrent_ns;
    c->clock_ns[2] = r->end_ns - r->stop_begin_ns;
  }
  c->heap_before = r->heap_before;
  c->since_start_ns = since_start_ns;
  c->gc_time_ns = gc_time_ns;
  c->assist_ns = r->assist_ns;
  c->worker_ns = r->worker_ns;
  c->trigger = load_relaxed(&pacer.trigger);
  c->remembered_bytes = load_relaxed(&generation_stats.remembered_bytes);
  c->gen0_budget = generations_gen0_budget();
  c->gen1_budget = generations_gen1_budget();
  for (int g = 0; g < 3; g++)
    c->generation_bytes[g] =
        generations_on() ? load_relaxed(&generation_stats.size_after[g]) : 0;
  c->threads = r->threads;
  c->markers = cycle_config.markers;
  c->marking = r->driver == DRIVER_STW           ? SHADE_MODE_STW
               : r->driver == DRIVER_INCREMENTAL ? SHADE_MODE_INCREMENTAL
                                                 : SHADE_MODE_CONCURRENT;
  emit(&e);
}

void events_emit_phase(enum shade_event_type type, enum shade_event_phase phase, uint64_t time_ns) {
  // Phases follow one another under the collector lock (SWEEP: on the controller thread alone).
  if (time_ns == 0)
    time_ns = cycle_now_ns();
  struct shade_event e = {.type = type, .time_ns = time_ns};
  e.cycle = phase == SHADE_PHASE_SWEEP ? load_relaxed(&cycle_stats.cycles)
                                       : load_relaxed(&cycle.number);
  e.phase.phase = phase;
  if (type == SHADE_EVENT_PHASE_BEGIN) {
    cycle.phase_begin_ns[phase] = time_ns;
  } else {
    uint64_t begin = cycle.phase_begin_ns[phase]; // 0: the listener came after the begin
    e.phase.duration_ns = begin && begin <= time_ns ? time_ns - begin : 0;
    cycle.phase_begin_ns[phase] = 0;
  }
  emit(&e);
}

void events_emit_pause_begin(uint64_t time_ns) {
  struct shade_event e = {.type = SHADE_EVENT_PAUSE_BEGIN, .time_ns = time_ns};
  e.cycle = load_relaxed(&cycle.number);
  emit(&e);
}

void events_pause_end(uint64_t time_ns, uint64_t duration_ns) {
  cycle.pause_ns += duration_ns;
  if (!events_on(SHADE_EVENT_PAUSE_END))
    return;
  struct shade_event e = {.type = SHADE_EVENT_PAUSE_END, .time_ns = time_ns};
  e.cycle = load_relaxed(&cycle.number);
  e.pause.duration_ns = duration_ns;
  emit(&e);
}

void events_emit_mark(enum shade_event_type type, uint64_t begin_ns, uint64_t scan_bytes) {
  struct shade_event e = {.type = type};
  e.time_ns = cycle_now_ns();
  e.cycle = load_relaxed(&cycle.number);
  e.mark.duration_ns = e.time_ns - begin_ns;
  e.mark.scan_bytes = scan_bytes;
  emit(&e);
}

void events_emit_scavenge(enum shade_scavenge_reason reason, uint64_t bytes) {
  struct shade_event e = {.type = SHADE_EVENT_SCAVENGE};
  e.cycle = load_relaxed(&cycle_stats.cycles);
  e.scavenge.reason = reason;
  e.scavenge.bytes = bytes;
  emit(&e);
}

void events_emit_finalizers(uint64_t queued) {
  struct shade_event e = {.type = SHADE_EVENT_FINALIZER_QUEUE};
  e.cycle = load_relaxed(&cycle_stats.cycles);
  e.finalizers.queued = queued;
  emit(&e);
}

// The page heap's hook (pageheap.h): address space taken, or resident pages returned.
static void heap_resized(size_t mapped, size_t released) {
  if (!events_on(SHADE_EVENT_HEAP_RESIZE))
    return;
  struct shade_event e = {.type = SHADE_EVENT_HEAP_RESIZE};
  e.cycle = load_relaxed(&cycle_stats.cycles);
  e.heap.mapped_change = (int64_t)mapped;
  e.heap.resident_change = -(int64_t)released;
  e.heap.heap_mapped = arena_mapped_bytes();
  e.heap.heap_resident = pageheap_resident_bytes();
  emit(&e);
}

