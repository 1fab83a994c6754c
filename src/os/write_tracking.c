// write_tracking.c: the kernel tells us which pages were written since we last protected them.
//
// The algorithm. One userfaultfd per process, created user-mode-only (no privilege needed) with
// UFFD_FEATURE_WP_ASYNC (which brings WP_UNPOPULATED). A range is registered for write-protect
// mode once; write_tracking_protect sets the uffd-wp bit on every page table entry of the range
// (on none entries too: WP_UNPOPULATED installs a marker). In async mode the first write to a
// protected page does not stop the thread for a handler: the kernel clears the bit in the fault
// and retries the write (about 1 us). PAGEMAP_SCAN on /proc/self/pagemap with category
// PAGE_IS_WRITTEN then lists the entries without the bit, and PM_SCAN_WP_MATCHING sets it again
// on those it lists, under the page table lock and with a TLB flush before the call returns;
// PM_SCAN_CHECK_WPASYNC makes the call fail with EPERM on a part of the range that is not
// registered instead of calling it unwritten. No signal handler, no mprotect: system calls that
// write into the memory (read(2)) fault in the kernel like any other write and succeed. A peek is
// the same scan without PM_SCAN_WP_MATCHING (the pages stay written); protect_written is the
// scan with it and no output vector (the kernel then walks the whole range in one call).
//
// Kernel facts this relies on, each pinned by tests/os/test_write_tracking.c on Linux 6.18:
// - Every write after protection is reported: plain stores, memcpy, read(2) into the memory,
//   stores by other threads (also racing with collect), the first write to a page never touched
//   and to a page dropped with MADV_DONTNEED or MADV_FREE, and to a transparent huge page
//   (split by the write; only its 4 KiB page is reported).
// - A read is not a write, on populated, never-touched and re-protected dropped pages alike.
// - What is reported without a write (the side where mistakes are harmless): every page of a
//   range registered but not yet protected; a page dropped with MADV_DONTNEED (the zap takes the
//   uffd-wp bit with the page), at the next collect on this kernel, which counts none entries
//   and missing page tables of a registered range as written (PAGEMAP_SCAN fixes sent to stable
//   in July 2026). Older kernels, by their source, report such a page only once it is touched
//   again, a read included (the zero page is mapped unprotected). Protecting the dropped range
//   again makes every kernel report it only when it is written.
// - munmap ends the registration: an unmapped hole in the range is skipped, and a new mapping
//   there is not registered (collect fails with EPERM, after reporting the runs before it).
// - fork: the child gets the parent's memory without the registrations and without the uffd-wp
//   bits (the parent did not ask for UFFD_FEATURE_EVENT_FORK, which needs CAP_SYS_PTRACE and
//   makes fork wait until someone reads the event from the uffd). The parent keeps tracking
//   exactly, through the copy-on-write faults fork causes. The child must not use the
//   parent's descriptors: the uffd acts on the address space that created it (by the kernel's
//   source), and /proc/self/pagemap opened by the parent is the parent's pagemap.
//
// Invariants. A page written after the protect or collect that last covered it, and before a
// collect returns, is reported by that collect (other pages only as listed above). The caller
// reads reported pages only after collect returns, so a store racing with collect is seen
// either in this collection or in the next. Nothing here allocates or takes a lock; the
// descriptors are created once per process and are constant afterwards.
#include "os/write_tracking.h"

#include "base/base.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

// ---------------------------------------------------------------------------------------------
// What Debian 12's headers (Linux 6.1) lack, from include/uapi/linux/userfaultfd.h and fs.h of
// Linux 6.7+.

#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1 // Linux 5.11
#endif
#ifndef UFFD_FEATURE_WP_UNPOPULATED
#define UFFD_FEATURE_WP_UNPOPULATED (1 << 13) // Linux 6.4
#endif
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15) // Linux 6.7
#endif

#ifndef PAGEMAP_SCAN // Linux 6.7
struct page_region {
  __u64 start;
  __u64 end; // exclusive
  __u64 categories;
};

struct pm_scan_arg {
  __u64 size;
  __u64 flags;
  __u64 start;
  __u64 end;
  __u64 walk_end; // written by the kernel: where the walk stopped
  __u64 vec;
  __u64 vec_len;
  __u64 max_pages;
  __u64 category_inverted;
  __u64 category_mask;
  __u64 category_anyof_mask;
  __u64 return_mask;
};

#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PAGE_IS_WPALLOWED (1 << 0)
#define PAGE_IS_WRITTEN (1 << 1)
#define PAGE_IS_FILE (1 << 2)
#define PAGE_IS_PRESENT (1 << 3)
#define PAGE_IS_SWAPPED (1 << 4)
#define PAGE_IS_PFNZERO (1 << 5)
#define PAGE_IS_HUGE (1 << 6)
#define PAGE_IS_SOFT_DIRTY (1 << 7)
#define PM_SCAN_WP_MATCHING (1 << 0)   // write-protect the pages reported
#define PM_SCAN_CHECK_WPASYNC (1 << 1) // fail with EPERM on a range not registered for WP_ASYNC
#endif

_Static_assert(sizeof(struct pm_scan_arg) == 96, "struct pm_scan_arg as in Linux 6.7");
_Static_assert(sizeof(struct page_region) == 24, "struct page_region as in Linux 6.7");

// ---------------------------------------------------------------------------------------------
// State of the process: one atomic word, the pid of the process that probed (shifted left by
// two) and where the probe stands, so that a forked child, whose pid differs, can never take the
// parent's state for its own, even when it was forked in the middle of the probe. The thread
// whose compare-and-swap takes the word from 0 to PROBING probes, fills the fields below and
// publishes them with a release store of READY or FAILED; they are constant from then on (read
// after an acquire load of the word) until write_tracking_after_fork_child, which runs in a
// child with a single thread.

enum { PROBING = 1, READY = 2, FAILED = 3, STAGE_MASK = 3 }; // 0: not probed yet

static struct {
  _Atomic int state;  // owner pid << 2 | PROBING, READY or FAILED; 0 before the probe
  int uffd;           // the userfaultfd of the owner's address space
  int pagemap;        // /proc/<owner pid>/pagemap, opened as /proc/self/pagemap
  const char *reason; // why not, when FAILED
} tracking;

static int state_of(pid_t pid, int stage) { return (int)pid << 2 | stage; }
static pid_t state_owner(int state) { return (pid_t)(state >> 2); }

static bool is_aligned(void *start, size_t length) {
  return ((uintptr_t)start | length) % WRITE_TRACKING_PAGE_SIZE == 0;
}

static int uffd_register(int uffd, void *start, size_t length) {
  struct uffdio_register reg = {
      .range = {.start = (uintptr_t)start, .len = length},
      .mode = UFFDIO_REGISTER_MODE_WP,
  };
  return ioctl(uffd, UFFDIO_REGISTER, &reg) == 0 ? 0 : -errno;
}

static int uffd_protect(int uffd, void *start, size_t length) {
  struct uffdio_writeprotect protect = {
      .range = {.start = (uintptr_t)start, .len = length},
      .mode = UFFDIO_WRITEPROTECT_MODE_WP,
  };
  return ioctl(uffd, UFFDIO_WRITEPROTECT, &protect) == 0 ? 0 : -errno;
}

// One PAGEMAP_SCAN walk after another over [start, end), each filling at most REGIONS runs.
// With protect, the pages reported are write-protected again by the same call (PM_SCAN_WP_MATCHING).
static long pagemap_collect(int pagemap, uintptr_t start, uintptr_t end, bool protect,
                            void (*found)(uintptr_t, size_t, void *), void *context) {
  enum { REGIONS = 128 };
  long total = 0;
  uintptr_t cursor = start;
  while (cursor < end) {
    struct page_region regions[REGIONS] = {0};
    struct pm_scan_arg scan = {
        .size = sizeof scan,
        .flags = (protect ? PM_SCAN_WP_MATCHING : 0) | PM_SCAN_CHECK_WPASYNC,
        .start = cursor,
        .end = end,
        .vec = (uintptr_t)regions,
        .vec_len = REGIONS,
        .category_mask = PAGE_IS_WRITTEN,
        .return_mask = PAGE_IS_WRITTEN,
    };
    long count = ioctl(pagemap, PAGEMAP_SCAN, &scan);
    int error = count < 0 ? errno : 0;
    // On error the kernel has still copied out (and re-protected) the runs it found before it
    // stopped: report them, or their writes would be lost.
    for (long i = 0; i < REGIONS && (error ? regions[i].end != 0 : i < count); i++) {
      found(regions[i].start, regions[i].end - regions[i].start, context);
      total += (long)(regions[i].end - regions[i].start);
    }
    if (error)
      return -error;
    SHADE_ASSERT(scan.walk_end > cursor && scan.walk_end <= end);
    cursor = scan.walk_end;
  }
  return total;
}

struct probe_runs {
  uintptr_t written; // the one page the probe wrote
  int runs, exact;   // runs reported, and how many of them were exactly that page
};

static void count_probe_run(uintptr_t start, size_t bytes, void *context) {
  struct probe_runs *probe = context;
  probe->runs++;
  probe->exact += start == probe->written && bytes == WRITE_TRACKING_PAGE_SIZE;
}

// Whether the kernel tracks a write through uffd and pagemap: protect two scratch pages, write
// the second, and expect exactly it back.
static const char *probe_scratch_pages(int uffd, int pagemap) {
  size_t length = 2 * WRITE_TRACKING_PAGE_SIZE;
  char *scratch = mmap(NULL, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (scratch == MAP_FAILED)
    return "no memory for the probe";
  const char *failure = NULL;
  struct probe_runs probe = {.written = (uintptr_t)scratch + WRITE_TRACKING_PAGE_SIZE};
  if (uffd_register(uffd, scratch, length) != 0 || uffd_protect(uffd, scratch, length) != 0) {
    failure = "UFFDIO_REGISTER/UFFDIO_WRITEPROTECT refused on anonymous memory";
  } else {
    *(volatile char *)probe.written = 1;
    long bytes = pagemap_collect(pagemap, (uintptr_t)scratch, (uintptr_t)scratch + length, true,
                                 count_probe_run, &probe);
    if (bytes == -ENOTTY || bytes == -EINVAL)
      failure = "kernel lacks the PAGEMAP_SCAN ioctl (Linux < 6.7)";
    else if (bytes < 0)
      failure = "PAGEMAP_SCAN failed on the probe page";
    else if (probe.runs != 1 || probe.exact != 1)
      failure = "PAGEMAP_SCAN did not report exactly the written probe page";
  }
  munmap(scratch, length);
  return failure;
}

// Returns NULL and sets tracking's descriptors, or returns why not.
static const char *probe(void) {
  int uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
  if (uffd < 0) {
    switch (errno) {
    case ENOSYS: return "no userfaultfd (ENOSYS: kernel built without it, or seccomp)";
    case EPERM: return "userfaultfd refused (EPERM: seccomp or a security module)";
    case EINVAL: return "kernel lacks UFFD_USER_MODE_ONLY (Linux < 5.11)";
    default: return "userfaultfd failed";
    }
  }
  struct uffdio_api api = {
      .api = UFFD_API,
      .features = UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED,
  };
  const char *failure = NULL;
  int pagemap = -1;
  if (ioctl(uffd, UFFDIO_API, &api) != 0)
    failure = errno == EINVAL ? "kernel lacks UFFD_FEATURE_WP_ASYNC (Linux < 6.7)"
                              : "UFFDIO_API failed";
  else if ((pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC)) < 0)
    failure = "cannot open /proc/self/pagemap";
  else
    failure = probe_scratch_pages(uffd, pagemap);
  if (failure != NULL) {
    close(uffd);
    if (pagemap >= 0)
      close(pagemap);
    return failure;
  }
  tracking.uffd = uffd;
  tracking.pagemap = pagemap;
  return NULL;
}

// READY or FAILED after probing if needed, or -ECHILD in a forked child that has not called
// write_tracking_after_fork_child.
static int tracking_stage(void) {
  pid_t self = getpid();
  for (;;) {
    int state = load_acquire(&tracking.state);
    if (state != 0 && state_owner(state) != self)
      return -ECHILD;
    if ((state & STAGE_MASK) == READY || (state & STAGE_MASK) == FAILED)
      return state & STAGE_MASK;
    int expected = 0;
    if (state == 0 &&
        atomic_compare_exchange_strong(&tracking.state, &expected, state_of(self, PROBING))) {
      tracking.reason = probe();
      store_release(&tracking.state, state_of(self, tracking.reason == NULL ? READY : FAILED));
    } else if (state != 0) {
      sched_yield(); // another thread probes (a few milliseconds at most)
    }
  }
}

// The descriptor to use for an operation on [start, start + length), or -errno.
static int descriptor(void *start, size_t length, bool want_uffd) {
  int stage = tracking_stage();
  if (stage < 0)
    return stage;
  if (stage != READY)
    return -EOPNOTSUPP;
  if (!is_aligned(start, length))
    return -EINVAL;
  return want_uffd ? tracking.uffd : tracking.pagemap;
}

// ---------------------------------------------------------------------------------------------

bool write_tracking_available(const char **reason) {
  int stage = tracking_stage();
  if (reason != NULL)
    *reason = stage == -ECHILD ? "forked child: write_tracking_after_fork_child not called"
              : stage == FAILED ? tracking.reason
                                : NULL;
  return stage == READY;
}

int write_tracking_register(void *start, size_t length) {
  int uffd = descriptor(start, length, true);
  return uffd < 0 ? uffd : uffd_register(uffd, start, length);
}

int write_tracking_unregister(void *start, size_t length) {
  int uffd = descriptor(start, length, true);
  if (uffd < 0)
    return uffd;
  struct uffdio_range range = {.start = (uintptr_t)start, .len = length};
  return ioctl(uffd, UFFDIO_UNREGISTER, &range) == 0 ? 0 : -errno;
}

int write_tracking_protect(void *start, size_t length) {
  int uffd = descriptor(start, length, true);
  return uffd < 0 ? uffd : uffd_protect(uffd, start, length);
}

static long look(void *start, size_t length, bool protect,
                 void (*found)(uintptr_t run_start, size_t run_bytes, void *context),
                 void *context) {
  int pagemap = descriptor(start, length, false);
  if (pagemap < 0)
    return pagemap;
  return pagemap_collect(pagemap, (uintptr_t)start, (uintptr_t)start + length, protect, found,
                         context);
}

long write_tracking_collect(void *start, size_t length,
                            void (*found)(uintptr_t run_start, size_t run_bytes, void *context),
                            void *context) {
  return look(start, length, true, found, context);
}

int write_tracking_protect_written(void *start, size_t length) {
  int pagemap = descriptor(start, length, false);
  if (pagemap < 0)
    return pagemap;
  // No output vector: the walk covers the whole range and protects what it matches.
  struct pm_scan_arg scan = {
      .size = sizeof scan,
      .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC,
      .start = (uintptr_t)start,
      .end = (uintptr_t)start + length,
      .category_mask = PAGE_IS_WRITTEN,
  };
  if (ioctl(pagemap, PAGEMAP_SCAN, &scan) < 0)
    return -errno;
  return scan.walk_end == scan.end ? 0 : -EAGAIN;
}

long write_tracking_peek(void *start, size_t length,
                         void (*found)(uintptr_t run_start, size_t run_bytes, void *context),
                         void *context) {
  return look(start, length, false, found, context);
}

void write_tracking_after_fork_child(void) {
  int state = load_acquire(&tracking.state);
  if (state == 0 || state_owner(state) == getpid())
    return; // not a child of the process that probed
  if ((state & STAGE_MASK) == READY) {
    // The parent holds the same files open: closing ours releases nothing of the parent's.
    close(tracking.uffd);
    close(tracking.pagemap);
  } // forked during the parent's probe: its descriptors, if any, are O_CLOEXEC and leak
  store_release(&tracking.state, 0);
}
