// test_malformed.c (options_malformed): a program started with malformed variables (CTest sets
// SHADE_GC_PERCENT=abc, SHADE_AUTO_REGISTER=maybe, SHADE_MEMORY_LIMIT=12parsecs,
// SHADE_MODE=sideways, SHADE_GC_CPU=500, SHADE_IDLE_GC_MS=soon, SHADE_TRACE=gc,bogus and
// SHADE_SIG_SUSPEND=SIGFOO) gets one message per variable, naming it, its value, what is allowed
// and the default it runs with, and then runs with the defaults.
#include <signal.h>

#include "base/options.h"
#include "options_test.h"

static void test_one_message_per_malformed_variable(void) {
  static const char *const expected[] = {
      "shade: SHADE_GC_PERCENT=abc: not a number from -1 to 1000000 or off; using 100",
      "shade: SHADE_AUTO_REGISTER=maybe: not a boolean (1/0, on/off, yes/no, true/false); "
      "using off",
      "shade: SHADE_MEMORY_LIMIT=12parsecs: not a size like 512MiB, 2GiB, 1.5GB or bytes, or none; "
      "using none",
      "shade: SHADE_MODE=sideways: not one of stw, incremental or concurrent; using stw",
      "shade: SHADE_GC_CPU=500: not a number from 1 to 100; using 25",
      "shade: SHADE_IDLE_GC_MS=soon: not milliseconds from 0 to 86400000",
      "shade: SHADE_TRACE=gc,bogus: not a list of gc and scav; using off",
      "shade: SHADE_SIG_SUSPEND=SIGFOO: not a signal number from 1 to",
  };
  int n = (int)(sizeof expected / sizeof expected[0]);
  for (int i = 0; i < n; i++)
    SHADE_TEST_EXPECTF(options_messages_with(expected[i]) == 1, "no message \"%s\"", expected[i]);
  SHADE_TEST_EXPECTF(options_message_count == n, "%d messages, expected %d", options_message_count,
                     n);
  if (options_message_count != n)
    options_print_messages();
}

static void test_the_defaults_are_in_force(void) {
  struct shade_stats stats = shade_test_stats();
  SHADE_TEST_EXPECT(stats.gc_percent == 100);
  SHADE_TEST_EXPECT(stats.memory_limit == 0);
  SHADE_TEST_EXPECT(stats.mode == SHADE_MODE_STW);
  SHADE_TEST_EXPECT(shade_options_in_force.auto_register == 0);
  SHADE_TEST_EXPECT(shade_options_in_force.gc_cpu_percent == 25);
  SHADE_TEST_EXPECT(shade_options_in_force.idle_gc_ms == 250);
  SHADE_TEST_EXPECT(shade_options_in_force.trace == 0);
  SHADE_TEST_EXPECT(shade_options_in_force.suspend_signal == SIGRTMIN + 6);
  SHADE_TEST_EXPECT(shade_options_in_force.verify == 1); // SHADE_VERIFY=1 is well formed
}

static void test_the_program_runs(void) {
  for (int i = 0; i < 1000; i++) {
    unsigned char *volatile p = shade_malloc(1000);
    p[0] = 1;
  }
  uint64_t cycles = shade_test_stats().cycles;
  shade_test_collect_clean();
  SHADE_TEST_EXPECT(shade_test_stats().cycles > cycles);
}

int main(void) {
  options_capture(); // before shade_init: its messages are what is tested
  if (shade_init(NULL) != 0) {
    fprintf(stderr, "shade_init failed\n");
    return 1;
  }
  SHADE_TEST_RUN(test_one_message_per_malformed_variable);
  SHADE_TEST_RUN(test_the_defaults_are_in_force);
  SHADE_TEST_RUN(test_the_program_runs);
  shade_set_message_handler(NULL);
  return shade_test_finish();
}
