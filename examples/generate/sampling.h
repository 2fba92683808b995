/* Sampling loops of lcmd-generate, independent of its command line so that other host
 * programs (the distillation host's validation images) can call them on components
 * they loaded themselves. Every array is host memory, NCHW for latents and images.
 *
 * Random numbers: image b of a call draws from the library RNG with key `seed` on
 * stream `first_stream + b`: its initial latents first (offset 0), then, for LCM, the
 * noise of step k at offset (k + 1) * ceil(C*H*W / 4). So an image depends on its
 * seed and stream alone, not on the batch it was made in. */
#ifndef LCMD_GENERATE_SAMPLING_H
#define LCMD_GENERATE_SAMPLING_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd.h>

typedef struct sampling_params {
    int64_t batch;                      /* images made by one call */
    int64_t latent_height, latent_width;
    int32_t num_inference_steps;
    int32_t original_inference_steps;   /* LCM origin grid; 0: the scheduler config's value */
    double guidance_scale;              /* LCM: embedded as w = guidance_scale - 1; DDIM: CFG scale */
    uint64_t seed;
    uint64_t first_stream;
} sampling_params;

/* Defaults: one image, 64x64 latents, 4 steps, the config's origin grid, guidance 8, seed 0. */
void sampling_params_init(sampling_params *p);

/* Tokenises `n` prompts (padded to the tokenizer's model_max_length) and writes the text
 * encoder's last hidden state, [n, seq_len, hidden] with seq_len from
 * prompt_embeds_size(), into `out`. */
lcmd_status encode_prompts(lcmd_tokenizer *tok, lcmd_text_encoder *te, const char *const *prompts, size_t n,
                           float *out);
/* seq_len and hidden width of encode_prompts' rows (0 for NULL handles). */
void prompt_embeds_size(const lcmd_tokenizer *tok, const lcmd_text_encoder *te, int64_t *seq_len,
                        int64_t *hidden);

/* Standard normal latents of image b from (seed, first_stream + b, offset 0), times the
 * LCM/DDIM init_noise_sigma (1). `latents` holds batch x per_sample floats. */
lcmd_status initial_latents(uint64_t seed, uint64_t first_stream, int64_t batch, int64_t per_sample,
                            float *latents);

/* LatentConsistencyModelPipeline: `unet` must have time_cond_proj_dim; prompt_embeds is
 * [batch, seq_len, cross_attention_dim]. Writes the last step's denoised latents
 * ([batch, in_channels, latent_height, latent_width], still scaled by the VAE's
 * scaling factor) to `latents`. */
lcmd_status lcm_sample(lcmd_context *ctx, lcmd_unet *unet, const lcmd_scheduler_config *cfg,
                       const float *prompt_embeds, int64_t seq_len, const sampling_params *p, float *latents);

/* Teacher sampling: deterministic DDIM (eta 0) on the grid of the distillation solver
 * with p->num_inference_steps points, classifier-free guidance
 * uncond + guidance_scale * (cond - uncond) with uncond_embeds (the empty or negative
 * prompt, [batch, seq_len, dim]); the last grid point's x̂0 is the result. */
lcmd_status ddim_sample(lcmd_context *ctx, lcmd_unet *unet, const lcmd_scheduler_config *cfg,
                        const float *prompt_embeds, const float *uncond_embeds, int64_t seq_len,
                        const sampling_params *p, float *latents);

/* ddim_sample from `start` ([batch, C, h, w]), a latent at `start_timestep`, which must be a
 * point of the solver's grid: the teacher's ODE from there to its end. Errors:
 * LCMD_ERR_INVALID_ARGUMENT for a timestep off the grid. */
lcmd_status ddim_sample_from(lcmd_context *ctx, lcmd_unet *unet, const lcmd_scheduler_config *cfg,
                             const float *prompt_embeds, const float *uncond_embeds, int64_t seq_len,
                             const sampling_params *p, int64_t start_timestep, const float *start, float *latents);

/* A perfect consistency model in the LCM sampler: at each of the p->num_inference_steps
 * LCM timesteps (origin grid p->original_inference_steps) the model's output is replaced
 * by the teacher's guided `teacher_steps`-point DDIM run from there to the end, and the
 * re-noising between steps draws the noise lcm_sample draws. What the 4-step gap of a
 * fully distilled student tends to. Errors: LCMD_ERR_INVALID_ARGUMENT when an LCM
 * timestep is not on the teacher's grid (choose teacher_steps as a multiple of the
 * origin grid). */
lcmd_status lcm_oracle_sample(lcmd_context *ctx, lcmd_unet *teacher, const lcmd_scheduler_config *cfg,
                              const float *prompt_embeds, const float *uncond_embeds, int64_t seq_len,
                              const sampling_params *p, int32_t teacher_steps, float *latents);

/* Unscales (a copy of) latents [batch, latent_channels, lh, lw] and decodes them to
 * images [batch, 3, lh*f, lw*f] clamped to [-1, 1]. */
lcmd_status decode_latents(lcmd_vae *vae, const float *latents, int64_t batch, int64_t lh, int64_t lw,
                           float *images);

#endif
