// trace_file.h: the trace file (shade.h, "Trace file"): an event listener that writes the Chrome
// Trace Event Format for Perfetto and chrome://tracing (trace_file.c).
#ifndef SHADE_GC_TRACE_FILE_H
#define SHADE_GC_TRACE_FILE_H

// Open `path` (truncated) and start listening; a trace already open is closed first.
// Returns 0, or -1 with errno set.
int trace_file_open(const char *path);
// Stop listening, write what the buffers hold and the closing bracket, close the file.
void trace_file_close(void);
// SHADE_TRACE_FILE: the one place that reads it (until the options table takes it over).
// From shade_init: the trace file of options.trace_file (SHADE_TRACE_FILE), if any.
void trace_file_open_at_start(const char *path);
// In a forked child: the parent's trace is not the child's; stop writing to it.
void trace_file_after_fork_child(void);

#endif
