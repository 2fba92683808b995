/* A bump allocator over one block of memory the caller owns (host or device: the
 * arena only does pointer arithmetic). Activations of a forward/backward pass are
 * carved from it; mark/release frees everything allocated since a mark at once. */
#ifndef LCMD_CORE_ARENA_H
#define LCMD_CORE_ARENA_H

#include <stddef.h>
#include <lcmd/status.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LCMD_ARENA_ALIGN 256   /* bytes: enough for cp.async/TMA and AVX-512 */

typedef struct lcmd_arena {
    unsigned char *base;
    size_t capacity;
    size_t used;
    size_t peak;     /* high-water mark, for sizing the next run */
} lcmd_arena;

void lcmd_arena_init(lcmd_arena *a, void *base, size_t capacity);
/* Returns LCMD_ERR_OUT_OF_MEMORY (message names the request and what is left) when full. */
lcmd_status lcmd_arena_alloc(lcmd_arena *a, size_t bytes, void **out);
static inline size_t lcmd_arena_mark(const lcmd_arena *a) { return a->used; }
void lcmd_arena_release(lcmd_arena *a, size_t mark);
void lcmd_arena_reset(lcmd_arena *a);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_CORE_ARENA_H */
