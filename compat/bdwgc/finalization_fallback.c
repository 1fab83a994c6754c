// finalization_fallback.c: weak stand-ins for Shade's finalization calls, so that libgc.so.1
// links against a Shade core built without them. The core's definitions are strong and replace
// these whenever they are present; with these, finalizers never run and links never clear
// (every registration fails with ENOSYS, which the layer reports once per call).
#include <errno.h>

#include "shade.h"

#define WEAK __attribute__((weak, visibility("hidden")))

WEAK int shade_set_finalizer(void *object, shade_finalizer_fn fn, void *data, unsigned flags) {
  (void)object, (void)fn, (void)data, (void)flags;
  errno = ENOSYS;
  return -1;
}
WEAK int shade_get_finalizer(const void *object, shade_finalizer_fn *fn, void **data) {
  (void)object, (void)fn, (void)data;
  return 0;
}
WEAK int shade_run_finalizers(void) { return 0; }
WEAK size_t shade_finalizers_pending(void) { return 0; }
WEAK void shade_set_finalize_on_demand(int on) { (void)on; }
WEAK void shade_set_finalizer_notifier(void (*notifier)(void)) { (void)notifier; }
WEAK int shade_weak_link(void **link, const void *target, unsigned flags) {
  (void)link, (void)target, (void)flags;
  errno = ENOSYS;
  return -1;
}
WEAK int shade_weak_unlink(void **link, unsigned flags) {
  (void)link, (void)flags;
  return 0;
}
WEAK int shade_weak_move(void **link, void **new_link, unsigned flags) {
  (void)link, (void)new_link, (void)flags;
  errno = ENOENT;
  return -1;
}
