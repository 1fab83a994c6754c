// pageheap.c: the page heap (TCMalloc's, simplified).
//
// Free runs of pages are span records in state SPAN_FREE, kept on doubly linked lists: one list
// for each length up to SMALL_RUN_LIMIT pages, and one unsorted list of longer runs searched best
// fit. A free run is mapped in the page table at its first and last page, so freeing a span finds
// a free neighbour on either side with one lookup each and merges with it: two free runs are
// never adjacent. When nothing fits, the heap grows by whole 64 MiB arenas (or more for a huge
// object). One mutex guards all of it; callers hold no other allocator lock below it except the
// metadata lock.
#include "alloc/pageheap.h"

#include <pthread.h>

#include "alloc/arena.h"
#include "alloc/metadata.h"

#define SMALL_RUN_LIMIT 128

static pthread_mutex_t pageheap_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct span *small_runs[SMALL_RUN_LIMIT + 1];
static struct span *long_runs;
static _Atomic size_t in_use_bytes;
static _Atomic size_t free_bytes;

void pageheap_lock(void) { pthread_mutex_lock(&pageheap_mutex); }
void pageheap_unlock(void) { pthread_mutex_unlock(&pageheap_mutex); }
void pageheap_after_fork_child(void) { pthread_mutex_init(&pageheap_mutex, NULL); }

size_t pageheap_in_use_bytes(void) { return load_relaxed(&in_use_bytes); }
size_t pageheap_free_bytes(void) { return load_relaxed(&free_bytes); }

static struct span **list_for(size_t pages) {
  return pages <= SMALL_RUN_LIMIT ? &small_runs[pages] : &long_runs;
}

static void list_insert(struct span *run) {
  struct span **head = list_for(run->pages);
  run->prev = NULL;
  run->next = *head;
  if (*head)
    (*head)->prev = run;
  *head = run;
  atomic_fetch_add(&free_bytes, run->pages * PAGE_SIZE);
}

static void list_remove(struct span *run) {
  if (run->prev)
    run->prev->next = run->next;
  else
    *list_for(run->pages) = run->next;
  if (run->next)
    run->next->prev = run->prev;
  run->next = run->prev = NULL;
  atomic_fetch_sub(&free_bytes, run->pages * PAGE_SIZE);
}

static uintptr_t run_last_page(const struct span *run) {
  return run->base + (run->pages - 1) * PAGE_SIZE;
}

static void map_free_run(struct span *run) {
  arena_set_span(run->base, run);
  arena_set_span(run_last_page(run), run);
}

static void unmap_pages(uintptr_t base, size_t pages) {
  for (size_t i = 0; i < pages; i++)
    arena_set_span(base + i * PAGE_SIZE, NULL);
}

static struct span *free_neighbour(uintptr_t page_address) {
  struct span *s = arena_span_of(page_address);
  return s != NULL && s->state == SPAN_FREE ? s : NULL;
}

// Insert a free run, merging it with free runs on either side.
static void insert_coalescing(struct span *run) {
  run->state = SPAN_FREE;
  struct span *before = run->base >= PAGE_SIZE ? free_neighbour(run->base - PAGE_SIZE) : NULL;
  if (before) {
    list_remove(before);
    unmap_pages(run->base, 1);
    arena_set_span(run_last_page(before), NULL);
    before->pages += run->pages;
    before->needs_zeroing |= run->needs_zeroing;
    before->released &= run->released;
    span_record_free(run);
    run = before;
  }
  struct span *after = free_neighbour(run->base + run->pages * PAGE_SIZE);
  if (after) {
    list_remove(after);
    arena_set_span(run_last_page(run), NULL);
    arena_set_span(after->base, NULL);
    run->pages += after->pages;
    run->needs_zeroing |= after->needs_zeroing;
    run->released &= after->released;
    span_record_free(after);
  }
  map_free_run(run);
  list_insert(run);
}

static struct span *find_run(size_t pages) {
  for (size_t n = pages; n <= SMALL_RUN_LIMIT; n++)
    if (small_runs[n])
      return small_runs[n];
  struct span *best = NULL;
  for (struct span *run = long_runs; run; run = run->next)
    if (run->pages >= pages && (best == NULL || run->pages < best->pages))
      best = run;
  return best;
}

static bool grow(size_t pages) {
  size_t bytes = align_up(pages * PAGE_SIZE, ARENA_SIZE);
  uintptr_t base = arena_grow(bytes);
  if (base == 0)
    return false;
  struct span *run = span_record_new();
  run->base = base;
  run->pages = bytes / PAGE_SIZE;
  run->needs_zeroing = 0; // fresh mappings read as zero
  run->released = 1;      // and are not resident yet
  insert_coalescing(run);
  return true;
}

struct span *pageheap_alloc(size_t pages, enum span_state state) {
  pthread_mutex_lock(&pageheap_mutex);
  struct span *run = find_run(pages);
  if (run == NULL) {
    if (!grow(pages)) {
      pthread_mutex_unlock(&pageheap_mutex);
      return NULL;
    }
    run = find_run(pages);
  }
  list_remove(run);
  arena_set_span(run_last_page(run), NULL);
  if (run->pages > pages) {
    struct span *rest = span_record_new();
    rest->base = run->base + pages * PAGE_SIZE;
    rest->pages = run->pages - pages;
    rest->needs_zeroing = run->needs_zeroing;
    rest->released = run->released;
    rest->state = SPAN_FREE;
    map_free_run(rest);
    list_insert(rest);
    run->pages = pages;
  }
  run->state = (uint8_t)state;
  run->released = 0;
  for (size_t i = 0; i < pages; i++)
    arena_set_span(run->base + i * PAGE_SIZE, run);
  atomic_fetch_add(&in_use_bytes, pages * PAGE_SIZE);
  pthread_mutex_unlock(&pageheap_mutex);
  return run;
}

void pageheap_free(struct span *s) {
  pthread_mutex_lock(&pageheap_mutex);
  atomic_fetch_sub(&in_use_bytes, s->pages * PAGE_SIZE);
  unmap_pages(s->base, s->pages);
  struct span *run = s;
  uintptr_t base = s->base;
  size_t pages = s->pages;
  // Keep nothing of the old use but the geometry.
  *run = (struct span){.base = base, .pages = pages, .needs_zeroing = 1, .state = SPAN_FREE};
  insert_coalescing(run);
  pthread_mutex_unlock(&pageheap_mutex);
}
