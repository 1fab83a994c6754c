// format.h: number formatting without the C library's stdio, for writers that run with the world
// stopped or inside a critical section, where a stopped thread may hold stdio's or malloc's lock
// (the heap snapshot and the trace file).
#ifndef SHADE_BASE_FORMAT_H
#define SHADE_BASE_FORMAT_H
#include <stddef.h>
#include <stdint.h>

// Writes value in decimal at out (at most 20 characters, no terminator); returns the count.
static inline size_t format_uint(char *out, uint64_t value) {
  char digits[20];
  size_t n = 0;
  do {
    digits[n++] = (char)('0' + value % 10);
    value /= 10;
  } while (value);
  for (size_t i = 0; i < n; i++)
    out[i] = digits[n - 1 - i];
  return n;
}

#endif
