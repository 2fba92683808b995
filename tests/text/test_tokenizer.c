/* CLIP tokenizer: parity with the reference on the fixture corpus (three tokenizer
 * configurations), malformed files, ill-formed UTF-8, huge captions, NULL arguments. */
#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <lcmd/lcmd.h>
#include <lcmd/text.h>

#ifndef LCMD_FIXTURES
#error "LCMD_FIXTURES must name tests/fixtures"
#endif
#define TOK_DIR LCMD_FIXTURES "/tokenizer"

static lcmd_context *ctx;

static void setup(void)
{
    ck_assert_int_eq(lcmd_context_create(NULL, &ctx), LCMD_OK);
}

static void teardown(void)
{
    lcmd_context_destroy(ctx);
    ctx = NULL;
}

/* ---- temporary folders ----------------------------------------------------------- */

static char *tmp_dir_new(void)
{
    const char *base = getenv("TMPDIR");
    char buf[512];
    snprintf(buf, sizeof buf, "%s/lcmd-tok-XXXXXX", base && *base ? base : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(buf));
    char *d = strdup(buf);
    ck_assert_ptr_nonnull(d);
    return d;
}

static void tmp_dir_free(char *dir)
{
    static const char *const names[] = { "vocab.json", "merges.txt", "tokenizer_config.json",
                                         "special_tokens_map.json" };
    char p[1024];
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    free(dir);
}

static void write_file(const char *dir, const char *name, const char *data, size_t len)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    ck_assert_msg(f != NULL, "cannot create %s", p);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static void write_str(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

static void link_file(const char *from_dir, const char *dir, const char *name)
{
    char src[1024], dst[1024];
    snprintf(src, sizeof src, "%s/%s", from_dir, name);
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    ck_assert_msg(symlink(src, dst) == 0, "symlink %s", dst);
}

/* A folder with clip/'s vocab and merges and the JSON files of configuration `kind`. */
static char *kind_dir(const char *kind)
{
    char *d = tmp_dir_new(), src[512];
    link_file(TOK_DIR "/clip", d, "vocab.json");
    link_file(TOK_DIR "/clip", d, "merges.txt");
    snprintf(src, sizeof src, "%s/%s", TOK_DIR, kind);
    link_file(src, d, "special_tokens_map.json");
    link_file(src, d, "tokenizer_config.json");
    return d;
}

/* ---- the corpus ----------------------------------------------------------------------- */

typedef struct corpus {
    json_t *root;
    size_t n;
    char **text;    /* caption bytes (NUL-terminated copy) */
    size_t *len;
} corpus;

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static void corpus_load(corpus *c, const char *file)
{
    json_error_t err;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TOK_DIR, file);
    c->root = json_load_file(path, JSON_ALLOW_NUL, &err);
    ck_assert_msg(c->root != NULL, "%s: line %d: %s", file, err.line, err.text);
    json_t *caps = json_object_get(c->root, "captions");
    c->n = json_array_size(caps);
    ck_assert_uint_ge(c->n, 500);
    c->text = calloc(c->n, sizeof *c->text);
    c->len = calloc(c->n, sizeof *c->len);
    ck_assert(c->text && c->len);
    for (size_t i = 0; i < c->n; i++) {
        json_t *it = json_array_get(caps, i), *t = json_object_get(it, "text");
        if (t) {
            c->len[i] = json_string_length(t);
            c->text[i] = malloc(c->len[i] + 1);
            ck_assert_ptr_nonnull(c->text[i]);
            memcpy(c->text[i], json_string_value(t), c->len[i] + 1);
        } else {
            const char *h = json_string_value(json_object_get(it, "bytes_hex"));
            ck_assert_ptr_nonnull(h);
            size_t hl = strlen(h);
            c->len[i] = hl / 2;
            c->text[i] = malloc(hl / 2 + 1);
            ck_assert_ptr_nonnull(c->text[i]);
            for (size_t k = 0; k < hl / 2; k++) c->text[i][k] = (char)(hexval(h[2 * k]) * 16 + hexval(h[2 * k + 1]));
            c->text[i][hl / 2] = 0;
        }
    }
}

static void corpus_free(corpus *c)
{
    for (size_t i = 0; i < c->n; i++) free(c->text[i]);
    free(c->text);
    free(c->len);
    json_decref(c->root);
}

static int row_equal(const json_t *row, const int32_t *ids, size_t n)
{
    if (json_array_size(row) != n) return 0;
    for (size_t k = 0; k < n; k++)
        if (json_integer_value(json_array_get(row, k)) != ids[k]) return 0;
    return 1;
}

static void print_mismatch(const char *what, size_t i, const char *text, const json_t *row, const int32_t *ids,
                           size_t n)
{
    fprintf(stderr, "# %s: caption %zu '%s' differs\n#  ref:", what, i, text);
    for (size_t k = 0; k < json_array_size(row) && k < 24; k++)
        fprintf(stderr, " %lld", (long long)json_integer_value(json_array_get(row, k)));
    fprintf(stderr, "\n#  got:");
    for (size_t k = 0; k < n && k < 24; k++) fprintf(stderr, " %d", (int)ids[k]);
    fprintf(stderr, "\n");
}

static lcmd_tokenizer *load_mode(const char *dir, int32_t cleanup)
{
    lcmd_tokenizer_options o;
    ck_assert_int_eq(lcmd_tokenizer_options_init(&o), LCMD_OK);
    o.cleanup = cleanup;
    lcmd_tokenizer *tok = NULL;
    ck_assert_msg(lcmd_tokenizer_load_with_options(ctx, dir, &o, &tok) == LCMD_OK, "%s", lcmd_last_error());
    ck_assert_int_eq(lcmd_tokenizer_cleanup(tok), cleanup);
    return tok;
}

/* The reference rows of caption i: the corpus's, or for a caption listed under
 * "mojibake" (FTFY corpus: ftfy's fix_encoding changes it, which liblcmd does not do)
 * the reference's rows without fix_encoding. *moji says which. */
static void ref_rows(const corpus *c, const char *kind, size_t i, const json_t **padded, const json_t **full,
                     int *moji)
{
    *padded = json_array_get(json_object_get(json_object_get(c->root, "padded"), kind), i);
    *full = json_array_get(json_object_get(c->root, "full"), i);
    *moji = 0;
    const json_t *m = json_object_get(c->root, "mojibake");
    for (size_t k = 0; k < json_array_size(m); k++) {
        const json_t *e = json_array_get(m, k);
        if ((size_t)json_integer_value(json_object_get(e, "index")) != i) continue;
        *padded = json_object_get(json_object_get(e, "padded"), kind);
        *full = json_object_get(e, "full");
        *moji = 1;
    }
}

static void check_kind(const char *kind, int32_t want_pad, int32_t cleanup)
{
    const char *file = cleanup == LCMD_TEXT_CLEANUP_FTFY ? "corpus_slow.json" : "corpus.json";
    const char *mode = cleanup == LCMD_TEXT_CLEANUP_FTFY ? "ftfy" : "minimal";
    corpus c;
    corpus_load(&c, file);
    char *d = kind_dir(kind);
    lcmd_tokenizer *tok = load_mode(d, cleanup);
    ck_assert_uint_eq(lcmd_tokenizer_model_max_length(tok), 77);
    ck_assert_int_eq(lcmd_tokenizer_bos_id(tok), 49406);
    ck_assert_int_eq(lcmd_tokenizer_eos_id(tok), 49407);
    ck_assert_int_eq(lcmd_tokenizer_pad_id(tok), want_pad);
    ck_assert_uint_eq(lcmd_tokenizer_vocab_size(tok), 49408);

    ck_assert_uint_eq(json_array_size(json_object_get(json_object_get(c.root, "padded"), kind)), c.n);
    int32_t *rows = malloc(c.n * 77 * sizeof *rows);
    ck_assert_ptr_nonnull(rows);
    /* padded, the whole corpus in one call (captions with NUL bytes: by encode below) */
    const char **ptrs = malloc(c.n * sizeof *ptrs);
    ck_assert_ptr_nonnull(ptrs);
    for (size_t i = 0; i < c.n; i++) ptrs[i] = c.text[i];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(lcmd_tokenizer_encode_padded(tok, ptrs, c.n, rows), LCMD_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    size_t same_padded = 0, same_full = 0, n_full = 0, with_nul = 0, n_moji = 0;
    int32_t buf[4096];
    for (size_t i = 0; i < c.n; i++) {
        const json_t *ref_padded, *ref_full;
        int moji;
        ref_rows(&c, kind, i, &ref_padded, &ref_full, &moji);
        n_moji += (size_t)moji;
        int32_t *row = rows + i * 77;
        if (strlen(c.text[i]) != c.len[i]) {   /* embedded NUL: build the row from encode */
            with_nul++;
            size_t n = 0;
            ck_assert_int_eq(lcmd_tokenizer_encode(tok, c.text[i], c.len[i], buf, 4096, &n), LCMD_OK);
            ck_assert_uint_le(n, 4096);
            size_t m = n - 2 < 75 ? n - 2 : 75;
            row[0] = buf[0];
            memcpy(row + 1, buf + 1, m * sizeof *row);
            row[m + 1] = 49407;
            for (size_t k = m + 2; k < 77; k++) row[k] = want_pad;
        }
        if (row_equal(ref_padded, row, 77)) same_padded++;
        else print_mismatch(kind, i, c.text[i], ref_padded, row, 77);
        if (strcmp(kind, "clip") == 0) {
            size_t n = 0;
            ck_assert_int_eq(lcmd_tokenizer_encode(tok, c.text[i], c.len[i], buf, 4096, &n), LCMD_OK);
            ck_assert_uint_le(n, 4096);
            n_full++;
            if (row_equal(ref_full, buf, n)) same_full++;
            else print_mismatch("clip full", i, c.text[i], ref_full, buf, n);
        }
    }
    fprintf(stderr, "# %s/%s: %zu/%zu padded rows identical (%zu with NUL bytes; %zu mojibake captions compared "
                    "with the reference without fix_encoding), %zu/%zu unpadded; %.0f captions/s\n",
            kind, mode, same_padded, c.n, with_nul, n_moji, same_full, n_full,
            secs > 0 ? (double)c.n / secs : 0.0);
    ck_assert_uint_eq(same_padded, c.n);
    ck_assert_uint_eq(same_full, n_full);
    free(ptrs);
    free(rows);
    lcmd_tokenizer_destroy(tok);
    tmp_dir_free(d);
    corpus_free(&c);
}

START_TEST(parity_clip) { check_kind("clip", 49407, LCMD_TEXT_CLEANUP_MINIMAL); }
END_TEST

START_TEST(parity_pad_bang) { check_kind("clip_pad_bang", 0, LCMD_TEXT_CLEANUP_MINIMAL); }
END_TEST

START_TEST(parity_sdxl2) { check_kind("clip_sdxl2", 0, LCMD_TEXT_CLEANUP_MINIMAL); }
END_TEST

START_TEST(parity_ftfy_clip) { check_kind("clip", 49407, LCMD_TEXT_CLEANUP_FTFY); }
END_TEST

START_TEST(parity_ftfy_pad_bang) { check_kind("clip_pad_bang", 0, LCMD_TEXT_CLEANUP_FTFY); }
END_TEST

START_TEST(parity_ftfy_sdxl2) { check_kind("clip_sdxl2", 0, LCMD_TEXT_CLEANUP_FTFY); }
END_TEST

/* ---- direct cases ------------------------------------------------------------------------ */

static lcmd_tokenizer *load_clip(void)
{
    lcmd_tokenizer *tok = NULL;
    ck_assert_msg(lcmd_tokenizer_load(ctx, TOK_DIR "/clip", &tok) == LCMD_OK, "%s", lcmd_last_error());
    return tok;
}

static size_t enc(lcmd_tokenizer *tok, const char *s, size_t len, int32_t *ids, size_t cap)
{
    size_t n = 0;
    ck_assert_int_eq(lcmd_tokenizer_encode(tok, s, len, ids, cap, &n), LCMD_OK);
    return n;
}

START_TEST(known_ids)
{
    lcmd_tokenizer *tok = load_clip();
    int32_t ids[16];
    const char *s = "a photo of a cat";
    size_t n = enc(tok, s, strlen(s), ids, 16);
    const int32_t want[] = { 49406, 320, 1125, 539, 320, 2368, 49407 };
    ck_assert_uint_eq(n, 7);
    for (size_t i = 0; i < 7; i++) ck_assert_int_eq(ids[i], want[i]);
    /* empty caption: bos, eos */
    ck_assert_uint_eq(enc(tok, NULL, 0, ids, 16), 2);
    ck_assert_int_eq(ids[0], 49406);
    ck_assert_int_eq(ids[1], 49407);
    /* size query, and a buffer too small: only the first max_ids written */
    size_t need = 0;
    ck_assert_int_eq(lcmd_tokenizer_encode(tok, s, strlen(s), NULL, 0, &need), LCMD_OK);
    ck_assert_uint_eq(need, 7);
    int32_t small[3] = { -5, -5, -5 };
    ck_assert_int_eq(lcmd_tokenizer_encode(tok, s, strlen(s), small, 2, &need), LCMD_OK);
    ck_assert_uint_eq(need, 7);
    ck_assert_int_eq(small[0], 49406);
    ck_assert_int_eq(small[1], 320);
    ck_assert_int_eq(small[2], -5);
    lcmd_tokenizer_destroy(tok);
}
END_TEST

/* Ill-formed UTF-8 is tokenised as the same text with U+FFFD per maximal subpart. */
START_TEST(invalid_utf8)
{
    static const struct { const char *bad, *good; } cases[] = {
        { "caf\xe9", "caf\xef\xbf\xbd" },
        { "\xff\xfe", "\xef\xbf\xbd\xef\xbf\xbd" },
        { "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },          /* surrogate: 3 */
        { "\xc0\x80", "\xef\xbf\xbd\xef\xbf\xbd" },                          /* overlong */
        { "x\xe2\x82y", "x\xef\xbf\xbdy" },                                  /* truncated: 1 */
        { "\xf0\x9f\x94", "\xef\xbf\xbd" },                                  /* truncated at end */
        { "\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* > U+10FFFF */
        { "\xe0\x80\xaf", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
    };
    lcmd_tokenizer *tok = load_clip();
    int32_t a[64], b[64];
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t na = enc(tok, cases[i].bad, strlen(cases[i].bad), a, 64);
        size_t nb = enc(tok, cases[i].good, strlen(cases[i].good), b, 64);
        ck_assert_msg(na == nb && memcmp(a, b, na * sizeof *a) == 0, "case %zu", i);
    }
    lcmd_tokenizer_destroy(tok);
}
END_TEST

static char *make_big(size_t n, int words)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    static const char *const w[] = { "photo ", "café ", "東京 ", "🔥 ", "it's ", "<|endoftext|> ", "123 ", "&amp; " };
    size_t k = 0, j = 0;
    while (k < n) {
        if (!words) { s[k++] = 'a'; continue; }
        const char *x = w[j++ % 8];
        size_t l = strlen(x);
        if (k + l > n) break;
        memcpy(s + k, x, l);
        k += l;
    }
    s[k] = 0;
    return s;
}

/* 1 MB captions: padded rows equal the untruncated encoding cut to 75 tokens. */
START_TEST(huge_captions)
{
    lcmd_tokenizer *tok = load_clip();
    for (int words = 0; words < 2; words++) {
        char *s = make_big((size_t)1 << 20, words);
        size_t n = 0;
        ck_assert_int_eq(lcmd_tokenizer_encode(tok, s, strlen(s), NULL, 0, &n), LCMD_OK);
        ck_assert_uint_gt(n, 77);
        int32_t *all = malloc(n * sizeof *all);
        ck_assert_ptr_nonnull(all);
        size_t n2 = 0;
        ck_assert_int_eq(lcmd_tokenizer_encode(tok, s, strlen(s), all, n, &n2), LCMD_OK);
        ck_assert_uint_eq(n2, n);
        ck_assert_int_eq(all[n - 1], 49407);
        int32_t row[77];
        const char *caps[1] = { s };
        ck_assert_int_eq(lcmd_tokenizer_encode_padded(tok, caps, 1, row), LCMD_OK);
        ck_assert_int_eq(memcmp(row, all, 76 * sizeof *row), 0);
        ck_assert_int_eq(row[76], 49407);
        free(all);
        free(s);
    }
    lcmd_tokenizer_destroy(tok);
}
END_TEST

START_TEST(null_args)
{
    lcmd_tokenizer *tok = (lcmd_tokenizer *)1;
    ck_assert_int_eq(lcmd_tokenizer_load(NULL, TOK_DIR "/clip", &tok), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_null(tok);
    ck_assert_int_eq(lcmd_tokenizer_load(ctx, NULL, &tok), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_tokenizer_load(ctx, TOK_DIR "/clip", NULL), LCMD_ERR_INVALID_ARGUMENT);
    tok = load_clip();
    int32_t ids[77];
    size_t n = 9;
    ck_assert_int_eq(lcmd_tokenizer_encode(NULL, "a", 1, ids, 77, &n), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(lcmd_tokenizer_encode(tok, NULL, 1, ids, 77, &n), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_tokenizer_encode(tok, "a", 1, NULL, 77, &n), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_tokenizer_encode(tok, "a", 1, ids, 77, NULL), LCMD_ERR_INVALID_ARGUMENT);
    const char *caps[2] = { "a", NULL };
    ck_assert_int_eq(lcmd_tokenizer_encode_padded(NULL, caps, 1, ids), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_tokenizer_encode_padded(tok, NULL, 1, ids), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_tokenizer_encode_padded(tok, caps, 1, NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_tokenizer_encode_padded(tok, caps, 2, ids), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(lcmd_last_error(), "captions[1]"));
    ck_assert_int_eq(lcmd_tokenizer_encode_padded(tok, NULL, 0, NULL), LCMD_OK);
    ck_assert_uint_eq(lcmd_tokenizer_model_max_length(NULL), 0);
    ck_assert_int_eq(lcmd_tokenizer_bos_id(NULL), -1);
    ck_assert_int_eq(lcmd_tokenizer_eos_id(NULL), -1);
    ck_assert_int_eq(lcmd_tokenizer_pad_id(NULL), -1);
    ck_assert_uint_eq(lcmd_tokenizer_vocab_size(NULL), 0);
    lcmd_tokenizer_destroy(tok);
    lcmd_tokenizer_destroy(NULL);
}
END_TEST

/* ---- malformed folders ------------------------------------------------------------------- */

/* A small vocabulary: the 512 byte symbols, "ab", "abc</w>", and the two specials. */
static char *small_vocab(int drop_byte, int with_ab)
{
    size_t cap = 1 << 16, k = 0;
    char *s = malloc(cap);
    ck_assert_ptr_nonnull(s);
    k += (size_t)snprintf(s + k, cap - k, "{");
    int id = 0;
    for (int pass = 0; pass < 2; pass++)
        for (unsigned b = 0; b < 256; b++) {
            int kept = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
            unsigned cp = b;
            if (!kept) {
                unsigned n = 0;
                for (unsigned x = 0; x < b; x++)
                    n += !((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE));
                cp = 256 + n;
            }
            if ((int)b == drop_byte && pass == 1) { id++; continue; }
            char u[8];
            if (cp < 0x80) {
                if (cp == '"' || cp == '\\') snprintf(u, sizeof u, "\\%c", (char)cp);
                else snprintf(u, sizeof u, "%c", (char)cp);
            } else {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                u[2] = 0;
            }
            k += (size_t)snprintf(s + k, cap - k, "\"%s%s\": %d,", u, pass ? "</w>" : "", id++);
        }
    if (with_ab) k += (size_t)snprintf(s + k, cap - k, "\"ab\": %d,", id++);
    k += (size_t)snprintf(s + k, cap - k, "\"abc</w>\": %d, \"<|startoftext|>\": %d, \"<|endoftext|>\": %d}",
                          id, id + 1, id + 2);
    ck_assert_uint_lt(k, cap);
    return s;
}

static const char *const good_cfg = "{\"model_max_length\": 8, \"pad_token\": \"<|endoftext|>\"}";

static lcmd_status try_load(const char *vocab, const char *merges, const char *cfg, const char *stm)
{
    char *d = tmp_dir_new();
    if (vocab) write_str(d, "vocab.json", vocab);
    if (merges) write_str(d, "merges.txt", merges);
    if (cfg) write_str(d, "tokenizer_config.json", cfg);
    if (stm) write_str(d, "special_tokens_map.json", stm);
    lcmd_tokenizer *tok = (lcmd_tokenizer *)1;
    lcmd_status st = lcmd_tokenizer_load(ctx, d, &tok);
    if (st == LCMD_OK) {
        ck_assert_ptr_nonnull(tok);
        /* the small vocabulary tokenises "abc" with its two merges */
        int32_t ids[8];
        size_t n = 0;
        ck_assert_int_eq(lcmd_tokenizer_encode(tok, "ABC", 3, ids, 8, &n), LCMD_OK);
        ck_assert_uint_eq(n, 3);
        lcmd_tokenizer_destroy(tok);
    } else {
        ck_assert_ptr_null(tok);
    }
    tmp_dir_free(d);
    return st;
}

#define EXPECT_ERR(call, code, needle)                                                         \
    do {                                                                                       \
        ck_assert_int_eq((call), (code));                                                      \
        ck_assert_msg(strstr(lcmd_last_error(), (needle)) != NULL, "message '%s' lacks '%s'", \
                      lcmd_last_error(), (needle));                                            \
    } while (0)

START_TEST(bad_files)
{
    char *v = small_vocab(-1, 1);
    const char *m = "#version: 0.2\na b\nab c</w>\n";
    ck_assert_int_eq(try_load(v, m, good_cfg, NULL), LCMD_OK);
    ck_assert_int_eq(try_load(v, "a b\r\nab c</w>", good_cfg, NULL), LCMD_OK);   /* CRLF, no header */
    EXPECT_ERR(try_load(NULL, m, good_cfg, NULL), LCMD_ERR_IO, "vocab.json");
    EXPECT_ERR(try_load(v, NULL, good_cfg, NULL), LCMD_ERR_IO, "merges.txt");
    EXPECT_ERR(try_load(v, m, NULL, NULL), LCMD_ERR_IO, "tokenizer_config.json");
    EXPECT_ERR(try_load("{\"a\": 1,", m, good_cfg, NULL), LCMD_ERR_FORMAT, "vocab.json");
    EXPECT_ERR(try_load("[1, 2]", m, good_cfg, NULL), LCMD_ERR_FORMAT, "not a JSON object");
    EXPECT_ERR(try_load("{\"a\": \"x\"}", m, good_cfg, NULL), LCMD_ERR_FORMAT, "token 'a'");
    EXPECT_ERR(try_load("{\"a\": 1, \"b\": 1}", m, good_cfg, NULL), LCMD_ERR_FORMAT, "id 1 is given to two");
    char *v_nobyte = small_vocab('z', 1);
    EXPECT_ERR(try_load(v_nobyte, m, good_cfg, NULL), LCMD_ERR_FORMAT, "byte 0x7a");
    EXPECT_ERR(try_load(v, "#version: 0.2\na b\n\nab c</w>\n", good_cfg, NULL), LCMD_ERR_FORMAT, "line 3");
    EXPECT_ERR(try_load(v, "#version: 0.2\na b c\n", good_cfg, NULL), LCMD_ERR_FORMAT, "line 2");
    EXPECT_ERR(try_load(v, "a  b\n", good_cfg, NULL), LCMD_ERR_FORMAT, "line 1");
    EXPECT_ERR(try_load(v, "a b\nzz q\n", good_cfg, NULL), LCMD_ERR_FORMAT, "line 2: token 'zz'");
    char *v_noab = small_vocab(-1, 0);
    EXPECT_ERR(try_load(v_noab, m, good_cfg, NULL), LCMD_ERR_FORMAT, "line 2: merge result 'ab'");
    EXPECT_ERR(try_load(v, m, "{\"pad_token\": \"!\"}", NULL), LCMD_ERR_FORMAT, "model_max_length");
    EXPECT_ERR(try_load(v, m, "{\"model_max_length\": 1}", NULL), LCMD_ERR_FORMAT, "model_max_length");
    EXPECT_ERR(try_load(v, m, "{\"model_max_length\": \"77\"}", NULL), LCMD_ERR_FORMAT, "model_max_length");
    EXPECT_ERR(try_load(v, m, "{\"model_max_length\": 8", NULL), LCMD_ERR_FORMAT, "tokenizer_config.json");
    EXPECT_ERR(try_load(v, m, good_cfg, "{\"pad_token\": 5}"), LCMD_ERR_FORMAT, "special_tokens_map.json: 'pad_token'");
    EXPECT_ERR(try_load(v, m, good_cfg, "{\"bos_token\": {\"content\": 3}}"), LCMD_ERR_FORMAT, "content");
    EXPECT_ERR(try_load(v, m, good_cfg, "{\"pad_token\": \"<pad>\"}"), LCMD_ERR_FORMAT, "'<pad>' is not in vocab");
    EXPECT_ERR(try_load(v, m, good_cfg, "{\"eos_token\": {\"content\": \"<|endoftext|>\", \"lstrip\": true}}"),
               LCMD_ERR_UNSUPPORTED, "lstrip");
    EXPECT_ERR(try_load(v, m, good_cfg, "{\"eos_token\": {\"content\": \"<|endoftext|>\", \"normalized\": 1}}"),
               LCMD_ERR_FORMAT, "'normalized' is not a boolean");
    EXPECT_ERR(try_load(v, m, "{\"model_max_length\": 8, \"added_tokens_decoder\": {\"x\": {}}}", NULL),
               LCMD_ERR_FORMAT, "added_tokens_decoder key 'x'");
    EXPECT_ERR(try_load(v, m, good_cfg, "[]"), LCMD_ERR_FORMAT, "special_tokens_map.json");
    lcmd_tokenizer *tok = (lcmd_tokenizer *)1;
    EXPECT_ERR(lcmd_tokenizer_load(ctx, "/nonexistent/lcmd-tok", &tok), LCMD_ERR_IO, "/nonexistent/lcmd-tok/vocab.json");
    ck_assert_ptr_null(tok);
    free(v);
    free(v_nobyte);
    free(v_noab);
}
END_TEST

/* Options: defaults, NULL, struct_size, unknown cleanup values; the two modes on a few
 * captions where they differ. */
START_TEST(options)
{
    lcmd_tokenizer_options o;
    ck_assert_int_eq(lcmd_tokenizer_options_init(NULL), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_tokenizer_options_init(&o), LCMD_OK);
    ck_assert_uint_eq(o.struct_size, sizeof o);
    ck_assert_int_eq(o.cleanup, LCMD_TEXT_CLEANUP_FTFY);
    lcmd_tokenizer *tok = (lcmd_tokenizer *)1;
    /* NULL options and lcmd_tokenizer_load: the defaults */
    ck_assert_int_eq(lcmd_tokenizer_load_with_options(ctx, TOK_DIR "/clip", NULL, &tok), LCMD_OK);
    ck_assert_int_eq(lcmd_tokenizer_cleanup(tok), LCMD_TEXT_CLEANUP_FTFY);
    lcmd_tokenizer_destroy(tok);
    tok = load_clip();
    ck_assert_int_eq(lcmd_tokenizer_cleanup(tok), LCMD_TEXT_CLEANUP_FTFY);
    lcmd_tokenizer_destroy(tok);
    ck_assert_int_eq(lcmd_tokenizer_cleanup(NULL), -1);
    /* struct_size: 0, too small, too large */
    static const uint32_t bad_sizes[] = { 0, 4, 7, sizeof o + 1, 4096, UINT32_MAX };
    for (size_t i = 0; i < sizeof bad_sizes / sizeof *bad_sizes; i++) {
        lcmd_tokenizer_options_init(&o);
        o.struct_size = bad_sizes[i];
        tok = (lcmd_tokenizer *)1;
        EXPECT_ERR(lcmd_tokenizer_load_with_options(ctx, TOK_DIR "/clip", &o, &tok), LCMD_ERR_INVALID_ARGUMENT,
                   "struct_size");
        ck_assert_ptr_null(tok);
    }
    /* unknown cleanup values */
    static const int32_t bad_modes[] = { -1, 2, 3, 1000, INT32_MIN, INT32_MAX };
    for (size_t i = 0; i < sizeof bad_modes / sizeof *bad_modes; i++) {
        lcmd_tokenizer_options_init(&o);
        o.cleanup = bad_modes[i];
        tok = (lcmd_tokenizer *)1;
        EXPECT_ERR(lcmd_tokenizer_load_with_options(ctx, TOK_DIR "/clip", &o, &tok), LCMD_ERR_INVALID_ARGUMENT,
                   "cleanup");
        ck_assert_ptr_null(tok);
    }
    /* NULL arguments */
    lcmd_tokenizer_options_init(&o);
    ck_assert_int_eq(lcmd_tokenizer_load_with_options(NULL, TOK_DIR "/clip", &o, &tok), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_tokenizer_load_with_options(ctx, NULL, &o, &tok), LCMD_ERR_INVALID_ARGUMENT);
    ck_assert_int_eq(lcmd_tokenizer_load_with_options(ctx, TOK_DIR "/clip", &o, NULL), LCMD_ERR_INVALID_ARGUMENT);
    /* the modes differ where ftfy, str.lower or the slow pattern do something */
    static const struct { const char *text; int32_t ftfy[4], minimal[8]; } cases[] = {
        { "&amp;", { 261, -1 }, { 261, 6259, 282, -1 } },                  /* & | & amp ; */
        { "\xef\xac\x81", { 3589, -1 }, { 171, 105, 479, -1 } },         /* the ligature: fi | its bytes */
        { "<|startoftext|>", { 49406, -1 }, { 49406, -1 } },
    };
    lcmd_tokenizer *ft = load_mode(TOK_DIR "/clip", LCMD_TEXT_CLEANUP_FTFY);
    lcmd_tokenizer *mi = load_mode(TOK_DIR "/clip", LCMD_TEXT_CLEANUP_MINIMAL);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int32_t ids[16];
        for (int m = 0; m < 2; m++) {
            const int32_t *want = m ? cases[i].minimal : cases[i].ftfy;
            size_t nw = 0;
            while (want[nw] != -1) nw++;
            size_t n = enc(m ? mi : ft, cases[i].text, strlen(cases[i].text), ids, 16);
            ck_assert_msg(n == nw + 2, "case %zu mode %d: %zu ids", i, m, n);
            for (size_t k = 0; k < nw; k++) ck_assert_msg(ids[k + 1] == want[k], "case %zu mode %d id %zu: %d", i, m, k, ids[k + 1]);
        }
    }
    lcmd_tokenizer_destroy(ft);
    lcmd_tokenizer_destroy(mi);
}
END_TEST

/* A short model_max_length: truncation keeps bos, cuts, ends with eos; padding fills. */
START_TEST(short_rows)
{
    char *d = tmp_dir_new();
    char *v = small_vocab(-1, 1);
    write_str(d, "vocab.json", v);
    write_str(d, "merges.txt", "a b\nab c</w>\n");
    write_str(d, "tokenizer_config.json", "{\"model_max_length\": 5}");
    lcmd_tokenizer *tok = NULL;
    ck_assert_msg(lcmd_tokenizer_load(ctx, d, &tok) == LCMD_OK, "%s", lcmd_last_error());
    int32_t bos = lcmd_tokenizer_bos_id(tok), eos = lcmd_tokenizer_eos_id(tok), pad = lcmd_tokenizer_pad_id(tok);
    ck_assert_int_eq(bos, 514);
    ck_assert_int_eq(eos, 515);
    ck_assert_int_eq(pad, 515);
    const char *caps[3] = { "abc abc abc abc", "", "abc" };
    int32_t rows[15];
    ck_assert_int_eq(lcmd_tokenizer_encode_padded(tok, caps, 3, rows), LCMD_OK);
    const int32_t want[15] = { 514, 513, 513, 513, 515, 514, 515, 515, 515, 515, 514, 513, 515, 515, 515 };
    for (int i = 0; i < 15; i++) ck_assert_int_eq(rows[i], want[i]);
    lcmd_tokenizer_destroy(tok);
    free(v);
    tmp_dir_free(d);
}
END_TEST

int main(void)
{
    Suite *suite = suite_create("tokenizer");
    TCase *tc = tcase_create("tokenizer");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, parity_clip);
    tcase_add_test(tc, parity_pad_bang);
    tcase_add_test(tc, parity_sdxl2);
    tcase_add_test(tc, parity_ftfy_clip);
    tcase_add_test(tc, parity_ftfy_pad_bang);
    tcase_add_test(tc, parity_ftfy_sdxl2);
    tcase_add_test(tc, known_ids);
    tcase_add_test(tc, invalid_utf8);
    tcase_add_test(tc, huge_captions);
    tcase_add_test(tc, null_args);
    tcase_add_test(tc, bad_files);
    tcase_add_test(tc, short_rows);
    tcase_add_test(tc, options);
    suite_add_tcase(suite, tc);
    SRunner *sr = srunner_create(suite);
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
