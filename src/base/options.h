// options.h: the settings in force, resolved once by shade_init from struct shade_options and the
// environment (base/options_table.h lists them). Every layer reads shade_options_in_force.
#ifndef SHADE_BASE_OPTIONS_H
#define SHADE_BASE_OPTIONS_H
#include <stdio.h>

#include "shade.h"

extern struct shade_options shade_options_in_force;

// Fill `out` from `given` (may be NULL), then from the environment for what `given` leaves unset,
// then from the defaults. A malformed value is reported (shade_message) and replaced by the
// default. The only reader of the environment in Shade.
void options_resolve(const struct shade_options *given, struct shade_options *out);

// The README's environment table, generated from the table (tests/options checks README.md).
void options_print_markdown(FILE *out);

#endif
