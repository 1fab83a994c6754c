// Pages go back to the OS and come back usable: shade_free_os_memory after a large drop brings
// RSS down, and memory reused after its return is zeroed where Shade promises zeroed memory.
// With the argument "madv-free" (SHADE_MADV_FREE=1 in the environment), the same program checks
// the MADV_FREE path, where returned pages may keep their contents: RSS is not checked then
// (the kernel takes MADV_FREE pages only under memory pressure), zeroing is.
#include "memory_test.h"

static int madv_free_mode;
#define BUFFER_BYTES ((size_t)(SHADE_TEST_SANITIZED ? 64 : 256) << 20)

static __attribute__((noinline)) shade_test_hidden fill_and_drop(size_t bytes,
                                                                 unsigned char value) {
  unsigned char *buffer = shade_malloc_atomic(bytes);
  SHADE_TEST_EXPECT(buffer != NULL);
  if (buffer == NULL)
    return shade_test_hide(NULL);
  memset(buffer, value, bytes);
  uint64_t sum = 0;
  for (size_t i = 0; i < bytes; i += 4096)
    sum += buffer[i];
  SHADE_TEST_EXPECT(sum == value * (uint64_t)(bytes / 4096));
  return shade_test_hide(buffer);
}

// The scan is conservative: a stale word anywhere in a live frame that happens to fall inside the
// buffer keeps it (one seen under ASan: a 4 GiB-aligned value in the C library's start-up frames,
// with the buffer placed across that boundary). Such a buffer stays, and the test tries again
// with a new one, placed elsewhere; `retained` counts what stayed.
// (Unhidden in a function of its own: unhidden in the caller, the compiler may compute the
// address before the collection and keep it in a register the collection scans.)
static __attribute__((noinline)) int still_reachable(shade_test_hidden buffer) {
  return shade_is_heap_pointer(shade_test_unhide(buffer)) == 1;
}

struct dropped {
  size_t rss_before, rss_with_buffer, retained;
};

static __attribute__((noinline)) struct dropped
drop_buffer_and_free_os_memory(unsigned char value) {
  struct dropped d = {0, 0, 0};
  for (int attempt = 0; attempt < 3; attempt++) {
    d.rss_before = shade_test_rss();
    shade_test_hidden buffer = fill_and_drop(BUFFER_BYTES, value);
    shade_test_clear_stack();
    d.rss_with_buffer = shade_test_rss();
    shade_free_os_memory(); // collects first
    if (!still_reachable(buffer))
      return d;
    fprintf(stderr, "  the dropped buffer is still reachable (a stale word in a live frame); "
            "trying another\n");
    d.retained += BUFFER_BYTES;
  }
  SHADE_TEST_EXPECTF(0, "three dropped buffers in a row kept by stale words");
  return d;
}

// A dropped 256 MiB buffer costs no RSS after shade_free_os_memory.
static void test_free_os_memory_returns_a_dropped_buffer(void) {
  shade_free_os_memory();
  struct dropped d = drop_buffer_and_free_os_memory(0xAB);
  size_t after = shade_test_rss();
  struct shade_stats stats;
  shade_get_stats(&stats);
  fprintf(stderr, "  rss before %.1f MB, with the buffer %.1f MB, after free_os_memory %.1f MB; "
          "heap released %.1f MB, resident %.1f MB\n", d.rss_before / MB, d.rss_with_buffer / MB,
          after / MB, stats.heap_released / MB, stats.heap_resident / MB);
  SHADE_TEST_EXPECT(d.rss_with_buffer >= d.rss_before + BUFFER_BYTES / 2);
  if (!MEMORY_TEST_RSS_EXACT)
    return;
  SHADE_TEST_EXPECTF(stats.heap_released >= BUFFER_BYTES, "released %.1f MB",
                     stats.heap_released / MB);
  SHADE_TEST_EXPECT(stats.total_released >= BUFFER_BYTES);
  SHADE_TEST_EXPECT(stats.heap_resident < d.retained + (64 << 20));
  if (!madv_free_mode)
    SHADE_TEST_EXPECTF(after <= d.rss_before + d.rss_before / 10 + (8 << 20),
                       "rss %.1f MB after, %.1f MB before", after / MB, d.rss_before / MB);
}

static __attribute__((noinline)) size_t count_nonzero_large(size_t bytes) {
  unsigned char *p = shade_malloc(bytes); // zeroed, conservative
  SHADE_TEST_EXPECT(p != NULL);
  size_t nonzero = 0;
  for (size_t i = 0; p && i < bytes; i++)
    nonzero += p[i] != 0;
  if (p)
    memset(p, 0x5A, bytes); // dirty it again for the next reuse
  return nonzero;
}

// Returned pages are reused (the heap does not grow) and read as zero in zeroed objects.
static void test_returned_pages_are_reused_and_zeroed(void) {
  drop_buffer_and_free_os_memory(0xCD);
  struct shade_stats before;
  shade_get_stats(&before);
  SHADE_TEST_EXPECT(count_nonzero_large(BUFFER_BYTES) == 0);
  shade_test_clear_stack();
  struct shade_stats after;
  shade_get_stats(&after);
  if (MEMORY_TEST_RSS_EXACT)
    SHADE_TEST_EXPECTF(after.heap_mapped == before.heap_mapped, "mapped %.1f -> %.1f MB",
                       before.heap_mapped / MB, after.heap_mapped / MB);
  shade_free_os_memory();
  SHADE_TEST_EXPECT(count_nonzero_large(BUFFER_BYTES) == 0);
}

struct node {
  struct node *next;
  unsigned char payload[120];
};

static __attribute__((noinline)) void build_and_drop_small(size_t count) {
  struct node *head = NULL;
  for (size_t i = 0; i < count; i++) {
    struct node *n = shade_malloc(sizeof *n);
    memset(n->payload, 0xEE, sizeof n->payload);
    n->next = head;
    head = n;
  }
}

static __attribute__((noinline)) size_t small_objects_not_zeroed(size_t count) {
  size_t dirty = 0;
  struct node *head = NULL;
  for (size_t i = 0; i < count; i++) {
    struct node *n = shade_malloc(sizeof *n);
    for (size_t b = 0; b < sizeof n->payload; b++)
      if (n->payload[b]) {
        dirty++;
        break;
      }
    n->next = head;
    head = n;
  }
  return dirty;
}

// Small-object spans whose pages went back to the OS hand out zeroed objects again.
static void test_small_spans_reused_after_return_are_zeroed(void) {
  size_t count = (size_t)(400000 * (SHADE_TEST_SANITIZED ? 0.25 : 1.0));
  build_and_drop_small(count);
  shade_test_clear_stack();
  shade_free_os_memory();
  struct shade_stats stats;
  shade_get_stats(&stats);
  SHADE_TEST_EXPECT(stats.heap_released > 0);
  SHADE_TEST_EXPECT(small_objects_not_zeroed(count) == 0);
}

int main(int argc, char **argv) {
  madv_free_mode = argc > 1 && strcmp(argv[1], "madv-free") == 0;
  shade_init(NULL);
  SHADE_TEST_RUN(test_free_os_memory_returns_a_dropped_buffer);
  SHADE_TEST_RUN(test_returned_pages_are_reused_and_zeroed);
  SHADE_TEST_RUN(test_small_spans_reused_after_return_are_zeroed);
  return shade_test_finish();
}
