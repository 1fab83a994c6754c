// heap_account.h: the bytes the program holds in the heap, counted by the allocator per span and
// per large object (not per object): taking a span adds the bytes of its free slots, a cache
// giving back a span with slots left subtracts them. The collector reads these counts to decide
// when to collect, and resets `in_use` to the marked bytes at the end of each marking.
// Read and written atomically (relaxed): they are estimates, never used for memory safety.
#ifndef SHADE_ALLOC_HEAP_ACCOUNT_H
#define SHADE_ALLOC_HEAP_ACCOUNT_H
#include "base/base.h"

struct heap_account {
  _Atomic uint64_t in_use;          // live at the last marking + taken since
  _Atomic uint64_t total_allocated; // taken since start
};

extern struct heap_account heap_account;

static inline void heap_account_taken(uint64_t bytes) {
  atomic_fetch_add_explicit(&heap_account.in_use, bytes, memory_order_relaxed);
  atomic_fetch_add_explicit(&heap_account.total_allocated, bytes, memory_order_relaxed);
}

static inline void heap_account_returned(uint64_t bytes) {
  atomic_fetch_sub_explicit(&heap_account.in_use, bytes, memory_order_relaxed);
  atomic_fetch_sub_explicit(&heap_account.total_allocated, bytes, memory_order_relaxed);
}

static inline uint64_t heap_account_in_use(void) { return load_relaxed(&heap_account.in_use); }

#endif
