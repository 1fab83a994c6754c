// pageheap.c: the page heap (TCMalloc's, simplified), and which of its free pages are resident.
//
// Free runs of pages are span records in state SPAN_FREE. A free run is either resident (its
// pages may hold physical memory: released == 0) or released (given back to the OS with madvise,
// or never touched since the arena was reserved: released == 1). Each kind has its own lists: one
// list for each length up to SMALL_RUN_LIMIT pages, and one unsorted list of longer runs searched
// best fit. A free run is mapped in the page table at its first and last page, so freeing a span
// finds a free neighbour on either side with one lookup each.
//
// Allocation takes the best-fitting resident run; only when no resident run is long enough does
// it take a released one (whose pages fault in again, zero-filled). When no single run fits, it
// merges adjacent resident and released runs (the merged run counts as resident: an
// overestimate, never an underestimate, of what the OS holds) and tries again; when that fails too
// the heap grows by whole 64 MiB arenas (or more for a huge object), less one guard page at each
// end of the reservation (see grow). With a hard heap limit set,
// an allocation that would take the pages held by spans above the limit fails (returns NULL).
//
// Scavenging (pageheap_scavenge_step, called by the scavenger and by shade_free_os_memory) picks
// a resident run that has been free long (below), cuts a chunk of at most the asked size off its
// start, and marks the chunk in flight (released == 2: on no list, never merged, never handed
// out). It then drops the page-heap lock, madvises the chunk, takes the lock again and inserts the
// chunk as released. So the page-heap lock is never held across a system call: allocating and
// freeing threads never wait behind an madvise. Only one chunk is in flight at a time
// (scavenge_mutex; lock order: collector lock, scavenge_mutex, page-heap lock). Callers hold the
// collector lock, so no marking reads a record while a step changes it; a collection that wants
// to start waits for at most one step (the background scavenger's steps are 16 MiB).
//
// Which run: a step that only wants runs free since before some time (the idle rule) takes the
// first such run, the longest runs first; a step that may take any (the heap is over its target,
// or the program asked) takes the one free the longest of the first SCAVENGE_SEARCH_RUNS resident
// runs, the longest first. Walking every free list with the page-heap lock held, to find the
// run free the longest, took 1-2 ms on a heap of many free runs, and the program's sweeping,
// which frees spans, waited that long (churn, incremental mode: 6-7 waits of 0.8-2 ms in 10 s).
// The idle rule also compares its time with oldest_resident_hint, a lower bound on every
// resident run's free time, and returns at once when nothing can be old enough; a walk that
// finds nothing has seen every run and makes the hint exact.
//
// Invariants, whenever the page-heap lock is free and no chunk is in flight:
//   - two adjacent free runs of the same kind (resident / released) do not exist: they are merged;
//   - free_bytes = sum of the free runs' pages; released_bytes = sum of the released runs' pages;
//   - a released run has needs_zeroing == 0 unless it was released with MADV_FREE (its pages may
//     then still hold old contents) or merged with a run that needed zeroing;
//   - a free run's free_since (kept in the record's large_requested field, unused while free) is
//     the monotonic time, in ns, at which its most recently freed part was freed; the idle rule of
//     the scavenger compares it with the clock;
//   - oldest_resident_hint <= free_since of every resident free run.
// Callers hold no other allocator lock when they call pageheap_alloc or pageheap_free, except the
// metadata lock, which the page heap takes after its own.
#define _GNU_SOURCE
#include "alloc/pageheap.h"

#include <pthread.h>
#include <time.h>

#include "alloc/arena.h"
#include "alloc/metadata.h"
#include "os/os_memory.h"

#define SMALL_RUN_LIMIT 128
#define IN_FLIGHT 2 // value of span.released for a chunk being released
#define SCAVENGE_SEARCH_RUNS 64

struct run_lists {
  struct span *small[SMALL_RUN_LIMIT + 1];
  struct span *long_runs;
};

static pthread_mutex_t pageheap_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t scavenge_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct run_lists runs[2]; // [0] resident, [1] released
static uint64_t oldest_resident_hint = UINT64_MAX; // (page-heap lock)
static _Atomic size_t in_use_bytes;
static _Atomic size_t in_use_peak_bytes; // the most in_use_bytes has been
static _Atomic size_t free_bytes;
static _Atomic size_t released_bytes;
static _Atomic size_t total_released_bytes; // ever madvised
static _Atomic size_t hard_limit;           // 0: none
static _Atomic bool release_lazily;         // MADV_FREE instead of MADV_DONTNEED
static _Atomic uint64_t limit_refusals;
static _Atomic uint64_t scavenge_steps;     // madvise calls

void pageheap_lock(void) { pthread_mutex_lock(&pageheap_mutex); }
void pageheap_unlock(void) { pthread_mutex_unlock(&pageheap_mutex); }
void pageheap_scavenge_lock(void) { pthread_mutex_lock(&scavenge_mutex); }
void pageheap_scavenge_unlock(void) { pthread_mutex_unlock(&scavenge_mutex); }
void pageheap_after_fork_child(void) {
  pthread_mutex_init(&pageheap_mutex, NULL);
  pthread_mutex_init(&scavenge_mutex, NULL);
}

size_t pageheap_in_use_bytes(void) { return load_relaxed(&in_use_bytes); }
size_t pageheap_in_use_peak_bytes(void) { return load_relaxed(&in_use_peak_bytes); }
size_t pageheap_free_bytes(void) { return load_relaxed(&free_bytes); }
size_t pageheap_released_bytes(void) { return load_relaxed(&released_bytes); }
size_t pageheap_total_released_bytes(void) { return load_relaxed(&total_released_bytes); }
uint64_t pageheap_limit_refusals(void) { return load_relaxed(&limit_refusals); }
uint64_t pageheap_scavenge_steps(void) { return load_relaxed(&scavenge_steps); }
size_t pageheap_hard_limit(void) { return load_relaxed(&hard_limit); }

size_t pageheap_resident_bytes(void) {
  size_t free_total = load_relaxed(&free_bytes), released = load_relaxed(&released_bytes);
  return load_relaxed(&in_use_bytes) + (free_total > released ? free_total - released : 0);
}

size_t pageheap_set_hard_limit(size_t bytes) { return atomic_exchange(&hard_limit, bytes); }
void pageheap_set_release_lazily(bool lazily) { store_relaxed(&release_lazily, lazily); }

uint64_t pageheap_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); // a few ns: pageheap_free calls it every time
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

// Free runs keep the time they were freed in large_requested, which only large in-use spans use.
static uint64_t free_since(const struct span *run) { return run->large_requested; }
static void set_free_since(struct span *run, uint64_t ns) { run->large_requested = ns; }

static struct span **list_for(const struct span *run) {
  struct run_lists *lists = &runs[run->released ? 1 : 0];
  return run->pages <= SMALL_RUN_LIMIT ? &lists->small[run->pages] : &lists->long_runs;
}

static void list_insert(struct span *run) {
  if (!run->released && free_since(run) < oldest_resident_hint)
    oldest_resident_hint = free_since(run);
  struct span **head = list_for(run);
  run->prev = NULL;
  run->next = *head;
  if (*head)
    (*head)->prev = run;
  *head = run;
  atomic_fetch_add(&free_bytes, run->pages * PAGE_SIZE);
  if (run->released)
    atomic_fetch_add(&released_bytes, run->pages * PAGE_SIZE);
}

static void list_remove(struct span *run) {
  if (run->prev)
    run->prev->next = run->next;
  else
    *list_for(run) = run->next;
  if (run->next)
    run->next->prev = run->prev;
  run->next = run->prev = NULL;
  atomic_fetch_sub(&free_bytes, run->pages * PAGE_SIZE);
  if (run->released)
    atomic_fetch_sub(&released_bytes, run->pages * PAGE_SIZE);
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

// The free run (on a list, not in flight) whose first or last page is page_address, or NULL.
static struct span *free_run_at(uintptr_t page_address) {
  struct span *s = arena_span_of(page_address);
  return s != NULL && span_state_acquire(s) == SPAN_FREE && s->released != IN_FLIGHT ? s : NULL;
}

static struct span *run_before(const struct span *run) {
  return run->base >= PAGE_SIZE ? free_run_at(run->base - PAGE_SIZE) : NULL;
}

static struct span *run_after(const struct span *run) {
  return free_run_at(run->base + run->pages * PAGE_SIZE);
}

// Join two adjacent free runs, neither on a list, into `left`; the right record is recycled.
static void join(struct span *left, struct span *right) {
  arena_set_span(run_last_page(left), NULL);
  arena_set_span(right->base, NULL);
  left->pages += right->pages;
  left->needs_zeroing |= right->needs_zeroing;
  left->released = left->released && right->released;
  if (free_since(right) > free_since(left))
    set_free_since(left, free_since(right));
  span_record_free(right);
}

// Insert a free run (not on a list), merging it with free runs of its kind on either side.
static void insert_coalescing(struct span *run) {
  span_publish(run, SPAN_FREE);
  struct span *before = run_before(run);
  if (before && before->released == run->released) {
    list_remove(before);
    join(before, run);
    run = before;
  }
  struct span *after = run_after(run);
  if (after && after->released == run->released) {
    list_remove(after);
    join(run, after);
  }
  map_free_run(run);
  list_insert(run);
}

static struct span *best_fit(const struct run_lists *lists, size_t pages) {
  for (size_t n = pages; n <= SMALL_RUN_LIMIT; n++)
    if (lists->small[n])
      return lists->small[n];
  struct span *best = NULL;
  for (struct span *run = lists->long_runs; run; run = run->next)
    if (run->pages >= pages && (best == NULL || run->pages < best->pages))
      best = run;
  return best;
}

// Resident pages first; released ones only when no resident run is long enough.
static struct span *find_run(size_t pages) {
  struct span *run = best_fit(&runs[0], pages);
  return run ? run : best_fit(&runs[1], pages);
}

// Calls fn on every free run until it returns true; returns that run or NULL.
static struct span *find_any(bool (*fn)(struct span *, void *), void *context) {
  for (int kind = 0; kind < 2; kind++) {
    for (size_t n = 1; n <= SMALL_RUN_LIMIT; n++)
      for (struct span *run = runs[kind].small[n]; run; run = run->next)
        if (fn(run, context))
          return run;
    for (struct span *run = runs[kind].long_runs; run; run = run->next)
      if (fn(run, context))
        return run;
  }
  return NULL;
}

static bool has_other_kind_after(struct span *run, void *unused) {
  (void)unused;
  return run_after(run) != NULL; // same-kind neighbours are always merged already
}

// No single run fits: merge resident and released neighbours until one does. Rare (a request
// longer than any run of either kind), so a plain search per merge is fine.
static struct span *merge_mixed_runs(size_t pages) {
  struct span *run;
  while ((run = find_any(has_other_kind_after, NULL)) != NULL) {
    list_remove(run);
    struct span *neighbour;
    while ((neighbour = run_after(run)) != NULL) {
      list_remove(neighbour);
      join(run, neighbour);
    }
    while ((neighbour = run_before(run)) != NULL) {
      list_remove(neighbour);
      join(neighbour, run);
      run = neighbour;
    }
    map_free_run(run);
    list_insert(run);
    if (run->pages >= pages)
      return run;
  }
  return NULL;
}

// The first and last page of every reservation are never handed out. heap_lowest and
// heap_highest (arena.c) live in the data segment, which is scanned as a root: an object starting
// at the lowest heap address would otherwise be kept alive by heap_lowest for ever (seen with a
// dropped 256 MiB buffer), and heap_highest is one past the end of an object ending at the top.
// Costs two pages of address space, not of memory.
#define GUARD_PAGES 1

static bool grow(size_t pages) {
  size_t bytes = align_up((pages + 2 * GUARD_PAGES) * PAGE_SIZE, ARENA_SIZE);
  uintptr_t base = arena_grow(bytes);
  if (base == 0)
    return false;
  struct span *run = span_record_new();
  run->base = base + GUARD_PAGES * PAGE_SIZE;
  run->pages = bytes / PAGE_SIZE - 2 * GUARD_PAGES;
  run->needs_zeroing = 0; // fresh mappings read as zero
  run->released = 1;      // and are not resident yet
  set_free_since(run, 0);
  insert_coalescing(run);
  return true;
}

static bool over_hard_limit(size_t pages) {
  size_t limit = load_relaxed(&hard_limit);
  return limit != 0 && load_relaxed(&in_use_bytes) + pages * PAGE_SIZE > limit;
}

void (*_Atomic pageheap_resize_hook)(size_t mapped, size_t released);

static void report_resize(size_t mapped, size_t released) {
  void (*hook)(size_t, size_t) = load_relaxed(&pageheap_resize_hook);
  if (hook != NULL)
    hook(mapped, released);
}

struct span *pageheap_alloc(size_t pages) {
  pthread_mutex_lock(&pageheap_mutex);
  if (over_hard_limit(pages)) {
    pthread_mutex_unlock(&pageheap_mutex);
    atomic_fetch_add(&limit_refusals, 1);
    return NULL;
  }
  struct span *run = find_run(pages);
  if (run == NULL)
    run = merge_mixed_runs(pages);
  size_t grown = 0;
  if (run == NULL) {
    size_t mapped_before = arena_mapped_bytes();
    if (!grow(pages)) {
      pthread_mutex_unlock(&pageheap_mutex);
      return NULL;
    }
    run = find_run(pages);
    grown = arena_mapped_bytes() - mapped_before;
  }
  list_remove(run);
  arena_set_span(run_last_page(run), NULL);
  if (run->pages > pages) {
    struct span *rest = span_record_new();
    rest->base = run->base + pages * PAGE_SIZE;
    rest->pages = run->pages - pages;
    rest->needs_zeroing = run->needs_zeroing;
    rest->released = run->released;
    set_free_since(rest, free_since(run));
    span_publish(rest, SPAN_FREE); // (markers read states of records the page map may show)
    map_free_run(rest);
    list_insert(rest);
    run->pages = pages;
  }
  // SPAN_RESERVED until the caller has set its fields and publishes it SMALL or LARGE
  span_publish(run, SPAN_RESERVED);
  run->released = 0;
  set_free_since(run, 0);
  for (size_t i = 0; i < pages; i++)
    arena_set_span(run->base + i * PAGE_SIZE, run);
  arena_note_used(run->base, pages);
  size_t in_use = atomic_fetch_add(&in_use_bytes, pages * PAGE_SIZE) + pages * PAGE_SIZE;
  size_t peak = load_relaxed(&in_use_peak_bytes);
  while (in_use > peak && !atomic_compare_exchange_weak(&in_use_peak_bytes, &peak, in_use)) {
  }
  pthread_mutex_unlock(&pageheap_mutex);
  if (grown)
    report_resize(grown, 0);
  return run;
}

static void free_locked(struct span *s, uint64_t now);

void pageheap_free(struct span *s) {
  uint64_t now = pageheap_now_ns();
  pthread_mutex_lock(&pageheap_mutex);
  free_locked(s, now);
  pthread_mutex_unlock(&pageheap_mutex);
}

// Under the page heap's lock, which fork's prepare handler holds: a child never inherits a span
// still in use by its state whose bitmaps are gone (a thread of the parent between the two
// steps; the child's next full collection read its states).
void pageheap_free_with_bitmaps(struct span *s) {
  uint64_t now = pageheap_now_ns();
  pthread_mutex_lock(&pageheap_mutex);
  span_bitmaps_free(s);
  free_locked(s, now);
  pthread_mutex_unlock(&pageheap_mutex);
}

static void free_locked(struct span *s, uint64_t now) {
  atomic_fetch_sub(&in_use_bytes, s->pages * PAGE_SIZE);
  unmap_pages(s->base, s->pages);
  struct span *run = s;
  uintptr_t base = s->base;
  size_t pages = s->pages;
  // Keep nothing of the old use but the geometry.
  *run = (struct span){.base = base, .pages = pages, .needs_zeroing = 1, .state = SPAN_FREE};
  set_free_since(run, now);
  insert_coalescing(run);
}

// ---- scavenging -----------------------------------------------------------------------------

struct oldest_search {
  uint64_t freed_before;
  bool first_fit;         // stop at the first run freed before freed_before
  struct span *oldest;
  uint64_t others_oldest; // the least free_since of the runs seen but not chosen
  size_t seen, limit;
};

static bool older(const struct span *run, const struct span *than) {
  return than == NULL || free_since(run) < free_since(than) ||
         (free_since(run) == free_since(than) && run->pages > than->pages);
}

// Notes a resident run; false once the search has seen its limit.
static bool note_oldest(struct span *run, struct oldest_search *search) {
  if (free_since(run) <= search->freed_before && older(run, search->oldest)) {
    if (search->oldest && free_since(search->oldest) < search->others_oldest)
      search->others_oldest = free_since(search->oldest);
    search->oldest = run;
    if (search->first_fit)
      return false;
  } else if (free_since(run) < search->others_oldest) {
    search->others_oldest = free_since(run);
  }
  return ++search->seen < search->limit;
}

// The resident runs, longest first (the long runs, then each length down to one page).
static void search_oldest(struct oldest_search *search) {
  for (struct span *run = runs[0].long_runs; run; run = run->next)
    if (!note_oldest(run, search))
      return;
  for (size_t n = SMALL_RUN_LIMIT; n >= 1; n--)
    for (struct span *run = runs[0].small[n]; run; run = run->next)
      if (!note_oldest(run, search))
        return;
}

size_t pageheap_scavenge_step(size_t max_bytes, uint64_t freed_before_ns) {
  size_t max_pages = max_bytes / PAGE_SIZE;
  if (max_pages == 0)
    return 0;
  pthread_mutex_lock(&scavenge_mutex);
  pthread_mutex_lock(&pageheap_mutex);
  bool any_run = freed_before_ns == UINT64_MAX;
  if (!any_run && freed_before_ns < oldest_resident_hint) { // nothing is old enough
    pthread_mutex_unlock(&pageheap_mutex);
    pthread_mutex_unlock(&scavenge_mutex);
    return 0;
  }
  struct oldest_search search = {.freed_before = freed_before_ns,
                                 .first_fit = !any_run,
                                 .others_oldest = UINT64_MAX,
                                 .limit = any_run ? SCAVENGE_SEARCH_RUNS : SIZE_MAX};
  search_oldest(&search);
  if (!any_run && search.oldest == NULL) // a whole walk: the hint is exact
    oldest_resident_hint = search.others_oldest;
  struct span *chunk = search.oldest;
  if (chunk == NULL) {
    pthread_mutex_unlock(&pageheap_mutex);
    pthread_mutex_unlock(&scavenge_mutex);
    return 0;
  }
  list_remove(chunk);
  if (chunk->pages > max_pages) { // cut the chunk off the run's start; the rest stays resident
    struct span *rest = span_record_new();
    rest->base = chunk->base + max_pages * PAGE_SIZE;
    rest->pages = chunk->pages - max_pages;
    rest->needs_zeroing = chunk->needs_zeroing;
    rest->released = 0;
    set_free_since(rest, free_since(chunk));
    span_publish(rest, SPAN_FREE); // (markers read states of records the page map may show)
    arena_set_span(run_last_page(chunk), NULL);
    chunk->pages = max_pages;
    map_free_run(rest);
    list_insert(rest);
  }
  chunk->released = IN_FLIGHT;
  map_free_run(chunk);
  pthread_mutex_unlock(&pageheap_mutex);

  size_t bytes = chunk->pages * PAGE_SIZE;
  bool kept_contents = false;
  if (load_relaxed(&release_lazily))
    kept_contents = os_release_lazily((void *)chunk->base, bytes);
  else
    os_release((void *)chunk->base, bytes);

  pthread_mutex_lock(&pageheap_mutex);
  chunk->released = 1;
  if (!kept_contents)
    chunk->needs_zeroing = 0; // MADV_DONTNEED: the pages read as zero now
  insert_coalescing(chunk);
  pthread_mutex_unlock(&pageheap_mutex);
  atomic_fetch_add(&total_released_bytes, bytes);
  atomic_fetch_add(&scavenge_steps, 1);
  pthread_mutex_unlock(&scavenge_mutex);
  report_resize(0, bytes);
  return bytes;
}

size_t pageheap_scavenge(size_t bytes, uint64_t freed_before_ns) {
  size_t done = 0;
  while (done < bytes) {
    size_t step = bytes - done < PAGEHEAP_SCAVENGE_CHUNK ? bytes - done : PAGEHEAP_SCAVENGE_CHUNK;
    size_t released = pageheap_scavenge_step(step, freed_before_ns);
    if (released == 0)
      break;
    done += released;
  }
  return done;
}
