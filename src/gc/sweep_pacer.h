// sweep_pacer.h: proportional sweeping, so that every span is swept before the next cycle
// starts (see sweep_pacer.c).
#ifndef SHADE_GC_SWEEP_PACER_H
#define SHADE_GC_SWEEP_PACER_H
#include "base/base.h"

// End of a cycle, world stopped, every small span just made unswept, the pacer's next trigger
// set: sweep `unswept_pages` by the time the heap in use grows from where it is to the trigger,
// or to `early_trigger` if that comes first (a young collection's; UINT64_MAX for none).
void sweep_pacer_reset(uint64_t unswept_pages, uint64_t early_trigger);
// The trigger moved between cycles (a new percent, a limit): spread what is left over the new way.
void sweep_pacer_retarget(void);
// A thread took a span (inside its allocation critical section): sweep what the pace asks for.
void sweep_pacer_step(void);
// Sweep termination swept `pages` the pace had not reached, in `ns` (statistics).
void sweep_pacer_note_termination(uint64_t pages, uint64_t ns);
uint64_t sweep_pacer_paced_pages(void);
uint64_t sweep_pacer_termination_pages(void);
uint64_t sweep_pacer_termination_max_ns(void);

#endif
