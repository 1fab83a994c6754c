// metadata.c: a bump allocator over 1 MiB OS chunks with exact-size free lists (sizes are
// rounded to 16 bytes; bitmaps and span records come in a handful of sizes; blocks whose size is a
// multiple of 64 start on a cache line). One mutex. Built with -DSHADE_METADATA_POISON, freed
// blocks are filled with 0xDE and checked when handed out again (catches use after free).
#include "alloc/metadata.h"

#include <pthread.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/message.h"
#include "base/base.h"
#include "os/os_memory.h"

#define CHUNK_SIZE ((size_t)1 << 20)
#define FREE_LIST_LIMIT 4096 // sizes up to this many bytes are recycled by size

struct free_block { struct free_block *next; };

static pthread_mutex_t metadata_mutex = PTHREAD_MUTEX_INITIALIZER;
static char *bump_next, *bump_end;
static struct free_block *free_lists[FREE_LIST_LIMIT / 16 + 1];
static _Atomic size_t mapped_bytes; // chunks and large blocks taken from the OS, not given back

size_t metadata_mapped_bytes(void) { return load_relaxed(&mapped_bytes); }

void metadata_lock(void) { pthread_mutex_lock(&metadata_mutex); }
void metadata_unlock(void) { pthread_mutex_unlock(&metadata_mutex); }
void metadata_after_fork_child(void) { pthread_mutex_init(&metadata_mutex, NULL); }

void *metadata_alloc(size_t size) {
  size = align_up(size ? size : 16, 16);
  if (size > CHUNK_SIZE / 4) {
    void *p = os_map(align_up(size, PAGE_SIZE));
    if (p == NULL)
      shade_fatal("shade: out of memory for collector metadata (%zu bytes)", size);
    atomic_fetch_add_explicit(&mapped_bytes, align_up(size, PAGE_SIZE), memory_order_relaxed);
    return p;
  }
  pthread_mutex_lock(&metadata_mutex);
  void *result;
  struct free_block **list = size <= FREE_LIST_LIMIT ? &free_lists[size / 16] : NULL;
  if (list && *list) {
    result = *list;
    *list = (*list)->next;
#ifdef SHADE_METADATA_POISON
    for (size_t i = 8; i < size; i++)
      if (((unsigned char *)result)[i] != 0xDE) {
        char buf[200]; int n = snprintf(buf, sizeof buf, "metadata %p size %zu written after free at +%zu\n", result, size, i);
        write(2, buf, n); abort();
      }
#endif
    pthread_mutex_unlock(&metadata_mutex);
    memset(result, 0, size);
    return result;
  }
  if ((size_t)(bump_end - bump_next) < size) {
    char *chunk = os_map(CHUNK_SIZE);
    if (chunk == NULL) {
      pthread_mutex_unlock(&metadata_mutex);
      shade_fatal("shade: out of memory for collector metadata (%zu bytes)", size);
    }
    bump_next = chunk;
    bump_end = chunk + CHUNK_SIZE;
    atomic_fetch_add_explicit(&mapped_bytes, CHUNK_SIZE, memory_order_relaxed);
  }
  if (size % 64 == 0) { // cache-line-sized records start on a cache line
    char *aligned = (char *)align_up((uintptr_t)bump_next, 64);
    if ((size_t)(bump_end - aligned) >= size)
      bump_next = aligned;
  }
  result = bump_next; // fresh mapping memory is already zero
  bump_next += size;
  pthread_mutex_unlock(&metadata_mutex);
  return result;
}

void metadata_free(void *p, size_t size) {
  size = align_up(size ? size : 16, 16);
  if (size > CHUNK_SIZE / 4) {
    os_unmap(p, align_up(size, PAGE_SIZE));
    atomic_fetch_sub_explicit(&mapped_bytes, align_up(size, PAGE_SIZE), memory_order_relaxed);
    return;
  }
  if (size > FREE_LIST_LIMIT)
    return; // rare mid-size blocks are simply kept
#ifdef SHADE_METADATA_POISON
  memset(p, 0xDE, size);
#endif
  pthread_mutex_lock(&metadata_mutex);
  struct free_block *block = p;
  block->next = free_lists[size / 16];
  free_lists[size / 16] = block;
  pthread_mutex_unlock(&metadata_mutex);
}
