// threads.c: bdwgc's thread calls and the allocation lock.
//
// Registration: Shade registers a thread that calls it unregistered (init.c asks for
// auto_register), so GC_register_my_thread is shade_thread_register, and a thread that never
// registers may still allocate; GC_pthread_create registers the new thread before its start
// routine runs. A thread's stack is found by Shade itself (the stack base given to
// GC_register_my_thread is not needed). Stopping a thread uses Shade's signal, which reaches
// threads blocked in system calls too, so GC_do_blocking and GC_call_with_gc_active just call
// their function.
//
// The allocation lock: GC_call_with_alloc_lock(fn) runs fn while no collection can start or run
// (core_bridge.c: Shade's collector lock), so fn may read links and finalizer state without a
// collection changing them meanwhile. As in bdwgc, fn must not allocate.
#define _GNU_SOURCE 1
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "compat.h"
#include "gc/javaxfc.h"

void compat_thread_ensure_registered(void) {
  if (!shade_thread_is_registered())
    shade_thread_register();
}

GC_API void GC_CALL GC_allow_register_threads(void) { compat_ready(); }

GC_API int GC_CALL GC_register_my_thread(const struct GC_stack_base *base) {
  (void)base;
  compat_ready();
  if (shade_thread_is_registered())
    return GC_DUPLICATE;
  return shade_thread_register() == 0 ? GC_SUCCESS : GC_NO_THREADS;
}

GC_API int GC_CALL GC_unregister_my_thread(void) {
  if (!atomic_load(&compat_initialized) || !shade_thread_is_registered())
    return GC_SUCCESS;
  shade_thread_unregister();
  return GC_SUCCESS;
}

GC_API int GC_CALL GC_thread_is_registered(void) {
  return atomic_load(&compat_initialized) && shade_thread_is_registered();
}

GC_API void GC_CALL GC_register_altstack(void *stack, GC_word stack_size, void *altstack,
                                         GC_word altstack_size) {
  (void)stack, (void)stack_size, (void)altstack, (void)altstack_size;
}


GC_API int GC_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                             void *(*start)(void *), void *arg) {
  compat_ready();
  return shade_pthread_create(thread, attr, start, arg);
}
GC_API int GC_pthread_join(pthread_t thread, void **result) { return pthread_join(thread, result); }
GC_API int GC_pthread_detach(pthread_t thread) { return pthread_detach(thread); }
GC_API int GC_pthread_cancel(pthread_t thread) { return pthread_cancel(thread); }
GC_API void GC_pthread_exit(void *result) { pthread_exit(result); }
GC_API int GC_pthread_sigmask(int how, const sigset_t *set, sigset_t *old) {
  if (set == NULL || !atomic_load(&compat_initialized))
    return pthread_sigmask(how, set, old);
  // Keep Shade's stop signal deliverable: a thread that blocks it could never be stopped.
  sigset_t allowed = *set;
  if (how != SIG_UNBLOCK)
    sigdelset(&allowed, compat_suspend_signal());
  return pthread_sigmask(how, &allowed, old);
}
GC_API void *GC_dlopen(const char *path, int mode) { return dlopen(path, mode); }

GC_API void *GC_CALL GC_do_blocking(GC_fn_type fn, void *data) { return fn(data); }
GC_API void *GC_CALL GC_call_with_gc_active(GC_fn_type fn, void *data) { return fn(data); }

GC_API int GC_CALL GC_get_stack_base(struct GC_stack_base *base) {
  pthread_attr_t attr;
  void *address;
  size_t size;
  if (pthread_getattr_np(pthread_self(), &attr) != 0)
    return GC_UNIMPLEMENTED;
  int error = pthread_attr_getstack(&attr, &address, &size);
  pthread_attr_destroy(&attr);
  if (error != 0)
    return GC_UNIMPLEMENTED;
  base->mem_base = (char *)address + size; // the stack grows down from here
  return GC_SUCCESS;
}

GC_API void *GC_CALL GC_call_with_stack_base(GC_stack_base_func fn, void *arg) {
  struct GC_stack_base base;
  if (GC_get_stack_base(&base) != GC_SUCCESS)
    base.mem_base = __builtin_frame_address(0);
  return fn(&base, arg);
}

GC_API void *GC_CALL GC_get_my_stackbottom(struct GC_stack_base *base) {
  if (GC_get_stack_base(base) != GC_SUCCESS)
    base->mem_base = NULL;
  return (void *)pthread_self();
}
// Shade finds each thread's stack itself (coroutine libraries that switch stacks are not
// supported: docs/bdwgc.md).
GC_API void GC_CALL GC_set_stackbottom(void *handle, const struct GC_stack_base *base) {
  (void)handle, (void)base;
}

GC_API void GC_CALL GC_start_mark_threads(void) {} // Shade's markers start with it

GC_API void GC_CALL GC_stop_world_external(void) { compat_collections_lock(); }
GC_API void GC_CALL GC_start_world_external(void) { compat_collections_unlock(); }

// ---- The allocation lock
static __thread int holding_alloc_lock;

GC_API void GC_CALL GC_alloc_lock(void) {
  compat_ready();
  compat_thread_ensure_registered();
  compat_collections_lock();
  holding_alloc_lock++;
}
GC_API void GC_CALL GC_alloc_unlock(void) {
  if (holding_alloc_lock == 0) {
    compat_message("shade: GC_alloc_unlock: the lock is not held by this thread; ignored");
    return;
  }
  holding_alloc_lock--;
  compat_collections_unlock();
}

GC_API void *GC_CALL GC_call_with_alloc_lock(GC_fn_type fn, void *data) {
  if (holding_alloc_lock) // bdwgc would deadlock; Shade runs fn under the lock already held
    return fn(data);
  GC_alloc_lock();
  void *result = fn(data);
  GC_alloc_unlock();
  return result;
}

// javaxfc.h: suspending single threads is not supported.
GC_API void GC_CALL GC_suspend_thread(GC_SUSPEND_THREAD_ID thread) {
  compat_message("shade: GC_suspend_thread(%#lx): not supported by Shade; ignored",
                 (unsigned long)thread);
}
GC_API void GC_CALL GC_resume_thread(GC_SUSPEND_THREAD_ID thread) { (void)thread; }
GC_API int GC_CALL GC_is_thread_suspended(GC_SUSPEND_THREAD_ID thread) {
  (void)thread;
  return 0;
}
