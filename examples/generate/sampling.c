/* The LCM and teacher (DDIM) sampling loops and the VAE decode around them. */
#include "sampling.h"

#include <stdlib.h>
#include <string.h>

void sampling_params_init(sampling_params *p)
{
    memset(p, 0, sizeof *p);
    p->batch = 1;
    p->latent_height = p->latent_width = 64;
    p->num_inference_steps = 4;
    p->guidance_scale = 8.0;
}

void prompt_embeds_size(const lcmd_tokenizer *tok, const lcmd_text_encoder *te, int64_t *seq_len,
                        int64_t *hidden)
{
    lcmd_text_encoder_info info;
    lcmd_text_encoder_info_init(&info);
    *seq_len = tok ? (int64_t)lcmd_tokenizer_model_max_length(tok) : 0;
    *hidden = te && lcmd_text_encoder_get_info(te, &info) == LCMD_OK ? info.hidden_size : 0;
}

lcmd_status encode_prompts(lcmd_tokenizer *tok, lcmd_text_encoder *te, const char *const *prompts, size_t n,
                           float *out)
{
    int64_t seq_len, hidden;
    prompt_embeds_size(tok, te, &seq_len, &hidden);
    if (seq_len < 1 || hidden < 1 || !prompts || !out || n < 1) return LCMD_ERR_INVALID_ARGUMENT;
    int32_t *ids = malloc(n * (size_t)seq_len * sizeof *ids);
    if (!ids) return LCMD_ERR_OUT_OF_MEMORY;
    lcmd_status s = lcmd_tokenizer_encode_padded(tok, prompts, n, ids);
    lcmd_text_encoder_outputs o;
    lcmd_text_encoder_outputs_init(&o);
    o.last_hidden_state = out;
    if (!s) s = lcmd_text_encoder_forward(te, ids, (int64_t)n, seq_len, &o);
    free(ids);
    return s;
}

/* Blocks of four normals one image's latents take on its stream. */
static uint64_t blocks_of(int64_t per_sample)
{
    return ((uint64_t)per_sample + 3) / 4;
}

lcmd_status initial_latents(uint64_t seed, uint64_t first_stream, int64_t batch, int64_t per_sample,
                            float *latents)
{
    for (int64_t b = 0; b < batch; b++) {
        lcmd_status s = lcmd_rng_normal(seed, first_stream + (uint64_t)b, 0, latents + b * per_sample,
                                        (size_t)per_sample);
        if (s) return s;
    }
    return LCMD_OK;   /* init_noise_sigma is 1 for LCMScheduler and DDIM */
}

/* Sizes shared by both loops; fails on a UNet whose output cannot be a latent update. */
static lcmd_status unet_sizes(lcmd_unet *unet, const sampling_params *p, lcmd_unet_info *info,
                              int64_t *per_sample)
{
    lcmd_unet_info_init(info);
    lcmd_status s = lcmd_unet_get_info(unet, info);
    if (s) return s;
    if (!p || p->batch < 1 || p->latent_height < 1 || p->latent_width < 1 || p->num_inference_steps < 1 ||
        info->in_channels != info->out_channels)
        return LCMD_ERR_INVALID_ARGUMENT;
    *per_sample = (int64_t)info->in_channels * p->latent_height * p->latent_width;
    return LCMD_OK;
}

/* [batch, dim] rows of the guidance embedding of w = guidance_scale - 1. */
static float *guidance_rows(double guidance_scale, int64_t batch, int64_t dim, lcmd_status *s)
{
    float *w = malloc((size_t)batch * sizeof *w);
    float *rows = malloc((size_t)(batch * dim) * sizeof *rows);
    *s = w && rows ? LCMD_OK : LCMD_ERR_OUT_OF_MEMORY;
    for (int64_t b = 0; !*s && b < batch; b++) w[b] = (float)(guidance_scale - 1.0);
    if (!*s) *s = lcmd_guidance_scale_embedding(w, batch, dim, rows);
    free(w);
    if (*s) { free(rows); rows = NULL; }
    return rows;
}

/* the noise LCM step k adds to every image: each image's stream continues after its
 * initial latents, so the draw depends on (seed, stream, k) alone */
static lcmd_status step_noise(const sampling_params *p, int32_t k, int64_t per, float *noise)
{
    lcmd_status s = LCMD_OK;
    for (int64_t b = 0; !s && b < p->batch; b++)
        s = lcmd_rng_normal(p->seed, p->first_stream + (uint64_t)b, (uint64_t)(k + 1) * blocks_of(per),
                            noise + b * per, (size_t)per);
    return s;
}

lcmd_status lcm_sample(lcmd_context *ctx, lcmd_unet *unet, const lcmd_scheduler_config *cfg,
                       const float *prompt_embeds, int64_t seq_len, const sampling_params *p, float *latents)
{
    lcmd_unet_info info;
    int64_t per;
    lcmd_status s = unet_sizes(unet, p, &info, &per);
    if (s) return s;
    if (info.time_cond_proj_dim < 1 || !cfg || !prompt_embeds || !latents) return LCMD_ERR_INVALID_ARGUMENT;
    const int64_t n = p->batch * per;
    lcmd_lcm_scheduler *sch = NULL;
    float *cond = guidance_rows(p->guidance_scale, p->batch, info.time_cond_proj_dim, &s);
    float *x = malloc((size_t)n * sizeof *x), *out = malloc((size_t)n * sizeof *out);
    float *noise = malloc((size_t)n * sizeof *noise), *ts = malloc((size_t)p->batch * sizeof *ts);
    int64_t *steps = malloc((size_t)p->num_inference_steps * sizeof *steps);
    if (!s && !(x && out && noise && ts && steps)) s = LCMD_ERR_OUT_OF_MEMORY;
    if (!s) s = lcmd_lcm_scheduler_create(ctx, cfg, &sch);
    if (!s) s = lcmd_lcm_scheduler_set_timesteps(sch, p->num_inference_steps, p->original_inference_steps, 1.0);
    int32_t count = s ? 0 : lcmd_lcm_scheduler_num_timesteps(sch);
    if (!s) s = lcmd_lcm_scheduler_timesteps(sch, steps, (size_t)p->num_inference_steps);
    if (!s) s = initial_latents(p->seed, p->first_stream, p->batch, per, x);

    lcmd_unet_inputs in;
    lcmd_unet_inputs_init(&in);
    in.batch = p->batch;
    in.height = p->latent_height;
    in.width = p->latent_width;
    in.sample = x;
    in.timesteps = ts;
    in.encoder_hidden_states = prompt_embeds;
    in.seq_len = seq_len;
    in.timestep_cond = cond;
    for (int32_t k = 0; !s && k < count; k++) {
        for (int64_t b = 0; b < p->batch; b++) ts[b] = (float)steps[k];
        s = lcmd_unet_forward(unet, &in, out);
        if (!s && k + 1 < count) s = step_noise(p, k, per, noise);
        /* the last step adds no noise: nothing is passed (the buffer holds no draw then) */
        if (!s) s = lcmd_lcm_scheduler_step(sch, out, steps[k], x, p->batch, per, k + 1 < count ? noise : NULL, x, NULL);
    }
    if (!s) memcpy(latents, x, (size_t)n * sizeof *x);   /* the last step returns `denoised` */
    lcmd_lcm_scheduler_destroy(sch);
    free(cond); free(x); free(out); free(noise); free(ts); free(steps);
    return s;
}

/* out = uncond + scale * (cond - uncond), in place over `cond`. */
static void guide(float *cond, const float *uncond, int64_t n, double scale)
{
    const float g = (float)scale;
    for (int64_t i = 0; i < n; i++) cond[i] = uncond[i] + g * (cond[i] - uncond[i]);
}

lcmd_status ddim_sample(lcmd_context *ctx, lcmd_unet *unet, const lcmd_scheduler_config *cfg,
                        const float *prompt_embeds, const float *uncond_embeds, int64_t seq_len,
                        const sampling_params *p, float *latents)
{
    return ddim_sample_from(ctx, unet, cfg, prompt_embeds, uncond_embeds, seq_len, p, -1, NULL, latents);
}

lcmd_status ddim_sample_from(lcmd_context *ctx, lcmd_unet *unet, const lcmd_scheduler_config *cfg,
                             const float *prompt_embeds, const float *uncond_embeds, int64_t seq_len,
                             const sampling_params *p, int64_t start_timestep, const float *start, float *latents)
{
    (void)ctx;
    lcmd_unet_info info;
    int64_t per;
    lcmd_status s = unet_sizes(unet, p, &info, &per);
    if (s) return s;
    if (!cfg || !prompt_embeds || !uncond_embeds || !latents) return LCMD_ERR_INVALID_ARGUMENT;
    const int64_t n = p->batch * per, N = p->num_inference_steps;
    lcmd_noise_schedule *sched = NULL;
    lcmd_ddim_solver *solver = NULL;
    float *cond = NULL;
    /* a teacher that already takes a guidance embedding gets it, as diffusers' SD pipeline does */
    if (info.time_cond_proj_dim > 0) cond = guidance_rows(p->guidance_scale, p->batch, info.time_cond_proj_dim, &s);
    float *x = malloc((size_t)n * sizeof *x), *eps_c = malloc((size_t)n * sizeof *eps_c);
    float *eps_u = malloc((size_t)n * sizeof *eps_u), *x0 = malloc((size_t)n * sizeof *x0);
    float *ts = malloc((size_t)p->batch * sizeof *ts);
    int64_t *grid = malloc((size_t)N * sizeof *grid), *tb = malloc((size_t)p->batch * sizeof *tb);
    int64_t *idx = malloc((size_t)p->batch * sizeof *idx);
    if (!s && !(x && eps_c && eps_u && x0 && ts && grid && tb && idx)) s = LCMD_ERR_OUT_OF_MEMORY;
    if (!s) s = lcmd_noise_schedule_create(cfg, &sched);
    if (!s) s = lcmd_ddim_solver_create(sched, (int32_t)N, &solver);
    if (!s) s = lcmd_ddim_solver_timesteps(solver, grid, (size_t)N);
    if (!s && start) memcpy(x, start, (size_t)n * sizeof *x);
    else if (!s) s = initial_latents(p->seed, p->first_stream, p->batch, per, x);
    int64_t top = N - 1;   /* the highest grid point at or below start_timestep */
    while (!s && start && top >= 0 && grid[top] > start_timestep) top--;
    if (!s && start && (top < 0 || grid[top] != start_timestep)) s = LCMD_ERR_INVALID_ARGUMENT;

    lcmd_unet_inputs in;
    lcmd_unet_inputs_init(&in);
    in.batch = p->batch;
    in.height = p->latent_height;
    in.width = p->latent_width;
    in.sample = x;
    in.timesteps = ts;
    in.seq_len = seq_len;
    in.timestep_cond = cond;
    for (int64_t k = top; !s && k >= 0; k--) {   /* the grid ascends: walk it from the top */
        for (int64_t b = 0; b < p->batch; b++) { ts[b] = (float)grid[k]; tb[b] = grid[k]; idx[b] = k; }
        in.encoder_hidden_states = uncond_embeds;
        s = lcmd_unet_forward(unet, &in, eps_u);
        in.encoder_hidden_states = prompt_embeds;
        if (!s) s = lcmd_unet_forward(unet, &in, eps_c);
        if (s) break;
        guide(eps_c, eps_u, n, p->guidance_scale);
        s = lcmd_predicted_origin(sched, cfg->prediction_type, eps_c, tb, x, p->batch, per, x0);
        if (!s && k > 0) s = lcmd_predicted_noise(sched, cfg->prediction_type, eps_c, tb, x, p->batch, per, eps_u);
        if (!s && k > 0) s = lcmd_ddim_solver_step(solver, x0, eps_u, idx, p->batch, per, x);
    }
    if (!s) memcpy(latents, x0, (size_t)n * sizeof *x0);
    lcmd_ddim_solver_destroy(solver);
    lcmd_noise_schedule_destroy(sched);
    free(cond); free(x); free(eps_c); free(eps_u); free(x0); free(ts); free(grid); free(tb); free(idx);
    return s;
}

lcmd_status decode_latents(lcmd_vae *vae, const float *latents, int64_t batch, int64_t lh, int64_t lw,
                           float *images)
{
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    lcmd_status s = lcmd_vae_get_info(vae, &vi);
    if (s) return s;
    const size_t n = (size_t)(batch * vi.latent_channels * lh * lw);
    const size_t m = (size_t)(batch * vi.out_channels * lh * vi.downsample_factor * lw * vi.downsample_factor);
    float *z = malloc(n * sizeof *z);
    if (!z) return LCMD_ERR_OUT_OF_MEMORY;
    memcpy(z, latents, n * sizeof *z);
    s = lcmd_vae_unscale_latents(vae, n, z);
    if (!s) s = lcmd_vae_decode(vae, batch, lh, lw, z, images);
    for (size_t i = 0; !s && i < m; i++)
        images[i] = images[i] < -1.0f ? -1.0f : images[i] > 1.0f ? 1.0f : images[i];
    free(z);
    return s;
}

lcmd_status lcm_oracle_sample(lcmd_context *ctx, lcmd_unet *teacher, const lcmd_scheduler_config *cfg,
                              const float *prompt_embeds, const float *uncond_embeds, int64_t seq_len,
                              const sampling_params *p, int32_t teacher_steps, float *latents)
{
    lcmd_unet_info info;
    int64_t per;
    lcmd_status s = unet_sizes(teacher, p, &info, &per);
    if (s) return s;
    if (!cfg || !prompt_embeds || !uncond_embeds || !latents || teacher_steps < 1) return LCMD_ERR_INVALID_ARGUMENT;
    const int64_t n = p->batch * per;
    lcmd_lcm_scheduler *sch = NULL;
    lcmd_noise_schedule *sched = NULL;
    float *x = malloc((size_t)n * sizeof *x), *x0 = malloc((size_t)n * sizeof *x0);
    float *noise = malloc((size_t)n * sizeof *noise);
    int64_t *steps = malloc((size_t)p->num_inference_steps * sizeof *steps);
    int64_t *tb = malloc((size_t)p->batch * sizeof *tb);
    if (!(x && x0 && noise && steps && tb)) s = LCMD_ERR_OUT_OF_MEMORY;
    if (!s) s = lcmd_lcm_scheduler_create(ctx, cfg, &sch);
    if (!s) s = lcmd_lcm_scheduler_set_timesteps(sch, p->num_inference_steps, p->original_inference_steps, 1.0);
    int32_t count = s ? 0 : lcmd_lcm_scheduler_num_timesteps(sch);
    if (!s) s = lcmd_lcm_scheduler_timesteps(sch, steps, (size_t)p->num_inference_steps);
    if (!s) s = lcmd_noise_schedule_create(cfg, &sched);
    if (!s) s = initial_latents(p->seed, p->first_stream, p->batch, per, x);
    sampling_params tp = *p;
    tp.num_inference_steps = teacher_steps;
    for (int32_t k = 0; !s && k < count; k++) {
        /* the consistency function of a perfect student: the teacher's ODE to its end */
        s = ddim_sample_from(ctx, teacher, cfg, prompt_embeds, uncond_embeds, seq_len, &tp, steps[k], x, x0);
        if (s || k + 1 == count) break;
        /* re-noised to the next timestep with the noise lcm_sample draws there */
        for (int64_t b = 0; b < p->batch; b++) tb[b] = steps[k + 1];
        s = step_noise(p, k, per, noise);
        if (!s) s = lcmd_add_noise(sched, x0, noise, tb, p->batch, per, x);
    }
    if (!s) memcpy(latents, x0, (size_t)n * sizeof *x0);
    lcmd_lcm_scheduler_destroy(sch);
    lcmd_noise_schedule_destroy(sched);
    free(x); free(x0); free(noise); free(steps); free(tb);
    return s;
}
