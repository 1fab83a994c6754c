// heap_snapshot_api.c: shade_write_heap_snapshot, and the snapshots the environment asks for.
//
//   SHADE_HEAP_SNAPSHOT=path         a snapshot is written to path when the program exits
//   SHADE_HEAP_SNAPSHOT_SIGNAL=SIG   (with SHADE_HEAP_SNAPSHOT) each time the process receives
//                                    SIG (SIGUSR2, USR2 or a number), a snapshot is written to
//                                    path.1, path.2, ...
//
// The signal handler only writes a byte to a pipe (a self-pipe); a thread of Shade's own, which
// blocks every signal, reads it and takes the snapshot like any caller: nothing but the write is
// done in the handler. The file is opened before the collection and written in its pause
// (gc/heap_snapshot.c). The environment is read by api_heap_snapshot_init alone, called once by
// shade_init (the rows for the options table are in docs/observability.md).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "base/message.h"
#include "base/options.h"
#include "gc/allocate_slow.h"
#include "gc/heap_snapshot.h"
#include "shade.h"

SHADE_API int shade_write_heap_snapshot(const char *path) {
  if (path == NULL || path[0] == '\0') {
    shade_message("shade: shade_write_heap_snapshot(%s): no path", path ? "\"\"" : "NULL");
    errno = EINVAL;
    return -1;
  }
  if (shade_init(NULL) != 0)
    return -1;
  allocate_clear_dead_stack(); // stale words of earlier, deeper calls are no roots
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    int error = errno;
    shade_message("shade: shade_write_heap_snapshot(\"%s\"): cannot open the file: %s", path,
                  strerror(error));
    errno = error;
    return -1;
  }
  int error = heap_snapshot_write(fd);
  if (close(fd) != 0 && error == 0)
    error = errno;
  if (error) {
    shade_message("shade: shade_write_heap_snapshot(\"%s\"): %s", path, strerror(error));
    errno = error;
    return -1;
  }
  return 0;
}

// ---- SHADE_HEAP_SNAPSHOT and SHADE_HEAP_SNAPSHOT_SIGNAL --------------------------------------

static const char *snapshot_path;  // set once by api_heap_snapshot_init
static int snapshot_pipe[2] = {-1, -1};

static void write_exit_snapshot(void) { shade_write_heap_snapshot(snapshot_path); }

static void on_snapshot_signal(int signal_number) {
  (void)signal_number;
  int saved = errno;
  char byte = 1;
  ssize_t ignored = write(snapshot_pipe[1], &byte, 1); // full pipe: one is already pending
  (void)ignored;
  errno = saved;
}

static void *snapshot_signal_thread(void *unused) {
  (void)unused;
  size_t length = strlen(snapshot_path);
  char path[4096];
  for (unsigned long count = 1;; count++) {
    char byte;
    ssize_t n = read(snapshot_pipe[0], &byte, 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return NULL;
    if (length + 24 > sizeof path)
      continue;
    memcpy(path, snapshot_path, length);
    path[length] = '.';
    size_t digits = 0;
    char reversed[24];
    for (unsigned long c = count; c; c /= 10)
      reversed[digits++] = (char)('0' + c % 10);
    for (size_t i = 0; i < digits; i++)
      path[length + 1 + i] = reversed[digits - 1 - i];
    path[length + 1 + digits] = '\0';
    shade_write_heap_snapshot(path);
  }
}

static void start_signal_snapshots(int signal_number) {
  if (pipe2(snapshot_pipe, O_CLOEXEC) != 0 ||
      fcntl(snapshot_pipe[1], F_SETFL, O_NONBLOCK) != 0 ||
      threads_start_internal(snapshot_signal_thread, "shade-snapshot") != 0) {
    shade_message("shade: SHADE_HEAP_SNAPSHOT_SIGNAL: cannot start the snapshot thread (%s)",
                  strerror(errno));
    return;
  }
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_handler = on_snapshot_signal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  sigaction(signal_number, &action, NULL);
}

// From shade_init: SHADE_HEAP_SNAPSHOT and SHADE_HEAP_SNAPSHOT_SIGNAL (the options table).
void api_heap_snapshot_init(void) {
  const char *path = shade_options_in_force.heap_snapshot;
  if (path == NULL)
    return;
  snapshot_path = path;
  atexit(write_exit_snapshot);
  if (shade_options_in_force.heap_snapshot_signal > 0)
    start_signal_snapshots(shade_options_in_force.heap_snapshot_signal);
}
