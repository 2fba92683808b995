/* lcmd-distill's command line, table-driven: one row per argument of the script. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

enum kind { STR, INT, FLT, FLAG };

typedef struct opt {
    const char *name;
    enum kind kind;
    size_t off;          /* offset of the field in distill_args */
    double lo, hi;       /* numbers: the accepted range */
    const char *choices; /* strings: '|'-separated accepted values, or NULL for any */
    size_t given;        /* offset of a given_* flag, or 0 */
    const char *help;
    const char *note;    /* printed when the option is used: what liblcmd does instead */
} opt;

#define F(field) offsetof(distill_args, field)
#define NOFIELD ((size_t)-1)   /* accepted, stored nowhere */
#define BIG 9.2e18

static const opt OPTS[] = {
    {"pretrained_teacher_model", STR, F(pretrained_teacher_model), 0, 0, NULL, 0,
     "diffusers pipeline folder of the teacher (scheduler/, tokenizer/, text_encoder/, vae/, unet/); "
     "without it and without shards: the embedded tiny default", NULL},
    {"pretrained_vae_model_name_or_path", STR, F(pretrained_vae_model_name_or_path), 0, 0, NULL, 0,
     "as the script: the VAE is still the teacher's (only its precision would change)", NULL},
    {"teacher_revision", STR, NOFIELD, 0, 0, NULL, 0, "hub revision", "liblcmd reads local folders; hub revisions do not apply"},
    {"revision", STR, NOFIELD, 0, 0, NULL, 0, "hub revision", "liblcmd reads local folders; hub revisions do not apply"},
    {"output_dir", STR, F(output_dir), 0, 0, NULL, 0, "checkpoints, metrics, samples and the final UNets", NULL},
    {"cache_dir", STR, NOFIELD, 0, 0, NULL, 0, "unused (as in the script)", NULL},
    {"seed", INT, F(seed), 0, BIG, NULL, 0, "seed of every random draw (default: none, i.e. 0)", NULL},
    {"logging_dir", STR, F(logging_dir), 0, 0, NULL, 0, "metrics folder, under output_dir", NULL},
    {"report_to", STR, F(report_to), 0, 0, "tensorboard|jsonl|all|none|wandb", 0,
     "metrics: JSON lines in output_dir/logging_dir/metrics.jsonl always (but with none), and TensorBoard "
     "event files there with tensorboard or all", NULL},
    {"checkpointing_steps", INT, F(checkpointing_steps), 1, BIG, NULL, F(given_checkpointing_steps),
     "save a checkpoint every this many optimizer steps", NULL},
    {"checkpoints_total_limit", INT, F(checkpoints_total_limit), 1, BIG, NULL, 0, "keep at most this many checkpoints", NULL},
    {"resume_from_checkpoint", STR, F(resume_from_checkpoint), 0, 0, NULL, 0,
     "a checkpoint folder name inside output_dir, a path, or \"latest\"", NULL},
    {"train_shards_path_or_url", STR, F(train_shards_path_or_url), 0, 0, NULL, 0,
     "WebDataset shards: brace ranges, '::' lists, folders, pipe:COMMAND", NULL},
    {"resolution", INT, F(resolution), 8, 16384, NULL, F(given_resolution), "square training size in pixels", NULL},
    {"interpolation_type", STR, F(interpolation_type), 0, 0, "bilinear|bicubic|box|nearest|nearest_exact|hamming|lanczos", 0,
     "resize filter (liblcmd implements bilinear, the default)", NULL},
    {"center_crop", FLAG, F(center_crop), 0, 0, NULL, 0, "centre crop instead of random (the script ignores it; liblcmd applies it)", NULL},
    {"random_flip", FLAG, F(random_flip), 0, 0, NULL, 0, "random horizontal flips (the script ignores it; liblcmd applies it)", NULL},
    {"dataloader_num_workers", INT, F(dataloader_num_workers), 0, 256, NULL, 0, "data worker threads (0: inline)", NULL},
    {"train_batch_size", INT, F(train_batch_size), 1, 65536, NULL, F(given_batch), "images per micro-batch", NULL},
    {"num_train_epochs", INT, F(num_train_epochs), 1, BIG, NULL, 0, "epochs (recomputed from max_train_steps)", NULL},
    {"max_train_steps", INT, F(max_train_steps), 1, BIG, NULL, F(given_max_train_steps), "optimizer steps to take", NULL},
    {"max_train_samples", INT, F(max_train_samples), 1, BIG, NULL, 0, "nominal epoch size in samples", NULL},
    {"learning_rate", FLT, F(learning_rate), 0, 1e3, NULL, F(given_learning_rate), "AdamW learning rate", NULL},
    {"scale_lr", FLAG, F(scale_lr), 0, 0, NULL, 0, "parsed and not applied, as in the SD script", NULL},
    {"lr_scheduler", STR, F(lr_scheduler), 0, 0, "constant|constant_with_warmup|linear|cosine|cosine_with_restarts|polynomial",
     F(given_lr_scheduler),
     "learning-rate schedule", NULL},
    {"lr_warmup_steps", INT, F(lr_warmup_steps), 0, BIG, NULL, F(given_lr_warmup_steps), "warmup steps of the schedule", NULL},
    {"gradient_accumulation_steps", INT, F(gradient_accumulation_steps), 1, 65536, NULL, 0, "micro-batches per optimizer step", NULL},
    {"use_8bit_adam", FLAG, F(use_8bit_adam), 0, 0, NULL, 0, "bitsandbytes' 8-bit AdamW",
     "liblcmd has no 8-bit AdamW yet: the float32 AdamW is used"},
    {"adam_beta1", FLT, F(adam_beta1), 0, 0.999999999, NULL, 0, "AdamW beta1", NULL},
    {"adam_beta2", FLT, F(adam_beta2), 0, 0.999999999, NULL, 0, "AdamW beta2", NULL},
    {"adam_weight_decay", FLT, F(adam_weight_decay), 0, 1e3, NULL, 0, "decoupled weight decay", NULL},
    {"adam_epsilon", FLT, F(adam_epsilon), 0, 1, NULL, 0, "AdamW epsilon", NULL},
    {"max_grad_norm", FLT, F(max_grad_norm), 1e-30, 1e30, NULL, 0, "global gradient-norm clip", NULL},
    {"proportion_empty_prompts", FLT, F(proportion_empty_prompts), 0, 1, NULL, 0, "no effect, as in the script", NULL},
    {"w_min", FLT, F(w_min), 0, 1e3, NULL, F(given_w_min), "lower bound of the sampled guidance weight w", NULL},
    {"w_max", FLT, F(w_max), 0, 1e3, NULL, F(given_w_max), "upper bound of w", NULL},
    {"num_ddim_timesteps", INT, F(num_ddim_timesteps), 1, 1000, NULL, F(given_num_ddim_timesteps), "DDIM solver grid size N", NULL},
    {"loss_type", STR, F(loss_type), 0, 0, "l2|huber", 0, "l2 or huber (pseudo-Huber)", NULL},
    {"huber_c", FLT, F(huber_c), 0, 1e3, NULL, 0, "c of the pseudo-Huber loss", NULL},
    {"unet_time_cond_proj_dim", INT, F(unet_time_cond_proj_dim), 1, 65536, NULL, 0, "width of the guidance embedding", NULL},
    {"vae_encode_batch_size", INT, F(vae_encode_batch_size), 1, 65536, NULL, 0,
     "VAE chunk size (liblcmd encodes the whole micro-batch: the same latents)", NULL},
    {"timestep_scaling_factor", FLT, F(timestep_scaling_factor), -1e6, 1e6, NULL, 0, "lambda of the boundary scalings", NULL},
    {"ema_decay", FLT, F(ema_decay), 0, 1, NULL, 0, "decay of the target's EMA", NULL},
    {"mixed_precision", STR, F(mixed_precision), 0, 0, "no|fp16|bf16", 0, "no (liblcmd trains in float32)", NULL},
    {"allow_tf32", FLAG, F(allow_tf32), 0, 0, NULL, 0, "TF32 matmuls on CUDA", "liblcmd keeps float32 GEMMs exact (no TF32)"},
    {"cast_teacher_unet", FLAG, F(cast_teacher_unet), 0, 0, NULL, 0, "cast the teacher to the mixed-precision type",
     "liblcmd keeps the teacher in float32"},
    {"enable_xformers_memory_efficient_attention", FLAG, F(enable_xformers), 0, 0, NULL, 0, "xformers attention",
     "liblcmd always uses its own memory-efficient attention kernels"},
    {"gradient_checkpointing", FLAG, F(gradient_checkpointing), 0, 0, NULL, 0, "recompute the student's activations per block", NULL},
    {"local_rank", INT, NOFIELD, -1, 65536, NULL, 0, "process rank", "liblcmd runs one process here; multi-GPU runs take their rank from the launcher"},
    {"validation_steps", INT, F(validation_steps), 1, BIG, NULL, F(given_validation_steps),
     "validation images and the consistency gap every this many optimizer steps", NULL},
    {"push_to_hub", FLAG, F(push_to_hub), 0, 0, NULL, 0, "upload output_dir",
     "liblcmd does not upload: output_dir holds the diffusers folders to upload"},
    {"hub_token", STR, NOFIELD, 0, 0, NULL, 0, "hub token", "liblcmd does not use the hub"},
    {"hub_model_id", STR, NOFIELD, 0, 0, NULL, 0, "hub model id", "liblcmd does not use the hub"},
    {"tracker_project_name", STR, NOFIELD, 0, 0, NULL, 0, "tracker project name", NULL},
    /* liblcmd's own */
    {"device", STR, F(device), 0, 0, NULL, 0, "liblcmd: cpu or cuda:N (default cpu)", NULL},
    {"threads", INT, F(threads), 0, 4096, NULL, 0, "liblcmd: CPU threads (0: all cores)", NULL},
    {"quiet", FLAG, F(quiet), 0, 0, NULL, 0, "liblcmd: no progress bar, plain lines only", NULL},
    {"tiny_teacher_steps", INT, F(tiny_teacher_steps), 0, 10000000, NULL, 0,
     "liblcmd: denoising steps that train the embedded default's tiny teacher before distilling (600)", NULL},
    {"consistency_floor", INT, F(consistency_floor), 0, 1, NULL, 0,
     "liblcmd: 1 (default): also measure, once, the gap a perfect consistency model would leave (the teacher's "
     "ODE from each re-noised point; about 1.4 times the cost of the teacher's reference samples); 0: skip it", NULL},
};

#define N_OPTS (sizeof OPTS / sizeof OPTS[0])

void distill_args_defaults(distill_args *a)
{
    memset(a, 0, sizeof *a);
    a->output_dir = "lcm-xl-distilled";
    a->logging_dir = "logs";
    a->report_to = "tensorboard";
    a->interpolation_type = "bilinear";
    a->lr_scheduler = "constant";
    a->loss_type = "l2";
    a->device = "cpu";
    a->seed = -1;
    a->checkpointing_steps = 500;
    a->resolution = 512;
    a->train_batch_size = 16;
    a->num_train_epochs = 100;
    a->learning_rate = 1e-4;
    a->lr_warmup_steps = 500;
    a->gradient_accumulation_steps = 1;
    a->adam_beta1 = 0.9;
    a->adam_beta2 = 0.999;
    a->adam_weight_decay = 1e-2;
    a->adam_epsilon = 1e-8;
    a->max_grad_norm = 1.0;
    a->w_min = 5.0;
    a->w_max = 15.0;
    a->num_ddim_timesteps = 50;
    a->huber_c = 0.001;
    a->unet_time_cond_proj_dim = 256;
    a->vae_encode_batch_size = 32;
    a->timestep_scaling_factor = 10.0;
    a->ema_decay = 0.95;
    a->validation_steps = 200;
    a->tiny_teacher_steps = 600;
    a->consistency_floor = 1;
}

void distill_args_help(FILE *out)
{
    fprintf(out, "usage: lcmd-distill [--flag=value | --flag value]...\n\n"
                 "Latent Consistency Distillation of a Stable Diffusion teacher (the arguments of diffusers'\n"
                 "train_lcm_distill_sd_wds.py). With neither --pretrained_teacher_model nor\n"
                 "--train_shards_path_or_url it runs the embedded tiny default: a tiny SD-architecture\n"
                 "teacher and a small generated WebDataset are written under output_dir and distilled,\n"
                 "with its own settings where the flags are not given: resolution 32, batch 8, 300 steps,\n"
                 "learning_rate 3e-4 (constant_with_warmup, 50 warmup steps), w in [2, 6],\n"
                 "num_ddim_timesteps 10, validation every 50 and checkpoints every 100 steps.\n\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        const opt *o = &OPTS[i];
        const char *arg = o->kind == FLAG ? "" : o->kind == STR ? (o->choices ? " {choice}" : " STR")
                                                                 : o->kind == INT ? " INT" : " FLOAT";
        fprintf(out, "  --%s%s\n      %s", o->name, arg, o->help);
        if (o->choices) fprintf(out, " (one of %s)", o->choices);
        if (o->note) fprintf(out, " [%s]", o->note);
        fputc('\n', out);
    }
}

static const opt *find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(OPTS[i].name) == len && !strncmp(OPTS[i].name, name, len)) return &OPTS[i];
    return NULL;
}

static int in_choices(const char *choices, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return 1;
        if (!bar) break;
        p = bar + 1;
    }
    return 0;
}

static int set_value(distill_args *a, const opt *o, const char *v, FILE *err)
{
    char *base = (char *)a;
    if (o->kind == STR) {
        if (o->choices && !in_choices(o->choices, v)) {
            fprintf(err, "lcmd-distill: --%s: '%s' is not one of %s\n", o->name, v, o->choices);
            return 2;
        }
        if (o->off != NOFIELD) *(const char **)(base + o->off) = v;
    } else if (o->kind == INT) {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno || (double)x < o->lo || (double)x > o->hi) {
            fprintf(err, "lcmd-distill: --%s: '%s' is not an integer in [%.0f, %.0f]\n", o->name, v, o->lo, o->hi);
            return 2;
        }
        if (o->off != NOFIELD) *(int64_t *)(base + o->off) = x;
    } else {
        char *end;
        errno = 0;
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x) || x < o->lo || x > o->hi) {
            fprintf(err, "lcmd-distill: --%s: '%s' is not a number in [%g, %g]\n", o->name, v, o->lo, o->hi);
            return 2;
        }
        *(double *)(base + o->off) = x;
    }
    return 0;
}

/* checks between arguments, as the script's parse_args makes them and what liblcmd needs */
static int check(const distill_args *a, FILE *err)
{
    if (a->w_min > a->w_max) {
        fprintf(err, "lcmd-distill: --w_min %g is larger than --w_max %g\n", a->w_min, a->w_max);
        return 2;
    }
    if (!strcmp(a->report_to, "wandb")) {
        fprintf(err, "lcmd-distill: --report_to wandb: liblcmd writes JSON lines (jsonl) or nothing (none)\n");
        return 2;
    }
    if (strcmp(a->interpolation_type, "bilinear")) {
        fprintf(err, "lcmd-distill: --interpolation_type %s: liblcmd implements bilinear (Pillow-exact) only\n",
                a->interpolation_type);
        return 2;
    }
    if (a->mixed_precision && strcmp(a->mixed_precision, "no")) {
        fprintf(err, "lcmd-distill: --mixed_precision %s: liblcmd trains in float32 (use no)\n", a->mixed_precision);
        return 2;
    }
    if (!!a->pretrained_teacher_model != !!a->train_shards_path_or_url) {
        fprintf(err, "lcmd-distill: %s given without %s (give both, or neither for the embedded tiny default)\n",
                a->pretrained_teacher_model ? "--pretrained_teacher_model" : "--train_shards_path_or_url",
                a->pretrained_teacher_model ? "--train_shards_path_or_url" : "--pretrained_teacher_model");
        return 2;
    }
    if (strcmp(a->lr_scheduler, "constant") && strcmp(a->lr_scheduler, "constant_with_warmup") &&
        a->given_max_train_steps && a->max_train_steps <= a->lr_warmup_steps) {
        fprintf(err, "lcmd-distill: --lr_scheduler %s needs --max_train_steps (%lld) > --lr_warmup_steps (%lld)\n",
                a->lr_scheduler, (long long)a->max_train_steps, (long long)a->lr_warmup_steps);
        return 2;
    }
    return 0;
}

int distill_args_parse(distill_args *a, int argc, char **argv, FILE *err)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            distill_args_help(stdout);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(err, "lcmd-distill: unexpected argument '%s' (flags start with --; see --help)\n", arg);
            return 2;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const opt *o = find(name, len);
        if (!o) {
            fprintf(err, "lcmd-distill: unknown flag '--%.*s' (see --help)\n", (int)len, name);
            return 2;
        }
        const char *v = eq ? eq + 1 : NULL;
        if (o->kind == FLAG) {
            if (v) {
                fprintf(err, "lcmd-distill: --%s takes no value\n", o->name);
                return 2;
            }
            if (o->off != NOFIELD) *(int *)((char *)a + o->off) = 1;
        } else {
            if (!v) {
                if (i + 1 >= argc) {
                    fprintf(err, "lcmd-distill: --%s needs a value\n", o->name);
                    return 2;
                }
                v = argv[++i];
            }
            int r = set_value(a, o, v, err);
            if (r) return r;
        }
        if (o->given) *(int *)((char *)a + o->given) = 1;
        if (o->note) fprintf(err, "lcmd-distill: note: --%s: %s\n", o->name, o->note);
    }
    return check(a, err);
}
