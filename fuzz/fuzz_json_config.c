/* libFuzzer: arbitrary bytes through every JSON config parser of liblcmd: the
 * scheduler config, a sharded-weights index and a pipeline's model_index.json. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lcmd/scheduler.h>
#include "io/json_file.h"
#include "io/model_index.h"
#include "io/weights_index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1);   /* exact size, not NUL-terminated */
    if (!text)
        return 0;
    if (size)
        memcpy(text, data, size);

    lcmd_scheduler_config cfg;
    if (lcmd_scheduler_config_init(&cfg) == LCMD_OK)
        (void)lcmd_scheduler_config_parse(text, size, "fuzz", &cfg);

    lcmd_weights_index *idx = NULL;
    if (lcmd_weights_index_parse(text, size, "fuzz", &idx) == LCMD_OK) {
        for (size_t i = 0; i < idx->key_count; i++)
            if (strcmp(lcmd_weights_index_shard_of(idx, idx->keys[i]), idx->shards[idx->key_shard[i]]) != 0)
                abort();   /* lookup disagrees with the table: a bug */
        lcmd_weights_index_free(idx);
    }

    lcmd_model_index *mi = NULL;
    if (lcmd_model_index_parse(text, size, "fuzz", &mi) == LCMD_OK) {
        for (size_t i = 0; i < mi->count; i++)
            if (lcmd_model_index_find(mi, mi->components[i].name) == NULL)
                abort();
        lcmd_model_index_free(mi);
    }

    json_t *root = NULL;
    if (lcmd_json_parse_buffer(text, size, "fuzz", &root) == LCMD_OK)
        json_decref(root);
    free(text);
    return 0;
}
