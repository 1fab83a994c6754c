// go_common.go: what the Go peers (binary_trees.go, cache.go) share: the BENCH line of
// bench/allocator.h, with the Go runtime's own figures, and the latency record of cache.go.
// Built together with each program (`go build binary_trees.go go_common.go`), standard library only.
package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"sort"
	"syscall"
	"time"
)

var benchStart = time.Now()

// benchFinish prints "BENCH allocator=go wall_s cpu_s maxrss_mb <extra> cycles pause_max_ns
// pause_total_ns heap_mb go" to stderr (cycles: completed GC cycles; pause_*: stop-the-world pauses;
// heap_mb: HeapSys).
func benchFinish(extra string) {
	wall := time.Since(benchStart).Seconds()
	var usage syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &usage)
	cpu := float64(usage.Utime.Sec+usage.Stime.Sec) + float64(usage.Utime.Usec+usage.Stime.Usec)*1e-6
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	// The longest pause: exact from the last 256 cycles (MemStats.PauseNs); past 256 cycles, also
	// the lower edge of the highest non-empty bucket of the runtime's histogram of every pause.
	pauseMax := 0.0
	for _, p := range stats.PauseNs {
		pauseMax = math.Max(pauseMax, float64(p))
	}
	if stats.NumGC > uint32(len(stats.PauseNs)) {
		sample := []metrics.Sample{{Name: "/gc/pauses:seconds"}}
		metrics.Read(sample)
		if sample[0].Value.Kind() == metrics.KindFloat64Histogram {
			h := sample[0].Value.Float64Histogram()
			for i := len(h.Counts) - 1; i >= 0; i-- {
				if h.Counts[i] != 0 {
					pauseMax = math.Max(pauseMax, h.Buckets[i]*1e9)
					break
				}
			}
		}
	}
	os.Stdout.Sync()
	fmt.Fprintf(os.Stderr, "BENCH allocator=go wall_s=%.3f cpu_s=%.3f maxrss_mb=%.1f%s cycles=%d pause_max_ns=%.0f pause_total_ns=%d heap_mb=%.1f go=%s\n",
		wall, cpu, float64(usage.Maxrss)/1024, extra, stats.NumGC, pauseMax,
		stats.PauseTotalNs, float64(stats.HeapSys)/(1024*1024), runtime.Version())
}

// latency: as bench/latency.h, 10 ns buckets up to 1 ms and the exact durations of slower ones.
const (
	latencyBucketNs = 10
	latencyBuckets  = 100000
	latencySlowNs   = latencyBucketNs * latencyBuckets
)

type latency struct {
	histogram []uint64
	slow      []int64
	total     uint64
}

func newLatency() *latency { return &latency{histogram: make([]uint64, latencyBuckets)} }

func (l *latency) record(ns int64) {
	l.total++
	if ns < latencySlowNs {
		l.histogram[ns/latencyBucketNs]++
	} else {
		l.slow = append(l.slow, ns)
	}
}

func (l *latency) finish() { sort.Slice(l.slow, func(i, j int) bool { return l.slow[i] < l.slow[j] }) }

func (l *latency) quantile(q float64) int64 {
	if l.total == 0 {
		return 0
	}
	rank := uint64(q*float64(l.total) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > l.total {
		rank = l.total
	}
	seen := uint64(0)
	for i, count := range l.histogram {
		seen += count
		if seen >= rank {
			return int64(i+1) * latencyBucketNs
		}
	}
	return l.slow[rank-seen-1]
}

func (l *latency) max() int64 {
	if len(l.slow) > 0 {
		return l.slow[len(l.slow)-1]
	}
	for i := len(l.histogram) - 1; i >= 0; i-- {
		if l.histogram[i] != 0 {
			return int64(i+1) * latencyBucketNs
		}
	}
	return 0
}
