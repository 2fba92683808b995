/* The text cleanup of LCMD_TEXT_CLEANUP_FTFY: what the slow CLIPTokenizer of
 * transformers 4.x does to each piece of a caption before the CLIP pattern,
 * `whitespace_clean(ftfy.fix_text(piece)).lower()`, with ftfy 6's default settings less
 * its mojibake repair (`fix_encoding`, a heuristic; see docs/differences.md).
 *
 * ftfy.fix_text cuts the text into lines (each ending after its '\n', at most 10^6 code
 * points), and fixes each line on its own by applying, until the line no longer changes:
 * unescape_html (only while no line so far held a '<'), fix_c1_controls,
 * fix_latin_ligatures, fix_character_width, uncurl_quotes, fix_line_breaks,
 * remove_terminal_escapes, remove_control_chars, NFC. Then `\s+` runs become one
 * space, the ends are stripped, and Python's str.lower() (full mapping, final sigma)
 * lower-cases. The tables come from tests/reference/gen_html_entities.py. */
#include "text/tokenizer_internal.h"

#include <string.h>
#include <utf8proc.h>

#include "text/html_entities.inc"
#include "text/ftfy_tables.inc"

#define FTFY_MAX_SEGMENT 1000000u   /* ftfy's max_decode_length (code points) */
#define FTFY_MAX_PASSES 64          /* see docs/differences.md: deeper nesting is not unwound */

#define NELEM(a) (sizeof(a) / sizeof *(a))

/* ---- small helpers ------------------------------------------------------------------ */

static int push(tok_cps *a, int32_t c)
{
    if (a->n == a->cap && tok_cps_reserve(a, a->n + 1) != 0) return -1;
    a->v[a->n++] = c;
    return 0;
}

/* Appends the code points of a (valid, table-made) UTF-8 string. */
static int push_utf8(tok_cps *a, const char *s)
{
    const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
    size_t len = strlen(s), i = 0;
    while (i < len) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) return -1;
        if (push(a, c) != 0) return -1;
        i += (size_t)k;
    }
    return 0;
}

static int in_ranges(const int32_t (*r)[2], size_t n, int32_t c)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (c < r[mid][0]) hi = mid;
        else if (c > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

static int is_ascii_alnum(int32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_hex(int32_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
}

static int hex_val(int32_t c)
{
    return c <= '9' ? c - '0' : c <= 'F' ? c - 'A' + 10 : c - 'a' + 10;
}

/* ---- unescape_html ----------------------------------------------------------------- */

static const char *entity_lookup(const char *name)
{
    size_t lo = 0, hi = NELEM(tok_html_entities);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(name, tok_html_entities[mid].name);
        if (r == 0) return tok_html_entities[mid].value;
        if (r < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

/* html.unescape of "&#<ref>;" where the whole reference is numeric: the code point it
 * gives, -1 for nothing (an "invalid code point"). */
static int32_t charref_value(const int32_t *d, size_t n, int hex)
{
    uint32_t num = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t v = (uint32_t)(hex ? hex_val(d[i]) : d[i] - '0');
        num = num > 0x110000u ? 0x110001u : num * (hex ? 16u : 10u) + v;   /* saturates above U+10FFFF */
    }
    for (size_t i = 0; i < NELEM(tok_html_charrefs); i++)
        if ((uint32_t)tok_html_charrefs[i].num == num) return tok_html_charrefs[i].cp;
    if ((num >= 0xD800 && num <= 0xDFFF) || num > 0x10FFFF) return 0xFFFD;
    if (in_ranges(tok_html_invalid_cps, NELEM(tok_html_invalid_cps), (int32_t)num)) return -1;
    return (int32_t)num;
}

/* ftfy's unescape_html: `&#?[0-9A-Za-z]{1,24};` replaced by its entity (named: the
 * HTML5 table with ftfy's upper-case additions; numeric: html.unescape's value, kept as
 * is when that value would still hold a ';'). Returns 1 changed, 0 not, -1 OOM. */
static int unescape_html(const int32_t *s, size_t n, tok_cps *o)
{
    int changed = 0;
    o->n = 0;
    for (size_t i = 0; i < n;) {
        if (s[i] == '&') {
            size_t j = i + 1;
            int hash = j < n && s[j] == '#';
            if (hash) j++;
            size_t k = j;
            while (k < n && k - j <= 24 && is_ascii_alnum(s[k])) k++;
            size_t len = k - j;
            if (len >= 1 && len <= 24 && k < n && s[k] == ';') {
                if (!hash) {
                    char name[32];
                    for (size_t m = 0; m < len; m++) name[m] = (char)s[j + m];
                    name[len] = 0;
                    const char *v = entity_lookup(name);
                    if (v) {
                        if (push_utf8(o, v) != 0) return -1;
                        i = k + 1;
                        changed = 1;
                        continue;
                    }
                } else {
                    int dec = 1, hex = s[j] == 'x' || s[j] == 'X';
                    for (size_t m = j; m < k; m++) dec &= s[m] >= '0' && s[m] <= '9';
                    for (size_t m = j + 1; m < k && hex; m++) hex &= is_hex(s[m]);
                    hex &= len >= 2;
                    if (dec || hex) {
                        int32_t v = dec ? charref_value(s + j, len, 0) : charref_value(s + j + 1, len - 1, 1);
                        if (v != ';') {
                            if (v >= 0 && push(o, v) != 0) return -1;
                            i = k + 1;
                            changed = 1;
                            continue;
                        }
                    }
                }
            }
        }
        if (push(o, s[i]) != 0) return -1;
        i++;
    }
    return changed;
}

/* ---- the character maps: fix_c1_controls, fix_latin_ligatures, fix_character_width,
 *      uncurl_quotes (each maps one character to a string; applied in that order) ---------- */

static int map_uncurl(tok_cps *o, int32_t c)
{
    if (c == 0x2BC || (c >= 0x2018 && c <= 0x201B)) c = '\'';
    else if (c >= 0x201C && c <= 0x201F) c = '"';
    return push(o, c);
}

static int map_width(tok_cps *o, int32_t c)
{
    const char *v = NULL;
    if (c == 0x3000) v = " ";
    else if (c >= 0xFF00 && c < 0xFFF0) v = tok_width_map[c - 0xFF00];
    if (!v) return map_uncurl(o, c);
    const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)v;
    size_t len = strlen(v), i = 0;
    while (i < len) {
        utf8proc_int32_t x;
        utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &x);
        if (k <= 0 || map_uncurl(o, x) != 0) return -1;
        i += (size_t)k;
    }
    return 0;
}

static int map_ligature(tok_cps *o, int32_t c)
{
    if ((c >= 0x132 && c <= 0x1F3) || (c >= 0xFB00 && c <= 0xFB06)) {
        for (size_t i = 0; i < NELEM(tok_ligatures); i++) {
            if (tok_ligatures[i].cp != c) continue;
            const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)tok_ligatures[i].value;
            size_t len = strlen(tok_ligatures[i].value), p = 0;
            while (p < len) {
                utf8proc_int32_t x;
                utf8proc_ssize_t k = utf8proc_iterate(u + p, (utf8proc_ssize_t)(len - p), &x);
                if (k <= 0 || map_width(o, x) != 0) return -1;
                p += (size_t)k;
            }
            return 0;
        }
    }
    return map_width(o, c);
}

static int char_maps(const int32_t *s, size_t n, tok_cps *o)
{
    o->n = 0;
    if (tok_cps_reserve(o, n + 1) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        int32_t c = s[i];
        if (c >= 0x80 && c <= 0x9F) c = tok_c1_cp1252[c - 0x80];
        if (c < 0x80 ? push(o, c) != 0 : map_ligature(o, c) != 0) return -1;
    }
    return 0;
}

/* ---- fix_line_breaks, then remove_terminal_escapes and remove_control_chars -------------- */

static int line_breaks(const int32_t *s, size_t n, tok_cps *o)
{
    o->n = 0;
    if (tok_cps_reserve(o, n + 1) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        int32_t c = s[i];
        if (c == '\r') {
            if (i + 1 < n && s[i + 1] == '\n') continue;   /* "\r\n" -> "\n" */
            c = '\n';
        } else if (c == 0x2028 || c == 0x2029 || c == 0x85) {
            c = '\n';
        }
        o->v[o->n++] = c;
    }
    return 0;
}

static int is_decimal(int32_t c)
{
    if (c < 0x80) return c >= '0' && c <= '9';
    return utf8proc_category(c) == UTF8PROC_CATEGORY_ND;
}

static int is_removed_control(int32_t c)
{
    return (c >= 0 && c <= 0x08) || c == 0x0B || (c >= 0x0E && c <= 0x1F) || c == 0x7F ||
           (c >= 0x206A && c <= 0x206F) || c == 0xFEFF || (c >= 0xFFF9 && c <= 0xFFFC);
}

/* `\x1b\[(\d|;)*[a-zA-Z]` removed (\d: any decimal digit, as Python's re), then ftfy's
 * control characters. */
static int escapes_controls(const int32_t *s, size_t n, tok_cps *o)
{
    o->n = 0;
    if (tok_cps_reserve(o, n + 1) != 0) return -1;
    for (size_t i = 0; i < n; i++) {
        int32_t c = s[i];
        if (c == 0x1B && i + 1 < n && s[i + 1] == '[') {
            size_t k = i + 2;
            while (k < n && (s[k] == ';' || is_decimal(s[k]))) k++;
            if (k < n && ((s[k] >= 'a' && s[k] <= 'z') || (s[k] >= 'A' && s[k] <= 'Z'))) {
                i = k;
                continue;
            }
        }
        if (!is_removed_control(c)) o->v[o->n++] = c;
    }
    return 0;
}

/* ---- NFC --------------------------------------------------------------------------------- */

static int nfc(lcmd_tokenizer *t, const int32_t *s, size_t n, tok_cps *o)
{
    o->n = 0;
    int simple = 1;   /* text below U+0300 is NFC already */
    for (size_t i = 0; i < n && simple; i++) simple = s[i] < 0x300;
    if (simple) {
        if (tok_cps_reserve(o, n + 1) != 0) return -1;
        if (n) memcpy(o->v, s, n * sizeof *s);
        o->n = n;
        return 0;
    }
    tok_bytes *u = &t->fx_u8;
    if (n > SIZE_MAX / 4 - 1 || tok_bytes_reserve(u, 4 * n + 1) != 0) return -1;
    size_t len = 0;
    for (size_t i = 0; i < n; i++) len += (size_t)utf8proc_encode_char(s[i], (utf8proc_uint8_t *)u->v + len);
    u->n = len;
    const utf8proc_option_t opt = (utf8proc_option_t)(UTF8PROC_STABLE | UTF8PROC_COMPOSE);
    tok_cps *tmp = &t->tmp;
    if (tok_cps_reserve(tmp, len + 1) != 0) return -1;
    utf8proc_ssize_t m = utf8proc_decompose((const utf8proc_uint8_t *)u->v, (utf8proc_ssize_t)len, tmp->v,
                                            (utf8proc_ssize_t)tmp->cap, opt);
    if (m < 0) return -2;
    if ((size_t)m > tmp->cap) {
        if (tok_cps_reserve(tmp, (size_t)m) != 0) return -1;
        m = utf8proc_decompose((const utf8proc_uint8_t *)u->v, (utf8proc_ssize_t)len, tmp->v,
                               (utf8proc_ssize_t)tmp->cap, opt);
        if (m < 0 || (size_t)m > tmp->cap) return -2;
    }
    m = utf8proc_normalize_utf32(tmp->v, m, opt);
    if (m < 0) return -2;
    if (tok_cps_reserve(o, (size_t)m + 1) != 0) return -1;
    if (m) memcpy(o->v, tmp->v, (size_t)m * sizeof *o->v);
    o->n = (size_t)m;
    return 0;
}

/* ---- fix_text ------------------------------------------------------------------------------ */

/* Fixes one line (fix_and_explain) and appends it to `out`. */
static int fix_line(lcmd_tokenizer *t, const int32_t *line, size_t n, int unescape, tok_cps *out)
{
    tok_cps *cur = &t->fx[0], *a = &t->fx[1], *b = &t->fx[2];
    cur->n = 0;
    if (tok_cps_reserve(cur, n + 1) != 0) return -1;
    if (n) memcpy(cur->v, line, n * sizeof *line);
    cur->n = n;
    for (int pass = 0; pass < FTFY_MAX_PASSES; pass++) {
        const int32_t *src = cur->v;
        size_t sn = cur->n;
        if (unescape) {
            int r = unescape_html(src, sn, a);
            if (r < 0) return -1;
            if (r > 0) {
                tok_cps *x = a; a = b; b = x;   /* result now in b */
                src = b->v;
                sn = b->n;
            }
        }
        int r;
        if ((r = char_maps(src, sn, a)) != 0) return r;
        if ((r = line_breaks(a->v, a->n, b)) != 0) return r;
        if ((r = escapes_controls(b->v, b->n, a)) != 0) return r;
        if ((r = nfc(t, a->v, a->n, b)) != 0) return r;
        int same = b->n == cur->n && (b->n == 0 || memcmp(b->v, cur->v, b->n * sizeof *b->v) == 0);
        tok_cps *x = cur; cur = b; b = x;
        if (same) break;
    }
    if (out->n > SIZE_MAX - cur->n - 1 || tok_cps_reserve(out, out->n + cur->n + 1) != 0) return -1;
    if (cur->n) memcpy(out->v + out->n, cur->v, cur->n * sizeof *cur->v);
    out->n += cur->n;
    return 0;
}

static int fix_text(lcmd_tokenizer *t, const int32_t *s, size_t n, tok_cps *out)
{
    out->n = 0;
    int unescape = 1;   /* "auto": off from the first line that holds a '<' on */
    size_t pos = 0;
    while (pos < n) {
        size_t end = pos;
        while (end < n && s[end] != '\n') end++;
        end = end < n ? end + 1 : n;
        if (end - pos > FTFY_MAX_SEGMENT) end = pos + FTFY_MAX_SEGMENT;
        for (size_t i = pos; i < end && unescape; i++)
            if (s[i] == '<') unescape = 0;
        int r = fix_line(t, s + pos, end - pos, unescape, out);
        if (r != 0) return r;
        pos = end;
    }
    return 0;
}

/* ---- whitespace_clean and str.lower ---------------------------------------------------------- */

static int is_cased(int32_t c)
{
    return in_ranges(tok_cased, NELEM(tok_cased), c);
}

static int is_case_ignorable(int32_t c)
{
    return in_ranges(tok_case_ignorable, NELEM(tok_case_ignorable), c);
}

/* Python's rule for U+03A3: final (ς) when a cased letter precedes it and none follows,
 * case-ignorable characters skipped on both sides. */
static int final_sigma(const int32_t *s, size_t n, size_t i)
{
    size_t j = i;
    while (j > 0 && is_case_ignorable(s[j - 1])) j--;
    if (j == 0 || !is_cased(s[j - 1])) return 0;
    size_t k = i + 1;
    while (k < n && is_case_ignorable(s[k])) k++;
    return k == n || !is_cased(s[k]);
}

int tok_ftfy_clean(lcmd_tokenizer *t, const char *s, size_t len, tok_cps *out)
{
    out->n = 0;
    /* the piece's code points (valid UTF-8: repaired before) */
    tok_cps *in = &t->fx[3];
    in->n = 0;
    if (len == SIZE_MAX || tok_cps_reserve(in, len + 1) != 0) return -1;
    const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s;
    for (size_t i = 0; i < len;) {
        utf8proc_int32_t c;
        utf8proc_ssize_t k = utf8proc_iterate(u + i, (utf8proc_ssize_t)(len - i), &c);
        if (k <= 0) return -2;
        in->v[in->n++] = c;
        i += (size_t)k;
    }
    tok_cps *fixed = &t->fx[4];
    int r = fix_text(t, in->v, in->n, fixed);
    if (r != 0) return r;
    /* whitespace_clean: `\s+` -> " ", then strip (only spaces can be at the ends now:
     * ftfy removed U+001C..U+001F, the other characters str.strip() would take) */
    in->n = 0;
    if (tok_cps_reserve(in, fixed->n + 1) != 0) return -1;
    for (size_t i = 0; i < fixed->n; i++) {
        int32_t c = fixed->v[i];
        if (tok_is_space(c)) {
            while (i + 1 < fixed->n && tok_is_space(fixed->v[i + 1])) i++;
            if (in->n == 0 || i + 1 == fixed->n) continue;   /* leading or trailing */
            c = ' ';
        }
        in->v[in->n++] = c;
    }
    /* str.lower(): ASCII, U+0130 -> "i\u0307", final sigma, else the simple mapping */
    size_t n = in->n;
    if (n > SIZE_MAX / 2 - 1 || tok_cps_reserve(out, 2 * n + 1) != 0) return -1;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t c = in->v[i];
        if (c < 0x80) {
            out->v[k++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        } else if (c == 0x130) {
            out->v[k++] = 'i';
            out->v[k++] = 0x307;
        } else if (c == 0x3A3) {
            out->v[k++] = final_sigma(in->v, n, i) ? 0x3C2 : 0x3C3;
        } else {
            out->v[k++] = utf8proc_tolower(c);
        }
    }
    out->n = k;
    return 0;
}
