// test_trace_file.c: writes a trace file (shade.h, "Trace file") in the mode named by argv[1],
// to the path argv[2] (opened with shade_trace_file_open; "env": SHADE_TRACE_FILE opened it at
// shade_init), then the statistics the trace must agree with to argv[3] as JSON. The checks are
// check_trace.py (content, with Python's json module) and check_trace_model.js (an independent
// Trace Event parser from npm). run_trace_test.sh runs the three.
#include "../concurrent/conc_test.h"

struct node {
  struct node *next;
  uint64_t payload[6];
};
static struct node *volatile live_list;

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: %s MODE TRACE|env STATS\n", argv[0]);
    return 2;
  }
  conc_start(conc_mode_parse(argv[1]), (struct conc_pacing){.min_heap_goal = 1 << 20});
  if (strcmp(argv[2], "env") != 0)
    SHADE_TEST_EXPECT(shade_trace_file_open(argv[2]) == 0);
  uint64_t rng = shade_test_seed();
  for (size_t i = 0; i < shade_test_scaled(40000, 2000); i++) {
    struct node *n = shade_malloc(sizeof *n);
    SHADE_STORE(n->next, live_list);
    SHADE_STORE(live_list, n);
  }
  struct shade_stats before = shade_test_stats(), now = before;
  double start = shade_test_now();
  while (now.cycles - before.cycles < 8 && shade_test_now() - start < conc_cap(20)) {
    for (int i = 0; i < 1000; i++)
      conc_garbage(&rng);
    now = shade_test_stats();
  }
  char *volatile big = shade_malloc_atomic((size_t)80 << 20); // the heap grows
  SHADE_TEST_EXPECT(big != NULL);
  big = NULL;
  shade_disable(); // no cycle between the statistics and the file's end
  for (int i = 0; i < 20000 && conc_marking_now(); i++) {
    if (conc_mode == SHADE_MODE_INCREMENTAL)
      conc_garbage(&rng);
    else
      conc_nap_ms(1);
  }
  shade_collect();
  shade_free_os_memory();
  struct shade_stats s = shade_test_stats();
  shade_trace_file_close();
  FILE *f = fopen(argv[3], "w");
  SHADE_TEST_EXPECT(f != NULL);
  if (f) {
    fprintf(f,
            "{\"mode\":\"%s\",\"cycles\":%" PRIu64 ",\"concurrent_cycles\":%" PRIu64
            ",\"pauses\":%" PRIu64 ",\"pause_total_ns\":%" PRIu64 ",\"pause_max_ns\":%" PRIu64
            "}\n",
            argv[1], s.cycles, s.concurrent_cycles, s.world_stops - s.verify_stops,
            s.pause_total_ns, s.pause_max_ns);
    fclose(f);
  }
  fprintf(stderr, "%" PRIu64 " cycles, %" PRIu64 " pauses\n", s.cycles,
          s.world_stops - s.verify_stops);
  shade_enable();
  return shade_test_finish();
}
