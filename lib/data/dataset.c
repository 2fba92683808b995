/* The public stream: options, shard expansion and rank split, worker threads with
 * bounded queues, round-robin assembly of the workers' batches. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "context_internal.h"
#include "core/error.h"
#include "data/dataset_internal.h"
#include "data/spec.h"

#define OPTIONS_V1_SIZE (offsetof(lcmd_dataset_options, max_pwatermark) + sizeof(double))
#define STATS_V1_SIZE (offsetof(lcmd_dataset_stats, dropped_partial) + sizeof(uint64_t))
#define CREATE_FN "lcmd_dataset_create"

struct lcmd_dataset {
    lcmd_data_cfg cfg;
    lcmd_strlist all;     /* every expanded shard (cfg.shards points into it) */
    lcmd_worker *workers;
    int n_workers;        /* logical workers (>= 1) */
    int threaded;
    int *active;
    int n_active, cur;
    int ended;
    lcmd_status end_status;
    char end_msg[600];
};

lcmd_status lcmd_dataset_options_init(lcmd_dataset_options *opts)
{
    LCMD_CHECK_ARG(opts, "lcmd_dataset_options_init", "opts is NULL");
    memset(opts, 0, sizeof *opts);
    opts->struct_size = (uint32_t)sizeof *opts;
    opts->resolution = 512;
    opts->batch_size = 8;
    opts->shuffle_buffer = 1000;
    opts->shuffle_initial = 100;
    opts->shuffle_shards = 1;
    opts->epochs = 1;
    opts->world_size = 1;
    opts->prefetch = 2;
    opts->crop = LCMD_CROP_RANDOM;
    opts->max_pixels = 64ll * 1024 * 1024;
    opts->max_member_bytes = 256ll * 1024 * 1024;
    opts->max_pwatermark = 2.0;
    return LCMD_OK;
}

static lcmd_status check_options(const lcmd_dataset_options *o)
{
    LCMD_CHECK_ARG(o->shards && o->shards[0], CREATE_FN, "opts.shards is NULL or empty");
    LCMD_CHECK_ARG(o->resolution >= 1 && o->resolution <= 16384, CREATE_FN, "opts.resolution = %d (1..16384)", o->resolution);
    LCMD_CHECK_ARG(o->batch_size >= 1 && (int64_t)o->batch_size * 3 * o->resolution * o->resolution <= ((int64_t)1 << 34),
                   CREATE_FN, "opts.batch_size = %d (>= 1, batch at most 16 Gi floats)", o->batch_size);
    LCMD_CHECK_ARG(o->shuffle_buffer >= 0 && o->shuffle_buffer <= 10000000, CREATE_FN, "opts.shuffle_buffer = %d (0..1e7)", o->shuffle_buffer);
    LCMD_CHECK_ARG(o->shuffle_initial >= 0, CREATE_FN, "opts.shuffle_initial = %d (>= 0)", o->shuffle_initial);
    LCMD_CHECK_ARG(o->epochs >= 1, CREATE_FN, "opts.epochs = %d (>= 1)", o->epochs);
    LCMD_CHECK_ARG(o->world_size >= 1 && o->rank >= 0 && o->rank < o->world_size, CREATE_FN,
                   "opts.rank = %d, opts.world_size = %d (0 <= rank < world_size)", o->rank, o->world_size);
    LCMD_CHECK_ARG(o->num_workers >= 0 && o->num_workers <= 256, CREATE_FN, "opts.num_workers = %d (0..256)", o->num_workers);
    LCMD_CHECK_ARG(o->prefetch >= 1 && o->prefetch <= 1024, CREATE_FN, "opts.prefetch = %d (1..1024)", o->prefetch);
    LCMD_CHECK_ARG(o->crop == LCMD_CROP_RANDOM || o->crop == LCMD_CROP_CENTER, CREATE_FN, "opts.crop = %d", o->crop);
    LCMD_CHECK_ARG(o->random_flip == 0 || o->random_flip == 1, CREATE_FN, "opts.random_flip = %d (0 or 1)", o->random_flip);
    LCMD_CHECK_ARG(o->max_pixels >= 1, CREATE_FN, "opts.max_pixels = %lld (>= 1)", (long long)o->max_pixels);
    LCMD_CHECK_ARG(o->max_member_bytes >= 1, CREATE_FN, "opts.max_member_bytes = %lld (>= 1)", (long long)o->max_member_bytes);
    LCMD_CHECK_ARG(o->min_json_width >= 0 && o->min_json_height >= 0, CREATE_FN, "opts.min_json_width/height must be >= 0");
    LCMD_CHECK_ARG(o->max_pwatermark == o->max_pwatermark, CREATE_FN, "opts.max_pwatermark is NaN");
    LCMD_CHECK_ARG(o->apply_exif_orientation == 0 || o->apply_exif_orientation == 1, CREATE_FN,
                   "opts.apply_exif_orientation = %d (0 or 1)", o->apply_exif_orientation);
    return LCMD_OK;
}

static void *worker_main(void *arg)
{
    lcmd_worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        while (w->qn == w->qcap && !w->stop)
            pthread_cond_wait(&w->cv, &w->mu);
        int stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
        lcmd_batch *b = NULL;
        lcmd_status st = lcmd_worker_next_batch(w, &b);
        pthread_mutex_lock(&w->mu);
        if (st == LCMD_OK) {
            w->queue[(w->qhead + w->qn) % w->qcap] = b;
            w->qn++;
        } else {
            w->finished = 1;
            w->fstatus = st;
            if (st != LCMD_END_OF_STREAM)
                snprintf(w->ferr, sizeof w->ferr, "%s", lcmd_last_error());
        }
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        if (st != LCMD_OK)
            break;
    }
    return NULL;
}

static void stop_workers(lcmd_dataset *ds)
{
    for (int i = 0; i < ds->n_workers; i++) {
        lcmd_worker *w = &ds->workers[i];
        if (!w->has_thread)
            continue;
        pthread_mutex_lock(&w->mu);
        w->stop = 1;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->has_thread = 0;
    }
}

void lcmd_dataset_destroy(lcmd_dataset *ds)
{
    if (!ds)
        return;
    stop_workers(ds);
    for (int i = 0; i < ds->n_workers; i++)
        lcmd_worker_free(&ds->workers[i]);
    free(ds->workers);
    free(ds->active);
    free(ds->cfg.shards);
    lcmd_strlist_free(&ds->all);
    free(ds);
}

/* Fails when every local shard is missing and there is no pipe. */
static lcmd_status check_readable(const lcmd_data_cfg *c)
{
    for (size_t i = 0; i < c->n_shards; i++) {
        struct stat sb;
        if (strncmp(c->shards[i], "pipe:", 5) == 0 || stat(c->shards[i], &sb) == 0)
            return LCMD_OK;
    }
    return lcmd_set_error(LCMD_ERR_IO, CREATE_FN ": none of the %zu shards exists (first: '%s')", c->n_shards,
                          c->shards[0]);
}

lcmd_status lcmd_dataset_create(lcmd_context *ctx, const lcmd_dataset_options *opts, lcmd_dataset **out)
{
    LCMD_CHECK_ARG(out, CREATE_FN, "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(ctx && opts, CREATE_FN, "ctx or opts is NULL");
    LCMD_CHECK_ARG(opts->struct_size >= OPTIONS_V1_SIZE && opts->struct_size <= sizeof(lcmd_dataset_options), CREATE_FN,
                   "opts.struct_size = %u (call lcmd_dataset_options_init)", opts->struct_size);
    lcmd_dataset_options o;
    lcmd_dataset_options_init(&o);
    memcpy(&o, opts, opts->struct_size);
    o.struct_size = (uint32_t)sizeof o;
    LCMD_TRY(check_options(&o));

    lcmd_dataset *ds = calloc(1, sizeof *ds);
    if (!ds)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, CREATE_FN);
    lcmd_status st = lcmd_shards_expand(o.shards, &ds->all);
    if (st != LCMD_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", lcmd_last_error());
        lcmd_dataset_destroy(ds);
        return lcmd_set_error(st, CREATE_FN ": %s", msg);
    }
    o.shards = NULL;
    ds->cfg.o = o;
    ds->cfg.log = ctx->log;
    size_t mine = 0;
    for (size_t i = (size_t)o.rank; i < ds->all.n; i += (size_t)o.world_size)
        mine++;
    if (mine == 0) {
        size_t total = ds->all.n;
        lcmd_dataset_destroy(ds);
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, CREATE_FN ": %zu shards leave none to rank %d of %d",
                              total, o.rank, o.world_size);
    }
    ds->cfg.shards = malloc(mine * sizeof *ds->cfg.shards);
    ds->n_workers = o.num_workers > 0 ? o.num_workers : 1;
    ds->workers = calloc((size_t)ds->n_workers, sizeof *ds->workers);
    ds->active = malloc((size_t)ds->n_workers * sizeof *ds->active);
    if (!ds->cfg.shards || !ds->workers || !ds->active) {
        free(ds->workers);
        ds->workers = NULL;
        ds->n_workers = 0;
        lcmd_dataset_destroy(ds);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, CREATE_FN);
    }
    for (size_t i = (size_t)o.rank, k = 0; i < ds->all.n; i += (size_t)o.world_size)
        ds->cfg.shards[k++] = ds->all.items[i];
    ds->cfg.n_shards = mine;
    st = check_readable(&ds->cfg);
    int n_init = 0;
    for (int i = 0; st == LCMD_OK && i < ds->n_workers; i++) {
        st = lcmd_worker_init(&ds->workers[i], &ds->cfg, i, ds->n_workers);
        if (st == LCMD_OK)
            n_init++;
        ds->active[i] = 1;
    }
    if (st != LCMD_OK) {
        ds->n_workers = n_init;
        lcmd_dataset_destroy(ds);
        return st;
    }
    ds->n_active = ds->n_workers;
    ds->threaded = o.num_workers > 0;
    for (int i = 0; ds->threaded && i < ds->n_workers; i++) {
        lcmd_worker *w = &ds->workers[i];
        w->qcap = o.prefetch;
        w->queue = calloc((size_t)w->qcap, sizeof *w->queue);
        if (!w->queue || pthread_create(&w->thread, NULL, worker_main, w) != 0) {
            lcmd_dataset_destroy(ds);
            return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, CREATE_FN ": starting worker %d", i);
        }
        w->has_thread = 1;
    }
    *out = ds;
    return LCMD_OK;
}

/* One batch from worker i: LCMD_OK, LCMD_END_OF_STREAM, or its error (message set). */
static lcmd_status take(lcmd_dataset *ds, int i, lcmd_batch **out)
{
    lcmd_worker *w = &ds->workers[i];
    if (!ds->threaded)
        return lcmd_worker_next_batch(w, out);
    pthread_mutex_lock(&w->mu);
    while (w->qn == 0 && !w->finished)
        pthread_cond_wait(&w->cv, &w->mu);
    lcmd_status st;
    if (w->qn > 0) {
        *out = w->queue[w->qhead];
        w->queue[w->qhead] = NULL;
        w->qhead = (w->qhead + 1) % w->qcap;
        w->qn--;
        pthread_cond_broadcast(&w->cv);
        st = LCMD_OK;
    } else {
        st = w->fstatus;
        if (st != LCMD_END_OF_STREAM)
            lcmd_set_error(st, "%s", w->ferr);
    }
    pthread_mutex_unlock(&w->mu);
    return st;
}

static void sum_stats(const lcmd_dataset *ds, lcmd_dataset_stats *s, char *first_fail, size_t fl)
{
    memset(s, 0, sizeof *s);
    s->struct_size = (uint32_t)sizeof *s;
    if (first_fail)
        first_fail[0] = '\0';
    for (int i = 0; i < ds->n_workers; i++) {
        lcmd_worker *w = &ds->workers[i];
        pthread_mutex_lock(&w->mu);
        const lcmd_dataset_stats *t = &w->st;
        s->shards_opened += t->shards_opened;
        s->shards_failed += t->shards_failed;
        s->truncated_shards += t->truncated_shards;
        s->samples_read += t->samples_read;
        s->samples_used += t->samples_used;
        s->batches += t->batches;
        s->skipped_no_image += t->skipped_no_image;
        s->skipped_no_caption += t->skipped_no_caption;
        s->skipped_decode += t->skipped_decode;
        s->skipped_too_large += t->skipped_too_large;
        s->skipped_bad_utf8 += t->skipped_bad_utf8;
        s->skipped_filtered += t->skipped_filtered;
        s->dropped_partial += t->dropped_partial;
        if (first_fail && !first_fail[0] && w->first_fail[0])
            snprintf(first_fail, fl, "%s", w->first_fail);
        pthread_mutex_unlock(&w->mu);
    }
}

lcmd_status lcmd_dataset_next(lcmd_dataset *ds, lcmd_batch **out)
{
    LCMD_CHECK_ARG(out, "lcmd_dataset_next", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(ds, "lcmd_dataset_next", "ds is NULL");
    while (!ds->ended) {
        if (ds->n_active == 0) {
            lcmd_dataset_stats s;
            char ff[512];
            sum_stats(ds, &s, ff, sizeof ff);
            ds->ended = 1;
            if (s.samples_read == 0 && s.shards_failed > 0) {
                ds->end_status = LCMD_ERR_IO;
                snprintf(ds->end_msg, sizeof ds->end_msg, "lcmd_dataset_next: no shard could be read (%llu failed); first: %s",
                         (unsigned long long)s.shards_failed, ff);
            } else {
                ds->end_status = LCMD_END_OF_STREAM;
            }
            break;
        }
        int i = ds->cur;
        lcmd_status st = take(ds, i, out);
        if (st != LCMD_OK && st != LCMD_END_OF_STREAM) {
            ds->ended = 1;
            ds->end_status = st;
            snprintf(ds->end_msg, sizeof ds->end_msg, "%s", lcmd_last_error());
            return st;
        }
        if (st == LCMD_END_OF_STREAM) {
            ds->active[i] = 0;
            ds->n_active--;
        }
        /* the next active worker, in a fixed cyclic order */
        for (int k = 1; k <= ds->n_workers && ds->n_active > 0; k++) {
            int j = (i + k) % ds->n_workers;
            if (ds->active[j]) {
                ds->cur = j;
                break;
            }
        }
        if (st == LCMD_OK)
            return LCMD_OK;
    }
    if (ds->end_status != LCMD_END_OF_STREAM)
        return lcmd_set_error(ds->end_status, "%s", ds->end_msg);
    return LCMD_END_OF_STREAM;
}

lcmd_status lcmd_dataset_skip(lcmd_dataset *ds, int64_t n, int64_t *skipped)
{
    if (skipped) *skipped = 0;
    LCMD_CHECK_ARG(ds && n >= 0, "lcmd_dataset_skip", "ds is NULL or n = %lld < 0", (long long)n);
    for (int64_t i = 0; i < n; i++) {
        lcmd_batch *b = NULL;
        LCMD_TRY(lcmd_dataset_next(ds, &b));
        lcmd_batch_destroy(b);
        if (skipped) *skipped = i + 1;
    }
    return LCMD_OK;
}

lcmd_status lcmd_dataset_get_stats(const lcmd_dataset *ds, lcmd_dataset_stats *stats)
{
    LCMD_CHECK_ARG(ds && stats, "lcmd_dataset_get_stats", "NULL argument");
    LCMD_CHECK_ARG(stats->struct_size >= STATS_V1_SIZE && stats->struct_size <= sizeof *stats,
                   "lcmd_dataset_get_stats", "stats.struct_size = %u (set it to sizeof(lcmd_dataset_stats))",
                   stats->struct_size);
    lcmd_dataset_stats s;
    sum_stats(ds, &s, NULL, 0);
    uint32_t keep = stats->struct_size;
    memcpy(stats, &s, keep);
    stats->struct_size = keep;
    return LCMD_OK;
}
