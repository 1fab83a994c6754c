/* gc_config_macros.h (Shade's bdwgc-compatible headers): the configuration macros gc.h users
 * see: calling conventions, attributes and the thread flavour. Shade's layer targets Linux with
 * POSIX threads (x86-64 first), so this file only has that platform's answers. */
#if defined(GC_H)

#if defined(__GNUC__) && defined(__GNUC_MINOR__)
#define GC_GNUC_PREREQ(major, minor) \
  ((__GNUC__ << 16) + __GNUC_MINOR__ >= ((major) << 16) + (minor))
#else
#define GC_GNUC_PREREQ(major, minor) 0
#endif

/* Threads: GC_THREADS (or its old spellings) asks for the thread-aware interface. */
#if defined(_REENTRANT) && !defined(GC_THREADS) && defined(GC_REDIRECT_TO_THREADS)
#define GC_THREADS
#endif
#if defined(GC_PTHREADS) || defined(GC_LINUX_THREADS) || defined(_PTHREADS)
#ifndef GC_THREADS
#define GC_THREADS
#endif
#endif
#if defined(GC_THREADS)
#ifndef GC_LINUX_THREADS
#define GC_LINUX_THREADS
#endif
#undef GC_PTHREADS
#define GC_PTHREADS
#ifndef _REENTRANT
#define _REENTRANT 1
#endif
#endif

#define __GC
#include <stddef.h>
#include <stdint.h>

#ifndef GC_API
#if defined(GC_BUILD) && defined(__GNUC__)
#define GC_API extern __attribute__((__visibility__("default")))
#else
#define GC_API extern
#endif
#endif
#ifndef GC_CALL
#define GC_CALL
#endif
#ifndef GC_CALLBACK
#define GC_CALLBACK GC_CALL
#endif

#ifndef GC_ATTR_MALLOC
#if defined(GC_OOM_FUNC_RETURNS_ALIAS)
#define GC_ATTR_MALLOC
#elif GC_GNUC_PREREQ(3, 1) || defined(__clang__)
#define GC_ATTR_MALLOC __attribute__((__malloc__))
#else
#define GC_ATTR_MALLOC
#endif
#endif
#ifndef GC_ATTR_ALLOC_SIZE
#undef GC_ATTR_CALLOC_SIZE
#if GC_GNUC_PREREQ(4, 3) || defined(__clang__)
#define GC_ATTR_ALLOC_SIZE(argnum) __attribute__((__alloc_size__(argnum)))
#define GC_ATTR_CALLOC_SIZE(n, s) __attribute__((__alloc_size__(n, s)))
#else
#define GC_ATTR_ALLOC_SIZE(argnum)
#endif
#endif
#ifndef GC_ATTR_CALLOC_SIZE
#define GC_ATTR_CALLOC_SIZE(n, s)
#endif
#ifndef GC_ATTR_NONNULL
#if GC_GNUC_PREREQ(4, 0) || defined(__clang__)
#define GC_ATTR_NONNULL(argnum) __attribute__((__nonnull__(argnum)))
#else
#define GC_ATTR_NONNULL(argnum)
#endif
#endif
#ifndef GC_ATTR_CONST
#if GC_GNUC_PREREQ(4, 0) || defined(__clang__)
#define GC_ATTR_CONST __attribute__((__const__))
#else
#define GC_ATTR_CONST
#endif
#endif
#ifndef GC_ATTR_DEPRECATED
#if defined(GC_BUILD)
#define GC_ATTR_DEPRECATED
#elif GC_GNUC_PREREQ(4, 0) || defined(__clang__)
#define GC_ATTR_DEPRECATED __attribute__((__deprecated__))
#else
#define GC_ATTR_DEPRECATED
#endif
#endif

/* glibc has backtrace(); the debugging allocators may record call sites. */
#if defined(__GLIBC__) && !defined(GC_HAVE_BUILTIN_BACKTRACE) && !defined(GC_MISSING_EXECINFO_H)
#define GC_HAVE_BUILTIN_BACKTRACE
#endif
#if (defined(__x86_64__) || defined(__i386__)) && !defined(GC_CAN_SAVE_CALL_STACKS)
#define GC_CAN_SAVE_CALL_STACKS
#endif
#if defined(__GNUC__) && !defined(GC_RETURN_ADDR_PARENT) && !defined(GC_NO_RETURN_ADDR_PARENT) \
    && (defined(__x86_64__) || defined(__i386__))
#define GC_HAVE_RETURN_ADDR_PARENT
#define GC_RETURN_ADDR_PARENT \
  (GC_word) __builtin_extract_return_addr(__builtin_return_address(1))
#endif

#if defined(GC_PTHREADS)
#ifndef GC_PTHREAD_CREATE_CONST
#define GC_PTHREAD_CREATE_CONST const
#endif
#ifndef GC_HAVE_PTHREAD_EXIT
#define GC_HAVE_PTHREAD_EXIT
#define GC_PTHREAD_EXIT_ATTRIBUTE __attribute__((__noreturn__))
#endif
#endif

#endif /* GC_H */
