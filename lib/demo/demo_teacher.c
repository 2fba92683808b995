/* lcmd_demo_write_teacher: the demo StableDiffusionPipeline folder, component by
 * component (the tokenizer first: its size is the text encoder's vocabulary). */
#include "context_internal.h"
#include "core/error.h"
#include "core/log.h"
#include "demo/demo_internal.h"

#define FN "lcmd_demo_write_teacher"

LCMD_API lcmd_status lcmd_demo_write_teacher(lcmd_context *ctx, const char *folder,
                                             const lcmd_demo_teacher_options *opts)
{
    LCMD_CHECK_ARG(ctx, FN, "ctx is NULL");
    LCMD_CHECK_ARG(folder && *folder, FN, "folder is NULL or empty");
    lcmd_demo_teacher_options o;
    LCMD_TRY(demo_teacher_options_resolve(opts, &o, FN));
    LCMD_TRY(demo_make_folder(folder));
    int32_t vocab_size = 0;
    LCMD_TRY(demo_write_tokenizer(folder, &vocab_size));
    LCMD_TRY(demo_write_scheduler(folder));
    LCMD_TRY(demo_write_text_encoder(folder, &o, vocab_size));
    LCMD_TRY(demo_write_vae(folder, &o));
    LCMD_TRY(demo_write_unet(folder, &o));
    /* model_index.json last: a folder that has it is complete */
    LCMD_TRY(demo_write_model_index(folder));
    lcmd_log(&ctx->log, LCMD_LOG_INFO, "%s: wrote the demo teacher (vocabulary %d, seed %llu)", folder,
             (int)vocab_size, (unsigned long long)o.seed);
    return LCMD_OK;
}
