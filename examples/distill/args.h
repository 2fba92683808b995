/* lcmd-distill's command line: the arguments of train_lcm_distill_sd_wds.py (same
 * names, meanings and defaults), parsed and checked before any work starts. */
#ifndef LCMD_DISTILL_ARGS_H
#define LCMD_DISTILL_ARGS_H

#include <stdint.h>
#include <stdio.h>

typedef struct distill_args {
    const char *pretrained_teacher_model;   /* NULL with no shards: the embedded tiny default */
    const char *pretrained_vae_model_name_or_path;
    const char *output_dir;
    const char *logging_dir;
    const char *report_to;                  /* "tensorboard" (default), "jsonl", "none", "all" */
    const char *resume_from_checkpoint;
    const char *train_shards_path_or_url;
    const char *mixed_precision;            /* "no" or NULL (fp32); fp16/bf16 refused on the CPU */
    const char *lr_scheduler;
    const char *loss_type;
    const char *interpolation_type;
    const char *device;                     /* liblcmd: cpu or cuda:N */
    int64_t seed;                           /* -1: none given */
    int64_t checkpointing_steps, checkpoints_total_limit, validation_steps;
    int64_t resolution, dataloader_num_workers, train_batch_size, num_train_epochs;
    int64_t max_train_steps, max_train_samples, lr_warmup_steps, gradient_accumulation_steps;
    int64_t num_ddim_timesteps, unet_time_cond_proj_dim, vae_encode_batch_size, threads;
    double learning_rate, adam_beta1, adam_beta2, adam_weight_decay, adam_epsilon, max_grad_norm;
    double proportion_empty_prompts, w_min, w_max, huber_c, timestep_scaling_factor, ema_decay;
    int center_crop, random_flip, scale_lr, gradient_checkpointing, allow_tf32, cast_teacher_unet;
    int use_8bit_adam, enable_xformers, push_to_hub;
    int given_max_train_steps, given_learning_rate, given_resolution, given_batch, given_validation_steps;
    int given_checkpointing_steps, given_num_ddim_timesteps, given_lr_scheduler, given_lr_warmup_steps;
    int given_w_min, given_w_max;
    int quiet;                              /* liblcmd: no progress bar */
    int64_t tiny_teacher_steps;             /* liblcmd: DDPM steps that train the tiny default's teacher */
    int64_t consistency_floor;              /* liblcmd: 1: measure the perfect student's gap */
} distill_args;

/* Fills the script's defaults. */
void distill_args_defaults(distill_args *a);

/* Parses argv into *a. Returns 0 on success, 1 when --help was printed, 2 on an
 * error (a one-line message naming the flag has been written to err). */
int distill_args_parse(distill_args *a, int argc, char **argv, FILE *err);

/* The help text. */
void distill_args_help(FILE *out);

#endif
