// verify.h: the heap verifier (Go's checkmark mode), on with SHADE_VERIFY=1.
#ifndef SHADE_GC_VERIFY_H
#define SHADE_GC_VERIFY_H
#include "gc/threads.h"

// World stopped, marking finished: re-mark from the roots, serially, with separate check bits,
// and abort with a message naming the object if something reachable was left unmarked.
void verify_marking(struct shade_thread *self, uintptr_t self_stack_pointer);

#endif
