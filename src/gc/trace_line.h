// trace_line.h: the trace line (SHADE_TRACE=gc), a listener of the collector's events.
#ifndef SHADE_GC_TRACE_LINE_H
#define SHADE_GC_TRACE_LINE_H

// From collector_init when options.trace is set.
void trace_line_start(void);

#endif
