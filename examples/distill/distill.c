/* lcmd-distill: Latent Consistency Distillation as train_lcm_distill_sd_wds.py runs it,
 * with liblcmd owning the data path and the step and this program owning the loop:
 * arguments, the embedded tiny default, resume, checkpoints, validation, Ctrl-C, export.
 *
 *   lcmd-distill [--flag=value | --flag value]...     (see --help) */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <lcmd/lcmd.h>

#include "args.h"
#include "progress.h"
#include "validate.h"

static volatile sig_atomic_t g_interrupted = 0;

static void on_signal(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static int fail(const char *what, lcmd_status s)
{
    fprintf(stderr, "lcmd-distill: %s: %s: %s\n", what, lcmd_status_string(s), lcmd_last_error());
    return 1;
}

static int make_dir(const char *path)
{
    if (mkdir(path, 0777) == 0 || errno == EEXIST) return 0;
    fprintf(stderr, "lcmd-distill: cannot create %s: %s\n", path, strerror(errno));
    return -1;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* the tiny teacher's training: a redrawn line on a terminal, a line every 15 s otherwise */
typedef struct teacher_progress {
    int tty;
    double t0, last;
} teacher_progress;

static void teacher_progress_step(void *user, int32_t done, int32_t steps, double loss)
{
    teacher_progress *tp = user;
    double now = progress_now(), eta = (now - tp->t0) / done * (steps - done);
    if (tp->tty) {
        fprintf(stderr, "\rtiny teacher: step %d/%d loss %.4f ETA %.0f s\033[K%s", (int)done, (int)steps, loss, eta,
                done == steps ? "\n" : "");
    } else if (now - tp->last >= 15 || done == steps) {
        fprintf(stderr, "tiny teacher: step %d/%d loss %.4f ETA %.0f s\n", (int)done, (int)steps, loss, eta);
        tp->last = now;
    }
}

/* the embedded tiny default: a tiny teacher and generated shards under output_dir,
 * written once (a resumed run finds them), and the settings that suit them */
static int prepare_tiny_default(lcmd_context *ctx, distill_args *a, char **teacher, char **shards)
{
    if (!a->given_resolution) a->resolution = 32;
    if (!a->given_batch) a->train_batch_size = 8;
    if (!a->given_max_train_steps) a->max_train_steps = 300, a->given_max_train_steps = 1;
    if (!a->given_validation_steps) a->validation_steps = 50;
    if (!a->given_checkpointing_steps) a->checkpointing_steps = 100;
    /* the tiny teacher is sharply conditioned: with the script's w in [5, 15] its guided
     * targets run far off its data and the student, chasing them, diverges; w in [2, 6]
     * at lr 3e-4 distils steadily (docs/performance.md) */
    if (!a->given_learning_rate) a->learning_rate = 3e-4;
    if (!a->given_w_min) a->w_min = a->given_w_max && a->w_max < 2.0 ? a->w_max : 2.0;
    if (!a->given_w_max) a->w_max = a->w_min > 6.0 ? a->w_min : 6.0;
    /* a short warmup spares the student the first steps' jolt (its new guidance
     * projection starts random); a coarse solver grid (k = 100) lets consistency reach
     * the high noise levels within a few hundred steps */
    if (!a->given_lr_scheduler) a->lr_scheduler = "constant_with_warmup";
    if (!a->given_lr_warmup_steps) a->lr_warmup_steps = 50;
    if (!a->given_num_ddim_timesteps) a->num_ddim_timesteps = 10;
    *teacher = join(a->output_dir, "tiny-teacher");
    *shards = join(a->output_dir, "tiny-shards");      /* the folder: every shard in it */
    char *tmp = join(a->output_dir, "tiny.tmp");
    if (!*teacher || !*shards || !tmp) return fail("tiny default", LCMD_ERR_OUT_OF_MEMORY);
    uint64_t seed = a->seed >= 0 ? (uint64_t)a->seed : 0;
    lcmd_status s = LCMD_OK;
    /* both are made under a temporary name, then renamed: a folder named tiny-shards
     * or tiny-teacher is always a finished one */
    if (!exists(*shards)) {
        lcmd_demo_data_options dopts;
        lcmd_demo_data_options_init(&dopts);
        dopts.seed = seed;
        /* a caption names one picture, and its words need no binding to their places:
         * a distribution the tiny teacher learns within minutes */
        dopts.fixed_layout = 1;
        dopts.paired_colors = 1;
        /* 1024 samples of the 84 possible captions: each one, the validation prompts'
         * included, a dozen times on average */
        dopts.num_shards = 8;
        dopts.samples_per_shard = 128;
        if (dopts.resolution < a->resolution) dopts.resolution = (int32_t)a->resolution;
        s = lcmd_demo_write_shards(tmp, &dopts);
        if (!s && rename(tmp, *shards) != 0) {
            fprintf(stderr, "lcmd-distill: cannot rename %s to %s: %s\n", tmp, *shards, strerror(errno));
            free(tmp);
            return 1;
        }
        if (!s) fprintf(stderr, "lcmd-distill: wrote the tiny WebDataset %s\n", *shards);
    }
    if (!s && !exists(*teacher)) {
        lcmd_demo_teacher_options to;
        lcmd_demo_teacher_options_init(&to);
        to.seed = seed;
        s = lcmd_demo_write_teacher(ctx, tmp, &to);
        lcmd_demo_pretrain_options po;
        lcmd_demo_pretrain_options_init(&po);
        po.steps = (int32_t)a->tiny_teacher_steps;
        po.seed = seed;
        double loss = 0;
        double t0 = progress_now();
        teacher_progress tp = {.tty = !a->quiet && isatty(fileno(stderr)), .t0 = t0, .last = t0};
        po.progress = teacher_progress_step;
        po.progress_user = &tp;
        if (!s) fprintf(stderr, "lcmd-distill: training the tiny teacher (%d DDPM steps) ...\n", po.steps);
        if (!s) s = lcmd_demo_pretrain_teacher(ctx, tmp, *shards, &po, &loss);
        if (!s && rename(tmp, *teacher) != 0) {
            fprintf(stderr, "lcmd-distill: cannot rename %s to %s: %s\n", tmp, *teacher, strerror(errno));
            free(tmp);
            return 1;
        }
        if (!s) fprintf(stderr, "lcmd-distill: wrote the tiny teacher %s (denoising loss %.4f, %.0f s)\n", *teacher,
                        loss, progress_now() - t0);
    }
    free(tmp);
    return s ? fail("tiny default", s) : 0;
}

static lcmd_lr_schedule schedule_of(const char *name)
{
    static const char *names[] = {"constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts",
                                  "polynomial"};
    for (int i = 0; i < 6; i++)
        if (!strcmp(name, names[i])) return (lcmd_lr_schedule)i;
    return LCMD_LR_CONSTANT;
}

/* max_train_steps from the epoch arithmetic of the script (spec §7.6) when not given */
static int resolve_steps(distill_args *a)
{
    if (a->given_max_train_steps) return 0;
    if (!a->max_train_samples) {
        fprintf(stderr, "lcmd-distill: give --max_train_steps or --max_train_samples (the epoch size)\n");
        return -1;
    }
    int64_t W = a->dataloader_num_workers > 0 ? a->dataloader_num_workers : 1;
    int64_t per_worker = (a->max_train_samples + a->train_batch_size * W - 1) / (a->train_batch_size * W);
    int64_t batches = per_worker * W;
    int64_t per_epoch = (batches + a->gradient_accumulation_steps - 1) / a->gradient_accumulation_steps;
    a->max_train_steps = a->num_train_epochs * per_epoch;
    return 0;
}

static void trainer_options_of(const distill_args *a, lcmd_trainer_options *o)
{
    lcmd_trainer_options_init(o);
    o->learning_rate = a->learning_rate;
    o->adam_beta1 = a->adam_beta1;
    o->adam_beta2 = a->adam_beta2;
    o->adam_weight_decay = a->adam_weight_decay;
    o->adam_epsilon = a->adam_epsilon;
    o->max_grad_norm = a->max_grad_norm;
    o->w_min = a->w_min;
    o->w_max = a->w_max;
    o->num_ddim_timesteps = (int32_t)a->num_ddim_timesteps;
    o->loss_type = strcmp(a->loss_type, "huber") ? LCMD_LOSS_L2 : LCMD_LOSS_HUBER;
    o->huber_c = a->huber_c;
    o->ema_decay = a->ema_decay;
    o->timestep_scaling_factor = a->timestep_scaling_factor;
    o->unet_time_cond_proj_dim = (int32_t)a->unet_time_cond_proj_dim;
    o->lr_scheduler = schedule_of(a->lr_scheduler);
    o->lr_warmup_steps = a->lr_warmup_steps;
    o->max_train_steps = a->max_train_steps;
    o->gradient_accumulation_steps = (int32_t)a->gradient_accumulation_steps;
    o->seed = a->seed >= 0 ? (uint64_t)a->seed : 0;
    o->gradient_checkpointing = a->gradient_checkpointing;
}

static lcmd_status open_data(lcmd_context *ctx, const distill_args *a, const char *shards, lcmd_dataset **ds)
{
    lcmd_dataset_options o;
    lcmd_dataset_options_init(&o);
    o.shards = shards;
    o.resolution = (int32_t)a->resolution;
    o.batch_size = (int32_t)a->train_batch_size;
    o.seed = a->seed >= 0 ? (uint64_t)a->seed : 0;
    o.resampled = 1;   /* the script streams ResampledShards: an endless stream */
    o.num_workers = (int32_t)a->dataloader_num_workers;
    o.crop = a->center_crop ? LCMD_CROP_CENTER : LCMD_CROP_RANDOM;
    o.random_flip = a->random_flip;
    return lcmd_dataset_create(ctx, &o, ds);
}

typedef struct run {
    distill_args *a;
    lcmd_context *ctx;
    lcmd_pipeline *pipe;
    lcmd_trainer *tr;
    lcmd_dataset *ds;
    validator *val;
    progress pg;
    int tiny;                  /* the embedded tiny default */
} run;

static int save_checkpoint(run *r, int64_t step)
{
    char path[4096];
    int32_t limit = r->a->checkpoints_total_limit > 0 ? (int32_t)r->a->checkpoints_total_limit : 0;
    lcmd_status s = lcmd_trainer_save_checkpoint(r->tr, r->a->output_dir, limit, path, sizeof path);
    if (s) return fail("checkpoint", s);
    progress_note(&r->pg, "step %lld: saved %s", (long long)step, path);
    return 0;
}

static int validate(run *r, int64_t step)
{
    validation_gaps g;
    lcmd_status s = validator_run(r->val, lcmd_trainer_student(r->tr), lcmd_trainer_target(r->tr), step, &g);
    if (s) return fail("validation", s);
    double base = validator_baseline(r->val, 0), base_1 = validator_baseline(r->val, 1);
    double spread = validator_spread(r->val), floor = validator_floor(r->val);
    char perfect[48] = "";
    if (isfinite(floor)) snprintf(perfect, sizeof perfect, "a perfect student %.4f, ", floor);
    progress_note(&r->pg, "step %lld: consistency gap online %.4f, target %.4f (%steacher in 4 DDIM steps %.4f); "
                  "1 step: online %.4f, target %.4f (teacher %.4f)", (long long)step, g.online, g.target, perfect,
                  base, g.online_1, g.target_1, base_1);
    const char *keys[] = {"consistency_gap_online", "consistency_gap_target", "consistency_gap_teacher_4_steps",
                          "consistency_gap_online_1_step", "consistency_gap_target_1_step",
                          "consistency_gap_teacher_1_step", "teacher_spread", "consistency_gap_perfect_student"};
    double vals[] = {g.online, g.target, base, g.online_1, g.target_1, base_1, spread, floor};
    /* the floor comes last: left out of the metrics when it was not measured */
    progress_metric(&r->pg, "validation", step, isfinite(floor) ? 8 : 7, keys, vals);
    for (int which = 0; which < 2; which++) {
        int h, w;
        const char *png = validator_image(r->val, which, &h, &w);
        if (png) progress_image(&r->pg, which ? "validation/target" : "validation/online", step, png, h, w);
    }
    return 0;
}

/* the training loop; returns 0 when max_train_steps was reached, 130 on Ctrl-C */
static int train(run *r)
{
    distill_args *a = r->a;
    int64_t step = 0, micro = 0, samples = 0;
    lcmd_trainer_progress(r->tr, &step, &micro, &samples);
    if (step == 0 && validate(r, 0)) return 1;
    while (step < a->max_train_steps) {
        if (g_interrupted) {
            progress_note(&r->pg, "interrupted at step %lld (micro-step %lld): saving a checkpoint", (long long)step,
                          (long long)micro);
            return save_checkpoint(r, step) ? 1 : 130;
        }
        lcmd_batch *b = NULL;
        lcmd_status s = lcmd_dataset_next(r->ds, &b);
        if (s == LCMD_END_OF_STREAM) {
            fprintf(stderr, "lcmd-distill: the data stream ended at micro-step %lld\n", (long long)micro);
            return 1;
        }
        if (s) return fail("data", s);
        lcmd_step_report rep;
        lcmd_step_report_init(&rep);
        s = lcmd_trainer_step_dataset(r->tr, b, &rep);
        lcmd_batch_destroy(b);
        if (s) return fail("training step", s);
        step = rep.step;
        micro = rep.micro_steps;
        progress_step(&r->pg, step, micro, rep.samples_seen, rep.loss, rep.grad_norm, rep.lr, rep.optimizer_stepped,
                      rep.skipped);
        if (rep.skipped) progress_note(&r->pg, "micro-step %lld: non-finite loss or gradient, update skipped", (long long)micro);
        if (!rep.optimizer_stepped || rep.skipped) continue;
        if (step % a->checkpointing_steps == 0 && save_checkpoint(r, step)) return 1;
        if (step % a->validation_steps == 0 && validate(r, step)) return 1;
    }
    return 0;
}

static int setup_and_train(run *r, const char *teacher, const char *shards)
{
    distill_args *a = r->a;
    lcmd_status s = lcmd_pipeline_open(r->ctx, teacher, NULL, &r->pipe);
    if (s) return fail("teacher", s);
    lcmd_scheduler_config sc;
    lcmd_scheduler_config_init(&sc);
    lcmd_pipeline_scheduler_config(r->pipe, &sc);
    lcmd_trainer_options o;
    trainer_options_of(a, &o);
    if ((s = lcmd_trainer_create(r->ctx, lcmd_pipeline_unet(r->pipe), &sc, &o, &r->tr))) return fail("trainer", s);
    if ((s = lcmd_trainer_set_encoders(r->tr, lcmd_pipeline_tokenizer(r->pipe, 0), lcmd_pipeline_text_encoder(r->pipe, 0),
                                       lcmd_pipeline_vae(r->pipe))))
        return fail("encoders", s);
    if (a->resume_from_checkpoint) {
        s = lcmd_trainer_resume(r->tr, a->output_dir, a->resume_from_checkpoint);
        if (s == LCMD_END_OF_STREAM) fprintf(stderr, "lcmd-distill: no checkpoint to resume in %s: starting fresh\n", a->output_dir);
        else if (s) return fail("resume", s);
    }
    int64_t step = 0, micro = 0, samples = 0;
    lcmd_trainer_progress(r->tr, &step, &micro, &samples);
    if ((s = open_data(r->ctx, a, shards, &r->ds))) return fail("data", s);
    if (micro > 0) {
        fprintf(stderr, "lcmd-distill: resumed at step %lld; skipping the %lld batches already seen\n", (long long)step,
                (long long)micro);
        if ((s = lcmd_dataset_skip(r->ds, micro, NULL))) return fail("data", s);
    }
    /* the tiny default's teacher knows only captions in its data's form */
    static const char *const tiny_prompts[4] = {
        "a large red circle on a black background", "a small green square on a cyan background",
        "a large yellow triangle on a gray background", "blue stripes on a pink background"};
    validator_options vo;
    validator_options_init(&vo);
    if (r->tiny) vo.prompts = tiny_prompts;
    vo.output_dir = a->output_dir;
    vo.resolution = (int)a->resolution;
    vo.seed = a->seed >= 0 ? (uint64_t)a->seed : 0;
    vo.original_steps = (int)a->num_ddim_timesteps;   /* the grid the student was trained on */
    /* guided as the student is trained: the pipeline's default w = 6.5 where the
     * sampled range holds it, else the nearest end of that range */
    double w = a->w_min > 6.5 ? a->w_min : a->w_max < 6.5 ? a->w_max : 6.5;
    vo.guidance_scale = 1.0 + w;
    vo.floor = (int)a->consistency_floor;
    if ((s = validator_create(r->ctx, r->pipe, &vo, &r->val))) return fail("validation setup", s);

    char *logs = join(a->output_dir, a->logging_dir);
    int jsonl = strcmp(a->report_to, "none") != 0;
    int tensorboard = !strcmp(a->report_to, "tensorboard") || !strcmp(a->report_to, "all");
    const char *failed = NULL;
    if (!logs || (jsonl && make_dir(logs))) {
        free(logs);
        return 1;
    }
    if (progress_begin(&r->pg, a->max_train_steps, step, samples, logs, jsonl, tensorboard, a->quiet, &failed)) {
        fprintf(stderr, "lcmd-distill: cannot open %s in %s: %s\n", failed, logs, strerror(errno));
        free(logs);
        return 1;
    }
    fprintf(stderr, "lcmd-distill: distilling %s on %s for %lld steps (batch %lld x %lld accumulation, %lldpx) into %s\n",
            teacher, shards, (long long)a->max_train_steps, (long long)a->train_batch_size,
            (long long)a->gradient_accumulation_steps, (long long)a->resolution, a->output_dir);
    int rc = train(r);
    progress_end(&r->pg);
    free(logs);
    if (rc) return rc;
    if ((s = lcmd_trainer_export(r->tr, a->output_dir))) return fail("export", s);
    fprintf(stderr, "lcmd-distill: wrote %s/unet and %s/unet_target\n", a->output_dir, a->output_dir);
    validator_summary(r->val, stderr);
    return 0;
}

/* Two settings read once, when the libraries start, so the program sets them and
 * starts itself again:
 * - libgomp's idle workers spin after each parallel region; beside OpenBLAS's own
 *   thread pool on a few cores they take the cores from each other (steps of the tiny
 *   default were 1.2-4x slower and erratic on 2 cores): OMP_WAIT_POLICY=passive;
 * - OpenBLAS falls back to its generic kernels on an AVX2 CPU it does not recognise (a
 *   VM that hides the CPU model), several times slower: OPENBLAS_CORETYPE names the
 *   kernels the CPU can run. */
static const char *blas_core_for_this_cpu(void)
{
#if defined(__x86_64__) && defined(__GNUC__)
    static const char *const known[] = {"haswell", "skylakex", "cooperlake", "sapphirerapids", "zen", "excavator"};
    const char *(*corename)(void) = NULL;
    void *sym = dlsym(RTLD_DEFAULT, "openblas_get_corename");
    memcpy(&corename, &sym, sizeof sym);   /* POSIX: a symbol address is a function pointer */
    const char *core = corename ? corename() : NULL;
    if (!core) return NULL;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (!strcasecmp(core, known[i])) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX";
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
    return NULL;
}

static void tune_environment(char **argv)
{
    int again = 0;
    if (!getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        again = 1;
    }
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : blas_core_for_this_cpu();
    if (core) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        again = 1;
    }
    if (again) execv("/proc/self/exe", argv);   /* on failure: go on as we are */
}

int main(int argc, char **argv)
{
    tune_environment(argv);
    distill_args a;
    distill_args_defaults(&a);
    int pr = distill_args_parse(&a, argc, argv, stderr);
    if (pr == 1) return 0;
    if (pr) return 2;
    int tiny = !a.pretrained_teacher_model;
    if (!tiny && resolve_steps(&a)) return 2;
    if (make_dir(a.output_dir)) return 1;

    lcmd_context_options co;
    lcmd_context_options_init(&co);
    co.device = a.device;
    co.num_threads = (int32_t)a.threads;
    co.seed = a.seed >= 0 ? (uint64_t)a.seed : 0;
    run r;
    memset(&r, 0, sizeof r);
    r.a = &a;
    r.tiny = tiny;
    lcmd_status s = lcmd_context_create(&co, &r.ctx);
    if (s) return fail("context", s);
    char *teacher = NULL, *shards = NULL;
    int rc = 0;
    if (tiny) rc = prepare_tiny_default(r.ctx, &a, &teacher, &shards);
    if (!rc) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        rc = setup_and_train(&r, tiny ? teacher : a.pretrained_teacher_model,
                             tiny ? shards : a.train_shards_path_or_url);
    }
    validator_destroy(r.val);
    lcmd_dataset_destroy(r.ds);
    lcmd_trainer_destroy(r.tr);
    lcmd_pipeline_destroy(r.pipe);
    lcmd_context_destroy(r.ctx);
    free(teacher);
    free(shards);
    return rc;
}
