#include <lcmd/version.h>
#include "lcmd_config.h"

/* the header and the build file state the version; a mismatch is a build error */
_Static_assert(sizeof(LCMD_VERSION_STRING) == sizeof(LCMD_VERSION_MESON),
               "include/lcmd/version.h and meson.build disagree on the version");

unsigned lcmd_version(void) { return LCMD_VERSION_NUMBER; }

const char *lcmd_version_string(void) { return LCMD_VERSION_STRING; }
