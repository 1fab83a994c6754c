// test_reprotect.c (gen_reprotect): a page of old objects the program wrote is in the remembered
// set of the next young collection only. That collection protects it again, so the one after it
// (nothing written meanwhile) does not scan it. Checked with a few hundred written pages (the
// collection protects each run of old pages on its own) and with a few thousand, each apart from
// the others (past the runs it lists, it protects everything written but the young pages).
// Plain stores of a non-pointer word; the remembered bytes come from shade_stats.
#include "gen_test.h"

enum { OLD_OBJECT = 1024, KERNEL_PAGE = 4096 };

static void **olds; // uncollectable: a root holding the old heap
static size_t old_count;

static uint64_t remembered_after_gen0(void) {
  gen_collect_clean(0);
  return shade_test_stats().remembered_bytes;
}

// Writes a word into one old object on each of `pages` even-numbered kernel pages (never two
// neighbours: each written page is a run of its own). Returns how many pages it wrote.
static size_t write_every_other_page(size_t pages, uint64_t tag) {
  size_t written = 0;
  uintptr_t last_page = 0;
  for (size_t i = 0; i < old_count && written < pages; i++) {
    uint64_t *word = olds[i];
    uintptr_t page = (uintptr_t)word / KERNEL_PAGE;
    if (page % 2 != 0 || page == last_page)
      continue;
    *word = GEN_TAG | tag;
    last_page = page;
    written++;
  }
  return written;
}

static void check_reprotected(size_t pages) {
  uint64_t settled = remembered_after_gen0();
  size_t written = write_every_other_page(pages, pages);
  SHADE_TEST_EXPECTF(written == pages, "%zu pages written of %zu asked", written, pages);
  uint64_t with_writes = remembered_after_gen0();
  uint64_t after = remembered_after_gen0();
  uint64_t bytes = (uint64_t)written * KERNEL_PAGE;
  fprintf(stderr, "%zu old pages written: remembered %" PRIu64 " KiB before, %" PRIu64
          " KiB by the next young collection, %" PRIu64 " KiB by the one after\n", written,
          settled >> 10, with_writes >> 10, after >> 10);
  SHADE_TEST_EXPECTF(with_writes >= settled + bytes, "the written pages (%" PRIu64
                     " KiB) were not all scanned", bytes >> 10);
  SHADE_TEST_EXPECTF(after + bytes <= with_writes, "the written pages were not protected again: "
                     "%" PRIu64 " KiB still scanned", after >> 10);
}

static void test_written_old_pages_are_protected_again(void) {
  old_count = (16u << 20) / OLD_OBJECT;
  olds = shade_malloc_uncollectable(old_count * sizeof *olds);
  SHADE_TEST_EXPECT(olds != NULL);
  for (size_t i = 0; i < old_count; i++)
    olds[i] = shade_malloc(OLD_OBJECT);
  gen_collect_clean(2); // old now, and their pages protected
  gen_collect_clean(2);
  check_reprotected(300);  // listed: one protection per run
  check_reprotected(1800); // more runs than listed: everything written but the young pages
  for (size_t i = 0; i < old_count; i++) // still there
    SHADE_TEST_EXPECT(shade_generation(olds[i]) == 2);
  shade_free(olds);
}

int main(void) {
  gen_start(NULL);
  gen_require_generational();
  SHADE_TEST_RUN(test_written_old_pages_are_protected_again);
  return shade_test_finish();
}
