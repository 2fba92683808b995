/* libFuzzer: arbitrary bytes as a safetensors file. Every accepted tensor must be
 * readable in full; ASan/UBSan catch any read outside the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy, so ASan sees a read one byte past the input */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    if (size)
        memcpy(copy, data, size);
    lcmd_safetensors *st = NULL;
    if (lcmd_safetensors_open_memory(copy, size, "fuzz", &st) == LCMD_OK) {
        (void)lcmd_safetensors_metadata(st, "format");
        for (size_t i = 0; i < lcmd_safetensors_count(st); i++) {
            const lcmd_st_tensor *t = lcmd_safetensors_at(st, i);
            if (lcmd_safetensors_find(st, t->name) != t)
                abort();   /* lookup disagrees with iteration: a bug, make the fuzzer stop */
            size_t n = (size_t)t->numel;
            float *dst = malloc((n ? n : 1) * sizeof *dst);
            if (dst) {
                (void)lcmd_safetensors_read_f32(st, t->name, dst, n);
                free(dst);
            }
        }
        lcmd_safetensors_close(st);
    }
    free(copy);
    return 0;
}
