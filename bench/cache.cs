// cache.cs: the C# peer of cache.c (read its header for the workload), for Mono's SGen, a
// generational collector (a copying nursery and a mark-sweep old generation, with a card-marking
// write barrier): the program Shade's generational mode is to be measured against.
// A cache of CACHE_ENTRIES long-lived entries (default 1,800,000, about 1 GB), served for
// CACHE_SECONDS by requests whose temporaries die young, every CACHE_UPDATE_EVERY-th request
// replacing the entry it served.
//
// Written as a C# programmer would: a Dictionary<string, Entry>, the parse with Split and
// Substring (new strings, as in cache.c), the parameters in a List, the response a byte[]. The
// deterministic parts (keys, value lengths and bytes, checksums, the request sequence) are
// cache.c's, bit for bit; the verification is the same. Build: mcs -optimize+ cache.cs; run:
// mono --gc=sgen cache.exe (build-bench/bench/cache_mono does both the run and the flag).
// BENCH line: cycles = collections of any kind (GC.CollectionCount(0)), major_cycles =
// GC.CollectionCount(1); SGen's pause times are not exposed to the program: no pause_max_ns.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;

sealed class Entry {
  public string Key;
  public byte[] Value;
  public ulong Checksum;
  public uint Version;
}

sealed class Param {
  public string Name, Value;
  public Param(string name, string value) { Name = name; Value = value; }
}

sealed class Request {
  public string Method, Path, Key, Protocol;
  public List<Param> Params = new List<Param>(4);
  public string Get(string name) {
    foreach (var p in Params)
      if (p.Name == name)
        return p.Value;
    return null;
  }
}

static class Cache {
  const int KeyLength = 14, ValueMin = 256, ValueSpread = 513;
  const int BucketNs = 10, Buckets = 100000;
  const long SlowNs = (long)BucketNs * Buckets;

  [StructLayout(LayoutKind.Sequential)]
  struct Timespec { public long Seconds, Nanoseconds; }
  [DllImport("libc", EntryPoint = "clock_gettime")]
  static extern int ClockGettime(int clock, out Timespec time);
  static long NowNs() {
    Timespec t;
    ClockGettime(1, out t); // CLOCK_MONOTONIC
    return t.Seconds * 1000000000L + t.Nanoseconds;
  }

  static ulong Mix64(ulong x) {
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9UL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebUL;
    return x ^ (x >> 31);
  }
  static ulong ValueSeed(uint id, uint version) {
    return Mix64((((ulong)id << 32) | version) + 0x9e3779b97f4a7c15UL);
  }
  static int ValueLength(ulong seed) { return ValueMin + (int)(seed % ValueSpread); }
  static ulong Xorshift64(ref ulong state) {
    ulong x = state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return state = x;
  }
  static void ValueFill(byte[] value, int length, ulong seed) {
    ulong state = seed | 1;
    for (int i = 0; i < length; i += 8) {
      ulong word = Xorshift64(ref state);
      for (int j = 0; j < 8 && i + j < length; j++)
        value[i + j] = (byte)(word >> (8 * j));
    }
  }
  static ulong ValueChecksum(byte[] value, int offset, int length) {
    ulong h = (ulong)length;
    for (int i = 0; i < length; i += 8) {
      ulong word = 0;
      if (i + 8 <= length) {
        word = BitConverter.ToUInt64(value, offset + i); // little-endian (x86-64)
      } else {
        for (int j = 0; i + j < length; j++)
          word |= (ulong)value[offset + i + j] << (8 * j);
      }
      h ^= word;
      h = (h << 29) | (h >> 35);
      h *= 0x9e3779b97f4a7c15UL;
    }
    return h ^ (h >> 32);
  }
  static string KeyOf(uint id) { return "key:" + id.ToString("D10", CultureInfo.InvariantCulture); }

  static Entry NewEntry(uint id, uint version) {
    ulong seed = ValueSeed(id, version);
    var value = new byte[ValueLength(seed)];
    ValueFill(value, value.Length, seed);
    return new Entry { Key = KeyOf(id), Value = value, Checksum = ValueChecksum(value, 0, value.Length),
                       Version = version };
  }

  static void Fail(string what) {
    Console.Out.Flush();
    Console.Error.WriteLine("cache: VERIFY FAILED (mono): " + what);
    Environment.Exit(1);
  }

  static Request Parse(string text) {
    string[] parts = text.Split(' ');
    if (parts.Length != 3)
      return null;
    var r = new Request { Method = parts[0], Protocol = parts[2] };
    string target = parts[1];
    int question = target.IndexOf('?');
    r.Path = question < 0 ? target : target.Substring(0, question);
    r.Key = r.Path.Substring(r.Path.LastIndexOf('/') + 1);
    if (question >= 0) {
      foreach (string field in target.Substring(question + 1).Split('&')) {
        int equals = field.IndexOf('=');
        r.Params.Add(equals < 0 ? new Param(field, "")
                                : new Param(field.Substring(0, equals), field.Substring(equals + 1)));
      }
    }
    return r;
  }

  static Dictionary<string, Entry> table;
  static uint[] versions;
  static ulong updateEvery;

  static int Serve(uint id, ulong number) {
    string text = "GET /cache/" + KeyOf(id) + "?fields=value,version&trace=" +
                  number.ToString(CultureInfo.InvariantCulture) + " HTTP/1.1";
    Request r = Parse(text);
    if (r == null || r.Method != "GET" || r.Protocol != "HTTP/1.1")
      Fail("request " + number + " (entry " + id + ") did not parse");
    ulong trace;
    if (!ulong.TryParse(r.Get("trace"), NumberStyles.None, CultureInfo.InvariantCulture, out trace) ||
        trace != number)
      Fail("request " + number + " (entry " + id + "): wrong trace parameter");
    Entry e;
    if (!table.TryGetValue(r.Key, out e))
      Fail("request " + number + ": entry " + id + " not found");
    byte[] header = Encoding.ASCII.GetBytes("HTTP/1.1 200 OK\r\nContent-Length: " +
                                            e.Value.Length.ToString(CultureInfo.InvariantCulture) +
                                            "\r\nX-Version: " +
                                            e.Version.ToString(CultureInfo.InvariantCulture) + "\r\n\r\n");
    var response = new byte[header.Length + e.Value.Length];
    Buffer.BlockCopy(header, 0, response, 0, header.Length);
    Buffer.BlockCopy(e.Value, 0, response, header.Length, e.Value.Length);
    if (ValueChecksum(response, header.Length, e.Value.Length) != e.Checksum)
      Fail("request " + number + ": entry " + id + "'s value does not match its checksum");
    if (number % updateEvery == 0)
      table[r.Key] = NewEntry(id, ++versions[id]);
    return response.Length;
  }

  static int Verify(uint entries) {
    if (table.Count != (int)entries)
      Fail(table.Count + " entries in the table, expected " + entries);
    var expected = new byte[ValueMin + ValueSpread];
    int count = 0;
    for (uint id = 0; id < entries; id++) {
      string key = KeyOf(id);
      Entry e;
      if (!table.TryGetValue(key, out e) || e.Key != key)
        Fail("entry " + id + " missing or under a wrong key");
      if (e.Version != versions[id])
        Fail("entry " + id + ": an old version (" + e.Version + ")");
      ulong seed = ValueSeed(id, e.Version);
      int length = ValueLength(seed);
      ValueFill(expected, length, seed);
      if (e.Value.Length != length)
        Fail("entry " + id + ": wrong value length");
      for (int i = 0; i < length; i++)
        if (e.Value[i] != expected[i])
          Fail("entry " + id + ": wrong value (version " + e.Version + ")");
      if (ValueChecksum(e.Value, 0, length) != e.Checksum)
        Fail("entry " + id + ": wrong checksum");
      count++;
    }
    return count;
  }

  static double EnvNumber(string name, double fallback, double min, double max) {
    string text = Environment.GetEnvironmentVariable(name);
    if (string.IsNullOrEmpty(text))
      return fallback;
    double v;
    if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out v) || !(v >= min && v <= max)) {
      Console.Error.WriteLine("cache: {0}={1}: expected a number in [{2}, {3}]", name, text, min, max);
      Environment.Exit(2);
    }
    return v;
  }

  // Peak resident set (VmHWM) in MiB, from /proc/self/status.
  static double MaxRssMb() {
    foreach (string line in File.ReadAllLines("/proc/self/status"))
      if (line.StartsWith("VmHWM:"))
        return double.Parse(line.Substring(6).Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
    return 0;
  }

  static string F(string format, double v) { return v.ToString(format, CultureInfo.InvariantCulture); }

  static int Main() {
    long programStart = NowNs();
    uint entries = (uint)EnvNumber("CACHE_ENTRIES", 1800000, 1, 2000000000);
    double seconds = EnvNumber("CACHE_SECONDS", 10, 0.001, 86400);
    updateEvery = (ulong)EnvNumber("CACHE_UPDATE_EVERY", 100, 1, 1e9);

    long buildStart = NowNs();
    table = new Dictionary<string, Entry>((int)entries, StringComparer.Ordinal);
    versions = new uint[entries];
    ulong buckets = 1;
    while (buckets < entries)
      buckets *= 2;
    ulong liveBytes = buckets * 8;
    for (uint id = 0; id < entries; id++) {
      Entry e = NewEntry(id, 0);
      table.Add(e.Key, e);
      liveBytes += 40 + KeyLength + 1 + (ulong)e.Value.Length;
    }
    double buildS = (NowNs() - buildStart) * 1e-9;
    double liveMb = liveBytes / (1024.0 * 1024.0);

    var histogram = new long[Buckets];
    var slow = new List<long>();
    ulong rng = 88172645463325252UL, requests = 0, responseBytes = 0;
    long start = NowNs(), end = start + (long)(seconds * 1e9), previous = start, now;
    do {
      uint id = (uint)(Xorshift64(ref rng) % entries);
      responseBytes += (ulong)Serve(id, ++requests);
      now = NowNs();
      long ns = now - previous;
      if (ns < SlowNs)
        histogram[ns / BucketNs]++;
      else
        slow.Add(ns);
      previous = now;
    } while (now < end);
    double elapsed = (now - start) * 1e-9;

    if (EnvNumber("CACHE_TEST_CORRUPT", 0, 0, 1) != 0) // the verification must catch this
      table[KeyOf(0)].Value[0] ^= 1;
    int verified = Verify(entries);
    slow.Sort();
    Func<double, long> quantile = q => {
      ulong rank = (ulong)(q * requests + 0.999999);
      if (rank < 1) rank = 1;
      if (rank > requests) rank = requests;
      ulong seen = 0;
      for (int i = 0; i < Buckets; i++) {
        seen += (ulong)histogram[i];
        if (seen >= rank)
          return (long)(i + 1) * BucketNs;
      }
      return slow[(int)(rank - seen - 1)];
    };
    long p50 = quantile(0.50), p99 = quantile(0.99), p999 = quantile(0.999), maxNs = 0;
    if (slow.Count > 0) {
      maxNs = slow[slow.Count - 1];
    } else {
      for (int i = Buckets - 1; i >= 0; i--)
        if (histogram[i] != 0) { maxNs = (long)(i + 1) * BucketNs; break; }
    }
    double perS = requests / elapsed;
    ulong updates = requests / updateEvery;

    Console.WriteLine("cache (mono): {0} entries, {1} MB live, built in {2} s", entries, F("F1", liveMb), F("F2", buildS));
    Console.WriteLine("  {0} requests ({1} replacements) in {2} s: {3} requests/s, {4} MB served", requests, updates,
                      F("F2", elapsed), F("F0", perS), F("F1", responseBytes / (1024.0 * 1024.0)));
    Console.WriteLine("  latency: p50 {0} us, p99 {1} us, p99.9 {2} us, slowest {3} ms, {4} over 1 ms", F("F2", p50 / 1e3),
                      F("F2", p99 / 1e3), F("F2", p999 / 1e3), F("F3", maxNs / 1e6), slow.Count);
    Console.WriteLine("  verified {0} entries", verified);
    Console.Out.Flush();

    double wall = (NowNs() - programStart) * 1e-9;
    double cpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    Console.Error.WriteLine(
        "BENCH allocator=mono wall_s=" + F("F3", wall) + " cpu_s=" + F("F3", cpu) + " maxrss_mb=" + F("F1", MaxRssMb()) +
        " entries=" + entries + " live_mb=" + F("F1", liveMb) + " seconds=" + F("F3", elapsed) + " build_s=" + F("F3", buildS) +
        " requests=" + requests + " requests_per_s=" + F("F0", perS) + " updates=" + updates + " p50_ns=" + p50 +
        " p99_ns=" + p99 + " p999_ns=" + p999 + " max_ns=" + maxNs + " over_1ms=" + slow.Count + " verified=" + verified +
        " cycles=" + GC.CollectionCount(0) + " major_cycles=" + GC.CollectionCount(1) +
        " heap_mb=" + F("F1", GC.GetTotalMemory(false) / (1024.0 * 1024.0)));
    return 0;
  }
}
