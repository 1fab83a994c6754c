// options_table.h: every setting of Shade, one row each. base/options.c expands this table into
// the parser of the environment, the checks of struct shade_options and the README's environment
// table (tests/options checks that README.md holds what the table generates). Adding an option is
// adding a row here, a field in struct shade_options (include/shade.h) and the code that reads
// shade_options_in_force.<field>; then `build/tests/options/options_print_table --update README.md`.
//
// SHADE_OPTION(field, designated initializers of struct option_row (base/options.c)):
//   .variable      the environment variable; none: only the program can set the field
//   .type          OPTION_FLAG     field 1: on, 0: the environment; the variable is a boolean
//                  OPTION_FLAG_NOT the same, but the field says the opposite of the variable
//                                  (field no_data_roots = 1 is SHADE_SCAN_DATA=off)
//                  OPTION_SWITCH   field 1: on, -1: off, 0: the environment; a boolean variable
//                  OPTION_INT      a number from .low to .high; a field of 0 or less: the
//                                  environment (but see .has_off)
//                  OPTION_PERCENT  the same; the variable may end in %
//                  OPTION_MS       milliseconds; the variable may end in ms, s or min
//                  OPTION_SIZE     bytes (a size_t field); the variable may end in k, KiB, KB, M,
//                                  MiB, MB, G, GiB, GB, T, TiB or TB (1.5GiB works)
//                  OPTION_SIGNAL   a signal: a number, or SIGUSR1, SIGUSR2, SIGRTMIN+n, SIGRTMAX-n
//                  OPTION_ENUM     one of .names (comma-separated); the field holds 1 for the first
//                  OPTION_LIST     the field is 1 when the variable, a list of words separated by
//                                  commas or spaces, holds one of .names; the words every row of
//                                  the variable names are the ones allowed
//                  OPTION_PATH     a file path (a const char * field; NULL: the environment)
//   .fallback      the default (or .fallback_fn, computed at start-up, with .default_text)
//   .low, .high    the range of numbers accepted
//   .has_off, .off the variable may say "off" (and "none"), which stands for the field value .off;
//                  for OPTION_MS, 0 in the variable means off too; a negative field means off
//   .default_text  the README's default when the value alone would not say it
//   .doc           what the option does (Markdown, one line, no '|')
//   .field_doc     how struct shade_options spells it, beyond the rules of .type
#ifndef SHADE_BASE_OPTIONS_TABLE_H
#define SHADE_BASE_OPTIONS_TABLE_H

#define SHADE_OPTIONS_TABLE(SHADE_OPTION)                                                          \
  SHADE_OPTION(gc_percent, .variable = "SHADE_GC_PERCENT", .type = OPTION_PERCENT,               \
               .fallback = 100, .low = -1, .high = 1000000, .has_off = 1, .off = SHADE_GC_OFF,    \
               .doc = "heap growth allowed before the next cycle, in percent of the live heap "   \
                      "(Go's `GOGC`); `off` disables automatic collection; 0 collects as often "  \
                      "as the heap floor allows",                                                 \
               .field_doc = "`SHADE_GC_OFF` off")                                           \
  SHADE_OPTION(noscan_weight, .variable = "SHADE_NOSCAN_WEIGHT", .type = OPTION_PERCENT,         \
               .fallback = 100, .low = 1, .high = 100,                                            \
               .default_text = "100 (12 for programs using libgc.so.1)",                          \
               .doc = "how much live pointer-free objects (`shade_malloc_atomic`) count in the "  \
                      "growth `SHADE_GC_PERCENT` allows, in percent of what other objects count " \
                      "(bdwgc's pace counts them an eighth: a quarter of a byte each, against "   \
                      "two)")                                                                     \
  SHADE_OPTION(retain_goal, .variable = "SHADE_RETAIN_GOAL", .type = OPTION_SWITCH,              \
               .default_text = "off (on for programs using libgc.so.1)",                          \
               .doc = "the heap goal never falls below the largest one reached: a heap that "     \
                      "grew is used up before each collection, as bdwgc's heap is (fewer "        \
                      "collections after a peak, the peak's memory kept)")                        \
  SHADE_OPTION(markers, .variable = "SHADE_MARKERS", .type = OPTION_INT, .low = 1, .high = 256,   \
               .fallback_fn = options_online_cpus, .default_text = "number of CPUs",              \
               .doc = "marking threads, the collecting thread included")                          \
  SHADE_OPTION(trace, .variable = "SHADE_TRACE", .type = OPTION_LIST, .names = "gc",              \
               .doc = "`gc`: one line per cycle on stderr (see below)")                           \
  SHADE_OPTION(trace_scavenger, .variable = "SHADE_TRACE", .type = OPTION_LIST,                   \
               .names = "scav,gc",                                                                \
               .doc = "`scav`: one line per return of pages to the OS (`gc` shows them too)")     \
  SHADE_OPTION(verify, .variable = "SHADE_VERIFY", .type = OPTION_FLAG,                           \
               .doc = "heap verifier: after every marking, re-mark from the roots with the world " \
                      "stopped and stop the program on a reachable object left unmarked (slow; " \
                      "the tests run with it)")                                                   \
  SHADE_OPTION(suspend_signal, .variable = "SHADE_SIG_SUSPEND", .type = OPTION_SIGNAL,            \
               .fallback_fn = options_default_signal, .default_text = "`SIGRTMIN+6`",             \
               .doc = "the signal that stops a thread for a collection")                          \
  SHADE_OPTION(auto_register, .variable = "SHADE_AUTO_REGISTER", .type = OPTION_FLAG,             \
               .doc = "a thread that calls Shade without being registered is registered on the "  \
                      "spot instead of stopping the program with a message")                      \
  SHADE_OPTION(no_data_roots, .variable = "SHADE_SCAN_DATA", .type = OPTION_FLAG_NOT,             \
               .doc = "scan the data and bss segments of the program and its shared libraries "   \
                      "(off: the program adds its own roots)")                                    \
  SHADE_OPTION(no_past_end, .variable = "SHADE_PAST_END", .type = OPTION_FLAG_NOT,                \
               .doc = "pad objects by one byte, so that a pointer just past an object's end "     \
                      "keeps it alive, as in bdwgc")                                              \
  SHADE_OPTION(min_heap_goal, .type = OPTION_SIZE, .fallback = (long long)4 << 20,                \
               .high = (long long)1 << 62,                                                        \
               .doc = "the smallest heap goal: small heaps do not collect more often than this "  \
                      "allows")                                                                   \
  SHADE_OPTION(memory_limit, .variable = "SHADE_MEMORY_LIMIT", .type = OPTION_SIZE,               \
               .high = (long long)1 << 62, .has_off = 1, .off = 0,                                \
               .doc = "soft limit on the memory the heap holds, Shade's metadata included: the "  \
                      "goal shrinks near it, collection capped at about 50% of the CPU "          \
                      "([docs/memory.md](docs/memory.md))")                                       \
  SHADE_OPTION(heap_limit, .variable = "SHADE_HEAP_LIMIT", .type = OPTION_SIZE,                   \
               .high = (long long)1 << 62, .has_off = 1, .off = 0,                                \
               .doc = "hard limit on the heap's in-use pages: allocation beyond it fails with "   \
                      "`ENOMEM` after one full collection")                                       \
  SHADE_OPTION(scavenge, .variable = "SHADE_SCAVENGE", .type = OPTION_SWITCH, .fallback = 1,      \
               .doc = "return free pages to the OS in the background")                            \
  SHADE_OPTION(scavenge_idle_ms, .variable = "SHADE_SCAVENGE_IDLE_MS", .type = OPTION_MS,         \
               .fallback = 1000, .low = 0, .high = 86400000,                                      \
               .doc = "free pages unused this long are returned (Go: 5 minutes)")                 \
  SHADE_OPTION(idle_gc_ms, .variable = "SHADE_IDLE_GC_MS", .type = OPTION_MS, .fallback = 250,    \
               .low = 0, .high = 86400000, .has_off = 1, .off = -1,                               \
               .doc = "a program quiet this long after allocating gets a collection (a "          \
                      "concurrent cycle in concurrent mode) and a return of its free pages")      \
  SHADE_OPTION(madv_free, .variable = "SHADE_MADV_FREE", .type = OPTION_SWITCH, .fallback = -1,   \
               .doc = "return pages with `MADV_FREE` instead of `MADV_DONTNEED`")                 \
  SHADE_OPTION(periodic_gc_ms, .variable = "SHADE_PERIODIC_GC_MS", .type = OPTION_MS,             \
               .fallback = -1, .low = 0, .high = 86400000, .has_off = 1, .off = -1,               \
               .doc = "a collection at least this often (Go forces one every 2 minutes)")         \
  SHADE_OPTION(mode, .variable = "SHADE_MODE", .type = OPTION_ENUM,                               \
               .names = "stw,incremental,concurrent", .fallback = SHADE_MODE_STW,                 \
               .doc = "how marking runs ([docs/concurrent.md](docs/concurrent.md)); the "         \
                      "environment may choose `incremental` or `concurrent` only for a program "  \
                      "that declares `write_barrier`, otherwise it is ignored with a message",    \
               .field_doc = "`SHADE_MODE_STW`, `_INCREMENTAL`, `_CONCURRENT`; the last two declare " \
                            "`write_barrier` too")                                   \
  SHADE_OPTION(write_barrier, .type = OPTION_FLAG,                                                \
               .doc = "the program declares that every pointer store into Shade objects, "        \
                      "globals and root ranges goes through `shade_write` / `SHADE_STORE`; only " \
                      "a declaring program may be switched to incremental or concurrent mode by " \
                      "`SHADE_MODE`")                                                             \
  SHADE_OPTION(gc_cpu_percent, .variable = "SHADE_GC_CPU", .type = OPTION_PERCENT,                \
               .fallback = 25, .low = 1, .high = 100,                                             \
               .doc = "percent of the CPUs the background mark workers use (concurrent mode)")    \
  SHADE_OPTION(idle_marking, .variable = "SHADE_IDLE_MARKING", .type = OPTION_SWITCH,             \
               .fallback = 1,                                                                     \
               .doc = "marking also runs on CPUs the program leaves idle (Go's idle mark "        \
                      "workers): concurrent mode's fractional worker, incremental mode's idle "   \
                      "worker")                                                                   \
  SHADE_OPTION(termination, .variable = "SHADE_TERMINATION", .type = OPTION_ENUM,                 \
               .names = "stop,handshakes", .fallback = 2,                                         \
               .doc = "how a concurrent marking ends: `stop` stops every thread once, briefly; "   \
                      "`handshakes` stops one thread at a time (pauses that do not grow with "    \
                      "threads; used while nothing needs finalization)")                          \
  SHADE_OPTION(rc_debug, .variable = "SHADE_RC_DEBUG", .type = OPTION_FLAG,                       \
               .doc = "reference counting: the last 4096 freed objects wait in a quarantine, so " \
                      "that use after free is reported (always on in a library built without "    \
                      "`NDEBUG`; [docs/rc.md](docs/rc.md))")                                     \
  SHADE_OPTION(generational, .variable = "SHADE_GENERATIONAL", .type = OPTION_SWITCH,             \
               .fallback = -1,                                                                    \
               .doc = "generations 0, 1 and 2 (.NET's): young collections trace only what is "    \
                      "new; honoured where it can be correct (stw mode, the kernel tracks the "   \
                      "heap's writes), else every collection is full; off by default for now "    \
                      "([docs/generations.md](docs/generations.md) says when it pays)")           \
  SHADE_OPTION(remembered_set, .variable = "SHADE_REMEMBERED_SET", .type = OPTION_ENUM,            \
               .names = "auto,pages,cards", .fallback = SHADE_REMEMBERED_AUTO,                    \
               .doc = "with generations, how young collections find the old objects written "     \
                      "since the last collection: `pages` the kernel reports written heap pages " \
                      "(any store); `cards` `shade_write` sets a card per 512 bytes (no page "    \
                      "fault, less to scan; only for a program that declares `write_barrier`); "  \
                      "`auto` cards when the program declares `write_barrier`, else pages",       \
               .field_doc = "`SHADE_REMEMBERED_AUTO`, `_PAGES`, `_CARDS`")                        \
  SHADE_OPTION(loh_threshold, .variable = "SHADE_LOH_THRESHOLD", .type = OPTION_SIZE,             \
               .fallback = 85000, .low = 32769, .high = (long long)1 << 62,                       \
               .doc = "with generations, objects of this size and more are born in gen2 (.NET's " \
                      "Large Object Heap) and freed only by full collections")                    \
  SHADE_OPTION(gen0_budget, .variable = "SHADE_GEN0_BUDGET", .type = OPTION_SIZE,                 \
               .high = (long long)1 << 62, .default_text = "adaptive",                            \
               .doc = "with generations, bytes allocated between gen0 collections; by default "   \
                      "it adapts to the survival rate, from the L3 cache size (at least 8 MiB) "  \
                      "to 4 times that; a fixed budget also keeps young collections from "        \
                      "pausing when they scan more than full ones would")                       \
  SHADE_OPTION(server, .variable = "SHADE_SERVER", .type = OPTION_SWITCH, .fallback = -1,       \
               .doc = "with generations, .NET's server flavour: gen0's and gen1's budgets are "   \
                      "per CPU (times the online CPUs, at most 64), for fewer young collections " \
                      "on many cores at the cost of memory; off: the workstation flavour "        \
                      "([docs/generations.md](docs/generations.md))")                             \
  SHADE_OPTION(finalize_on_demand, .variable = "SHADE_FINALIZE_ON_DEMAND", .type = OPTION_FLAG, \
               .doc = "finalizers run only when the program calls `shade_run_finalizers`, not on " \
                      "Shade's finalizer thread ([docs/finalization.md](docs/finalization.md))")  \
  SHADE_OPTION(heap_snapshot, .variable = "SHADE_HEAP_SNAPSHOT", .type = OPTION_PATH,             \
               .default_text = "none",                                                            \
               .doc = "write a heap snapshot (Chrome DevTools' `.heapsnapshot`) to this path at " \
                      "exit ([docs/observability.md](docs/observability.md))")                    \
  SHADE_OPTION(heap_snapshot_signal, .variable = "SHADE_HEAP_SNAPSHOT_SIGNAL",                    \
               .type = OPTION_SIGNAL, .default_text = "none",                                     \
               .doc = "with `SHADE_HEAP_SNAPSHOT`: on this signal, write a snapshot to "          \
                      "*path*`.1`, `.2`, ... (a Shade thread writes it, not the handler)")      \
  SHADE_OPTION(trace_file, .variable = "SHADE_TRACE_FILE", .type = OPTION_PATH,                   \
               .default_text = "none",                                                            \
               .doc = "write a trace of the collector's events in Chrome's Trace Event Format "   \
                      "to this path (Perfetto and chrome://tracing open it; "                     \
                      "[docs/observability.md](docs/observability.md))")

#endif
