// test_server.c (gen_server): .NET's server flavour (SHADE_SERVER=on, options.server) gives gen0
// and gen1 budgets per CPU: the same program started again with it has budgets of the
// workstation's times the online CPUs (at most 64); a fixed SHADE_GEN0_BUDGET stays as given.
// The heap goal is set high (options.min_heap_goal) so that no budget is capped by it.
#include "gen_test.h"

#include <spawn.h>
#include <sys/wait.h>

extern char **environ;

static struct shade_stats start(int server, size_t fixed_budget) {
  struct shade_options options;
  memset(&options, 0, sizeof options);
  options.server = server;
  options.gen0_budget = fixed_budget;
  options.min_heap_goal = (size_t)64 << 30; // a quarter of it caps no budget here
  gen_start(&options);
  gen_require_generational();
  return shade_test_stats();
}

// Runs this program again as `role` (posix_spawn: no fork handler runs, which TSan could not
// follow with Shade's); returns the budgets it printed (gen0 then gen1).
static void budgets_of(const char *role, uint64_t *gen0, uint64_t *gen1) {
  int fds[2];
  SHADE_TEST_EXPECT(pipe(fds) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  char *argv[] = {"gen_server", (char *)role, NULL};
  pid_t child = 0;
  int spawned = posix_spawn(&child, "/proc/self/exe", &actions, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  SHADE_TEST_EXPECTF(spawned == 0, "posix_spawn: %s", strerror(spawned));
  close(fds[1]);
  char text[128] = "";
  ssize_t got = read(fds[0], text, sizeof text - 1);
  close(fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  SHADE_TEST_EXPECTF(WIFEXITED(status) && WEXITSTATUS(status) == 0, "%s exited with %d", role,
                     status);
  if (got <= 0 || sscanf(text, "%" SCNu64 " %" SCNu64, gen0, gen1) != 2) {
    SHADE_TEST_EXPECTF(0, "%s printed no budgets", role);
    *gen0 = *gen1 = 0;
  }
}

static void test_budgets_are_per_cpu(void) {
  uint64_t server0, server1, fixed0, fixed1;
  struct shade_stats workstation = shade_test_stats();
  budgets_of("server", &server0, &server1);
  budgets_of("server-fixed", &fixed0, &fixed1);
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  uint64_t heaps = cpus < 1 ? 1 : cpus > 64 ? 64 : (uint64_t)cpus;
  fprintf(stderr, "workstation gen0/gen1 budgets %" PRIu64 "/%" PRIu64 ", server %" PRIu64 "/%" PRIu64
          " (%" PRIu64 " CPUs), server with a fixed 1 MiB gen0 budget %" PRIu64 "\n",
          workstation.gen0_budget, workstation.gen1_budget, server0, server1, heaps, fixed0);
  SHADE_TEST_EXPECT_EQ(server0, workstation.gen0_budget * heaps);
  SHADE_TEST_EXPECT_EQ(server1, workstation.gen1_budget * heaps);
  SHADE_TEST_EXPECT_EQ(fixed0, (uint64_t)1 << 20);
}

int main(int argc, char **argv) {
  if (argc > 1) { // the child: report its budgets
    struct shade_stats s = start(1, strcmp(argv[1], "server-fixed") == 0 ? (size_t)1 << 20 : 0);
    printf("%" PRIu64 " %" PRIu64 "\n", s.gen0_budget, s.gen1_budget);
    return 0;
  }
  start(-1, 0);
  SHADE_TEST_RUN(test_budgets_are_per_cpu);
  return shade_test_finish();
}
