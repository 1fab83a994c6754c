// trace_line.c: SHADE_TRACE=gc, one line per cycle on stderr (or the message handler), written by
// a listener of the CYCLE_END event like any other (events.h): everything it prints is in the
// event. Three forms: a stop-the-world cycle (full), a young collection (short), and an
// incremental or concurrent cycle (its two pauses and the marking between).
#include "gc/trace_line.h"

#include "base/message.h"
#include "gc/events.h"

static void print_cycle(const struct shade_event *e, void *unused) {
  (void)unused;
  const struct shade_event_cycle *c = &e->cycle_info;
  const double ms = 1e6, mb = 1048576.0;
  double elapsed = (double)c->since_start_ns;
  unsigned long long cycle = (unsigned long long)e->cycle;
  if (c->kind == SHADE_COLLECTION_YOUNG) {
    shade_message("gc %llu @%.3fs gen%d: %.3f+%.3f+%.3f ms clock, %.1f->%.1f MB in use, %.1f MB "
                  "promoted, %.1f MB remembered, %.1f+%.1f MB budgets, %.1f MB goal",
                  cycle, elapsed / 1e9, c->generation, (double)c->clock_ns[0] / ms,
                  (double)c->clock_ns[1] / ms, (double)c->clock_ns[2] / ms,
                  (double)c->heap_before / mb, (double)c->heap_in_use / mb,
                  (double)c->heap_live / mb, (double)c->remembered_bytes / mb,
                  (double)c->gen0_budget / mb, (double)c->gen1_budget / mb,
                  (double)c->heap_goal / mb);
    return;
  }
  if (c->marking == SHADE_MODE_STW) {
    shade_message("gc %llu @%.3fs %.0f%%%s: %.3f+%.3f+%.3f ms clock, %.1f->%.1f->%.1f MB, "
                  "%.1f MB goal, %.1f MB mapped, %u threads, %u markers",
                  cycle, elapsed / 1e9, elapsed > 0 ? 100.0 * (double)c->gc_time_ns / elapsed : 0.0,
                  c->gen0_budget ? " gen2" : "", (double)c->clock_ns[0] / ms,
                  (double)c->clock_ns[1] / ms, (double)c->clock_ns[2] / ms,
                  (double)c->heap_before / mb, (double)c->heap_live / mb,
                  (double)c->heap_live / mb, (double)c->heap_goal / mb,
                  (double)c->heap_mapped / mb, c->threads, c->markers);
    return;
  }
  const char *name = c->marking == SHADE_MODE_CONCURRENT ? "concurrent" : "incremental";
  shade_message("gc %llu @%.3fs %s: %.3f+%.3f+%.3f ms clock (STW start + %s mark + STW end), "
                "%.3f ms assist, %.3f ms worker cpu (%.0f%% of the mark), %.1f->%.1f MB "
                "(%.1f MB allocated black), %.1f MB goal, %.1f MB trigger, %u threads",
                cycle, elapsed / 1e9, name, (double)c->clock_ns[0] / ms,
                (double)c->clock_ns[1] / ms, (double)c->clock_ns[2] / ms, name,
                (double)c->assist_ns / ms, (double)c->worker_ns / ms,
                c->clock_ns[1] ? 100.0 * (double)c->worker_ns / (double)c->clock_ns[1] : 0.0,
                (double)c->heap_before / mb, (double)c->heap_live / mb,
                (double)c->heap_black / mb, (double)c->heap_goal / mb, (double)c->trigger / mb,
                c->threads);
}

void trace_line_start(void) {
  static const struct shade_event_listener listener = {
      .on_event = print_cycle, .types = 1u << SHADE_EVENT_CYCLE_END};
  events_set_listener(EVENTS_SLOT_TRACE_LINE, &listener, NULL);
}
