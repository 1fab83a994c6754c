// snapshot_strings.c: the deduplicated string table of the heap snapshot (snapshot_strings.h).
//
// A hash table (FNV-1a, open addressing with linear probing, kept at most half full) maps a
// text to its index; the entries array maps an index back to the text. The texts are copied
// into 1 MiB chunks, so callers may pass text they format on their stack. All memory is mapped
// from the OS (the table is used with the world stopped, where malloc is off limits) and
// returned by snapshot_strings_end.
#include "gc/snapshot_strings.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "os/os_memory.h"

#define STRING_CHUNK ((size_t)1 << 20)

void snapshot_strings_begin(struct snapshot_strings *t) { memset(t, 0, sizeof *t); }

static uint32_t hash_of(const char *text, size_t length) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < length; i++)
    h = (h ^ (unsigned char)text[i]) * 16777619u;
  return h;
}

static bool grow_slots(struct snapshot_strings *t) {
  uint32_t slot_count = t->slot_count ? t->slot_count * 2 : 1024;
  uint32_t *slots = os_map(slot_count * sizeof *slots);
  if (slots == NULL)
    return false;
  for (uint32_t i = 0; i < t->count; i++) {
    uint32_t s = t->entries[i].hash & (slot_count - 1);
    while (slots[s])
      s = (s + 1) & (slot_count - 1);
    slots[s] = i + 1;
  }
  if (t->slots)
    os_unmap(t->slots, t->slot_count * sizeof *t->slots);
  t->slots = slots;
  t->slot_count = slot_count;
  return true;
}

static bool grow_entries(struct snapshot_strings *t) {
  uint32_t capacity = t->entry_capacity ? t->entry_capacity * 2 : 1024;
  struct snapshot_string *entries = os_map(capacity * sizeof *entries);
  if (entries == NULL)
    return false;
  if (t->entries) {
    memcpy(entries, t->entries, t->count * sizeof *entries);
    os_unmap(t->entries, t->entry_capacity * sizeof *entries);
  }
  t->entries = entries;
  t->entry_capacity = capacity;
  return true;
}

// A chunk starts with its header: the next (older) chunk and its own mapped size.
struct chunk_header {
  char *next;
  size_t size;
};

static char *copy_text(struct snapshot_strings *t, const char *text, size_t length) {
  if (t->chunk == NULL || t->chunk_used + length > t->chunk_size) {
    size_t need = length + sizeof(struct chunk_header);
    size_t size = need > STRING_CHUNK ? need : STRING_CHUNK;
    char *chunk = os_map(size);
    if (chunk == NULL)
      return NULL;
    struct chunk_header header = {t->first_chunk, size};
    memcpy(chunk, &header, sizeof header);
    t->first_chunk = chunk;
    t->chunk = chunk;
    t->chunk_size = size;
    t->chunk_used = sizeof header;
  }
  char *copy = t->chunk + t->chunk_used;
  memcpy(copy, text, length);
  t->chunk_used += length;
  return copy;
}

uint32_t snapshot_strings_intern(struct snapshot_strings *t, const char *text, size_t length) {
  if (t->error)
    return 0;
  if ((t->count + 1) * 2 > t->slot_count && !grow_slots(t))
    goto out_of_memory;
  uint32_t hash = hash_of(text, length);
  uint32_t s = hash & (t->slot_count - 1);
  for (; t->slots[s]; s = (s + 1) & (t->slot_count - 1)) {
    const struct snapshot_string *e = &t->entries[t->slots[s] - 1];
    if (e->hash == hash && e->length == length && memcmp(e->text, text, length) == 0)
      return t->slots[s] - 1;
  }
  if (t->count == t->entry_capacity && !grow_entries(t))
    goto out_of_memory;
  char *copy = copy_text(t, text, length);
  if (copy == NULL)
    goto out_of_memory;
  t->entries[t->count] = (struct snapshot_string){copy, (uint32_t)length, hash};
  t->slots[s] = ++t->count;
  return t->count - 1;
out_of_memory:
  t->error = ENOMEM;
  return 0;
}

uint32_t snapshot_strings_intern_text(struct snapshot_strings *t, const char *text) {
  return snapshot_strings_intern(t, text, strlen(text));
}

void snapshot_strings_write(const struct snapshot_strings *t, struct snapshot_output *o) {
  for (uint32_t i = 0; i < t->count; i++) {
    if (i)
      snapshot_output_text(o, ",\n");
    snapshot_output_json_string(o, t->entries[i].text, t->entries[i].length);
  }
}

void snapshot_strings_end(struct snapshot_strings *t) {
  for (char *chunk = t->first_chunk; chunk;) {
    struct chunk_header header;
    memcpy(&header, chunk, sizeof header);
    os_unmap(chunk, header.size);
    chunk = header.next;
  }
  if (t->slots)
    os_unmap(t->slots, t->slot_count * sizeof *t->slots);
  if (t->entries)
    os_unmap(t->entries, t->entry_capacity * sizeof *t->entries);
  memset(t, 0, sizeof *t);
}
