/* Shared structures of the dataset stream: batches, configuration, workers. */
#ifndef LCMD_DATA_DATASET_INTERNAL_H
#define LCMD_DATA_DATASET_INTERNAL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <lcmd/dataset.h>

#include "core/log.h"
#include "data/sample.h"
#include "data/shard.h"

struct lcmd_batch {
    int32_t n, r;
    float *images;     /* n x 3 x r x r */
    char **captions;   /* n owned strings */
    char **keys;       /* n owned strings */
    int32_t *info;     /* n x 5: orig width, orig height, top, left, flipped */
};

/* A batch with room for n samples of side r (strings NULL). */
lcmd_batch *lcmd_batch_new(int32_t n, int32_t r);

/* Read-only after creation; shared by the workers. */
typedef struct lcmd_data_cfg {
    lcmd_dataset_options o;  /* o.shards not used */
    char **shards;           /* this rank's shards */
    size_t n_shards;
    lcmd_logger log;
} lcmd_data_cfg;

/* One deterministic stream of batches (see include/lcmd/dataset.h, "Order"). */
typedef struct lcmd_worker {
    const lcmd_data_cfg *cfg;
    int index, count;
    /* where the worker is in its shard sequence */
    int64_t epoch;
    size_t pos;
    size_t *perm;
    uint64_t draws;
    uint64_t empty_in_row;   /* resampled: shards in a row that gave no sample */
    lcmd_shard *shard;
    const char *shard_name;
    uint64_t shard_samples;
    lcmd_grouper grp;
    int src_done;
    /* shuffle buffer of raw samples */
    lcmd_raw_sample **buf;
    size_t nbuf;
    int started;
    uint64_t shuffle_ctr, aug_ctr;
    /* counters and the first failure, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    lcmd_dataset_stats st;
    char first_fail[512];
    /* thread and queue (unused inline) */
    pthread_t thread;
    int has_thread;
    lcmd_batch **queue;
    int qhead, qn, qcap;
    int finished, stop;
    lcmd_status fstatus;
    char ferr[512];
} lcmd_worker;

/* Sets up worker `index` of `count` (mutex and cv included). */
lcmd_status lcmd_worker_init(lcmd_worker *w, const lcmd_data_cfg *cfg, int index, int count);
/* Produces the worker's next batch: LCMD_OK, LCMD_END_OF_STREAM, or an error. */
lcmd_status lcmd_worker_next_batch(lcmd_worker *w, lcmd_batch **out);
/* Frees what lcmd_worker_init and the stream allocated (not the thread). */
void lcmd_worker_free(lcmd_worker *w);

#endif /* LCMD_DATA_DATASET_INTERNAL_H */
