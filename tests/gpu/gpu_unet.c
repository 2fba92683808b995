/* The UNet on a CUDA context: every tiny fixture kind against diffusers' outputs
 * (fp32, TF32 off: within 1e-4 like the CPU), and the context self check on the GPU.
 * Exits 77 without a device. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/lcmd.h>
#include "io/safetensors.h"

#define MAXN 4096

/* the fixtures folder: argv[1], else the source tree's at build time */
static const char *fixtures = LCMD_FIXTURES;

static double rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

static int read(const lcmd_safetensors *st, int c, const char *what, float *dst, const lcmd_st_tensor **t)
{
    char name[64];
    snprintf(name, sizeof name, "case%d.%s", c, what);
    *t = lcmd_safetensors_find(st, name);
    return *t && lcmd_safetensors_read_f32(st, name, dst, (size_t)(*t)->numel) == LCMD_OK;
}

static int check_kind(lcmd_context *ctx, const char *kind)
{
    char path[512];
    snprintf(path, sizeof path, "%s/unet/%s", fixtures, kind);
    lcmd_unet *u = NULL;
    if (lcmd_unet_load(ctx, path, NULL, &u)) {
        printf("FAIL unet %s: load: %s\n", kind, lcmd_last_error());
        return 1;
    }
    snprintf(path, sizeof path, "%s/unet/io_%s.safetensors", fixtures, kind);
    lcmd_safetensors *st = NULL;
    if (lcmd_safetensors_open(path, &st)) {
        printf("FAIL unet %s: %s\n", kind, lcmd_last_error());
        lcmd_unet_destroy(u);
        return 1;
    }
    static float sample[MAXN], t[4], ehs[MAXN], cond[MAXN], text[MAXN], ids[64], out[MAXN], want[MAXN];
    int fails = 0;
    for (int c = 0; c < 3; c++) {
        const lcmd_st_tensor *ts, *te, *tt;
        read(st, c, "sample", sample, &ts);
        read(st, c, "encoder_hidden_states", ehs, &te);
        read(st, c, "timesteps", t, &tt);
        lcmd_unet_inputs in;
        lcmd_unet_inputs_init(&in);
        in.batch = ts->shape[0]; in.height = ts->shape[2]; in.width = ts->shape[3]; in.seq_len = te->shape[1];
        in.sample = sample; in.timesteps = t; in.encoder_hidden_states = ehs;
        const lcmd_st_tensor *x;
        if (read(st, c, "timestep_cond", cond, &x)) in.timestep_cond = cond;
        if (read(st, c, "text_embeds", text, &x) && read(st, c, "time_ids", ids, &x)) {
            in.text_embeds = text;
            in.time_ids = ids;
        }
        const lcmd_st_tensor *tw;
        lcmd_status s = lcmd_unet_forward(u, &in, out);
        if (s || !read(st, c, "out", want, &tw)) {
            printf("FAIL unet %s case %d: %s\n", kind, c, lcmd_last_error());
            fails++;
            continue;
        }
        double e = rel_err(out, want, (size_t)tw->numel);
        printf("%s unet %-5s case %d: relative error vs diffusers %.3g\n", e <= 1e-4 ? "ok  " : "FAIL", kind, c, e);
        fails += !(e <= 1e-4);
    }
    lcmd_safetensors_close(st);
    lcmd_unet_destroy(u);
    return fails;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        fixtures = argv[1];
    if (lcmd_cuda_device_count() < 1) {
        printf("no CUDA device: skipped\n");
        return 77;
    }
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.device = "cuda:0";
    o.log_level = LCMD_LOG_WARN;
    lcmd_context *ctx = NULL;
    if (lcmd_context_create(&o, &ctx)) {
        printf("FAIL context: %s\n", lcmd_last_error());
        return 1;
    }
    static char report[1 << 16];
    lcmd_status s = lcmd_context_self_check(ctx, report, sizeof report);
    printf("%s", report);
    printf("%s self check on cuda:0: %s\n", s ? "FAIL" : "ok  ", s ? lcmd_last_error() : "every op agrees");
    int fails = s != LCMD_OK;
    static const char *const kinds[] = {"sd15", "sd2", "sdxl", "lcm"};
    for (int k = 0; k < 4; k++)
        fails += check_kind(ctx, kinds[k]);
    lcmd_context_destroy(ctx);
    printf("gpu_unet: %s (%d failure(s))\n", fails ? "FAIL" : "PASS", fails);
    return fails ? 1 : 0;
}
