// headers_compile.c: every header of Shade's bdwgc layer, by both names, in one strict C11 unit.
#include <gc.h>
#include <gc/gc.h>
#include <gc_backptr.h>
#include <gc_disclaim.h>
#include <gc_inline.h>
#include <gc_mark.h>
#include <gc_typed.h>
#include <gc/gc_mark.h>
#include <gc/gc_typed.h>
#include <gc/gc_inline.h>
#include <javaxfc.h>

int main(void) {
  GC_INIT();
  void *list[GC_TINY_FREELISTS] = {0};
  void *p;
  GC_MALLOC_WORDS(p, 3, list);
  return p == NULL;
}
