/* Defaults and checks of the demo options (versioned structs, as every option struct). */
#include <stddef.h>
#include <string.h>

#include "core/error.h"
#include "demo/demo_internal.h"

#define TEACHER_V1 (offsetof(lcmd_demo_teacher_options, vae_channels) + sizeof(int32_t))
#define DATA_V1 (offsetof(lcmd_demo_data_options, resolution) + sizeof(int32_t))

LCMD_API lcmd_status lcmd_demo_teacher_options_init(lcmd_demo_teacher_options *opts)
{
    LCMD_CHECK_ARG(opts, "lcmd_demo_teacher_options_init", "opts is NULL");
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->seed = 0;
    opts->text_hidden_size = 32;
    opts->text_layers = 2;
    opts->unet_channels = 32;
    opts->vae_channels = 16;
    return LCMD_OK;
}

LCMD_API lcmd_status lcmd_demo_data_options_init(lcmd_demo_data_options *opts)
{
    LCMD_CHECK_ARG(opts, "lcmd_demo_data_options_init", "opts is NULL");
    memset(opts, 0, sizeof *opts);
    opts->struct_size = sizeof *opts;
    opts->seed = 0;
    opts->num_shards = 4;
    opts->samples_per_shard = 64;
    opts->resolution = 32;
    return LCMD_OK;
}

static lcmd_status check_range(int64_t v, int64_t lo, int64_t hi, int64_t multiple, const char *fn, const char *field)
{
    if (v < lo || v > hi || v % multiple != 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: opts.%s = %lld must be in [%lld, %lld]%s", fn, field,
                              (long long)v, (long long)lo, (long long)hi,
                              multiple == 2 ? " and even" : multiple > 1 ? " and a multiple of 8" : "");
    return LCMD_OK;
}

lcmd_status demo_teacher_options_resolve(const lcmd_demo_teacher_options *in, lcmd_demo_teacher_options *out,
                                         const char *fn)
{
    lcmd_demo_teacher_options o;
    lcmd_demo_teacher_options_init(&o);
    if (in) {
        if (in->struct_size < TEACHER_V1 || in->struct_size > sizeof o)
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT,
                                  "%s: opts.struct_size = %u (call lcmd_demo_teacher_options_init)", fn,
                                  in->struct_size);
        memcpy(&o, in, in->struct_size);
        o.struct_size = sizeof o;
    }
    LCMD_TRY(check_range(o.text_hidden_size, 2, 1024, 2, fn, "text_hidden_size"));
    LCMD_TRY(check_range(o.text_layers, 1, 24, 1, fn, "text_layers"));
    LCMD_TRY(check_range(o.unet_channels, 8, 1024, 8, fn, "unet_channels"));
    LCMD_TRY(check_range(o.vae_channels, 8, 512, 8, fn, "vae_channels"));
    *out = o;
    return LCMD_OK;
}

lcmd_status demo_data_options_resolve(const lcmd_demo_data_options *in, lcmd_demo_data_options *out, const char *fn)
{
    lcmd_demo_data_options o;
    lcmd_demo_data_options_init(&o);
    if (in) {
        if (in->struct_size < DATA_V1 || in->struct_size > sizeof o)
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT,
                                  "%s: opts.struct_size = %u (call lcmd_demo_data_options_init)", fn, in->struct_size);
        memcpy(&o, in, in->struct_size);
        o.struct_size = sizeof o;
    }
    LCMD_TRY(check_range(o.num_shards, 1, 100000, 1, fn, "num_shards"));
    LCMD_TRY(check_range(o.samples_per_shard, 1, 1000000, 1, fn, "samples_per_shard"));
    LCMD_TRY(check_range(o.resolution, 8, 4096, 1, fn, "resolution"));
    LCMD_TRY(check_range(o.fixed_layout, 0, 1, 1, fn, "fixed_layout"));
    LCMD_TRY(check_range(o.paired_colors, 0, 1, 1, fn, "paired_colors"));
    *out = o;
    return LCMD_OK;
}
