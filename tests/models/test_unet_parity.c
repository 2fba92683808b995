/* Forward parity with diffusers on the fixtures: three cases per kind (batch 1..3,
 * square and non-square latents, float timesteps), fp32 weights and weights
 * rounded to fp16 / bf16. */
#include "test_unet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static float *read_tensor(lcmd_safetensors *st, int c, const char *name, int64_t *shape, int32_t *ndim)
{
    char key[128];
    snprintf(key, sizeof key, "case%d.%s", c, name);
    const lcmd_st_tensor *t = lcmd_safetensors_find(st, key);
    if (!t) return NULL;
    float *buf = malloc((size_t)t->numel * sizeof(float));
    ck_assert_ptr_nonnull(buf);
    ck_assert_msg(lcmd_safetensors_read_f32(st, key, buf, (size_t)t->numel) == LCMD_OK, "%s", lcmd_last_error());
    if (shape) memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    if (ndim) *ndim = t->ndim;
    return buf;
}

void load_case(lcmd_safetensors *st, int c, const char *out_name, io_case *io)
{
    memset(io, 0, sizeof *io);
    int64_t shape[8];
    lcmd_unet_forward_args *a = &io->a;
    float *sample = read_tensor(st, c, "sample", shape, NULL);
    ck_assert_ptr_nonnull(sample);
    a->sample = sample;
    a->batch = shape[0];
    a->height = shape[2];
    a->width = shape[3];
    float *ehs = read_tensor(st, c, "encoder_hidden_states", shape, NULL);
    a->encoder_hidden_states = ehs;
    a->seq_len = shape[1];
    a->encoder_dim = shape[2];
    float *t = read_tensor(st, c, "timesteps", NULL, NULL);
    a->timesteps = t;
    float *cond = read_tensor(st, c, "timestep_cond", NULL, NULL);
    a->timestep_cond = cond;
    float *text = read_tensor(st, c, "text_embeds", shape, NULL);
    a->text_embeds = text;
    if (text) a->text_embed_dim = shape[1];
    float *ids = read_tensor(st, c, "time_ids", NULL, NULL);
    a->time_ids = ids;
    io->expected = read_tensor(st, c, out_name, shape, NULL);
    ck_assert_ptr_nonnull(io->expected);
    io->out_n = (size_t)(shape[0] * shape[1] * shape[2] * shape[3]);
    float *all[7] = {sample, t, ehs, cond, text, ids, io->expected};
    memcpy(io->bufs, all, sizeof all);
}

void free_case(io_case *io)
{
    for (int i = 0; i < 7; i++) free(io->bufs[i]);
}

static lcmd_safetensors *open_io(const char *kind)
{
    char path[512];
    snprintf(path, sizeof path, UNET_FIXTURE("io_%s.safetensors"), kind);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    return st;
}

static void check_parity(const char *kind, const char *weights, const char *out_name, int keep)
{
    lcmd_backend *be = cpu_backend();
    lcmd_unet_model *m = load_unet(be, kind, weights);
    m->keep_activations = keep;
    lcmd_safetensors *st = open_io(kind);
    for (int c = 0; c < 3; c++) {
        io_case io;
        load_case(st, c, out_name, &io);
        float *out = malloc(io.out_n * sizeof(float));
        ck_assert_ptr_nonnull(out);
        lcmd_status s = lcmd_unet_model_forward(m, be, &io.a, out);
        ck_assert_msg(s == LCMD_OK, "%s case%d: %s", kind, c, lcmd_last_error());
        double err = rel_err(out, io.expected, io.out_n);
        fprintf(stderr, "# unet %s %s case%d (batch %lld, %lldx%lld, keep %d): rel err %.3e\n", kind, out_name, c,
                (long long)io.a.batch, (long long)io.a.height, (long long)io.a.width, keep, err);
        ck_assert_msg(err <= TOL, "%s %s case%d: relative error %.3e > %.0e", kind, out_name, c, err, TOL);
        free(out);
        free_case(&io);
    }
    lcmd_safetensors_close(st);
    lcmd_unet_model_destroy(m);
    lcmd_backend_destroy(be);
}

START_TEST(test_parity_fp32)
{
    check_parity(unet_kinds[_i], "diffusion_pytorch_model.safetensors", "out", 0);
}
END_TEST

START_TEST(test_parity_keep_activations)
{
    check_parity(unet_kinds[_i], "diffusion_pytorch_model.safetensors", "out", 1);
}
END_TEST

/* half-type weights, widened to fp32 on load, against diffusers run on the same rounded weights */
START_TEST(test_parity_half_weights)
{
    check_parity(unet_kinds[_i], "diffusion_pytorch_model.fp16.safetensors", "out_fp16_weights", 0);
    check_parity(unet_kinds[_i], "diffusion_pytorch_model.bf16.safetensors", "out_bf16_weights", 0);
}
END_TEST

/* the same input twice, and after a larger shape (the arena is reused, then regrown) */
START_TEST(test_repeatable_across_shapes)
{
    lcmd_backend *be = cpu_backend();
    lcmd_unet_model *m = load_unet(be, "sd15", "diffusion_pytorch_model.safetensors");
    lcmd_safetensors *st = open_io("sd15");
    io_case small, big;
    load_case(st, 0, "out", &small);
    load_case(st, 2, "out", &big);
    float *o1 = malloc(small.out_n * sizeof(float)), *o2 = malloc(small.out_n * sizeof(float));
    float *ob = malloc(big.out_n * sizeof(float));
    ck_assert_int_eq(lcmd_unet_model_forward(m, be, &small.a, o1), LCMD_OK);
    size_t small_arena = m->arena_bytes;
    ck_assert_int_eq(lcmd_unet_model_forward(m, be, &big.a, ob), LCMD_OK);
    ck_assert(m->arena_bytes > small_arena);
    ck_assert_int_eq(lcmd_unet_model_forward(m, be, &small.a, o2), LCMD_OK);
    ck_assert(memcmp(o1, o2, small.out_n * sizeof(float)) == 0);
    ck_assert(rel_err(ob, big.expected, big.out_n) <= TOL);
    size_t plan = 0;
    ck_assert_int_eq(lcmd_unet_model_plan(m, 1, 8, 8, 7, &plan), LCMD_OK);
    ck_assert_int_eq(plan, small_arena);
    free(o1);
    free(o2);
    free(ob);
    free_case(&small);
    free_case(&big);
    lcmd_safetensors_close(st);
    lcmd_unet_model_destroy(m);
    lcmd_backend_destroy(be);
}
END_TEST

TCase *unet_parity_tcase(void)
{
    TCase *tc = tcase_create("parity");
    tcase_set_timeout(tc, 240);
    tcase_add_loop_test(tc, test_parity_fp32, 0, 4);
    tcase_add_loop_test(tc, test_parity_keep_activations, 0, 4);
    tcase_add_loop_test(tc, test_parity_half_weights, 0, 4);
    tcase_add_test(tc, test_repeatable_across_shapes);
    return tc;
}
