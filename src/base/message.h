// message.h: how Shade reports misuse, trace lines and fatal errors: one formatted line handed
// to the user's message handler, or written to stderr.
#ifndef SHADE_API_MESSAGE_H
#define SHADE_API_MESSAGE_H

void shade_message(const char *format, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn)) void shade_fatal(const char *format, ...)
    __attribute__((format(printf, 1, 2)));

#endif
