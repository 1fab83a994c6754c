// test_events.c: the event listener (shade.h, "Events") in the mode named by argv[1] (stw,
// incremental, concurrent): cycles pair up with the statistics' count, reasons are right, pause
// events add up to the statistics' pause time, phases nest inside cycles, assists (incremental)
// and worker chunks (concurrent; incremental's idle worker) appear, heap growth and returns are
// reported, and removing the listener stops the events.
#include "../concurrent/conc_test.h"

#define RECORD_CAPACITY 200000

// A listener that records every event into preallocated memory: no lock, no allocation.
struct recorder {
  _Atomic size_t next;
  _Atomic size_t overflow;
  struct shade_event events[RECORD_CAPACITY];
  _Atomic int ready[RECORD_CAPACITY]; // set (release) once events[i] is written
};

static struct recorder recorders[3];

static void record(const struct shade_event *e, void *data) {
  struct recorder *r = data;
  size_t i = atomic_fetch_add(&r->next, 1);
  if (i >= RECORD_CAPACITY) {
    atomic_fetch_add(&r->overflow, 1);
    return;
  }
  r->events[i] = *e;
  atomic_store_explicit(&r->ready[i], 1, memory_order_release);
}

static void listen(struct recorder *r) {
  struct shade_event_listener listener = {.on_event = record, .types = 0};
  shade_set_event_listener(&listener, r);
}

// The events recorded so far, each one complete.
static size_t recorded(struct recorder *r) {
  size_t n = atomic_load(&r->next);
  if (n > RECORD_CAPACITY)
    n = RECORD_CAPACITY;
  for (size_t i = 0; i < n; i++)
    while (!atomic_load_explicit(&r->ready[i], memory_order_acquire))
      conc_nap_ms(1); // an event being written on another thread
  return n;
}

struct node {
  struct node *next;
  uint64_t payload[6];
};

// A live list, and garbage until `cycles` more cycles completed (or a cap).
static struct node *volatile live_list;

static void work(uint64_t cycles) {
  uint64_t rng = shade_test_seed();
  size_t live = shade_test_scaled(40000, 2000);
  for (size_t i = 0; i < live; i++) {
    struct node *n = shade_malloc(sizeof *n);
    SHADE_STORE(n->next, live_list);
    SHADE_STORE(live_list, n);
  }
  struct shade_stats before = shade_test_stats(), now = before;
  double start = shade_test_now();
  while (now.cycles - before.cycles < cycles && shade_test_now() - start < conc_cap(20)) {
    for (int i = 0; i < 1000; i++)
      conc_garbage(&rng);
    now = shade_test_stats();
  }
}

// No automatic cycle from here on, and none under way.
static void quiesce(void) {
  shade_disable();
  uint64_t rng = 1;
  for (int i = 0; i < 20000 && conc_marking_now(); i++) {
    if (conc_mode == SHADE_MODE_INCREMENTAL)
      conc_garbage(&rng); // incremental marking advances only with allocation
    else
      conc_nap_ms(1);
  }
}

static const char *type_name(uint32_t type) {
  static const char *names[] = {"?", "cycle begin", "cycle end", "phase begin", "phase end",
                                "pause begin", "pause end", "mark assist", "worker chunk",
                                "heap resize", "scavenge", "finalizer queue"};
  return type < SHADE_EVENT_TYPE_LIMIT ? names[type] : "?";
}

static int is_cycle_level(const struct shade_event *e) {
  switch (e->type) {
  case SHADE_EVENT_CYCLE_BEGIN:
  case SHADE_EVENT_CYCLE_END:
  case SHADE_EVENT_PAUSE_BEGIN:
  case SHADE_EVENT_PAUSE_END:
    return 1;
  case SHADE_EVENT_PHASE_BEGIN:
  case SHADE_EVENT_PHASE_END:
    return e->phase.phase != SHADE_PHASE_SWEEP; // background sweeping follows the cycle's end
  }
  return 0;
}

// Cycles, reasons, pauses, nesting, assists and worker chunks, against the statistics.
static void test_cycles_pauses_and_phases(void) {
  struct recorder *r = &recorders[0];
  struct shade_stats before = shade_test_stats();
  SHADE_TEST_EXPECTF(before.cycles == 0, "no cycle before the test (%" PRIu64 ")", before.cycles);
  listen(r);
  work(6);
  quiesce();
  shade_collect(); // explicit: the last cycle
  struct shade_stats after = shade_test_stats();
  shade_set_event_listener(NULL, NULL);
  size_t n = recorded(r);
  fprintf(stderr, "%zu events, %" PRIu64 " cycles, %" PRIu64 " pauses' ns\n", n,
          after.cycles - before.cycles, after.pause_total_ns - before.pause_total_ns);
  SHADE_TEST_EXPECT(atomic_load(&r->overflow) == 0);

  uint64_t begins = 0, ends = 0, pauses = 0, pause_sum = 0, pause_max = 0, assists = 0,
           chunks = 0, by_allocation = 0, last_reason = 0, expected_cycle = before.cycles + 1;
  uint32_t stack[16];
  unsigned depth = 0; // 0: outside a cycle; stack[0] is the cycle
  uint64_t last_time = 0;
  for (size_t i = 0; i < n; i++) {
    const struct shade_event *e = &r->events[i];
    SHADE_TEST_EXPECT(e->size == sizeof *e && e->thread_id > 0 && e->time_ns > 0);
    if (e->type == SHADE_EVENT_MARK_ASSIST) {
      assists++;
      SHADE_TEST_EXPECT(e->mutator == 1);
    }
    if (e->type == SHADE_EVENT_WORKER_CHUNK) {
      chunks++;
      SHADE_TEST_EXPECT(e->mutator == 0 && e->mark.scan_bytes > 0);
    }
    if (!is_cycle_level(e))
      continue;
    // Emitted under the collector lock: in time order.
    SHADE_TEST_EXPECTF(e->time_ns >= last_time, "event %zu (%s) goes back in time", i,
                       type_name(e->type));
    last_time = e->time_ns;
    uint32_t key = e->type == SHADE_EVENT_PHASE_BEGIN || e->type == SHADE_EVENT_PHASE_END
                       ? 100 + e->phase.phase
                       : e->type == SHADE_EVENT_PAUSE_BEGIN || e->type == SHADE_EVENT_PAUSE_END
                             ? 99
                             : 98;
    switch (e->type) {
    case SHADE_EVENT_CYCLE_BEGIN:
      SHADE_TEST_EXPECTF(depth == 0, "cycle %" PRIu64 " begins inside another", e->cycle);
      SHADE_TEST_EXPECT_EQ(e->cycle, expected_cycle);
      // a young collection (stw mode with generations) says so; every other is full
      SHADE_TEST_EXPECT(e->cycle_info.generation >= 0 &&
                        e->cycle_info.generation <= SHADE_GENERATION_OLDEST &&
                        (e->cycle_info.kind == SHADE_COLLECTION_FULL) ==
                            (e->cycle_info.generation == SHADE_GENERATION_OLDEST) &&
                        e->cycle_info.mode == conc_mode);
      SHADE_TEST_EXPECT(conc_mode == SHADE_MODE_STW ||
                        e->cycle_info.kind == SHADE_COLLECTION_FULL);
      begins++;
      depth = 0;
      stack[depth++] = key;
      break;
    case SHADE_EVENT_CYCLE_END:
      SHADE_TEST_EXPECTF(depth == 1, "cycle %" PRIu64 " ends with %u phases open", e->cycle,
                         depth ? depth - 1 : 0);
      SHADE_TEST_EXPECT_EQ(e->cycle, expected_cycle);
      SHADE_TEST_EXPECT(e->cycle_info.heap_goal > 0 && e->cycle_info.heap_mapped > 0 &&
                        e->cycle_info.duration_ns >= e->cycle_info.pause_ns);
      ends++;
      expected_cycle++;
      last_reason = e->cycle_info.reason;
      by_allocation += e->cycle_info.reason == SHADE_REASON_ALLOCATION;
      depth = 0;
      break;
    case SHADE_EVENT_PAUSE_BEGIN:
    case SHADE_EVENT_PHASE_BEGIN:
      SHADE_TEST_EXPECTF(depth >= 1 && depth < 16, "%s (phase %u) outside a cycle",
                         type_name(e->type), e->phase.phase);
      if (depth >= 1 && depth < 16)
        stack[depth++] = key;
      break;
    case SHADE_EVENT_PAUSE_END:
    case SHADE_EVENT_PHASE_END:
      SHADE_TEST_EXPECTF(depth >= 2 && stack[depth - 1] == key,
                         "%s (phase %u) does not close the innermost open one (%u)",
                         type_name(e->type), e->phase.phase, depth ? stack[depth - 1] : 0);
      if (depth >= 2)
        depth--;
      if (e->type == SHADE_EVENT_PAUSE_END) {
        pauses++;
        pause_sum += e->pause.duration_ns;
        if (e->pause.duration_ns > pause_max)
          pause_max = e->pause.duration_ns;
      }
      break;
    }
  }
  SHADE_TEST_EXPECT(depth == 0);
  SHADE_TEST_EXPECT_EQ(begins, after.cycles - before.cycles);
  SHADE_TEST_EXPECT_EQ(ends, after.cycles - before.cycles);
  // Every stop of the world but the verifier's is a pause: one per stop-the-world cycle, two per
  // incremental cycle, one for a concurrent one (its mark termination).
  uint64_t expected_pauses = (after.world_stops - before.world_stops) -
                             (after.verify_stops - before.verify_stops);
  SHADE_TEST_EXPECT_EQ(pauses, expected_pauses);
  SHADE_TEST_EXPECT_EQ(pause_sum, after.pause_total_ns - before.pause_total_ns);
  SHADE_TEST_EXPECT_EQ(pause_max, after.pause_max_ns);
  SHADE_TEST_EXPECT_EQ(last_reason, (uint64_t)SHADE_REASON_EXPLICIT);
  SHADE_TEST_EXPECTF(by_allocation >= 1, "no cycle triggered by allocation (%" PRIu64 " cycles)",
                     ends);
  fprintf(stderr, "%" PRIu64 " assists, %" PRIu64 " worker chunks\n", assists, chunks);
  if (conc_mode == SHADE_MODE_INCREMENTAL) // (the idle worker may have paid for every slice)
    SHADE_TEST_EXPECTF(assists > 0 || chunks > 0, "no assist and no worker chunk");
  if (conc_mode == SHADE_MODE_CONCURRENT)
    SHADE_TEST_EXPECT(chunks > 0);
  if (conc_mode == SHADE_MODE_STW)
    SHADE_TEST_EXPECT(assists == 0 && chunks == 0);
  shade_enable();
}

// A large object grows the heap; shade_free_os_memory collects (reason) and returns pages.
static void test_heap_resize_and_scavenge(void) {
  struct recorder *r = &recorders[1];
  listen(r);
  size_t big = (size_t)96 << 20;
  char *volatile block = shade_malloc_atomic(big);
  SHADE_TEST_EXPECT(block != NULL);
  if (block)
    memset(block, 1, big);
  block = NULL;
  shade_test_clear_stack();
  shade_free_os_memory();
  shade_set_event_listener(NULL, NULL);
  size_t n = recorded(r);
  int grew = 0, returned = 0, scavenged = 0, free_os_cycle = 0;
  for (size_t i = 0; i < n; i++) {
    const struct shade_event *e = &r->events[i];
    if (e->type == SHADE_EVENT_HEAP_RESIZE) {
      grew |= e->heap.mapped_change >= (int64_t)big;
      returned |= e->heap.resident_change < 0;
    }
    if (e->type == SHADE_EVENT_SCAVENGE && e->scavenge.reason == SHADE_SCAVENGE_FREE_OS_MEMORY)
      scavenged = e->scavenge.bytes > 0;
    if (e->type == SHADE_EVENT_CYCLE_END && e->cycle_info.reason == SHADE_REASON_FREE_OS_MEMORY)
      free_os_cycle = 1;
  }
  SHADE_TEST_EXPECT(grew);
  SHADE_TEST_EXPECT(returned);
  SHADE_TEST_EXPECT(scavenged);
  SHADE_TEST_EXPECT(free_os_cycle);
}

// After the listener is removed, nothing more arrives; a types mask filters.
static void test_unset_and_mask(void) {
  struct recorder *r = &recorders[2];
  struct shade_event_listener only_ends = {
      .on_event = record, .types = 1u << SHADE_EVENT_CYCLE_END};
  shade_set_event_listener(&only_ends, r);
  shade_collect();
  size_t n = recorded(r);
  for (size_t i = 0; i < n; i++)
    SHADE_TEST_EXPECT(r->events[i].type == SHADE_EVENT_CYCLE_END);
  SHADE_TEST_EXPECT(n >= 1);
  shade_set_event_listener(NULL, NULL);
  quiesce(); // an in-flight event of another thread may still land before this
  size_t settled = recorded(r);
  shade_collect();
  shade_collect();
  SHADE_TEST_EXPECT_EQ(recorded(r), settled);
  shade_enable();
}

int main(int argc, char **argv) {
  conc_start(conc_mode_from_args(argc, argv), (struct conc_pacing){.min_heap_goal = 1 << 20});
  SHADE_TEST_RUN(test_cycles_pauses_and_phases);
  SHADE_TEST_RUN(test_heap_resize_and_scavenge);
  SHADE_TEST_RUN(test_unset_and_mask);
  return shade_test_finish();
}
