// os_memory.h: the only place Shade talks to the OS about memory (mmap, munmap, madvise).
#ifndef SHADE_OS_MEMORY_H
#define SHADE_OS_MEMORY_H
#include <stdbool.h>
#include <stddef.h>

// Reserve size bytes aligned to alignment (a power of two), readable and writable, zero-filled
// on first touch, not committed until touched. NULL when the OS refuses.
void *os_reserve_aligned(size_t size, size_t alignment);
// Plain anonymous mapping for metadata. NULL when the OS refuses.
void *os_map(size_t size);
void os_unmap(void *p, size_t size);
// Give the physical pages back; the range stays mapped and reads as zero afterwards.
void os_release(void *p, size_t size);
// Let the kernel take the physical pages when it needs them (MADV_FREE): cheaper than
// os_release, but the range may keep its old contents until then. Returns false when the kernel
// does not know MADV_FREE; the range was then released with os_release (reads as zero).
bool os_release_lazily(void *p, size_t size);
// Fault in the pages of [p, p + size) (page aligned) for writing, as a write to each would. A
// first read would map the shared zero page, and the first write after it would fault again and,
// with another thread of the process running, flush that CPU's TLB by interrupt.
void os_fault_in_for_writing(void *p, size_t size);
// Resident set size of the process in bytes (/proc/self/statm), 0 if unknown.
size_t os_resident_bytes(void);

#endif
