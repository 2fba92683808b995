/* scheduler_config.json -> lcmd_scheduler_config. */
#include <lcmd/scheduler.h>

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/json_fields.h"
#include "sched/sched_internal.h"

#define CONFIG_V1_SIZE (offsetof(lcmd_scheduler_config, timestep_scaling) + sizeof(double))

lcmd_status lcmd_scheduler_config_init(lcmd_scheduler_config *cfg)
{
    LCMD_CHECK_ARG(cfg, "lcmd_scheduler_config_init", "cfg is NULL");
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = (uint32_t)sizeof *cfg;
    cfg->num_train_timesteps = 1000;
    cfg->beta_start = 0.00085;
    cfg->beta_end = 0.012;
    cfg->beta_schedule = LCMD_BETA_SCALED_LINEAR;
    cfg->prediction_type = LCMD_PREDICT_EPSILON;
    cfg->timestep_spacing = LCMD_SPACING_LEADING;
    cfg->steps_offset = 0;
    cfg->set_alpha_to_one = 1;
    cfg->rescale_betas_zero_snr = 0;
    cfg->clip_sample = 0;
    cfg->clip_sample_range = 1.0;
    cfg->thresholding = 0;
    cfg->dynamic_thresholding_ratio = 0.995;
    cfg->sample_max_value = 1.0;
    cfg->original_inference_steps = 50;
    cfg->timestep_scaling = 10.0;
    return LCMD_OK;
}

lcmd_status lcmd_sched_validate_config(const lcmd_scheduler_config *cfg, const char *fn)
{
    if (!cfg)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: cfg is NULL", fn);
    if (cfg->struct_size < CONFIG_V1_SIZE || cfg->struct_size > sizeof *cfg)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: cfg.struct_size = %u, expected %zu (call lcmd_scheduler_config_init)",
                              fn, cfg->struct_size, sizeof *cfg);
    if (cfg->num_train_timesteps < 2 || cfg->num_train_timesteps > 100000)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: num_train_timesteps = %d must be in [2, 100000]",
                              fn, cfg->num_train_timesteps);
    if (cfg->beta_schedule < LCMD_BETA_LINEAR || cfg->beta_schedule > LCMD_BETA_SQUAREDCOS_CAP_V2)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: beta_schedule = %d is not an lcmd_beta_schedule", fn, (int)cfg->beta_schedule);
    if (cfg->prediction_type < LCMD_PREDICT_EPSILON || cfg->prediction_type > LCMD_PREDICT_SAMPLE)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: prediction_type = %d is not an lcmd_prediction_type", fn, (int)cfg->prediction_type);
    if (!(isfinite(cfg->beta_start) && isfinite(cfg->beta_end)) || cfg->beta_start < 0 || cfg->beta_end < 0 ||
        cfg->beta_start >= 1 || cfg->beta_end >= 1)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: beta_start = %g, beta_end = %g must lie in [0, 1)",
                              fn, cfg->beta_start, cfg->beta_end);
    if (cfg->original_inference_steps < 1)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: original_inference_steps = %d must be >= 1", fn, cfg->original_inference_steps);
    if (!isfinite(cfg->timestep_scaling) || cfg->timestep_scaling < 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: timestep_scaling = %g must be finite and >= 0", fn, cfg->timestep_scaling);
    if (cfg->thresholding && !(cfg->dynamic_thresholding_ratio > 0 && cfg->dynamic_thresholding_ratio <= 1 && cfg->sample_max_value >= 1))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: dynamic_thresholding_ratio = %g must be in (0, 1] and sample_max_value = %g >= 1",
                              fn, cfg->dynamic_thresholding_ratio, cfg->sample_max_value);
    if (cfg->clip_sample && !(cfg->clip_sample_range > 0))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: clip_sample_range = %g must be > 0", fn, cfg->clip_sample_range);
    return LCMD_OK;
}

/* A string key with a fixed set of values; values known to diffusers but not to
 * liblcmd are UNSUPPORTED, anything else is FORMAT (diffusers raises for both). */
static lcmd_status read_enum(const char *label, json_t *root, const char *key, const char *const *names,
                             int count, const char *const *known_unsupported, int *field)
{
    json_t *v = lcmd_json_field(root, key);
    if (!v) return LCMD_OK;
    if (!json_is_string(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: key '%s' must be a string", label, key);
    const char *s = json_string_value(v);
    for (int i = 0; i < count; i++)
        if (strcmp(s, names[i]) == 0) { *field = i; return LCMD_OK; }
    for (int i = 0; known_unsupported && known_unsupported[i]; i++)
        if (strcmp(s, known_unsupported[i]) == 0)
            return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: %s '%s' is not implemented by liblcmd", label, key, s);
    return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: unknown %s '%s'", label, key, s);
}

lcmd_status lcmd_scheduler_config_parse(const char *json, size_t len, const char *label, lcmd_scheduler_config *cfg)
{
    LCMD_CHECK_ARG(json && cfg, "lcmd_scheduler_config_parse", "json or cfg is NULL");
    if (!label) label = "scheduler_config.json";
    if (cfg->struct_size < CONFIG_V1_SIZE || cfg->struct_size > sizeof *cfg)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "lcmd_scheduler_config_parse: cfg.struct_size = %u (call lcmd_scheduler_config_init first)", cfg->struct_size);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: %s (line %d, column %d)", label, jerr.text, jerr.line, jerr.column);
    lcmd_scheduler_config c = *cfg;   /* all or nothing */
    lcmd_status s = LCMD_OK;
    static const char *const schedules[] = {"linear", "scaled_linear", "squaredcos_cap_v2"};
    static const char *const schedules_known[] = {"sigmoid", "exp", NULL};
    static const char *const predictions[] = {"epsilon", "v_prediction", "sample"};
    static const char *const spacings[] = {"leading", "trailing", "linspace"};
    int bs = (int)c.beta_schedule, pt = (int)c.prediction_type, sp = (int)c.timestep_spacing;
    json_t *tb = json_object_get(root, "trained_betas");
    if (!json_is_object(root))
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: not a JSON object", label);
    else if (tb && !json_is_null(tb))
        s = lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: trained_betas is not implemented by liblcmd (use a beta_schedule)", label);
    if (!s) s = lcmd_json_read_int(root, label, "num_train_timesteps", &c.num_train_timesteps);
    if (!s) s = lcmd_json_read_number(root, label, "beta_start", &c.beta_start, NULL);
    if (!s) s = lcmd_json_read_number(root, label, "beta_end", &c.beta_end, NULL);
    if (!s) s = read_enum(label, root, "beta_schedule", schedules, 3, schedules_known, &bs);
    if (!s) s = read_enum(label, root, "prediction_type", predictions, 3, NULL, &pt);
    if (!s) s = read_enum(label, root, "timestep_spacing", spacings, 3, NULL, &sp);
    if (!s) s = lcmd_json_read_int(root, label, "steps_offset", &c.steps_offset);
    if (!s) s = lcmd_json_read_bool(root, label, "set_alpha_to_one", &c.set_alpha_to_one);
    if (!s) s = lcmd_json_read_bool(root, label, "rescale_betas_zero_snr", &c.rescale_betas_zero_snr);
    if (!s) s = lcmd_json_read_bool(root, label, "clip_sample", &c.clip_sample);
    if (!s) s = lcmd_json_read_number(root, label, "clip_sample_range", &c.clip_sample_range, NULL);
    if (!s) s = lcmd_json_read_bool(root, label, "thresholding", &c.thresholding);
    if (!s) s = lcmd_json_read_number(root, label, "dynamic_thresholding_ratio", &c.dynamic_thresholding_ratio, NULL);
    if (!s) s = lcmd_json_read_number(root, label, "sample_max_value", &c.sample_max_value, NULL);
    if (!s) s = lcmd_json_read_int(root, label, "original_inference_steps", &c.original_inference_steps);
    if (!s) s = lcmd_json_read_number(root, label, "timestep_scaling", &c.timestep_scaling, NULL);
    json_decref(root);
    if (s)
        return s;
    c.beta_schedule = (lcmd_beta_schedule)bs;
    c.prediction_type = (lcmd_prediction_type)pt;
    c.timestep_spacing = (lcmd_timestep_spacing)sp;
    char fn[300];
    snprintf(fn, sizeof fn, "%s", label);
    LCMD_TRY(lcmd_sched_validate_config(&c, fn));
    *cfg = c;
    return LCMD_OK;
}

lcmd_status lcmd_scheduler_config_load(const char *path, lcmd_scheduler_config *cfg)
{
    LCMD_CHECK_ARG(path && cfg, "lcmd_scheduler_config_load", "path or cfg is NULL");
    FILE *f = fopen(path, "rb");
    if (!f)
        return lcmd_set_error(LCMD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            if (cap >= (16u << 20)) {   /* a scheduler config is a few hundred bytes */
                free(buf);
                fclose(f);
                return lcmd_set_error(LCMD_ERR_FORMAT, "%s: larger than 16 MiB, not a scheduler config", path);
            }
            cap = cap ? cap * 2 : 4096;
            char *nb = realloc(buf, cap);
            if (!nb) { free(buf); fclose(f); return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path); }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return lcmd_set_error(LCMD_ERR_IO, "%s: read error", path);
    }
    lcmd_status s = lcmd_scheduler_config_parse(buf ? buf : "", len, path, cfg);
    free(buf);
    return s;
}
