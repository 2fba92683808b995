/* Shard spec expansion: `::` lists, brace ranges and lists, directories. */
#ifndef LCMD_DATA_SPEC_H
#define LCMD_DATA_SPEC_H

#include <stddef.h>
#include <lcmd/status.h>

/* A growable list of owned strings. */
typedef struct lcmd_strlist {
    char **items;
    size_t n, cap;
} lcmd_strlist;

/* Appends a copy of `s[0..len)`. */
lcmd_status lcmd_strlist_push(lcmd_strlist *l, const char *s, size_t len);
/* Frees the strings and the array; leaves an empty list. */
void lcmd_strlist_free(lcmd_strlist *l);

/* Expands `spec` (see include/lcmd/dataset.h) into shard names, appended to `out`:
 * local paths (directories replaced by their shards, sorted) and `pipe:` commands.
 * Local files are not checked here. Errors: LCMD_ERR_FORMAT (bad brace expression,
 * empty spec element), LCMD_ERR_IO (directory unreadable or without shards),
 * LCMD_ERR_OUT_OF_MEMORY; the message names the spec element. */
lcmd_status lcmd_shards_expand(const char *spec, lcmd_strlist *out);

/* Brace expansion alone (exposed for tests): `{a..b}` integer ranges (zero padded to
 * the wider bound when either bound has a leading zero), `{x,y,z}` lists; several
 * braces multiply out, left to right. No nesting. */
lcmd_status lcmd_brace_expand(const char *s, size_t len, lcmd_strlist *out);

#endif /* LCMD_DATA_SPEC_H */
