/* Helpers of the trainer tests (train_util.h). */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ops/op_calls.h"
#include "train_util.h"

/* LCMD_TEST_DEVICE (e.g. "cuda") runs the parity cases on that device; the other
 * cases read the trainer's buffers as host memory and always use the CPU. */
lcmd_context *new_ctx_on(const char *device)
{
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    if (device) o.device = device;
    o.num_threads = 2;
    o.log_level = LCMD_LOG_WARN;
    lcmd_context *ctx = NULL;
    ck_assert_msg(lcmd_context_create(&o, &ctx) == LCMD_OK, "%s", lcmd_last_error());
    return ctx;
}


/* LCMD_TEST_FIXTURES overrides the fixture folder (a binary run elsewhere) */
const char *fixtures(void)
{
    const char *f = getenv("LCMD_TEST_FIXTURES");
    return f && *f ? f : LCMD_FIXTURES;
}

/* a host copy of a model's flat parameter buffer */
float *params_host(lcmd_unet *u)
{
    lcmd_unet_model *m = lcmd_unet_model_of(u);
    float *h = malloc(m->params.total * sizeof *h);
    ck_assert_ptr_nonnull(h);
    ck_assert(lcmd_op_download(m->be, h, m->param_mem, m->params.total * sizeof *h) == LCMD_OK);
    return h;
}

lcmd_unet *load_teacher(lcmd_context *ctx, const char *kind)
{
    char path[512];
    snprintf(path, sizeof path, "%s/unet/%s", fixtures(), kind);
    lcmd_unet *u = NULL;
    ck_assert_msg(lcmd_unet_load(ctx, path, NULL, &u) == LCMD_OK, "%s", lcmd_last_error());
    return u;
}

void load_sched(const char *name, lcmd_scheduler_config *cfg)
{
    char path[512];
    snprintf(path, sizeof path, "%s/scheduler/%s", fixtures(), name);
    lcmd_scheduler_config_init(cfg);
    ck_assert_msg(lcmd_scheduler_config_load(path, cfg) == LCMD_OK, "%s", lcmd_last_error());
}

float *read_f32(lcmd_safetensors *st, const char *name, size_t *n)
{
    const lcmd_st_tensor *t = lcmd_safetensors_find(st, name);
    ck_assert_msg(t != NULL, "fixture tensor %s missing", name);
    float *buf = malloc((size_t)t->numel * sizeof(float));
    ck_assert_ptr_nonnull(buf);
    ck_assert_msg(lcmd_safetensors_read_f32(st, name, buf, (size_t)t->numel) == LCMD_OK, "%s", lcmd_last_error());
    if (n) *n = (size_t)t->numel;
    return buf;
}

/* index into the PyTorch tensor of element j of a stored parameter */
static int64_t src_index(const lcmd_param *p, int64_t j)
{
    if (p->layout != LCMD_PARAM_CONV) return j;
    int64_t C = p->shape[1], RS = p->shape[2] * p->shape[3];   /* stored [K, R, S, C] <- file [K, C, R, S] */
    int64_t k = j / (RS * C), rem = j % (RS * C), rs = rem / C, c = rem % C;
    return (k * C + c) * RS + rs;
}

/* relative L2 error of a stored parameter against the PyTorch tensor */
static double param_rel(const lcmd_param *p, const float *mem, const float *ref)
{
    double num = 0, den = 0;
    for (int64_t i = 0; i < p->numel; i++) {
        double r = (double)ref[src_index(p, i)];
        double d = (double)mem[p->offset + (size_t)i] - r;
        num += d * d;
        den += r * r;
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* final weights and the update (final − init, init in stored layout) against PyTorch */
void compare_model(lcmd_unet *u, lcmd_safetensors *st, const char *prefix, const float *init, double utol)
{
    lcmd_unet_model *m = lcmd_unet_model_of(u);
    float *mem = params_host(u);
    double worst = 0, dnum = 0, dden = 0;
    const char *worst_name = "";
    for (size_t i = 0; i < m->params.count; i++) {
        const lcmd_param *p = &m->params.items[i];
        char key[512];
        snprintf(key, sizeof key, "%s.%s", prefix, p->name);
        float *ref = read_f32(st, key, NULL);
        double r = param_rel(p, mem, ref);
        for (int64_t j = 0; j < p->numel; j++) {
            size_t at = p->offset + (size_t)j;
            double e = (double)mem[at] - (double)ref[src_index(p, j)];
            double d = (double)ref[src_index(p, j)] - (double)init[at];
            dnum += e * e;
            dden += d * d;
        }
        free(ref);
        if (!(r <= worst)) {
            worst = r;
            worst_name = p->name;
        }
    }
    free(mem);
    double upd = sqrt(dnum / dden);
    printf("# %s: worst relative weight error %.3g (%s); relative error of the whole update %.3g\n", prefix,
           worst, worst_name, upd);
    ck_assert_msg(worst <= TOL, "%s: %s off by %g relative", prefix, worst_name, worst);
    ck_assert_msg(upd <= utol, "%s: the update is off by %g relative", prefix, upd);
}
