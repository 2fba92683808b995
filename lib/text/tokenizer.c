/* The CLIP tokenizer: loading a diffusers tokenizer folder, and the public API.
 * The text pipeline is in tok_text.c, the BPE in tok_bpe.c. */
#include "text/tokenizer_internal.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>
#include <utf8proc.h>

#include "core/error.h"
#include "io/json_file.h"
#include "io/path.h"

#define TOK_MAX_FILE_BYTES (64u << 20)
#define TOK_MAX_LENGTH (1u << 20)

/* ---- the byte-to-unicode alphabet ------------------------------------------------ */

/* The code point that stands for byte b in the BPE alphabet: printable Latin-1 bytes
 * stand for themselves, the other 68 for U+0100.. in byte order. */
static int32_t byte_symbol(unsigned b)
{
    int kept = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (kept) return (int32_t)b;
    int32_t n = 0;
    for (unsigned x = 0; x < b; x++) {
        int k = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF);
        if (!k) n++;
    }
    return 256 + n;
}

/* ---- added tokens ----------------------------------------------------------------- */

typedef struct tok_spec {
    const char *content;   /* borrowed from the JSON tree */
    int normalized, lstrip, rstrip, single_word;
} tok_spec;

static lcmd_status parse_flag(const json_t *obj, const char *key, int dflt, int *out, const char *where)
{
    const json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) { *out = dflt; return LCMD_OK; }
    if (!json_is_boolean(v)) return lcmd_set_error(LCMD_ERR_FORMAT, "%s: '%s' is not a boolean", where, key);
    *out = json_is_true(v);
    return LCMD_OK;
}

/* A token given as a string or as an AddedToken object. `dflt_norm`: `normalized`
 * when the object does not say. */
static lcmd_status parse_spec(const json_t *v, int dflt_norm, tok_spec *out, const char *where)
{
    memset(out, 0, sizeof *out);
    if (json_is_string(v)) {
        out->content = json_string_value(v);
        out->normalized = 0;   /* a plain string becomes a special, non-normalised token */
        return LCMD_OK;
    }
    if (!json_is_object(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: neither a string nor an object", where);
    const json_t *c = json_object_get(v, "content");
    if (!json_is_string(c)) return lcmd_set_error(LCMD_ERR_FORMAT, "%s: 'content' missing or not a string", where);
    out->content = json_string_value(c);
    LCMD_TRY(parse_flag(v, "normalized", dflt_norm, &out->normalized, where));
    LCMD_TRY(parse_flag(v, "lstrip", 0, &out->lstrip, where));
    LCMD_TRY(parse_flag(v, "rstrip", 0, &out->rstrip, where));
    LCMD_TRY(parse_flag(v, "single_word", 0, &out->single_word, where));
    if (out->lstrip || out->rstrip || out->single_word)
        return lcmd_set_error(LCMD_ERR_UNSUPPORTED, "%s: lstrip, rstrip and single_word are not supported", where);
    return LCMD_OK;
}

static int spec_same(const tok_spec *a, const tok_spec *b)
{
    return strcmp(a->content, b->content) == 0 && a->normalized == b->normalized && a->lstrip == b->lstrip &&
           a->rstrip == b->rstrip && a->single_word == b->single_word;
}

typedef struct atd_entry { long long id; const json_t *v; const char *key; } atd_entry;

static int atd_cmp(const void *a, const void *b)
{
    long long x = ((const atd_entry *)a)->id, y = ((const atd_entry *)b)->id;
    return (x > y) - (x < y);
}

/* Resolves the added tokens as transformers 5.17 does: the entries of
 * added_tokens_decoder in id order, then the named tokens bos, eos, unk, pad whose
 * content added_tokens_decoder lacks, each unless an identical token (content and
 * flags) is already listed; the backend then keeps, per content, the last listed. */
static lcmd_status resolve_added(lcmd_tokenizer *t, const json_t *cfg, const json_t *stm, const char *cfg_path,
                                 const char *stm_path)
{
    static const char *const names[4] = { "bos_token", "eos_token", "unk_token", "pad_token" };
    static const char *const defaults[4] = { "<|startoftext|>", "<|endoftext|>", "<|endoftext|>", "<|endoftext|>" };
    char where[512];
    lcmd_status st = LCMD_OK;
    const json_t *atd = json_object_get(cfg, "added_tokens_decoder");
    size_t n_atd = 0;
    if (atd && !json_is_null(atd)) {
        if (!json_is_object(atd))
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: 'added_tokens_decoder' is not an object", cfg_path);
        n_atd = json_object_size(atd);
    }
    tok_spec *list = calloc(n_atd + 4, sizeof *list);
    atd_entry *ent = calloc(n_atd + 1, sizeof *ent);
    tok_spec named[4];
    if (!list || !ent) { st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_tokenizer_load: out of memory"); goto done; }
    size_t n_list = 0, k = 0;
    if (n_atd) {
        const char *key;
        const json_t *v;
        json_object_foreach((json_t *)atd, key, v) {
            char *end;
            errno = 0;
            long long id = strtoll(key, &end, 10);
            if (errno || end == key || *end || id < 0 || id > INT32_MAX) {
                st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: added_tokens_decoder key '%s' is not a token id", cfg_path, key);
                goto done;
            }
            ent[k].id = id;
            ent[k].v = v;
            ent[k].key = key;
            k++;
        }
        qsort(ent, n_atd, sizeof *ent, atd_cmp);
        for (k = 0; k < n_atd; k++) {
            snprintf(where, sizeof where, "%s: added_tokens_decoder[%s]", cfg_path, ent[k].key);
            const json_t *sp = json_object_get(ent[k].v, "special");
            int special = json_is_true(sp);
            if (!json_is_object(ent[k].v)) { st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: not an object", where); goto done; }
            if ((st = parse_spec(ent[k].v, !special, &list[n_list], where)) != LCMD_OK) goto done;
            n_list++;
        }
    }
    for (int i = 0; i < 4; i++) {
        const json_t *v = stm ? json_object_get(stm, names[i]) : NULL;
        const char *src = stm_path;
        if (!v || json_is_null(v)) { v = json_object_get(cfg, names[i]); src = cfg_path; }
        if (!v || json_is_null(v)) {
            named[i].content = defaults[i];
            named[i].normalized = named[i].lstrip = named[i].rstrip = named[i].single_word = 0;
        } else {
            snprintf(where, sizeof where, "%s: '%s'", src, names[i]);
            if ((st = parse_spec(v, 0, &named[i], where)) != LCMD_OK) goto done;
        }
        int skip = 0;
        for (k = 0; k < n_atd && !skip; k++) skip = strcmp(list[k].content, named[i].content) == 0;
        for (k = n_atd; k < n_list && !skip; k++) skip = spec_same(&list[k], &named[i]);
        if (!skip) list[n_list++] = named[i];
    }
    /* per content, the last listed */
    t->added = calloc(n_list, sizeof *t->added);
    if (!t->added) { st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_tokenizer_load: out of memory"); goto done; }
    for (size_t i = 0; i < n_list; i++) {
        int later = 0;
        for (k = i + 1; k < n_list && !later; k++) later = strcmp(list[k].content, list[i].content) == 0;
        if (later) continue;
        tok_added *a = &t->added[t->n_added];
        size_t len = strlen(list[i].content);
        a->id = tok_vocab_get(&t->vocab, list[i].content, len);
        if (a->id < 0) {
            st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: added token '%s' is not in vocab.json", cfg_path, list[i].content);
            goto done;
        }
        a->content = malloc(len + 1);
        if (!a->content) { st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_tokenizer_load: out of memory"); goto done; }
        memcpy(a->content, list[i].content, len + 1);
        a->content_len = len;
        a->normalized = list[i].normalized;
        t->n_added++;
        if (a->normalized) {   /* matched by its normalised form */
            int r = tok_normalize(t, a->content, len, &t->norm);
            if (r != 0) {
                st = r == -1 ? lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_tokenizer_load: out of memory")
                             : lcmd_set_error(LCMD_ERR_FORMAT, "%s: added token '%s' is not valid UTF-8", cfg_path, a->content);
                goto done;
            }
            a->match_n = t->norm.n;
            a->match = malloc((t->norm.n + 1) * sizeof(int32_t));
            if (!a->match) { st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_tokenizer_load: out of memory"); goto done; }
            if (t->norm.n) memcpy(a->match, t->norm.v, t->norm.n * sizeof(int32_t));
        }
    }
    int32_t *ids[4] = { &t->bos_id, &t->eos_id, &t->unk_id, &t->pad_id };
    for (int i = 0; i < 4; i++) {
        *ids[i] = tok_vocab_get(&t->vocab, named[i].content, strlen(named[i].content));
        if (*ids[i] < 0) {
            st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: %s '%s' is not in vocab.json", cfg_path, names[i], named[i].content);
            goto done;
        }
    }
done:
    free(list);
    free(ent);
    return st;
}

/* ---- files --------------------------------------------------------------------------- */

static lcmd_status load_vocab(lcmd_tokenizer *t, const char *path)
{
    json_t *root = NULL;
    LCMD_TRY(lcmd_json_load_file(path, TOK_MAX_FILE_BYTES, &root));
    lcmd_status st = LCMD_OK;
    int32_t *ids = NULL;
    if (!json_is_object(root)) { st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: not a JSON object", path); goto done; }
    size_t n = json_object_size(root);
    if (n == 0 || n >= INT32_MAX) { st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: %zu entries", path, n); goto done; }
    if (tok_vocab_init(&t->vocab, n) != 0 || !(ids = malloc(n * sizeof *ids))) {
        st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    const char *key;
    json_t *v;
    size_t k = 0;
    json_object_foreach(root, key, v) {
        json_int_t id = json_is_integer(v) ? json_integer_value(v) : -1;
        if (id < 0 || id >= INT32_MAX) {
            st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: the id of token '%s' is not an integer in [0, 2^31-1)", path, key);
            goto done;
        }
        if (tok_vocab_add(&t->vocab, key, strlen(key), (int32_t)id) < 0) {
            st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
            goto done;
        }
        ids[k++] = (int32_t)id;
    }
    /* ids must be unique: counting sort would need max id memory; sort instead */
    for (size_t gap = k / 2; gap > 0; gap /= 2)   /* shell sort: no comparator globals */
        for (size_t i = gap; i < k; i++)
            for (size_t j = i; j >= gap && ids[j - gap] > ids[j]; j -= gap) {
                int32_t x = ids[j];
                ids[j] = ids[j - gap];
                ids[j - gap] = x;
            }
    for (size_t i = 1; i < k; i++)
        if (ids[i] == ids[i - 1]) {
            st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: id %d is given to two tokens", path, (int)ids[i]);
            goto done;
        }
    for (unsigned b = 0; b < 256; b++) {
        char sym[16];
        int len = (int)utf8proc_encode_char(byte_symbol(b), (utf8proc_uint8_t *)sym);
        t->byte_id[b] = tok_vocab_get(&t->vocab, sym, (size_t)len);
        memcpy(sym + len, "</w>", 4);
        t->byte_end_id[b] = tok_vocab_get(&t->vocab, sym, (size_t)len + 4);
        if (t->byte_id[b] < 0 || t->byte_end_id[b] < 0) {
            sym[len] = 0;
            st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: no token '%s'%s for byte 0x%02x", path, sym,
                                t->byte_id[b] < 0 ? "" : " + '</w>'", b);
            goto done;
        }
    }
done:
    free(ids);
    json_decref(root);
    return st;
}

static lcmd_status load_merges(lcmd_tokenizer *t, const char *path)
{
    char *buf = NULL;
    size_t len = 0;
    LCMD_TRY(lcmd_read_small_file(path, TOK_MAX_FILE_BYTES, &buf, &len));
    lcmd_status st = LCMD_OK;
    char *cat = NULL;
    size_t cat_cap = 0;
    if (tok_merges_init(&t->merges, len / 8 + 16) != 0) {
        st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        goto done;
    }
    size_t line_no = 0, pos = 0;
    uint32_t rank = 0;
    while (pos < len) {
        size_t end = pos;
        while (end < len && buf[end] != '\n') end++;
        size_t next = end < len ? end + 1 : end;
        line_no++;
        size_t e = end;
        if (e > pos && buf[e - 1] == '\r') e--;
        const char *line = buf + pos;
        size_t n = e - pos;
        pos = next;
        if (n >= 8 && memcmp(line, "#version", 8) == 0) continue;
        const char *sp = memchr(line, ' ', n);
        if (!sp || memchr(sp + 1, ' ', n - (size_t)(sp - line) - 1)) {
            st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: line %zu: expected two tokens separated by one space", path, line_no);
            goto done;
        }
        size_t la = (size_t)(sp - line), lb = n - la - 1;
        int32_t a = tok_vocab_get(&t->vocab, line, la), b = tok_vocab_get(&t->vocab, sp + 1, lb);
        if (a < 0 || b < 0) {
            const char *bad = a < 0 ? line : sp + 1;
            int bl = (int)(a < 0 ? la : lb);
            st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: line %zu: token '%.*s' is not in vocab.json", path, line_no,
                                bl > 200 ? 200 : bl, bad);
            goto done;
        }
        if (la + lb > cat_cap) {
            cat_cap = 2 * (la + lb) + 64;
            char *p = realloc(cat, cat_cap);
            if (!p) { st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path); goto done; }
            cat = p;
        }
        memcpy(cat, line, la);
        memcpy(cat + la, sp + 1, lb);
        int32_t ab = tok_vocab_get(&t->vocab, cat, la + lb);
        if (ab < 0) {
            int bl = (int)(la + lb);
            st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: line %zu: merge result '%.*s' is not in vocab.json", path,
                                line_no, bl > 200 ? 200 : bl, cat);
            goto done;
        }
        if (rank == UINT32_MAX || tok_merges_put(&t->merges, a, b, rank++, ab) != 0) {
            st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
            goto done;
        }
    }
done:
    free(cat);
    free(buf);
    return st;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static lcmd_status load_files(lcmd_tokenizer *t, const char *folder)
{
    static const char *const names[4] = { "vocab.json", "merges.txt", "tokenizer_config.json",
                                          "special_tokens_map.json" };
    char *paths[4] = { NULL, NULL, NULL, NULL };
    json_t *cfg = NULL, *stm = NULL;
    lcmd_status st = LCMD_OK;
    for (int i = 0; i < 4; i++)
        if ((st = lcmd_path_join(folder, names[i], &paths[i])) != LCMD_OK) goto done;
    if ((st = load_vocab(t, paths[0])) != LCMD_OK) goto done;
    if ((st = load_merges(t, paths[1])) != LCMD_OK) goto done;
    if ((st = lcmd_json_load_file(paths[2], TOK_MAX_FILE_BYTES, &cfg)) != LCMD_OK) goto done;
    if (!json_is_object(cfg)) { st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: not a JSON object", paths[2]); goto done; }
    if (file_exists(paths[3])) {
        if ((st = lcmd_json_load_file(paths[3], TOK_MAX_FILE_BYTES, &stm)) != LCMD_OK) goto done;
        if (!json_is_object(stm)) { st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: not a JSON object", paths[3]); goto done; }
    }
    const json_t *ml = json_object_get(cfg, "model_max_length");
    if (!json_is_integer(ml) || json_integer_value(ml) < 2 || json_integer_value(ml) > (json_int_t)TOK_MAX_LENGTH) {
        st = lcmd_set_error(LCMD_ERR_FORMAT, "%s: 'model_max_length' missing or not an integer in [2, %u]", paths[2],
                            TOK_MAX_LENGTH);
        goto done;
    }
    t->max_len = (size_t)json_integer_value(ml);
    st = resolve_added(t, cfg, stm, paths[2], paths[3]);
done:
    json_decref(cfg);
    json_decref(stm);
    for (int i = 0; i < 4; i++) free(paths[i]);
    return st;
}

/* ---- public API ----------------------------------------------------------------------- */

LCMD_API void lcmd_tokenizer_destroy(lcmd_tokenizer *tok)
{
    if (!tok) return;
    tok_vocab_free(&tok->vocab);
    tok_merges_free(&tok->merges);
    for (size_t i = 0; i < tok->n_added; i++) {
        free(tok->added[i].content);
        free(tok->added[i].match);
    }
    free(tok->added);
    tok_cache_free(&tok->cache);
    tok_bpe_work_free(&tok->work);
    free(tok->clean.v);
    free(tok->norm.v);
    free(tok->tmp.v);
    free(tok->word.v);
    free(tok->out.v);
    for (size_t i = 0; i < sizeof tok->fx / sizeof *tok->fx; i++) free(tok->fx[i].v);
    free(tok->fx_u8.v);
    free(tok);
}

#define OPTIONS_V1 (offsetof(lcmd_tokenizer_options, cleanup) + sizeof(int32_t))
#define LOAD_FN "lcmd_tokenizer_load"

LCMD_API lcmd_status lcmd_tokenizer_options_init(lcmd_tokenizer_options *opts)
{
    LCMD_CHECK_ARG(opts, "lcmd_tokenizer_options_init", "opts is NULL");
    memset(opts, 0, sizeof *opts);
    opts->struct_size = (uint32_t)sizeof *opts;
    opts->cleanup = LCMD_TEXT_CLEANUP_FTFY;
    return LCMD_OK;
}

LCMD_API lcmd_status lcmd_tokenizer_load_with_options(lcmd_context *ctx, const char *folder,
                                                      const lcmd_tokenizer_options *opts, lcmd_tokenizer **out)
{
    LCMD_CHECK_ARG(out, LOAD_FN, "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(ctx, LOAD_FN, "ctx is NULL");
    LCMD_CHECK_ARG(folder, LOAD_FN, "folder is NULL");
    lcmd_tokenizer_options o;
    lcmd_tokenizer_options_init(&o);
    if (opts) {
        LCMD_CHECK_ARG(opts->struct_size >= OPTIONS_V1 && opts->struct_size <= sizeof o, LOAD_FN,
                       "opts.struct_size = %u (call lcmd_tokenizer_options_init)", opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
        o.struct_size = (uint32_t)sizeof o;
    }
    LCMD_CHECK_ARG(o.cleanup == LCMD_TEXT_CLEANUP_FTFY || o.cleanup == LCMD_TEXT_CLEANUP_MINIMAL, LOAD_FN,
                   "opts.cleanup = %d is not an lcmd_text_cleanup", (int)o.cleanup);
    lcmd_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_tokenizer_load: out of memory");
    t->ctx = ctx;
    t->cleanup = o.cleanup;
    lcmd_status st = load_files(t, folder);
    if (st != LCMD_OK) {
        lcmd_tokenizer_destroy(t);
        return st;
    }
    /* FTFY mode: the slow BPE's cache turns these two words into their own tokens */
    static const char *const words[2] = { "<|startoftext|>", "<|endoftext|>" };
    for (int i = 0; i < 2; i++) {
        t->special_word_id[i] = tok_vocab_get(&t->vocab, words[i], strlen(words[i]));
        if (t->special_word_id[i] < 0) t->special_word_id[i] = t->unk_id;
    }
    *out = t;
    return LCMD_OK;
}

LCMD_API lcmd_status lcmd_tokenizer_load(lcmd_context *ctx, const char *folder, lcmd_tokenizer **out)
{
    return lcmd_tokenizer_load_with_options(ctx, folder, NULL, out);
}

static lcmd_status encode_status(lcmd_status st, const char *fn)
{
    if (st == LCMD_ERR_OUT_OF_MEMORY) return lcmd_set_error(st, "%s: out of memory", fn);
    if (st != LCMD_OK) return lcmd_set_error(st, "%s: Unicode normalisation failed", fn);
    return st;
}

LCMD_API lcmd_status lcmd_tokenizer_encode(lcmd_tokenizer *tok, const char *utf8, size_t len, int32_t *ids,
                                           size_t max_ids, size_t *n_out)
{
    LCMD_CHECK_ARG(n_out, "lcmd_tokenizer_encode", "n_out is NULL");
    *n_out = 0;
    LCMD_CHECK_ARG(tok, "lcmd_tokenizer_encode", "tok is NULL");
    LCMD_CHECK_ARG(utf8 || len == 0, "lcmd_tokenizer_encode", "utf8 is NULL with len %zu", len);
    LCMD_CHECK_ARG(ids || max_ids == 0, "lcmd_tokenizer_encode", "ids is NULL with max_ids %zu", max_ids);
    tok->out.n = 0;
    lcmd_status st = tok_encode_text(tok, utf8 ? utf8 : "", len, SIZE_MAX);
    if (st != LCMD_OK) return encode_status(st, "lcmd_tokenizer_encode");
    size_t n = tok->out.n + 2;
    for (size_t i = 0; i < n && i < max_ids; i++)
        ids[i] = i == 0 ? tok->bos_id : i + 1 == n ? tok->eos_id : tok->out.v[i - 1];
    *n_out = n;
    return LCMD_OK;
}

LCMD_API lcmd_status lcmd_tokenizer_encode_padded(lcmd_tokenizer *tok, const char *const *captions, size_t n,
                                                  int32_t *ids)
{
    LCMD_CHECK_ARG(tok, "lcmd_tokenizer_encode_padded", "tok is NULL");
    if (n == 0) return LCMD_OK;
    LCMD_CHECK_ARG(captions, "lcmd_tokenizer_encode_padded", "captions is NULL");
    LCMD_CHECK_ARG(ids, "lcmd_tokenizer_encode_padded", "ids is NULL");
    for (size_t i = 0; i < n; i++)
        LCMD_CHECK_ARG(captions[i], "lcmd_tokenizer_encode_padded", "captions[%zu] is NULL", i);
    size_t L = tok->max_len, keep = L - 2;
    LCMD_CHECK_ARG(n <= SIZE_MAX / sizeof(int32_t) / L, "lcmd_tokenizer_encode_padded", "n %zu is too large", n);
    for (size_t i = 0; i < n; i++) {
        tok->out.n = 0;
        lcmd_status st = tok_encode_text(tok, captions[i], strlen(captions[i]), keep);
        if (st != LCMD_OK) return encode_status(st, "lcmd_tokenizer_encode_padded");
        size_t m = tok->out.n < keep ? tok->out.n : keep;
        int32_t *row = ids + i * L;
        row[0] = tok->bos_id;
        if (m) memcpy(row + 1, tok->out.v, m * sizeof(int32_t));
        row[m + 1] = tok->eos_id;
        for (size_t j = m + 2; j < L; j++) row[j] = tok->pad_id;
    }
    return LCMD_OK;
}

LCMD_API size_t lcmd_tokenizer_model_max_length(const lcmd_tokenizer *tok) { return tok ? tok->max_len : 0; }
LCMD_API int32_t lcmd_tokenizer_bos_id(const lcmd_tokenizer *tok) { return tok ? tok->bos_id : -1; }
LCMD_API int32_t lcmd_tokenizer_eos_id(const lcmd_tokenizer *tok) { return tok ? tok->eos_id : -1; }
LCMD_API int32_t lcmd_tokenizer_pad_id(const lcmd_tokenizer *tok) { return tok ? tok->pad_id : -1; }
LCMD_API int32_t lcmd_tokenizer_cleanup(const lcmd_tokenizer *tok) { return tok ? tok->cleanup : -1; }
LCMD_API size_t lcmd_tokenizer_vocab_size(const lcmd_tokenizer *tok) { return tok ? tok->vocab.n : 0; }
