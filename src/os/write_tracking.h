// write_tracking.h: which pages of anonymous memory were written since they were last
// write-protected, told by the kernel (userfaultfd asynchronous write-protection + PAGEMAP_SCAN,
// Linux 6.7+). Plain stores, memcpy, system calls writing into the memory (read(2)) and stores
// by any thread are all seen; no signal handler is involved. See write_tracking.c for the kernel
// facts this relies on.
//
// Addresses and lengths are multiples of WRITE_TRACKING_PAGE_SIZE, the kernel's page (4 KiB on
// x86-64: half of a Shade page). Functions returning int or long give -errno on failure.
#ifndef SHADE_OS_WRITE_TRACKING_H
#define SHADE_OS_WRITE_TRACKING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WRITE_TRACKING_PAGE_SIZE ((size_t)4096)

// Whether the kernel can track writes for this process. Probes once (later calls return the
// cached answer): a userfaultfd in user-mode-only mode (no privilege needed), the features
// UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED, and one PAGEMAP_SCAN round trip on a
// scratch page. When false and reason is not NULL, *reason is a static sentence saying why.
bool write_tracking_available(const char **reason);

// Registers [start, start + length), anonymous private memory, for tracking. The range is not
// protected yet: its pages count as written until write_tracking_protect (populated ones on
// every kernel, untouched ones too on recent kernels). Registration lasts
// until write_tracking_unregister or munmap; a mapping created later at the same address is not
// registered (collect then fails with -EPERM rather than answer wrongly).
int write_tracking_register(void *start, size_t length);
int write_tracking_unregister(void *start, size_t length);

// Write-protects a registered range: from now on its pages count as not written until a write.
// Untouched pages and pages dropped with MADV_DONTNEED are protected too (no memory is
// committed, only page tables: about 2 MiB per GiB). MADV_DONTNEED takes the protection away
// with the page, so protect a range again after dropping it.
int write_tracking_protect(void *start, size_t length);

// Calls found(run_start, run_bytes, context) for every run of pages in [start, start + length)
// written since they were last protected, in address order, and re-protects those pages in the
// same system call. Returns the number of bytes reported (0 when nothing was written), or
// -errno: -EPERM when part of the range is not registered (any more), -ECHILD in a forked child
// that has not called write_tracking_after_fork_child. The caller must read the contents of the
// reported pages after this returns: a store racing with the call is then either seen there or
// reported by the next call, never lost. found must not call back into this module.
long write_tracking_collect(void *start, size_t length,
                            void (*found)(uintptr_t run_start, size_t run_bytes, void *context),
                            void *context);
// The same, without protecting anything: the pages reported stay written, and are reported again
// by the next peek or collect. found may call write_tracking_protect on what it was given (the
// caller then knows no store races with the call).
long write_tracking_peek(void *start, size_t length,
                         void (*found)(uintptr_t run_start, size_t run_bytes, void *context),
                         void *context);

// Write-protects the written pages of [start, start + length) again, in one system call whatever
// their number (a collect without the report). The pages not written are left as they are.
int write_tracking_protect_written(void *start, size_t length);
// In a forked child (from a pthread_atfork child handler or right after fork): the kernel gave
// the child none of the parent's registrations and no write-protection, so the child knows
// nothing of what was written before or since fork. This closes the parent's descriptors and
// forgets the probe; write_tracking_available probes afresh for the child, which must register
// and protect its ranges again and treat every page as written until then (a full collection).
// Until this is called, every call in a child fails with -ECHILD (available says false).
void write_tracking_after_fork_child(void);

#endif
