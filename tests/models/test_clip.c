/* The text encoder (include/lcmd/text_encoder.h) against transformers: tiny random
 * CLIPTextModel (quick_gelu, legacy eos rule, unprefixed keys) and
 * CLIPTextModelWithProjection (gelu, eos rule) from tests/reference/gen_text_vae.py:
 * last hidden state, every hidden_states entry, pooled output under both rules; and
 * bad folders and inputs. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lcmd/lcmd.h>
#include <lcmd/text_encoder.h>
#include "io/safetensors.h"

#define FIX LCMD_FIXTURES "/clip"
#define TOL 1e-4
#define MAXN 16384

static const char *const KINDS[] = {"quick", "proj"};

static lcmd_context *ctx_new(void)
{
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.log_level = LCMD_LOG_WARN;
    o.num_threads = 2;
    lcmd_context *ctx = NULL;
    ck_assert_msg(lcmd_context_create(&o, &ctx) == LCMD_OK, "%s", lcmd_last_error());
    return ctx;
}

static double rel_err(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i])) return INFINITY;
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num / (den > 0 ? den : 1));
}

static lcmd_safetensors *open_io(const char *kind)
{
    char path[512];
    snprintf(path, sizeof path, FIX "/io_%s.safetensors", kind);
    lcmd_safetensors *st = NULL;
    ck_assert_msg(lcmd_safetensors_open(path, &st) == LCMD_OK, "%s", lcmd_last_error());
    return st;
}

static lcmd_text_encoder *load(lcmd_context *ctx, const char *folder)
{
    lcmd_text_encoder *te = NULL;
    ck_assert_msg(lcmd_text_encoder_load(ctx, folder, NULL, &te) == LCMD_OK, "%s: %s", folder, lcmd_last_error());
    return te;
}

/* ids of case c; returns seq_len */
static int64_t read_ids(const lcmd_safetensors *st, int c, int32_t *ids, int64_t *batch)
{
    char name[64];
    snprintf(name, sizeof name, "case%d.ids", c);
    const lcmd_st_tensor *t = lcmd_safetensors_find(st, name);
    ck_assert(t && t->ndim == 2);
    int64_t tmp[MAXN];
    ck_assert(lcmd_safetensors_read_i64(st, name, tmp, (size_t)t->numel) == LCMD_OK);
    for (int64_t i = 0; i < t->numel; i++) ids[i] = (int32_t)tmp[i];
    *batch = t->shape[0];
    return t->shape[1];
}

static void expect(const lcmd_safetensors *st, int c, const char *what, const float *got, size_t n, double *worst)
{
    static float want[MAXN * 4];
    char name[64];
    snprintf(name, sizeof name, "case%d.%s", c, what);
    ck_assert_msg(lcmd_safetensors_read_f32(st, name, want, n) == LCMD_OK, "%s", lcmd_last_error());
    double e = rel_err(got, want, n);
    if (e > *worst) *worst = e;
    ck_assert_msg(e <= TOL, "%s: relative error %.3g > %.0e", name, e, TOL);
}

START_TEST(outputs_match_transformers)
{
    const char *kind = KINDS[_i];
    char folder[512];
    snprintf(folder, sizeof folder, FIX "/%s", kind);
    lcmd_context *ctx = ctx_new();
    lcmd_text_encoder *te = load(ctx, folder);
    lcmd_text_encoder_info info;
    lcmd_text_encoder_info_init(&info);
    ck_assert_int_eq(lcmd_text_encoder_get_info(te, &info), LCMD_OK);
    ck_assert_int_eq(info.has_projection, _i == 1);
    lcmd_safetensors *st = open_io(kind);
    static int32_t ids[MAXN];
    static float last[MAXN * 4], hid[MAXN * 4], pooled[256];
    double worst = 0;
    for (int c = 0; c < 3; c++) {
        int64_t b, L = read_ids(st, c, ids, &b);
        size_t n = (size_t)(b * L * info.hidden_size);
        ck_assert(n <= MAXN * 4);
        lcmd_text_encoder_outputs out;
        lcmd_text_encoder_outputs_init(&out);
        out.last_hidden_state = last;
        out.pooled = pooled;
        out.hidden_states = hid;
        out.hidden_layer = -2;   /* SDXL's penultimate layer, with the other outputs */
        ck_assert_msg(lcmd_text_encoder_forward(te, ids, b, L, &out) == LCMD_OK, "%s", lcmd_last_error());
        expect(st, c, "last_hidden_state", last, n, &worst);
        expect(st, c, "pooled", pooled, (size_t)(b * info.pooled_dim), &worst);
        char name[32];
        snprintf(name, sizeof name, "hidden%d", info.num_hidden_layers - 1);
        expect(st, c, name, hid, n, &worst);
        /* each hidden state alone (only the layers it needs run) */
        lcmd_text_encoder_outputs_init(&out);
        out.hidden_states = hid;
        for (int k = 0; k <= info.num_hidden_layers; k++) {
            out.hidden_layer = k;
            ck_assert_msg(lcmd_text_encoder_forward(te, ids, b, L, &out) == LCMD_OK, "%s", lcmd_last_error());
            snprintf(name, sizeof name, "hidden%d", k);
            expect(st, c, name, hid, n, &worst);
        }
        out.hidden_layer = -1;
        ck_assert_int_eq(lcmd_text_encoder_forward(te, ids, b, L, &out), LCMD_OK);
        snprintf(name, sizeof name, "hidden%d", info.num_hidden_layers);
        expect(st, c, name, hid, n, &worst);
    }
    fprintf(stderr, "# clip %s: worst relative error %.3g\n", kind, worst);
    lcmd_safetensors_close(st);
    lcmd_text_encoder_destroy(te);
    lcmd_context_destroy(ctx);
}
END_TEST

/* a temporary folder with `config` and a link to <fixture>/model.safetensors */
static void make_folder(char *dir, size_t cap, const char *kind, const char *config, int link_weights)
{
    snprintf(dir, cap, "/tmp/lcmd_clip_XXXXXX");
    ck_assert(mkdtemp(dir));
    char path[600], target[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fputs(config, f);
    fclose(f);
    if (link_weights) {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        snprintf(target, sizeof target, FIX "/%s/model.safetensors", kind);
        ck_assert(symlink(target, path) == 0);
    }
}

static void remove_folder(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

/* the fixture's config.json with `key`'s value text replaced by `value` */
static char *config_with(const char *kind, const char *key, const char *value)
{
    char path[512];
    snprintf(path, sizeof path, FIX "/%s/config.json", kind);
    FILE *f = fopen(path, "r");
    ck_assert(f);
    static char text[8192], out[8192];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\": ", key);
    char *p = strstr(text, pat);
    ck_assert_msg(p, "no %s", key);
    char *v = p + strlen(pat), *end = *v == '[' ? strchr(v, ']') + 1 : v + strcspn(v, ",\n");
    snprintf(out, sizeof out, "%.*s%s%s", (int)(v - text), text, value, end);
    return out;
}

START_TEST(pooled_follows_the_configs_eos_rule)
{
    /* the same weights under the other rule: quick (eos 2 -> argmax) flips to the
     * first-eos rule, proj (eos 999) to the legacy argmax rule */
    const char *kind = KINDS[_i];
    lcmd_safetensors *st = open_io(kind);
    int64_t other;
    ck_assert(lcmd_safetensors_read_i64(st, "other_rule_eos", &other, 1) == LCMD_OK);
    char value[32], dir[64];
    snprintf(value, sizeof value, "%lld", (long long)other);
    make_folder(dir, sizeof dir, kind, config_with(kind, "eos_token_id", value), 1);
    lcmd_context *ctx = ctx_new();
    lcmd_text_encoder *te = load(ctx, dir);
    lcmd_text_encoder_info info;
    lcmd_text_encoder_info_init(&info);
    lcmd_text_encoder_get_info(te, &info);
    ck_assert_int_eq(info.eos_token_id, other);
    static int32_t ids[MAXN];
    static float pooled[256];
    double worst = 0;
    for (int c = 0; c < 3; c++) {
        int64_t b, L = read_ids(st, c, ids, &b);
        lcmd_text_encoder_outputs out;
        lcmd_text_encoder_outputs_init(&out);
        out.pooled = pooled;
        ck_assert_msg(lcmd_text_encoder_forward(te, ids, b, L, &out) == LCMD_OK, "%s", lcmd_last_error());
        expect(st, c, "pooled_other_rule", pooled, (size_t)(b * info.pooled_dim), &worst);
    }
    lcmd_text_encoder_destroy(te);
    lcmd_context_destroy(ctx);
    lcmd_safetensors_close(st);
    remove_folder(dir);
}
END_TEST

#define EXPECT(call, status, text) do { lcmd_status s_ = (call); \
        ck_assert_msg(s_ == (status), "status %d, want %d: %s", s_, status, lcmd_last_error()); \
        ck_assert_msg(strstr(lcmd_last_error(), text), "'%s' lacks '%s'", lcmd_last_error(), text); } while (0)

START_TEST(bad_folders_are_named)
{
    lcmd_context *ctx = ctx_new();
    lcmd_text_encoder *te = (lcmd_text_encoder *)1;
    char dir[64];
    EXPECT(lcmd_text_encoder_load(ctx, "/nonexistent/te", NULL, &te), LCMD_ERR_IO, "/nonexistent/te");
    ck_assert_ptr_null(te);
    make_folder(dir, sizeof dir, "quick", config_with("quick", "hidden_act", "\"relu\""), 1);
    EXPECT(lcmd_text_encoder_load(ctx, dir, NULL, &te), LCMD_ERR_UNSUPPORTED, "relu");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "quick", config_with("quick", "hidden_act", "7"), 1);
    EXPECT(lcmd_text_encoder_load(ctx, dir, NULL, &te), LCMD_ERR_FORMAT, "hidden_act");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "quick", config_with("quick", "intermediate_size", "48"), 1);
    EXPECT(lcmd_text_encoder_load(ctx, dir, NULL, &te), LCMD_ERR_FORMAT, "mlp.fc1.weight");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "quick", config_with("quick", "num_attention_heads", "5"), 1);
    EXPECT(lcmd_text_encoder_load(ctx, dir, NULL, &te), LCMD_ERR_INVALID_ARGUMENT, "num_attention_heads");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "quick", config_with("quick", "num_hidden_layers", "4"), 1);
    EXPECT(lcmd_text_encoder_load(ctx, dir, NULL, &te), LCMD_ERR_FORMAT, "encoder.layers.3");
    remove_folder(dir);
    /* a projection model's config over the unprefixed CLIPTextModel weights */
    make_folder(dir, sizeof dir, "quick", config_with("quick", "architectures", "[\"CLIPTextModelWithProjection\"]"), 1);
    EXPECT(lcmd_text_encoder_load(ctx, dir, NULL, &te), LCMD_ERR_FORMAT, "text_model.embeddings");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "quick", config_with("quick", "architectures", "[\"CLIPModel\"]"), 1);
    EXPECT(lcmd_text_encoder_load(ctx, dir, NULL, &te), LCMD_ERR_UNSUPPORTED, "CLIPModel");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "quick", config_with("quick", "vocab_size", "1000,"), 0);
    EXPECT(lcmd_text_encoder_load(ctx, dir, NULL, &te), LCMD_ERR_FORMAT, "config.json");
    remove_folder(dir);
    make_folder(dir, sizeof dir, "quick", config_with("quick", "vocab_size", "1000"), 0);
    EXPECT(lcmd_text_encoder_load(ctx, dir, NULL, &te), LCMD_ERR_IO, "model.safetensors");
    remove_folder(dir);
    lcmd_text_encoder_load_options o;
    lcmd_text_encoder_load_options_init(&o);
    o.variant = "fp16";
    EXPECT(lcmd_text_encoder_load(ctx, FIX "/quick", &o, &te), LCMD_ERR_IO, "fp16");
    lcmd_context_destroy(ctx);
}
END_TEST

START_TEST(bad_inputs_are_refused)
{
    lcmd_context *ctx = ctx_new();
    lcmd_text_encoder *te = load(ctx, FIX "/proj");
    static int32_t ids[2 * 78];
    static float last[2 * 78 * 32], pooled[64];
    for (int i = 0; i < 2 * 78; i++) ids[i] = 5;
    lcmd_text_encoder_outputs out;
    lcmd_text_encoder_outputs_init(&out);
    EXPECT(lcmd_text_encoder_forward(te, ids, 1, 4, &out), LCMD_ERR_INVALID_ARGUMENT, "no output");
    out.last_hidden_state = last;
    out.pooled = pooled;
    ck_assert_int_eq(lcmd_text_encoder_forward(te, ids, 2, 77, &out), LCMD_OK);
    EXPECT(lcmd_text_encoder_forward(te, ids, 1, 78, &out), LCMD_ERR_INVALID_ARGUMENT, "max_position_embeddings = 77");
    EXPECT(lcmd_text_encoder_forward(te, ids, 1, 0, &out), LCMD_ERR_INVALID_ARGUMENT, "seq_len = 0");
    EXPECT(lcmd_text_encoder_forward(te, ids, 0, 4, &out), LCMD_ERR_INVALID_ARGUMENT, "batch = 0");
    ids[3] = 1000;
    EXPECT(lcmd_text_encoder_forward(te, ids, 1, 4, &out), LCMD_ERR_INVALID_ARGUMENT, "ids[0][3] = 1000");
    ids[3] = -1;
    EXPECT(lcmd_text_encoder_forward(te, ids, 1, 4, &out), LCMD_ERR_INVALID_ARGUMENT, "vocabulary");
    ids[3] = 5;
    out.hidden_states = last;
    out.hidden_layer = 3;
    EXPECT(lcmd_text_encoder_forward(te, ids, 1, 4, &out), LCMD_ERR_INVALID_ARGUMENT, "hidden_layer = 3");
    out.hidden_layer = -4;
    EXPECT(lcmd_text_encoder_forward(te, ids, 1, 4, &out), LCMD_ERR_INVALID_ARGUMENT, "hidden_layer = -4");
    out.hidden_layer = -3;
    ck_assert_int_eq(lcmd_text_encoder_forward(te, ids, 1, 4, &out), LCMD_OK);
    out.struct_size = 3;
    EXPECT(lcmd_text_encoder_forward(te, ids, 1, 4, &out), LCMD_ERR_INVALID_ARGUMENT, "struct_size");
    EXPECT(lcmd_text_encoder_forward(te, NULL, 1, 4, &out), LCMD_ERR_INVALID_ARGUMENT, "NULL");
    lcmd_text_encoder_destroy(te);
    lcmd_text_encoder_destroy(NULL);
    lcmd_context_destroy(ctx);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clip");
    TCase *t = tcase_create("clip");
    tcase_set_timeout(t, 300);
    tcase_add_loop_test(t, outputs_match_transformers, 0, 2);
    tcase_add_loop_test(t, pooled_follows_the_configs_eos_rule, 0, 2);
    tcase_add_test(t, bad_folders_are_named);
    tcase_add_test(t, bad_inputs_are_refused);
    suite_add_tcase(s, t);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
