// events.h: the collector's events (shade.h, "Events") and the listeners that receive them.
//
// Each emission point is written
//     if (events_on(SHADE_EVENT_X)) events_emit_x(...);
// one relaxed load of `events_wanted` and one branch the CPU predicts not taken when no listener
// is set; everything else (clock, thread id, the struct) happens only past that branch.
//
// Listeners sit in a few fixed slots: the program's (shade_set_event_listener) and the trace
// file's (trace_file.c). A slot holds a pointer to an immutable record (metadata memory, never
// freed: a record costs 32 bytes per set call), swapped atomically, so an emitter never sees a
// callback with another listener's data.
//
// The current cycle (number, begin time, reason, pauses so far) and the begin time of each phase
// are written only by the thread holding the collector lock; assists and workers read the
// cycle's number relaxed.
#ifndef SHADE_GC_EVENTS_H
#define SHADE_GC_EVENTS_H
#include "base/base.h"
#include "gc/collector.h"
#include "shade.h"

enum events_slot {
  EVENTS_SLOT_PROGRAM,
  EVENTS_SLOT_TRACE_FILE,
  EVENTS_SLOT_TRACE_LINE,
  EVENTS_SLOT_COUNT
};

// Bit (1u << type) set when some listener wants that type. Written by events_set_listener.
extern _Atomic uint32_t events_wanted;

static inline bool events_on(enum shade_event_type type) {
  return SHADE_UNLIKELY(load_relaxed(&events_wanted) & (1u << type));
}

// listener NULL (or on_event NULL): the slot is emptied.
void events_set_listener(enum events_slot slot, const struct shade_event_listener *listener,
                         void *data);
// At shade_init (collector_init): the fork handler; the trace file named by the environment.
void events_init(const char *trace_file);

// The reason of the next cycle the collector lock's holder starts (collector lock held).
void events_set_reason(enum collect_reason reason);
// For a cycle the concurrent controller runs on request (idle, periodic): the reason it will
// start with (any thread; read by the controller).
void events_set_background_reason(enum collect_reason reason);
enum collect_reason events_background_reason(void);

// Out of line, called only past events_on (below): build the event and hand it out.
void events_emit_phase(enum shade_event_type type, enum shade_event_phase phase, uint64_t time_ns);
void events_emit_pause_begin(uint64_t time_ns);
void events_emit_mark(enum shade_event_type type, uint64_t begin_ns, uint64_t scan_bytes);
void events_emit_scavenge(enum shade_scavenge_reason reason, uint64_t bytes);
void events_emit_finalizers(uint64_t queued);

// Once per cycle, whether or not a listener is set (a listener set mid-cycle then gets the
// cycle's right figures): the cycle's number, start, reason, and its pauses added up.
// Collector lock held; time_ns: when it happened (the figures the statistics use).
void events_cycle_begin(uint64_t time_ns, uint64_t heap_in_use, unsigned generation);
void events_pause_end(uint64_t time_ns, uint64_t duration_ns);
struct cycle_record;
// The cycle's end (after its last pause): since_start_ns and gc_time_ns for the trace line.
void events_cycle_end(const struct cycle_record *r, uint64_t since_start_ns, uint64_t gc_time_ns);

// The emission points. time_ns 0: now.
static inline void events_phase_begin(enum shade_event_phase phase, uint64_t time_ns) {
  if (events_on(SHADE_EVENT_PHASE_BEGIN))
    events_emit_phase(SHADE_EVENT_PHASE_BEGIN, phase, time_ns);
}
static inline void events_phase_end(enum shade_event_phase phase, uint64_t time_ns) {
  if (events_on(SHADE_EVENT_PHASE_END))
    events_emit_phase(SHADE_EVENT_PHASE_END, phase, time_ns);
}
static inline void events_pause_begin(uint64_t time_ns) {
  if (events_on(SHADE_EVENT_PAUSE_BEGIN))
    events_emit_pause_begin(time_ns);
}
// Anywhere (assists, workers). type: SHADE_EVENT_MARK_ASSIST or SHADE_EVENT_WORKER_CHUNK.
static inline void events_mark(enum shade_event_type type, uint64_t begin_ns,
                               uint64_t scan_bytes) {
  if (events_on(type))
    events_emit_mark(type, begin_ns, scan_bytes);
}
static inline void events_scavenge(enum shade_scavenge_reason reason, uint64_t bytes) {
  if (events_on(SHADE_EVENT_SCAVENGE) && bytes > 0)
    events_emit_scavenge(reason, bytes);
}

#endif
