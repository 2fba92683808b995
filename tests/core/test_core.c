/* Core runtime: Philox known answers, draws, fp16/bf16 conversion, arena. */
#include <check.h>
#include <pthread.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <lcmd/lcmd.h>
#include "core/arena.h"
#include "core/error.h"
#include "core/half.h"
#include "core/philox.h"

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/* Known-answer vectors published with the Random123 library (kat_vectors). */
START_TEST(philox_known_answers)
{
    static const uint32_t kat[3][10] = {
        {0, 0, 0, 0, 0, 0, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u},
        {0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu,
         0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu},
        {0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u,
         0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u},
    };
    for (int i = 0; i < 3; i++) {
        uint32_t out[4];
        ck_assert_int_eq(lcmd_philox4x32_10(kat[i], kat[i] + 4, out), LCMD_OK);
        for (int j = 0; j < 4; j++)
            ck_assert_msg(out[j] == kat[i][6 + j], "vector %d word %d: %08x != %08x", i, j, out[j], kat[i][6 + j]);
    }
    ck_assert_int_eq(lcmd_philox4x32_10(NULL, kat[0], (uint32_t[4]){0}), LCMD_ERR_INVALID_ARGUMENT);
}
END_TEST

START_TEST(rng_uniform_range_and_slices)
{
    enum { N = 100003 };
    float *u = malloc(N * sizeof *u), *slice = malloc(64 * sizeof *slice);
    ck_assert_int_eq(lcmd_rng_uniform(42, 7, 0, u, N), LCMD_OK);
    double mean = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(u[i] >= 0.0f && u[i] < 1.0f);
        mean += u[i];
    }
    mean /= N;
    ck_assert_msg(fabs(mean - 0.5) < 0.005, "uniform mean %f", mean);
    /* element i lives in block offset + i/4: a fill starting at block 100 is the
     * tail of the long fill from element 400 on */
    ck_assert_int_eq(lcmd_rng_uniform(42, 7, 100, slice, 64), LCMD_OK);
    ck_assert(memcmp(slice, u + 400, 64 * sizeof *slice) == 0);
    /* another stream or seed gives other numbers */
    ck_assert_int_eq(lcmd_rng_uniform(42, 8, 0, slice, 64), LCMD_OK);
    ck_assert(memcmp(slice, u, 64 * sizeof *slice) != 0);
    ck_assert_int_eq(lcmd_rng_uniform(43, 7, 0, slice, 64), LCMD_OK);
    ck_assert(memcmp(slice, u, 64 * sizeof *slice) != 0);
    ck_assert_int_eq(lcmd_rng_uniform(1, 1, 0, NULL, 4), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_rng_uniform(1, 1, 0, NULL, 0), LCMD_OK);
    free(u);
    free(slice);
}
END_TEST

START_TEST(rng_normal_moments)
{
    enum { N = 400000 };
    float *z = malloc(N * sizeof *z);
    ck_assert_int_eq(lcmd_rng_normal(1234, 0, 0, z, N), LCMD_OK);
    double m1 = 0, m2 = 0, m4 = 0;
    for (int i = 0; i < N; i++) {
        ck_assert(isfinite(z[i]));
        m1 += z[i];
        m2 += (double)z[i] * z[i];
        m4 += (double)z[i] * z[i] * z[i] * z[i];
    }
    m1 /= N; m2 /= N; m4 /= N;
    /* standard errors: mean 1/sqrt(N) = 0.0016, var sqrt(2/N) = 0.0022, kurtosis ~0.0077 */
    ck_assert_msg(fabs(m1) < 0.008, "mean %f", m1);
    ck_assert_msg(fabs(m2 - 1.0) < 0.011, "variance %f", m2);
    ck_assert_msg(fabs(m4 - 3.0) < 0.06, "fourth moment %f", m4);
    /* odd lengths end mid-block and still equal the prefix of a longer fill */
    float tail[7];
    ck_assert_int_eq(lcmd_rng_normal(1234, 0, 0, tail, 7), LCMD_OK);
    ck_assert(memcmp(tail, z, sizeof tail) == 0);
    free(z);
}
END_TEST

START_TEST(f16_round_trip_all_values)
{
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lcmd_f16_to_f32((uint16_t)h);
        uint16_t back = lcmd_f32_to_f16(f);
        if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu)) {
            ck_assert(isnan(f));
            ck_assert((back & 0x7c00u) == 0x7c00u && (back & 0x3ffu));
        } else {
            ck_assert_msg(back == h, "%04x -> %g -> %04x", h, (double)f, back);
        }
    }
}
END_TEST

START_TEST(f16_edge_values)
{
    ck_assert_uint_eq(lcmd_f32_to_f16(65504.0f), 0x7bff);           /* largest finite */
    ck_assert_uint_eq(lcmd_f32_to_f16(65519.99f), 0x7bff);          /* below the tie */
    ck_assert_uint_eq(lcmd_f32_to_f16(65520.0f), 0x7c00);           /* tie rounds to even = Inf */
    ck_assert_uint_eq(lcmd_f32_to_f16(1e10f), 0x7c00);
    ck_assert_uint_eq(lcmd_f32_to_f16(-INFINITY), 0xfc00);
    ck_assert(isnan(lcmd_f16_to_f32(lcmd_f32_to_f16(NAN))));
    ck_assert_uint_eq(lcmd_f32_to_f16(-0.0f), 0x8000);
    ck_assert_uint_eq(lcmd_f32_to_f16(ldexpf(1.0f, -24)), 0x0001);  /* smallest subnormal */
    ck_assert_uint_eq(lcmd_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);  /* tie -> even (0) */
    ck_assert_uint_eq(lcmd_f32_to_f16(ldexpf(3.0f, -25)), 0x0002);  /* 1.5 ulp -> 2 (even) */
    ck_assert_uint_eq(lcmd_f32_to_f16(ldexpf(1.0f, -14)), 0x0400);  /* smallest normal */
    ck_assert_uint_eq(lcmd_f32_to_f16(ldexpf(1023.0f, -24)), 0x03ff);
    /* ties between normal neighbours: 1 + 2^-11 -> 1 (even), 1 + 3*2^-11 -> 1 + 2^-9 */
    ck_assert_uint_eq(lcmd_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);
    ck_assert_uint_eq(lcmd_f32_to_f16(1.0f + ldexpf(3.0f, -11)), 0x3c02);
    ck_assert_uint_eq(lcmd_f32_to_f16(1.0f + ldexpf(1.0f, -11) + ldexpf(1.0f, -20)), 0x3c01);
    ck_assert(lcmd_f16_to_f32(0x7c00) == INFINITY);
    ck_assert(lcmd_f16_to_f32(0x0001) == ldexpf(1.0f, -24));
    ck_assert(lcmd_f16_to_f32(0x8000) == 0.0f && signbit(lcmd_f16_to_f32(0x8000)));
}
END_TEST

START_TEST(bf16_edge_values)
{
    ck_assert_uint_eq(lcmd_f32_to_bf16(1.0f), 0x3f80);
    ck_assert_uint_eq(lcmd_f32_to_bf16(bitsf(0x3f808000u)), 0x3f80);   /* tie -> even */
    ck_assert_uint_eq(lcmd_f32_to_bf16(bitsf(0x3f818000u)), 0x3f82);   /* tie -> even (up) */
    ck_assert_uint_eq(lcmd_f32_to_bf16(bitsf(0x3f808001u)), 0x3f81);   /* above the tie */
    ck_assert_uint_eq(lcmd_f32_to_bf16(bitsf(0x7f7fffffu)), 0x7f80);   /* FLT_MAX rounds to Inf */
    ck_assert_uint_eq(lcmd_f32_to_bf16(INFINITY), 0x7f80);
    ck_assert_uint_eq(lcmd_f32_to_bf16(-INFINITY), 0xff80);
    ck_assert_uint_eq(lcmd_f32_to_bf16(bitsf(0x00010000u)), 0x0001);   /* subnormal kept */
    ck_assert_uint_eq(lcmd_f32_to_bf16(bitsf(0x00008000u)), 0x0000);   /* tie -> even (0) */
    uint16_t qn = lcmd_f32_to_bf16(bitsf(0x7f800001u));                /* NaN with payload in low bits */
    ck_assert(isnan(lcmd_bf16_to_f32(qn)));
    ck_assert_uint_eq(fbits(lcmd_bf16_to_f32(0xbf80)), 0xbf800000u);
    for (uint32_t h = 0; h < 65536; h++) {                            /* exact round trip */
        float f = lcmd_bf16_to_f32((uint16_t)h);
        if (!isnan(f))
            ck_assert_uint_eq(lcmd_f32_to_bf16(f), h);
    }
}
END_TEST

START_TEST(arena_alignment_and_exhaustion)
{
    static unsigned char block[4096] __attribute__((aligned(256)));
    lcmd_arena a;
    lcmd_arena_init(&a, block, sizeof block);
    void *p1, *p2, *p3;
    ck_assert_int_eq(lcmd_arena_alloc(&a, 10, &p1), LCMD_OK);
    ck_assert_int_eq(lcmd_arena_alloc(&a, 300, &p2), LCMD_OK);
    ck_assert(((uintptr_t)p2 % LCMD_ARENA_ALIGN) == 0);
    ck_assert_ptr_eq(p2, block + 256);
    size_t mark = lcmd_arena_mark(&a);
    ck_assert_int_eq(lcmd_arena_alloc(&a, 1000, &p3), LCMD_OK);
    ck_assert_int_eq(lcmd_arena_alloc(&a, 4096, &p3), LCMD_ERR_OUT_OF_MEMORY);
    ck_assert_ptr_null(p3);
    ck_assert(strstr(lcmd_last_error(), "4096 bytes requested") != NULL);
    ck_assert_int_eq(lcmd_arena_alloc(&a, (size_t)-1, &p3), LCMD_ERR_OUT_OF_MEMORY);
    lcmd_arena_release(&a, mark);
    ck_assert_uint_eq(a.used, 768);
    ck_assert_uint_eq(a.peak, 768 + 1024);
    lcmd_arena_reset(&a);
    ck_assert_uint_eq(a.used, 0);
}
END_TEST

static void *fail_on_other_thread(void *arg)
{
    lcmd_set_error(LCMD_ERR_FORMAT, "other thread");
    strcpy((char *)arg, lcmd_last_error());
    return NULL;
}

START_TEST(error_messages_are_thread_local_and_formatted)
{
    char seen[64] = "";
    lcmd_set_error(LCMD_ERR_IO, "main thread");
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, fail_on_other_thread, seen), 0);
    pthread_join(th, NULL);
    ck_assert_str_eq(seen, "other thread");
    ck_assert_str_eq(lcmd_last_error(), "main thread");
    lcmd_clear_error();
    ck_assert_str_eq(lcmd_last_error(), "");
    ck_assert_int_eq(lcmd_set_error(LCMD_ERR_IO, "file %s: %d", "x.bin", 3), LCMD_ERR_IO);
    ck_assert_str_eq(lcmd_last_error(), "file x.bin: 3");
    for (int s = LCMD_OK; s <= LCMD_ERR_INTERNAL; s++)
        ck_assert(strcmp(lcmd_status_string((lcmd_status)s), "unknown status") != 0);
    ck_assert_str_eq(lcmd_status_string((lcmd_status)999), "unknown status");
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *t = tcase_create("core");
    tcase_add_test(t, philox_known_answers);
    tcase_add_test(t, rng_uniform_range_and_slices);
    tcase_add_test(t, rng_normal_moments);
    tcase_add_test(t, f16_round_trip_all_values);
    tcase_add_test(t, f16_edge_values);
    tcase_add_test(t, bf16_edge_values);
    tcase_add_test(t, arena_alignment_and_exhaustion);
    tcase_add_test(t, error_messages_are_thread_local_and_formatted);
    suite_add_tcase(s, t);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(core_suite());
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
