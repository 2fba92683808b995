/* File names of the images of one run. */
#ifndef LCMD_GENERATE_OUTPUT_NAMES_H
#define LCMD_GENERATE_OUTPUT_NAMES_H

#include <stddef.h>

/* Image 0 is `output` itself; image i > 0 is `output` with "-i" before its extension
 * (out.png -> out-1.png; a name without extension gets "-i" appended). Returns a
 * malloc'd string, or NULL when out of memory. */
char *output_name(const char *output, int index);

#endif
