/* lcmd_trainer_step: the micro-step on images and captions (spec §6 steps 2–3, §8.1):
 * tokenize, encode the captions, encode the images and draw their latents, then the
 * step on latents. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "train/train_internal.h"

#define FN "lcmd_trainer_step"
#define SET_FN "lcmd_trainer_set_encoders"

#define STEP_BATCH_V1 (offsetof(lcmd_step_batch, guidance) + sizeof(const float *))

lcmd_status lcmd_step_batch_init(lcmd_step_batch *b)
{
    LCMD_CHECK_ARG(b, "lcmd_step_batch_init", "b is NULL");
    memset(b, 0, sizeof *b);
    b->struct_size = sizeof *b;
    return LCMD_OK;
}

lcmd_status lcmd_train_encode_captions(lcmd_tokenizer *tok, lcmd_text_encoder *te, const char *const *captions,
                                       int64_t n, int64_t L, float *embeds)
{
    int32_t *ids = malloc((size_t)(n * L) * sizeof *ids);
    if (!ids) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
    lcmd_status s = lcmd_tokenizer_encode_padded(tok, captions, (size_t)n, ids);
    if (!s) {
        lcmd_text_encoder_outputs out;
        lcmd_text_encoder_outputs_init(&out);
        out.last_hidden_state = embeds;
        s = lcmd_text_encoder_forward(te, ids, n, L, &out);
    }
    free(ids);
    return s;
}

lcmd_status lcmd_train_encode_images(lcmd_vae *vae, int64_t B, int64_t H, int64_t W, const float *images,
                                     const float *xi, float *logvar, float *latents)
{
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    LCMD_TRY(lcmd_vae_get_info(vae, &vi));
    size_t n = (size_t)(B * vi.latent_channels * (H / vi.downsample_factor) * (W / vi.downsample_factor));
    LCMD_TRY(lcmd_vae_encode(vae, B, H, W, images, latents, logvar));
    LCMD_TRY(lcmd_vae_sample(vae, n, latents, logvar, xi, 0, 0, latents));   /* in place of the mean */
    return lcmd_vae_scale_latents(vae, n, latents);
}

lcmd_status lcmd_trainer_set_encoders(lcmd_trainer *tr, lcmd_tokenizer *tokenizer, lcmd_text_encoder *text_encoder,
                                      lcmd_vae *vae)
{
    LCMD_CHECK_ARG(tr && tokenizer && text_encoder && vae, SET_FN, "tr, tokenizer, text_encoder or vae is NULL");
    const lcmd_unet_config *c = &lcmd_unet_model_of(tr->student)->cfg;
    lcmd_text_encoder_info ti;
    lcmd_text_encoder_info_init(&ti);
    LCMD_TRY(lcmd_text_encoder_get_info(text_encoder, &ti));
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    LCMD_TRY(lcmd_vae_get_info(vae, &vi));
    LCMD_CHECK_ARG(ti.hidden_size == c->cross_attention_dim, SET_FN,
                   "the text encoder's hidden_size is %d, the UNet's cross_attention_dim %d", ti.hidden_size,
                   c->cross_attention_dim);
    LCMD_CHECK_ARG(vi.latent_channels == c->in_channels, SET_FN,
                   "the VAE's latent_channels is %d, the UNet's in_channels %d", vi.latent_channels, c->in_channels);
    size_t L = lcmd_tokenizer_model_max_length(tokenizer);
    LCMD_CHECK_ARG(L >= 2 && L <= (size_t)ti.max_position_embeddings, SET_FN,
                   "the tokenizer's model_max_length %zu does not fit the text encoder (%d positions)", L,
                   ti.max_position_embeddings);
    float *uncond = malloc(L * (size_t)ti.hidden_size * sizeof *uncond);
    if (!uncond) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", SET_FN);
    const char *empty[1] = {""};
    lcmd_status s = lcmd_train_encode_captions(tokenizer, text_encoder, empty, 1, (int64_t)L, uncond);
    if (s) {
        free(uncond);
        return s;
    }
    free(tr->uncond);
    tr->uncond = uncond;
    tr->seq_len = (int64_t)L;
    tr->tok = tokenizer;
    tr->text = text_encoder;
    tr->vae = vae;
    return LCMD_OK;
}

static lcmd_status check_batch(const lcmd_trainer *tr, const lcmd_step_batch *in, const lcmd_vae_info *vi)
{
    LCMD_CHECK_ARG(in->struct_size >= STEP_BATCH_V1 && in->struct_size <= sizeof *in, FN,
                   "in.struct_size = %u (call lcmd_step_batch_init)", in->struct_size);
    LCMD_CHECK_ARG(tr->vae && tr->text && tr->tok, FN, "no encoders: call lcmd_trainer_set_encoders first");
    LCMD_CHECK_ARG(in->batch >= 1 && in->batch <= 65536, FN, "batch = %lld", (long long)in->batch);
    int64_t f = vi->downsample_factor;
    LCMD_CHECK_ARG(in->height >= f && in->width >= f && in->height % f == 0 && in->width % f == 0, FN,
                   "images of %lld x %lld: height and width must be positive multiples of the VAE's factor %lld",
                   (long long)in->height, (long long)in->width, (long long)f);
    LCMD_CHECK_ARG(in->images && in->captions, FN, "images or captions is NULL");
    for (int64_t i = 0; i < in->batch; i++)
        LCMD_CHECK_ARG(in->captions[i], FN, "captions[%lld] is NULL", (long long)i);
    return LCMD_OK;
}

lcmd_status lcmd_trainer_step(lcmd_trainer *tr, const lcmd_step_batch *in, lcmd_step_report *report)
{
    LCMD_CHECK_ARG(tr && in, FN, "tr or in is NULL");
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    if (tr->vae) LCMD_TRY(lcmd_vae_get_info(tr->vae, &vi));
    LCMD_TRY(check_batch(tr, in, &vi));
    int64_t B = in->batch, L = tr->seq_len, D = lcmd_unet_model_of(tr->student)->cfg.cross_attention_dim;
    int64_t C = vi.latent_channels, h = in->height / vi.downsample_factor, w = in->width / vi.downsample_factor;
    size_t nl = (size_t)(B * C * h * w), ne = (size_t)(B * L * D);
    float *block = malloc((2 * nl + 2 * ne) * sizeof(float));
    if (!block) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
    float *mean = block, *logvar = mean + nl, *cond = logvar + nl, *uncond = cond + ne;
    for (int64_t b = 0; b < B; b++) memcpy(uncond + b * L * D, tr->uncond, (size_t)(L * D) * sizeof(float));

    lcmd_status s = lcmd_train_encode_captions(tr->tok, tr->text, in->captions, B, L, cond);
    float *xi = NULL;
    if (!s && !in->vae_noise) {
        xi = malloc(nl * sizeof *xi);
        if (!xi) s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", FN);
        else lcmd_train_draw_normal(tr->o.seed, LCMD_TRAIN_DRAW_STREAM(LCMD_TRAIN_DRAW_VAE, tr->micro), xi, nl);
    }
    if (!s)
        s = lcmd_train_encode_images(tr->vae, B, in->height, in->width, in->images, in->vae_noise ? in->vae_noise : xi,
                                     logvar, mean);
    free(xi);
    if (!s) {
        lcmd_step_inputs li;
        lcmd_step_inputs_init(&li);
        li.batch = B;
        li.channels = C;
        li.height = h;
        li.width = w;
        li.latents = mean;
        li.seq_len = L;
        li.embed_dim = D;
        li.cond_embeds = cond;
        li.uncond_embeds = uncond;
        li.noise = in->noise;
        li.ddim_indices = in->ddim_indices;
        li.guidance = in->guidance;
        s = lcmd_trainer_step_latents(tr, &li, report);
    }
    free(block);
    return s;
}

lcmd_status lcmd_trainer_step_dataset(lcmd_trainer *tr, const lcmd_batch *batch, lcmd_step_report *report)
{
    LCMD_CHECK_ARG(tr && batch, "lcmd_trainer_step_dataset", "tr or batch is NULL");
    int32_t n = lcmd_batch_size(batch), r = lcmd_batch_resolution(batch);
    const char **captions = malloc((size_t)(n > 0 ? n : 1) * sizeof *captions);
    if (!captions) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_trainer_step_dataset: out of memory");
    for (int32_t i = 0; i < n; i++) captions[i] = lcmd_batch_caption(batch, i);
    lcmd_step_batch in;
    lcmd_step_batch_init(&in);
    in.batch = n;
    in.height = r;
    in.width = r;
    in.images = lcmd_batch_images(batch);
    in.captions = captions;
    lcmd_status s = lcmd_trainer_step(tr, &in, report);
    free(captions);
    return s;
}

lcmd_status lcmd_trainer_progress(const lcmd_trainer *tr, int64_t *step, int64_t *micro_steps, int64_t *samples_seen)
{
    LCMD_CHECK_ARG(tr, "lcmd_trainer_progress", "tr is NULL");
    if (step) *step = tr->step;
    if (micro_steps) *micro_steps = tr->micro;
    if (samples_seen) *samples_seen = tr->samples;
    return LCMD_OK;
}
