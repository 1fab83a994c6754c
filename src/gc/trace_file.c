// trace_file.c: the trace file, an event listener (events.h) that writes the Chrome Trace Event
// Format (JSON object form) for ui.perfetto.dev and chrome://tracing.
//
//   {"traceEvents":[
//   {"ph":"M","name":"process_name",...},
//   {"ph":"B","name":"pause","pid":..,"tid":..,"ts":12.345},   ts, dur: microseconds (CLOCK_MONOTONIC)
//   ...
//   ],
//   "displayTimeUnit":"ms","otherData":{"shade_dropped_events":"0"}}
//
// Tracks: each thread that emits gets an "M" thread_name the first time it is seen ("mutator
// <tid>" for a registered thread, else its own name: "shade-gc", "shade-gc-worker",
// "shade-scavenger"); one more track, "shade-gc cycles" (tid CYCLES_TID, no real thread), holds
// each cycle and each concurrent marking as an "X" span, since both may begin on one thread
// and end on another. Phases and pauses are "B"/"E" pairs on the thread that ran them; assists
// and worker chunks are "X" spans; heap figures are "C" counters.
//
// Buffering: two buffers of BUFFER_BYTES (mmap, never malloc). Events are appended to the
// active one under a spin lock; when it is nearly full (or at a cycle's end, FLUSH_NS after the
// last write) the emitting thread swaps buffers and writes the full one with write(2) after
// dropping the lock. If the other buffer is still being written (the writer fell behind) or a
// write failed, the event is dropped and counted; memory never grows. A registered thread holds
// the lock only inside an allocator critical section, so no thread is ever stopped holding it:
// events emitted with the world stopped never wait for a stopped thread.
//
// Synchronisation: every field of `trace` but `lock`, `dropped`, `failed` and the buffers'
// `writing` flags is read and written with the lock held; a buffer being written belongs to its
// writer until it clears `writing` (release).
#define _GNU_SOURCE
#include "gc/trace_file.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "base/format.h"
#include "base/message.h"
#include "gc/events.h"
#include "gc/phases.h"
#include "gc/threads.h"
#include "os/os_memory.h"

#define BUFFER_BYTES ((size_t)256 << 10)
#define EVENT_MAX_BYTES 2048      // the most one event's JSON takes (thread name included)
#define KNOWN_THREADS 256         // threads named so far; more get no name (still traced)
#define CYCLES_TID 2147483646     // the "shade-gc cycles" track: above any Linux thread id
#define FLUSH_NS ((uint64_t)200 * 1000000)

struct buffer {
  char *bytes;
  size_t used;
  _Atomic bool writing; // handed to a writer, which clears it when done
};

static struct {
  _Atomic bool lock;
  bool open;
  int fd;
  int pid;
  bool first;              // no event written yet: no comma before the next
  _Atomic bool failed;     // a write failed: every later event is dropped
  struct buffer buffers[2];
  unsigned active;
  int32_t *known;          // KNOWN_THREADS ids, in the mmap'ed block (not a root range to scan)
  unsigned known_count;
  bool phase_open[SHADE_PHASE_SWEEP + 1]; // a "B" written, its "E" owed
  bool pause_open;
  uint64_t last_write_ns;
  _Atomic uint64_t dropped;
} trace;

static pthread_mutex_t open_mutex = PTHREAD_MUTEX_INITIALIZER; // open and close, one at a time

// ---- the lock --------------------------------------------------------------------------------

static void lock(void) {
  for (unsigned spins = 0; atomic_exchange_explicit(&trace.lock, true, memory_order_acquire);
       spins++) {
    if (spins < 1000)
      __builtin_ia32_pause();
    else
      sched_yield(); // the holder was preempted (never stopped: see above)
  }
}

static void unlock(void) { atomic_store_explicit(&trace.lock, false, memory_order_release); }

// ---- JSON text ---------------------------------------------------------------------------------

struct out {
  char *p;
};

static void put(struct out *o, const char *text) {
  size_t n = strlen(text);
  memcpy(o->p, text, n);
  o->p += n;
}

static void put_u64(struct out *o, uint64_t v) { o->p += format_uint(o->p, v); }

static void put_i64(struct out *o, int64_t v) {
  if (v < 0) {
    *o->p++ = '-';
    put_u64(o, (uint64_t)0 - (uint64_t)v);
  } else {
    put_u64(o, (uint64_t)v);
  }
}

// Nanoseconds as microseconds with three decimals: exact.
static void put_us(struct out *o, uint64_t ns) {
  put_u64(o, ns / 1000);
  uint64_t rest = ns % 1000;
  *o->p++ = '.';
  *o->p++ = (char)('0' + rest / 100);
  *o->p++ = (char)('0' + rest / 10 % 10);
  *o->p++ = (char)('0' + rest % 10);
}

static void put_name(struct out *o, const char *name) { // a thread's name: made JSON-safe
  for (; *name; name++)
    *o->p++ = (*name == '"' || *name == '\\' || (unsigned char)*name < 0x20) ? '_' : *name;
}

// `{"ph":"X","name":"NAME","cat":"shade","pid":P,"tid":T,"ts":TS`, after a comma if needed.
static void begin_event(struct out *o, const char *ph, const char *name, int32_t tid,
                        uint64_t ts_ns) {
  put(o, trace.first ? "\n{\"ph\":\"" : ",\n{\"ph\":\"");
  trace.first = false;
  put(o, ph);
  put(o, "\",\"name\":\"");
  put(o, name);
  put(o, "\",\"cat\":\"shade\",\"pid\":");
  put_u64(o, (uint64_t)trace.pid);
  put(o, ",\"tid\":");
  put_u64(o, (uint64_t)tid);
  put(o, ",\"ts\":");
  put_us(o, ts_ns);
}

// (With "ts":0, as the process_name event has: a reader that checks the file's order by comparing
// each event's ts with the last one's, to sort it when needed, loses the thread after an event
// with none, and @tracerbench/trace-model then nested a mutator's assists inside a later one.)
static void thread_name_event(struct out *o, int32_t tid, const char *prefix, const char *name) {
  put(o, trace.first ? "\n" : ",\n");
  trace.first = false;
  put(o, "{\"ph\":\"M\",\"name\":\"thread_name\",\"cat\":\"__metadata\",\"ts\":0,\"pid\":");
  put_u64(o, (uint64_t)trace.pid);
  put(o, ",\"tid\":");
  put_u64(o, (uint64_t)tid);
  put(o, ",\"args\":{\"name\":\"");
  put(o, prefix);
  put_name(o, name);
  put(o, "\"}}");
}

// The first event of a thread: name its track.
static void name_thread(struct out *o, const struct shade_event *e) {
  for (unsigned i = 0; i < trace.known_count; i++)
    if (trace.known[i] == e->thread_id)
      return;
  if (trace.known_count == KNOWN_THREADS)
    return;
  trace.known[trace.known_count++] = e->thread_id;
  if (e->mutator) {
    char digits[24] = {0};
    struct out d = {digits};
    put_u64(&d, (uint64_t)e->thread_id);
    thread_name_event(o, e->thread_id, "mutator ", digits);
  } else {
    char name[17] = {0}; // the calling thread is the one named (PR_GET_NAME: no file, no lock)
    if (prctl(PR_GET_NAME, name) != 0)
      strcpy(name, "shade");
    thread_name_event(o, e->thread_id, "", name);
  }
}

static void counter(struct out *o, const char *name, uint64_t ts_ns, uint64_t bytes) {
  begin_event(o, "C", name, CYCLES_TID, ts_ns);
  put(o, ",\"args\":{\"bytes\":");
  put_u64(o, bytes);
  put(o, "}}");
}

static const char *phase_name(uint32_t phase) {
  switch (phase) {
  case SHADE_PHASE_SWEEP_TERMINATION: return "sweep termination";
  case SHADE_PHASE_STOP_REQUESTED: return "stop requested";
  case SHADE_PHASE_WORLD_STOPPED: return "world stopped";
  case SHADE_PHASE_MARK_STW: return "mark (stw drain)";
  case SHADE_PHASE_MARK_CONCURRENT: return "concurrent mark";
  case SHADE_PHASE_MARK_TERMINATION: return "mark termination drain";
  case SHADE_PHASE_SWEEP: return "background sweep";
  }
  return "phase";
}

static const char *reason_name(uint32_t reason) {
  switch (reason) {
  case SHADE_REASON_ALLOCATION: return "allocation";
  case SHADE_REASON_EXPLICIT: return "explicit";
  case SHADE_REASON_OUT_OF_MEMORY: return "out of memory";
  case SHADE_REASON_FREE_OS_MEMORY: return "free OS memory";
  case SHADE_REASON_IDLE: return "idle";
  case SHADE_REASON_PERIODIC: return "periodic";
  }
  return "unknown";
}

static const char *mode_name(int32_t mode) {
  return mode == SHADE_MODE_CONCURRENT ? "concurrent"
         : mode == SHADE_MODE_INCREMENTAL ? "incremental" : "stw";
}

static const char *scavenge_name(uint32_t reason) {
  switch (reason) {
  case SHADE_SCAVENGE_BACKGROUND: return "background";
  case SHADE_SCAVENGE_IDLE: return "idle";
  case SHADE_SCAVENGE_SOFT_LIMIT: return "soft limit";
  case SHADE_SCAVENGE_FREE_OS_MEMORY: return "free OS memory";
  }
  return "unknown";
}

// One event as JSON (nothing for the types the trace does not show).
static void format_event(struct out *o, const struct shade_event *e, uint64_t rss) {
  switch (e->type) {
  case SHADE_EVENT_CYCLE_BEGIN:
    counter(o, "heap_in_use", e->time_ns, e->cycle_info.heap_in_use);
    return;
  case SHADE_EVENT_CYCLE_END: {
    const struct shade_event_cycle *c = &e->cycle_info;
    begin_event(o, "X", "gc cycle", CYCLES_TID, e->time_ns - c->duration_ns);
    put(o, ",\"dur\":");
    put_us(o, c->duration_ns);
    put(o, ",\"args\":{\"cycle\":");
    put_u64(o, e->cycle);
    put(o, ",\"reason\":\"");
    put(o, reason_name(c->reason));
    put(o, "\",\"mode\":\"");
    put(o, mode_name(c->mode));
    put(o, c->kind == SHADE_COLLECTION_YOUNG ? "\",\"kind\":\"young\",\"generation\":"
                                             : "\",\"kind\":\"full\",\"generation\":");
    put_i64(o, c->generation);
    put(o, ",\"pause_us\":");
    put_us(o, c->pause_ns);
    put(o, ",\"live_bytes\":");
    put_u64(o, c->heap_live);
    put(o, "}}");
    counter(o, "heap_in_use", e->time_ns, c->heap_in_use);
    counter(o, "heap_live", e->time_ns, c->heap_live);
    counter(o, "heap_goal", e->time_ns, c->heap_goal);
    counter(o, "heap_mapped", e->time_ns, c->heap_mapped);
    counter(o, "heap_resident", e->time_ns, c->heap_resident);
    if (rss)
      counter(o, "process_rss", e->time_ns, rss);
    if (c->gen0_budget) { // generations on
      counter(o, "gen0_bytes", e->time_ns, c->generation_bytes[0]);
      counter(o, "gen1_bytes", e->time_ns, c->generation_bytes[1]);
      counter(o, "gen2_bytes", e->time_ns, c->generation_bytes[2]);
    }
    return;
  }
  case SHADE_EVENT_PHASE_BEGIN:
    if (e->phase.phase == SHADE_PHASE_MARK_CONCURRENT || e->phase.phase > SHADE_PHASE_SWEEP)
      return; // an "X" on the cycles track at its end
    name_thread(o, e);
    begin_event(o, "B", phase_name(e->phase.phase), e->thread_id, e->time_ns);
    put(o, "}");
    trace.phase_open[e->phase.phase] = true;
    return;
  case SHADE_EVENT_PHASE_END:
    if (e->phase.phase == SHADE_PHASE_MARK_CONCURRENT) {
      if (e->phase.duration_ns == 0)
        return; // the trace began during it
      begin_event(o, "X", "concurrent mark", CYCLES_TID, e->time_ns - e->phase.duration_ns);
      put(o, ",\"dur\":");
      put_us(o, e->phase.duration_ns);
      put(o, ",\"args\":{\"cycle\":");
      put_u64(o, e->cycle);
      put(o, "}}");
      return;
    }
    if (e->phase.phase > SHADE_PHASE_SWEEP || !trace.phase_open[e->phase.phase])
      return; // its "B" came before the trace
    trace.phase_open[e->phase.phase] = false;
    name_thread(o, e);
    begin_event(o, "E", phase_name(e->phase.phase), e->thread_id, e->time_ns);
    put(o, "}");
    return;
  case SHADE_EVENT_PAUSE_BEGIN:
    name_thread(o, e);
    begin_event(o, "B", "pause", e->thread_id, e->time_ns);
    put(o, ",\"args\":{\"cycle\":");
    put_u64(o, e->cycle);
    put(o, "}}");
    trace.pause_open = true;
    return;
  case SHADE_EVENT_PAUSE_END:
    if (!trace.pause_open)
      return;
    trace.pause_open = false;
    name_thread(o, e);
    begin_event(o, "E", "pause", e->thread_id, e->time_ns);
    put(o, ",\"args\":{\"duration_ns\":");
    put_u64(o, e->pause.duration_ns);
    put(o, "}}");
    return;
  case SHADE_EVENT_MARK_ASSIST:
  case SHADE_EVENT_WORKER_CHUNK:
    name_thread(o, e);
    begin_event(o, "X", e->type == SHADE_EVENT_MARK_ASSIST ? "mark assist" : "mark chunk",
                e->thread_id, e->time_ns - e->mark.duration_ns);
    put(o, ",\"dur\":");
    put_us(o, e->mark.duration_ns);
    put(o, ",\"args\":{\"scan_bytes\":");
    put_u64(o, e->mark.scan_bytes);
    put(o, "}}");
    return;
  case SHADE_EVENT_HEAP_RESIZE:
    counter(o, "heap_mapped", e->time_ns, e->heap.heap_mapped);
    counter(o, "heap_resident", e->time_ns, e->heap.heap_resident);
    return;
  case SHADE_EVENT_SCAVENGE:
    name_thread(o, e);
    begin_event(o, "i", "scavenge", e->thread_id, e->time_ns);
    put(o, ",\"s\":\"t\",\"args\":{\"bytes\":");
    put_u64(o, e->scavenge.bytes);
    put(o, ",\"reason\":\"");
    put(o, scavenge_name(e->scavenge.reason));
    put(o, "\"}}");
    return;
  case SHADE_EVENT_FINALIZER_QUEUE:
    begin_event(o, "C", "finalizer_queue", CYCLES_TID, e->time_ns);
    put(o, ",\"args\":{\"objects\":");
    put_u64(o, e->finalizers.queued);
    put(o, "}}");
    return;
  }
}

// ---- buffers -----------------------------------------------------------------------------------

static void write_all(int fd, const char *bytes, size_t size) {
  while (size > 0 && !load_relaxed(&trace.failed)) {
    ssize_t n = write(fd, bytes, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      store_relaxed(&trace.failed, true); // the events still to come are dropped
      return;
    }
    bytes += n;
    size -= (size_t)n;
  }
}

// Write a buffer handed over by swap_locked (lock not held), then give it back.
static void write_out(int fd, struct buffer *b) {
  write_all(fd, b->bytes, b->used);
  b->used = 0;
  atomic_store_explicit(&b->writing, false, memory_order_release);
}

// Hand the active buffer to the caller for writing and make the other one active; NULL when the
// other one is still being written.
static struct buffer *swap_locked(void) {
  struct buffer *full = &trace.buffers[trace.active];
  struct buffer *other = &trace.buffers[trace.active ^ 1];
  if (atomic_load_explicit(&other->writing, memory_order_acquire))
    return NULL;
  store_relaxed(&full->writing, true);
  trace.active ^= 1;
  return full;
}

static void on_event(const struct shade_event *e, void *unused) {
  (void)unused;
  uint64_t rss = e->type == SHADE_EVENT_CYCLE_END ? os_resident_bytes() : 0; // before the lock
  struct shade_thread *self = current_thread;
  if (self)
    critical_enter(&self->cache); // never stopped holding the lock
  lock();
  struct buffer *to_write = NULL;
  int fd = trace.fd;
  if (!trace.open || load_relaxed(&trace.failed)) {
    if (trace.open)
      atomic_fetch_add(&trace.dropped, 1);
    goto done;
  }
  struct buffer *b = &trace.buffers[trace.active];
  bool due = e->type == SHADE_EVENT_CYCLE_END && e->time_ns - trace.last_write_ns > FLUSH_NS;
  if (BUFFER_BYTES - b->used < EVENT_MAX_BYTES || (due && b->used > 0)) {
    to_write = swap_locked();
    if (to_write == NULL && BUFFER_BYTES - b->used < EVENT_MAX_BYTES) {
      atomic_fetch_add(&trace.dropped, 1); // the writer fell behind
      goto done;
    }
    if (to_write)
      trace.last_write_ns = e->time_ns;
    b = &trace.buffers[trace.active];
  }
  struct out o = {b->bytes + b->used};
  format_event(&o, e, rss);
  b->used = (size_t)(o.p - b->bytes);
done:
  unlock();
  if (self)
    critical_leave(&self->cache);
  if (to_write)
    write_out(fd, to_write);
}

// ---- open and close ----------------------------------------------------------------------------

static void close_locked_out(void); // forward

static void at_exit(void) { trace_file_close(); }

int trace_file_open(const char *path) {
  static bool exit_handler;
  pthread_mutex_lock(&open_mutex);
  close_locked_out();
  if (trace.buffers[0].bytes == NULL) {
    char *memory = mmap(NULL, 2 * BUFFER_BYTES + KNOWN_THREADS * sizeof(int32_t), PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (memory == MAP_FAILED) {
      pthread_mutex_unlock(&open_mutex);
      return -1;
    }
    trace.buffers[0].bytes = memory;
    trace.buffers[1].bytes = memory + BUFFER_BYTES;
    trace.known = (int32_t *)(void *)(memory + 2 * BUFFER_BYTES);
  }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    pthread_mutex_unlock(&open_mutex);
    return -1;
  }
  if (!exit_handler)
    atexit(at_exit);
  exit_handler = true;
  lock();
  trace.fd = fd;
  trace.pid = (int)getpid();
  trace.first = true;
  store_relaxed(&trace.failed, false);
  store_relaxed(&trace.dropped, 0);
  trace.active = 0;
  trace.buffers[0].used = trace.buffers[1].used = 0;
  trace.known_count = 0;
  memset(trace.phase_open, 0, sizeof trace.phase_open);
  trace.pause_open = false;
  trace.last_write_ns = cycle_now_ns();
  struct buffer *b = &trace.buffers[0];
  struct out o = {b->bytes};
  put(&o, "{\"traceEvents\":[");
  thread_name_event(&o, CYCLES_TID, "", "shade-gc cycles");
  put(&o, ",\n{\"ph\":\"M\",\"name\":\"process_name\",\"cat\":\"__metadata\",\"ts\":0,\"pid\":");
  put_u64(&o, (uint64_t)trace.pid);
  put(&o, ",\"args\":{\"name\":\"shade\"}}");
  b->used = (size_t)(o.p - b->bytes);
  trace.open = true;
  unlock();
  struct shade_event_listener listener = {.on_event = on_event, .types = 0};
  events_set_listener(EVENTS_SLOT_TRACE_FILE, &listener, NULL);
  pthread_mutex_unlock(&open_mutex);
  return 0;
}

// open_mutex held: stop listening, write the rest and the closing bracket.
static void close_locked_out(void) {
  events_set_listener(EVENTS_SLOT_TRACE_FILE, NULL, NULL);
  lock();
  if (!trace.open) {
    unlock();
    return;
  }
  trace.open = false; // an emitter still inside on_event drops its event
  for (unsigned i = 0; i < 2; i++)
    while (atomic_load_explicit(&trace.buffers[i].writing, memory_order_acquire))
      sched_yield();
  struct buffer *b = &trace.buffers[trace.active];
  write_all(trace.fd, b->bytes, b->used);
  b->used = 0;
  char tail[160];
  struct out o = {tail};
  put(&o, "\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":{\"shade_dropped_events\":\"");
  put_u64(&o, load_relaxed(&trace.dropped));
  put(&o, "\"}}\n");
  store_relaxed(&trace.failed, false);
  write_all(trace.fd, tail, (size_t)(o.p - tail));
  close(trace.fd);
  trace.fd = -1;
  unlock();
}

void trace_file_close(void) {
  pthread_mutex_lock(&open_mutex);
  close_locked_out();
  pthread_mutex_unlock(&open_mutex);
}

void trace_file_open_at_start(const char *path) {
  if (path == NULL)
    return;
  if (trace_file_open(path) != 0)
    shade_message("shade: SHADE_TRACE_FILE=%s: cannot open it (errno %d); no trace is written",
                  path, errno);
}

void trace_file_after_fork_child(void) {
  // The parent goes on writing its file; the child writes nothing to it (not even the end).
  events_set_listener(EVENTS_SLOT_TRACE_FILE, NULL, NULL);
  store_relaxed(&trace.lock, false);
  if (trace.open)
    close(trace.fd);
  trace.open = false;
  store_relaxed(&trace.buffers[0].writing, false);
  store_relaxed(&trace.buffers[1].writing, false);
  pthread_mutex_init(&open_mutex, NULL);
}
