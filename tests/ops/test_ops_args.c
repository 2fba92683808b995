/* The checked wrappers reject bad input with a status and a message naming the
 * op, the field and the value, and never touch the data. */
#include <string.h>

#include <lcmd/status.h>

#include "ops/op_calls.h"
#include "test_ops.h"

static float buf_a[64], buf_b[64], buf_c[64];

#define ASSERT_FAILS(call, status, needle)                                                     \
    do {                                                                                       \
        lcmd_status st_ = (call);                                                              \
        ck_assert_int_eq(st_, (status));                                                       \
        ck_assert_msg(strstr(lcmd_last_error(), (needle)) != NULL, "message '%s' lacks '%s'",  \
                      lcmd_last_error(), (needle));                                            \
    } while (0)

START_TEST(test_null_backend)
{
    ASSERT_FAILS(lcmd_op_add_fwd(NULL, LCMD_DT_F32, buf_a, buf_b, buf_c, 4), LCMD_ERR_INVALID_ARGUMENT,
                 "lcmd_op_add_fwd: be is NULL");
    void *p = buf_a;
    ASSERT_FAILS(lcmd_op_alloc(NULL, 16, &p), LCMD_ERR_INVALID_ARGUMENT, "be is NULL");
    lcmd_backend no_ops = {0};
    ASSERT_FAILS(lcmd_op_scale(&no_ops, LCMD_DT_F32, buf_a, 2.0f, 4), LCMD_ERR_INVALID_ARGUMENT, "be->ops");
}
END_TEST

START_TEST(test_null_pointers)
{
    lcmd_backend *be = test_cpu_backend();
    ASSERT_FAILS(lcmd_op_linear_fwd(be, LCMD_DT_F32, NULL, buf_a, buf_b, NULL, 2, 2, 2), LCMD_ERR_INVALID_ARGUMENT,
                 "lcmd_op_linear_fwd: out is NULL");
    ASSERT_FAILS(lcmd_op_mul_fwd(be, LCMD_DT_F32, buf_a, buf_b, NULL, 4), LCMD_ERR_INVALID_ARGUMENT, "b is NULL");
    lcmd_attn_shape s = {.b = 1, .heads = 1, .sq = 2, .skv = 2, .head_dim = 2, .ldq = 2, .ldk = 2, .ldv = 2,
                         .ldo = 2, .scale = 1.0f};
    ASSERT_FAILS(lcmd_op_attention_fwd(be, LCMD_DT_F32, &s, buf_a, NULL, buf_a, buf_b, buf_c),
                 LCMD_ERR_INVALID_ARGUMENT, "lse is NULL");
    ASSERT_FAILS(lcmd_op_conv2d_fwd(be, LCMD_DT_F32, NULL, buf_a, buf_b, buf_c, NULL), LCMD_ERR_INVALID_ARGUMENT,
                 "s is NULL");
    /* linear_bwd needs w for dinp */
    ASSERT_FAILS(lcmd_op_linear_bwd(be, LCMD_DT_F32, buf_a, NULL, NULL, buf_b, buf_c, NULL, 2, 2, 2),
                 LCMD_ERR_INVALID_ARGUMENT, "w is NULL");
    lcmd_backend_destroy(be);
}
END_TEST

START_TEST(test_zero_and_negative_sizes)
{
    lcmd_backend *be = test_cpu_backend();
    ASSERT_FAILS(lcmd_op_act_fwd(be, LCMD_DT_F32, LCMD_ACT_SILU, buf_a, buf_b, 0), LCMD_ERR_INVALID_ARGUMENT,
                 "lcmd_op_act_fwd: n = 0 must be > 0");
    ASSERT_FAILS(lcmd_op_softmax_fwd(be, LCMD_DT_F32, buf_a, buf_b, 2, -5, 1.0f), LCMD_ERR_INVALID_ARGUMENT,
                 "cols = -5");
    lcmd_conv2d_shape cs = {.n = 1, .h = 4, .w = 4, .c_in = -3, .c_out = 2, .kh = 3, .kw = 3, .stride = 1, .pad = 1};
    ASSERT_FAILS(lcmd_op_conv2d_fwd(be, LCMD_DT_F32, &cs, buf_a, buf_b, buf_c, NULL), LCMD_ERR_INVALID_ARGUMENT,
                 "lcmd_op_conv2d_fwd: shape.c_in = -3 must be > 0");
    cs.c_in = 2;
    cs.stride = 0;
    ASSERT_FAILS(lcmd_op_conv2d_bwd(be, LCMD_DT_F32, &cs, buf_a, NULL, NULL, buf_b, buf_c, buf_a),
                 LCMD_ERR_INVALID_ARGUMENT, "shape.stride = 0");
    cs.stride = 1;
    cs.pad = -1;
    ASSERT_FAILS(lcmd_op_conv2d_fwd(be, LCMD_DT_F32, &cs, buf_a, buf_b, buf_c, NULL), LCMD_ERR_INVALID_ARGUMENT,
                 "shape.pad = -1");
    cs.pad = 0;
    cs.h = 2;   /* 3x3 kernel, no pad: no output row */
    ASSERT_FAILS(lcmd_op_conv2d_fwd(be, LCMD_DT_F32, &cs, buf_a, buf_b, buf_c, NULL), LCMD_ERR_INVALID_ARGUMENT,
                 "shape.h = 2");
    ASSERT_FAILS(lcmd_op_gemm(be, LCMD_DT_F32, 0, 0, 2, 3, 4, 1.0f, buf_a, 3, 0, buf_b, 3, 0, 0.0f, buf_c, 3, 0, 1),
                 LCMD_ERR_INVALID_ARGUMENT, "lda = 3 must be >= k = 4");
    ASSERT_FAILS(lcmd_op_gemm(be, LCMD_DT_F32, 0, 0, 2, 3, 4, 1.0f, buf_a, 4, 0, buf_b, 3, 0, 0.0f, buf_c, 3, 0, 0),
                 LCMD_ERR_INVALID_ARGUMENT, "batch = 0");
    ASSERT_FAILS(lcmd_op_upsample2x_fwd(be, LCMD_DT_F32, buf_a, buf_b, 1, 0, 2, 2), LCMD_ERR_INVALID_ARGUMENT,
                 "h = 0");
    ASSERT_FAILS(lcmd_op_concat_fwd(be, LCMD_DT_F32, buf_a, buf_b, buf_c, 2, 0, 2), LCMD_ERR_INVALID_ARGUMENT,
                 "ca = 0");
    lcmd_backend_destroy(be);
}
END_TEST

START_TEST(test_inconsistent_shapes)
{
    lcmd_backend *be = test_cpu_backend();
    float mean[4], rstd[4];
    ASSERT_FAILS(lcmd_op_groupnorm_fwd(be, LCMD_DT_F32, buf_a, mean, rstd, buf_b, buf_c, buf_c, 1, 2, 12, 5,
                                       1e-5f, 0),
                 LCMD_ERR_INVALID_ARGUMENT, "lcmd_op_groupnorm_fwd: groups = 5 does not divide c = 12");
    lcmd_attn_shape s = {.b = 1, .heads = 2, .sq = 3, .skv = 4, .head_dim = 2, .ldq = 4, .ldk = 4, .ldv = 4,
                         .ldo = 4, .scale = 1.0f, .causal = 1};
    ASSERT_FAILS(lcmd_op_attention_fwd(be, LCMD_DT_F32, &s, buf_a, mean, buf_a, buf_b, buf_c),
                 LCMD_ERR_INVALID_ARGUMENT, "shape.causal needs sq == skv");
    s.causal = 0;
    s.ldk = 3;
    ASSERT_FAILS(lcmd_op_attention_fwd(be, LCMD_DT_F32, &s, buf_a, mean, buf_a, buf_b, buf_c),
                 LCMD_ERR_INVALID_ARGUMENT, "shape.ldk = 3 must be >= heads * head_dim = 4");
    ASSERT_FAILS(lcmd_op_timestep_emb_fwd(be, LCMD_DT_F32, buf_a, buf_b, 2, 2, 0, 1.0f, 1.0f, 10000.0f),
                 LCMD_ERR_INVALID_ARGUMENT, "shift = 1");
    ASSERT_FAILS(lcmd_op_act_fwd(be, LCMD_DT_F32, (lcmd_act)9, buf_a, buf_b, 4), LCMD_ERR_INVALID_ARGUMENT,
                 "act = 9");
    ASSERT_FAILS(lcmd_op_layernorm_fwd(be, LCMD_DT_F32, buf_a, mean, rstd, buf_b, buf_c, buf_c, 2, 2, -1.0f),
                 LCMD_ERR_INVALID_ARGUMENT, "eps = -1");
    lcmd_backend_destroy(be);
}
END_TEST

START_TEST(test_dtypes)
{
    lcmd_backend *be = test_cpu_backend();
    ASSERT_FAILS(lcmd_op_add_fwd(be, LCMD_DT_BF16, buf_a, buf_b, buf_c, 4), LCMD_ERR_UNSUPPORTED, "f32");
    ASSERT_FAILS(lcmd_op_conv2d_bwd(be, LCMD_DT_F16,
                                    &(lcmd_conv2d_shape){.n = 1, .h = 3, .w = 3, .c_in = 1, .c_out = 1, .kh = 3,
                                                         .kw = 3, .stride = 1, .pad = 1},
                                    buf_a, NULL, NULL, buf_b, buf_c, buf_a),
                 LCMD_ERR_UNSUPPORTED, "conv2d_bwd");
    ASSERT_FAILS(lcmd_op_add_fwd(be, (lcmd_dtype)7, buf_a, buf_b, buf_c, 4), LCMD_ERR_INVALID_ARGUMENT, "dt = 7");
    lcmd_backend_destroy(be);
}
END_TEST

/* backward with every gradient NULL is a no-op, and data is never read */
START_TEST(test_all_gradients_null)
{
    lcmd_backend *be = test_cpu_backend();
    ck_assert_int_eq(lcmd_op_act_bwd(be, LCMD_DT_F32, LCMD_ACT_GELU, NULL, buf_a, buf_b, 4), LCMD_OK);
    ck_assert_int_eq(lcmd_op_mul_bwd(be, LCMD_DT_F32, NULL, NULL, buf_a, NULL, NULL, 4), LCMD_OK);
    lcmd_backend_destroy(be);
}
END_TEST

TCase *ops_args_tcase(void)
{
    TCase *tc = tcase_create("arguments");
    tcase_add_test(tc, test_null_backend);
    tcase_add_test(tc, test_null_pointers);
    tcase_add_test(tc, test_zero_and_negative_sizes);
    tcase_add_test(tc, test_inconsistent_shapes);
    tcase_add_test(tc, test_dtypes);
    tcase_add_test(tc, test_all_gradients_null);
    return tc;
}
