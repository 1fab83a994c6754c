// test_snapshot_misuse.c: shade_write_heap_snapshot's errors are -1 with errno and one message
// naming the call and the path; a heap snapshot on a writable path succeeds and is not empty.
#include "test_util.h"

#include <sys/stat.h>

static char last_message[512];
static void keep_message(const char *message) {
  snprintf(last_message, sizeof last_message, "%s", message);
}

static void test_a_path_that_cannot_be_opened_gives_minus_one_with_errno_and_a_message(void) {
  last_message[0] = '\0';
  errno = 0;
  SHADE_TEST_EXPECT(shade_write_heap_snapshot("/nonexistent-dir/x.heapsnapshot") == -1);
  SHADE_TEST_EXPECT(errno == ENOENT);
  SHADE_TEST_EXPECTF(strstr(last_message, "shade_write_heap_snapshot(\"/nonexistent-dir/"
                                          "x.heapsnapshot\")") &&
                         strstr(last_message, "cannot open"),
                     "message: %s", last_message);
}

static void test_a_null_or_empty_path_is_einval(void) {
  errno = 0;
  SHADE_TEST_EXPECT(shade_write_heap_snapshot(NULL) == -1 && errno == EINVAL);
  errno = 0;
  SHADE_TEST_EXPECT(shade_write_heap_snapshot("") == -1 && errno == EINVAL);
  SHADE_TEST_EXPECT(strstr(last_message, "shade_write_heap_snapshot") != NULL);
}

static void test_a_write_error_is_reported(void) {
  if (access("/dev/full", W_OK) != 0)
    return;
  errno = 0;
  SHADE_TEST_EXPECT(shade_write_heap_snapshot("/dev/full") == -1);
  SHADE_TEST_EXPECT(errno == ENOSPC);
}

static void test_a_snapshot_is_written(void) {
  void *volatile kept = shade_malloc(64);
  char path[] = "/tmp/shade-snapshot-XXXXXX";
  int fd = mkstemp(path);
  SHADE_TEST_EXPECT(fd >= 0);
  close(fd);
  SHADE_TEST_EXPECT(shade_write_heap_snapshot(path) == 0);
  struct stat st;
  SHADE_TEST_EXPECT(stat(path, &st) == 0 && st.st_size > 100);
  unlink(path);
  (void)kept;
}

int main(void) {
  shade_init(NULL);
  shade_set_message_handler(keep_message);
  SHADE_TEST_RUN(test_a_path_that_cannot_be_opened_gives_minus_one_with_errno_and_a_message);
  SHADE_TEST_RUN(test_a_null_or_empty_path_is_einval);
  SHADE_TEST_RUN(test_a_write_error_is_reported);
  SHADE_TEST_RUN(test_a_snapshot_is_written);
  return shade_test_finish();
}
