// events_api.c: the public calls of events and the trace file (shade.h, "Events", "Trace file";
// gc/events.c, gc/trace_file.c).
#include "api/api_internal.h"
#include "gc/events.h"
#include "gc/trace_file.h"

SHADE_API void shade_set_event_listener(const struct shade_event_listener *listener, void *data) {
  events_set_listener(EVENTS_SLOT_PROGRAM, listener, data);
}

SHADE_API int shade_trace_file_open(const char *path) {
  if (shade_init(NULL) != 0) // the trace starts with Shade (SHADE_TRACE_FILE may open one first)
    return -1;
  return trace_file_open(path);
}

SHADE_API void shade_trace_file_close(void) { trace_file_close(); }
