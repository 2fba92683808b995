#include "core/arena.h"
#include "core/error.h"

#include <stdint.h>

void lcmd_arena_init(lcmd_arena *a, void *base, size_t capacity)
{
    a->base = (unsigned char *)base;
    a->capacity = capacity;
    a->used = 0;
    a->peak = 0;
}

lcmd_status lcmd_arena_alloc(lcmd_arena *a, size_t bytes, void **out)
{
    *out = NULL;
    /* align the start of every block; used stays a multiple of the alignment */
    size_t rounded = (bytes + LCMD_ARENA_ALIGN - 1) & ~(size_t)(LCMD_ARENA_ALIGN - 1);
    if (rounded < bytes || rounded > a->capacity - a->used)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY,
                              "arena: %zu bytes requested, %zu of %zu left",
                              bytes, a->capacity - a->used, a->capacity);
    *out = a->base + a->used;
    a->used += rounded;
    if (a->used > a->peak)
        a->peak = a->used;
    return LCMD_OK;
}

void lcmd_arena_release(lcmd_arena *a, size_t mark)
{
    if (mark <= a->used)
        a->used = mark;
}

void lcmd_arena_reset(lcmd_arena *a) { a->used = 0; }
