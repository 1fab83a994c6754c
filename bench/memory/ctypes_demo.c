// ctypes_demo.c: the seed's DLL scenario. A shared library that uses Shade inside (linked
// statically) and exports a plain C function; a Python program calls it through ctypes
// (ctypes_demo.py). The call builds a large temporary structure on Shade's heap (a linked list of
// records plus a big atomic buffer), computes a checksum and returns; nothing it allocated is
// reachable afterwards. Python never calls Shade: whether RSS comes back after the call is the
// collector's own doing (idle collection + scavenger).
#include <shade.h>

#include <stdint.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

struct record {
  struct record *next;
  uint64_t key, value;
  char text[40];
};

static __attribute__((noinline)) uint64_t work(size_t mib) {
  static const struct shade_options options = {.auto_register = 1}; // Python may call from any thread
  shade_init(&options);
  size_t bytes = mib << 20;
  uint64_t *buffer = shade_malloc_atomic(bytes / 2); // half in one buffer ("the file")
  if (buffer == NULL)
    return 0;
  for (size_t i = 0; i < bytes / 2 / 8; i++)
    buffer[i] = i * 0x9E3779B97F4A7C15ull;
  struct record *list = NULL;
  size_t records = bytes / 2 / sizeof(struct record); // half in small objects ("the parse")
  for (size_t i = 0; i < records; i++) {
    struct record *r = shade_malloc(sizeof *r);
    if (r == NULL)
      return 0;
    r->key = buffer[i % (bytes / 16)];
    r->value = i;
    memcpy(r->text, "record", 7);
    r->next = list;
    list = r;
  }
  uint64_t sum = 0;
  for (struct record *r = list; r; r = r->next)
    sum += r->key ^ r->value;
  return sum;
}

static __attribute__((noinline)) void wipe_stack(void) {
  volatile char wipe[16 * 1024];
  memset((char *)wipe, 0, sizeof wipe);
  __asm__ volatile("" : : "r"(wipe) : "memory");
}

EXPORT uint64_t demo_process(size_t mib) {
  uint64_t sum = work(mib);
  wipe_stack(); // the caller's stack is Python's: leave no address of ours on it
  return sum;
}

EXPORT uint64_t demo_heap_resident(void) {
  struct shade_stats stats;
  shade_get_stats(&stats);
  return stats.heap_resident;
}

EXPORT void demo_free_os_memory(void) { shade_free_os_memory(); }
