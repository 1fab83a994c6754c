// options_test.h: what the tests of tests/options share: Shade's messages captured in order.
#ifndef SHADE_OPTIONS_TEST_H
#define SHADE_OPTIONS_TEST_H

#include "test_util.h"

#define OPTIONS_MESSAGES 64
static char options_messages[OPTIONS_MESSAGES][512];
static int options_message_count;
static pthread_mutex_t options_messages_lock = PTHREAD_MUTEX_INITIALIZER;

static void options_message_handler(const char *message) {
  pthread_mutex_lock(&options_messages_lock);
  if (options_message_count < OPTIONS_MESSAGES)
    snprintf(options_messages[options_message_count], sizeof options_messages[0], "%s", message);
  options_message_count++;
  pthread_mutex_unlock(&options_messages_lock);
}

// From now on Shade's messages are kept here (none so far).
static SHADE_TEST_UNUSED void options_capture(void) {
  shade_set_message_handler(options_message_handler);
  pthread_mutex_lock(&options_messages_lock);
  options_message_count = 0;
  pthread_mutex_unlock(&options_messages_lock);
}

// How many captured messages contain `fragment` (exact case).
static SHADE_TEST_UNUSED int options_messages_with(const char *fragment) {
  int found = 0;
  pthread_mutex_lock(&options_messages_lock);
  for (int i = 0; i < options_message_count && i < OPTIONS_MESSAGES; i++)
    found += strstr(options_messages[i], fragment) != NULL;
  pthread_mutex_unlock(&options_messages_lock);
  return found;
}

static SHADE_TEST_UNUSED void options_print_messages(void) {
  pthread_mutex_lock(&options_messages_lock);
  fprintf(stderr, "%d message(s):\n", options_message_count);
  for (int i = 0; i < options_message_count && i < OPTIONS_MESSAGES; i++)
    fprintf(stderr, "  %s\n", options_messages[i]);
  pthread_mutex_unlock(&options_messages_lock);
}

#endif
