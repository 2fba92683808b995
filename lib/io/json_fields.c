#include "io/json_fields.h"

#include "core/error.h"

json_t *lcmd_json_field(json_t *root, const char *key)
{
    json_t *v = json_object_get(root, key);
    return v && !json_is_null(v) ? v : NULL;
}

lcmd_status lcmd_json_read_int(json_t *root, const char *label, const char *key, int32_t *out)
{
    json_t *v = lcmd_json_field(root, key);
    if (!v) return LCMD_OK;
    if (!json_is_integer(v) || json_integer_value(v) < INT32_MIN || json_integer_value(v) > INT32_MAX)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be an integer", label, key);
    *out = (int32_t)json_integer_value(v);
    return LCMD_OK;
}

lcmd_status lcmd_json_read_bool(json_t *root, const char *label, const char *key, int32_t *out)
{
    json_t *v = lcmd_json_field(root, key);
    if (!v) return LCMD_OK;
    if (!json_is_boolean(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be true or false", label, key);
    *out = json_is_true(v);
    return LCMD_OK;
}

lcmd_status lcmd_json_read_number(json_t *root, const char *label, const char *key, double *out, int32_t *present)
{
    json_t *v = lcmd_json_field(root, key);
    if (present) *present = v != NULL;
    if (!v) return LCMD_OK;
    if (!json_is_number(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be a number", label, key);
    *out = json_number_value(v);
    return LCMD_OK;
}
