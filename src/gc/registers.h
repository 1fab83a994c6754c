// registers.h: putting the callee-saved registers where the conservative scan will see them.
//
// setjmp is not enough: glibc mangles rbp, rsp and the return address in a jmp_buf (pointer
// guard), so a pointer living in rbp would be invisible. The registers are stored raw into an
// array in the caller's frame, which lies inside the range scanned from the stack pointer up.
// Caller-saved registers need nothing: the compiler has spilled whatever is live in them around
// the call that led here. (A thread stopped by the signal itself has all its registers in the
// signal frame, above the handler's frame, on the same stack.)
#ifndef SHADE_GC_REGISTERS_H
#define SHADE_GC_REGISTERS_H
#include <stdint.h>

#define REGISTER_SPILL_WORDS 8

#if defined(__x86_64__)
#define SPILL_REGISTERS(words)                                                        \
  __asm__ volatile("movq %%rbx, 0(%0)\n\tmovq %%rbp, 8(%0)\n\tmovq %%r12, 16(%0)\n\t" \
                   "movq %%r13, 24(%0)\n\tmovq %%r14, 32(%0)\n\tmovq %%r15, 40(%0)"   \
                   :                                                                   \
                   : "r"(words)                                                        \
                   : "memory")
#else
#include <ucontext.h>
#define SPILL_REGISTERS(words) __builtin_unwind_init()
#endif

#endif
