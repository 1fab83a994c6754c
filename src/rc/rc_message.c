// rc_message.c: how the RC family reports misuse.
//
// One line per misuse, "shade: <call>(<pointer>): <what is wrong> (type <name>)", delivered
// through Shade's message channel (shade_message: the user's handler, or stderr).
#include "rc/rc_internal.h"

#include "base/message.h"

const char *rc_type_name(const struct shade_rc_type *type) {
  return type && type->name ? type->name : "?";
}

void rc_report(const char *call, const void *ptr, const char *what, const char *type_name) {
  if (type_name)
    shade_message("shade: %s(%p): %s (type %s)", call, ptr, what, type_name);
  else
    shade_message("shade: %s(%p): %s", call, ptr, what);
}
