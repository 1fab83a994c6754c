// scavenger.h: the background thread that gives free pages back to the OS and runs idle and
// periodic collections (see scavenger.c for the policy).
#ifndef SHADE_GC_SCAVENGER_H
#define SHADE_GC_SCAVENGER_H
#include "base/base.h"

void scavenger_start(void); // idempotent; after fork the child starts its own on first wake
void scavenger_wake(void);  // something changed (a cycle ended): look again now
void scavenger_after_fork_child(void);

#endif
