// metadata.h: memory for Shade's own bookkeeping (span records, bitmaps, arena page tables,
// mark work buffers). It never comes from the C library's malloc, so the collector may use it
// while other threads are stopped inside malloc. Blocks are carved from OS mappings and kept on
// per-size free lists; nothing is returned to the OS.
#ifndef SHADE_ALLOC_METADATA_H
#define SHADE_ALLOC_METADATA_H
#include <stddef.h>

void *metadata_alloc(size_t size); // zeroed, 16-byte aligned; aborts if the OS refuses
void metadata_free(void *p, size_t size);
// Bytes mapped for metadata now: part of the memory Shade holds (the soft limit counts them).
size_t metadata_mapped_bytes(void);
void metadata_after_fork_child(void);
void metadata_lock(void);
void metadata_unlock(void);

#endif
