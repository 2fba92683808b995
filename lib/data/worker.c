/* One worker's stream: shards -> members -> samples -> shuffle -> decode, transform
 * -> batches. Everything random comes from Philox keyed by (seed, stream, counter). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/philox.h"
#include "data/dataset_internal.h"
#include "data/decode.h"
#include "data/transform.h"

enum { STREAM_PERM = 1, STREAM_RESAMPLE = 2, STREAM_SHUFFLE = 3, STREAM_AUG = 4 };

static uint64_t stream_id(const lcmd_worker *w, int kind)
{
    return ((uint64_t)kind << 56) | ((uint64_t)(uint32_t)w->cfg->o.rank << 24) | (uint64_t)(uint32_t)w->index;
}

/* uniform in [0, n) */
static size_t draw_below(uint64_t seed, uint64_t stream, uint64_t ctr, size_t n)
{
    lcmd_u32x4 r = lcmd_rng_block(seed, stream, ctr);
    uint64_t x = ((uint64_t)r.v[0] << 32) | r.v[1];
    return (size_t)(x % (uint64_t)n);
}

typedef enum skip_reason { SKIP_NO_IMAGE, SKIP_NO_CAPTION, SKIP_DECODE, SKIP_TOO_LARGE, SKIP_UTF8, SKIP_FILTER } skip_reason;

static void skip(lcmd_worker *w, skip_reason why, const char *key, const char *detail)
{
    static const char *const names[] = { "no image", "no caption", "image does not decode", "too large",
                                         "caption is not valid UTF-8", "rejected by the json filter" };
    uint64_t n;
    pthread_mutex_lock(&w->mu);
    uint64_t *c = why == SKIP_NO_IMAGE ? &w->st.skipped_no_image
                : why == SKIP_NO_CAPTION ? &w->st.skipped_no_caption
                : why == SKIP_DECODE ? &w->st.skipped_decode
                : why == SKIP_TOO_LARGE ? &w->st.skipped_too_large
                : why == SKIP_UTF8 ? &w->st.skipped_bad_utf8
                : &w->st.skipped_filtered;
    n = ++*c;
    pthread_mutex_unlock(&w->mu);
    if (n <= 10 || n % 1000 == 0)
        lcmd_log(&w->cfg->log, LCMD_LOG_WARN, "dataset: %s: sample '%s' skipped: %s%s%s (%llu so far)",
                 w->shard_name ? w->shard_name : "?", key, names[why], detail ? ": " : "", detail ? detail : "",
                 (unsigned long long)n);
}

static void shard_failed(lcmd_worker *w, const char *name, const char *why)
{
    pthread_mutex_lock(&w->mu);
    w->st.shards_failed++;
    if (!w->first_fail[0] && snprintf(w->first_fail, sizeof w->first_fail, "shard '%s': %s", name, why) < 0)
        w->first_fail[0] = '\0'; /* (a long message is cut, on purpose) */
    pthread_mutex_unlock(&w->mu);
    lcmd_log(&w->cfg->log, LCMD_LOG_WARN, "dataset: shard '%s' skipped: %s", name, why);
}

lcmd_status lcmd_worker_init(lcmd_worker *w, const lcmd_data_cfg *cfg, int index, int count)
{
    memset(w, 0, sizeof *w);
    w->cfg = cfg;
    w->index = index;
    w->count = count;
    w->epoch = -1;
    w->st.struct_size = (uint32_t)sizeof w->st;
    size_t cap = cfg->o.shuffle_buffer > 1 ? (size_t)cfg->o.shuffle_buffer : 1;
    w->buf = calloc(cap, sizeof *w->buf);
    w->perm = malloc(cfg->n_shards * sizeof *w->perm);
    if (!w->buf || !w->perm) {
        free(w->buf);
        free(w->perm);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "dataset worker");
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    return LCMD_OK;
}

void lcmd_worker_free(lcmd_worker *w)
{
    char err[256];
    lcmd_shard_close(w->shard, err, sizeof err);
    w->shard = NULL;
    lcmd_grouper_free(&w->grp);
    for (size_t i = 0; i < w->nbuf; i++)
        lcmd_raw_sample_free(w->buf[i]);
    free(w->buf);
    free(w->perm);
    for (int i = 0; i < w->qn; i++)
        lcmd_batch_destroy(w->queue[(w->qhead + i) % w->qcap]);
    free(w->queue);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
}

/* Picks the next shard index; 0 when the worker's shards are exhausted. */
static int next_shard_index(lcmd_worker *w, size_t *idx)
{
    const lcmd_data_cfg *c = w->cfg;
    size_t n = c->n_shards;
    if (c->o.resampled) {
        uint64_t limit = n * 4 > 100 ? n * 4 : 100;
        if (w->empty_in_row >= limit) {
            lcmd_log(&c->log, LCMD_LOG_ERROR, "dataset: worker %d: %llu shards in a row gave no sample; stopping",
                     w->index, (unsigned long long)w->empty_in_row);
            return 0;
        }
        *idx = draw_below(c->o.seed, stream_id(w, STREAM_RESAMPLE), w->draws++, n);
        return 1;
    }
    for (;;) {
        if (w->epoch < 0 || w->pos >= n) {
            w->epoch++;
            if (w->epoch >= c->o.epochs)
                return 0;
            for (size_t i = 0; i < n; i++)
                w->perm[i] = i;
            if (c->o.shuffle_shards)
                for (size_t i = n; i > 1; i--) {
                    uint64_t ctr = ((uint64_t)w->epoch << 32) | (uint64_t)i;
                    size_t j = draw_below(c->o.seed, ((uint64_t)STREAM_PERM << 56) | ((uint64_t)(uint32_t)c->o.rank << 24),
                                          ctr, i);
                    size_t t = w->perm[i - 1];
                    w->perm[i - 1] = w->perm[j];
                    w->perm[j] = t;
                }
            w->pos = (size_t)w->index;
            if (w->pos >= n)
                continue;  /* more workers than shards: this one has none this epoch */
        }
        *idx = w->perm[w->pos];
        w->pos += (size_t)w->count;
        return 1;
    }
}

/* Ends the current shard: closes it, reports a failed pipe, counts. */
static void end_shard(lcmd_worker *w)
{
    char err[256] = "";
    if (lcmd_shard_close(w->shard, err, sizeof err) != 0)
        shard_failed(w, w->shard_name, err);
    w->shard = NULL;
    w->empty_in_row = w->shard_samples ? 0 : w->empty_in_row + 1;
}

/* Next grouped sample from the shard sequence; *out NULL when the worker is done. */
static lcmd_status source_next(lcmd_worker *w, lcmd_raw_sample **out)
{
    *out = NULL;
    char err[512];
    for (;;) {
        if (!w->shard) {
            size_t idx;
            if (!next_shard_index(w, &idx))
                return LCMD_OK;
            w->shard_name = w->cfg->shards[idx];
            w->shard_samples = 0;
            w->shard = lcmd_shard_open(w->shard_name, err, sizeof err);
            if (!w->shard) {
                shard_failed(w, w->shard_name, err);
                w->empty_in_row++;
                continue;
            }
            pthread_mutex_lock(&w->mu);
            w->st.shards_opened++;
            pthread_mutex_unlock(&w->mu);
        }
        const char *path;
        int64_t size;
        lcmd_raw_sample *done = NULL;
        lcmd_shard_event ev = lcmd_shard_next(w->shard, &path, &size, err, sizeof err);
        if (ev == LCMD_SHARD_MEMBER) {
            char ext[64];
            size_t klen;
            if (!lcmd_member_split(path, &klen, ext, sizeof ext))
                continue;
            lcmd_status gs = lcmd_grouper_begin(&w->grp, path, klen, ext, &done);
            if (gs != LCMD_OK) {
                lcmd_raw_sample_free(done);  /* a finished sample handed over before the failure */
                return gs;
            }
            int slot = lcmd_ext_slot(ext);
            if (slot >= 0) {
                lcmd_member *m = &lcmd_grouper_current(&w->grp)->slot[slot];
                m->present = 1;
                int r = (size > w->cfg->o.max_member_bytes) ? 1
                      : lcmd_shard_read(w->shard, w->cfg->o.max_member_bytes, &m->data, &m->size, err, sizeof err);
                if (r == 1) {
                    m->oversized = 1;
                } else if (r < 0) {
                    ev = LCMD_SHARD_ERROR;
                }
            }
        }
        if (ev == LCMD_SHARD_ERROR) {
            /* the cut sample and the rest of the shard are lost, as in the reference */
            pthread_mutex_lock(&w->mu);
            w->st.truncated_shards++;
            pthread_mutex_unlock(&w->mu);
            lcmd_log(&w->cfg->log, LCMD_LOG_WARN, "dataset: shard '%s' ends early: %s", w->shard_name, err);
            lcmd_raw_sample *cut = NULL;
            lcmd_grouper_flush(&w->grp, &cut);
            lcmd_raw_sample_free(cut);
            end_shard(w);
        } else if (ev == LCMD_SHARD_END) {
            lcmd_grouper_flush(&w->grp, &done);
            if (done)
                w->shard_samples++;
            end_shard(w);
        }
        if (done) {
            w->shard_samples++;
            pthread_mutex_lock(&w->mu);
            w->st.samples_read++;
            pthread_mutex_unlock(&w->mu);
            *out = done;
            return LCMD_OK;
        }
    }
}

/* Next sample after the shuffle buffer; *out NULL at the end. */
static lcmd_status shuffled_next(lcmd_worker *w, lcmd_raw_sample **out)
{
    *out = NULL;
    size_t cap = w->cfg->o.shuffle_buffer > 1 ? (size_t)w->cfg->o.shuffle_buffer : 1;
    size_t initial = w->cfg->o.shuffle_initial > 1 ? (size_t)w->cfg->o.shuffle_initial : 1;
    size_t target = w->started ? cap : (initial < cap ? initial : cap);
    while (!w->src_done && w->nbuf < target) {
        lcmd_raw_sample *s;
        LCMD_TRY(source_next(w, &s));
        if (!s) {
            w->src_done = 1;
            break;
        }
        w->buf[w->nbuf++] = s;
    }
    if (w->nbuf == 0)
        return LCMD_OK;
    size_t k = w->nbuf > 1 ? draw_below(w->cfg->o.seed, stream_id(w, STREAM_SHUFFLE), w->shuffle_ctr++, w->nbuf) : 0;
    *out = w->buf[k];
    w->buf[k] = w->buf[--w->nbuf];
    w->started = 1;
    return LCMD_OK;
}

static const lcmd_member *first_present(const lcmd_raw_sample *s, int from, int to, int *oversized)
{
    *oversized = 0;
    for (int i = from; i < to; i++) {
        if (s->slot[i].present && !s->slot[i].oversized)
            return &s->slot[i];
        if (s->slot[i].oversized)
            *oversized = 1;
    }
    return NULL;
}

/* json fields as the SDXL filter reads them: missing or null -> 0; 0 on malformed */
static int json_fields(const lcmd_member *m, double *width, double *height, double *pwm, int *have_size)
{
    json_error_t e;
    json_t *j = json_loadb((const char *)m->data, m->size, 0, &e);
    if (!j || !json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    json_t *jw = json_object_get(j, "width"), *jh = json_object_get(j, "height");
    json_t *jp = json_object_get(j, "pwatermark");
    int ok = (!jw || json_is_null(jw) || json_is_number(jw)) && (!jh || json_is_null(jh) || json_is_number(jh)) &&
             (!jp || json_is_null(jp) || json_is_number(jp));
    *width = json_is_number(jw) ? json_number_value(jw) : 0.0;
    *height = json_is_number(jh) ? json_number_value(jh) : 0.0;
    *pwm = json_is_number(jp) ? json_number_value(jp) : 0.0;
    *have_size = json_is_integer(jw) && json_is_integer(jh) && json_integer_value(jw) > 0 &&
                 json_integer_value(jw) <= INT32_MAX && json_integer_value(jh) > 0 &&
                 json_integer_value(jh) <= INT32_MAX;
    json_decref(j);
    return ok;
}

/* Decodes and transforms `s` into slot i of b: 1 used, 0 skipped, or an error status < 0. */
static int prepare(lcmd_worker *w, const lcmd_raw_sample *s, lcmd_batch *b, int i, lcmd_status *err)
{
    const lcmd_dataset_options *o = &w->cfg->o;
    int over;
    const lcmd_member *img = first_present(s, 0, LCMD_IMAGE_ALIASES, &over);
    if (!img) {
        skip(w, over ? SKIP_TOO_LARGE : SKIP_NO_IMAGE, s->key, over ? "image member above max_member_bytes" : NULL);
        return 0;
    }
    const lcmd_member *cap = first_present(s, LCMD_IMAGE_ALIASES, LCMD_IMAGE_ALIASES + LCMD_CAPTION_ALIASES, &over);
    if (!cap) {
        skip(w, over ? SKIP_TOO_LARGE : SKIP_NO_CAPTION, s->key, over ? "caption member above max_member_bytes" : NULL);
        return 0;
    }
    if (!lcmd_utf8_valid(cap->data, cap->size)) {
        skip(w, SKIP_UTF8, s->key, NULL);
        return 0;
    }
    int32_t ow = o->resolution, oh = o->resolution;
    const lcmd_member *js = &s->slot[LCMD_SLOT_JSON];
    int filtering = o->min_json_width > 0 || o->min_json_height > 0 || o->max_pwatermark <= 1.0;
    double jw = 0, jh = 0, pwm = 0;
    int have_size = 0, json_ok = js->present && !js->oversized && json_fields(js, &jw, &jh, &pwm, &have_size);
    if (json_ok && have_size) {
        ow = (int32_t)jw;
        oh = (int32_t)jh;
    }
    if (filtering) {
        if (!json_ok) {
            skip(w, SKIP_FILTER, s->key, js->present ? "malformed json" : "no json member");
            return 0;
        }
        if (jw < o->min_json_width || jh < o->min_json_height || (o->max_pwatermark <= 1.0 && pwm > o->max_pwatermark)) {
            skip(w, SKIP_FILTER, s->key, NULL);
            return 0;
        }
    }
    uint8_t *rgb;
    int iw, ih;
    char why[256];
    lcmd_decode_result dr = lcmd_image_decode_rgb_exif(img->data, img->size, o->max_pixels, o->apply_exif_orientation,
                                                       &rgb, &iw, &ih, why, sizeof why);
    if (dr == LCMD_DECODE_NO_MEMORY) {
        *err = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "dataset: decoding '%s'", s->key);
        return -1;
    }
    if (dr != LCMD_DECODE_OK) {
        skip(w, dr == LCMD_DECODE_TOO_LARGE ? SKIP_TOO_LARGE : SKIP_DECODE, s->key, why);
        return 0;
    }
    int r = o->resolution, nw, nh, top, left, flip = 0;
    lcmd_resized_size(iw, ih, r, &nw, &nh);
    /* a resized side is at least R unless the long side truncates below it: not possible,
     * since long >= short gives int(R * long / short) >= R */
    lcmd_u32x4 d = lcmd_rng_block(o->seed, stream_id(w, STREAM_AUG), w->aug_ctr++);
    if (o->crop == LCMD_CROP_CENTER) {
        top = lcmd_center_offset(nh, r);
        left = lcmd_center_offset(nw, r);
    } else {
        top = lcmd_uniform_upto(d.v[0], nh - r);
        left = lcmd_uniform_upto(d.v[1], nw - r);
    }
    if (o->random_flip)
        flip = (int)(d.v[2] >> 31);
    lcmd_status ts = lcmd_transform_image(rgb, iw, ih, r, top, left, flip,
                                          b->images + (size_t)i * 3 * (size_t)r * (size_t)r);
    free(rgb);
    if (ts != LCMD_OK) {
        *err = ts;
        return -1;
    }
    b->captions[i] = malloc(cap->size + 1);
    b->keys[i] = strdup(s->key);
    if (!b->captions[i] || !b->keys[i]) {
        *err = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "dataset: batch strings");
        return -1;
    }
    memcpy(b->captions[i], cap->data, cap->size);
    b->captions[i][cap->size] = '\0';
    int32_t *info = b->info + 5 * i;
    info[0] = ow;
    info[1] = oh;
    info[2] = top;
    info[3] = left;
    info[4] = flip;
    return 1;
}

lcmd_status lcmd_worker_next_batch(lcmd_worker *w, lcmd_batch **out)
{
    *out = NULL;
    const lcmd_dataset_options *o = &w->cfg->o;
    lcmd_batch *b = lcmd_batch_new(o->batch_size, o->resolution);
    if (!b)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "dataset: batch of %d x %d^2", o->batch_size, o->resolution);
    int filled = 0;
    while (filled < o->batch_size) {
        lcmd_raw_sample *s;
        lcmd_status st = shuffled_next(w, &s);
        if (st != LCMD_OK) {
            lcmd_batch_destroy(b);
            return st;
        }
        if (!s) {
            pthread_mutex_lock(&w->mu);
            w->st.dropped_partial += (uint64_t)filled;
            pthread_mutex_unlock(&w->mu);
            lcmd_batch_destroy(b);
            return LCMD_END_OF_STREAM;
        }
        lcmd_status err = LCMD_OK;
        int r = prepare(w, s, b, filled, &err);
        lcmd_raw_sample_free(s);
        if (r < 0) {
            lcmd_batch_destroy(b);
            return err;
        }
        if (r > 0) {
            filled++;
            pthread_mutex_lock(&w->mu);
            w->st.samples_used++;
            pthread_mutex_unlock(&w->mu);
        }
    }
    pthread_mutex_lock(&w->mu);
    w->st.batches++;
    pthread_mutex_unlock(&w->mu);
    *out = b;
    return LCMD_OK;
}
