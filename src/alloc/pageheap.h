// pageheap.h: free page runs, handed out as spans and taken back with coalescing; which free
// pages are resident and which were given back to the OS (scavenging).
#ifndef SHADE_ALLOC_PAGEHEAP_H
#define SHADE_ALLOC_PAGEHEAP_H
#include "alloc/span.h"

// The most one scavenging step releases with one madvise call.
#define PAGEHEAP_SCAVENGE_CHUNK ((size_t)64 << 20)

// A span of `pages` pages, every page mapped to it; it stays SPAN_RESERVED until the caller fills
// it in and calls span_publish(s, SPAN_SMALL or SPAN_LARGE).
// needs_zeroing tells whether its memory may hold old contents. NULL when the OS refuses memory
// or when the span would take the pages held by spans above the hard limit.
struct span *pageheap_alloc(size_t pages);
// Give the span's pages back; the record is recycled. Bitmaps must already be freed.
void pageheap_free(struct span *s);
// span_bitmaps_free and pageheap_free in one step (see pageheap.c).
void pageheap_free_with_bitmaps(struct span *s);

size_t pageheap_in_use_bytes(void);      // pages held by in-use spans
size_t pageheap_in_use_peak_bytes(void); // the highest pageheap_in_use_bytes so far
size_t pageheap_free_bytes(void);     // pages in free runs (resident or released)
size_t pageheap_released_bytes(void); // pages in free runs given back to the OS (or never used)
size_t pageheap_resident_bytes(void); // in use + free and not released: what the OS may hold
size_t pageheap_total_released_bytes(void); // bytes ever passed to madvise
uint64_t pageheap_limit_refusals(void);     // allocations refused by the hard limit
uint64_t pageheap_scavenge_steps(void);     // madvise calls made
size_t pageheap_hard_limit(void);           // 0: none

// Hard limit on pageheap_in_use_bytes (0: none); returns the old one.
size_t pageheap_set_hard_limit(size_t bytes);
// true: release with MADV_FREE (reused pages are then zeroed by Shade); false: MADV_DONTNEED.
void pageheap_set_release_lazily(bool lazily);

// Release one chunk of at most max_bytes from the resident free run that has been free the
// longest, considering only runs freed at or before freed_before_ns (pageheap_now_ns clock;
// UINT64_MAX: any). Returns the bytes released, 0 when no run qualifies. Takes the scavenge
// lock and, briefly, the page-heap lock; madvises without the page-heap lock.
// The caller holds the collector's lock (collector_lock): the step changes free-run records and the
// page table, which marking reads with the world stopped, and a thread that is not stopped (the
// scavenger) must not change them meanwhile.
size_t pageheap_scavenge_step(size_t max_bytes, uint64_t freed_before_ns);
// pageheap_scavenge_step repeated until `bytes` are released or nothing qualifies.
size_t pageheap_scavenge(size_t bytes, uint64_t freed_before_ns);
uint64_t pageheap_now_ns(void); // CLOCK_MONOTONIC_COARSE

// Installed by the collector (events.c): called after the heap took `mapped` bytes of address
// space from the OS or returned `released` resident bytes, with no page-heap lock held, on the
// thread that did it (inside an allocator critical section when it grew). NULL: none.
extern void (*_Atomic pageheap_resize_hook)(size_t mapped, size_t released);

void pageheap_lock(void);
void pageheap_unlock(void);
void pageheap_scavenge_lock(void);   // for fork: taken before pageheap_lock
void pageheap_scavenge_unlock(void);
void pageheap_after_fork_child(void);

#endif
