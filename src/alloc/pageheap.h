// pageheap.h: free page runs, handed out as spans and taken back with coalescing.
#ifndef SHADE_ALLOC_PAGEHEAP_H
#define SHADE_ALLOC_PAGEHEAP_H
#include "alloc/span.h"

// A span of `pages` pages in state `state` (SPAN_SMALL or SPAN_LARGE), every page mapped to it.
// needs_zeroing tells whether its memory may hold old contents. NULL when the OS refuses memory.
struct span *pageheap_alloc(size_t pages, enum span_state state);
// Give the span's pages back; the record is recycled. Bitmaps must already be freed.
void pageheap_free(struct span *s);

size_t pageheap_in_use_bytes(void); // pages held by in-use spans
size_t pageheap_free_bytes(void);   // pages in free runs (resident or released)

void pageheap_lock(void);
void pageheap_unlock(void);
void pageheap_after_fork_child(void);

#endif
