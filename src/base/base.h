// base.h: definitions every module of Shade shares: heap geometry, assertions, branch hints,
// export macros, and the small atomics vocabulary. No state lives here.
#ifndef SHADE_BASE_H
#define SHADE_BASE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHADE_API __attribute__((visibility("default")))
#define SHADE_LIKELY(x) __builtin_expect(!!(x), 1)
#define SHADE_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define SHADE_NOINLINE __attribute__((noinline))
#define SHADE_UNUSED __attribute__((unused))

// Conservative scanning reads stacks, data segments and heap words that sanitizers would call
// out of bounds (redzones, other threads' frames). Functions that do so carry this attribute.
#define SHADE_NO_SANITIZE \
  __attribute__((no_sanitize_address, no_sanitize("thread"), no_sanitize("undefined")))

#ifdef SHADE_DEBUG
#define SHADE_ASSERT(cond) \
  ((cond) ? (void)0 : shade_assert_failed(#cond, __FILE__, __LINE__))
#else
#define SHADE_ASSERT(cond) ((void)0)
#endif
__attribute__((noreturn)) void shade_assert_failed(const char *what, const char *file, int line);

// Heap geometry (the Go/TCMalloc model): 8 KiB pages grouped into spans, spans inside 64 MiB
// arenas reserved from the OS, 47-bit user addresses.
#define PAGE_SHIFT 13
#define PAGE_SIZE ((size_t)1 << PAGE_SHIFT)
#define ARENA_SHIFT 26
#define ARENA_SIZE ((size_t)1 << ARENA_SHIFT)
#define PAGES_PER_ARENA (ARENA_SIZE / PAGE_SIZE)
#define ADDRESS_BITS 47
#define ARENA_INDEX_ENTRIES ((size_t)1 << (ADDRESS_BITS - ARENA_SHIFT))

#define MAX_SMALL_SIZE 32768u           // larger objects get a span of their own
// Large objects are scanned in chunks this big: the smallest piece of marking work. A chunk of a
// pointer-dense array (every word a different object) costs two cache misses a word: 128 KiB
// chunks of churn's 8 MB table made single mark assists of 3-4 ms; 16 KiB ones take 0.5 ms.
#define LARGE_SCAN_CHUNK ((size_t)16 << 10)
#define WORD_SIZE sizeof(uintptr_t)

static inline uintptr_t align_up(uintptr_t x, uintptr_t a) { return (x + a - 1) & ~(a - 1); }

#define load_relaxed(p) atomic_load_explicit((p), memory_order_relaxed)
#define load_acquire(p) atomic_load_explicit((p), memory_order_acquire)
#define store_relaxed(p, v) atomic_store_explicit((p), (v), memory_order_relaxed)
#define store_release(p, v) atomic_store_explicit((p), (v), memory_order_release)

// Raises *max to value if value is larger (statistics: the most something has been).
static inline void atomic_raise_max(_Atomic uint64_t *max, uint64_t value) {
  uint64_t seen = load_relaxed(max);
  while (value > seen && !atomic_compare_exchange_weak(max, &seen, value)) {
  }
}

#endif
