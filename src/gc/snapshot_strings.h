// snapshot_strings.h: the heap snapshot's string table. Every node name and edge name is stored
// once and referred to by its index; type names and edge names repeat millions of times.
#ifndef SHADE_GC_SNAPSHOT_STRINGS_H
#define SHADE_GC_SNAPSHOT_STRINGS_H
#include <stddef.h>
#include <stdint.h>

#include "gc/snapshot_output.h"

struct snapshot_string {
  const char *text; // a copy in the table's own memory
  uint32_t length;
  uint32_t hash;
};

struct snapshot_strings {
  struct snapshot_string *entries; // by index
  uint32_t count, entry_capacity;
  uint32_t *slots;                 // open addressing: index + 1, 0 empty
  uint32_t slot_count;             // a power of two, at least twice count
  char *chunk;                     // copies of the texts, bump allocated
  size_t chunk_used, chunk_size;
  char *first_chunk;               // chunks are chained through their first word
  int error;                       // ENOMEM once the OS refused memory
};

void snapshot_strings_begin(struct snapshot_strings *t);
// The index of `text` (length bytes), added if new. Returns 0 (the first string) if the table
// could not grow; t->error says so.
uint32_t snapshot_strings_intern(struct snapshot_strings *t, const char *text, size_t length);
uint32_t snapshot_strings_intern_text(struct snapshot_strings *t, const char *text);
// The strings in index order, as the elements of a JSON array (no brackets).
void snapshot_strings_write(const struct snapshot_strings *t, struct snapshot_output *o);
void snapshot_strings_end(struct snapshot_strings *t);

#endif
