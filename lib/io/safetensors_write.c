/* safetensors writer: validate every descriptor, build the header with jansson
 * (sorted keys, exact 64-bit offsets), then stream the data through an atomic file. */
#include "io/safetensors_write.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/half.h"
#include "io/atomic_file.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors is little-endian; liblcmd writes native byte order"
#endif

#define CONVERT_CHUNK 16384   /* elements converted per write() */

typedef struct sorted_tensor {
    const lcmd_st_write_tensor *t;
    uint64_t numel, bytes;
} sorted_tensor;

static int cmp_sorted(const void *a, const void *b)
{
    return strcmp(((const sorted_tensor *)a)->t->name, ((const sorted_tensor *)b)->t->name);
}

static int is_float_target(lcmd_st_dtype dt)
{
    return dt == LCMD_ST_F32 || dt == LCMD_ST_F16 || dt == LCMD_ST_BF16 || dt == LCMD_ST_F64;
}

static lcmd_status check_tensor(const char *path, size_t idx, const lcmd_st_write_tensor *t, sorted_tensor *out)
{
    if (!t->name || !*t->name)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor #%zu has no name", path, idx);
    if (strcmp(t->name, "__metadata__") == 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: '__metadata__' is reserved, not a tensor name", path);
    size_t es = lcmd_st_dtype_size(t->dtype);
    if (es == 0)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': unknown dtype %d", path, t->name, (int)t->dtype);
    if (t->ndim < 0 || t->ndim > LCMD_ST_MAX_DIMS)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': ndim = %d must be 0..%d",
                              path, t->name, (int)t->ndim, LCMD_ST_MAX_DIMS);
    uint64_t numel = 1;
    for (int32_t d = 0; d < t->ndim; d++) {
        if (t->shape[d] < 0)
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': shape[%d] = %lld is negative",
                                  path, t->name, (int)d, (long long)t->shape[d]);
        if (t->shape[d] && numel > (uint64_t)INT64_MAX / (uint64_t)t->shape[d])
            return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': shape overflows", path, t->name);
        numel *= (uint64_t)t->shape[d];
    }
    if (numel > (uint64_t)INT64_MAX / es || numel > SIZE_MAX / sizeof(float))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': too large", path, t->name);
    int sources = (t->data != NULL) + (t->f32 != NULL) + (t->source != NULL);
    if (sources != 1 && !(sources == 0 && numel == 0))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': give exactly one of data, f32, source (got %d)",
                              path, t->name, sources);
    if ((t->f32 || t->source) && !is_float_target(t->dtype))
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor '%s': fp32 values cannot be written as %s",
                              path, t->name, lcmd_st_dtype_name(t->dtype));
    out->t = t;
    out->numel = numel;
    out->bytes = numel * es;
    return LCMD_OK;
}

static json_t *tensor_entry(const sorted_tensor *st, uint64_t begin)
{
    json_t *shape = json_array();
    for (int32_t d = 0; shape && d < st->t->ndim; d++)
        if (json_array_append_new(shape, json_integer(st->t->shape[d])) != 0) {
            json_decref(shape);
            return NULL;
        }
    if (!shape)
        return NULL;
    return json_pack("{s:s, s:o, s:[I, I]}", "dtype", lcmd_st_dtype_name(st->t->dtype), "shape", shape,
                     "data_offsets", (json_int_t)begin, (json_int_t)(begin + st->bytes));
}

/* The header JSON, space-padded to a multiple of 8 bytes; *len receives its length. */
static lcmd_status build_header(const char *path, const sorted_tensor *sorted, size_t count,
                                const lcmd_st_metadata_entry *metadata, size_t metadata_count,
                                char **out, size_t *len)
{
    json_t *root = json_object();
    if (!root)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    lcmd_status s = LCMD_OK;
    if (metadata_count > 0) {
        json_t *meta = json_object();
        if (!meta || json_object_set_new(root, "__metadata__", meta) != 0)
            s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        for (size_t i = 0; !s && i < metadata_count; i++) {
            const char *k = metadata[i].key, *v = metadata[i].value;
            json_t *jv = v ? json_string(v) : NULL;
            if (!k || !*k || !jv)
                s = lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: metadata entry #%zu: key or value NULL, empty key or not UTF-8",
                                   path, i);
            else if (json_object_get(meta, k))
                s = lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: metadata key '%s' given twice", path, k);
            else if (json_object_set(meta, k, jv) != 0)
                s = lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: metadata key '%s' is not UTF-8", path, k);
            json_decref(jv);
        }
    }
    uint64_t offset = 0;
    for (size_t i = 0; !s && i < count; i++) {
        json_t *entry = tensor_entry(&sorted[i], offset);
        if (!entry)
            s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
        else if (json_object_set_new(root, sorted[i].t->name, entry) != 0)
            s = lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor name '%s' is not valid UTF-8", path, sorted[i].t->name);
        offset += sorted[i].bytes;
    }
    char *text = s ? NULL : json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    if (s)
        return s;
    if (!text)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    char *buf = realloc(text, padded + 1);
    if (!buf) {
        free(text);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    }
    memset(buf + n, ' ', padded - n);
    buf[padded] = '\0';
    *out = buf;
    *len = padded;
    return LCMD_OK;
}

static void convert_from_f32(lcmd_st_dtype dt, const float *src, size_t n, unsigned char *dst)
{
    switch (dt) {
    case LCMD_ST_F16: lcmd_f32_to_f16_n((uint16_t *)(void *)dst, src, n); break;
    case LCMD_ST_BF16: lcmd_f32_to_bf16_n((uint16_t *)(void *)dst, src, n); break;
    case LCMD_ST_F64:
        for (size_t i = 0; i < n; i++) {
            double v = src[i];
            memcpy(dst + 8 * i, &v, 8);
        }
        break;
    default: memcpy(dst, src, n * sizeof *src); break;
    }
}

/* fp32 values -> file dtype, a chunk at a time so the scratch stays small. */
static lcmd_status write_f32_values(lcmd_atomic_file *af, lcmd_st_dtype dt, const float *src, size_t n,
                                    unsigned char *scratch)
{
    if (dt == LCMD_ST_F32)
        return lcmd_atomic_file_write(af, src, n * sizeof *src);
    size_t es = lcmd_st_dtype_size(dt);
    for (size_t i = 0; i < n; i += CONVERT_CHUNK) {
        size_t m = n - i < CONVERT_CHUNK ? n - i : CONVERT_CHUNK;
        convert_from_f32(dt, src + i, m, scratch);
        LCMD_TRY(lcmd_atomic_file_write(af, scratch, m * es));
    }
    return LCMD_OK;
}

static lcmd_status write_tensor_data(const char *path, lcmd_atomic_file *af, const sorted_tensor *st,
                                     unsigned char *scratch)
{
    const lcmd_st_write_tensor *t = st->t;
    size_t n = (size_t)st->numel;
    if (n == 0)
        return LCMD_OK;
    if (t->data)
        return lcmd_atomic_file_write(af, t->data, (size_t)st->bytes);
    if (t->f32)
        return write_f32_values(af, t->dtype, t->f32, n, scratch);
    float *values = malloc(n * sizeof *values);
    if (!values)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: tensor '%s': out of memory", path, t->name);
    lcmd_status s = t->source(t->source_ctx, values, n);
    if (!s)
        s = write_f32_values(af, t->dtype, values, n, scratch);
    free(values);
    return s;
}

lcmd_status lcmd_safetensors_write(const char *path, const lcmd_st_write_tensor *tensors, size_t count,
                                   const lcmd_st_metadata_entry *metadata, size_t metadata_count)
{
    LCMD_CHECK_ARG(path && *path, "lcmd_safetensors_write", "path is NULL or empty");
    LCMD_CHECK_ARG(tensors || count == 0, "lcmd_safetensors_write", "%s: tensors is NULL", path);
    LCMD_CHECK_ARG(metadata || metadata_count == 0, "lcmd_safetensors_write", "%s: metadata is NULL", path);
    sorted_tensor *sorted = malloc((count ? count : 1) * sizeof *sorted);
    unsigned char *scratch = malloc(CONVERT_CHUNK * sizeof(double));
    char *header = NULL;
    size_t header_len = 0;
    lcmd_status s = sorted && scratch ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (size_t i = 0; !s && i < count; i++)
        s = check_tensor(path, i, &tensors[i], &sorted[i]);
    if (!s) {
        qsort(sorted, count, sizeof *sorted, cmp_sorted);
        for (size_t i = 1; !s && i < count; i++)
            if (strcmp(sorted[i - 1].t->name, sorted[i].t->name) == 0)
                s = lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "%s: tensor '%s' given twice", path, sorted[i].t->name);
    }
    if (!s)
        s = build_header(path, sorted, count, metadata, metadata_count, &header, &header_len);
    lcmd_atomic_file af = {.fd = -1};
    if (!s)
        s = lcmd_atomic_file_begin(path, &af);
    if (!s) {
        unsigned char prefix[8];
        for (int i = 0; i < 8; i++)
            prefix[i] = (unsigned char)((uint64_t)header_len >> (8 * i));
        s = lcmd_atomic_file_write(&af, prefix, sizeof prefix);
        if (!s)
            s = lcmd_atomic_file_write(&af, header, header_len);
        for (size_t i = 0; !s && i < count; i++)
            s = write_tensor_data(path, &af, &sorted[i], scratch);
        if (!s)
            s = lcmd_atomic_file_commit(&af);
        else
            lcmd_atomic_file_abort(&af);
    }
    free(header);
    free(scratch);
    free(sorted);
    return s;
}
