/* Shared pieces of the demo writers: options, the caption vocabulary, files. */
#ifndef LCMD_DEMO_INTERNAL_H
#define LCMD_DEMO_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <lcmd/demo.h>

#include "models/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DEMO_MAX_LENGTH 77        /* the tokenizer's model_max_length = CLIP positions */

/* Copies the caller's options over the defaults and checks every value; fn prefixes
 * messages. Errors: LCMD_ERR_INVALID_ARGUMENT. */
lcmd_status demo_teacher_options_resolve(const lcmd_demo_teacher_options *in, lcmd_demo_teacher_options *out,
                                         const char *fn);
lcmd_status demo_data_options_resolve(const lcmd_demo_data_options *in, lcmd_demo_data_options *out,
                                      const char *fn);

/* ---- caption vocabulary (demo_words.c) */

typedef struct demo_color {
    const char *name;
    uint8_t rgb[3];
} demo_color;

typedef enum demo_shape { DEMO_CIRCLE = 0, DEMO_SQUARE, DEMO_TRIANGLE, DEMO_STRIPES, DEMO_SHAPE_COUNT } demo_shape;

extern const demo_color demo_colors[];
extern const size_t demo_color_count;
extern const char *const demo_shape_names[DEMO_SHAPE_COUNT];
/* every word the tokenizer learns a merge chain for (the captions' words and a few more) */
extern const char *const demo_words[];
extern const size_t demo_word_count;

/* ---- files (demo_files.c) */

/* mkdir of one level; an existing folder is fine. Errors: LCMD_ERR_IO naming it. */
lcmd_status demo_make_folder(const char *path);
/* "dir/name" as a new string (LCMD_ERR_OUT_OF_MEMORY) */
lcmd_status demo_join(const char *dir, const char *name, char **out);
/* writes `len` bytes to dir/name atomically. Errors: LCMD_ERR_IO naming the path, OOM. */
lcmd_status demo_write_file(const char *dir, const char *name, const void *data, size_t len);
/* json_dumps(root) + newline to dir/name; root is not consumed. */
lcmd_status demo_write_json(const char *dir, const char *name, const json_t *root);
/* steals `value`; NULL value (a failed json_*() constructor) is OOM */
lcmd_status demo_json_set(json_t *obj, const char *key, json_t *value);

/* ---- the components (demo_tokenizer.c, demo_configs.c, demo_weights.c) */

/* writes tokenizer/ into `folder` and returns its vocabulary size */
lcmd_status demo_write_tokenizer(const char *folder, int32_t *vocab_size);
lcmd_status demo_write_model_index(const char *folder);
lcmd_status demo_write_scheduler(const char *folder);
lcmd_status demo_write_text_encoder(const char *folder, const lcmd_demo_teacher_options *o, int32_t vocab_size);
lcmd_status demo_write_vae(const char *folder, const lcmd_demo_teacher_options *o);
lcmd_status demo_write_unet(const char *folder, const lcmd_demo_teacher_options *o);

/* PyTorch's default initialisation of every parameter of `ps` from Philox (seed, streams
 * (tag << 32) | parameter index), then saved as folder/<base>.safetensors in float32. */
/* Philox stream tags of the three models' weights (demo_init_and_save's `tag`) */
#define DEMO_TAG_TEXT 0x54455854u
#define DEMO_TAG_VAE 0x56414555u
#define DEMO_TAG_UNET 0x554e4554u

lcmd_status demo_init_and_save(const lcmd_param_set *ps, uint64_t seed, uint32_t tag, const char *folder,
                               const char *base);

/* ---- pictures (demo_draw.c) */

/* One sample's content, drawn from Philox (seed, stream = sample index). */
typedef struct demo_sample {
    demo_shape shape;
    size_t fg, bg;               /* indices into demo_colors, fg != bg */
    int32_t large;               /* 1: "large", 0: "small" (not for stripes) */
    double cx, cy, radius;       /* in pixels */
    int32_t stripe_period, stripe_vertical;
} demo_sample;

lcmd_status demo_sample_draw(const lcmd_demo_data_options *o, uint64_t index, demo_sample *s);
/* R x R x 3 RGB pixels of `s` */
void demo_sample_render(const demo_sample *s, int32_t resolution, uint8_t *rgb);
/* the caption of `s` into buf (NUL-terminated; 128 bytes are always enough) */
void demo_sample_caption(const demo_sample *s, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif

#endif /* LCMD_DEMO_INTERNAL_H */
