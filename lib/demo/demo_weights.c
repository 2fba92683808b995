/* Random initial weights as PyTorch's module constructors make them, drawn from
 * Philox so that a seed always gives the same files. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/rng.h>

#include "core/error.h"
#include "demo/demo_internal.h"
#include "io/safetensors.h"
#include "io/weights.h"

#define EMBED_STD 1.0   /* token and position embeddings (see init_param) */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* the weight next to a ".bias" (NULL when there is none) */
static const lcmd_param *weight_of(const lcmd_param_set *ps, const char *bias_name)
{
    char w[512];
    size_t n = strlen(bias_name);
    if (n + 3 > sizeof w) return NULL;
    memcpy(w, bias_name, n - 4);
    memcpy(w + n - 4, "weight", 7);
    return lcmd_param_set_find(ps, w);
}

static lcmd_status uniform(uint64_t seed, uint64_t stream, double bound, float *v, size_t n)
{
    LCMD_TRY(lcmd_rng_uniform(seed, stream, 0, v, n));
    for (size_t i = 0; i < n; i++) v[i] = (float)((2.0 * v[i] - 1.0) * bound);
    return LCMD_OK;
}

/* A VAE 3x3 convolution as a random channel mix of a 3x3 box filter: w[o][i][.][.] =
 * U(±sqrt(3/in)) / 9. Flat regions keep their level through it, and the stack of them
 * is a blur-and-resample, so the demo VAE's latents are a smooth, image-like picture
 * of the input (as a trained VAE's are), not the edge noise of random kernels. */
static lcmd_status smooth_kernel(const lcmd_param *p, uint64_t seed, uint64_t stream, float *v)
{
    size_t out = (size_t)p->shape[0], in = (size_t)p->shape[1], taps = (size_t)(p->shape[2] * p->shape[3]);
    LCMD_TRY(uniform(seed, stream, sqrt(3.0 / (double)in), v, out * in));
    for (size_t k = out * in; k-- > 0;) {   /* backwards: v[k] is read before its taps overwrite it */
        float w = v[k] / (float)taps;
        for (size_t j = 0; j < taps; j++) v[k * taps + j] = w;
    }
    return LCMD_OK;
}

/* One parameter in file order: Linear / Conv weights and their biases
 * U(±1/sqrt(fan_in)) (kaiming_uniform(a=√5) gives the same bound for the weight),
 * 1-D weights (norms) 1, other biases 0. The text encoder's embeddings are N(0, 1)
 * (CLIP's own init is N(0, 0.02²), under which a random encoder's outputs for
 * different captions are nearly the same vector), its residual branches are scaled
 * down, and the VAE's 3x3 kernels are smooth. */
static lcmd_status init_param(const lcmd_param_set *ps, const lcmd_param *p, uint64_t seed, uint32_t tag,
                              uint64_t stream, float *v)
{
    size_t n = (size_t)p->numel;
    if (ends_with(p->name, "token_embedding.weight") || ends_with(p->name, "position_embedding.weight")) {
        LCMD_TRY(lcmd_rng_normal(seed, stream, 0, v, n));
        for (size_t i = 0; i < n; i++) v[i] = (float)(v[i] * EMBED_STD);
        return LCMD_OK;
    }
    if (tag == DEMO_TAG_VAE && p->ndim == 4 && p->shape[2] == 3 && p->shape[3] == 3 && ends_with(p->name, ".weight"))
        return smooth_kernel(p, seed, stream, v);
    const lcmd_param *w = ends_with(p->name, ".weight") ? p : ends_with(p->name, ".bias") ? weight_of(ps, p->name) : NULL;
    if (w && w->ndim >= 2) {
        /* the text encoder's residual branches at 1/20: its output at a caption
         * position stays mostly the word at that place */
        int quiet = tag == DEMO_TAG_TEXT && (strstr(p->name, "out_proj.") || strstr(p->name, "fc2."));
        LCMD_TRY(uniform(seed, stream, (quiet ? 0.05 : 1.0) / sqrt((double)(w->numel / w->shape[0])), v, n));
        /* the VAE's posterior: its log-variance half (the second half of quant_conv's
         * outputs) is the constant -30, so that latents are the encoder's mean, as a
         * trained VAE's nearly are; random log-variances near 0 would bury the
         * pictures under unit noise */
        int qw = !strcmp(p->name, "quant_conv.weight"), qb = !strcmp(p->name, "quant_conv.bias");
        if (qw || qb) {
            size_t rows = (size_t)p->shape[0], per = n / rows;
            for (size_t k = rows / 2; k < rows; k++)
                for (size_t j = 0; j < per; j++) v[k * per + j] = qb ? -30.0f : 0.0f;
        }
        return LCMD_OK;
    }
    float fill = p == w ? 1.0f : 0.0f;
    for (size_t i = 0; i < n; i++) v[i] = fill;
    return LCMD_OK;
}

lcmd_status demo_init_and_save(const lcmd_param_set *ps, uint64_t seed, uint32_t tag, const char *folder,
                               const char *base)
{
    float *host = calloc(ps->total ? ps->total : 1, sizeof *host);
    size_t max = 1;
    for (size_t i = 0; i < ps->count; i++)
        if ((size_t)ps->items[i].numel > max) max = (size_t)ps->items[i].numel;
    float *file = malloc(max * sizeof *file);
    lcmd_status s = host && file ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo weights: out of memory");
    for (size_t i = 0; !s && i < ps->count; i++) {
        const lcmd_param *p = &ps->items[i];
        s = init_param(ps, p, seed, tag, ((uint64_t)tag << 32) | i, file);
        if (!s) lcmd_param_to_stored(p, file, host + p->offset);
    }
    if (!s) s = lcmd_weights_save_params(folder, ps, host, LCMD_ST_F32, base);
    free(file);
    free(host);
    return s;
}
