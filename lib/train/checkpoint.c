/* Trainer checkpoints (spec §12): atomic save with pruning, resume, final export. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_file.h"
#include "io/path.h"
#include "io/safetensors.h"
#include "io/safetensors_write.h"
#include "io/weights.h"
#include "ops/op_calls.h"
#include "train/train_internal.h"

#define SAVE "lcmd_trainer_save_checkpoint"
#define RESUME "lcmd_trainer_resume"
#define PREFIX "checkpoint"
#define STATE_FILE "trainer_state.json"
#define OPTIM_FILE "optimizer.safetensors"

/* ------------------------------------------------------------ small file helpers */

static int is_dir(const char *path)
{
    struct stat sb;
    return path && stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static lcmd_status fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return lcmd_set_error(LCMD_ERR_IO, "%s: cannot open to sync: %s", path, strerror(errno));
    int r = fsync(fd);
    int e = errno;
    close(fd);
    if (r != 0 && e != EINVAL && e != EROFS)
        return lcmd_set_error(LCMD_ERR_IO, "%s: fsync failed: %s", path, strerror(e));
    return LCMD_OK;
}

/* removes a file or a folder tree (no symlinks followed); best effort, 0 on success */
static int remove_tree(const char *path, int depth)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(sb.st_mode)) return unlink(path);
    if (depth > 32) return -1;
    DIR *d = opendir(path);
    if (!d) return -1;
    int bad = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        char *child = NULL;
        if (lcmd_path_join(path, e->d_name, &child) != LCMD_OK) {
            bad = 1;
            continue;
        }
        if (remove_tree(child, depth + 1) != 0) bad = 1;
        free(child);
    }
    closedir(d);
    return rmdir(path) != 0 || bad ? -1 : 0;
}

/* the number after the first '-' of a "checkpoint..." name, or -1 */
static int64_t checkpoint_number(const char *name)
{
    if (strncmp(name, PREFIX, strlen(PREFIX)) != 0) return -1;
    const char *dash = strchr(name, '-');
    if (!dash || dash[1] < '0' || dash[1] > '9') return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(dash + 1, &end, 10);
    if (errno || (*end != '\0' && *end != '-')) return -1;
    return (int64_t)v;
}

typedef struct ckpt_entry {
    char *name;
    int64_t num;
} ckpt_entry;

static int entry_cmp(const void *a, const void *b)
{
    const ckpt_entry *x = a, *y = b;
    if (x->num != y->num) return x->num < y->num ? -1 : 1;
    return strcmp(x->name, y->name);
}

static void entries_free(ckpt_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) free(e[i].name);
    free(e);
}

/* the checkpoint entries of `dir` (names starting with "checkpoint" with a number),
 * sorted by number, `skip` (may be NULL) left out. A missing dir gives none. */
static lcmd_status list_checkpoints(const char *dir, const char *skip, ckpt_entry **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR) return LCMD_OK;
        return lcmd_set_error(LCMD_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    }
    ckpt_entry *v = NULL;
    size_t n = 0, cap = 0;
    lcmd_status s = LCMD_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        int64_t num = checkpoint_number(e->d_name);
        if (num < 0 || (skip && !strcmp(e->d_name, skip))) continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            ckpt_entry *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "checkpoints: out of memory");
                break;
            }
            v = nv;
            cap = nc;
        }
        v[n].name = strdup(e->d_name);
        if (!v[n].name) {
            s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "checkpoints: out of memory");
            break;
        }
        v[n++].num = num;
    }
    closedir(d);
    if (s) {
        entries_free(v, n);
        return s;
    }
    if (n) qsort(v, n, sizeof *v, entry_cmp);
    *out = v;
    *count = n;
    return LCMD_OK;
}

/* ------------------------------------------------------------ host copies of the state */

static lcmd_status download(lcmd_trainer *tr, const void *src, float *dst)
{
    return lcmd_op_download(lcmd_unet_model_of(tr->student)->be, dst, src, tr->total * sizeof(float));
}

static lcmd_status write_optimizer(lcmd_trainer *tr, const char *path)
{
    float *grad = NULL;
    if (tr->accum > 0) {
        grad = malloc(tr->total * sizeof *grad);
        if (!grad) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, SAVE ": out of memory");
        lcmd_status s = download(tr, tr->grad, grad);
        if (s) {
            free(grad);
            return s;
        }
    }
    lcmd_st_write_tensor t[3];
    memset(t, 0, sizeof t);
    const char *names[3] = {"exp_avg", "exp_avg_sq", "grad_accum"};
    const float *data[3] = {tr->m, tr->v, grad};
    size_t count = grad ? 3 : 2;
    for (size_t i = 0; i < count; i++) {
        t[i].name = names[i];
        t[i].dtype = LCMD_ST_F32;
        t[i].ndim = 1;
        t[i].shape[0] = (int64_t)tr->total;
        t[i].f32 = data[i];
    }
    lcmd_st_metadata_entry meta[2] = {{"format", "lcmd-adamw"}, {"layout", "lcmd-param-set-flat"}};
    lcmd_status s = lcmd_safetensors_write(path, t, count, meta, 2);
    free(grad);
    return s;
}

static json_t *options_json(const lcmd_trainer_options *o)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%" PRIu64, o->seed);
    return json_pack("{s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:i, s:f, s:f, s:f, s:i, s:i, s:I, s:I, s:i, s:s}",
                     "learning_rate", o->learning_rate, "adam_beta1", o->adam_beta1, "adam_beta2", o->adam_beta2,
                     "adam_weight_decay", o->adam_weight_decay, "adam_epsilon", o->adam_epsilon, "max_grad_norm",
                     o->max_grad_norm, "w_min", o->w_min, "w_max", o->w_max, "num_ddim_timesteps",
                     (int)o->num_ddim_timesteps, "loss_type", (int)o->loss_type, "huber_c", o->huber_c,
                     "ema_decay", o->ema_decay, "timestep_scaling_factor", o->timestep_scaling_factor,
                     "unet_time_cond_proj_dim", (int)o->unet_time_cond_proj_dim, "lr_scheduler",
                     (int)o->lr_scheduler, "lr_warmup_steps", (json_int_t)o->lr_warmup_steps, "max_train_steps",
                     (json_int_t)o->max_train_steps, "gradient_accumulation_steps",
                     (int)o->gradient_accumulation_steps, "seed", seed);
}

static lcmd_status write_state(lcmd_trainer *tr, const char *path)
{
    json_t *opts = options_json(&tr->o);
    json_t *root = opts ? json_pack("{s:i, s:I, s:I, s:I, s:i, s:i, s:I, s:o}", "format_version",
                                    LCMD_CHECKPOINT_FORMAT_VERSION, "step", (json_int_t)tr->step, "micro_step",
                                    (json_int_t)tr->micro, "samples_seen", (json_int_t)tr->samples, "accum",
                                    (int)tr->accum, "accum_bad", (int)tr->accum_bad, "param_count", (json_int_t)tr->total, "options", opts)
                        : NULL;
    char *text = root ? json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(root);
    if (!text) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, SAVE ": out of memory");
    lcmd_atomic_file af;
    lcmd_status s = lcmd_atomic_file_begin(path, &af);
    if (!s) {
        s = lcmd_atomic_file_write(&af, text, strlen(text));
        if (!s) s = lcmd_atomic_file_write(&af, "\n", 1);
        if (!s) s = lcmd_atomic_file_commit(&af);
        else lcmd_atomic_file_abort(&af);
    }
    free(text);
    return s;
}

/* ------------------------------------------------------------ save */

/* writes every part into `dir` (an empty folder) */
static lcmd_status write_parts(lcmd_trainer *tr, const char *dir)
{
    static const char *const parts[] = {"unet", "unet_target", OPTIM_FILE, STATE_FILE};
    for (int i = 0; i < 4; i++) {
        if (tr->ckpt_fail_after > 0 && i >= tr->ckpt_fail_after)
            return lcmd_set_error(LCMD_ERR_IO, SAVE ": %s: test hook: failing after %d parts", dir, i);
        char *path = NULL;
        LCMD_TRY(lcmd_path_join(dir, parts[i], &path));
        lcmd_status s;
        if (i == 0) s = lcmd_unet_save(tr->student, path, LCMD_WEIGHTS_F32, NULL);
        else if (i == 1) s = lcmd_unet_save(tr->target, path, LCMD_WEIGHTS_F32, NULL);
        else if (i == 2) s = write_optimizer(tr, path);
        else s = write_state(tr, path);
        if (!s && i < 2) s = fsync_path(path);
        free(path);
        LCMD_TRY(s);
    }
    return fsync_path(dir);
}

lcmd_status lcmd_trainer_save_checkpoint(lcmd_trainer *tr, const char *output_dir, int32_t total_limit,
                                         char *path_out, size_t path_size)
{
    LCMD_CHECK_ARG(tr && output_dir && *output_dir, SAVE, "tr or output_dir is NULL or empty");
    LCMD_CHECK_ARG(total_limit >= 0, SAVE, "total_limit = %d", (int)total_limit);
    char name[64], tmpname[96];
    snprintf(name, sizeof name, PREFIX "-%lld", (long long)tr->step);
    snprintf(tmpname, sizeof tmpname, "." PREFIX "-%lld.tmp-XXXXXX", (long long)tr->step);
    char *final = NULL, *tmp = NULL, *aside = NULL;
    LCMD_TRY(lcmd_path_join(output_dir, name, &final));
    if (path_out && strlen(final) >= path_size) {
        lcmd_status e = lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, SAVE ": path_size %zu is too small for %s",
                                       path_size, final);
        free(final);
        return e;
    }
    if (mkdir(output_dir, 0777) != 0 && errno != EEXIST) {
        lcmd_status s = lcmd_set_error(LCMD_ERR_IO, "%s: cannot create folder: %s", output_dir, strerror(errno));
        free(final);
        return s;
    }
    /* what to prune, chosen as the reference does (before this save) */
    ckpt_entry *ents = NULL;
    size_t n_ent = 0, n_prune = 0;
    lcmd_status s = list_checkpoints(output_dir, name, &ents, &n_ent);
    if (!s && total_limit > 0 && n_ent >= (size_t)total_limit) n_prune = n_ent - (size_t)total_limit + 1;
    if (!s) s = lcmd_path_join(output_dir, tmpname, &tmp);
    if (!s && !mkdtemp(tmp)) s = lcmd_set_error(LCMD_ERR_IO, "%s: cannot create: %s", tmp, strerror(errno));
    int made = !s;
    if (!s) s = write_parts(tr, tmp);
    /* an existing checkpoint-STEP: moved aside (onto an empty temp folder), replaced, removed */
    if (!s && is_dir(final)) {
        char aname[96];
        snprintf(aname, sizeof aname, "." PREFIX "-%lld.old-XXXXXX", (long long)tr->step);
        s = lcmd_path_join(output_dir, aname, &aside);
        if (!s && !mkdtemp(aside)) {
            s = lcmd_set_error(LCMD_ERR_IO, "%s: cannot create: %s", aside, strerror(errno));
            free(aside);
            aside = NULL;
        }
        if (!s && rename(final, aside) != 0) {
            s = lcmd_set_error(LCMD_ERR_IO, "%s: cannot move aside: %s", final, strerror(errno));
            rmdir(aside);
            free(aside);
            aside = NULL;
        }
    }
    if (!s) {
        if (rename(tmp, final) != 0) {
            s = lcmd_set_error(LCMD_ERR_IO, "%s: cannot rename to %s: %s", tmp, final, strerror(errno));
            if (aside && rename(aside, final) == 0) {
                free(aside);
                aside = NULL;
            }
        } else {
            made = 0;
            s = fsync_path(output_dir);
        }
    }
    if (made) remove_tree(tmp, 0);
    if (aside && !made) remove_tree(aside, 0);
    if (!s) {
        for (size_t i = 0; i < n_prune; i++) {
            char *p = NULL;
            if (lcmd_path_join(output_dir, ents[i].name, &p) == LCMD_OK) {
                if (remove_tree(p, 0) != 0)
                    lcmd_log(&tr->ctx->log, LCMD_LOG_WARN, "%s: could not remove old checkpoint", p);
                else
                    lcmd_log(&tr->ctx->log, LCMD_LOG_INFO, "removed old checkpoint %s", p);
            }
            free(p);
        }
        if (path_out) snprintf(path_out, path_size, "%s", final);
        lcmd_log(&tr->ctx->log, LCMD_LOG_INFO, "saved checkpoint %s", final);
    }
    entries_free(ents, n_ent);
    free(aside);
    free(tmp);
    free(final);
    return s;
}

/* ------------------------------------------------------------ resume */

static lcmd_status load_unet_params(lcmd_trainer *tr, const char *ckpt, const char *sub, float *host)
{
    char *dir = NULL;
    LCMD_TRY(lcmd_path_join(ckpt, sub, &dir));
    lcmd_weights *w = NULL;
    lcmd_status s = lcmd_weights_open(dir, NULL, &w);
    if (!s) s = lcmd_weights_load_params(w, &lcmd_unet_model_of(tr->student)->params, host, NULL);
    lcmd_weights_close(w);
    free(dir);
    return s;
}

typedef struct ckpt_state {
    int64_t step, micro, samples;
    int32_t accum, accum_bad, G;
    int64_t count;      /* param_count: checked after the weights, whose errors name a tensor */
} ckpt_state;

static lcmd_status read_state(lcmd_trainer *tr, const char *ckpt, ckpt_state *st)
{
    char *path = NULL;
    LCMD_TRY(lcmd_path_join(ckpt, STATE_FILE, &path));
    json_t *root = NULL;
    lcmd_status s = lcmd_json_load_file(path, LCMD_JSON_DEFAULT_MAX_BYTES, &root);
    if (s) {
        free(path);
        return s;
    }
    json_int_t ver = 0, step = -1, micro = -1, samples = 0, accum = -1, bad = -1, count = -1, G = 1;
    json_error_t err;
    if (json_unpack_ex(root, &err, 0, "{s:I, s:I, s:I, s?I, s:I, s:I, s:I, s:{s:I}}", "format_version", &ver,
                       "step", &step, "micro_step", &micro, "samples_seen", &samples, "accum", &accum,
                       "accum_bad", &bad, "param_count", &count, "options", "gradient_accumulation_steps", &G) != 0)
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: %s", path, err.text);
    else if (ver < 1 || ver > LCMD_CHECKPOINT_FORMAT_VERSION)
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: format_version %lld (this build reads 1..%d)", path,
                           (long long)ver, LCMD_CHECKPOINT_FORMAT_VERSION);
    else if (step < 0 || micro < 0 || samples < 0 || accum < 0 || G < 1 || accum >= G || bad < 0 || bad > 1 ||
             accum > micro)
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: inconsistent counters (step %lld, micro_step %lld, accum %lld of %lld)",
                           path, (long long)step, (long long)micro, (long long)accum, (long long)G);
    else if (accum > 0 && G != tr->o.gradient_accumulation_steps)
        s = lcmd_set_error(LCMD_ERR_FORMAT,
                           "%s: saved inside an accumulation cycle of %lld micro-steps, the trainer has %d", path,
                           (long long)G, (int)tr->o.gradient_accumulation_steps);
    if (!s) {
        st->step = step;
        st->micro = micro;
        st->samples = samples;
        st->accum = (int32_t)accum;
        st->accum_bad = (int32_t)bad;
        st->G = (int32_t)G;
        st->count = (int64_t)count;
    }
    json_decref(root);
    free(path);
    return s;
}

static lcmd_status read_optimizer(lcmd_trainer *tr, const char *ckpt, int need_grad, float *m, float *v, float *g)
{
    char *path = NULL;
    LCMD_TRY(lcmd_path_join(ckpt, OPTIM_FILE, &path));
    lcmd_safetensors *st = NULL;
    lcmd_status s = lcmd_safetensors_open(path, &st);
    const char *names[3] = {"exp_avg", "exp_avg_sq", "grad_accum"};
    float *dst[3] = {m, v, g};
    for (int i = 0; !s && i < (need_grad ? 3 : 2); i++) {
        const lcmd_st_tensor *t = lcmd_safetensors_find(st, names[i]);
        if (!t || t->dtype != LCMD_ST_F32 || t->ndim != 1 || (size_t)t->numel != tr->total)
            s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s' %s (want F32 [%zu])", path, names[i],
                               t ? "has another dtype or shape" : "is missing", tr->total);
        else
            s = lcmd_safetensors_read_f32(st, names[i], dst[i], tr->total);
    }
    lcmd_safetensors_close(st);
    free(path);
    return s;
}

/* the checkpoint folder `which` names (a new string), or LCMD_END_OF_STREAM for none */
static lcmd_status resolve(const char *output_dir, const char *which, char **out)
{
    *out = NULL;
    if (!strcmp(which, "latest")) {
        LCMD_CHECK_ARG(output_dir, RESUME, "\"latest\" needs output_dir");
        ckpt_entry *e = NULL;
        size_t n = 0;
        LCMD_TRY(list_checkpoints(output_dir, NULL, &e, &n));
        lcmd_status s = LCMD_OK;
        size_t i = n;
        while (i > 0 && !s) {   /* the highest number that is a folder */
            s = lcmd_path_join(output_dir, e[i - 1].name, out);
            if (!s && is_dir(*out)) break;
            free(*out);
            *out = NULL;
            i--;
        }
        entries_free(e, n);
        if (!s && !*out)
            s = lcmd_set_error(LCMD_END_OF_STREAM, RESUME ": no checkpoint-* folder in %s (start fresh)",
                               output_dir);
        return s;
    }
    const char *base = strrchr(which, '/');
    base = base ? base + 1 : which;
    if (output_dir && lcmd_path_is_plain_name(base)) {
        LCMD_TRY(lcmd_path_join(output_dir, base, out));
        if (is_dir(*out)) return LCMD_OK;
        free(*out);
        *out = NULL;
    }
    if (is_dir(which)) {
        *out = strdup(which);
        return *out ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, RESUME ": out of memory");
    }
    return lcmd_set_error(LCMD_ERR_IO, RESUME ": checkpoint '%s' not found in %s (nor as a folder)", which,
                          output_dir ? output_dir : "(no output_dir)");
}

lcmd_status lcmd_trainer_resume(lcmd_trainer *tr, const char *output_dir, const char *which)
{
    LCMD_CHECK_ARG(tr && which && *which, RESUME, "tr or which is NULL or empty");
    char *ckpt = NULL;
    LCMD_TRY(resolve(output_dir, which, &ckpt));
    ckpt_state st = {.G = 1};
    lcmd_status s = read_state(tr, ckpt, &st);
    size_t n = tr->total ? tr->total : 1;
    float *p = NULL, *t = NULL, *m = NULL, *v = NULL, *g = NULL;
    if (!s) {
        p = malloc(n * sizeof *p);
        t = malloc(n * sizeof *t);
        m = malloc(n * sizeof *m);
        v = malloc(n * sizeof *v);
        g = st.accum > 0 ? malloc(n * sizeof *g) : NULL;
        if (!p || !t || !m || !v || (st.accum > 0 && !g))
            s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, RESUME ": out of memory");
    }
    /* start from the current buffers: parameters the files lack stay as they are (none,
     * since the load is strict), and the alignment padding keeps its values */
    if (!s) s = download(tr, lcmd_unet_model_of(tr->student)->param_mem, p);
    if (!s) s = download(tr, lcmd_unet_model_of(tr->target)->param_mem, t);
    if (!s) s = load_unet_params(tr, ckpt, "unet", p);
    if (!s) s = load_unet_params(tr, ckpt, "unet_target", t);
    if (!s && (size_t)st.count != tr->total)
        s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: param_count %lld in " STATE_FILE ", the trainer has %zu", ckpt,
                           (long long)st.count, tr->total);
    if (!s) s = read_optimizer(tr, ckpt, st.accum > 0, m, v, g);
    /* everything read: now the trainer changes */
    lcmd_unet_model *sm = lcmd_unet_model_of(tr->student), *tm = lcmd_unet_model_of(tr->target);
    if (!s) s = lcmd_op_upload(sm->be, sm->param_mem, p, tr->total * sizeof *p);
    if (!s) s = lcmd_op_upload(tm->be, tm->param_mem, t, tr->total * sizeof *t);
    if (!s && g) s = lcmd_op_upload(sm->be, tr->grad, g, tr->total * sizeof *g);
    if (!s && !g) s = lcmd_op_zero(sm->be, tr->grad, tr->total * sizeof(float));
    if (!s) {
        memcpy(tr->m, m, tr->total * sizeof *m);
        memcpy(tr->v, v, tr->total * sizeof *v);
        tr->step = st.step;
        tr->micro = st.micro;
        tr->samples = st.samples;
        tr->accum = st.accum;
        tr->accum_bad = st.accum_bad;
        lcmd_log(&tr->ctx->log, LCMD_LOG_INFO, "resumed from %s at step %lld", ckpt, (long long)st.step);
    }
    free(p);
    free(t);
    free(m);
    free(v);
    free(g);
    free(ckpt);
    return s;
}

/* ------------------------------------------------------------ final save */

lcmd_status lcmd_trainer_export(lcmd_trainer *tr, const char *output_dir)
{
    LCMD_CHECK_ARG(tr && output_dir && *output_dir, "lcmd_trainer_export", "tr or output_dir is NULL or empty");
    if (mkdir(output_dir, 0777) != 0 && errno != EEXIST)
        return lcmd_set_error(LCMD_ERR_IO, "%s: cannot create folder: %s", output_dir, strerror(errno));
    char *a = NULL, *b = NULL;
    lcmd_status s = lcmd_path_join(output_dir, "unet", &a);
    if (!s) s = lcmd_path_join(output_dir, "unet_target", &b);
    if (!s) s = lcmd_unet_save(tr->student, a, LCMD_WEIGHTS_F32, NULL);
    if (!s) s = lcmd_unet_save(tr->target, b, LCMD_WEIGHTS_F32, NULL);
    free(a);
    free(b);
    return s;
}
