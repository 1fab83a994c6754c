// stop_world.h: stopping every registered thread but the caller, and starting them again.
#ifndef SHADE_GC_STOP_WORLD_H
#define SHADE_GC_STOP_WORLD_H
#include "gc/threads.h"

// Install the suspend signal handler. 0 or -1 (the signal number is not usable).
int stop_world_init(int suspend_signal);
// Caller holds the registry lock and is `self` (registered, or NULL for an unregistered caller).
// Returns when every other registered thread has saved its registers and parked.
void stop_world(struct shade_thread *self);
// Releases the parked threads: those still spinning go on at once, sleeping ones are woken.
// Pause figures end just before this call: the release is its first store, and the wake-ups
// that follow can put the caller off the CPU for milliseconds while the program already runs
// (seen on churn: the world released at 0.32 ms, the wake call back at 4.9 ms).
void start_world(void);
bool world_is_stopping(void);
// In a forked child of a stopped world: it runs again (its only thread is the one that forked).
void stop_world_after_fork_child(void);
// t left its outermost critical section with a stop pending: park now.
void stop_world_park_pending(struct shade_thread *t);
// Park the calling thread if a stop is in progress (shade_safepoint).
void stop_world_safepoint(struct shade_thread *t);
int stop_world_signal(void);
// Lock a mutex that a collector may hold while the world is stopped (gc, registry, roots),
// staying stoppable while waiting: a registered thread polls safepoints instead of sleeping in
// pthread_mutex_lock (under TSan, a thread asleep there never takes the stop signal).
void lock_stoppable(pthread_mutex_t *mutex);
// One-thread stops (handshakes): how a thread was parked.
//   FAILED    it could not be signalled (it is not stopped);
//   SAFE      at a safe point (stop_world.c): between calls, never inside the inline sequence of
//             shade_write, so every store it made has run its barrier check;
//   ANYWHERE  where the signal found it (its registers and stack may hold the old value of a
//             store whose check has not run yet).
enum handshake_park { HANDSHAKE_FAILED, HANDSHAKE_SAFE, HANDSHAKE_ANYWHERE };
// Release a thread handshake_each stopped (it calls this itself after work).
void handshake_end(struct shade_thread *t);

// Handshakes with every registered thread but self for which wanted(t) (NULL: all), up to
// HANDSHAKE_BATCH asked at once: each is released as soon as work(t, how, context) is done with
// it, while the others run (a thread never waits for another's turn, and the caller waits about
// as long as the slowest thread takes to answer, not their sum). safe_only as for
// handshake_park above; how is HANDSHAKE_FAILED (not signalled: t is not stopped), _SAFE or
// _ANYWHERE. Registry locked.
#define HANDSHAKE_BATCH 512
void handshake_each(struct shade_thread *self, bool safe_only, bool (*wanted)(struct shade_thread *),
                    void (*work)(struct shade_thread *, enum handshake_park, void *),
                    void *context);

// Make the caller's earlier stores visible to every registered thread without stopping them
// (membarrier); false where the kernel does not offer it.
bool membarrier_all(void);
// After stores that every critical section from now on must see (phase, barrier, black
// allocation): make them visible, then wait until no other thread is still inside a critical
// section it entered before (one-thread handshakes for those found inside; every thread without
// membarrier). The caller holds the registry lock and is `self` (or NULL).
void stop_world_grace(struct shade_thread *self);

// What stopping has cost since start-up (shade_stats).
struct stop_counts {
  _Atomic uint64_t world_stops, threads_stopped; // stops of the world; threads they stopped
  _Atomic uint64_t verify_stops;                 // of world_stops: the verifier's own
  _Atomic uint64_t termination_stops;            // of world_stops: handshake terminations that
                                                 // had to stop the world (mark_handshakes.c)
  _Atomic uint64_t handshakes, handshakes_anywhere, handshake_max_ns;
  _Atomic uint64_t graces;                       // stop_world_grace calls
};
extern struct stop_counts stop_counts;

#endif
