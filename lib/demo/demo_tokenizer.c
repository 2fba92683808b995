/* The demo tokenizer/: a CLIP byte-level BPE vocabulary (the 256 byte symbols, the same
 * with "</w>", the merges that make each demo word one token, the two special tokens)
 * in the four files that transformers' CLIPTokenizer and lcmd_tokenizer_load read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "demo/demo_internal.h"

#define MAX_SYMS 64      /* symbols of one word (the demo words are short) */
#define SYM_BYTES 48

typedef struct merge { char a[SYM_BYTES], b[SYM_BYTES]; } merge;

typedef struct bpe {
    merge *merges;
    size_t count, cap;
} bpe;

/* The code point that stands for byte b in CLIP's alphabet: printable Latin-1 bytes
 * stand for themselves, the other 68 bytes for U+0100.. in byte order. */
static unsigned byte_code_point(unsigned b)
{
    int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
    if (printable) return b;
    unsigned n = 0;
    for (unsigned x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
    return 256 + n;
}

/* UTF-8 of a code point below U+0800 */
static void utf8(unsigned cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

/* dst = a + b; learn_merges keeps every merged token below SYM_BYTES */
static void concat(char *dst, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb >= SYM_BYTES) lb = la >= SYM_BYTES - 1 ? 0 : SYM_BYTES - 1 - la;
    if (la >= SYM_BYTES) la = SYM_BYTES - 1;
    memmove(dst, a, la);
    memcpy(dst + la, b, lb);
    dst[la + lb] = 0;
}

static int merge_rank(const bpe *m, const char *a, const char *b)
{
    for (size_t i = 0; i < m->count; i++)
        if (!strcmp(m->merges[i].a, a) && !strcmp(m->merges[i].b, b)) return (int)i;
    return -1;
}

/* CLIP's BPE on one word: merge the lowest-ranked adjacent pair everywhere, repeat */
static size_t bpe_word(const bpe *m, const char *word, char syms[][SYM_BYTES])
{
    size_t n = strlen(word);
    for (size_t i = 0; i < n; i++) snprintf(syms[i], SYM_BYTES, "%c%s", word[i], i + 1 == n ? "</w>" : "");
    for (;;) {
        int best = -1;
        for (size_t i = 0; i + 1 < n; i++) {
            int r = merge_rank(m, syms[i], syms[i + 1]);
            if (r >= 0 && (best < 0 || r < best)) best = r;
        }
        if (best < 0) return n;
        const merge *mg = &m->merges[best];
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (i + 1 < n && !strcmp(syms[i], mg->a) && !strcmp(syms[i + 1], mg->b)) {
                concat(syms[k++], mg->a, mg->b);
                i++;
            } else if (k != i) {
                memcpy(syms[k++], syms[i], SYM_BYTES);
            } else {
                k++;
            }
        }
        n = k;
    }
}

static lcmd_status add_merge(bpe *m, const char *a, const char *b)
{
    if (m->count == m->cap) {
        size_t cap = m->cap ? 2 * m->cap : 256;
        merge *p = realloc(m->merges, cap * sizeof *p);
        if (!p) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo tokenizer: out of memory");
        m->merges = p;
        m->cap = cap;
    }
    snprintf(m->merges[m->count].a, SYM_BYTES, "%s", a);
    snprintf(m->merges[m->count].b, SYM_BYTES, "%s", b);
    m->count++;
    return LCMD_OK;
}

/* Learns, word by word, merges of the two leftmost symbols until the word is one
 * token. Each new merge ranks after all earlier ones, so it never changes how an
 * earlier word splits (that word reaches one token through lower-ranked merges). */
static lcmd_status learn_merges(bpe *m)
{
    char syms[MAX_SYMS][SYM_BYTES];
    for (size_t w = 0; w < demo_word_count; w++) {
        if (strlen(demo_words[w]) >= MAX_SYMS)
            return lcmd_set_error(LCMD_ERR_INTERNAL, "demo tokenizer: word '%s' too long", demo_words[w]);
        size_t n;
        while ((n = bpe_word(m, demo_words[w], syms)) > 1) {
            if (strlen(syms[0]) + strlen(syms[1]) >= SYM_BYTES)
                return lcmd_set_error(LCMD_ERR_INTERNAL, "demo tokenizer: token too long in '%s'", demo_words[w]);
            LCMD_TRY(add_merge(m, syms[0], syms[1]));
        }
    }
    return LCMD_OK;
}

/* the byte symbols in id order: CLIP lists them by code point */
static void byte_symbols(char out[256][4])
{
    unsigned cps[256];
    for (unsigned b = 0; b < 256; b++) cps[b] = byte_code_point(b);
    for (unsigned i = 1; i < 256; i++)   /* insertion sort of 256 values */
        for (unsigned j = i; j > 0 && cps[j - 1] > cps[j]; j--) {
            unsigned t = cps[j];
            cps[j] = cps[j - 1];
            cps[j - 1] = t;
        }
    for (unsigned i = 0; i < 256; i++) utf8(cps[i], out[i]);
}

static lcmd_status vocab_add(json_t *vocab, const char *token, int32_t *next)
{
    if (json_object_get(vocab, token)) return LCMD_OK;   /* reached by another merge */
    LCMD_TRY(demo_json_set(vocab, token, json_integer(*next)));
    (*next)++;
    return LCMD_OK;
}

static lcmd_status build_vocab(const bpe *m, json_t *vocab, int32_t *size)
{
    char bytes[256][4];
    byte_symbols(bytes);
    int32_t next = 0;
    for (int end = 0; end < 2; end++)
        for (int i = 0; i < 256; i++) {
            char tok[SYM_BYTES];
            concat(tok, bytes[i], end ? "</w>" : "");
            LCMD_TRY(vocab_add(vocab, tok, &next));
        }
    for (size_t i = 0; i < m->count; i++) {
        char tok[SYM_BYTES];
        concat(tok, m->merges[i].a, m->merges[i].b);
        LCMD_TRY(vocab_add(vocab, tok, &next));
    }
    LCMD_TRY(vocab_add(vocab, "<|startoftext|>", &next));
    LCMD_TRY(vocab_add(vocab, "<|endoftext|>", &next));
    *size = next;
    return LCMD_OK;
}

static lcmd_status write_merges(const char *dir, const bpe *m)
{
    size_t cap = 32 + m->count * (2 * SYM_BYTES + 2), len = 0;
    char *text = malloc(cap);
    if (!text) return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo tokenizer: out of memory");
    /* transformers skips the first line: the version header */
    len += (size_t)snprintf(text, cap, "#version: 0.2\n");
    for (size_t i = 0; i < m->count; i++)
        len += (size_t)snprintf(text + len, cap - len, "%s %s\n", m->merges[i].a, m->merges[i].b);
    lcmd_status s = demo_write_file(dir, "merges.txt", text, len);
    free(text);
    return s;
}

/* {"__type": "AddedToken", "content": ..., flags}: the form SD 1.5's files use */
static json_t *added_token(const char *content, int typed)
{
    json_t *t = json_object();
    if (!t) return NULL;
    int bad = (typed && json_object_set_new(t, "__type", json_string("AddedToken"))) ||
              json_object_set_new(t, "content", json_string(content)) ||
              json_object_set_new(t, "lstrip", json_false()) || json_object_set_new(t, "normalized", json_true()) ||
              json_object_set_new(t, "rstrip", json_false()) || json_object_set_new(t, "single_word", json_false());
    if (bad) {
        json_decref(t);
        return NULL;
    }
    return t;
}

static lcmd_status write_configs(const char *dir)
{
    json_t *cfg = json_object(), *stm = json_object();
    lcmd_status s = cfg && stm ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo tokenizer: out of memory");
    if (!s) s = demo_json_set(cfg, "add_prefix_space", json_false());
    if (!s) s = demo_json_set(cfg, "bos_token", added_token("<|startoftext|>", 1));
    if (!s) s = demo_json_set(cfg, "do_lower_case", json_true());
    if (!s) s = demo_json_set(cfg, "eos_token", added_token("<|endoftext|>", 1));
    if (!s) s = demo_json_set(cfg, "errors", json_string("replace"));
    if (!s) s = demo_json_set(cfg, "model_max_length", json_integer(DEMO_MAX_LENGTH));
    if (!s) s = demo_json_set(cfg, "pad_token", json_string("<|endoftext|>"));
    if (!s) s = demo_json_set(cfg, "tokenizer_class", json_string("CLIPTokenizer"));
    if (!s) s = demo_json_set(cfg, "unk_token", added_token("<|endoftext|>", 1));
    if (!s) s = demo_json_set(stm, "bos_token", added_token("<|startoftext|>", 0));
    if (!s) s = demo_json_set(stm, "eos_token", added_token("<|endoftext|>", 0));
    if (!s) s = demo_json_set(stm, "pad_token", json_string("<|endoftext|>"));
    if (!s) s = demo_json_set(stm, "unk_token", added_token("<|endoftext|>", 0));
    if (!s) s = demo_write_json(dir, "tokenizer_config.json", cfg);
    if (!s) s = demo_write_json(dir, "special_tokens_map.json", stm);
    json_decref(cfg);
    json_decref(stm);
    return s;
}

lcmd_status demo_write_tokenizer(const char *folder, int32_t *vocab_size)
{
    char *dir = NULL;
    LCMD_TRY(demo_join(folder, "tokenizer", &dir));
    bpe m = {0};
    json_t *vocab = json_object();
    lcmd_status s = vocab ? demo_make_folder(dir) : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "demo: out of memory");
    if (!s) s = learn_merges(&m);
    if (!s) s = build_vocab(&m, vocab, vocab_size);
    if (!s) s = demo_write_json(dir, "vocab.json", vocab);
    if (!s) s = write_merges(dir, &m);
    if (!s) s = write_configs(dir);
    json_decref(vocab);
    free(m.merges);
    free(dir);
    return s;
}
