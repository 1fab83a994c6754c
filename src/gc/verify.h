// verify.h: the heap verifier (Go's checkmark mode), on with SHADE_VERIFY=1.
#ifndef SHADE_GC_VERIFY_H
#define SHADE_GC_VERIFY_H
#include "gc/threads.h"

// World stopped, marking finished: re-mark from the roots, serially, with separate check bits,
// and abort with a message naming the object if something reachable was left unmarked.
// stacks_scanned_once: the marking scanned the stacks only early, while the program ran (a
// termination that stops no thread); then a stack word is followed only if it names a marked
// object (verify.c says why).
void verify_marking(struct shade_thread *self, uintptr_t self_stack_pointer,
                    bool stacks_scanned_once);
// The verifier's marker found a slot of an object that will be gen2 pointing to a younger, marked
// object, and the slot's card clean (generations.c's invariant broken): reports it and stops.
__attribute__((noreturn, cold)) void verify_card_clean(uintptr_t slot, uintptr_t target);
// Stack words naming an unmarked object, not followed, since start-up.
uint64_t verify_excused_words(void);

#endif
