// snapshot_output.h: a buffered writer over a file descriptor for the heap snapshot, with the
// JSON pieces it needs (unsigned numbers, escaped strings). Memory is mapped from the OS and
// output goes out with plain write(2): it is used while the world is stopped, where the C
// library's malloc and stdio are off limits (a stopped thread may hold their locks).
#ifndef SHADE_GC_SNAPSHOT_OUTPUT_H
#define SHADE_GC_SNAPSHOT_OUTPUT_H
#include "base/format.h"
#include <stddef.h>
#include <stdint.h>

struct snapshot_output {
  int fd;
  char *buffer;      // SNAPSHOT_OUTPUT_BUFFER bytes, os_map
  size_t used;
  int error;         // the first errno a write gave; later output is dropped
  uint64_t written;  // bytes handed to write(2) successfully
};

// 0, or an errno (ENOMEM: no buffer).
int snapshot_output_begin(struct snapshot_output *o, int fd);
void snapshot_output_bytes(struct snapshot_output *o, const char *bytes, size_t length);
void snapshot_output_text(struct snapshot_output *o, const char *text);
void snapshot_output_char(struct snapshot_output *o, char c);
void snapshot_output_uint(struct snapshot_output *o, uint64_t value);
// `text` (length bytes) as a JSON string literal, quotes included.
void snapshot_output_json_string(struct snapshot_output *o, const char *text, size_t length);
// Flushes and releases the buffer; returns 0 or the first errno.
int snapshot_output_end(struct snapshot_output *o);

// Decimal digits of value into out (at least 20 bytes); returns their count.

#endif
