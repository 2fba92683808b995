/* Helpers of the demo tests: contexts, temporary folders, file comparison. */
#ifndef LCMD_TEST_DEMO_UTIL_H
#define LCMD_TEST_DEMO_UTIL_H

#include <stddef.h>

#include <lcmd/lcmd.h>

/* a CPU context with 2 threads, warnings only */
lcmd_context *demo_ctx(void);
/* a new empty folder under $TMPDIR (caller frees the string, rm_tree removes it) */
char *temp_folder(void);
void rm_tree(const char *path);
/* 1 when the two trees hold the same relative names with the same bytes */
int same_tree(const char *a, const char *b);
/* 1 when every value is finite */
int all_finite(const float *v, size_t n);

#endif
