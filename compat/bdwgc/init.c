// init.c: GC_init and bdwgc's settings (the variables and their setters and getters).
//
// Initialisation happens once, on GC_init or on the first call that needs Shade: it turns the
// settings made so far into struct shade_options and calls shade_init. The options always ask
// for auto_register (bdwgc programs allocate from threads they never registered) and for
// on-demand finalizers (delivered by this layer where bdwgc delivers them: inside allocation
// calls, or by GC_invoke_finalizers with GC_finalize_on_demand; never on a thread of Shade's, so
// a single-threaded program stays single-threaded). Settings changed after initialisation take
// effect where Shade can change them at run time (heap limit, percent, on-demand), and are
// recorded otherwise. The variables are bdwgc's deprecated globals: a program may write them
// directly before GC_init; they are read at GC_init (and GC_dont_gc at each GC_gcollect).
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"

atomic_int compat_initialized;
static pthread_mutex_t init_lock = PTHREAD_MUTEX_INITIALIZER;

// bdwgc's variables, with bdwgc's defaults.
GC_word GC_gc_no;
int GC_parallel;
int GC_find_leak;
int GC_all_interior_pointers = 1;
int compat_past_end_byte = 1;
int compat_generations_wanted;
int GC_finalize_on_demand;
int GC_java_finalization = 1;
GC_finalizer_notifier_proc GC_finalizer_notifier;
int GC_dont_gc;
int GC_dont_expand;
int GC_use_entire_heap;
int GC_full_freq = 19;
GC_word GC_non_gc_bytes;
int GC_no_dls;
GC_word GC_free_space_divisor = 3;
GC_word GC_max_retries;
char *GC_stackbottom;
int GC_dont_precollect;
unsigned long GC_time_limit = GC_TIME_UNLIMITED;
const size_t GC_debug_header_size = 0;

// Settings that only shade_init can take (0: not set by the program).
static unsigned markers_wanted;
static int suspend_signal_wanted;
static int restart_signal_wanted;
static GC_word max_heap_wanted;
static unsigned long time_limit_nsec;
static GC_word allocd_bytes_per_finalizer = 10000;
static int pages_executable;
static size_t min_bytes_allocd = 1;
static int rate = 10;
static int max_prior_attempts = 1;
static int handle_fork = 1;
static int force_unmap_on_gcollect;
static int manual_vdb_allowed = 1;

// bdwgc's pace has two parts. It collects only when its heap is full, and then only once the
// bytes allocated since the last collection reach (twice the traced live bytes + the untraced
// ones + the roots) / d, d its free-space divisor (3 by default); else it grows the heap, which
// never shrinks. For a heap of pointerful objects the second part is 2/d of the live heap:
// Shade's percent grows the heap by p% of the live heap, so 200 / d keeps it (67 at d = 3, not
// Shade's own 100). Pointer-free ("atomic") bytes count a quarter there, an eighth of the
// pointerful ones' two: noscan_weight 12 (w3m's heap, 70% strings: peak RSS 1.13 x bdwgc's with
// every byte counted). The first part is the option retain_goal: the goal never falls below the
// largest reached (Guile's binary trees: 124 collections, not 172, for the same memory). Weak
// tables whose dead entries live one more cycle (Guile's) grow with the spacing of collections
// (the roots are left out of the pace for that reason: pacer.c).
int compat_percent_for_divisor(GC_word divisor) {
  if (divisor == 0)
    return 100;
  GC_word percent = (200 + divisor / 2) / divisor;
  return percent < 10 ? 10 : (int)percent;
}

extern void *__libc_stack_end;

void compat_init_slow(void) {
  pthread_mutex_lock(&init_lock);
  if (atomic_load(&compat_initialized)) {
    pthread_mutex_unlock(&init_lock);
    return;
  }
  struct shade_options options = {0};
  options.auto_register = 1;
  options.finalize_on_demand = 1;
  if (markers_wanted)
    options.markers = (int)markers_wanted;
  if (suspend_signal_wanted)
    options.suspend_signal = suspend_signal_wanted;
  if (max_heap_wanted)
    options.heap_limit = max_heap_wanted;
  if (getenv("SHADE_GC_PERCENT") == NULL) // (the variable, when set, wins: options.c)
    options.gc_percent = compat_percent_for_divisor(GC_free_space_divisor);
  if (getenv("SHADE_RETAIN_GOAL") == NULL) // bdwgc's heap never shrinks (above)
    options.retain_goal = 1;
  if (getenv("SHADE_NOSCAN_WEIGHT") == NULL) // pointer-free bytes: a quarter against two (above)
    options.noscan_weight = 12;
  compat_past_end_byte = GC_all_interior_pointers != 0; // bdwgc reads it once, at GC_init
  const char *incremental = getenv("GC_ENABLE_INCREMENTAL"); // (bdwgc's own variable)
  if ((compat_generations_wanted || (incremental && incremental[0] && strcmp(incremental, "0"))) &&
      getenv("SHADE_GENERATIONAL") == NULL)
    options.generational = 1; // bdwgc's incremental mode: see collect.c
  if (shade_init(&options) != 0) {
    pthread_mutex_unlock(&init_lock);
    compat_abort("GC_init: Shade could not start (shade_init failed)");
  }
  if (GC_stackbottom == NULL)
    GC_stackbottom = (char *)__libc_stack_end;
  GC_parallel = 1;
  compat_finalization_init();
  compat_roots_hook_init();
  compat_events_init();
  atomic_store_explicit(&compat_initialized, 1, memory_order_release);
  pthread_mutex_unlock(&init_lock);
  if (GC_dont_gc)
    GC_disable(); // GC_INIT with GC_DONT_GC: no collection unless GC_gcollect is asked for
}

GC_API void GC_CALL GC_init(void) {
  compat_ready();
  compat_thread_ensure_registered();
}
GC_API int GC_CALL GC_is_init_called(void) { return atomic_load(&compat_initialized); }
GC_API void GC_CALL GC_deinit(void) {} // Shade's threads and heap live until the process ends

GC_API unsigned GC_CALL GC_get_version(void) {
  return (GC_VERSION_MAJOR << 16) | (GC_VERSION_MINOR << 8) | GC_VERSION_MICRO;
}
// Guile asks on every weak-table access: a counter, not the statistics (which read /proc).
GC_API GC_word GC_CALL GC_get_gc_no(void) {
  compat_ready();
  return (GC_word)shade_collection_count(0);
}
GC_API int GC_CALL GC_get_parallel(void) { return GC_parallel; }
GC_API void GC_CALL GC_set_markers_count(unsigned markers) { markers_wanted = markers; }

GC_API void GC_CALL GC_set_find_leak(int value) { GC_find_leak = value; }
GC_API int GC_CALL GC_get_find_leak(void) { return GC_find_leak; }
// Shade always treats interior pointers as pointers; the setting decides object sizes (a byte
// past the end, or exact granules: compat.h), read at GC_init as bdwgc does (later: ignored).
GC_API void GC_CALL GC_set_all_interior_pointers(int value) { GC_all_interior_pointers = value; }
GC_API int GC_CALL GC_get_all_interior_pointers(void) { return GC_all_interior_pointers; }
GC_API void GC_CALL GC_set_java_finalization(int value) { GC_java_finalization = value; }
GC_API int GC_CALL GC_get_java_finalization(void) { return GC_java_finalization; }
GC_API void GC_CALL GC_set_dont_expand(int value) { GC_dont_expand = value; }
GC_API int GC_CALL GC_get_dont_expand(void) { return GC_dont_expand; }
GC_API void GC_CALL GC_set_full_freq(int value) { GC_full_freq = value; }
GC_API int GC_CALL GC_get_full_freq(void) { return GC_full_freq; }
GC_API void GC_CALL GC_set_non_gc_bytes(GC_word value) { GC_non_gc_bytes = value; }
GC_API GC_word GC_CALL GC_get_non_gc_bytes(void) { return GC_non_gc_bytes; }
// Shade scans every loaded object's data and bss; GC_no_dls is recorded (docs/bdwgc.md).
GC_API void GC_CALL GC_set_no_dls(int value) { GC_no_dls = value; }
GC_API int GC_CALL GC_get_no_dls(void) { return GC_no_dls; }
GC_API void GC_CALL GC_set_free_space_divisor(GC_word divisor) {
  GC_free_space_divisor = divisor;
  if (atomic_load(&compat_initialized))
    shade_set_gc_percent(compat_percent_for_divisor(divisor));
}
GC_API GC_word GC_CALL GC_get_free_space_divisor(void) { return GC_free_space_divisor; }
GC_API void GC_CALL GC_set_max_retries(GC_word value) { GC_max_retries = value; }
GC_API GC_word GC_CALL GC_get_max_retries(void) { return GC_max_retries; }
GC_API void GC_CALL GC_set_dont_precollect(int value) { GC_dont_precollect = value; }
GC_API int GC_CALL GC_get_dont_precollect(void) { return GC_dont_precollect; }
GC_API void GC_CALL GC_set_time_limit(unsigned long value) { GC_time_limit = value; }
GC_API unsigned long GC_CALL GC_get_time_limit(void) { return GC_time_limit; }
GC_API void GC_CALL GC_set_time_limit_tv(struct GC_timeval_s limit) {
  GC_time_limit = limit.tv_ms;
  time_limit_nsec = limit.tv_nsec;
}
GC_API struct GC_timeval_s GC_CALL GC_get_time_limit_tv(void) {
  return (struct GC_timeval_s){GC_time_limit, time_limit_nsec};
}
GC_API void GC_CALL GC_set_allocd_bytes_per_finalizer(GC_word value) {
  allocd_bytes_per_finalizer = value;
}
GC_API GC_word GC_CALL GC_get_allocd_bytes_per_finalizer(void) {
  return allocd_bytes_per_finalizer;
}
GC_API void GC_CALL GC_set_pages_executable(int value) { pages_executable = value; }
GC_API int GC_CALL GC_get_pages_executable(void) { return pages_executable; }
GC_API void GC_CALL GC_set_min_bytes_allocd(size_t value) { min_bytes_allocd = value ? value : 1; }
GC_API size_t GC_CALL GC_get_min_bytes_allocd(void) { return min_bytes_allocd; }
GC_API void GC_CALL GC_set_rate(int value) { rate = value; }
GC_API int GC_CALL GC_get_rate(void) { return rate; }
GC_API void GC_CALL GC_set_max_prior_attempts(int value) { max_prior_attempts = value; }
GC_API int GC_CALL GC_get_max_prior_attempts(void) { return max_prior_attempts; }
GC_API void GC_CALL GC_set_handle_fork(int value) { handle_fork = value; }
// Shade's own fork handlers keep the heap consistent in parent and child.
GC_API void GC_CALL GC_atfork_prepare(void) {}
GC_API void GC_CALL GC_atfork_parent(void) {}
GC_API void GC_CALL GC_atfork_child(void) {}
GC_API void GC_CALL GC_set_force_unmap_on_gcollect(int value) { force_unmap_on_gcollect = value; }
GC_API int GC_CALL GC_get_force_unmap_on_gcollect(void) { return force_unmap_on_gcollect; }
int compat_force_unmap_on_gcollect(void) { return force_unmap_on_gcollect; }
GC_API void GC_CALL GC_set_manual_vdb_allowed(int value) { manual_vdb_allowed = value; }
GC_API int GC_CALL GC_get_manual_vdb_allowed(void) { return manual_vdb_allowed; }

GC_API void GC_CALL GC_set_suspend_signal(int sig) {
  if (atomic_load(&compat_initialized))
    compat_message("shade: GC_set_suspend_signal(%d): called after GC_init; Shade keeps signal %d",
                   sig, compat_suspend_signal());
  else
    suspend_signal_wanted = sig;
}
GC_API int GC_CALL GC_get_suspend_signal(void) {
  if (!atomic_load(&compat_initialized))
    return suspend_signal_wanted ? suspend_signal_wanted : -1; // bdwgc: -1 before GC_init
  return compat_suspend_signal();
}
// Shade resumes stopped threads without a second signal; the restart signal is recorded.
GC_API void GC_CALL GC_set_thr_restart_signal(int sig) { restart_signal_wanted = sig; }
GC_API int GC_CALL GC_get_thr_restart_signal(void) {
  if (restart_signal_wanted)
    return restart_signal_wanted;
  return atomic_load(&compat_initialized) ? compat_suspend_signal() : -1;
}

GC_API void GC_CALL GC_set_max_heap_size(GC_word bytes) {
  max_heap_wanted = bytes;
  if (atomic_load(&compat_initialized))
    shade_set_heap_limit(bytes);
}
