// test_misuse.c (core_misuse): what Shade does when it is used wrongly or runs out of memory.
//   - A thread that is not registered calls Shade: the message names the problem ("not
//     registered") and the process aborts, both with a message handler and with the default
//     (stderr); with SHADE_AUTO_REGISTER=1 or options.auto_register the thread is registered
//     silently instead and its objects are handled like any other's.
//   - shade_calloc with an overflowing count * size, and absurdly large requests of every kind,
//     return NULL with errno = ENOMEM, and Shade keeps working.
//   - The oom handler from the options is called with the requested size and its return value is
//     returned; it is also called when the OS refuses memory (RLIMIT_AS, not under sanitizers).
//
// Each case that needs its own shade_init runs in a child forked before the parent touches
// Shade; the parent reads what the child reported through a pipe and how it ended.
#include "test_util.h"

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

// ---------------------------------------------------------------------------------------------
// Running a case in a child

static int report_fd = -1; // the child's end of the pipe

static void message_to_pipe(const char *message) {
  size_t length = strlen(message);
  if (write(report_fd, message, length) != (ssize_t)length || write(report_fd, "\n", 1) != 1)
    _exit(90);
}

struct child_result {
  int status;
  char output[8192]; // what the child wrote to the pipe (messages, or its stderr)
};

// Runs body in a child with report_fd set to a pipe (and, if redirect_stderr, stderr too).
static void run_child(void (*body)(void), int redirect_stderr, struct child_result *result) {
  int fds[2];
  memset(result, 0, sizeof *result);
  if (pipe(fds) != 0) {
    SHADE_TEST_EXPECT(!"pipe failed");
    return;
  }
  fflush(stderr);
  pid_t child = fork();
  if (child == 0) {
    close(fds[0]);
    report_fd = fds[1];
    if (redirect_stderr)
      dup2(fds[1], STDERR_FILENO);
    alarm(30);
    body();
    _exit(0);
  }
  close(fds[1]);
  size_t used = 0;
  ssize_t got;
  while ((got = read(fds[0], result->output + used, sizeof result->output - 1 - used)) > 0)
    used += (size_t)got;
  result->output[used] = '\0';
  close(fds[0]);
  SHADE_TEST_EXPECT(waitpid(child, &result->status, 0) == child);
}

static int ended_by_signal(const struct child_result *r, int signal_number) {
  return WIFSIGNALED(r->status) && WTERMSIG(r->status) == signal_number;
}

static int exited_cleanly(const struct child_result *r) {
  return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

static void describe(const char *what, const struct child_result *r) {
  fprintf(stderr, "%s: child %s %d; it wrote:\n%s\n", what,
          WIFSIGNALED(r->status) ? "killed by signal" : "exited with",
          WIFSIGNALED(r->status) ? WTERMSIG(r->status) : WEXITSTATUS(r->status), r->output);
}

// ---------------------------------------------------------------------------------------------
// Unregistered threads

static void *allocate_unregistered(void *unused) {
  (void)unused;
  void *volatile p = shade_malloc(16);
  return p;
}

static void unregistered_thread_allocates(void) {
  pthread_t thread;
  if (pthread_create(&thread, NULL, allocate_unregistered, NULL) != 0)
    _exit(91);
  pthread_join(thread, NULL);
  _exit(0); // reached only if the process did not abort
}

static void child_unregistered_with_handler(void) {
  unsetenv("SHADE_AUTO_REGISTER");
  if (shade_init(NULL) != 0)
    _exit(92);
  shade_set_message_handler(message_to_pipe);
  unregistered_thread_allocates();
}

static void child_unregistered_with_default_messages(void) {
  unsetenv("SHADE_AUTO_REGISTER");
  if (shade_init(NULL) != 0)
    _exit(92);
  unregistered_thread_allocates();
}

static void test_unregistered_thread_is_reported_and_aborts(void) {
  struct child_result r;
  run_child(child_unregistered_with_handler, 0, &r);
  SHADE_TEST_EXPECT(ended_by_signal(&r, SIGABRT));
  SHADE_TEST_EXPECT(strstr(r.output, "not registered") != NULL);
  if (!ended_by_signal(&r, SIGABRT) || strstr(r.output, "not registered") == NULL)
    describe("message handler", &r);

  run_child(child_unregistered_with_default_messages, 1, &r);
  SHADE_TEST_EXPECT(ended_by_signal(&r, SIGABRT));
  SHADE_TEST_EXPECT(strstr(r.output, "not registered") != NULL);
  if (!ended_by_signal(&r, SIGABRT) || strstr(r.output, "not registered") == NULL)
    describe("default messages (stderr)", &r);
}

// With auto-registration the thread's call succeeds, the thread is registered, and an object it
// holds only on its stack survives collections made by main.
static atomic_int auto_ready, auto_release;
static shade_test_hidden auto_object;

static void *auto_registered_thread(void *unused) {
  (void)unused;
  intptr_t errors = 0;
  char *volatile p = shade_malloc(300);
  if (p == NULL)
    return (void *)1;
  shade_test_fill(p, 300, 5);
  auto_object = shade_test_hide(p);
  if (shade_thread_is_registered() != 1)
    errors |= 2;
  atomic_store(&auto_ready, 1);
  while (!atomic_load(&auto_release)) {
    struct timespec nap = {0, 1000 * 1000};
    nanosleep(&nap, NULL);
  }
  if (!shade_test_is_filled(p, 300, 5))
    errors |= 4;
  p = NULL;
  shade_thread_unregister();
  return (void *)errors;
}

static void auto_registration_works(void) {
  shade_set_message_handler(message_to_pipe);
  pthread_t thread;
  if (pthread_create(&thread, NULL, auto_registered_thread, NULL) != 0)
    _exit(91);
  while (!atomic_load(&auto_ready))
    sched_yield();
  for (int i = 0; i < 5; i++) {
    shade_collect();
    if (shade_is_heap_pointer(shade_test_unhide(auto_object)) != 1)
      _exit(10);
    shade_test_allocate_garbage(1 << 20);
  }
  atomic_store(&auto_release, 1);
  void *errors;
  pthread_join(thread, &errors);
  _exit(errors == NULL ? 0 : 20 + (int)(intptr_t)errors);
}

static void child_auto_register_by_environment(void) {
  setenv("SHADE_AUTO_REGISTER", "1", 1);
  if (shade_init(NULL) != 0)
    _exit(92);
  auto_registration_works();
}

static void child_auto_register_by_option(void) {
  unsetenv("SHADE_AUTO_REGISTER");
  struct shade_options options;
  memset(&options, 0, sizeof options);
  options.auto_register = 1;
  if (shade_init(&options) != 0)
    _exit(92);
  auto_registration_works();
}

static void test_unregistered_thread_is_registered_when_auto_registration_is_on(void) {
  struct child_result r;
  run_child(child_auto_register_by_environment, 0, &r);
  SHADE_TEST_EXPECT(exited_cleanly(&r));
  SHADE_TEST_EXPECTF(r.output[0] == '\0', "messages: %.400s", r.output);
  if (!exited_cleanly(&r))
    describe("SHADE_AUTO_REGISTER=1", &r);
  run_child(child_auto_register_by_option, 0, &r);
  SHADE_TEST_EXPECT(exited_cleanly(&r));
  SHADE_TEST_EXPECTF(r.output[0] == '\0', "messages: %.400s", r.output);
  if (!exited_cleanly(&r))
    describe("options.auto_register", &r);
}

// ---------------------------------------------------------------------------------------------
// Out of memory

static char oom_buffer[64];
static size_t oom_requested;
static int oom_calls;
static void *oom_answer;

static void *record_oom(size_t requested) {
  oom_requested = requested;
  oom_calls++;
  return oom_answer;
}

static void child_oom_handler_answers_huge_requests(void) {
  struct shade_options options;
  memset(&options, 0, sizeof options);
  options.oom_handler = record_oom;
  if (shade_init(&options) != 0)
    _exit(92);
  oom_answer = oom_buffer;
  if (shade_malloc(SIZE_MAX / 2) != oom_buffer || oom_requested != SIZE_MAX / 2 || oom_calls != 1)
    _exit(1);
  if (shade_malloc_atomic(SIZE_MAX / 2 + 8) != oom_buffer || oom_requested != SIZE_MAX / 2 + 8)
    _exit(2);
  oom_answer = NULL;
  errno = 0;
  if (shade_malloc(SIZE_MAX / 2) != NULL || errno != ENOMEM || oom_calls != 3)
    _exit(3);
  if (shade_malloc(100) == NULL || oom_calls != 3) // ordinary requests do not call it
    _exit(4);
}

static void test_oom_handler_gets_the_size_and_its_answer_is_returned(void) {
  struct child_result r;
  run_child(child_oom_handler_answers_huge_requests, 0, &r);
  SHADE_TEST_EXPECTF(exited_cleanly(&r), "exit status %d, signal %d (1..4: which step failed)",
                     WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1,
                     WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0);
}

// Under an address-space limit, keeping every 1 MiB object live: allocation eventually fails with
// NULL and ENOMEM (or calls the oom handler with the size asked for), without crashing, and once
// the objects are dropped, allocation works again.
static void fill_address_space(int with_handler) {
  struct shade_options options;
  memset(&options, 0, sizeof options);
  if (with_handler)
    options.oom_handler = record_oom;
  if (shade_init(&options) != 0)
    _exit(92);
  shade_collect();
  FILE *statm = fopen("/proc/self/statm", "r");
  unsigned long pages = 0;
  if (statm == NULL || fscanf(statm, "%lu", &pages) != 1)
    _exit(93);
  fclose(statm);
  size_t limit = pages * (size_t)sysconf(_SC_PAGESIZE) + ((size_t)512 << 20);
  struct rlimit rl = {limit, limit};
  // The objects are kept by a malloc'd root range (made before the limit), not by a chain:
  // a stray conservative reference then keeps one object, not all of them.
  enum { MAX_OBJECTS = 4096 }; // 4 GiB under a 512 MiB limit: the limit is not enforced
  void **objects = calloc(MAX_OBJECTS, sizeof *objects);
  if (objects == NULL)
    _exit(95);
  shade_add_roots(objects, objects + MAX_OBJECTS);
  if (setrlimit(RLIMIT_AS, &rl) != 0)
    _exit(94);
  size_t count = 0;
  for (;;) {
    errno = 0;
    void *p = shade_malloc(1 << 20);
    if (p == NULL)
      break;
    objects[count] = p;
    if (++count >= MAX_OBJECTS)
      _exit(1);
  }
  if (errno != ENOMEM)
    _exit(2);
  if (with_handler && (oom_calls < 1 || oom_requested != (1 << 20)))
    _exit(3);
  if (count < 64) // it should have used most of the 512 MiB
    _exit(4);
  shade_remove_roots(objects, objects + MAX_OBJECTS);
  shade_test_collect_clean();
  void *again = shade_malloc(1 << 20);
  if (again == NULL)
    _exit(5);
  memset(again, 1, 1 << 20);
}

static void child_address_space_limit(void) { fill_address_space(0); }
static void child_address_space_limit_with_handler(void) { fill_address_space(1); }

static void test_allocation_fails_cleanly_at_the_address_space_limit(void) {
  if (SHADE_TEST_SANITIZED) {
    fprintf(stderr, "(skipped: RLIMIT_AS and sanitizers do not mix)\n");
    return;
  }
  struct child_result r;
  run_child(child_address_space_limit, 0, &r);
  SHADE_TEST_EXPECTF(exited_cleanly(&r), "without handler: exit status %d, signal %d",
                     WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1,
                     WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0);
  if (!exited_cleanly(&r))
    describe("RLIMIT_AS", &r);
  run_child(child_address_space_limit_with_handler, 0, &r);
  SHADE_TEST_EXPECTF(exited_cleanly(&r), "with handler: exit status %d, signal %d",
                     WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1,
                     WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0);
  if (!exited_cleanly(&r))
    describe("RLIMIT_AS with oom handler", &r);
}

// ---------------------------------------------------------------------------------------------
// Requests that cannot be met (in this process, default options: no oom handler)

static void expect_enomem(void *result, const char *call) {
  SHADE_TEST_EXPECTF(result == NULL, "%s returned %p", call, result);
  SHADE_TEST_EXPECTF(errno == ENOMEM, "%s: errno %d", call, errno);
}

static void test_calloc_overflow_fails_with_enomem(void) {
  errno = 0;
  expect_enomem(shade_calloc(SIZE_MAX / 2 + 2, 2), "shade_calloc(SIZE_MAX / 2 + 2, 2)");
  errno = 0;
  expect_enomem(shade_calloc(SIZE_MAX, SIZE_MAX), "shade_calloc(SIZE_MAX, SIZE_MAX)");
  errno = 0;
  expect_enomem(shade_calloc((size_t)1 << 33, (size_t)1 << 31), "shade_calloc(2^33, 2^31)");
  unsigned char *ok = shade_calloc(100, 10);
  SHADE_TEST_EXPECT(ok != NULL && shade_size(ok) >= 1000);
  for (int i = 0; ok != NULL && i < 1000; i++)
    SHADE_TEST_EXPECT(ok[i] == 0);
}

static const uint64_t one_pointer[1] = {1};
static const struct shade_type word_type = {"word", 8, one_pointer, NULL, 0};

static void test_huge_requests_fail_with_enomem(void) {
  errno = 0;
  expect_enomem(shade_malloc(SIZE_MAX / 2), "shade_malloc(SIZE_MAX / 2)");
  errno = 0;
  expect_enomem(shade_malloc(SIZE_MAX), "shade_malloc(SIZE_MAX)");
  errno = 0;
  expect_enomem(shade_malloc_atomic(SIZE_MAX / 2), "shade_malloc_atomic(SIZE_MAX / 2)");
  errno = 0;
  expect_enomem(shade_malloc_uncollectable(SIZE_MAX / 2), "shade_malloc_uncollectable(SIZE_MAX / 2)");
  errno = 0;
  expect_enomem(shade_malloc_typed(SIZE_MAX / 2 & ~(size_t)7, &word_type),
                "shade_malloc_typed(SIZE_MAX / 2)");
  // A failed realloc leaves the original object alone.
  char *p = shade_strdup("unchanged");
  errno = 0;
  expect_enomem(shade_realloc(p, SIZE_MAX / 2), "shade_realloc(p, SIZE_MAX / 2)");
  SHADE_TEST_EXPECT(strcmp(p, "unchanged") == 0);
  // And Shade still works.
  shade_collect();
  void *after = shade_malloc(1 << 20);
  SHADE_TEST_EXPECT(after != NULL);
  SHADE_TEST_EXPECT(strcmp(p, "unchanged") == 0);
}

// A request far beyond what the machine has (64 TiB: more than RAM and swap, though within the
// address space) fails promptly with ENOMEM, as malloc's does, instead of reserving it.
static void child_asks_for_64_tib(void) {
  alarm(10);
  if (shade_init(NULL) != 0)
    _exit(92);
  errno = 0;
  void *p = shade_malloc((size_t)1 << 46);
  if (p != NULL)
    _exit(1);
  if (errno != ENOMEM)
    _exit(2);
}

static void test_request_larger_than_the_machine_fails_promptly(void) {
  struct child_result r;
  run_child(child_asks_for_64_tib, 0, &r);
  SHADE_TEST_EXPECTF(exited_cleanly(&r), "exit status %d, signal %d (%s)",
                     WIFEXITED(r.status) ? WEXITSTATUS(r.status) : -1,
                     WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0,
                     ended_by_signal(&r, SIGALRM) ? "still busy after 10 s"
                     : WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1 ? "it succeeded"
                                                                        : "see exit status");
}

int main(void) {
  // The children first, while this process has not touched Shade.
  SHADE_TEST_RUN(test_unregistered_thread_is_reported_and_aborts);
  SHADE_TEST_RUN(test_unregistered_thread_is_registered_when_auto_registration_is_on);
  SHADE_TEST_RUN(test_oom_handler_gets_the_size_and_its_answer_is_returned);
  SHADE_TEST_RUN(test_allocation_fails_cleanly_at_the_address_space_limit);
  SHADE_TEST_RUN(test_request_larger_than_the_machine_fails_promptly);
  SHADE_TEST_RUN(test_calloc_overflow_fails_with_enomem);
  SHADE_TEST_RUN(test_huge_requests_fail_with_enomem);
  return shade_test_finish();
}
