#!/usr/bin/env python3
"""ctypes_demo.py <libshade_ctypes_demo.so> [MiB=512] [--free-os-memory]

The seed's DLL scenario: Python calls a C library that uses Shade inside, and looks at its own RSS
after the call returns. Prints RSS (from /proc/self/statm) before the call, right after it, and
0.25 / 0.5 / 1 / 2 / 3 s later. With --free-os-memory, the program calls
demo_free_os_memory() (shade_free_os_memory) right after the call instead of just waiting.
"""
import ctypes
import os
import sys
import time


def rss_mib():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1048576.0


def main():
    library = ctypes.CDLL(sys.argv[1])
    mib = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 512
    explicit = "--free-os-memory" in sys.argv
    library.demo_process.argtypes = [ctypes.c_size_t]
    library.demo_process.restype = ctypes.c_uint64
    library.demo_heap_resident.restype = ctypes.c_uint64

    before = rss_mib()
    start = time.monotonic()
    checksum = library.demo_process(mib)
    returned = time.monotonic()
    print(f"ctypes demo: {mib} MiB of temporary Shade objects, checksum {checksum:016x}, "
          f"call took {returned - start:.2f} s")
    print(f"  rss before the call     {before:8.1f} MiB")
    print(f"  rss when it returned    {rss_mib():8.1f} MiB")
    if explicit:
        library.demo_free_os_memory()
        print(f"  after free_os_memory    {rss_mib():8.1f} MiB")
    for at in (0.25, 0.5, 1.0, 2.0, 3.0):
        time.sleep(max(0.0, returned + at - time.monotonic()))
        print(f"  rss {at:4.2f} s after return {rss_mib():8.1f} MiB "
              f"(Shade heap resident {library.demo_heap_resident() / 1048576.0:.1f} MiB)")


if __name__ == "__main__":
    main()
