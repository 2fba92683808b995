#include "models/params.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

lcmd_status lcmd_param_set_add(lcmd_param_set *ps, const char *name, int32_t ndim, const int64_t *shape,
                               lcmd_param_layout layout, size_t *offset)
{
    LCMD_CHECK_ARG(ps && name && shape, "lcmd_param_set_add", "NULL argument");
    LCMD_CHECK_ARG(ndim >= 1 && ndim <= 4, "lcmd_param_set_add", "%s: ndim = %d must be 1..4", name, ndim);
    LCMD_CHECK_ARG(layout == LCMD_PARAM_PLAIN || ndim == 4, "lcmd_param_set_add", "%s: a conv weight needs 4 dims", name);
    int64_t numel = 1;
    for (int32_t d = 0; d < ndim; d++) {
        LCMD_CHECK_ARG(shape[d] >= 1, "lcmd_param_set_add", "%s: shape[%d] = %lld must be >= 1", name, d, (long long)shape[d]);
        numel *= shape[d];
    }
    if (lcmd_param_set_find(ps, name))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "lcmd_param_set_add: duplicate parameter '%s'", name);
    if (ps->count == ps->cap) {
        size_t cap = ps->cap ? ps->cap * 2 : 256;
        lcmd_param *items = realloc(ps->items, cap * sizeof *items);
        if (!items)
            return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_param_set_add: out of memory");
        ps->items = items;
        ps->cap = cap;
    }
    lcmd_param *p = &ps->items[ps->count];
    memset(p, 0, sizeof *p);
    if (!(p->name = strdup(name)))
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "lcmd_param_set_add: out of memory");
    p->ndim = ndim;
    memcpy(p->shape, shape, (size_t)ndim * sizeof *shape);
    p->numel = numel;
    p->layout = layout;
    p->offset = ps->total;
    ps->total += ((size_t)numel + LCMD_PARAM_ALIGN - 1) / LCMD_PARAM_ALIGN * LCMD_PARAM_ALIGN;
    ps->count++;
    if (offset)
        *offset = p->offset;
    return LCMD_OK;
}

const lcmd_param *lcmd_param_set_find(const lcmd_param_set *ps, const char *name)
{
    if (!ps || !name)
        return NULL;
    for (size_t i = 0; i < ps->count; i++)
        if (strcmp(ps->items[i].name, name) == 0)
            return &ps->items[i];
    return NULL;
}

void lcmd_param_set_free(lcmd_param_set *ps)
{
    if (!ps)
        return;
    for (size_t i = 0; i < ps->count; i++)
        free(ps->items[i].name);
    free(ps->items);
    memset(ps, 0, sizeof *ps);
}

void lcmd_param_to_stored(const lcmd_param *p, const float *src, float *dst)
{
    if (p->layout == LCMD_PARAM_PLAIN) {
        memcpy(dst, src, (size_t)p->numel * sizeof *dst);
        return;
    }
    int64_t K = p->shape[0], C = p->shape[1], R = p->shape[2], S = p->shape[3];
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    dst[((k * R + r) * S + s) * C + c] = src[((k * C + c) * R + r) * S + s];
}

void lcmd_param_to_file(const lcmd_param *p, const float *src, float *dst)
{
    if (p->layout == LCMD_PARAM_PLAIN) {
        memcpy(dst, src, (size_t)p->numel * sizeof *dst);
        return;
    }
    int64_t K = p->shape[0], C = p->shape[1], R = p->shape[2], S = p->shape[3];
    for (int64_t k = 0; k < K; k++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++)
                    dst[((k * C + c) * R + r) * S + s] = src[((k * R + r) * S + s) * C + c];
}
