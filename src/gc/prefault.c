// prefault.c: the heap's next pages faulted in ahead of the program, on the scavenger's thread.
//
// The first write to a page the OS has not backed yet is a page fault: the kernel zeroes a page
// (and, in a virtual machine whose host took the memory back, the host backs it first): 1 to 6
// us each on this project's 2-vCPU machine, 0.2 to 2 seconds for every GiB the heap grows by. A
// growing heap's new spans are such pages, and the thread that allocates pays for them, inside
// its allocation. The scavenger's thread pays instead, ahead of time, on another CPU when there
// is one.
//
// Each look (every PREFAULT_TICK while the heap grows, else with the scavenger's tick):
//   growth = how far the page heap's in-use peak rose since the last look;
//   ahead  = growth ? clamp(2 x growth, PREFAULT_MIN, PREFAULT_MAX) : ahead / 2;
//   while the resident free pages (swept or prefaulted, not given back) are fewer than ahead and
//   the resident heap stays within the ceiling (the scavenger's retained target: the heap goal +
//   10%, under the soft limit), fault in PREFAULT_STEP more of the never-used (zero) pages.
// So nothing is faulted in while the heap only reuses its pages (a program in its steady state),
// and the pages faulted in but not used are at most `ahead`, given back by the scavenger once
// unused for SHADE_SCAVENGE_IDLE_MS like any free page.
//
// Each step holds the collector lock (pageheap.h) for PREFAULT_STEP's faults only, and the
// thread naps between steps, lock released: a program thread that needs the lock (to start or
// finish a collection) waits for one step, not for a whole look (which, taken in one go, kept an
// incremental marking from finishing for 20 to 50 ms). The thread's faults are its own: the
// scavenger's activity rule counts only the program's.
#include "gc/prefault.h"

#include <time.h>

#include "alloc/pageheap.h"
#include "gc/collector.h"

#define PREFAULT_TICK ((uint64_t)10 * 1000000)
#define PREFAULT_STEP ((size_t)256 << 10) // 64 faults: 0.1 to 0.4 ms with the lock held
#define PREFAULT_NAP_NS 100000             // between steps, without it
#define PREFAULT_LOOK_MAX ((size_t)8 << 20) // per look: up to 800 MB/s
#define PREFAULT_MIN ((size_t)4 << 20)
#define PREFAULT_MAX ((size_t)64 << 20)

static size_t last_peak;
static size_t ahead;

uint64_t prefault_tick(size_t ceiling) {
  size_t peak = pageheap_in_use_peak_bytes();
  size_t growth = peak > last_peak ? peak - last_peak : 0;
  last_peak = peak;
  if (growth > 0)
    ahead = growth > PREFAULT_MAX / 2 ? PREFAULT_MAX
            : 2 * growth < PREFAULT_MIN ? PREFAULT_MIN : 2 * growth;
  else
    ahead /= 2;
  if (ahead < PREFAULT_STEP) {
    ahead = 0;
    return 0;
  }
  for (size_t this_look = 0; this_look < PREFAULT_LOOK_MAX;) {
    size_t free = pageheap_free_bytes(), released = pageheap_released_bytes();
    size_t resident_free = free > released ? free - released : 0;
    if (resident_free >= ahead || pageheap_resident_bytes() + PREFAULT_STEP > ceiling)
      break;
    collector_lock(); // no marking while the page heap changes (pageheap.h)
    size_t done = pageheap_prefault_step(PREFAULT_STEP);
    collector_unlock();
    if (done == 0)
      break;
    this_look += done;
    struct timespec nap = {0, PREFAULT_NAP_NS}; // a thread waiting for the lock gets it now
    nanosleep(&nap, NULL);
  }
  return PREFAULT_TICK;
}
