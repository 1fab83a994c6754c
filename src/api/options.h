// options.h: the options in force, from struct shade_options and the environment.
#ifndef SHADE_API_OPTIONS_H
#define SHADE_API_OPTIONS_H
#include "shade.h"

extern struct shade_options shade_options_in_force;

// Fill `out` from `given` (may be NULL), then the environment for what `given` leaves at 0.
void options_resolve(const struct shade_options *given, struct shade_options *out);

#endif
