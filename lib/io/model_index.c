/* model_index.json -> pipeline class and component list. */
#include "io/model_index.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json_file.h"
#include "io/path.h"

static char *dup_or_null(json_t *v)
{
    return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* *is_component = 0 for pipeline options; a malformed component is an error. */
static lcmd_status parse_component(const char *label, const char *key, json_t *v, lcmd_model_component *c,
                                   int *is_component)
{
    *is_component = 0;
    if (!json_is_array(v) || json_array_size(v) != 2)
        return LCMD_OK;
    json_t *lib = json_array_get(v, 0), *cls = json_array_get(v, 1);
    int strings = json_is_string(lib) && json_is_string(cls), nulls = json_is_null(lib) && json_is_null(cls);
    if (!strings && !nulls)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: component '%s' must be [library, class] strings or [null, null]",
                              label, key);
    if (!lcmd_path_is_plain_name(key))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: component name '%s' is not a folder name inside the pipeline",
                              label, key);
    c->name = strdup(key);
    c->library = dup_or_null(lib);
    c->class_name = dup_or_null(cls);
    if (!c->name || (strings && (!c->library || !c->class_name)))
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    *is_component = 1;
    return LCMD_OK;
}

static lcmd_status parse_root(const char *label, json_t *root, lcmd_model_index *mi)
{
    if (!json_is_object(root))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: not a JSON object", label);
    json_t *cls = json_object_get(root, "_class_name"), *ver = json_object_get(root, "_diffusers_version");
    if (!json_is_string(cls))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: '_class_name' is missing or not a string", label);
    if (ver && !json_is_string(ver))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: '_diffusers_version' is not a string", label);
    if (!(mi->class_name = strdup(json_string_value(cls))) || (ver && !(mi->diffusers_version = dup_or_null(ver))))
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    mi->components = calloc(json_object_size(root), sizeof *mi->components);
    if (!mi->components)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (key[0] == '_')
            continue;
        int is_component = 0;
        lcmd_status s = parse_component(label, key, v, &mi->components[mi->count], &is_component);
        if (is_component || s)
            mi->count++;   /* counted even on failure so that free releases partial strings */
        if (s)
            return s;
    }
    return LCMD_OK;
}

lcmd_status lcmd_model_index_parse(const char *json, size_t len, const char *label, lcmd_model_index **out)
{
    LCMD_CHECK_ARG(out, "lcmd_model_index_parse", "out is NULL");
    *out = NULL;
    if (!label)
        label = "model_index.json";
    json_t *root;
    LCMD_TRY(lcmd_json_parse_buffer(json, len, label, &root));
    lcmd_model_index *mi = calloc(1, sizeof *mi);
    lcmd_status s = mi ? parse_root(label, root, mi) : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    json_decref(root);
    if (s) {
        lcmd_model_index_free(mi);
        return s;
    }
    *out = mi;
    return LCMD_OK;
}

lcmd_status lcmd_model_index_load(const char *folder, lcmd_model_index **out)
{
    LCMD_CHECK_ARG(out, "lcmd_model_index_load", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(folder, "lcmd_model_index_load", "folder is NULL");
    char *path, *text;
    size_t len;
    LCMD_TRY(lcmd_path_join(folder, "model_index.json", &path));
    lcmd_status s = lcmd_read_small_file(path, LCMD_JSON_DEFAULT_MAX_BYTES, &text, &len);
    if (!s) {
        s = lcmd_model_index_parse(text, len, path, out);
        free(text);
    }
    free(path);
    return s;
}

const lcmd_model_component *lcmd_model_index_find(const lcmd_model_index *mi, const char *name)
{
    if (!mi || !name)
        return NULL;
    for (size_t i = 0; i < mi->count; i++)
        if (strcmp(mi->components[i].name ? mi->components[i].name : "", name) == 0)
            return &mi->components[i];
    return NULL;
}

void lcmd_model_index_free(lcmd_model_index *mi)
{
    if (!mi)
        return;
    for (size_t i = 0; i < mi->count; i++) {
        free(mi->components[i].name);
        free(mi->components[i].library);
        free(mi->components[i].class_name);
    }
    free(mi->components);
    free(mi->class_name);
    free(mi->diffusers_version);
    free(mi);
}
