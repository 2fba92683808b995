/* libFuzzer: arbitrary bytes through every JSON config parser of liblcmd: the
 * scheduler config, the UNet, CLIP text and VAE configs, a sharded-weights index and
 * a pipeline's model_index.json. An accepted UNet config also builds its parameter
 * registry and writes itself back to JSON, which must parse again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lcmd/scheduler.h>
#include "io/json_file.h"
#include "io/model_index.h"
#include "io/weights_index.h"
#include "models/clip_config.h"
#include "models/params.h"
#include "models/unet.h"
#include "models/unet_config.h"
#include "models/vae_config.h"

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

    lcmd_unet_config unet;
    if (lcmd_unet_config_parse(text, size, "fuzz", &unet) == LCMD_OK) {
        lcmd_param_set ps = {0};
        (void)lcmd_unet_params_build(&unet, &ps);
        lcmd_param_set_free(&ps);
        char *json = NULL;
        lcmd_unet_config again;
        if (lcmd_unet_config_to_json(&unet, &json) == LCMD_OK &&
            lcmd_unet_config_parse(json, strlen(json), "fuzz-again", &again) != LCMD_OK)
            abort();   /* what we write we must read */
        free(json);
    }

    lcmd_clip_config clip;
    (void)lcmd_clip_config_parse(text, size, "fuzz", &clip);
    lcmd_vae_config vae;
    (void)lcmd_vae_config_parse(text, size, "fuzz", &vae);

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
