// shade.h: the public API of Shade, an embeddable garbage-collected memory manager for C.
//
// A program allocates with shade_malloc (and its kinds below), never calls free, and Shade reclaims
// what the program can no longer reach: registers, stacks and thread-local variables of registered
// threads, the data and bss segments of the program and its shared libraries, user root ranges and
// uncollectable objects are the roots; everything reachable from them through heap words is kept.
//
// Threads: every thread that holds pointers to Shade objects must be registered, either by
// shade_thread_register() or by being created with shade_pthread_create(). shade_init registers
// the calling thread. Allocation before shade_init initialises Shade with the defaults and the
// environment and registers the calling thread (documented auto-initialisation).
//
// Settings: struct shade_options below, passed to shade_init. A field left at 0 is taken from a
// SHADE_* environment variable, else from its default; README.md, "Environment", lists every
// setting with its variable, values, default and field. The environment cannot promise what only
// the program can: SHADE_MODE=incremental or concurrent is obeyed only by a program that declares
// that it uses the write barrier (options.write_barrier).
#ifndef SHADE_H
#define SHADE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SHADE_VERSION_MAJOR 0
#define SHADE_VERSION_MINOR 1
#define SHADE_VERSION_PATCH 0

// ---------------------------------------------------------------------------------------------
// Start-up

// Called when an allocation cannot be satisfied (the OS refused memory). Whatever it returns is
// returned to the caller of the allocation function (NULL, or memory it found elsewhere).
typedef void *(*shade_oom_handler)(size_t requested_size);

struct shade_options {
  int gc_percent;        // 0: SHADE_GC_PERCENT, else 100; SHADE_GC_OFF: no automatic collection
  int retain_goal;       // 1: the goal never falls below the largest reached, -1 not
                         // (SHADE_RETAIN_GOAL; default off, on for libgc.so.1)
  int markers;           // marking threads; 0: SHADE_MARKERS, else the number of CPUs
  int trace;             // 1: one trace line per cycle on stderr; 0: SHADE_TRACE decides
  int verify;            // 1: heap verifier after every marking; 0: SHADE_VERIFY decides
  int suspend_signal;    // 0: SHADE_SIG_SUSPEND, else SIGRTMIN+6
  int auto_register;     // 1: unregistered threads are registered on their first call
  int no_data_roots;     // 1: do not scan data/bss segments (the program adds its own roots)
  size_t min_heap_goal;  // bytes; 0: 4 MiB
  int no_past_end;       // 1: a pointer just past an object's end does not keep it (SHADE_PAST_END)
  shade_oom_handler oom_handler; // NULL: allocation fails with NULL and errno = ENOMEM
  // Memory returned to the OS and memory limits (docs/memory.md); 0: the environment, else default
  size_t memory_limit;   // soft limit in bytes (SHADE_MEMORY_LIMIT; default none)
  size_t heap_limit;     // hard limit in bytes (SHADE_HEAP_LIMIT; default none)
  int scavenge;          // 1 on, -1 off (SHADE_SCAVENGE; default on)
  int scavenge_idle_ms;  // free pages unused this long go back (SHADE_SCAVENGE_IDLE_MS; 1000)
  int idle_gc_ms;        // quiet time before an idle collection; -1 off (SHADE_IDLE_GC_MS; 250)
  int madv_free;         // 1: MADV_FREE, -1: MADV_DONTNEED (SHADE_MADV_FREE; default DONTNEED)
  int periodic_gc_ms;    // a collection at least this often; -1 off (SHADE_PERIODIC_GC_MS; off)
  int trace_scavenger;   // 1: "scav" trace lines (SHADE_TRACE containing scav or gc)
  // Short pauses (docs/concurrent.md)
  int mode;              // enum shade_mode; 0: SHADE_MODE if write_barrier is declared, else stw.
                         // SHADE_MODE_INCREMENTAL or _CONCURRENT here declares write_barrier too
  int gc_cpu_percent;    // background marking share of the CPUs (SHADE_GC_CPU; default 25)
  int idle_marking;      // -1: background marking never goes past gc_cpu_percent, even when the
                         // program leaves CPUs idle (SHADE_IDLE_MARKING=0); default on, as Go
  int termination;       // how a concurrent marking ends (SHADE_TERMINATION): 1 with the world
                         // stopped briefly; 2 (default) by rounds of handshakes, no thread stopped
                         // at once, while no finalizer, weak reference or ephemeron is registered
  int write_barrier;     // 1: the program declares that every pointer store into Shade objects,
                         // globals and root ranges goes through shade_write / SHADE_STORE; only
                         // then may SHADE_MODE choose incremental or concurrent marking
  int rc_debug;          // 1: freed reference-counted objects wait in a quarantine, so that use
                         // after free is reported (SHADE_RC_DEBUG; on without NDEBUG)
  // Generations (docs/generations.md)
  int generational;      // 1 on where it can be correct, -1 off (SHADE_GENERATIONAL; default off)
  int remembered_set;    // enum shade_remembered_set (SHADE_REMEMBERED_SET; default auto)
  size_t loh_threshold;  // objects this large are born in gen2 (SHADE_LOH_THRESHOLD; 85000)
  size_t gen0_budget;    // bytes allocated between gen0 collections; 0: adaptive (SHADE_GEN0_BUDGET)
  int server;            // 1: .NET's server flavour, budgets per CPU; -1 off (SHADE_SERVER; off)
  // Finalizers (docs/finalization.md)
  int finalize_on_demand; // 1: finalizers run only in shade_run_finalizers (SHADE_FINALIZE_ON_DEMAND)
  // Seeing the collector (docs/observability.md)
  const char *heap_snapshot; // a heap snapshot to this path at exit (SHADE_HEAP_SNAPSHOT)
  int heap_snapshot_signal;  // with heap_snapshot: a snapshot on this signal too
  const char *trace_file;    // a trace of the collector's events to this path (SHADE_TRACE_FILE)
  // Pacing (with gc_percent): how much live pointer-free objects count in the heap growth
  // gc_percent allows, 1-100 percent of what other objects count; 0: SHADE_NOSCAN_WEIGHT, else 100
  int noscan_weight;
};

// How young collections find the old objects written since the last collection
// (struct shade_options.remembered_set, SHADE_REMEMBERED_SET; docs/generations.md).
enum shade_remembered_set {
  SHADE_REMEMBERED_AUTO = 1,  // cards when the program declares write_barrier, else pages
  SHADE_REMEMBERED_PAGES = 2, // the kernel reports the written heap pages, whoever wrote them
  SHADE_REMEMBERED_CARDS = 3, // shade_write sets a card per 512 bytes; no page is write-protected
};

// How marking runs (struct shade_options.mode; SHADE_MODE, see write_barrier).
enum shade_mode {
  SHADE_MODE_DEFAULT = 0,     // SHADE_MODE (with write_barrier declared), else stw
  SHADE_MODE_STW = 1,         // every cycle marks with the world stopped (parallel markers)
  SHADE_MODE_INCREMENTAL = 2, // marking in small slices on allocating threads (V8, Lua)
  SHADE_MODE_CONCURRENT = 3,  // background mark workers while the program runs (Go, V8)
};
#define SHADE_GC_OFF (-1)

// Initialise Shade. opts may be NULL (defaults + environment). Returns 0, or -1 with errno set.
// Calling it again after a successful initialisation does nothing and returns 0.
int shade_init(const struct shade_options *opts);

// ---------------------------------------------------------------------------------------------
// Allocation. Every function returns NULL with errno = ENOMEM when memory cannot be had (after
// the oom handler, if one is set, returned NULL). shade_malloc(0) returns a unique object.

void *shade_malloc(size_t size);               // zeroed, scanned conservatively
void *shade_malloc_atomic(size_t size);        // not zeroed, never scanned: strings, numbers
void *shade_malloc_uncollectable(size_t size); // zeroed, scanned, a root until shade_free
void *shade_calloc(size_t count, size_t size); // shade_malloc(count * size); overflow -> NULL
void *shade_realloc(void *p, size_t size);     // keeps p's kind; shade_realloc(NULL, n) mallocs
char *shade_strdup(const char *s);             // atomic copy

// Precise objects: the type says which words hold pointers.
// visit is called by a trace callback once for each pointer the object holds.
typedef void (*shade_visit_fn)(void *pointer, void *visit_context);

struct shade_type {
  const char *name;             // for messages
  size_t size;                  // bytes of one element; an object of n * size bytes is an array
  // Either a bitmap: bit i of pointer_bitmap[i / 64] set means word i of an element is a pointer...
  const uint64_t *pointer_bitmap;
  // ...or a trace callback (used when pointer_bitmap is NULL), called once per object (not per
  // element) with the object's usable size. It runs on marking threads, in parallel with other
  // marking; in stw mode while the world is stopped, in incremental and concurrent mode while the
  // program runs (it may read fields being written: the barrier shades what it misses; under
  // TSan mark it __attribute__((no_sanitize("thread")))). It must not allocate, lock, or call
  // Shade; it calls visit(pointer, visit_context) for each pointer field.
  void (*trace)(void *object, size_t object_size, shade_visit_fn visit, void *visit_context);
  // SHADE_TYPE_SCAN_STOPPED: objects of this type are only scanned (bitmap or trace) with the
  // world stopped. In incremental and concurrent mode a marker that meets one defers it to the
  // bailout worklist that mark termination finishes (V8's bailout): for trace callbacks that
  // cannot run beside the program, such as one walking a structure the program rebuilds in
  // place. Each such object lengthens the final pause by its scan; keep them few.
  unsigned flags;
};
enum { SHADE_TYPE_SCAN_STOPPED = 1 };

void *shade_malloc_typed(size_t size, const struct shade_type *type); // zeroed

// Explicit free (optional). The object must be the start of a live Shade object. Its memory is
// reused after the next collection sweeps its span (small objects) or at once (large objects).
// Errors (a pointer Shade did not allocate, an interior pointer, a double free) print a message
// naming the call and the pointer, and are then ignored. shade_free(NULL) does nothing.
void shade_free(void *p);

// The start and usable size of the live object p points into (NULL / 0 if none). Atomic objects
// under 16 bytes share 16-byte blocks (Go's tiny allocator): for them these describe the block.
// Explicitly freed objects are not live. Safe to call while other threads allocate and collect.
void *shade_base(const void *p);
size_t shade_size(const void *p);
int shade_is_heap_pointer(const void *p); // 1 if p points into a live Shade object

// ---------------------------------------------------------------------------------------------
// The write barrier (incremental and concurrent modes, and the cards of generations). Every store
// of a pointer into a Shade object, a global or a root range must be written as
//     shade_write(object, &object->field, value);     or     SHADE_STORE(object->field, value);
// initialising stores into a fresh object included. Outside marking the inline path is the store,
// two loads of a flag and two predictable branches; while marking, the overwritten and the new value
// are shaded (Go's hybrid barrier), so each thread's stack is scanned once per cycle. With
// generations on and their cards in force (SHADE_REMEMBERED_SET, by default for a program that
// declares write_barrier) it also sets the card of the slot, a byte per 512 bytes of heap, which
// tells young collections which old objects were written (docs/generations.md); pointers copied
// with memcpy or read(2) would not set it: copy them with shade_write_copy. `object` may be NULL
// (a global).
// internal, read by the inline path: bits 0-1 are 0 no marking; 1 marking, some stack not yet
// scanned (both values are shaded); 2 marking, every stack scanned (only a non-NULL overwritten
// value is); bit 2 (4): set the slot's card. shade_card_tables_[address >> 26] is the card table
// of the 64 MiB of heap holding address (NULL outside the heap).
extern int shade_barrier_flags_;
extern unsigned char **shade_card_tables_;
void shade_write_slow_(void *old_value, void *new_value);

#define SHADE_CARD_SHIFT_ 9
// The card of slot, or NULL outside the heap.
static inline unsigned char *shade_card_of_(const void *slot) {
  uintptr_t address = (uintptr_t)slot;
  unsigned char *cards = shade_card_tables_[(address >> 26) & (((uintptr_t)1 << 21) - 1)];
  if (cards == NULL)
    return NULL;
  return &cards[(address >> SHADE_CARD_SHIFT_) & (((uintptr_t)1 << (26 - SHADE_CARD_SHIFT_)) - 1)];
}

static inline void shade_card_set_(unsigned char *card) {
  if (__atomic_load_n(card, __ATOMIC_RELAXED) == 0) // (a set card is not written again)
    __atomic_store_n(card, 1, __ATOMIC_RELAXED);
}

static inline void shade_write(void *object, void **slot, void *value) {
  (void)object;
  // The card is set before the store and again after it. A collection that stops this thread
  // between the first and the store takes the card and scans the old value; the second then
  // tells the next collection. One that stops it between the store and the second sees the card
  // and scans the new value. (The card bit never changes once a program runs.)
  unsigned char *card = NULL;
  if (__builtin_expect(__atomic_load_n(&shade_barrier_flags_, __ATOMIC_RELAXED) & 4, 0) &&
      value != NULL && (card = shade_card_of_(slot)) != NULL)
    shade_card_set_(card);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  void *old_value = *(void *volatile *)slot;
  *(void *volatile *)slot = value;
  // The store comes before the check: a thread stopped between a check and a store could
  // otherwise store unshaded into a marking that started meanwhile (see docs/concurrent.md).
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  if (__builtin_expect(card != NULL, 0))
    shade_card_set_(card);
  int barrier = __atomic_load_n(&shade_barrier_flags_, __ATOMIC_RELAXED);
  if (__builtin_expect((barrier & 3) != 0, 0) && (old_value != NULL || (barrier & 3) == 1))
    shade_write_slow_(old_value, value);
}
// memmove(dst, src, bytes) for memory holding pointers into Shade objects, globals or root
// ranges, as if each pointer were stored by shade_write: the way for a program that declares the
// barrier to copy pointers in bulk (memcpy, or data read(2) into a stack buffer first). No
// collection sees the copy half done: a large copy delays the next stop-the-world by its time.
void shade_write_copy(void *dst, const void *src, size_t bytes);
#define SHADE_STORE(lvalue, value) \
  shade_write(NULL, (void **)&(lvalue), (void *)(value))

// ---------------------------------------------------------------------------------------------
// Collection

void shade_collect(void);            // a full collection now (like Go's runtime.GC()); in every
                                     // mode it finishes a marking under way, then stops the world
void shade_disable(void);            // no automatic collection until the matching shade_enable
void shade_enable(void);             // (calls nest, as bdwgc's GC_disable / GC_enable)
int shade_set_gc_percent(int percent); // returns the old value; negative: automatic GC off

// Generations (.NET's GC.MaxGeneration, GC.GetGeneration, GC.Collect, GC.CollectionCount;
// docs/generations.md). With generations on (options.generational or SHADE_GENERATIONAL=on; they
// need stw mode and a kernel that tracks writes), new objects are in generation 0, survivors
// of a collection move up one generation, objects of SHADE_LOH_THRESHOLD bytes and more are born
// in generation 2, and a collection of generation g collects 0..g (2: a full collection).
// Without generations every collection is full and every live object is in generation 0.
enum {
  SHADE_COLLECT_FORCED = 0,      // always collect (GCCollectionMode.Forced)
  SHADE_COLLECT_OPTIMIZED = 1,   // only if the collector judges it worthwhile: at least half of
                                 // the generation's budget (gen2: of the way to the goal) is used
  SHADE_COLLECT_NONBLOCKING = 2, // gen2 in concurrent mode: start a background cycle and return
};
int shade_max_generation(void);     // 2
int shade_generation(const void *p); // 0, 1 or 2; -1 if p is not in a live object
// Collects generations 0..generation; a generation out of range is clamped, with a message.
// Young collections run with any number of registered threads. shade_collect() is
// shade_collect_generation(2, SHADE_COLLECT_FORCED). A gen1 collection traces and frees gen0 and
// gen1 objects only; gen2 objects stay until a full collection.
void shade_collect_generation(int generation, unsigned flags);
// Collections that collected this generation: (0) every collection, (1) those of gen1 and gen2,
// (2) the full ones, as .NET counts them. Out of range: 0, with a message.
uint64_t shade_collection_count(int generation);

// ---------------------------------------------------------------------------------------------
// Finalizers, weak references and ephemerons on the traced heap (docs/finalization.md).
//
// A finalizer runs once, after a collection finds its object unreachable; the object and all it
// reaches stay alive until the finalizer has returned (and longer if the finalizer stored it
// somewhere: resurrection). Ordered finalization (Go, bdwgc): if A reaches B and both have
// finalizers, A's runs first and B is finalized by a later collection; an object that reaches
// itself through a chain of finalizable objects is never finalized (Shade says so once).
// Unordered (Guile, Java) runs regardless of what reaches what.
typedef void (*shade_finalizer_fn)(void *object, void *data);
enum {
  SHADE_FINALIZE_ORDERED = 0,     // see above
  SHADE_FINALIZE_UNORDERED = 1,   // runs when the object is unreachable, whatever reaches it
  SHADE_FINALIZE_IGNORE_SELF = 2, // ordered, but pointers from the object to itself do not count
  SHADE_FINALIZE_UNREACHABLE = 3, // Java's: runs once unreachable from the roots, even if other
                                  // finalizable objects reach it (bdwgc's _unreachable)
};
// Sets (fn NULL: removes) the finalizer of the object that starts at `object`. 0, or -1 with
// errno EINVAL for a pointer that is not the start of a live collectable Shade object. `data` is
// kept alive while the finalizer is set and until it has run (as bdwgc's client data and Go's
// closures): if data reaches the object, the object is never finalized.
int shade_set_finalizer(void *object, shade_finalizer_fn fn, void *data, unsigned flags);
// The finalizer set for object: 1 and *fn, *data (either may be NULL), or 0 when none.
int shade_get_finalizer(const void *object, shade_finalizer_fn *fn, void **data);
// Finalizers run on Shade's "shade-finalizer" thread (a registered thread), unless the program
// asks for them on demand (options.finalize_on_demand, SHADE_FINALIZE_ON_DEMAND=on, or the call
// below): then they run only in shade_run_finalizers, and the notifier, if set, is called when
// finalizers become ready, without Shade's locks, on a program thread: the one that ran the
// collection, or, when one of Shade's threads did, the next one that allocates (past its cache).
int shade_run_finalizers(void);               // runs what is queued on this thread; how many ran
void shade_wait_for_pending_finalizers(void); // returns once the queue is empty (.NET's name)
size_t shade_finalizers_pending(void);        // finalizers ready to run and not yet run
void shade_set_finalize_on_demand(int on);
void shade_set_finalizer_notifier(void (*notifier)(void));

// A weak reference (.NET's WeakReference, Go's weak.Pointer) is itself a Shade object that hides
// its target from every scan. A short one reads NULL as soon as a collection finds the target
// unreachable; a long one only once the target is really freed (after its finalizer, if any,
// has run and a later collection found it unreachable again).
struct shade_weak;
enum { SHADE_WEAK_SHORT = 0, SHADE_WEAK_LONG = 1 };
struct shade_weak *shade_weak_new(void *target, unsigned flags); // NULL (errno) on error
void *shade_weak_get(const struct shade_weak *w); // the target, or NULL once it died

// Weak links (bdwgc's disappearing links): the word at `link` (anywhere: a global, a malloc'd or
// a Shade object) is set to NULL when `target` dies, short or long as above. The program keeps
// the link from making target reachable: the word lives in atomic memory or outside the
// scanned roots, or it holds the pointer hidden (as bdwgc's GC_HIDE_POINTER). A link inside a
// Shade object is forgotten when that object is freed. 0; 1 if link was registered already (its
// target is then unchanged); -1 with errno (EINVAL, ENOMEM) otherwise.
int shade_weak_link(void **link, const void *target, unsigned flags);
int shade_weak_unlink(void **link, unsigned flags);              // 1 if it was registered, else 0
int shade_weak_move(void **link, void **new_link, unsigned flags); // 0; 1 new_link taken;
                                                                   // -1 (ENOENT) link unknown
// An ephemeron: its value is reachable through it only while its key is reachable from
// elsewhere (weak hash tables whose values refer to their keys). Once a collection finds the
// key unreachable, key and value read NULL.
struct shade_ephemeron;
struct shade_ephemeron *shade_ephemeron_new(void *key, void *value); // NULL (errno) on error
void *shade_ephemeron_key(const struct shade_ephemeron *e);   // NULL once the key is dead
void *shade_ephemeron_value(const struct shade_ephemeron *e); // NULL once the key is dead

// Roots: [lo, hi) is scanned conservatively by every collection until removed.
void shade_add_roots(void *lo, void *hi);
void shade_remove_roots(void *lo, void *hi);

// ---------------------------------------------------------------------------------------------
// Threads

int shade_thread_register(void);   // 0, or -1 with errno; registering twice is harmless
int shade_thread_unregister(void); // 0; the thread must not hold Shade pointers afterwards
// A registered thread that exits without unregistering is unregistered at its exit (a pthread
// key destructor); its stack stops being a root then.
int shade_thread_is_registered(void);
int shade_pthread_create(pthread_t *thread, const pthread_attr_t *attr,
                         void *(*start_routine)(void *), void *arg);
// A cooperative stop point for runtimes that poll: returns at once unless a collection is
// waiting for this thread, in which case the thread parks here until the world restarts.
void shade_safepoint(void);

// ---------------------------------------------------------------------------------------------
// Statistics

struct shade_stats {
  uint64_t cycles;           // completed collections
  uint64_t heap_live;        // bytes marked by the last collection
  uint64_t heap_goal;        // heap size at which the next collection starts
  uint64_t heap_in_use;      // bytes in objects (estimate: live + allocated since the last cycle)
  uint64_t heap_mapped;      // bytes reserved from the OS for the heap
  uint64_t heap_committed;   // bytes of heap pages handed to spans (resident estimate)
  uint64_t total_allocated;  // bytes allocated since start (by span refill granularity)
  uint64_t total_freed_explicitly; // bytes passed to shade_free
  uint64_t pause_total_ns;   // sum of all stop-the-world pauses
  uint64_t pause_max_ns;     // longest pause
  uint64_t last_pause_ns;    // pause of the last cycle
  uint64_t mark_total_ns;    // wall time spent marking
  uint64_t threads;          // registered threads now
  uint64_t markers;          // marking threads used
  int gc_percent;
  // memory returned to the OS and memory limits
  uint64_t heap_released;        // free heap bytes given back to the OS (or never touched)
  uint64_t heap_resident;        // estimate of heap bytes in RAM: in-use pages + free not released
  uint64_t total_released;       // bytes given back to the OS since start
  uint64_t scavenge_steps;       // madvise calls that gave pages back
  uint64_t idle_collections;     // collections run because the program went quiet
  uint64_t periodic_collections; // collections run by SHADE_PERIODIC_GC_MS
  uint64_t memory_limit;         // soft limit in bytes, 0: none
  uint64_t heap_limit;           // hard limit in bytes, 0: none
  uint64_t heap_limit_refusals;  // page requests refused by the hard limit
  uint64_t limiter_cycles;       // cycles after which the CPU limiter let the heap exceed the goal
  uint64_t process_rss;          // resident set size of the whole process (/proc/self/statm)
  uint64_t heap_committed_peak;  // the highest heap_committed so far
  // short pauses: incremental and concurrent marking
  int mode;                      // enum shade_mode in force
  uint64_t concurrent_cycles;    // cycles marked concurrently or incrementally
  uint64_t mark_assist_ns;       // time allocating threads spent marking (assists, slices)
  uint64_t mark_worker_ns;       // CPU time of the background mark workers
  uint64_t concurrent_mark_ns;   // wall time of concurrent/incremental marking phases
  uint64_t barrier_flushes;      // write-barrier buffers flushed
  uint64_t bailout_objects;      // SHADE_TYPE_SCAN_STOPPED objects left to mark termination
  uint64_t assist_naps;          // naps of assists past the goal waiting for scan work
  uint64_t assist_pollers_max;   // the most assists waiting so at once (at most one per CPU;
                                 // the others sleep until the marking ends)
  uint64_t sweep_paced_pages;    // pages allocating threads swept for the sweep pace
  uint64_t sweep_termination_pages; // pages left unswept until a cycle's start (swept there)
  uint64_t sweep_termination_max_ns; // the longest such sweep: the thread that starts a cycle
                                 // does it before the stop, so it is in no pause figure
  uint64_t metadata_bytes;       // Shade's own bookkeeping memory (counted by the soft limit)
  // generations (docs/generations.md)
  int generational;              // 1 when young collections run
  int remembered_set;            // how young collections find old objects written: enum
                                 // shade_remembered_set; 0 when not generational
  uint64_t collections[3];       // shade_collection_count(0), (1), (2)
  uint64_t generation_size_before[3]; // the last collection's estimate of each generation (bytes)
  uint64_t generation_size_after[3];
  uint64_t promoted_bytes;       // survivors of young collections, since start
  uint64_t young_pause_max_ns;   // longest pause of a gen0 or gen1 collection
  uint64_t full_pause_max_ns;    // longest pause of a full collection (with generations on)
  uint64_t gen0_budget;          // bytes allocated between young collections now
  uint64_t gen1_budget;          // bytes promoted into gen1 between gen1 collections now
  uint64_t remembered_bytes;     // written old pages and cards the last young collection scanned
  uint64_t scanned_objects[3];   // objects the last gen0, gen1 and full collection scanned
  // stopping threads (docs/concurrent.md): whole-world stops and one-thread handshakes
  uint64_t world_stops;          // stops of every registered thread (the verifier's and fork's
                                 // included: a fork() stops the world first)
  uint64_t threads_stopped;      // threads those stops stopped, added up
  uint64_t verify_stops;         // of world_stops: the heap verifier's (SHADE_VERIFY=1)
  uint64_t termination_stops;    // of world_stops: cycles the handshake termination could not
                                 // end without one (too many rounds, objects on the bailout
                                 // worklist, a stack never scanned, finalization in use)
  uint64_t handshakes;           // one-thread stops (concurrent marking)
  uint64_t handshakes_anywhere;  // of those: threads stopped outside a safe point (stack rescanned)
  uint64_t handshake_max_ns;     // longest one-thread stop, from its park to its release
  // pacing
  uint64_t root_bytes;           // roots the last full cycle scanned (stacks, thread-local storage,
                                 // data segments, shade_add_roots ranges)
  int retain_goal;               // 1: the goal never falls below the largest reached
  int noscan_weight;             // percent: how much pointer-free live bytes count in the growth
  uint64_t heap_live_noscan;     // pointer-free bytes (shade_malloc_atomic) the last full
                                 // collection marked
};
void shade_get_stats(struct shade_stats *out);

// ---------------------------------------------------------------------------------------------
// Memory returned to the OS and memory limits (docs/memory.md).
// Free pages go back to the OS in the background (scavenger) and when the program goes quiet.

// A full collection, then every free page returned to the OS now (Go's debug.FreeOSMemory).
void shade_free_os_memory(void);
// Soft limit on the memory the heap holds (Go's GOMEMLIMIT): the collector works harder as the
// heap nears it, spending at most about half of the CPU. 0: none. Returns the old limit.
size_t shade_set_memory_limit(size_t bytes);
// Hard limit on the heap's in-use pages: an allocation that would exceed it runs one full
// collection, then fails (NULL with errno = ENOMEM, or the oom handler). 0: none. Returns the old.
size_t shade_set_heap_limit(size_t bytes);

// ---------------------------------------------------------------------------------------------
// Heap snapshots: "why is this object still alive?" (docs/observability.md, "Heap snapshots").

// Writes a heap snapshot in V8's .heapsnapshot format (Chrome DevTools' Memory panel opens it):
// every live object a node, every pointer Shade would follow an edge, the roots as named nodes.
// Taken with the world stopped after a full collection. 0, or -1 with errno.
//   Nodes: typed objects are named by their shade_type's name; the others by kind and size class
//   ("conservative 48 bytes", "atomic 16 bytes", "uncollectable 64 bytes", "conservative large"),
//   so DevTools' Summary groups them. Ids are stable across snapshots (derived from the address).
//   Edges: [i] is the word at index i of the object (a trace callback's i-th visit); from a root,
//   "sp+0x.." (offset in a thread's stack), "+0x.." (a global: the offset nm prints) or [i].
//   Roots: under "(GC roots)", one node per registered thread ("stack of thread <tid>", its
//   registers and thread-locals included), per data segment (named by the library's path), per
//   shade_add_roots range, and "(uncollectable objects)".
// The pause lasts the collection plus the walk, several times a collection alone (the docs give
// measurements); the file is about 70 bytes per object with two pointers.
// Also from the environment: SHADE_HEAP_SNAPSHOT=path writes one at exit, and with
// SHADE_HEAP_SNAPSHOT_SIGNAL=SIGUSR2 one to path.1, path.2, ... on each such signal.
int shade_write_heap_snapshot(const char *path);

// ---------------------------------------------------------------------------------------------
// Events (docs/observability.md). A listener receives one call per event: cycles, phases, pauses,
// mark assists, background marking, heap growth and memory returned to the OS. With no listener
// set, each emission point costs one relaxed load and one predictable branch.
//
// Which thread calls the listener, and what it may do there:
//   - cycle, phase and pause events: the thread running the collection (a program thread that
//     collects in stw and incremental mode or that called shade_collect; Shade's "shade-gc"
//     controller in concurrent mode; the unregistered "shade-scavenger" for idle and periodic
//     collections), with Shade's collector lock held. Between PAUSE_BEGIN and PAUSE_END every
//     other registered thread is stopped, possibly inside malloc or holding any lock of its own;
//     around the pause the thread registry and root locks are held as well.
//   - MARK_ASSIST: the allocating program thread that assisted (it may be inside an assist that
//     ran a whole mark termination: its cycle and pause events come first, on the same thread).
//   - WORKER_CHUNK and the SWEEP phase: Shade's background threads ("shade-gc",
//     "shade-gc-worker").
//   - HEAP_RESIZE: the thread that grew the heap (inside the allocator, where it cannot be
//     stopped) or the thread that returned pages (scavenger, or a collecting thread).
//   - SCAVENGE: the scavenger thread, or the thread in shade_free_os_memory or ending a cycle.
// So, in every callback, a listener must not call Shade (no allocation: an allocation may
// collect, and the collector lock is held), must not take a lock a program thread may hold
// (malloc's included: no malloc, printf, fopen), and must not block or wait for another thread.
// It may read and write its own memory (preallocated), use atomics and clock_gettime, and
// write(2) to a file descriptor opened beforehand. Anything more (formatting with stdio, calling
// shade_get_stats) belongs in a thread of its own, fed by what the listener recorded. The
// callback may run on several threads at once (an assist beside a worker chunk).
enum shade_event_type {
  SHADE_EVENT_CYCLE_BEGIN = 1, // a collection starts (before its sweep termination)
  SHADE_EVENT_CYCLE_END,       // its last pause is over; carries the heap's figures
  SHADE_EVENT_PHASE_BEGIN,     // event->phase.phase began
  SHADE_EVENT_PHASE_END,       // ...ended (phase.duration_ns)
  SHADE_EVENT_PAUSE_BEGIN,     // the collector asked every thread to stop
  SHADE_EVENT_PAUSE_END,       // the world runs again (pause.duration_ns, as in the statistics)
  SHADE_EVENT_MARK_ASSIST,     // an allocating thread marked (mark.*), at the assist's end
  SHADE_EVENT_WORKER_CHUNK,    // a background mark worker marked one chunk, at its end
  SHADE_EVENT_HEAP_RESIZE,     // address space taken from the OS, or resident pages returned
  SHADE_EVENT_SCAVENGE,        // free pages returned to the OS by one pass (scavenge.*)
  SHADE_EVENT_FINALIZER_QUEUE, // a collection queued finalizers (finalizers.queued: the queue now)
  SHADE_EVENT_TYPE_LIMIT       // one past the last type
};

// Phases. Inside a cycle they nest: SWEEP_TERMINATION, then per pause STOP_REQUESTED and
// WORLD_STOPPED (MARK_STW or MARK_TERMINATION inside it); MARK_CONCURRENT lies between the two
// pauses of an incremental or concurrent cycle (it may begin and end on different threads).
// SWEEP is the background sweeping after a concurrent cycle: it comes after that CYCLE_END.
enum shade_event_phase {
  SHADE_PHASE_SWEEP_TERMINATION = 1, // world running: finishing the last cycle's sweeping
  SHADE_PHASE_STOP_REQUESTED,        // from the stop request until every thread is parked
  SHADE_PHASE_WORLD_STOPPED,         // every thread parked, until the world is released
  SHADE_PHASE_MARK_STW,              // a stop-the-world cycle's marking (roots and drain)
  SHADE_PHASE_MARK_CONCURRENT,       // marking beside the program (slices, workers, assists)
  SHADE_PHASE_MARK_TERMINATION,      // the final pause's drain of an incremental/concurrent cycle
  SHADE_PHASE_SWEEP,                 // background sweeping (concurrent mode)
};

// Why a collection runs (the collector's request reasons).
enum shade_collect_reason {
  SHADE_REASON_ALLOCATION = 1, // the heap reached the pacer's trigger
  SHADE_REASON_EXPLICIT,       // shade_collect
  SHADE_REASON_OUT_OF_MEMORY,  // the OS refused memory: collect, then retry
  SHADE_REASON_FREE_OS_MEMORY, // shade_free_os_memory
  SHADE_REASON_IDLE,           // the program went quiet (SHADE_IDLE_GC_MS)
  SHADE_REASON_PERIODIC,       // SHADE_PERIODIC_GC_MS
};
enum shade_collection_kind {
  SHADE_COLLECTION_FULL = 1,  // every object traced (generation 2; every cycle without generations)
  SHADE_COLLECTION_YOUNG = 2, // generation 0, or 0 and 1 (see generation)
};
// The oldest generation of the heap (a full collection collects it, and all the younger ones).
#define SHADE_GENERATION_OLDEST 2

// Why pages went back to the OS (SHADE_EVENT_SCAVENGE).
enum shade_scavenge_reason {
  SHADE_SCAVENGE_BACKGROUND = 1, // the scavenger's paced pass (goal + 10%, or unused too long)
  SHADE_SCAVENGE_IDLE,           // after an idle collection
  SHADE_SCAVENGE_SOFT_LIMIT,     // after a cycle, to stay under the soft memory limit
  SHADE_SCAVENGE_FREE_OS_MEMORY, // shade_free_os_memory
};

struct shade_event_cycle {          // CYCLE_BEGIN, CYCLE_END
  uint32_t kind;                    // enum shade_collection_kind
  uint32_t reason;                  // enum shade_collect_reason
  int32_t generation;               // the oldest generation collected: 0, 1 or 2 (full)
  int32_t mode;                     // enum shade_mode that ran it (stw, incremental, concurrent)
  uint64_t heap_in_use;             // bytes in objects now (begin: before; end: after)
  // CYCLE_END only:
  uint64_t duration_ns;             // from CYCLE_BEGIN to CYCLE_END, pauses and marking included
  uint64_t pause_ns;                // the cycle's pauses added up
  uint64_t heap_live;               // bytes marked (black allocation included)
  uint64_t heap_goal;               // the next cycle's goal
  uint64_t heap_mapped;             // address space reserved for the heap
  uint64_t heap_resident;           // heap pages that may be in RAM (in use + free not returned)
  // CYCLE_END, the rest of what the trace line (SHADE_TRACE=gc) prints:
  uint64_t clock_ns[3];             // stw and young: sweep termination and stop, marking, the rest
                                    // of the pause; incremental and concurrent: the start pause,
                                    // the marking between the pauses, the final pause
  uint64_t heap_before;             // bytes in objects when the (final) pause began
  uint64_t since_start_ns;          // from shade_init to the end of this cycle
  uint64_t gc_time_ns;              // collection time since shade_init (the trace line's share)
  uint64_t assist_ns, worker_ns;    // incremental and concurrent: this cycle's mark assists and
                                    // background workers' CPU time
  uint64_t trigger;                 // incremental and concurrent: the next cycle's trigger
  uint64_t remembered_bytes;        // young: written old pages and cards scanned
  uint64_t gen0_budget, gen1_budget; // young: the budgets now
  uint32_t threads;                 // registered threads
  uint32_t markers;                 // marking threads
  int32_t marking;                  // how this cycle marked: SHADE_MODE_STW (a whole collection
                                    // in one pause, in any mode), _INCREMENTAL or _CONCURRENT
  uint64_t generation_bytes[3];     // with generations on: each generation's size after the
                                    // cycle (an estimate; shade_stats.generation_size_after)
  uint64_t heap_black;              // incremental and concurrent: of heap_live, the bytes the
                                    // program allocated while marking ran (allocated black, so
                                    // kept by this cycle whether they are still in use or not)
};
struct shade_event_phase_info {     // PHASE_BEGIN, PHASE_END
  uint32_t phase;                   // enum shade_event_phase
  uint64_t duration_ns;             // PHASE_END only
};
struct shade_event_pause {          // PAUSE_BEGIN, PAUSE_END
  uint64_t duration_ns;             // PAUSE_END only; the sum over a run == stats.pause_total_ns
};
struct shade_event_mark {           // MARK_ASSIST, WORKER_CHUNK: began at time_ns - duration_ns
  uint64_t duration_ns;
  uint64_t scan_bytes;              // bytes of objects scanned
};
struct shade_event_heap {           // HEAP_RESIZE
  int64_t mapped_change;            // bytes of address space taken (> 0) from the OS
  int64_t resident_change;          // bytes of resident pages returned (< 0)
  uint64_t heap_mapped, heap_resident; // after the change
};
struct shade_event_scavenge {       // SCAVENGE
  uint32_t reason;                  // enum shade_scavenge_reason
  uint64_t bytes;                   // returned by this pass
};
struct shade_event_finalizers {     // FINALIZER_QUEUE
  uint64_t queued;                  // finalizers waiting to run, those just queued included
};

struct shade_event {
  uint32_t size;      // sizeof (struct shade_event) in the Shade that emitted it; new fields are
                      // only ever added at the end
  uint32_t type;      // enum shade_event_type
  uint64_t time_ns;   // CLOCK_MONOTONIC; for spans reported at their end, when they ended
  int32_t thread_id;  // gettid() of the calling thread
  int32_t mutator;    // 1: the calling thread is registered (a program thread); 0: one of Shade's
  uint64_t cycle;     // the cycle it belongs to, as shade_get_stats counts them (1: the first);
                      // the last finished cycle for SWEEP, HEAP_RESIZE and SCAVENGE
  union {
    struct shade_event_cycle cycle_info;
    struct shade_event_phase_info phase;
    struct shade_event_pause pause;
    struct shade_event_mark mark;
    struct shade_event_heap heap;
    struct shade_event_scavenge scavenge;
    struct shade_event_finalizers finalizers;
  };
};

struct shade_event_listener {
  // Called for each event whose type is in `types`; `data` is the pointer given with the listener.
  void (*on_event)(const struct shade_event *event, void *data);
  uint32_t types;     // bit (1u << type) for each type wanted; 0: every type
};
// Set the listener (copied; NULL removes it) and its data. Returns at once; a call under way on
// another thread may still deliver one event to the old listener. One program listener at a time
// (the trace file below is separate).
void shade_set_event_listener(const struct shade_event_listener *listener, void *data);

// ---------------------------------------------------------------------------------------------
// Trace file (docs/observability.md): the events in the Chrome Trace Event Format (JSON), for
// ui.perfetto.dev and chrome://tracing. SHADE_TRACE_FILE=path opens one at shade_init.
// Written through a bounded buffer with write(2); events that find the buffer full while the
// previous one is still being written are dropped and counted (the file's "otherData"). The file
// is complete after shade_trace_file_close or at exit. Opening a file closes the one open.
// Returns 0, or -1 with errno set.
int shade_trace_file_open(const char *path);
void shade_trace_file_close(void);

// ---------------------------------------------------------------------------------------------
// Messages. Misuse (a bad shade_free, a call from an unregistered thread, ...) and trace lines are
// reported as one line of text, "shade: <call>(<pointer>): <what is wrong>". By default the line is
// written to stderr; a handler set here receives it instead (NULL restores the default). Returns the
// previous handler. Fatal errors (an unregistered thread without auto-registration) abort() after
// the message has been delivered.
typedef void (*shade_message_fn)(const char *message);
shade_message_fn shade_set_message_handler(shade_message_fn handler);

#ifdef __cplusplus
}
#endif
#endif // SHADE_H
