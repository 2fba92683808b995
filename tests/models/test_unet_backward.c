/* UNet backward against PyTorch autograd (tests/reference/gen_unet_grads.py): the
 * forward on case 1 of io_<kind>.safetensors with keep_activations, the backward of
 * loss = sum(out * G), and every parameter's gradient, the whole gradient vector and
 * the sample's gradient compared; gradients accumulate; the contract is enforced. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "models/unet.h"
#include "ops/op_calls.h"

#define FIX LCMD_FIXTURES "/unet"
#define GRAD_TOL 1e-3   /* relative error of a gradient tensor */

static const char *const KINDS[4] = {"sd15", "sd2", "sdxl", "lcm"};

static double rel(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static lcmd_safetensors *open_st(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, FIX "/%s", name);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    return st;
}

/* the tensor `name` as floats (NULL when absent); *n its element count */
static float *read_f32(lcmd_safetensors *st, const char *name, size_t *n, int64_t *shape)
{
    const lcmd_st_tensor *t = lcmd_safetensors_find(st, name);
    if (!t) return NULL;
    float *buf = malloc((size_t)t->numel * sizeof(float));
    ck_assert_ptr_nonnull(buf);
    ck_assert_msg(lcmd_safetensors_read_f32(st, name, buf, (size_t)t->numel) == LCMD_OK, "%s", lcmd_last_error());
    if (n) *n = (size_t)t->numel;
    if (shape) memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    return buf;
}

static lcmd_unet_model *load_model(lcmd_backend *be, const char *kind)
{
    char path[512];
    snprintf(path, sizeof path, FIX "/%s/config.json", kind);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    char json[16384];
    size_t len = fread(json, 1, sizeof json - 1, f);
    fclose(f);
    lcmd_unet_config cfg;
    ck_assert_msg(lcmd_unet_config_parse(json, len, path, &cfg) == LCMD_OK, "%s", lcmd_last_error());
    lcmd_unet_model *m = NULL;
    ck_assert_msg(lcmd_unet_model_create(&cfg, be, &m) == LCMD_OK, "%s", lcmd_last_error());
    snprintf(path, sizeof path, "%s/diffusion_pytorch_model.safetensors", kind);
    lcmd_safetensors *st = open_st(path);
    for (size_t i = 0; i < m->params.count; i++) {
        const lcmd_param *p = &m->params.items[i];
        float *file_order = read_f32(st, p->name, NULL, NULL);
        ck_assert_ptr_nonnull(file_order);
        lcmd_param_to_stored(p, file_order, m->param_mem + p->offset);   /* CPU: host memory */
        free(file_order);
    }
    lcmd_safetensors_close(st);
    return m;
}

/* case 1 of io_<kind>.safetensors */
typedef struct bwd_case {
    lcmd_unet_forward_args a;
    float *bufs[6];
    size_t in_n, out_n;
} bwd_case;

static void load_inputs(const char *kind, bwd_case *c)
{
    memset(c, 0, sizeof *c);
    char name[64];
    snprintf(name, sizeof name, "io_%s.safetensors", kind);
    lcmd_safetensors *st = open_st(name);
    int64_t shape[4];
    lcmd_unet_forward_args *a = &c->a;
    float *sample = read_f32(st, "case1.sample", &c->in_n, shape);
    a->batch = shape[0];
    a->height = shape[2];
    a->width = shape[3];
    c->out_n = c->in_n;   /* 4 in, 4 out channels */
    float *ehs = read_f32(st, "case1.encoder_hidden_states", NULL, shape);
    a->seq_len = shape[1];
    a->encoder_dim = shape[2];
    float *t = read_f32(st, "case1.timesteps", NULL, NULL);
    float *cond = read_f32(st, "case1.timestep_cond", NULL, NULL);
    float *text = read_f32(st, "case1.text_embeds", NULL, shape);
    if (text) a->text_embed_dim = shape[1];
    float *ids = read_f32(st, "case1.time_ids", NULL, NULL);
    a->sample = sample;
    a->encoder_hidden_states = ehs;
    a->timesteps = t;
    a->timestep_cond = cond;
    a->text_embeds = text;
    a->time_ids = ids;
    float *all[6] = {sample, ehs, t, cond, text, ids};
    memcpy(c->bufs, all, sizeof all);
    lcmd_safetensors_close(st);
}

static void free_inputs(bwd_case *c)
{
    for (int i = 0; i < 6; i++) free(c->bufs[i]);
}

static lcmd_backend *backend(void)
{
    lcmd_backend *be = NULL;
    ck_assert_int_eq(lcmd_cpu_backend_create(2, &be), LCMD_OK);
    return be;
}

static float *zeroed_grads(const lcmd_unet_model *m)
{
    float *g = calloc(m->params.total, sizeof(float));
    ck_assert_ptr_nonnull(g);
    return g;
}

START_TEST(test_grad_parity)
{
    const char *kind = KINDS[_i];
    lcmd_backend *be = backend();
    lcmd_unet_model *m = load_model(be, kind);
    m->keep_activations = 1;
    bwd_case c;
    load_inputs(kind, &c);
    char name[300];
    snprintf(name, sizeof name, "grads_%s.safetensors", kind);
    lcmd_safetensors *st = open_st(name);
    size_t gn;
    float *G = read_f32(st, "G", &gn, NULL);
    ck_assert_uint_eq(gn, c.out_n);
    float *out = malloc(c.out_n * sizeof(float)), *dsample = malloc(c.in_n * sizeof(float));
    ck_assert(out && dsample);
    ck_assert_msg(lcmd_unet_model_forward(m, be, &c.a, out) == LCMD_OK, "%s", lcmd_last_error());
    float *g = zeroed_grads(m);   /* CPU backend memory is host memory */
    ck_assert_msg(lcmd_unet_model_backward(m, be, G, g, dsample) == LCMD_OK, "%s", lcmd_last_error());

    /* per tensor, and the whole vector in file order */
    float *mine = malloc(m->params.total * sizeof(float)), *ref = malloc(m->params.total * sizeof(float));
    ck_assert(mine && ref);
    size_t pos = 0;
    double worst = 0;
    const char *worst_name = "";
    for (size_t i = 0; i < m->params.count; i++) {
        const lcmd_param *p = &m->params.items[i];
        snprintf(name, sizeof name, "grad.%s", p->name);
        size_t n;
        float *r = read_f32(st, name, &n, NULL);
        ck_assert_msg(r != NULL, "%s missing from the fixture", name);
        ck_assert_uint_eq(n, (size_t)p->numel);
        lcmd_param_to_file(p, g + p->offset, mine + pos);
        memcpy(ref + pos, r, n * sizeof(float));
        double e = rel(mine + pos, r, n);
        ck_assert_msg(e <= GRAD_TOL, "%s %s: relative error %.3e", kind, p->name, e);
        if (e > worst) {
            worst = e;
            worst_name = p->name;
        }
        pos += n;
        free(r);
    }
    double whole = rel(mine, ref, pos);
    size_t sn;
    float *rs = read_f32(st, "grad_sample", &sn, NULL);
    ck_assert_uint_eq(sn, c.in_n);
    double es = rel(dsample, rs, sn);
    fprintf(stderr, "# unet backward %s: %zu tensors, worst %.3e (%s), whole %.3e, sample %.3e; arena fwd %zu B, bwd %zu B\n",
            kind, m->params.count, worst, worst_name, whole, es, m->arena_bytes, m->bwd_bytes);
    ck_assert_msg(whole <= GRAD_TOL, "%s whole gradient: %.3e", kind, whole);
    ck_assert_msg(es <= GRAD_TOL, "%s sample gradient: %.3e", kind, es);
    free(rs);
    free(mine);
    free(ref);
    free(g);
    free(G);
    free(out);
    free(dsample);
    lcmd_safetensors_close(st);
    free_inputs(&c);
    lcmd_unet_model_destroy(m);
    lcmd_backend_destroy(be);
}
END_TEST

/* a second backward adds the same gradients again (the activations are not
 * consumed), and the sample gradient is overwritten, not accumulated */
START_TEST(test_accumulates)
{
    const char *kind = KINDS[_i];
    lcmd_backend *be = backend();
    lcmd_unet_model *m = load_model(be, kind);
    m->keep_activations = 1;
    bwd_case c;
    load_inputs(kind, &c);
    float *out = malloc(c.out_n * sizeof(float)), *G = malloc(c.out_n * sizeof(float));
    float *ds1 = malloc(c.in_n * sizeof(float)), *ds2 = malloc(c.in_n * sizeof(float));
    ck_assert(out && G && ds1 && ds2);
    for (size_t i = 0; i < c.out_n; i++) G[i] = (float)sin(0.37 * (double)i);
    ck_assert_int_eq(lcmd_unet_model_forward(m, be, &c.a, out), LCMD_OK);
    float *g1 = zeroed_grads(m), *g2 = zeroed_grads(m);
    ck_assert_msg(lcmd_unet_model_backward(m, be, G, g1, ds1) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, G, g2, NULL), LCMD_OK);
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, G, g2, ds2), LCMD_OK);
    for (size_t i = 0; i < m->params.total; i++) g1[i] *= 2.0f;
    double e = rel(g2, g1, m->params.total);
    ck_assert_msg(e <= 1e-6, "%s: twice the backward is not 2x: %.3e", kind, e);
    ck_assert(memcmp(ds1, ds2, c.in_n * sizeof(float)) == 0);
    free(g1);
    free(g2);
    free(out);
    free(G);
    free(ds1);
    free(ds2);
    free_inputs(&c);
    lcmd_unet_model_destroy(m);
    lcmd_backend_destroy(be);
}
END_TEST

/* one forward + backward; returns the gradients (calloc'd), the sample gradient and
 * the bytes of both arenas */
static float *grads_of(const char *kind, int keep, int checkpoint, float *dsample, size_t *fwd_bytes,
                       size_t *bwd_bytes, size_t *total)
{
    lcmd_backend *be = backend();
    lcmd_unet_model *m = load_model(be, kind);
    m->keep_activations = keep;
    m->checkpoint = checkpoint;
    bwd_case c;
    load_inputs(kind, &c);
    float *out = malloc(c.out_n * sizeof(float)), *G = malloc(c.out_n * sizeof(float));
    ck_assert(out && G);
    for (size_t i = 0; i < c.out_n; i++) G[i] = (float)cos(0.11 * (double)i);
    ck_assert_int_eq(lcmd_unet_model_forward(m, be, &c.a, out), LCMD_OK);
    float *g = zeroed_grads(m);
    ck_assert_msg(lcmd_unet_model_backward(m, be, G, g, dsample) == LCMD_OK, "%s", lcmd_last_error());
    *fwd_bytes = m->arena_bytes;
    *bwd_bytes = m->bwd_bytes;
    *total = m->params.total;
    free(out);
    free(G);
    free_inputs(&c);
    lcmd_unet_model_destroy(m);
    lcmd_backend_destroy(be);
    return g;
}

/* gradient checkpointing: the same gradients from block-level tensors, less memory */
START_TEST(test_checkpoint)
{
    const char *kind = KINDS[_i];
    float ds_keep[4096], ds_ck[4096];
    size_t f1, b1, f2, b2, n1, n2;
    float *g_keep = grads_of(kind, 1, 0, ds_keep, &f1, &b1, &n1);
    float *g_ck = grads_of(kind, 0, 1, ds_ck, &f2, &b2, &n2);
    ck_assert_uint_eq(n1, n2);
    double e = rel(g_ck, g_keep, n1);
    fprintf(stderr, "# unet checkpoint %s: grad diff %.3e; arenas keep %zu + %zu = %zu B, checkpoint %zu + %zu = %zu B\n",
            kind, e, f1, b1, f1 + b1, f2, b2, f2 + b2);
    ck_assert_msg(e <= 1e-6, "%s: checkpointed gradients differ by %.3e", kind, e);
    ck_assert(memcmp(ds_keep, ds_ck, 2 * 4 * 8 * 16 * sizeof(float)) == 0);
    ck_assert(f2 + b2 < f1 + b1);
    free(g_keep);
    free(g_ck);
}
END_TEST

/* no backward without the activations of a keeping forward */
START_TEST(test_refused)
{
    lcmd_backend *be = backend();
    lcmd_unet_model *m = load_model(be, "sd15");
    bwd_case c;
    load_inputs("sd15", &c);
    float *out = malloc(c.out_n * sizeof(float)), *G = calloc(c.out_n, sizeof(float));
    float *g = zeroed_grads(m), *g0 = zeroed_grads(m);
    ck_assert(out && G);
    /* never ran */
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, G, g, NULL), LCMD_ERR_INVALID_ARGUMENT);
    /* inference forward */
    m->keep_activations = 0;
    ck_assert_int_eq(lcmd_unet_model_forward(m, be, &c.a, out), LCMD_OK);
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, G, g, NULL), LCMD_ERR_INVALID_ARGUMENT);
    /* a keeping forward, then a planning call that overwrites the saved pointers */
    m->keep_activations = 1;
    ck_assert_int_eq(lcmd_unet_model_forward(m, be, &c.a, out), LCMD_OK);
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, G, g, NULL), LCMD_OK);
    size_t bytes;
    ck_assert_int_eq(lcmd_unet_model_plan(m, 1, 8, 8, 7, &bytes), LCMD_OK);
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, G, g, NULL), LCMD_ERR_INVALID_ARGUMENT);
    /* bad arguments */
    ck_assert_int_eq(lcmd_unet_model_forward(m, be, &c.a, out), LCMD_OK);
    ck_assert_int_eq(lcmd_unet_model_backward(NULL, be, G, g, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, NULL, g, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, G, NULL, NULL), LCMD_ERR_INVALID_ARGUMENT);
    G[3] = NAN;
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, G, g0, NULL), LCMD_ERR_NUMERIC);
    G[3] = 0.0f;
    m->keep_activations = 0;   /* an inference forward after a keeping one */
    ck_assert_int_eq(lcmd_unet_model_forward(m, be, &c.a, out), LCMD_OK);
    ck_assert_int_eq(lcmd_unet_model_backward(m, be, G, g0, NULL), LCMD_ERR_INVALID_ARGUMENT);
    /* refused calls leave the gradients alone */
    for (size_t i = 0; i < m->params.total; i++) ck_assert(g0[i] == 0.0f);
    free(g0);
    free(g);
    free(out);
    free(G);
    free_inputs(&c);
    lcmd_unet_model_destroy(m);
    lcmd_backend_destroy(be);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("unet_backward");
    TCase *tc = tcase_create("backward");
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, test_grad_parity, 0, 4);
    tcase_add_loop_test(tc, test_accumulates, 0, 4);
    tcase_add_loop_test(tc, test_checkpoint, 0, 4);
    tcase_add_test(tc, test_refused);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
