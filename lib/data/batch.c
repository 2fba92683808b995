#include <pthread.h>
#include <stdlib.h>

#include "core/error.h"
#include "data/dataset_internal.h"

/* A few freed image buffers kept for the next batches: a batch's floats (25 MB at
 * 8 x 512^2) are otherwise a fresh mmap whose every page faults in again. Every float
 * of a batch handed out is written by the transform, so a reused buffer changes
 * nothing. */
#define POOL_SLOTS 4
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static float *pool_buf[POOL_SLOTS];
static size_t pool_len[POOL_SLOTS];

static float *images_get(size_t len)
{
    float *p = NULL;
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < POOL_SLOTS; i++) {
        if (pool_buf[i] && pool_len[i] == len) {
            p = pool_buf[i];
            pool_buf[i] = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&pool_mu);
    return p ? p : malloc(len * sizeof *p);
}

static void images_put(float *p, size_t len)
{
    if (!p)
        return;
    pthread_mutex_lock(&pool_mu);
    for (int i = 0; i < POOL_SLOTS; i++) {
        if (!pool_buf[i]) {
            pool_buf[i] = p;
            pool_len[i] = len;
            p = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&pool_mu);
    free(p); /* pool full */
}

lcmd_batch *lcmd_batch_new(int32_t n, int32_t r)
{
    lcmd_batch *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->n = n;
    b->r = r;
    b->images = images_get((size_t)n * 3 * (size_t)r * (size_t)r);
    b->captions = calloc((size_t)n, sizeof *b->captions);
    b->keys = calloc((size_t)n, sizeof *b->keys);
    b->info = calloc((size_t)n * 5, sizeof *b->info);
    if (!b->images || !b->captions || !b->keys || !b->info) {
        lcmd_batch_destroy(b);
        return NULL;
    }
    return b;
}

void lcmd_batch_destroy(lcmd_batch *b)
{
    if (!b)
        return;
    for (int32_t i = 0; i < b->n; i++) {
        if (b->captions)
            free(b->captions[i]);
        if (b->keys)
            free(b->keys[i]);
    }
    free(b->captions);
    free(b->keys);
    images_put(b->images, (size_t)b->n * 3 * (size_t)b->r * (size_t)b->r);
    free(b->info);
    free(b);
}

int32_t lcmd_batch_size(const lcmd_batch *b)
{
    return b ? b->n : 0;
}

int32_t lcmd_batch_resolution(const lcmd_batch *b)
{
    return b ? b->r : 0;
}

const float *lcmd_batch_images(const lcmd_batch *b)
{
    return b ? b->images : NULL;
}

const char *lcmd_batch_caption(const lcmd_batch *b, int32_t i)
{
    return (b && i >= 0 && i < b->n) ? b->captions[i] : NULL;
}

const char *lcmd_batch_key(const lcmd_batch *b, int32_t i)
{
    return (b && i >= 0 && i < b->n) ? b->keys[i] : NULL;
}

lcmd_status lcmd_batch_original_size(const lcmd_batch *b, int32_t i, int32_t *width, int32_t *height)
{
    LCMD_CHECK_ARG(b && width && height, "lcmd_batch_original_size", "NULL argument");
    LCMD_CHECK_ARG(i >= 0 && i < b->n, "lcmd_batch_original_size", "index %d outside [0, %d)", i, b->n);
    *width = b->info[5 * i];
    *height = b->info[5 * i + 1];
    return LCMD_OK;
}

lcmd_status lcmd_batch_crop(const lcmd_batch *b, int32_t i, int32_t *top, int32_t *left, int32_t *flipped)
{
    LCMD_CHECK_ARG(b, "lcmd_batch_crop", "NULL batch");
    LCMD_CHECK_ARG(i >= 0 && i < b->n, "lcmd_batch_crop", "index %d outside [0, %d)", i, b->n);
    if (top)
        *top = b->info[5 * i + 2];
    if (left)
        *left = b->info[5 * i + 3];
    if (flipped)
        *flipped = b->info[5 * i + 4];
    return LCMD_OK;
}
