/* Flag parsing and range checks of lcmd-generate (before anything is loaded). */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void print_usage(FILE *f)
{
    fputs(
"usage: lcmd-generate --pipeline TEACHER_FOLDER (--unet LCM_UNET | --teacher) --prompt TEXT [options]\n"
"\n"
"Text to image with a Latent Consistency Model UNet (LatentConsistencyModelPipeline)\n"
"and the tokenizer, text encoder, VAE and scheduler config of a diffusers teacher folder.\n"
"\n"
"  --pipeline DIR               diffusers pipeline folder of the teacher (model_index.json)\n"
"  --unet DIR                   LCM UNet: an exported unet/ folder, a trainer checkpoint-N\n"
"                               folder or an output_dir (their unet/ subfolder is used)\n"
"  --prompt TEXT                the caption\n"
"  --num_inference_steps N      LCM steps, 1..8 (default 4); teacher: 1..1000 (default 50)\n"
"  --guidance_scale G           0..100 (default 8.0); LCM: embedded as w = G - 1;\n"
"                               teacher: uncond + G * (cond - uncond)\n"
"  --original_inference_steps N LCM origin grid, 1..1000 (default: the scheduler config's, 50)\n"
"  --seed S                     unsigned 64-bit seed (default 0); image i draws from RNG\n"
"                               stream i, so image i is the same whatever --num_images is\n"
"  --height H, --width W        image size in pixels (default 512); a multiple of the VAE's\n"
"                               factor times the UNet's downsampling (64 for SD 1.x)\n"
"  --num_images N               1..1000 (default 1)\n"
"  --output PATH                PNG path (default out.png); with --num_images N > 1 the\n"
"                               images are PATH, then PATH with -1, -2, ... before the\n"
"                               extension (out.png, out-1.png, out-2.png, ...)\n"
"  --teacher                    run the teacher UNet of --pipeline instead: DDIM (eta 0)\n"
"                               on the distillation solver's grid of N points\n"
"                               (timesteps T/N*k - 1), with classifier-free guidance\n"
"  --negative_prompt TEXT       teacher only: the unconditional caption (default \"\")\n"
"  --device cpu|cuda|cuda:N     (default cpu)\n"
"  --threads N                  CPU threads, 0 = all cores (default 0)\n"
"  --help                       this text\n"
"\n"
"Flags take their value as --flag VALUE or --flag=VALUE. Exit status: 0 done,\n"
"1 a model folder could not be loaded or sampling failed, 2 bad arguments.\n", f);
}

static int bad(const char *flag, const char *value, const char *why)
{
    if (value)
        fprintf(stderr, "lcmd-generate: %s: '%s' %s\n", flag, value, why);
    else
        fprintf(stderr, "lcmd-generate: %s: %s\n", flag, why);
    return ARGS_BAD;
}

static int parse_int(const char *flag, const char *v, long lo, long hi, int32_t *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (!*v || *end || errno) return bad(flag, v, "is not an integer");
    if (x < lo || x > hi) {
        char why[96];
        snprintf(why, sizeof why, "is out of range %ld..%ld", lo, hi);
        return bad(flag, v, why);
    }
    *out = (int32_t)x;
    return ARGS_OK;
}

static int parse_u64(const char *flag, const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (!*v || *v == '-' || *v == '+' || *end || errno) return bad(flag, v, "is not an unsigned 64-bit integer");
    *out = (uint64_t)x;
    return ARGS_OK;
}

static int parse_double(const char *flag, const char *v, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(x)) return bad(flag, v, "is not a finite number");
    if (x < lo || x > hi) return bad(flag, v, "is out of range");
    *out = x;
    return ARGS_OK;
}

static int valid_device(const char *d)
{
    if (!strcmp(d, "cpu") || !strcmp(d, "cuda")) return 1;
    if (strncmp(d, "cuda:", 5) || !d[5]) return 0;
    for (const char *c = d + 5; *c; c++)
        if (*c < '0' || *c > '9') return 0;
    return 1;
}

/* Flags that take a value; --teacher and --help take none. */
static const char *const valued[] = {
    "--pipeline", "--unet", "--prompt", "--negative_prompt", "--output", "--device", "--num_inference_steps",
    "--original_inference_steps", "--guidance_scale", "--seed", "--height", "--width", "--num_images",
    "--threads", NULL};

static int set_value(gen_args *a, const char *f, const char *v, int *steps_given, int *orig_given)
{
    if (!strcmp(f, "--pipeline")) a->pipeline = v;
    else if (!strcmp(f, "--unet")) a->unet = v;
    else if (!strcmp(f, "--prompt")) a->prompt = v;
    else if (!strcmp(f, "--negative_prompt")) a->negative_prompt = v;
    else if (!strcmp(f, "--output")) a->output = v;
    else if (!strcmp(f, "--device")) {
        if (!valid_device(v)) return bad(f, v, "is not cpu, cuda or cuda:N");
        a->device = v;
    } else if (!strcmp(f, "--num_inference_steps")) {
        *steps_given = 1;
        return parse_int(f, v, 1, 1000, &a->num_inference_steps);   /* the mode's range is checked later */
    } else if (!strcmp(f, "--original_inference_steps")) {
        *orig_given = 1;
        return parse_int(f, v, 1, 1000, &a->original_inference_steps);
    } else if (!strcmp(f, "--guidance_scale")) return parse_double(f, v, 0.0, 100.0, &a->guidance_scale);
    else if (!strcmp(f, "--seed")) return parse_u64(f, v, &a->seed);
    else if (!strcmp(f, "--height")) return parse_int(f, v, 1, 16384, &a->height);
    else if (!strcmp(f, "--width")) return parse_int(f, v, 1, 16384, &a->width);
    else if (!strcmp(f, "--num_images")) return parse_int(f, v, 1, 1000, &a->num_images);
    else if (!strcmp(f, "--threads")) return parse_int(f, v, 0, 4096, &a->threads);
    return ARGS_OK;
}

static int is_valued(const char *f)
{
    for (int i = 0; valued[i]; i++)
        if (!strcmp(f, valued[i])) return 1;
    return 0;
}

/* Checks that involve several flags. */
static int check_combination(const gen_args *a, int steps_given, int orig_given)
{
    if (!a->pipeline) return bad("--pipeline", NULL, "missing (the teacher pipeline folder)");
    if (!a->prompt) return bad("--prompt", NULL, "missing");
    if (a->teacher && a->unet) return bad("--unet", NULL, "cannot be used with --teacher");
    if (!a->teacher && !a->unet) return bad("--unet", NULL, "missing (or give --teacher)");
    if (!a->teacher && a->negative_prompt)
        return bad("--negative_prompt", NULL, "only applies with --teacher (LCM sampling has no CFG pass)");
    if (a->teacher && orig_given)
        return bad("--original_inference_steps", NULL, "only applies to LCM sampling, not with --teacher");
    if (!a->teacher && steps_given && a->num_inference_steps > 8) {
        char v[16];
        snprintf(v, sizeof v, "%d", a->num_inference_steps);
        return bad("--num_inference_steps", v, "is out of range 1..8 for LCM sampling");
    }
    if (!a->teacher && a->original_inference_steps && a->num_inference_steps > a->original_inference_steps)
        return bad("--num_inference_steps", NULL, "must not exceed --original_inference_steps");
    return ARGS_OK;
}

int parse_args(int argc, char **argv, gen_args *a)
{
    memset(a, 0, sizeof *a);
    a->output = "out.png";
    a->device = "cpu";
    a->guidance_scale = 8.0;
    a->height = a->width = 512;
    a->num_images = 1;
    int steps_given = 0, orig_given = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) return ARGS_HELP;
        if (!strcmp(arg, "--teacher")) { a->teacher = 1; continue; }
        if (!strncmp(arg, "--teacher=", 10) || !strncmp(arg, "--help=", 7))
            return bad(arg, NULL, "this flag takes no value");
        char flag[64];
        const char *eq = strchr(arg, '=');
        size_t flen = eq ? (size_t)(eq - arg) : strlen(arg);
        if (strncmp(arg, "--", 2) || flen >= sizeof flag) return bad(arg, NULL, "unknown argument (see --help)");
        memcpy(flag, arg, flen);
        flag[flen] = '\0';
        if (!is_valued(flag)) return bad(flag, NULL, "unknown flag (see --help)");
        const char *value = eq ? eq + 1 : NULL;
        if (!value) {
            if (i + 1 >= argc) return bad(flag, NULL, "needs a value");
            value = argv[++i];
        }
        int rc = set_value(a, flag, value, &steps_given, &orig_given);
        if (rc) return rc;
    }
    if (!steps_given) a->num_inference_steps = a->teacher ? 50 : 4;
    return check_combination(a, steps_given, orig_given);
}
