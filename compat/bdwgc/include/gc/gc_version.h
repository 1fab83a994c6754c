/* gc_version.h (Shade's bdwgc-compatible headers): the bdwgc release whose interface these
 * headers and Shade's libgc.so.1 provide. Only meaningful after gc.h has started (GC_H). */
#if defined(GC_H)
#ifndef GC_VERSION_MAJOR
#define GC_VERSION_MAJOR 8
#define GC_VERSION_MINOR 2
#define GC_VERSION_MICRO 2
#endif
#define GC_SHADE_LAYER 1 /* this gc.h is Shade's: libgc.so.1 runs on Shade's collector */
#endif
