/* liblcmd: version of the headers and of the library. */
#ifndef LCMD_VERSION_H
#define LCMD_VERSION_H

#include <lcmd/lcmd_export.h>

#define LCMD_VERSION_MAJOR 0
#define LCMD_VERSION_MINOR 1
#define LCMD_VERSION_PATCH 0
/** MAJOR * 10000 + MINOR * 100 + PATCH, for compile-time comparisons. */
#define LCMD_VERSION_NUMBER (LCMD_VERSION_MAJOR * 10000 + LCMD_VERSION_MINOR * 100 + LCMD_VERSION_PATCH)
#define LCMD_VERSION_STRING "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/** Version of the library actually loaded, as LCMD_VERSION_NUMBER encodes it. Compare
 *  with LCMD_VERSION_NUMBER to detect a header/library mismatch. */
LCMD_API unsigned lcmd_version(void);

/** Version of the loaded library as "MAJOR.MINOR.PATCH"; static storage. */
LCMD_API const char *lcmd_version_string(void);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_VERSION_H */
