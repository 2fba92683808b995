/* Grouping tar members into raw (still encoded) samples by the reference's key rule. */
#ifndef LCMD_DATA_SAMPLE_H
#define LCMD_DATA_SAMPLE_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/status.h>

enum { LCMD_IMAGE_ALIASES = 4, LCMD_CAPTION_ALIASES = 3, LCMD_SLOT_JSON = 7, LCMD_SLOTS = 8 };

/* One member's bytes; `oversized` when it was over the member size limit (no data). */
typedef struct lcmd_member {
    uint8_t *data;
    size_t size;
    int present;
    int oversized;
} lcmd_member;

/* A grouped sample: slots 0..3 image aliases (jpg, png, jpeg, webp), 4..6 caption
 * aliases (text, txt, caption), 7 json. */
typedef struct lcmd_raw_sample {
    char *key;
    lcmd_member slot[LCMD_SLOTS];
} lcmd_raw_sample;

void lcmd_raw_sample_free(lcmd_raw_sample *s);

/* Splits a member path into key length and extension (lower-cased into ext, at most
 * extcap-1 bytes, longer ones truncated). Returns 0 for members to ignore (no dot in
 * the basename, a first path component `__*__` as webdataset skips, empty key). */
int lcmd_member_split(const char *path, size_t *key_len, char *ext, size_t extcap);

/* The slot of a lower-cased extension, or -1 when the sample does not keep it. */
int lcmd_ext_slot(const char *ext);

/* Streaming grouper: feed members in tar order, get finished samples. */
typedef struct lcmd_grouper {
    lcmd_raw_sample *cur;   /* sample being built, NULL before the first member */
    char **exts;            /* extensions seen in cur */
    size_t n_exts, cap_exts;
} lcmd_grouper;

/* Decides whether a member with this key / extension starts a new sample; if so, the
 * finished one is moved to *done (else *done is NULL). Then a fresh current sample is
 * ensured and the extension recorded. Errors: LCMD_ERR_OUT_OF_MEMORY. */
lcmd_status lcmd_grouper_begin(lcmd_grouper *g, const char *key, size_t key_len, const char *ext,
                               lcmd_raw_sample **done);
/* The current sample (after lcmd_grouper_begin). */
lcmd_raw_sample *lcmd_grouper_current(lcmd_grouper *g);
/* Ends the stream (shard end): the current sample, if any, to *done. */
void lcmd_grouper_flush(lcmd_grouper *g, lcmd_raw_sample **done);
/* Frees everything. */
void lcmd_grouper_free(lcmd_grouper *g);

#endif /* LCMD_DATA_SAMPLE_H */
