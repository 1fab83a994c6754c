// large.h: the list of live large objects (one object per span), for sweeping and root scanning.
#ifndef SHADE_ALLOC_LARGE_H
#define SHADE_ALLOC_LARGE_H
#include "alloc/span.h"

void large_add(struct span *s);    // takes the large lock
void large_remove(struct span *s); // caller holds the lock or the world is stopped
void large_lock(void);
void large_unlock(void);
struct span *large_first(void);    // world stopped or lock held
void large_after_fork_child(void);

#endif
