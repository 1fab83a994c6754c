#!/usr/bin/env python3
"""stalls.py <perf script output> <churn stderr>: where the slow operations of a churn run went.

The input is `perf script -F comm,tid,time,ip,sym` of a run recorded with
`perf record -F 10000 -e cpu-clock -g` (bench/churn/stalls.sh does both). cpu-clock samples a
thread only while it runs, every 0.1 ms, so a gap in the program thread's samples is time it did
not run:
  - if no thread of the process was sampled in the gap either, the whole virtual machine stopped
    (the hypervisor ran something else: steal);
  - if the collector's threads were sampled, the program thread was off its CPU while they ran
    on theirs: a task outside the process (perf records only this one) or the hypervisor held its
    vCPU, or it slept (a lock, a nap: the stack before the gap says where).
Each slow operation the run logged (CHURN_SLOW_LOG_MS) is matched with the gaps that overlap it
(the two clocks agree to a few milliseconds); the rest of it is time the program thread ran, and
its samples around it say in what.
"""
import re
import sys
from collections import Counter

HEADER = re.compile(r"\s*(\S+)\s+(\d+)\s+([\d.]+):")
SLOW = re.compile(r"slow op ended @([\d.]+)s: ([\d.]+) ms")


def read_samples(path):
    samples = []
    with open(path, errors="replace") as f:
        for block in f.read().split("\n\n"):
            lines = block.strip("\n").split("\n")
            m = HEADER.match(lines[0])
            if not m:
                continue
            stack = [l.strip().split(None, 1)[-1] for l in lines[1:] if l.strip()]
            samples.append((float(m.group(3)), m.group(1), int(m.group(2)), stack))
    return samples


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: stalls.py <perf script output> <churn stderr>")
    samples = read_samples(sys.argv[1])
    if not samples:
        sys.exit("stalls.py: no samples")
    with open(sys.argv[2], errors="replace") as f:
        slow = [(float(a), float(b)) for a, b in SLOW.findall(f.read())]
    program = samples[0][2]  # the first thread sampled is the program's main thread
    start = samples[0][0]
    mine = [s for s in samples if s[2] == program]
    gaps = []
    for before, after in zip(mine, mine[1:]):
        if after[0] - before[0] > 0.002:
            others = Counter(s[1] for s in samples if before[0] < s[0] < after[0])
            gaps.append((before, after, others))
    print(f"{len(mine)} samples of the program thread over {mine[-1][0] - start:.2f} s; "
          f"{len(gaps)} gaps over 2 ms; {len(slow)} slow operations logged")
    for before, after, others in gaps:
        length = (after[0] - before[0]) * 1e3
        if others:
            what = "the program thread off its CPU while " + ", ".join(
                f"{name} ran ({count} samples)" for name, count in sorted(others.items()))
        else:
            what = "no thread of the process ran: the whole VM stopped"
        where = " <- ".join(before[3][:4])
        print(f"  gap {length:6.2f} ms at {before[0] - start:7.3f} s: {what}; before it: {where}")
    for end, ms in slow:
        # the perf clock and the program's clock agree to a few milliseconds (both count from
        # about the program's start): a gap overlapping the operation give or take 3 ms counts
        lo, hi = end - ms / 1e3 - 0.003, end + 0.003
        inside = [g for g in gaps if g[0][0] - start < hi and g[1][0] - start > lo]
        stolen = min(ms, sum((g[1][0] - g[0][0]) * 1e3 for g in inside))
        ran = Counter(s[3][0] if s[3] else "?" for s in mine if lo <= s[0] - start <= hi)
        top = ", ".join(f"{name} {count}" for name, count in ran.most_common(4))
        print(f"slow op {ms:6.2f} ms ending at {end:.3f} s: {stolen:.2f} ms in gaps; "
              f"samples of the program thread: {top}")


if __name__ == "__main__":
    main()
