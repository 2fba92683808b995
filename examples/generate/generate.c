/* lcmd-generate: text to image with an LCM UNet (or, for comparison, the teacher with
 * DDIM and classifier-free guidance) and the other components of a teacher pipeline
 * folder. See --help. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <lcmd/lcmd.h>

#include "args.h"
#include "config_peek.h"
#include "output_names.h"
#include "png_write.h"
#include "sampling.h"
#include "unet_folder.h"

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int fail(const char *what, lcmd_status s)
{
    const char *detail = lcmd_last_error();
    fprintf(stderr, "lcmd-generate: %s: %s%s%s\n", what, lcmd_status_string(s), *detail ? ": " : "", detail);
    return 1;
}

/* Height and width must survive the VAE's and the UNet's downsampling; the factors come
 * from the config files so that a bad size is refused before any weights are read. */
static int check_size(const gen_args *a, const char *unet_folder)
{
    char vae_folder[4096];
    snprintf(vae_folder, sizeof vae_folder, "%s/vae", a->pipeline);
    int vf = config_downsample_factor(vae_folder), uf = config_downsample_factor(unet_folder);
    if (vf < 1 || uf < 1) return 0;   /* unreadable configs: the loaders will say why */
    int m = vf * uf;
    const char *flag[2] = {"--height", "--width"};
    int32_t value[2] = {a->height, a->width};
    for (int i = 0; i < 2; i++)
        if (value[i] % m) {
            fprintf(stderr, "lcmd-generate: %s: '%d' is not a multiple of %d (the VAE's factor %d times the UNet's "
                    "downsampling %d)\n", flag[i], value[i], m, vf, uf);
            return 2;
        }
    return 0;
}

typedef struct models {
    lcmd_context *ctx;
    lcmd_pipeline *pipe;
    lcmd_unet *lcm_unet;   /* owned; NULL in teacher mode */
    lcmd_unet *unet;       /* the one that samples */
    lcmd_scheduler_config cfg;
} models;

static int load(const gen_args *a, const char *unet_folder, models *m)
{
    lcmd_context_options co;
    lcmd_context_options_init(&co);
    co.device = a->device;
    co.num_threads = a->threads;
    co.seed = a->seed;
    lcmd_status s = lcmd_context_create(&co, &m->ctx);
    if (s) return fail(a->device, s);
    lcmd_pipeline_options po;
    lcmd_pipeline_options_init(&po);
    po.load_unet = a->teacher;   /* LCM mode brings its own UNet */
    if ((s = lcmd_pipeline_open(m->ctx, a->pipeline, &po, &m->pipe))) return fail(a->pipeline, s);
    if (lcmd_pipeline_is_sdxl(m->pipe)) {
        fprintf(stderr, "lcmd-generate: %s: SDXL pipelines are not supported yet\n", a->pipeline);
        return 1;
    }
    lcmd_scheduler_config_init(&m->cfg);
    if ((s = lcmd_pipeline_scheduler_config(m->pipe, &m->cfg))) return fail(a->pipeline, s);
    if (a->teacher) {
        m->unet = lcmd_pipeline_unet(m->pipe);
        return 0;
    }
    if ((s = lcmd_unet_load(m->ctx, unet_folder, NULL, &m->lcm_unet))) return fail(unet_folder, s);
    m->unet = m->lcm_unet;
    lcmd_unet_info ui;
    lcmd_unet_info_init(&ui);
    lcmd_unet_get_info(m->unet, &ui);
    if (ui.time_cond_proj_dim < 1) {
        fprintf(stderr, "lcmd-generate: %s: the UNet has no time_cond_proj_dim, so it is not an LCM student "
                "(use --teacher to sample a teacher)\n", unet_folder);
        return 1;
    }
    return 0;
}

/* Makes, decodes and writes image `index`. */
static int generate_one(const gen_args *a, models *m, const float *cond, const float *uncond, int64_t seq_len,
                        int index, float *latents, float *image)
{
    lcmd_vae *vae = lcmd_pipeline_vae(m->pipe);
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    lcmd_vae_get_info(vae, &vi);
    sampling_params p;
    sampling_params_init(&p);
    p.latent_height = a->height / vi.downsample_factor;
    p.latent_width = a->width / vi.downsample_factor;
    p.num_inference_steps = a->num_inference_steps;
    p.original_inference_steps = a->original_inference_steps;
    p.guidance_scale = a->guidance_scale;
    p.seed = a->seed;
    p.first_stream = (uint64_t)index;

    double t0 = now_s();
    lcmd_clear_error();
    lcmd_status s = a->teacher ? ddim_sample(m->ctx, m->unet, &m->cfg, cond, uncond, seq_len, &p, latents)
                               : lcm_sample(m->ctx, m->unet, &m->cfg, cond, seq_len, &p, latents);
    if (s) return fail(a->teacher ? "teacher sampling" : "LCM sampling", s);
    if ((s = decode_latents(vae, latents, 1, p.latent_height, p.latent_width, image))) return fail("VAE decode", s);
    char *path = output_name(a->output, index);
    if (!path) return fail("output name", LCMD_ERR_OUT_OF_MEMORY);
    int rc = png_write_rgb(path, image, a->height, a->width);
    if (rc)
        fprintf(stderr, "lcmd-generate: %s: cannot write the PNG file\n", path);
    else
        printf("%s: %dx%d, %s %d steps, seed %llu stream %d, %.2f s\n", path, a->width, a->height,
               a->teacher ? "teacher DDIM" : "LCM", a->num_inference_steps, (unsigned long long)a->seed, index,
               now_s() - t0);
    fflush(stdout);
    free(path);
    return rc ? 1 : 0;
}

static int run(const gen_args *a, models *m)
{
    lcmd_tokenizer *tok = lcmd_pipeline_tokenizer(m->pipe, 0);
    lcmd_text_encoder *te = lcmd_pipeline_text_encoder(m->pipe, 0);
    lcmd_vae_info vi;
    lcmd_vae_info_init(&vi);
    lcmd_vae_get_info(lcmd_pipeline_vae(m->pipe), &vi);
    lcmd_unet_info ui;
    lcmd_unet_info_init(&ui);
    lcmd_unet_get_info(m->unet, &ui);
    int64_t seq_len, hidden;
    prompt_embeds_size(tok, te, &seq_len, &hidden);
    if (hidden != ui.cross_attention_dim || vi.latent_channels != ui.in_channels) {
        fprintf(stderr, "lcmd-generate: the UNet (cross_attention_dim %d, in_channels %d) does not fit the "
                "pipeline's text encoder (hidden_size %lld) and VAE (latent_channels %d)\n", ui.cross_attention_dim,
                ui.in_channels, (long long)hidden, vi.latent_channels);
        return 1;
    }
    const char *prompts[2] = {a->prompt, a->negative_prompt ? a->negative_prompt : ""};
    const int n_prompts = a->teacher ? 2 : 1;
    const size_t n_lat = (size_t)vi.latent_channels * (size_t)(a->height / vi.downsample_factor) *
                         (size_t)(a->width / vi.downsample_factor);
    float *embeds = malloc((size_t)(n_prompts * seq_len * hidden) * sizeof *embeds);
    float *latents = malloc(n_lat * sizeof *latents);
    float *image = malloc((size_t)3 * (size_t)a->height * (size_t)a->width * sizeof *image);
    int rc = 0;
    lcmd_clear_error();
    lcmd_status s = embeds && latents && image ? LCMD_OK : LCMD_ERR_OUT_OF_MEMORY;
    if (!s) s = encode_prompts(tok, te, prompts, (size_t)n_prompts, embeds);
    if (s) rc = fail("prompt", s);
    for (int i = 0; !rc && i < a->num_images; i++)
        rc = generate_one(a, m, embeds, embeds + seq_len * hidden, seq_len, i, latents, image);
    free(embeds); free(latents); free(image);
    return rc;
}

int main(int argc, char **argv)
{
    gen_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc == ARGS_HELP) { print_usage(stdout); return 0; }
    if (rc) return 2;

    char *unet_folder = NULL;
    if (!a.teacher && !(unet_folder = resolve_unet_folder(a.unet))) return fail("--unet", LCMD_ERR_OUT_OF_MEMORY);
    char teacher_unet[4096];
    snprintf(teacher_unet, sizeof teacher_unet, "%s/unet", a.pipeline);
    if ((rc = check_size(&a, a.teacher ? teacher_unet : unet_folder))) { free(unet_folder); return rc; }

    models m;
    memset(&m, 0, sizeof m);
    double t0 = now_s();
    rc = load(&a, unet_folder, &m);
    if (!rc) {
        printf("loaded %s%s%s in %.2f s\n", a.pipeline, a.teacher ? "" : " and ", a.teacher ? "" : unet_folder,
               now_s() - t0);
        rc = run(&a, &m);
    }
    lcmd_unet_destroy(m.lcm_unet);
    lcmd_pipeline_destroy(m.pipe);
    lcmd_context_destroy(m.ctx);
    free(unet_folder);
    return rc;
}
