/* liblcmd: the export macro for public functions. */
#ifndef LCMD_EXPORT_H
#define LCMD_EXPORT_H

#if defined(_WIN32)
#  if defined(LCMD_BUILDING)
#    define LCMD_API __declspec(dllexport)
#  else
#    define LCMD_API __declspec(dllimport)
#  endif
#elif defined(__GNUC__) && __GNUC__ >= 4
#  define LCMD_API __attribute__((visibility("default")))
#else
#  define LCMD_API
#endif

#endif /* LCMD_EXPORT_H */
