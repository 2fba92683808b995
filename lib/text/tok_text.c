/* Caption -> words -> ids: UTF-8 repair, added-token splitting, text cleanup and CLIP
 * pre-tokenisation, in the two cleanup modes:
 *  - LCMD_TEXT_CLEANUP_MINIMAL, as transformers 5.17's CLIPTokenizer (the `tokenizers`
 *    pipeline): normalisation (NFC, whitespace, per-character lower case), added tokens
 *    matched on the raw or the normalised text by their `normalized` flag, the pattern
 *    of the byte-level pre-tokeniser;
 *  - LCMD_TEXT_CLEANUP_FTFY, as transformers 4.x's slow CLIPTokenizer with ftfy: every
 *    added token cut out of the raw text, then per piece ftfy + whitespace_clean +
 *    str.lower() (tok_ftfy.c) and the pattern as the `regex` module runs it (IGNORECASE). */
#include "text/tokenizer_internal.h"

#include <string.h>
#include <utf8proc.h>

#define TRY_STATUS(expr) do { lcmd_status s_ = (expr); if (s_ != LCMD_OK) return s_; } while (0)

/* ---- UTF-8 repair -------------------------------------------------------------- */

static int put_bytes(tok_bytes *o, const char *s, size_t n)
{
    if (n > SIZE_MAX - o->n || tok_bytes_reserve(o, o->n + n) != 0) return -1;
    memcpy(o->v + o->n, s, n);
    o->n += n;
    return 0;
}

/* One U+FFFD per maximal ill-formed subpart (Unicode's "best practice", which
 * CPython's decoder follows): a lead byte with a valid but truncated tail is one
 * replacement; a byte that cannot start or continue a sequence is one each. */
int tok_utf8_repair(const char *s, size_t len, tok_bytes *out)
{
    static const char fffd[3] = { (char)0xEF, (char)0xBF, (char)0xBD };
    const unsigned char *u = (const unsigned char *)s;
    out->n = 0;
    if (tok_bytes_reserve(out, len + 1) != 0) return -1;
    size_t i = 0;
    while (i < len) {
        unsigned b = u[i];
        if (b < 0x80) {
            size_t j = i + 1;                       /* copy an ASCII run at once */
            while (j < len && u[j] < 0x80) j++;
            if (put_bytes(out, s + i, j - i) != 0) return -1;
            i = j;
            continue;
        }
        unsigned need, lo = 0x80, hi = 0xBF;
        if (b >= 0xC2 && b <= 0xDF) need = 1;
        else if (b == 0xE0) { need = 2; lo = 0xA0; }
        else if (b == 0xED) { need = 2; hi = 0x9F; }
        else if (b >= 0xE1 && b <= 0xEF) need = 2;
        else if (b == 0xF0) { need = 3; lo = 0x90; }
        else if (b >= 0xF1 && b <= 0xF3) need = 3;
        else if (b == 0xF4) { need = 3; hi = 0x8F; }
        else {
            if (put_bytes(out, fffd, 3) != 0) return -1;
            i++;
            continue;
        }
        size_t j = i + 1;
        unsigned got = 0;
        if (j < len && u[j] >= lo && u[j] <= hi) {
            j++;
            got = 1;
            while (got < need && j < len && u[j] >= 0x80 && u[j] <= 0xBF) { j++; got++; }
        }
        if (put_bytes(out, got == need ? s + i : fffd, got == need ? j - i : 3) != 0) return -1;
        i = j;
    }
    return 0;
}

/* ---- character classes ---------------------------------------------------------- */

/* Unicode White_Space (the 25 code points the reference's `\s` matches). */
int tok_is_space(int32_t c)
{
    if (c == 0x20 || (c >= 0x09 && c <= 0x0D)) return 1;
    if (c < 0x85) return 0;
    return c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 ||
           c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

static int is_letter(int32_t c)
{
    if (c < 0x80) return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_LU || k == UTF8PROC_CATEGORY_LL || k == UTF8PROC_CATEGORY_LT ||
           k == UTF8PROC_CATEGORY_LM || k == UTF8PROC_CATEGORY_LO;
}

static int is_number(int32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    utf8proc_category_t k = utf8proc_category(c);
    return k == UTF8PROC_CATEGORY_ND || k == UTF8PROC_CATEGORY_NL || k == UTF8PROC_CATEGORY_NO;
}

/* ---- normalisation -------------------------------------------------------------- */

int tok_normalize(lcmd_tokenizer *t, const char *s, size_t len, tok_cps *out)
{
    const utf8proc_option_t opt = (utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    tok_cps *tmp = &t->tmp;
    out->n = 0;
    if (len == 0) return 0;
    if ((size_t)(utf8proc_ssize_t)len != len || (utf8proc_ssize_t)len < 0) return -2;
    if (tok_cps_reserve(tmp, len + 1) != 0) return -1;
    utf8proc_ssize_t n = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, tmp->v,
                                            (utf8proc_ssize_t)tmp->cap, opt);
    if (n < 0) return -2;
    if ((size_t)n > tmp->cap) {
        if (tok_cps_reserve(tmp, (size_t)n) != 0) return -1;
        n = utf8proc_decompose((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)len, tmp->v,
                               (utf8proc_ssize_t)tmp->cap, opt);
        if (n < 0 || (size_t)n > tmp->cap) return -2;
    }
    n = utf8proc_normalize_utf32(tmp->v, n, opt);   /* canonical composition */
    if (n < 0) return -2;
    /* lower case can add one code point per character (U+0130 only) */
    if ((size_t)n > SIZE_MAX / 2 - 1 || tok_cps_reserve(out, 2 * (size_t)n + 1) != 0) return -1;
    size_t k = 0;
    for (utf8proc_ssize_t i = 0; i < n; i++) {
        int32_t c = tmp->v[i];
        if (tok_is_space(c)) {
            while (i + 1 < n && tok_is_space(tmp->v[i + 1])) i++;
            out->v[k++] = ' ';
        } else if (c == 0x130) {          /* the one unconditional multi-code-point lower case */
            out->v[k++] = 'i';
            out->v[k++] = 0x307;
        } else {
            out->v[k++] = c < 0x80 ? ((c >= 'A' && c <= 'Z') ? c + 32 : c) : utf8proc_tolower(c);
        }
    }
    out->n = k;
    return 0;
}

/* ---- words ----------------------------------------------------------------------- */

static int emit_word_cps(lcmd_tokenizer *t, const int32_t *cps, size_t n)
{
    tok_bytes *w = &t->word;
    if (n > SIZE_MAX / 4 || tok_bytes_reserve(w, 4 * n) != 0) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)utf8proc_encode_char(cps[i], (utf8proc_uint8_t *)w->v + k);
    return tok_bpe_word(t, w->v, k, &t->out);
}

static int emit_word_ascii(lcmd_tokenizer *t, const char *s)
{
    return tok_bpe_word(t, s, strlen(s), &t->out);
}

static int cps_has_ascii(const int32_t *cps, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    if (m > n) return 0;
    for (size_t i = 0; i < m; i++)
        if (cps[i] != (unsigned char)lit[i]) return 0;
    return 1;
}

/* The CLIP pattern over cps[0..n): leftmost match, alternatives in the pattern's
 * order; what no alternative matches (White_Space) is dropped. */
static int pretokenize(lcmd_tokenizer *t, const int32_t *cps, size_t n, size_t limit)
{
    static const char *const contractions[] = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };
    static const char *const specials[] = { "startoftext", "endoftext" };
    size_t i = 0;
    while (i < n && t->out.n < limit) {
        int32_t c = cps[i];
        if (tok_is_space(c)) { i++; continue; }
        if (c == '<') {
            int hit = 0;
            for (size_t s = 0; s < 2 && !hit; s++) {
                size_t m = strlen(specials[s]);
                if (cps_has_ascii(cps + i, n - i, "<|") && cps_has_ascii(cps + i + 2, n - i - 2, specials[s]) &&
                    cps_has_ascii(cps + i + 2 + m, n - i - 2 - m, "|>")) {
                    /* the byte-level pre-tokeniser splits the match again: "<|", word, "|>" */
                    if (emit_word_ascii(t, "<|") != 0 || emit_word_ascii(t, specials[s]) != 0 ||
                        emit_word_ascii(t, "|>") != 0) return -1;
                    i += m + 4;
                    hit = 1;
                }
            }
            if (hit) continue;
        }
        if (c == '\'') {
            int hit = 0;
            for (size_t s = 0; s < sizeof contractions / sizeof *contractions && !hit; s++) {
                if (cps_has_ascii(cps + i, n - i, contractions[s])) {
                    if (emit_word_ascii(t, contractions[s]) != 0) return -1;
                    i += strlen(contractions[s]);
                    hit = 1;
                }
            }
            if (hit) continue;
        }
        size_t j = i + 1;
        if (is_letter(c)) {
            while (j < n && is_letter(cps[j])) j++;
        } else if (!is_number(c)) {
            while (j < n && !tok_is_space(cps[j]) && !is_letter(cps[j]) && !is_number(cps[j])) j++;
        }
        if (emit_word_cps(t, cps + i, j - i) != 0) return -1;
        i = j;
    }
    return 0;
}

/* FTFY mode: the CLIP pattern as the slow tokenizer runs it (the `regex` module with
 * IGNORECASE, on lower-cased text). It differs from pretokenize() in that
 *  - `<|startoftext|>` and `<|endoftext|>` are one word each, which the slow BPE's cache
 *    maps to the token of that name (not three words);
 *  - IGNORECASE lets `s` match U+017F too (`'ſ` is a contraction, `<|ſtartoftext|>` a
 *    special-looking word, BPE-encoded as one word), and makes U+0345 (which case-folds
 *    to a letter) match no alternative, so it is dropped like white space. */
static int lit_match(const int32_t *cps, size_t n, const char *lit, int *exact)
{
    size_t m = strlen(lit);
    if (m > n) return 0;
    for (size_t i = 0; i < m; i++) {
        if (cps[i] == (unsigned char)lit[i]) continue;
        if (lit[i] == 's' && cps[i] == 0x17F) { *exact = 0; continue; }
        return 0;
    }
    return 1;
}

static int pretokenize_slow(lcmd_tokenizer *t, const int32_t *cps, size_t n, size_t limit)
{
    static const char *const contractions[] = { "'s", "'t", "'re", "'ve", "'m", "'ll", "'d" };
    static const char *const specials[] = { "<|startoftext|>", "<|endoftext|>" };
    size_t i = 0;
    while (i < n && t->out.n < limit) {
        int32_t c = cps[i];
        if (tok_is_space(c) || c == 0x345) { i++; continue; }
        const char *const *lits = NULL;
        size_t n_lits = 0;
        if (c == '<') { lits = specials; n_lits = 2; }
        else if (c == '\'') { lits = contractions; n_lits = sizeof contractions / sizeof *contractions; }
        size_t hit = 0;
        for (size_t s = 0; s < n_lits && !hit; s++) {
            int exact = 1;
            if (!lit_match(cps + i, n - i, lits[s], &exact)) continue;
            hit = strlen(lits[s]);
            if (c == '<' && exact) {
                if (tok_ids_push(&t->out, t->special_word_id[s]) != 0) return -1;
            } else if (emit_word_cps(t, cps + i, hit) != 0) {
                return -1;
            }
        }
        if (hit) { i += hit; continue; }
        size_t j = i + 1;
        if (is_letter(c)) {
            while (j < n && is_letter(cps[j])) j++;
        } else if (!is_number(c)) {
            while (j < n && !tok_is_space(cps[j]) && cps[j] != 0x345 && !is_letter(cps[j]) && !is_number(cps[j])) j++;
        }
        if (emit_word_cps(t, cps + i, j - i) != 0) return -1;
        i = j;
    }
    return 0;
}

/* Longest added token of the given kind whose code points start cps[0..n), or NULL. */
static const tok_added *match_added_cps(const lcmd_tokenizer *t, const int32_t *cps, size_t n)
{
    const tok_added *best = NULL;
    for (size_t k = 0; k < t->n_added; k++) {
        const tok_added *a = &t->added[k];
        if (!a->normalized || a->match_n == 0 || a->match_n > n || (best && a->match_n <= best->match_n))
            continue;
        if (memcmp(a->match, cps, a->match_n * sizeof(int32_t)) == 0) best = a;
    }
    return best;
}

/* Longest added token whose content starts s[0..n): in MINIMAL mode only the tokens
 * with `normalized` false, in FTFY mode all of them (the slow tokenizer splits every
 * added token out of the raw text). */
static const tok_added *match_added_raw(const lcmd_tokenizer *t, const char *s, size_t n)
{
    const tok_added *best = NULL;
    int all = t->cleanup == LCMD_TEXT_CLEANUP_FTFY;
    for (size_t k = 0; k < t->n_added; k++) {
        const tok_added *a = &t->added[k];
        if ((a->normalized && !all) || a->content_len == 0 || a->content_len > n ||
            (best && a->content_len <= best->content_len))
            continue;
        if (a->content[0] == s[0] && memcmp(a->content, s, a->content_len) == 0) best = a;
    }
    return best;
}

/* FTFY mode: one stretch of raw text between added tokens. */
static lcmd_status encode_segment_ftfy(lcmd_tokenizer *t, const char *s, size_t len, size_t limit)
{
    int r = tok_ftfy_clean(t, s, len, &t->norm);
    if (r == -1) return LCMD_ERR_OUT_OF_MEMORY;
    if (r != 0) return LCMD_ERR_INTERNAL;
    if (pretokenize_slow(t, t->norm.v, t->norm.n, limit) != 0) return LCMD_ERR_OUT_OF_MEMORY;
    return LCMD_OK;
}

/* One stretch of raw text between raw-matched added tokens. */
static lcmd_status encode_segment(lcmd_tokenizer *t, const char *s, size_t len, size_t limit)
{
    if (len == 0 || t->out.n >= limit) return LCMD_OK;
    if (t->cleanup == LCMD_TEXT_CLEANUP_FTFY) return encode_segment_ftfy(t, s, len, limit);
    int r = tok_normalize(t, s, len, &t->norm);
    if (r == -1) return LCMD_ERR_OUT_OF_MEMORY;
    if (r != 0) return LCMD_ERR_INTERNAL;
    const int32_t *cps = t->norm.v;
    size_t n = t->norm.n, start = 0, i = 0;
    while (i < n && t->out.n < limit) {
        const tok_added *a = match_added_cps(t, cps + i, n - i);
        if (!a) { i++; continue; }
        if (pretokenize(t, cps + start, i - start, limit) != 0) return LCMD_ERR_OUT_OF_MEMORY;
        if (t->out.n >= limit) return LCMD_OK;
        if (tok_ids_push(&t->out, a->id) != 0) return LCMD_ERR_OUT_OF_MEMORY;
        i += a->match_n;
        start = i;
    }
    if (start < n && pretokenize(t, cps + start, n - start, limit) != 0) return LCMD_ERR_OUT_OF_MEMORY;
    return LCMD_OK;
}

lcmd_status tok_encode_text(lcmd_tokenizer *t, const char *s, size_t len, size_t limit)
{
    if (tok_utf8_repair(s, len, &t->clean) != 0) return LCMD_ERR_OUT_OF_MEMORY;
    const char *c = t->clean.v;
    size_t n = t->clean.n, start = 0, i = 0;
    int any_raw = t->cleanup == LCMD_TEXT_CLEANUP_FTFY && t->n_added > 0;
    for (size_t k = 0; k < t->n_added; k++) any_raw |= !t->added[k].normalized;
    while (any_raw && i < n && t->out.n < limit) {
        const tok_added *a = match_added_raw(t, c + i, n - i);
        if (!a) { i++; continue; }
        TRY_STATUS(encode_segment(t, c + start, i - start, limit));
        if (t->out.n >= limit) return LCMD_OK;
        if (tok_ids_push(&t->out, a->id) != 0) return LCMD_ERR_OUT_OF_MEMORY;
        i += a->content_len;
        start = i;
    }
    if (start < n) TRY_STATUS(encode_segment(t, c + start, n - start, limit));
    return LCMD_OK;
}
