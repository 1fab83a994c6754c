// test_write_tracking.c: what the kernel reports as written, pinned down on the running kernel.
//
// Every test maps its own anonymous memory (as the page heap does: private, MAP_NORESERVE),
// registers and protects it, writes some pages in some way, and expects write_tracking_collect
// to report exactly those pages. Skipped (exit 77) when the kernel cannot track writes. The last
// test prints what tracking 1 GiB costs; nothing is timed as an expectation.
#include "os/write_tracking.h"
#include "test_util.h"

#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>

#define OS_PAGE WRITE_TRACKING_PAGE_SIZE
#define MIB ((size_t)1 << 20)

// ---------------------------------------------------------------------------------------------
// A tracked region and what one collection reported in it.

struct region {
  char *base;
  size_t pages;
  unsigned char *reported; // per page: reported by the last collect
  bool outside;            // a run reported outside the region
};

static char *page_address(struct region *r, size_t page) { return r->base + page * OS_PAGE; }

static void map_region(struct region *r, size_t bytes) {
  r->pages = bytes / OS_PAGE;
  r->base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  SHADE_TEST_EXPECT(r->base != MAP_FAILED);
  r->reported = calloc(r->pages, 1);
  r->outside = false;
}

// Maps, registers and protects bytes of untouched memory.
static void map_tracked_region(struct region *r, size_t bytes) {
  map_region(r, bytes);
  SHADE_TEST_EXPECT(write_tracking_register(r->base, bytes) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(r->base, bytes) == 0);
}

static void unmap_region(struct region *r) {
  write_tracking_unregister(r->base, r->pages * OS_PAGE); // fails harmlessly if not registered
  munmap(r->base, r->pages * OS_PAGE);
  free(r->reported);
}

static void mark_run(uintptr_t start, size_t bytes, void *context) {
  struct region *r = context;
  if (start < (uintptr_t)r->base || start + bytes > (uintptr_t)r->base + r->pages * OS_PAGE ||
      start % OS_PAGE != 0 || bytes % OS_PAGE != 0 || bytes == 0) {
    r->outside = true;
    return;
  }
  for (uintptr_t page = start; page < start + bytes; page += OS_PAGE)
    r->reported[(page - (uintptr_t)r->base) / OS_PAGE] = 1;
}

// Collects (or peeks at) the whole region; returns what write_tracking_collect (peek) returned.
static long look(struct region *r, bool protect) {
  memset(r->reported, 0, r->pages);
  r->outside = false;
  return (protect ? write_tracking_collect : write_tracking_peek)(r->base, r->pages * OS_PAGE,
                                                                   mark_run, r);
}

static long collect(struct region *r) { return look(r, true); }

static size_t reported_count_of(struct region *r, unsigned char mark) {
  size_t count = 0;
  for (size_t i = 0; i < r->pages; i++)
    count += r->reported[i] == mark;
  return count;
}

static size_t reported_count(struct region *r) { return r->pages - reported_count_of(r, 0); }

static size_t first_of(struct region *r, unsigned char mark) {
  for (size_t i = 0; i < r->pages; i++)
    if (r->reported[i] == mark)
      return i;
  return r->pages;
}

// Collects, and expects every page of must back, and no page that is in neither must nor may.
static void expect_look(struct region *r, bool protect, const size_t *must, size_t must_count,
                        const size_t *may, size_t may_count, int line) {
  long bytes = look(r, protect);
  SHADE_TEST_EXPECTF(bytes >= 0, "line %d: collect returned %ld", line, bytes);
  SHADE_TEST_EXPECTF(!r->outside, "line %d: a run outside the region", line);
  SHADE_TEST_EXPECTF(bytes < 0 || (size_t)bytes == reported_count(r) * OS_PAGE,
                     "line %d: collect returned %ld for %zu pages", line, bytes,
                     reported_count(r));
  // Mark the reported pages that are expected or allowed 2; any left at 1 is unexpected.
  for (size_t i = 0; i < must_count; i++) {
    SHADE_TEST_EXPECTF(r->reported[must[i]], "line %d: page %zu not reported", line, must[i]);
    r->reported[must[i]] = r->reported[must[i]] ? 2 : 0;
  }
  for (size_t i = 0; i < may_count; i++)
    r->reported[may[i]] = r->reported[may[i]] ? 2 : 0;
  SHADE_TEST_EXPECTF(reported_count_of(r, 1) == 0, "line %d: %zu pages reported unexpectedly "
                     "(the first: %zu)", line, reported_count_of(r, 1), first_of(r, 1));
  for (size_t i = 0; i < r->pages; i++)
    r->reported[i] = r->reported[i] != 0;
}

// A list of pages as the two arguments (array, count) expect_collect takes.
#define PAGES(...) \
  ((const size_t[]){__VA_ARGS__}), (sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t))
#define NO_PAGES NULL, 0
#define EXPECT_COLLECTS(r, ...) expect_look((r), true, __VA_ARGS__, __LINE__) // r, must, may
#define EXPECT_PEEKS_EXACTLY(r, ...) expect_look((r), false, PAGES(__VA_ARGS__), NO_PAGES, __LINE__)
#define EXPECT_COLLECTS_EXACTLY(r, ...) EXPECT_COLLECTS((r), PAGES(__VA_ARGS__), NO_PAGES)
#define EXPECT_COLLECTS_NOTHING(r) EXPECT_COLLECTS((r), NO_PAGES, NO_PAGES)

static void store(struct region *r, size_t page) { *(volatile char *)page_address(r, page) = 1; }
static char load(struct region *r, size_t page) { return *(volatile char *)page_address(r, page); }

// ---------------------------------------------------------------------------------------------
// Stores of every kind

// Stores into a few pages of a protected 64 MiB region, some populated before protection and
// some never touched, come back exactly, and only once.
static void test_plain_stores_are_reported_exactly_once(void) {
  struct region r;
  map_region(&r, 64 * MIB);
  memset(r.base, 0xA5, 32 * MIB); // the first half populated, the second never touched
  SHADE_TEST_EXPECT(write_tracking_register(r.base, 64 * MIB) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(r.base, 64 * MIB) == 0);
  EXPECT_COLLECTS_NOTHING(&r);

  size_t last = r.pages - 1, middle = r.pages / 2;
  store(&r, 0), store(&r, 7), store(&r, 100), store(&r, 101), store(&r, 102);
  store(&r, middle - 1), store(&r, middle), store(&r, middle + 511), store(&r, last);
  store(&r, 7); // twice: one page
  EXPECT_COLLECTS_EXACTLY(&r, 0, 7, 100, 101, 102, middle - 1, middle, middle + 511, last);
  EXPECT_COLLECTS_NOTHING(&r);

  store(&r, 101); // re-protected by the collection: a second write is seen again
  EXPECT_COLLECTS_EXACTLY(&r, 101);
  SHADE_TEST_EXPECT((unsigned char)r.base[OS_PAGE * 100 + 5] == 0xA5); // contents unharmed
  unmap_region(&r);
}

// A peek reports what a collect would, and leaves the pages written: they come back until a
// collect or a protection of their own takes them.
static void test_peek_reports_without_protecting(void) {
  struct region r;
  map_tracked_region(&r, 4 * MIB);
  store(&r, 3), store(&r, 4), store(&r, 9);
  EXPECT_PEEKS_EXACTLY(&r, 3, 4, 9);
  EXPECT_PEEKS_EXACTLY(&r, 3, 4, 9);
  SHADE_TEST_EXPECT(write_tracking_protect(page_address(&r, 4), OS_PAGE) == 0);
  EXPECT_PEEKS_EXACTLY(&r, 3, 9);
  store(&r, 4);
  EXPECT_PEEKS_EXACTLY(&r, 3, 4, 9);
  EXPECT_COLLECTS_EXACTLY(&r, 3, 4, 9);
  EXPECT_COLLECTS_NOTHING(&r);
  unmap_region(&r);
}

// protect_written protects again the written pages of its range only; those outside stay written.
static void test_protect_written_takes_its_range_only(void) {
  struct region r;
  map_tracked_region(&r, 4 * MIB);
  store(&r, 1), store(&r, 2), store(&r, 40), store(&r, 41), store(&r, 900);
  SHADE_TEST_EXPECT(write_tracking_protect_written(page_address(&r, 2), 39 * OS_PAGE) == 0);
  EXPECT_PEEKS_EXACTLY(&r, 1, 41, 900); // 2 and 40 are inside [2, 41)
  SHADE_TEST_EXPECT(write_tracking_protect_written(r.base, r.pages * OS_PAGE) == 0);
  EXPECT_COLLECTS_NOTHING(&r);
  store(&r, 40);
  EXPECT_COLLECTS_EXACTLY(&r, 40);
  unmap_region(&r);
}

// A read is not a write: reading protected pages, populated or not, reports nothing.
static void test_reads_are_not_reported(void) {
  struct region r;
  map_region(&r, 4 * MIB);
  memset(r.base, 1, 2 * MIB);
  SHADE_TEST_EXPECT(write_tracking_register(r.base, 4 * MIB) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(r.base, 4 * MIB) == 0);
  long sum = 0;
  for (size_t page = 0; page < r.pages; page++)
    sum += load(&r, page);
  SHADE_TEST_EXPECT(sum == (long)(r.pages / 2));
  EXPECT_COLLECTS_NOTHING(&r);
  unmap_region(&r);
}

// memcpy across page boundaries reports every page it touched.
static void test_memcpy_is_reported(void) {
  struct region r;
  map_tracked_region(&r, 4 * MIB);
  static char source[2 * 4096];
  memset(source, 'm', sizeof source);
  memcpy(page_address(&r, 10) + 100, source, sizeof source); // pages 10, 11 and 12
  EXPECT_COLLECTS_EXACTLY(&r, 10, 11, 12);
  unmap_region(&r);
}

// read(2) writes into a protected buffer from the kernel: it neither fails (EFAULT) nor goes
// unseen, on never-touched pages and on populated ones.
static void test_read_from_a_pipe_is_reported(void) {
  struct region r;
  map_region(&r, 4 * MIB);
  memset(page_address(&r, 40), 0, 4 * OS_PAGE); // pages 40..43 populated, 20..23 not
  SHADE_TEST_EXPECT(write_tracking_register(r.base, 4 * MIB) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(r.base, 4 * MIB) == 0);
  size_t length = 3 * OS_PAGE + 5;
  char *message = malloc(length);
  memset(message, 'p', length);
  size_t targets[] = {20, 40};
  for (size_t t = 0; t < 2; t++) {
    int pipe_ends[2];
    SHADE_TEST_EXPECT(pipe(pipe_ends) == 0);
    SHADE_TEST_EXPECT(write(pipe_ends[1], message, length) == (ssize_t)length);
    ssize_t got = 0;
    while (got < (ssize_t)length) {
      ssize_t n = read(pipe_ends[0], page_address(&r, targets[t]) + got, length - (size_t)got);
      SHADE_TEST_EXPECTF(n > 0, "read returned %zd (%s)", n, strerror(errno));
      if (n <= 0)
        break;
      got += n;
    }
    SHADE_TEST_EXPECT(memcmp(page_address(&r, targets[t]), message, length) == 0);
    close(pipe_ends[0]);
    close(pipe_ends[1]);
    size_t p = targets[t];
    EXPECT_COLLECTS_EXACTLY(&r, p, p + 1, p + 2, p + 3);
  }
  free(message);
  unmap_region(&r);
}

struct writer {
  struct region *region;
  size_t first, count;
  atomic_bool done;
};

static void *write_pages(void *argument) {
  struct writer *w = argument;
  for (size_t i = 0; i < w->count; i++) {
    store(w->region, w->first + i);
    if (i % 64 == 0)
      sched_yield();
  }
  atomic_store(&w->done, true);
  return NULL;
}

// Stores by another thread are reported, also while collections run concurrently: the union of
// the collections made during and after the stores is exactly the pages stored to.
static void test_stores_by_another_thread_are_never_lost(void) {
  struct region r;
  map_region(&r, 16 * MIB);
  memset(r.base, 0, 8 * MIB);
  SHADE_TEST_EXPECT(write_tracking_register(r.base, 16 * MIB) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(r.base, 16 * MIB) == 0);
  unsigned char *seen = calloc(r.pages, 1);
  struct writer w = {.region = &r, .first = r.pages / 4, .count = r.pages / 2}; // both halves
  pthread_t thread;
  SHADE_TEST_EXPECT(pthread_create(&thread, NULL, write_pages, &w) == 0);
  long collections = 0;
  bool finished = false;
  while (!finished) {
    finished = atomic_load(&w.done); // one more collection after the last store
    SHADE_TEST_EXPECT(collect(&r) >= 0);
    collections++;
    for (size_t i = 0; i < r.pages; i++)
      seen[i] |= r.reported[i];
  }
  pthread_join(thread, NULL);
  size_t wrong = 0;
  for (size_t i = 0; i < r.pages; i++)
    wrong += seen[i] != (i >= w.first && i < w.first + w.count);
  SHADE_TEST_EXPECTF(wrong == 0, "%zu pages wrong after %ld collections", wrong, collections);
  EXPECT_COLLECTS_NOTHING(&r);
  fprintf(stderr, "  %zu pages stored by a thread during %ld collections\n", w.count,
          collections);
  free(seen);
  unmap_region(&r);
}

// ---------------------------------------------------------------------------------------------
// Memory given back and memory never touched

// MADV_DONTNEED drops a page and its protection with it (an anonymous page is zapped without
// a write-protect marker). Whatever the kernel then says about the dropped page while it stays
// unpopulated, a write to it is reported. Kernels differ on the rest: this one (with the 2026
// PAGEMAP_SCAN fixes for pte_none entries and page-table holes) reports a dropped page as
// written at the next collection, which re-protects it, so a later read is not reported; older
// ones report it only once it is touched again, a read included (the zero page gets mapped
// without protection). Protecting the range again right after MADV_DONTNEED makes all kernels
// agree: untouched or read, not reported; written, reported.
static void test_pages_dropped_with_madv_dontneed(void) {
  struct region r;
  map_region(&r, 4 * MIB);
  memset(r.base, 0x5A, 4 * MIB);
  SHADE_TEST_EXPECT(write_tracking_register(r.base, 4 * MIB) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(r.base, 4 * MIB) == 0);
  SHADE_TEST_EXPECT(madvise(page_address(&r, 5), 5 * OS_PAGE, MADV_DONTNEED) == 0); // 5..9
  EXPECT_COLLECTS(&r, NO_PAGES, PAGES(5, 6, 7, 8, 9));
  bool dropped_count_as_written = reported_count(&r) == 5;
  fprintf(stderr, "  dropped pages, untouched, reported as written: %s\n",
          dropped_count_as_written ? "at once (pte_none counts as written)"
          : reported_count(&r) == 0 ? "no (older kernel)" : "some");

  store(&r, 5);                        // written again
  SHADE_TEST_EXPECT(load(&r, 6) == 0); // read only: dropped pages read as zero
  store(&r, 20);                       // a page that was not dropped
  if (dropped_count_as_written)
    EXPECT_COLLECTS_EXACTLY(&r, 5, 20);
  else
    EXPECT_COLLECTS(&r, PAGES(5, 20), PAGES(6));

  SHADE_TEST_EXPECT(madvise(page_address(&r, 30), 2 * OS_PAGE, MADV_DONTNEED) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(page_address(&r, 30), 2 * OS_PAGE) == 0);
  EXPECT_COLLECTS_NOTHING(&r);
  SHADE_TEST_EXPECT(load(&r, 30) == 0); // protected again: a read is not a write
  store(&r, 31);
  EXPECT_COLLECTS_EXACTLY(&r, 31);

  // A whole 2 MiB dropped (the page table may go with it) and written again is reported too.
  char *huge = (char *)(((uintptr_t)r.base + 2 * MIB - 1) & ~(uintptr_t)(2 * MIB - 1));
  if (huge + 2 * MIB <= r.base + 4 * MIB) {
    size_t first = (size_t)(huge - r.base) / OS_PAGE;
    SHADE_TEST_EXPECT(madvise(huge, 2 * MIB, MADV_DONTNEED) == 0);
    store(&r, first + 3);
    size_t all[512];
    for (size_t i = 0; i < 512; i++)
      all[i] = first + i;
    EXPECT_COLLECTS(&r, PAGES(first + 3), all, 512);
    fprintf(stderr, "  a dropped 2 MiB block, one page written again: %zu pages reported\n",
            reported_count(&r));
  }
  unmap_region(&r);
}

// MADV_FREE keeps the protection: a page freed lazily and written again is reported, one freed
// and left alone is not.
static void test_pages_freed_with_madv_free(void) {
#ifdef MADV_FREE
  struct region r;
  map_region(&r, 4 * MIB);
  memset(r.base, 0x5A, 4 * MIB);
  SHADE_TEST_EXPECT(write_tracking_register(r.base, 4 * MIB) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(r.base, 4 * MIB) == 0);
  SHADE_TEST_EXPECT(madvise(page_address(&r, 5), 5 * OS_PAGE, MADV_FREE) == 0); // 5..9
  EXPECT_COLLECTS_NOTHING(&r);
  store(&r, 5);
  (void)load(&r, 6);
  EXPECT_COLLECTS_EXACTLY(&r, 5);
  unmap_region(&r);
#endif
}

// Pages never touched since the mapping are protected too (UFFD_FEATURE_WP_UNPOPULATED): the
// first write to one is reported, the first read is not.
static void test_never_touched_pages(void) {
  struct region r;
  map_tracked_region(&r, 64 * MIB);
  store(&r, 3);
  SHADE_TEST_EXPECT(load(&r, 4) == 0);
  store(&r, r.pages - 2);
  EXPECT_COLLECTS_EXACTLY(&r, 3, r.pages - 2);
  unmap_region(&r);
}

// Registered but never protected: populated pages count as written (their page table entries
// carry no protection yet); untouched ones count as written on this kernel too, not on older
// ones. Either way a collection protects what it reports, and from then on reports exactly.
static void test_registered_but_not_protected(void) {
  struct region r;
  map_region(&r, 4 * MIB);
  store(&r, 1);
  SHADE_TEST_EXPECT(write_tracking_register(r.base, 4 * MIB) == 0);
  size_t all[1024];
  for (size_t i = 0; i < 1024; i++)
    all[i] = i;
  EXPECT_COLLECTS(&r, PAGES(1), all, 1024);
  fprintf(stderr, "  untouched pages of a registered range reported as written: %s\n",
          reported_count(&r) == r.pages ? "yes" : "no");
  store(&r, 2);
  EXPECT_COLLECTS_EXACTLY(&r, 2);
  unmap_region(&r);
}

// The kB /proc/self/status or the mapping of /proc/self/smaps holding address gives for field.
static long proc_kib(const char *file, void *address, const char *field) {
  FILE *f = fopen(file, "r");
  if (f == NULL)
    return -1;
  char line[256];
  bool inside = address == NULL;
  long kib = -1;
  while (fgets(line, sizeof line, f) != NULL) {
    uintptr_t low, high;
    if (address != NULL && sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &low, &high) == 2)
      inside = (uintptr_t)address >= low && (uintptr_t)address < high;
    else if (inside && strncmp(line, field, strlen(field)) == 0)
      kib = strtol(line + strlen(field), NULL, 10);
  }
  fclose(f);
  return kib;
}

// A transparent huge page populated before protection is split by the first write into it, and
// only the 4 KiB page written is reported.
static void test_huge_page_is_reported_per_small_page(void) {
  size_t huge = 2 * MIB;
  struct region r;
  map_region(&r, 2 * huge);
  char *aligned = (char *)(((uintptr_t)r.base + huge - 1) & ~(uintptr_t)(huge - 1));
  bool advised = madvise(aligned, huge, MADV_HUGEPAGE) == 0;
  memset(aligned, 1, huge);
  long huge_kib = proc_kib("/proc/self/smaps", aligned, "AnonHugePages:");
  SHADE_TEST_EXPECT(write_tracking_register(r.base, 2 * huge) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(r.base, 2 * huge) == 0);
  size_t first = (size_t)(aligned - r.base) / OS_PAGE;
  store(&r, first + 17);
  EXPECT_COLLECTS_EXACTLY(&r, first + 17);
  fprintf(stderr, "  MADV_HUGEPAGE %s, huge pages before the write: %ld kB\n",
          advised ? "accepted" : "refused", huge_kib);
  unmap_region(&r);
}

// ---------------------------------------------------------------------------------------------
// The end of a registration

// munmap ends the registration: a collection over a hole reports nothing, and over a new mapping
// at the same address fails with EPERM instead of answering.
static void test_unmapped_and_remapped_ranges(void) {
  struct region r;
  map_tracked_region(&r, 4 * MIB);
  store(&r, 1);
  SHADE_TEST_EXPECT(munmap(page_address(&r, 256), 256 * OS_PAGE) == 0); // pages 256..511
  store(&r, 600);
  EXPECT_COLLECTS_EXACTLY(&r, 1, 600);

  void *again = mmap(page_address(&r, 256), 256 * OS_PAGE, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
  SHADE_TEST_EXPECT(again == page_address(&r, 256));
  store(&r, 2);
  long result = collect(&r);
  SHADE_TEST_EXPECTF(result == -EPERM, "collect over an unregistered mapping: %ld", result);
  SHADE_TEST_EXPECTF(r.reported[2] && reported_count(&r) == 1,
                     "the run found before the unregistered mapping is still reported");
  SHADE_TEST_EXPECT(write_tracking_register(again, 256 * OS_PAGE) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(again, 256 * OS_PAGE) == 0);
  store(&r, 300);
  EXPECT_COLLECTS_EXACTLY(&r, 300);

  SHADE_TEST_EXPECT(write_tracking_unregister(r.base, 4 * MIB) == 0);
  SHADE_TEST_EXPECT(collect(&r) == -EPERM);
  SHADE_TEST_EXPECT(write_tracking_collect(r.base + 1, OS_PAGE, mark_run, &r) == -EINVAL);
  unmap_region(&r);
}

// ---------------------------------------------------------------------------------------------
// fork

static int child_checks(struct region *r) {
  const char *reason = NULL;
  SHADE_TEST_EXPECT(!write_tracking_available(&reason));
  SHADE_TEST_EXPECT(reason != NULL && strstr(reason, "fork") != NULL);
  SHADE_TEST_EXPECT(collect(r) == -ECHILD); // never the parent's answers
  write_tracking_after_fork_child();
  SHADE_TEST_EXPECT(write_tracking_available(&reason));
  // The kernel gave the child none of the parent's registrations.
  SHADE_TEST_EXPECTF(collect(r) == -EPERM, "the child inherited the registration");
  SHADE_TEST_EXPECT(write_tracking_register(r->base, r->pages * OS_PAGE) == 0);
  // Nor the protection: in the child every populated page counts as written, page 0 protected
  // in the parent included.
  size_t all[1024];
  for (size_t i = 0; i < 1024; i++)
    all[i] = i;
  EXPECT_COLLECTS(r, PAGES(0, 1), all, 1024);
  SHADE_TEST_EXPECT(write_tracking_protect(r->base, r->pages * OS_PAGE) == 0);
  store(r, 2);
  EXPECT_COLLECTS_EXACTLY(r, 2);
  return shade_test_finish();
}

// A forked child inherits neither the registrations nor the protection: until it calls
// write_tracking_after_fork_child every call fails with ECHILD; afterwards it can register and
// protect afresh. The parent's tracking goes on unharmed: a page written before the fork and
// one written after it (a copy-on-write fault on a protected page) are both reported, and the
// child's stores are not.
static void test_fork(void) {
  struct region r;
  map_region(&r, 4 * MIB);
  store(&r, 0);
  SHADE_TEST_EXPECT(write_tracking_register(r.base, 4 * MIB) == 0);
  SHADE_TEST_EXPECT(write_tracking_protect(r.base, 4 * MIB) == 0);
  store(&r, 1); // written before the fork, collected after it
  fflush(stderr);
  pid_t child = fork();
  if (child == 0)
    _exit(child_checks(&r));
  SHADE_TEST_EXPECT(child > 0);
  int status = 0;
  SHADE_TEST_EXPECT(waitpid(child, &status, 0) == child);
  SHADE_TEST_EXPECTF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
  store(&r, 0); // protected, populated and shared with the child before the fork
  store(&r, 3); // never touched
  EXPECT_COLLECTS_EXACTLY(&r, 0, 1, 3);
  unmap_region(&r);
}

// ---------------------------------------------------------------------------------------------
// Cost, printed

static double seconds_since(struct timespec *start) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void ignore_run(uintptr_t start, size_t bytes, void *context) {
  (void)start, (void)bytes, (void)context;
}

// What tracking 1 GiB costs: registering and protecting it untouched, scanning it with nothing
// written, a first write to a populated protected page, and scanning with re-protection after
// writes to every page of 64 MiB. Information only.
static void test_cost_of_tracking_one_gib(void) {
  size_t bytes = (size_t)1 << 30, written = 64 * MIB;
  struct region r;
  map_region(&r, bytes);
  memset(r.base, 1, written);
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  SHADE_TEST_EXPECT(write_tracking_register(r.base, bytes) == 0);
  double register_seconds = seconds_since(&start);
  long page_tables_before = proc_kib("/proc/self/status", NULL, "VmPTE:");
  clock_gettime(CLOCK_MONOTONIC, &start);
  SHADE_TEST_EXPECT(write_tracking_protect(r.base, bytes) == 0);
  double protect_seconds = seconds_since(&start);
  long page_tables_added = proc_kib("/proc/self/status", NULL, "VmPTE:") - page_tables_before;
  clock_gettime(CLOCK_MONOTONIC, &start);
  SHADE_TEST_EXPECT(write_tracking_collect(r.base, bytes, ignore_run, NULL) == 0);
  double scan_seconds = seconds_since(&start);
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (size_t offset = 0; offset < written; offset += OS_PAGE)
    r.base[offset] = 2;
  double fault_seconds = seconds_since(&start) / (double)(written / OS_PAGE);
  clock_gettime(CLOCK_MONOTONIC, &start);
  SHADE_TEST_EXPECT(write_tracking_collect(r.base, bytes, ignore_run, NULL) == (long)written);
  double collect_seconds = seconds_since(&start);
  fprintf(stderr,
          "  1 GiB (64 MiB populated): register %.2f ms, protect %.2f ms, scan %.2f ms; "
          "first write to a protected page %.2f us; scan + re-protect after 64 MiB written "
          "%.2f ms; page tables added by protecting: %ld kB\n",
          register_seconds * 1e3, protect_seconds * 1e3, scan_seconds * 1e3, fault_seconds * 1e6,
          collect_seconds * 1e3, page_tables_added);
  unmap_region(&r);
}

int main(void) {
  const char *reason = NULL;
  if (!write_tracking_available(&reason)) {
    fprintf(stderr, "SKIPPED: write tracking not available: %s\n", reason);
    return SHADE_TEST_SKIP_CODE;
  }
  SHADE_TEST_RUN(test_plain_stores_are_reported_exactly_once);
  SHADE_TEST_RUN(test_peek_reports_without_protecting);
  SHADE_TEST_RUN(test_protect_written_takes_its_range_only);
  SHADE_TEST_RUN(test_reads_are_not_reported);
  SHADE_TEST_RUN(test_memcpy_is_reported);
  SHADE_TEST_RUN(test_read_from_a_pipe_is_reported);
  SHADE_TEST_RUN(test_stores_by_another_thread_are_never_lost);
  SHADE_TEST_RUN(test_pages_dropped_with_madv_dontneed);
  SHADE_TEST_RUN(test_pages_freed_with_madv_free);
  SHADE_TEST_RUN(test_never_touched_pages);
  SHADE_TEST_RUN(test_registered_but_not_protected);
  SHADE_TEST_RUN(test_huge_page_is_reported_per_small_page);
  SHADE_TEST_RUN(test_unmapped_and_remapped_ranges);
  SHADE_TEST_RUN(test_fork);
  SHADE_TEST_RUN(test_cost_of_tracking_one_gib);
  return shade_test_finish();
}
