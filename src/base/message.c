// message.c: formatting and delivery of Shade's one-line messages (see shade.h).
#include "base/message.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "shade.h"

static _Atomic(shade_message_fn) message_handler;

SHADE_API shade_message_fn shade_set_message_handler(shade_message_fn handler) {
  return atomic_exchange(&message_handler, handler);
}

static void deliver(const char *format, va_list args) {
  char line[1024];
  int n = vsnprintf(line, sizeof line - 1, format, args);
  if (n < 0)
    return;
  if ((size_t)n > sizeof line - 2)
    n = sizeof line - 2;
  shade_message_fn handler = atomic_load(&message_handler);
  if (handler) {
    line[n] = '\0';
    handler(line);
    return;
  }
  line[n] = '\n';
  ssize_t ignored = write(STDERR_FILENO, line, (size_t)n + 1);
  (void)ignored;
}

void shade_message(const char *format, ...) {
  va_list args;
  va_start(args, format);
  deliver(format, args);
  va_end(args);
}

void shade_fatal(const char *format, ...) {
  va_list args;
  va_start(args, format);
  deliver(format, args);
  va_end(args);
  abort();
}

void shade_assert_failed(const char *what, const char *file, int line) {
  shade_fatal("shade: internal assertion failed: %s (%s:%d)", what, file, line);
}
