/* The CLIP tokenizer's internals: the handle, the BPE tables, the text pipeline.
 * tokenizer.c loads the files and runs the public API, tok_text.c turns a caption
 * into words (UTF-8 repair, added tokens, normalisation, pre-tokenisation) in either
 * cleanup mode, tok_ftfy.c holds the FTFY mode's text cleanup, tok_bpe.c the hash maps
 * and the BPE itself. */
#ifndef LCMD_TEXT_TOKENIZER_INTERNAL_H
#define LCMD_TEXT_TOKENIZER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/text.h>

/* ---- growable arrays ---------------------------------------------------- */

typedef struct tok_ids { int32_t *v; size_t n, cap; } tok_ids;     /* token ids */
typedef struct tok_cps { int32_t *v; size_t n, cap; } tok_cps;     /* code points */
typedef struct tok_bytes { char *v; size_t n, cap; } tok_bytes;    /* bytes */

int tok_ids_push(tok_ids *a, int32_t x);           /* 0 ok, -1 out of memory */
int tok_cps_reserve(tok_cps *a, size_t n);         /* capacity >= n */
int tok_bytes_reserve(tok_bytes *a, size_t n);

/* ---- string -> id map (vocab) ---------------------------------------------- */

typedef struct tok_vocab {
    char *pool;            /* all keys, back to back (not NUL-terminated) */
    size_t pool_len, pool_cap;
    uint32_t *key_off, *key_len;
    int32_t *key_id;
    size_t n;              /* entries */
    uint32_t *slots;       /* open addressing: entry index + 1, 0 = empty */
    size_t n_slots;        /* power of two */
} tok_vocab;

int tok_vocab_init(tok_vocab *v, size_t expected);
void tok_vocab_free(tok_vocab *v);
/* Adds key -> id; returns 0, 1 if the key is already there (not added), -1 OOM. */
int tok_vocab_add(tok_vocab *v, const char *key, size_t len, int32_t id);
/* Id of the key, -1 if absent. */
int32_t tok_vocab_get(const tok_vocab *v, const char *key, size_t len);

/* ---- (id, id) -> (rank, new id) map (merges) --------------------------------- */

typedef struct tok_merge_slot { uint64_t key; uint32_t rank; int32_t new_id; } tok_merge_slot;
typedef struct tok_merges {
    tok_merge_slot *slots; /* key UINT64_MAX = empty */
    size_t n_slots, n;
} tok_merges;

int tok_merges_init(tok_merges *m, size_t expected);
void tok_merges_free(tok_merges *m);
/* Inserts or overwrites (a later merges.txt line wins, as in the reference). */
int tok_merges_put(tok_merges *m, int32_t a, int32_t b, uint32_t rank, int32_t new_id);
/* 1 and (*rank, *new_id) if the pair merges, else 0. */
int tok_merges_get(const tok_merges *m, int32_t a, int32_t b, uint32_t *rank, int32_t *new_id);

/* ---- word cache: word bytes -> ids ------------------------------------------- */

typedef struct tok_cache {
    uint64_t *hash;        /* per slot; 0 = empty */
    uint32_t *off, *len, *ids_off, *ids_n;
    size_t n_slots, n;
    tok_bytes keys;
    tok_ids ids;
} tok_cache;

/* ---- BPE working memory ------------------------------------------------------- */

typedef struct tok_heap_item { uint32_t rank; uint32_t pos; int32_t new_id; } tok_heap_item;
typedef struct tok_bpe_work {
    int32_t *sym;          /* symbol ids */
    int32_t *prev, *next;  /* linked list over symbol positions */
    uint8_t *alive;
    size_t cap;
    tok_heap_item *heap;
    size_t heap_n, heap_cap;
} tok_bpe_work;

/* ---- added (special) tokens ----------------------------------------------------- */

typedef struct tok_added {
    char *content;         /* UTF-8, as written in the files */
    size_t content_len;
    int32_t *match;        /* code points matched: content, or its normalised form */
    size_t match_n;
    int normalized;        /* 1: matched on normalised text; 0: on the raw text */
    int32_t id;
} tok_added;

struct lcmd_tokenizer {
    lcmd_context *ctx;
    tok_vocab vocab;
    tok_merges merges;
    int32_t byte_id[256];      /* id of the byte's symbol inside a word */
    int32_t byte_end_id[256];  /* id of the byte's symbol + "</w>" (word end) */
    tok_added *added;
    size_t n_added;
    int32_t bos_id, eos_id, pad_id, unk_id;
    size_t max_len;
    int32_t cleanup;           /* lcmd_text_cleanup */
    int32_t special_word_id[2];/* FTFY mode: ids of the words "<|startoftext|>", "<|endoftext|>" */
    /* scratch, reused across calls (the reason a handle is single-threaded) */
    tok_cache cache;
    tok_bpe_work work;
    tok_bytes clean;           /* caption after UTF-8 repair */
    tok_cps norm;              /* one normalised segment */
    tok_cps tmp;               /* utf8proc buffer */
    tok_bytes word;            /* one word's UTF-8 bytes */
    tok_ids out;               /* ids of the caption */
    tok_cps fx[5];             /* FTFY mode: pass buffers, the piece, the fixed text */
    tok_bytes fx_u8;           /* FTFY mode: UTF-8 for NFC */
};

/* Byte-level BPE of one word (its UTF-8 bytes), through the cache; appends ids. */
int tok_bpe_word(lcmd_tokenizer *t, const char *bytes, size_t n, tok_ids *out);
void tok_cache_free(tok_cache *c);
void tok_bpe_work_free(tok_bpe_work *w);

/* Caption -> content ids (no bos/eos) appended to t->out; stops once t->out holds at
 * least `limit` ids (SIZE_MAX: no limit). Returns LCMD_OK or LCMD_ERR_OUT_OF_MEMORY. */
lcmd_status tok_encode_text(lcmd_tokenizer *t, const char *s, size_t len, size_t limit);

/* Normalises UTF-8 text (valid) as the reference's normalizer: NFC, White_Space runs to
 * one space, lower case. Result in *out (code points). 0 ok, -1 OOM, -2 utf8proc error. */
int tok_normalize(lcmd_tokenizer *t, const char *s, size_t len, tok_cps *out);

/* FTFY mode: one piece of valid UTF-8 between added tokens -> the code points the slow
 * tokenizer's pattern sees: ftfy.fix_text (less fix_encoding), whitespace_clean,
 * str.lower(). 0 ok, -1 OOM, -2 utf8proc error. (tok_ftfy.c) */
int tok_ftfy_clean(lcmd_tokenizer *t, const char *s, size_t len, tok_cps *out);

/* Unicode White_Space: the `\s` of the reference patterns (25 code points). */
int tok_is_space(int32_t c);

/* Replaces ill-formed UTF-8 by U+FFFD like Python's errors="replace". 0 ok, -1 OOM. */
int tok_utf8_repair(const char *s, size_t len, tok_bytes *out);

#endif /* LCMD_TEXT_TOKENIZER_INTERNAL_H */
