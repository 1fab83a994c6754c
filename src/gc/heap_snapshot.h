// heap_snapshot.h: the heap as a V8 .heapsnapshot (heap_snapshot.c), for "why is this alive?".
#ifndef SHADE_GC_HEAP_SNAPSHOT_H
#define SHADE_GC_HEAP_SNAPSHOT_H

// A full collection, and in its pause (world stopped, live = marked) the snapshot written to fd
// with write(2). The caller holds no Shade lock. Returns 0 or an errno (ENOMEM, or write's).
int heap_snapshot_write(int fd);

#endif
