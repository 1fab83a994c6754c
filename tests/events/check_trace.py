#!/usr/bin/env python3
"""check_trace.py TRACE STATS: the content of a Shade trace file against the run's statistics.

json proves the syntax; this checks what the Trace Event Format asks and what Shade promises:
every "B" has its "E" on the same thread, in stack order, not earlier; "X" spans have a
duration; the pause spans match the statistics (count, total and longest, to the nanosecond
the microsecond timestamps carry, plus float rounding); threads are named; counters are there.
"""
import json
import sys

trace_path, stats_path = sys.argv[1], sys.argv[2]
with open(trace_path) as f:
    trace = json.load(f)
with open(stats_path) as f:
    stats = json.load(f)

failures = []


def expect(cond, what):
    if not cond:
        failures.append(what)


expect(isinstance(trace, dict) and isinstance(trace.get("traceEvents"), list), "object form")
expect(trace.get("displayTimeUnit") in ("ms", "ns"), "displayTimeUnit")
expect(trace.get("otherData", {}).get("shade_dropped_events") == "0", "no dropped events")
events = trace["traceEvents"]

names = {}
stacks = {}
pauses = []
counters = set()
cycles = 0
for i, e in enumerate(events):
    ph = e.get("ph")
    expect(isinstance(e.get("pid"), int), f"event {i}: pid")
    if ph == "M":
        # ts 0: readers that detect an unsorted file from consecutive ts values need one here
        expect(e.get("ts") == 0, f"event {i}: metadata without ts 0")
        if e["name"] == "thread_name":
            names[e["tid"]] = e["args"]["name"]
        continue
    expect(isinstance(e.get("ts"), (int, float)), f"event {i}: ts")
    expect(isinstance(e.get("tid"), int), f"event {i}: tid")
    key = (e["pid"], e["tid"])
    if ph == "B":
        stacks.setdefault(key, []).append(e)
    elif ph == "E":
        stack = stacks.get(key, [])
        expect(stack, f"event {i}: E {e['name']} without B")
        if stack:
            b = stack.pop()
            expect(b["name"] == e["name"], f"event {i}: E {e['name']} closes B {b['name']}")
            expect(e["ts"] >= b["ts"], f"event {i}: E before its B")
            if e["name"] == "pause":
                pauses.append((e["ts"] - b["ts"], e["args"]["duration_ns"]))
    elif ph == "X":
        expect(e.get("dur", -1) >= 0, f"event {i}: X without dur")
        if e["name"] == "gc cycle":
            cycles += 1
            expect(e["args"]["reason"] in ("allocation", "explicit", "out of memory",
                                           "free OS memory", "idle", "periodic"),
                   f"event {i}: reason")
    elif ph == "C":
        counters.add(e["name"])
        expect(all(isinstance(v, (int, float)) for v in e["args"].values()), f"event {i}: C args")
    elif ph == "i":
        pass
    else:
        expect(False, f"event {i}: unexpected ph {ph}")
# A span still open when the file was closed (the program ended during the controller's
# background sweep, which runs beside it) may stay open: viewers end it at the trace's end. Any
# other unmatched B is an error.
for key, stack in stacks.items():
    open_spans = [b["name"] for b in stack if b["name"] != "background sweep"]
    expect(not open_spans, f"thread {key}: {len(open_spans)} B without E ({open_spans})")

# every stop of the world but the verifier's is a pause (a concurrent cycle has one, at mark termination)
expected_pauses = stats["pauses"]
expect(len(pauses) == expected_pauses, f"{len(pauses)} pauses, statistics: {expected_pauses}")
total_us = sum(d for d, _ in pauses)
expect(abs(total_us * 1000 - stats["pause_total_ns"]) <= 1 + len(pauses) * 0.01,
       f"pause total {total_us * 1000:.0f} ns, statistics {stats['pause_total_ns']}")
expect(sum(n for _, n in pauses) == stats["pause_total_ns"], "pause duration_ns args add up")
longest = max((d for d, _ in pauses), default=0)
expect(abs(longest * 1000 - stats["pause_max_ns"]) <= 1,
       f"longest pause {longest * 1000:.0f} ns, statistics {stats['pause_max_ns']}")
expect(cycles == stats["cycles"], f"{cycles} gc cycle spans, statistics: {stats['cycles']}")
for c in ("heap_in_use", "heap_live", "heap_goal", "heap_mapped", "heap_resident"):
    expect(c in counters, f"counter {c}")
named = set(names.values())
expect("shade-gc cycles" in named, "the cycles track is named")
expect(any(n.startswith("mutator ") for n in named), f"a mutator track ({sorted(named)})")
if stats["mode"] == "concurrent":
    expect("shade-gc" in named, f"the controller's track ({sorted(named)})")
for tid in {e["tid"] for e in events if e.get("ph") in ("B", "E", "X", "i")}:
    expect(tid in names, f"thread {tid} has no name")

print(f"{len(events)} events, {len(pauses)} pauses ({total_us / 1000:.3f} ms), {cycles} cycles, "
      f"threads {sorted(named)}, counters {sorted(counters)}")
for f in failures[:20]:
    print("FAIL:", f)
sys.exit(1 if failures else 0)
