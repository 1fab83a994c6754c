// After fork, the child has no scavenger thread: it gets one at its first collection, and
// returns memory like the parent (shade_free_os_memory, idle collections).
#include "memory_test.h"

#include <sys/wait.h>

static __attribute__((noinline)) void fill_and_drop(size_t bytes) {
  unsigned char *p = shade_malloc_atomic(bytes);
  if (p)
    memset(p, 1, bytes);
}

static int child(void) {
  int failed = 0;
  fill_and_drop(96 << 20);
  shade_test_clear_stack();
  size_t peak = shade_test_rss();
  shade_free_os_memory(); // a cycle: the child's scavenger starts
  size_t after = shade_test_rss();
  fprintf(stderr, "  child: rss %.1f MB with the buffer, %.1f MB after free_os_memory\n",
          peak / MB, after / MB);
  if (after + (64 << 20) > peak)
    failed = 1;
  struct shade_stats before_idle, after_idle;
  shade_get_stats(&before_idle);
  fill_and_drop(32 << 20);
  shade_test_clear_stack();
  sleep_seconds(1.5);
  shade_get_stats(&after_idle);
  fprintf(stderr, "  child: %llu idle collection(s) while sleeping\n",
          (unsigned long long)(after_idle.idle_collections - before_idle.idle_collections));
  if (after_idle.idle_collections <= before_idle.idle_collections)
    failed = 1;
  return failed;
}

static void test_the_child_returns_memory_and_restarts_the_scavenger(void) {
  fill_and_drop(32 << 20);
  shade_test_clear_stack();
  shade_collect();
  fflush(stderr);
  pid_t pid = fork();
  if (pid == 0)
    _exit(child());
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  SHADE_TEST_EXPECTF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
  shade_free_os_memory(); // the parent's scavenger still works
  SHADE_TEST_EXPECT(shade_malloc(1 << 20) != NULL);
}

int main(void) {
#if defined(SHADE_SANITIZER_THREAD)
  // Shade's fork handler takes every central lock; TSan's deadlock detector holds at most 64
  // locks per thread and aborts (core_fork shows the same). Skipped until the handler changes.
  shade_test_skip("TSan allows 64 held mutexes; Shade's fork handler holds every central lock");
#endif
  shade_init(NULL);
  SHADE_TEST_RUN(test_the_child_returns_memory_and_restarts_the_scavenger);
  return shade_test_finish();
}
