/* Shard index: validated with jansson, then flattened into sorted arrays so that
 * lookups are binary searches and the JSON tree can be dropped. */
#include "io/weights_index.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json_file.h"
#include "io/path.h"

typedef struct key_ref {
    const char *key, *shard;
} key_ref;

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int cmp_key_ref(const void *a, const void *b)
{
    return strcmp(((const key_ref *)a)->key, ((const key_ref *)b)->key);
}

/* Checks every entry of weight_map and collects (key, shard) pairs pointing into the tree. */
static lcmd_status collect_entries(const char *label, json_t *map, key_ref *refs)
{
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v) {
        if (!json_is_string(v))
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: weight_map['%s'] is not a string", label, key);
        const char *shard = json_string_value(v);
        if (!lcmd_path_is_plain_name(shard))
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: weight_map['%s'] = '%s' is not a file name in the same folder",
                                  label, key, shard);
        if (!*key || strcmp(key, "__metadata__") == 0)
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: weight_map has an invalid tensor name '%s'", label, key);
        refs[i].key = key;
        refs[i].shard = shard;
        i++;
    }
    return LCMD_OK;
}

static lcmd_status flatten(lcmd_weights_index *idx, key_ref *refs, size_t n, const char *label)
{
    const char **names = malloc(n * sizeof *names);
    idx->keys = calloc(n, sizeof *idx->keys);
    idx->key_shard = calloc(n, sizeof *idx->key_shard);
    idx->shards = calloc(n, sizeof *idx->shards);
    lcmd_status s = names && idx->keys && idx->key_shard && idx->shards
        ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    if (!s) {
        qsort(refs, n, sizeof *refs, cmp_key_ref);
        for (size_t i = 0; i < n; i++)
            names[i] = refs[i].shard;
        qsort(names, n, sizeof *names, cmp_str_ptr);
        for (size_t i = 0; !s && i < n; i++) {
            if (i > 0 && strcmp(names[i], names[i - 1]) == 0)
                continue;
            if (!(idx->shards[idx->shard_count] = strdup(names[i])))
                s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
            else
                idx->shard_count++;
        }
    }
    for (size_t i = 0; !s && i < n; i++) {
        char **hit = bsearch(&refs[i].shard, idx->shards, idx->shard_count, sizeof *idx->shards, cmp_str_ptr);
        idx->key_shard[i] = hit ? (size_t)(hit - idx->shards) : 0;
        if (!(idx->keys[i] = strdup(refs[i].key)))
            s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
        else
            idx->key_count++;
    }
    free(names);
    return s;
}

lcmd_status lcmd_weights_index_parse(const char *json, size_t len, const char *label, lcmd_weights_index **out)
{
    LCMD_CHECK_ARG(out, "lcmd_weights_index_parse", "out is NULL");
    *out = NULL;
    if (!label)
        label = "<weights index>";
    json_t *root;
    LCMD_TRY(lcmd_json_parse_buffer(json, len, label, &root));
    lcmd_status s = LCMD_OK;
    json_t *map = json_object_get(root, "weight_map"), *meta = json_object_get(root, "metadata");
    if (!json_is_object(root))
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: not a JSON object", label);
    else if (!json_is_object(map))
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: 'weight_map' is missing or not an object", label);
    else if (json_object_size(map) == 0)
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: 'weight_map' is empty", label);
    else if (meta && !json_is_object(meta))
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: 'metadata' is not an object", label);
    size_t n = s ? 0 : json_object_size(map);
    key_ref *refs = s ? NULL : malloc(n * sizeof *refs);
    lcmd_weights_index *idx = s ? NULL : calloc(1, sizeof *idx);
    if (!s && (!refs || !idx))
        s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    if (!s)
        s = collect_entries(label, map, refs);
    if (!s)
        s = flatten(idx, refs, n, label);
    free(refs);
    json_decref(root);
    if (s) {
        lcmd_weights_index_free(idx);
        return s;
    }
    *out = idx;
    return LCMD_OK;
}

const char *lcmd_weights_index_shard_of(const lcmd_weights_index *idx, const char *name)
{
    if (!idx || !name)
        return NULL;
    char **hit = bsearch(&name, idx->keys, idx->key_count, sizeof *idx->keys, cmp_str_ptr);
    return hit ? idx->shards[idx->key_shard[hit - idx->keys]] : NULL;
}

void lcmd_weights_index_free(lcmd_weights_index *idx)
{
    if (!idx)
        return;
    for (size_t i = 0; i < idx->key_count; i++)
        free(idx->keys[i]);
    for (size_t i = 0; i < idx->shard_count; i++)
        free(idx->shards[i]);
    free(idx->keys);
    free(idx->key_shard);
    free(idx->shards);
    free(idx);
}
