// prefault.h: the heap's next pages faulted in ahead of the program, on the scavenger's thread
// (see prefault.c for the policy).
#ifndef SHADE_GC_PREFAULT_H
#define SHADE_GC_PREFAULT_H
#include "base/base.h"

// One look: faults pages in while the heap grows, keeping the resident heap at most `ceiling`
// bytes. Returns how long to wait before the next look (0: the heap is not growing; the caller's
// usual tick).
uint64_t prefault_tick(size_t ceiling);

#endif
