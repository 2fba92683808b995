/* liblcmd: a self-contained demo — a tiny Stable Diffusion teacher and a small
 * WebDataset of generated pictures — so that a host can run the whole distillation
 * path (pipeline open, data stream, trainer) with no model download and no user data.
 *
 * The teacher is a complete diffusers StableDiffusionPipeline folder: model_index.json,
 * scheduler/ (DDPMScheduler, the SD 1.5 schedule: scaled_linear 0.00085..0.012, 1000
 * steps, epsilon prediction), tokenizer/ (a CLIP byte-level BPE vocabulary holding the
 * 256 byte symbols with and without "</w>", the merges that make each word of the demo
 * captions one token, <|startoftext|> and <|endoftext|>; model_max_length 77),
 * text_encoder/ (CLIPTextModel), vae/ (AutoencoderKL, two blocks: factor 2) and unet/
 * (UNet2DConditionModel with SD 1.5's block types: CrossAttnDownBlock2D + DownBlock2D,
 * UpBlock2D + CrossAttnUpBlock2D). Its weights are float32 safetensors under the
 * transformers / diffusers key names, drawn from Philox keyed by the seed with PyTorch's
 * default initialisation (Linear and Conv weight and bias U(±1/sqrt(fan_in)), norms
 * weight 1 and bias 0) except where a random model would make a useless teacher:
 * - the CLIP token and position embeddings are N(0, 1) and the encoder layers' residual
 *   branches (out_proj, fc2) are scaled by 1/20, so that the output at each caption
 *   position says which word stands there (under CLIP's own N(0, 0.02²) a random
 *   encoder gives nearly the same vector for every caption);
 * - every 3x3 kernel of the VAE is a random channel mix of a 3x3 box filter
 *   (U(±sqrt(3/in)) / 9 per tap), so that its latents are a smooth, image-like picture
 *   of the input as a trained VAE's are, and its decoder turns latents back into
 *   blurred shapes (in other colours);
 * - the VAE posterior's log-variance is the constant -30 (latents are the encoder's
 *   mean, as a trained VAE's nearly are).
 * An untrained model, that diffusers, transformers and liblcmd all load, and that
 * computes finite outputs in a few milliseconds. The same options give the same bytes.
 *
 * The data set is WebDataset tar shards `demo-000000.tar`, ... of samples `KEY.png`
 * (an R x R RGB picture of one coloured shape — circle, square, triangle — or stripes
 * on a plain background), `KEY.txt` (its caption, e.g. "a small red circle on a blue
 * background" or "green stripes on an orange background", every word of which is one
 * token of the demo tokenizer) and `KEY.json`
 * ({"width": R, "height": R}). lcmd_dataset_create reads them as they are. */
#ifndef LCMD_DEMO_H
#define LCMD_DEMO_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>
#include <lcmd/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Sizes and seed of the demo teacher. Fill with lcmd_demo_teacher_options_init() first,
 *  then change fields. Fields are only ever appended in later versions. */
typedef struct lcmd_demo_teacher_options {
    uint32_t struct_size;        /**< sizeof(lcmd_demo_teacher_options), set by _init */
    uint64_t seed;               /**< Philox key of every weight (default 0) */
    int32_t text_hidden_size;    /**< CLIP width = the UNet's cross_attention_dim (default 32;
                                  *   even, 2..1024; intermediate size 2x, 2 heads) */
    int32_t text_layers;         /**< CLIP encoder layers (default 2; 1..24) */
    int32_t unet_channels;       /**< UNet block_out_channels [c, 2c] (default 32; a multiple
                                  *   of 8, 8..1024; 8 attention heads, 8 norm groups) */
    int32_t vae_channels;        /**< VAE block_out_channels [c, 2c] (default 16; a multiple
                                  *   of 8, 8..512; 8 norm groups, 4 latent channels) */
} lcmd_demo_teacher_options;

/** Which data set lcmd_demo_write_shards writes. Fill with lcmd_demo_data_options_init(). */
typedef struct lcmd_demo_data_options {
    uint32_t struct_size;        /**< sizeof(lcmd_demo_data_options), set by _init */
    uint64_t seed;               /**< Philox key of every picture and caption (default 0) */
    int32_t num_shards;          /**< tar files demo-000000.tar, ... (default 4; 1..100000) */
    int32_t samples_per_shard;   /**< samples in each shard (default 64; 1..1000000) */
    int32_t resolution;          /**< pictures are R x R (default 32; 8..4096) */
    int32_t fixed_layout;        /**< 1: every shape centred with its size's one radius, stripes
                                  *   vertical with one period, so that a caption names exactly
                                  *   one picture: a distribution a tiny model learns fully in
                                  *   minutes (the embedded default uses it); 0 (default):
                                  *   positions, radii and stripes drawn at random */
    int32_t paired_colors;       /**< 1: the background's colour is the fixed partner of the
                                  *   shape's (the palette entry 7 places on), so the caption's
                                  *   words need not be bound to their places to be learned;
                                  *   0 (default): any other colour, drawn at random */
} lcmd_demo_data_options;

/** Fills `opts` with the defaults listed in lcmd_demo_teacher_options and sets
 *  struct_size. Errors: LCMD_ERR_INVALID_ARGUMENT for NULL. */
LCMD_API lcmd_status lcmd_demo_teacher_options_init(lcmd_demo_teacher_options *opts);

/** Fills `opts` with the defaults listed in lcmd_demo_data_options and sets struct_size.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT for NULL. */
LCMD_API lcmd_status lcmd_demo_data_options_init(lcmd_demo_data_options *opts);

/** Writes the demo teacher pipeline (see the top of this file) into `folder`, which is
 *  created if missing (its parent must exist); every file is replaced atomically and
 *  other files in the folder are left alone. `ctx` is used for its log only. `opts` may
 *  be NULL (defaults); nothing passed is kept. A failure may leave some components
 *  written and others not, but never a torn file.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL ctx or folder, bad struct_size, a size out of
 *  range: named), LCMD_ERR_IO (a folder or file that cannot be created or written: the
 *  message names the path), LCMD_ERR_OUT_OF_MEMORY. */
LCMD_API lcmd_status lcmd_demo_write_teacher(lcmd_context *ctx, const char *folder,
                                             const lcmd_demo_teacher_options *opts);

/** Writes the demo data set (see the top of this file) into `folder`, which is created
 *  if missing (its parent must exist): shards `demo-%06d.tar`, each written to a
 *  temporary file in `folder` and renamed over its name when complete. Sample keys are
 *  `%06d` of the sample's global index (shard * samples_per_shard + i). `opts` may be
 *  NULL (defaults). The same options give the same bytes.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL folder, bad struct_size, a value out of
 *  range: named), LCMD_ERR_IO (naming the path), LCMD_ERR_OUT_OF_MEMORY. */
LCMD_API lcmd_status lcmd_demo_write_shards(const char *folder, const lcmd_demo_data_options *opts);

/** How lcmd_demo_pretrain_teacher trains. Fill with lcmd_demo_pretrain_options_init(). */
typedef struct lcmd_demo_pretrain_options {
    uint32_t struct_size;        /**< sizeof(lcmd_demo_pretrain_options), set by _init */
    int32_t steps;               /**< AdamW steps (default 600; 0 changes nothing) */
    int32_t batch_size;          /**< pictures per step (default 16) */
    int32_t resolution;          /**< picture size read from the shards (default 32, the demo data's) */
    double learning_rate;        /**< peak learning rate, decayed to 10 % by a half cosine (default 2e-3) */
    uint64_t seed;               /**< Philox key of the draws (samples, timesteps, noise; default 0) */
    double uncond_probability;   /**< probability of training on the empty caption (default 0.1) */
    /** Called after every step when not NULL (default NULL), on the calling thread:
     *  the steps done so far (1..steps), `steps`, that step's loss and `progress_user`.
     *  For a host's progress bar; it must not call into liblcmd with this pipeline. */
    void (*progress)(void *user, int32_t done, int32_t steps, double loss);
    void *progress_user;         /**< passed to progress (default NULL) */
} lcmd_demo_pretrain_options;

/** Fills the defaults above. Errors: LCMD_ERR_INVALID_ARGUMENT for NULL. */
LCMD_API lcmd_status lcmd_demo_pretrain_options_init(lcmd_demo_pretrain_options *opts);

/** Encodes every sample of `shards` once (one pass, centre crops at `resolution`; the
 *  demo VAE's posterior mean and the caption's embedding; at most 65536 samples, as the
 *  demo data is small and held in memory), calibrates the VAE's scaling_factor in
 *  `folder/vae/config.json` to 1 / the standard deviation of those latents (how SD's
 *  0.18215 was chosen: the noise schedule assumes latents of unit variance), then trains
 *  the UNet of the pipeline in `folder` as a denoising diffusion model of them (batches
 *  drawn uniformly with replacement, epsilon prediction, timesteps uniform in
 *  [0, 1000), the DDPM loss; captions replaced by the empty caption with uncond_probability, so that
 *  classifier-free guidance has an unconditional model; AdamW without weight decay,
 *  gradient clipping at 1), then saves it back to `folder/unet` (float32, each file
 *  replaced atomically). Made for the demo teacher of lcmd_demo_write_teacher and the
 *  shards of lcmd_demo_write_shards: an untrained teacher's samples are noise, so a
 *  distillation from it shows nothing. Deterministic for given options. final_loss (may
 *  be NULL) receives a running mean of the last steps' losses. opts may be NULL.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL, options out of range: named; more than
 *  65536 samples), the errors of
 *  lcmd_pipeline_open and lcmd_dataset_create, LCMD_ERR_IO (shards without a usable
 *  sample, naming them; a file that cannot be written), LCMD_ERR_UNSUPPORTED (a teacher that does not predict epsilon),
 *  LCMD_ERR_OUT_OF_MEMORY, LCMD_ERR_DEVICE, LCMD_ERR_NUMERIC (latents without variance).
 *  On error the folder's UNet is unchanged (its VAE config may be calibrated already). */
LCMD_API lcmd_status lcmd_demo_pretrain_teacher(lcmd_context *ctx, const char *folder, const char *shards,
                                                const lcmd_demo_pretrain_options *opts, double *final_loss);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_DEMO_H */
