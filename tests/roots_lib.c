// roots_lib.c: a shared library whose only job is to own globals, for core_roots.
//
// Built twice: as shade_test_roots_lib, linked into core_roots, and as shade_test_roots_module
// (SHADE_TEST_ROOTS_MODULE), which core_roots dlopens after Shade has started. A pointer stored
// in either library's data or bss must keep its object alive. The library does not use Shade.
#include <stddef.h>

#ifdef SHADE_TEST_ROOTS_MODULE
#define ROOTS_LIB_NAME(name) roots_module_##name
#else
#define ROOTS_LIB_NAME(name) roots_lib_##name
#endif

// In .bss (zero-initialised) and in .data (initialised), so both segments are exercised.
static void *volatile bss_slot;
static void *volatile data_slot = (void *)&bss_slot;

void ROOTS_LIB_NAME(set_bss)(void *p) { bss_slot = p; }
void *ROOTS_LIB_NAME(get_bss)(void) { return bss_slot; }
void ROOTS_LIB_NAME(set_data)(void *p) { data_slot = p; }
void *ROOTS_LIB_NAME(get_data)(void) { return data_slot; }
