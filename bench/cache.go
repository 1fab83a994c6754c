// cache.go: the Go peer of cache.c (read its header for the workload): a cache of CACHE_ENTRIES
// long-lived entries (default 1,800,000, about 1 GB), served for CACHE_SECONDS by requests whose
// temporaries die young, every CACHE_UPDATE_EVERY-th request replacing the entry it served.
//
// Written as a Go programmer would: the table is a map[string]*entry, the parse takes substrings
// (which share the request's bytes) and splits the query with strings.Split, the response is a
// []byte built with append; the Go compiler keeps on the stack what does not escape. So it makes
// fewer allocations per request than the C program, which copies every token: that is Go's own
// advantage, measured with it. The deterministic parts (keys, value lengths and bytes, checksums,
// the request sequence) are cache.c's, bit for bit; the verification is the same. GOGC default.
// Build: go build -o cache_go cache.go go_common.go.
package main

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"os"
	"strconv"
	"strings"
	"time"
)

type entry struct {
	key      string
	value    []byte
	checksum uint64
	version  uint32
}

type param struct {
	name, value string
}

type request struct {
	method, path, key, protocol string
	params                      []param
}

const (
	keyLength   = 14
	valueMin    = 256
	valueSpread = 513
)

func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func valueSeed(id, version uint32) uint64 {
	return mix64((uint64(id)<<32 | uint64(version)) + 0x9e3779b97f4a7c15)
}

func valueLength(seed uint64) int { return valueMin + int(seed%valueSpread) }

func xorshift64(state *uint64) uint64 {
	x := *state
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	*state = x
	return x
}

func valueFill(value []byte, seed uint64) {
	state := seed | 1
	for i := 0; i < len(value); i += 8 {
		word := xorshift64(&state)
		for j := 0; j < 8 && i+j < len(value); j++ {
			value[i+j] = byte(word >> (8 * j))
		}
	}
}

func valueChecksum(value []byte) uint64 {
	h := uint64(len(value))
	for i := 0; i < len(value); i += 8 {
		var word uint64
		if i+8 <= len(value) {
			word = binary.LittleEndian.Uint64(value[i:])
		} else {
			for j := 0; i+j < len(value); j++ {
				word |= uint64(value[i+j]) << (8 * j)
			}
		}
		h = bits.RotateLeft64(h^word, 29) * 0x9e3779b97f4a7c15
	}
	return h ^ (h >> 32)
}

func appendPadded(b []byte, n uint64, width int) []byte {
	var digits [20]byte
	d := strconv.AppendUint(digits[:0], n, 10)
	for i := len(d); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, d...)
}

func keyOf(id uint32) string {
	var b [keyLength]byte
	return string(appendPadded(append(b[:0], "key:"...), uint64(id), 10))
}

func newEntry(id, version uint32) *entry {
	seed := valueSeed(id, version)
	value := make([]byte, valueLength(seed))
	valueFill(value, seed)
	return &entry{key: keyOf(id), value: value, checksum: valueChecksum(value), version: version}
}

func fail(format string, args ...interface{}) {
	os.Stdout.Sync()
	fmt.Fprintf(os.Stderr, "cache: VERIFY FAILED (go): "+format+"\n", args...)
	os.Exit(1)
}

func parseRequest(text string) (*request, bool) {
	method, rest, ok := strings.Cut(text, " ")
	if !ok {
		return nil, false
	}
	target, protocol, ok := strings.Cut(rest, " ")
	if !ok {
		return nil, false
	}
	path, query, _ := strings.Cut(target, "?")
	r := &request{method: method, path: path, key: path[strings.LastIndexByte(path, '/')+1:], protocol: protocol}
	if query != "" {
		for _, field := range strings.Split(query, "&") {
			name, value, _ := strings.Cut(field, "=")
			r.params = append(r.params, param{name, value})
		}
	}
	return r, true
}

func (r *request) param(name string) string {
	for _, p := range r.params {
		if p.name == name {
			return p.value
		}
	}
	return ""
}

type cache struct {
	table       map[string]*entry
	versions    []uint32
	updateEvery uint64
}

func (c *cache) serve(id uint32, number uint64) int {
	text := make([]byte, 0, 96)
	text = append(text, "GET /cache/key:"...)
	text = appendPadded(text, uint64(id), 10)
	text = append(text, "?fields=value,version&trace="...)
	text = strconv.AppendUint(text, number, 10)
	text = append(text, " HTTP/1.1"...)
	r, ok := parseRequest(string(text))
	if !ok || r.method != "GET" || r.protocol != "HTTP/1.1" {
		fail("request %d (entry %d) did not parse", number, id)
	}
	if trace, err := strconv.ParseUint(r.param("trace"), 10, 64); err != nil || trace != number {
		fail("request %d (entry %d): wrong trace parameter", number, id)
	}
	e := c.table[r.key]
	if e == nil {
		fail("request %d: entry %d not found", number, id)
	}
	response := make([]byte, 0, 64+len(e.value))
	response = append(response, "HTTP/1.1 200 OK\r\nContent-Length: "...)
	response = strconv.AppendInt(response, int64(len(e.value)), 10)
	response = append(response, "\r\nX-Version: "...)
	response = strconv.AppendUint(response, uint64(e.version), 10)
	response = append(response, "\r\n\r\n"...)
	header := len(response)
	response = append(response, e.value...)
	if valueChecksum(response[header:]) != e.checksum {
		fail("request %d: entry %d's value does not match its checksum", number, id)
	}
	if number%c.updateEvery == 0 {
		c.versions[id]++
		c.table[r.key] = newEntry(id, c.versions[id])
	}
	return len(response)
}

func (c *cache) verify(entries uint32) int {
	if len(c.table) != int(entries) {
		fail("%d entries in the table, expected %d", len(c.table), entries)
	}
	expected := make([]byte, valueMin+valueSpread)
	count := 0
	for id := uint32(0); id < entries; id++ {
		key := keyOf(id)
		e := c.table[key]
		if e == nil || e.key != key {
			fail("entry %d missing or under a wrong key", id)
		}
		if e.version != c.versions[id] {
			fail("entry %d: an old version (%d)", id, e.version)
		}
		seed := valueSeed(id, e.version)
		want := expected[:valueLength(seed)]
		valueFill(want, seed)
		if string(e.value) != string(want) {
			fail("entry %d: wrong value (version %d)", id, e.version)
		}
		if valueChecksum(e.value) != e.checksum {
			fail("entry %d: wrong checksum (version %d)", id, e.version)
		}
		count++
	}
	return count
}

func envNumber(name string, fallback, min, max float64) float64 {
	text := os.Getenv(name)
	if text == "" {
		return fallback
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || !(v >= min && v <= max) {
		fmt.Fprintf(os.Stderr, "cache: %s=%s: expected a number in [%g, %g]\n", name, text, min, max)
		os.Exit(2)
	}
	return v
}

func main() {
	entries := uint32(envNumber("CACHE_ENTRIES", 1800000, 1, 4000000000))
	seconds := envNumber("CACHE_SECONDS", 10, 0.001, 86400)
	updateEvery := uint64(envNumber("CACHE_UPDATE_EVERY", 100, 1, 1e9))

	buildStart := time.Now()
	c := &cache{table: make(map[string]*entry, entries), versions: make([]uint32, entries), updateEvery: updateEvery}
	buckets := uint64(1)
	for buckets < uint64(entries) {
		buckets *= 2
	}
	liveBytes := buckets * 8
	for id := uint32(0); id < entries; id++ {
		e := newEntry(id, 0)
		c.table[e.key] = e
		liveBytes += 40 + keyLength + 1 + uint64(len(e.value))
	}
	buildS := time.Since(buildStart).Seconds()
	liveMB := float64(liveBytes) / (1024 * 1024)

	lat := newLatency()
	rng := uint64(88172645463325252)
	var requests, responseBytes uint64
	start := time.Now()
	limit := time.Duration(seconds * 1e9)
	var previous, now time.Duration
	for {
		id := uint32(xorshift64(&rng) % uint64(entries))
		requests++
		responseBytes += uint64(c.serve(id, requests))
		now = time.Since(start)
		lat.record(int64(now - previous))
		previous = now
		if now >= limit {
			break
		}
	}
	elapsed := now.Seconds()

	if envNumber("CACHE_TEST_CORRUPT", 0, 0, 1) != 0 { // the verification must catch this
		c.table[keyOf(0)].value[0] ^= 1
	}
	verified := c.verify(entries)
	lat.finish()
	p50, p99, p999, maxNs := lat.quantile(0.50), lat.quantile(0.99), lat.quantile(0.999), lat.max()
	perS := float64(requests) / elapsed
	updates := requests / updateEvery

	fmt.Printf("cache (go): %d entries, %.1f MB live, built in %.2f s\n", entries, liveMB, buildS)
	fmt.Printf("  %d requests (%d replacements) in %.2f s: %.0f requests/s, %.1f MB served\n",
		requests, updates, elapsed, perS, float64(responseBytes)/(1024*1024))
	fmt.Printf("  latency: p50 %.2f us, p99 %.2f us, p99.9 %.2f us, slowest %.3f ms, %d over 1 ms\n",
		float64(p50)/1e3, float64(p99)/1e3, float64(p999)/1e3, float64(maxNs)/1e6, len(lat.slow))
	fmt.Printf("  verified %d entries\n", verified)
	benchFinish(fmt.Sprintf(" entries=%d live_mb=%.1f seconds=%.3f build_s=%.3f requests=%d requests_per_s=%.0f updates=%d p50_ns=%d p99_ns=%d p999_ns=%d max_ns=%d over_1ms=%d verified=%d",
		entries, liveMB, elapsed, buildS, requests, perS, updates, p50, p99, p999, maxNs, len(lat.slow), verified))
}
