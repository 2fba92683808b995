/* liblcmd: text side of Stable Diffusion — the CLIP tokenizer (this section) and,
 * in a later section, the CLIP text encoder.
 *
 * ==== Tokenizer ============================================================
 *
 * lcmd_tokenizer is the CLIP byte-level BPE tokenizer of a diffusers `tokenizer/`
 * (or `tokenizer_2/`) folder, called as the LCM distillation script calls it:
 * `tok(captions, max_length=tok.model_max_length, padding="max_length",
 * truncation=True)`. Which reference its ids are identical to depends on the cleanup
 * mode chosen at load time (lcmd_tokenizer_options.cleanup):
 *
 * LCMD_TEXT_CLEANUP_FTFY (the default): the "slow" `CLIPTokenizer` of transformers 4.x
 * (pinned: 4.57.6) with ftfy installed (6.3.1), which diffusers' training scripts load
 * with `use_fast=False`. In order:
 *  1. bytes that are not well-formed UTF-8 are replaced by U+FFFD, one per maximal
 *     ill-formed subpart, exactly as Python's `bytes.decode("utf-8", errors="replace")`;
 *  2. every added token (bos, eos, unk, pad, added_tokens_decoder; SD 2.x / SDXL
 *     tokenizer_2: also the pad token `!`) is cut out of the raw text, leftmost-longest,
 *     case-sensitively, and becomes its own id;
 *  3. each remaining piece is cleaned as `whitespace_clean(ftfy.fix_text(piece)).lower()`:
 *     ftfy's default fixes except its mojibake repair — HTML entities (`&amp;` -> `&`,
 *     only on lines up to the first one holding a `<`), C1 controls as Windows-1252,
 *     Latin ligatures, full/halfwidth forms, curly quotes, line breaks, terminal escapes,
 *     control characters, NFC, repeated until nothing changes —, then every run of
 *     White_Space to one space, the ends stripped, and Python's `str.lower()` (full
 *     lower case with the final-sigma rule: `ΟΔΟΣ` -> `οδος` with a final `ς`);
 *  4. the CLIP pattern (below) with the `regex` module's IGNORECASE; `<|startoftext|>`
 *     and `<|endoftext|>` found there are one token each;
 *  5. byte-level BPE as below.
 *
 * LCMD_TEXT_CLEANUP_MINIMAL: transformers 5.x's `CLIPTokenizer` (pinned: 5.17), which
 * runs the `tokenizers` pipeline and does no ftfy or HTML cleanup:
 *  1. UTF-8 repair as above;
 *  2. added tokens whose `normalized` flag is false (SD 1.x: `<|endoftext|>`;
 *     SD 2.x / SDXL tokenizer_2: also the pad token `!`) are cut out of the raw text,
 *     leftmost-longest, and become their own ids;
 *  3. each remaining stretch is normalised: Unicode NFC, every run of White_Space
 *     characters to one space, per-character full lower-casing (no final sigma);
 *  4. added tokens whose `normalized` flag is true (SD 1.x: `<|startoftext|>`) are
 *     cut out of the normalised text;
 *  5. the CLIP pattern splits the rest into words (the two special-looking
 *     alternatives are split again into `<|`, the word, `|>` by the byte-level
 *     pre-tokeniser);
 *  6. byte-level BPE as below.
 *
 * The CLIP pattern: `<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`,
 * whitespace dropped. BPE: each word's UTF-8 bytes are mapped to the byte-to-unicode
 * alphabet, the last symbol takes the `</w>` suffix, and the merges of merges.txt are
 * applied by rank.
 *
 * Unicode properties (letters, numbers, lower case, NFC) come from utf8proc; the inputs
 * on which liblcmd can differ from either reference (characters assigned after
 * utf8proc's Unicode version; in FTFY mode, mojibake that ftfy would repair) are listed
 * in docs/differences.md, section "Tokenizer".
 *
 * A tokenizer handle keeps a cache of recent words and scratch buffers, so one handle
 * must not be used by two threads at once (load one per thread; loading takes a few
 * tens of ms). */
#ifndef LCMD_TEXT_H
#define LCMD_TEXT_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>
#include <lcmd/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque CLIP tokenizer: vocabulary, merge ranks, special tokens, word cache. */
typedef struct lcmd_tokenizer lcmd_tokenizer;

/** How lcmd_tokenizer_load_with_options cleans caption text (see the top of this file). */
typedef enum lcmd_text_cleanup {
    LCMD_TEXT_CLEANUP_FTFY = 0,    /**< transformers 4.x slow CLIPTokenizer + ftfy (default) */
    LCMD_TEXT_CLEANUP_MINIMAL = 1  /**< transformers 5.x CLIPTokenizer (`tokenizers`): no ftfy */
} lcmd_text_cleanup;

/** Options of lcmd_tokenizer_load_with_options. Fill with lcmd_tokenizer_options_init()
 *  first, then change fields. Fields are only ever appended in later versions. */
typedef struct lcmd_tokenizer_options {
    uint32_t struct_size;  /**< sizeof(lcmd_tokenizer_options), set by _init */
    int32_t cleanup;       /**< an lcmd_text_cleanup; default LCMD_TEXT_CLEANUP_FTFY */
} lcmd_tokenizer_options;

/** Fills `opts` with the defaults (cleanup LCMD_TEXT_CLEANUP_FTFY) and sets struct_size.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT for NULL. */
LCMD_API lcmd_status lcmd_tokenizer_options_init(lcmd_tokenizer_options *opts);

/** Loads a diffusers tokenizer folder with the default options (FTFY cleanup); the same
 *  as lcmd_tokenizer_load_with_options(ctx, folder, NULL, out). */
LCMD_API lcmd_status lcmd_tokenizer_load(lcmd_context *ctx, const char *folder, lcmd_tokenizer **out);

/** Loads a diffusers tokenizer folder:
 *  - `vocab.json` (required): a JSON object token -> id, ids unique in [0, 2^31-1);
 *    it must hold the 256 byte symbols and their `</w>` forms;
 *  - `merges.txt` (required): one merge `a b` per line (exactly one space), lines
 *    starting with `#version` skipped, CRLF accepted; `a`, `b` and `ab` must all be
 *    in vocab.json; a pair listed twice takes the rank of its last line;
 *  - `tokenizer_config.json` (required): `model_max_length` (integer, 2..1048576), and
 *    optionally the named tokens `bos_token`, `eos_token`, `unk_token`, `pad_token`
 *    (a string, or an object with `content` and the flags `normalized`, `lstrip`,
 *    `rstrip`, `single_word`) and `added_tokens_decoder`;
 *  - `special_tokens_map.json` (optional): named tokens, overriding the config's.
 *  Named tokens default to `<|startoftext|>` (bos) and `<|endoftext|>` (eos, unk,
 *  pad); a token given as a plain string is not normalised (`normalized` false), and
 *  when several named tokens share a content, their flags are resolved as
 *  transformers 5.17 resolves them (see docs/differences.md; the flags matter only in
 *  MINIMAL mode). Every added token's content must be in vocab.json.
 *  `opts` may be NULL for the defaults; its struct_size must be at least the size of
 *  the first version of the struct and at most the size this library knows.
 *  `ctx` must outlive the tokenizer. On success *out owns a new tokenizer
 *  (lcmd_tokenizer_destroy); on failure *out is NULL.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL ctx, folder or out; bad opts.struct_size;
 *  opts.cleanup not an lcmd_text_cleanup); LCMD_ERR_IO (a
 *  required file missing or unreadable, naming it); LCMD_ERR_FORMAT (malformed JSON,
 *  a merges.txt line that is not `a b` or names a token vocab.json lacks — the message
 *  gives file and line —, duplicate or out-of-range ids, a byte symbol missing, a
 *  missing or out-of-range model_max_length, a special token that is not a string or
 *  object or is not in the vocabulary); LCMD_ERR_UNSUPPORTED (an added token with
 *  `lstrip`, `rstrip` or `single_word` true); LCMD_ERR_OUT_OF_MEMORY. */
LCMD_API lcmd_status lcmd_tokenizer_load_with_options(lcmd_context *ctx, const char *folder,
                                                      const lcmd_tokenizer_options *opts,
                                                      lcmd_tokenizer **out);

/** Frees the tokenizer. NULL is a no-op. */
LCMD_API void lcmd_tokenizer_destroy(lcmd_tokenizer *tok);

/** Tokenises one caption of `len` bytes (any bytes: it need not be NUL-terminated and
 *  may hold NUL; ill-formed UTF-8 is replaced as described above; in FTFY mode NUL and
 *  the other C0 controls but tab, line feed, form feed and carriage return are removed) into
 *  `[bos] + tokens + [eos]`, without truncation or padding — what the reference's
 *  `tok(caption).input_ids` gives. Writes the first min(n, max_ids) ids to `ids` and
 *  the full count n (always >= 2) to *n_out; the caller checks *n_out <= max_ids
 *  (`ids` may be NULL when max_ids is 0, to ask for the size). `utf8` may be NULL
 *  when len is 0.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL tok or n_out, NULL utf8 with len > 0,
 *  NULL ids with max_ids > 0); LCMD_ERR_OUT_OF_MEMORY. On error *n_out is 0. */
LCMD_API lcmd_status lcmd_tokenizer_encode(lcmd_tokenizer *tok, const char *utf8, size_t len,
                                           int32_t *ids, size_t max_ids, size_t *n_out);

/** Tokenises `n` NUL-terminated captions into `ids`, a row-major [n, model_max_length]
 *  array, as the training script does: each row is bos, the caption's tokens cut to
 *  model_max_length - 2, eos, then the pad id up to model_max_length. Only the part of
 *  a long caption that can reach the row is split and BPE-encoded, so megabyte captions
 *  are cheap (in FTFY mode the cleanup still reads the whole caption: linear time).
 *  n == 0 is a no-op (captions and ids may then be NULL).
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL tok, captions or ids with n > 0, a NULL
 *  caption — naming its index); LCMD_ERR_OUT_OF_MEMORY. On error the content of
 *  `ids` is unspecified. */
LCMD_API lcmd_status lcmd_tokenizer_encode_padded(lcmd_tokenizer *tok, const char *const *captions,
                                                  size_t n, int32_t *ids);

/** The config's model_max_length (77 for every SD tokenizer); 0 for NULL. */
LCMD_API size_t lcmd_tokenizer_model_max_length(const lcmd_tokenizer *tok);
/** Id of the begin token (49406 for the CLIP vocabulary); -1 for NULL. */
LCMD_API int32_t lcmd_tokenizer_bos_id(const lcmd_tokenizer *tok);
/** Id of the end token (49407 for the CLIP vocabulary); -1 for NULL. */
LCMD_API int32_t lcmd_tokenizer_eos_id(const lcmd_tokenizer *tok);
/** Id of the pad token (SD 1.x: 49407 `<|endoftext|>`; SD 2.x and SDXL tokenizer_2:
 *  0 `!`); -1 for NULL. */
LCMD_API int32_t lcmd_tokenizer_pad_id(const lcmd_tokenizer *tok);
/** The tokenizer's cleanup mode (an lcmd_text_cleanup); -1 for NULL. */
LCMD_API int32_t lcmd_tokenizer_cleanup(const lcmd_tokenizer *tok);
/** Number of entries of vocab.json (49408 for CLIP); 0 for NULL. */
LCMD_API size_t lcmd_tokenizer_vocab_size(const lcmd_tokenizer *tok);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_TEXT_H */
