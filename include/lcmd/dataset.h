/* liblcmd: the WebDataset data path — tar shards of samples to batches of images in
 * [-1, 1] and UTF-8 captions, as the LCM distillation scripts feed their training loop
 * (spec section 10), made reproducible and robust.
 *
 * Shards. `lcmd_dataset_options.shards` is a list of specs separated by `::`; each spec
 * is brace-expanded (`data/{00000..01099}.tar`: zero padding kept, several braces
 * multiply out) and then names
 *  - a local file: a tar, optionally compressed (gzip, zstd, bzip2, xz: detected from
 *    the bytes, not the name);
 *  - a local directory: every `*.tar`, `*.tar.gz`, `*.tgz`, `*.tar.zst` in it, in
 *    byte-wise name order (not recursive);
 *  - `pipe:COMMAND`: the standard output of a shell command (popen); a command that
 *    exits non-zero is reported (warning, with the exit status) like a read error.
 * Shards are streamed member by member; a shard is never loaded whole. A shard that
 * cannot be opened or read is logged, counted and skipped; lcmd_dataset_next fails
 * with LCMD_ERR_IO only when the stream ends without any shard having been read.
 *
 * Samples. Members are grouped as the reference groups them: key = the member's path
 * up to the first `.` of its last component (a folder belongs to the key), extension =
 * the rest, lower-cased; members without a dot in the basename and members whose
 * first path component is `__*__` are ignored; a new sample starts when the key changes or an
 * extension repeats. The image is the first present of `jpg`, `png`, `jpeg`, `webp`;
 * the caption the first of `text`, `txt`, `caption` (all decoded as UTF-8); `json`
 * is parsed for width / height / pwatermark. Samples without an image or a caption,
 * whose image does not decode, exceeds the pixel cap, or whose caption is not valid
 * UTF-8 (or holds a NUL) are skipped, counted in lcmd_dataset_stats by reason, and
 * logged at WARN (rate-limited: the first 10 per reason, then every 1000th).
 *
 * Images are decoded from their bytes (JPEG with libjpeg-turbo, WebP with libwebp,
 * PNG and others with stb_image) to the 8-bit RGB of PIL's open + convert("RGB"):
 * JPEG pixels identical to PIL's (grey, CMYK with PIL's plain inverted-CMYK formula),
 * grey replicated, alpha dropped without compositing, palettes expanded; 16-bit grey
 * PNG is scaled to 8 bits (v >> 8, where PIL clips at 255; see docs/differences.md).
 * EXIF orientation is ignored unless apply_exif_orientation is set. Then: the shorter
 * side is resized to `resolution` (long side int(R * long / short), truncated) with a
 * bilinear filter bit-identical to Pillow's Image.resize(BILINEAR) (antialiased, 8-bit
 * rounding between the passes, Pillow's pass order; an image already of that size is
 * not resampled), cropped
 * R x R (random: top and left uniform, from Philox; or centred as torchvision's
 * CenterCrop), optionally flipped horizontally (probability 1/2), and scaled as
 * (u / 255 - 0.5) / 0.5.
 *
 * Order and reproducibility. The shards of this rank are those at index i with
 * i % world_size == rank (after expansion, before shuffling). Worker k of
 * `num_workers` reads the shards at positions j % num_workers == k of each epoch's
 * order (shuffled per epoch from (seed, epoch) when shuffle_shards is set), keeps its
 * own shuffle buffer, crops and batches its own samples (partial batches dropped), and
 * lcmd_dataset_next returns the workers' batches round-robin. Every random choice
 * comes from Philox keyed by (seed, rank, worker, counter), so the same options give
 * the same batches whatever the thread timing. In `resampled` mode each worker draws
 * shards uniformly with replacement, forever.
 *
 * Threads. With num_workers >= 1 each worker runs on its own thread and keeps at most
 * `prefetch` finished batches; memory is bounded by the shuffle buffers (encoded
 * bytes of at most shuffle_buffer samples per worker, members above max_member_bytes
 * skipped) plus prefetch batches per worker. num_workers = 0 runs the single worker
 * inline in lcmd_dataset_next (same batches as num_workers = 1). A dataset handle must
 * be used from one thread at a time. */
#ifndef LCMD_DATASET_H
#define LCMD_DATASET_H

#include <stddef.h>
#include <stdint.h>
#include <lcmd/lcmd_export.h>
#include <lcmd/status.h>
#include <lcmd/context.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Opaque stream of batches over WebDataset shards. */
typedef struct lcmd_dataset lcmd_dataset;
/** Opaque batch owned by the caller (lcmd_batch_destroy). */
typedef struct lcmd_batch lcmd_batch;

/** How the R x R window is chosen after the resize. */
typedef enum lcmd_crop_mode {
    LCMD_CROP_RANDOM = 0,  /**< top, left uniform (the reference; default) */
    LCMD_CROP_CENTER = 1   /**< torchvision CenterCrop: round((H - R) / 2), half to even */
} lcmd_crop_mode;

/** Options of lcmd_dataset_create. Fill with lcmd_dataset_options_init() first, then
 *  change fields. Fields are only ever appended in later versions. */
typedef struct lcmd_dataset_options {
    uint32_t struct_size;        /**< sizeof(lcmd_dataset_options), set by _init */
    const char *shards;          /**< shard specs (see top of file); copied; required */
    int32_t resolution;          /**< R, output images R x R (default 512; 1..16384) */
    int32_t batch_size;          /**< images per batch (default 8; >= 1) */
    uint64_t seed;               /**< seed of every random choice (default 0) */
    int32_t shuffle_buffer;      /**< samples per worker's shuffle buffer (default 1000; 0 or 1 = no shuffle) */
    int32_t shuffle_initial;     /**< samples buffered before the first is emitted (default 100) */
    int32_t shuffle_shards;      /**< 1: shuffle the shard order each epoch (default 1) */
    int32_t resampled;           /**< 1: draw shards with replacement, endless stream (default 0) */
    int32_t epochs;              /**< passes over the shards when not resampled (default 1; >= 1) */
    int32_t rank;                /**< this process's rank (default 0) */
    int32_t world_size;          /**< processes sharing the shards (default 1) */
    int32_t num_workers;         /**< worker threads (default 0: inline) */
    int32_t prefetch;            /**< finished batches kept per worker (default 2; >= 1) */
    int32_t crop;                /**< an lcmd_crop_mode (default LCMD_CROP_RANDOM) */
    int32_t random_flip;         /**< 1: flip horizontally with probability 1/2 (default 0) */
    int64_t max_pixels;          /**< decoded images above width*height are skipped (default 64 Mpx) */
    int64_t max_member_bytes;    /**< tar members larger than this are skipped (default 256 MiB) */
    int32_t min_json_width;      /**< > 0: keep only samples whose json width >= this (default 0) */
    int32_t min_json_height;     /**< > 0: keep only samples whose json height >= this (default 0) */
    double max_pwatermark;       /**< <= 1: keep only json pwatermark <= this, missing = 0 (default 2: off) */
    int32_t apply_exif_orientation; /**< 1: rotate/mirror images by their EXIF orientation, as PIL's
                                      *  ImageOps.exif_transpose (default 0: pixels as stored, as the reference) */
} lcmd_dataset_options;

/** Counters of a dataset stream, summed over its workers (work done so far, which may
 *  run ahead of the batches returned by up to prefetch batches per worker). */
typedef struct lcmd_dataset_stats {
    uint32_t struct_size;        /**< set by the caller: sizeof(lcmd_dataset_stats) */
    uint64_t shards_opened;      /**< shards opened (each epoch or draw counts) */
    uint64_t shards_failed;      /**< shards that could not be opened, or a pipe that failed */
    uint64_t truncated_shards;   /**< shards that ended in a read error (cut or corrupt tar) */
    uint64_t samples_read;       /**< grouped samples seen (before any skip) */
    uint64_t samples_used;       /**< samples that went into a batch or a dropped partial batch */
    uint64_t batches;            /**< batches produced */
    uint64_t skipped_no_image;   /**< no jpg/png/jpeg/webp member */
    uint64_t skipped_no_caption; /**< no text/txt/caption member */
    uint64_t skipped_decode;     /**< image bytes that do not decode (empty, truncated, unknown) */
    uint64_t skipped_too_large;  /**< image above max_pixels, or member above max_member_bytes */
    uint64_t skipped_bad_utf8;   /**< caption not valid UTF-8 or holding a NUL */
    uint64_t skipped_filtered;   /**< rejected by the json filters (also: json missing or malformed) */
    uint64_t dropped_partial;    /**< samples lost in partial batches at the end of a worker's stream */
} lcmd_dataset_stats;

/** Fills `opts` with the defaults listed in lcmd_dataset_options and sets struct_size.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT for NULL. */
LCMD_API lcmd_status lcmd_dataset_options_init(lcmd_dataset_options *opts);

/** Creates a stream over opts->shards. The spec is expanded now: an empty expansion, a
 *  malformed brace, a directory without shards, or a list whose local files are all
 *  missing fails (pipes are only run by lcmd_dataset_next). Worker threads start here.
 *  `ctx` (log, nothing else) must outlive the dataset. On failure *out is NULL.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL ctx/opts/out/shards, bad struct_size, a
 *  value out of range, rank >= world_size, fewer shards than ranks give this rank
 *  none); LCMD_ERR_FORMAT (bad brace expression, naming it); LCMD_ERR_IO (a directory
 *  that cannot be listed or holds no shard, every local shard missing);
 *  LCMD_ERR_OUT_OF_MEMORY. */
LCMD_API lcmd_status lcmd_dataset_create(lcmd_context *ctx, const lcmd_dataset_options *opts,
                                         lcmd_dataset **out);

/** Returns the next batch in *out (caller owns it: lcmd_batch_destroy).
 *  LCMD_END_OF_STREAM (and *out NULL) when every worker has finished its epochs; then
 *  again on every later call. LCMD_ERR_IO when the stream ended and no shard could be
 *  read at all (message names the first failing shard); LCMD_ERR_OUT_OF_MEMORY.
 *  LCMD_ERR_INVALID_ARGUMENT for NULL arguments. */
LCMD_API lcmd_status lcmd_dataset_next(lcmd_dataset *ds, lcmd_batch **out);

/** Discards the next n batches, exactly those lcmd_dataset_next would return, so that
 *  a stream made with the same options continues where an earlier one stood (resume:
 *  n = the micro-steps of the checkpoint, lcmd_trainer_progress). Their images are
 *  decoded and transformed as usual (the workers' random streams must advance), so a
 *  skip costs what reading those batches costs. *skipped (may be NULL) receives the
 *  batches discarded. Returns LCMD_OK, or LCMD_END_OF_STREAM when the stream ended
 *  first (*skipped then says where), or the errors of lcmd_dataset_next.
 *  Errors: LCMD_ERR_INVALID_ARGUMENT (NULL ds, n < 0). */
LCMD_API lcmd_status lcmd_dataset_skip(lcmd_dataset *ds, int64_t n, int64_t *skipped);

/** Copies the counters into `stats` (stats->struct_size must be set by the caller;
 *  fields beyond it are not written). Errors: LCMD_ERR_INVALID_ARGUMENT. */
LCMD_API lcmd_status lcmd_dataset_get_stats(const lcmd_dataset *ds, lcmd_dataset_stats *stats);

/** Stops the workers and frees the dataset. NULL is a no-op. */
LCMD_API void lcmd_dataset_destroy(lcmd_dataset *ds);

/** Number of samples in the batch (the batch size); 0 for NULL. */
LCMD_API int32_t lcmd_batch_size(const lcmd_batch *b);

/** Image side R (images are R x R); 0 for NULL. */
LCMD_API int32_t lcmd_batch_resolution(const lcmd_batch *b);

/** Images, host float32 NCHW (N = batch size, C = 3 RGB, H = W = R), values in [-1, 1];
 *  owned by the batch. NULL for NULL. */
LCMD_API const float *lcmd_batch_images(const lcmd_batch *b);

/** Caption `i` (UTF-8, NUL-terminated, owned by the batch); NULL if out of range. */
LCMD_API const char *lcmd_batch_caption(const lcmd_batch *b, int32_t i);

/** Sample key `i` (`__key__`: the member path up to the first dot of its basename);
 *  NULL if out of range. */
LCMD_API const char *lcmd_batch_key(const lcmd_batch *b, int32_t i);

/** Original size of sample `i` as the SDXL script's orig_size: json `width` and
 *  `height` when both are present integers, else (R, R). Errors: INVALID_ARGUMENT. */
LCMD_API lcmd_status lcmd_batch_original_size(const lcmd_batch *b, int32_t i, int32_t *width,
                                              int32_t *height);

/** Crop offsets (top, left) of sample `i` in the resized image (SDXL crop_coords), and
 *  whether it was flipped. Any of the outputs may be NULL. Errors: INVALID_ARGUMENT. */
LCMD_API lcmd_status lcmd_batch_crop(const lcmd_batch *b, int32_t i, int32_t *top, int32_t *left,
                                     int32_t *flipped);

/** Frees a batch. NULL is a no-op. */
LCMD_API void lcmd_batch_destroy(lcmd_batch *b);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_DATASET_H */
