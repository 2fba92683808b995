/* Resolving a model folder's weights files the way diffusers does, and merging
 * the shards into one sorted name -> tensor table after cross-checking the index. */
#include "io/weights.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/json_file.h"
#include "io/path.h"
#include "io/weights_index.h"

typedef struct weights_entry {
    const lcmd_st_tensor *tensor;
    size_t file;
} weights_entry;

struct lcmd_weights {
    char *source;
    lcmd_safetensors **files;
    size_t file_count;
    weights_entry *entries;       /* sorted by tensor name */
    size_t count;
};

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const weights_entry *)a)->tensor->name, ((const weights_entry *)b)->tensor->name);
}

static int cmp_entry_key(const void *key, const void *e)
{
    return strcmp((const char *)key, ((const weights_entry *)e)->tensor->name);
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 || errno != ENOENT;   /* unreadable counts as present: open reports why */
}

/* folder/<base><mid><tail> */
static lcmd_status candidate(const char *folder, const char *base, const char *mid, const char *tail, char **out)
{
    char name[1024];
    int n = snprintf(name, sizeof name, "%s%s%s", base, mid, tail);
    if (n < 0 || (size_t)n >= sizeof name)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: weights file name too long", folder);
    return lcmd_path_join(folder, name, out);
}

/* Entries of all files; for a sharded folder the index says which shard owns each name. */
static lcmd_status build_table(lcmd_weights *w, const lcmd_weights_index *idx)
{
    size_t total = 0;
    for (size_t f = 0; f < w->file_count; f++)
        total += lcmd_safetensors_count(w->files[f]);
    w->entries = malloc((total ? total : 1) * sizeof *w->entries);
    if (!w->entries)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", w->source);
    for (size_t f = 0; f < w->file_count; f++) {
        const lcmd_safetensors *st = w->files[f];
        for (size_t i = 0; i < lcmd_safetensors_count(st); i++) {
            const lcmd_st_tensor *t = lcmd_safetensors_at(st, i);
            if (idx) {
                const char *owner = lcmd_weights_index_shard_of(idx, t->name);
                if (!owner)
                    return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s' is not listed in the index %s",
                                          lcmd_safetensors_label(st), t->name, w->source);
                if (strcmp(owner, idx->shards[f]) != 0)
                    return lcmd_set_error(LCMD_ERR_FORMAT, "%s: shard %s holds tensor '%s', but the index lists it under %s",
                                          w->source, idx->shards[f], t->name, owner);
            }
            w->entries[w->count].tensor = t;
            w->entries[w->count].file = f;
            w->count++;
        }
    }
    qsort(w->entries, w->count, sizeof *w->entries, cmp_entry);
    return LCMD_OK;
}

static lcmd_status open_sharded(lcmd_weights *w, const char *folder)
{
    char *text;
    size_t len;
    LCMD_TRY(lcmd_read_small_file(w->source, LCMD_JSON_DEFAULT_MAX_BYTES, &text, &len));
    lcmd_weights_index *idx = NULL;
    lcmd_status s = lcmd_weights_index_parse(text, len, w->source, &idx);
    free(text);
    if (s)
        return s;
    w->files = calloc(idx->shard_count, sizeof *w->files);
    if (!w->files)
        s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", w->source);
    for (size_t f = 0; !s && f < idx->shard_count; f++) {
        char *path = NULL;
        s = lcmd_path_join(folder, idx->shards[f], &path);
        if (!s)
            s = lcmd_safetensors_open(path, &w->files[f]);
        if (s == LCMD_ERR_IO) {   /* keep the reason, add which index wanted the shard */
            char why[512];
            snprintf(why, sizeof why, "%s", lcmd_last_error());
            s = lcmd_set_error(LCMD_ERR_IO, "%s (a shard listed in %s)", why, w->source);
        }
        free(path);
        if (!s)
            w->file_count++;
    }
    for (size_t k = 0; !s && k < idx->key_count; k++) {
        size_t f = idx->key_shard[k];
        if (!lcmd_safetensors_find(w->files[f], idx->keys[k]))
            s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: the index lists tensor '%s' in shard %s, which does not contain it",
                               w->source, idx->keys[k], idx->shards[f]);
    }
    if (!s)
        s = build_table(w, idx);
    lcmd_weights_index_free(idx);
    return s;
}

static lcmd_status open_single(lcmd_weights *w)
{
    w->files = calloc(1, sizeof *w->files);
    if (!w->files)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", w->source);
    LCMD_TRY(lcmd_safetensors_open(w->source, &w->files[0]));
    w->file_count = 1;
    return build_table(w, NULL);
}

/* Picks the first existing candidate in diffusers' order; *sharded tells which kind.
 * *path stays NULL when none exists. */
static lcmd_status resolve(const char *folder, const char *base, const char *variant, char **path, int *sharded)
{
    char mid[300];
    *path = NULL;
    const char *index_tails[2] = {".safetensors.index.json", NULL};
    char new_index[300], legacy_index[300];
    if (variant) {
        snprintf(new_index, sizeof new_index, ".safetensors.index.%s.json", variant);
        snprintf(legacy_index, sizeof legacy_index, ".safetensors.%s.index.json", variant);
        index_tails[0] = new_index;
        index_tails[1] = legacy_index;
    }
    for (int i = 0; i < 2 && index_tails[i]; i++) {
        LCMD_TRY(candidate(folder, base, "", index_tails[i], path));
        if (file_exists(*path)) {
            *sharded = 1;
            return LCMD_OK;
        }
        free(*path);
        *path = NULL;
    }
    snprintf(mid, sizeof mid, "%s%s", variant ? "." : "", variant ? variant : "");
    LCMD_TRY(candidate(folder, base, mid, ".safetensors", path));
    if (file_exists(*path)) {
        *sharded = 0;
        return LCMD_OK;
    }
    free(*path);
    *path = NULL;
    return LCMD_OK;
}

static lcmd_status check_names(const char *fn, const char *folder, const char *base, const char *variant)
{
    if (!folder)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: folder is NULL", fn);
    if (base && (!lcmd_path_is_plain_name(base) || strlen(base) > 200))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s: base name '%s' is not a plain file name", fn, folder, base);
    if (variant && (!lcmd_path_is_plain_name(variant) || strlen(variant) > 200))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: %s: variant '%s' is not a plain name", fn, folder, variant);
    return LCMD_OK;
}

static lcmd_status open_resolved(char *path, int sharded, const char *folder, lcmd_weights **out)
{
    lcmd_weights *w = calloc(1, sizeof *w);
    if (!w) {
        free(path);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", folder);
    }
    w->source = path;
    lcmd_status s = sharded ? open_sharded(w, folder) : open_single(w);
    if (s) {
        lcmd_weights_close(w);
        return s;
    }
    *out = w;
    return LCMD_OK;
}

lcmd_status lcmd_weights_open_named(const char *folder, const char *base, const char *variant, lcmd_weights **out)
{
    LCMD_CHECK_ARG(out, "lcmd_weights_open_named", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(base, "lcmd_weights_open_named", "base is NULL");
    LCMD_TRY(check_names("lcmd_weights_open_named", folder, base, variant));
    char *path;
    int sharded = 0;
    LCMD_TRY(resolve(folder, base, variant, &path, &sharded));
    if (!path)
        return lcmd_set_error(LCMD_ERR_IO, "%s: no %s%s%s.safetensors or its .index.json", folder, base,
                              variant ? "." : "", variant ? variant : "");
    return open_resolved(path, sharded, folder, out);
}

lcmd_status lcmd_weights_open(const char *folder, const char *variant, lcmd_weights **out)
{
    LCMD_CHECK_ARG(out, "lcmd_weights_open", "out is NULL");
    *out = NULL;
    LCMD_TRY(check_names("lcmd_weights_open", folder, NULL, variant));
    static const char *const bases[] = {LCMD_WEIGHTS_BASE_DIFFUSERS, LCMD_WEIGHTS_BASE_TRANSFORMERS};
    for (size_t i = 0; i < sizeof bases / sizeof *bases; i++) {
        char *path;
        int sharded = 0;
        LCMD_TRY(resolve(folder, bases[i], variant, &path, &sharded));
        if (path)
            return open_resolved(path, sharded, folder, out);
    }
    const char *v = variant ? variant : "", *dot = variant ? "." : "";
    return lcmd_set_error(LCMD_ERR_IO, "%s: no weights: neither %s%s%s.safetensors nor %s%s%s.safetensors (or a sharded .index.json)",
                          folder, bases[0], dot, v, bases[1], dot, v);
}

void lcmd_weights_close(lcmd_weights *w)
{
    if (!w)
        return;
    for (size_t f = 0; f < w->file_count; f++)
        lcmd_safetensors_close(w->files[f]);
    free(w->files);
    free(w->entries);
    free(w->source);
    free(w);
}

const char *lcmd_weights_source(const lcmd_weights *w) { return w ? w->source : ""; }

size_t lcmd_weights_count(const lcmd_weights *w) { return w ? w->count : 0; }

const lcmd_st_tensor *lcmd_weights_at(const lcmd_weights *w, size_t i, const lcmd_safetensors **file)
{
    if (!w || i >= w->count)
        return NULL;
    if (file)
        *file = w->files[w->entries[i].file];
    return w->entries[i].tensor;
}

const lcmd_st_tensor *lcmd_weights_find(const lcmd_weights *w, const char *name, const lcmd_safetensors **file)
{
    if (!w || !name)
        return NULL;
    const weights_entry *e = bsearch(name, w->entries, w->count, sizeof *w->entries, cmp_entry_key);
    if (!e)
        return NULL;
    if (file)
        *file = w->files[e->file];
    return e->tensor;
}

size_t lcmd_weights_file_count(const lcmd_weights *w) { return w ? w->file_count : 0; }

const lcmd_safetensors *lcmd_weights_file(const lcmd_weights *w, size_t i)
{
    return w && i < w->file_count ? w->files[i] : NULL;
}
