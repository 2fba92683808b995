/* safetensors reader: mmap + header validation with jansson (64-bit exact integers,
 * duplicate keys rejected). */
#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "core/half.h"

struct lcmd_safetensors {
    char *label;
    void *map;              /* non-NULL when we own a mapping */
    size_t map_len;
    const unsigned char *data;   /* start of the data block */
    uint64_t data_len;
    lcmd_st_tensor *tensors;
    size_t count;
    json_t *metadata;       /* "__metadata__" object or NULL */
};

static const struct { const char *name; lcmd_st_dtype dt; size_t size; } dtype_table[] = {
    {"F64", LCMD_ST_F64, 8}, {"F32", LCMD_ST_F32, 4}, {"F16", LCMD_ST_F16, 2}, {"BF16", LCMD_ST_BF16, 2},
    {"I64", LCMD_ST_I64, 8}, {"I32", LCMD_ST_I32, 4}, {"I16", LCMD_ST_I16, 2}, {"I8", LCMD_ST_I8, 1},
    {"U8", LCMD_ST_U8, 1}, {"BOOL", LCMD_ST_BOOL, 1},
};

size_t lcmd_st_dtype_size(lcmd_st_dtype dt)
{
    for (size_t i = 0; i < sizeof dtype_table / sizeof *dtype_table; i++)
        if (dtype_table[i].dt == dt) return dtype_table[i].size;
    return 0;
}

const char *lcmd_st_dtype_name(lcmd_st_dtype dt)
{
    for (size_t i = 0; i < sizeof dtype_table / sizeof *dtype_table; i++)
        if (dtype_table[i].dt == dt) return dtype_table[i].name;
    return "?";
}

static int parse_dtype(const char *s, lcmd_st_dtype *dt)
{
    for (size_t i = 0; i < sizeof dtype_table / sizeof *dtype_table; i++)
        if (strcmp(s, dtype_table[i].name) == 0) { *dt = dtype_table[i].dt; return 1; }
    return 0;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(((const lcmd_st_tensor *)a)->name, ((const lcmd_st_tensor *)b)->name);
}

static int cmp_begin(const void *a, const void *b)
{
    const lcmd_st_tensor *x = *(const lcmd_st_tensor *const *)a, *y = *(const lcmd_st_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : 0;
}

/* One header entry -> tensor; every field checked against the data block. */
static lcmd_status parse_entry(const char *label, const char *key, json_t *v, uint64_t data_len, lcmd_st_tensor *t)
{
    if (!json_is_object(v))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': entry is not a JSON object", label, key);
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"), *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': dtype missing or not a string", label, key);
    if (!parse_dtype(json_string_value(jd), &t->dtype))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': unknown dtype '%s'", label, key, json_string_value(jd));
    if (!json_is_array(js) || json_array_size(js) > LCMD_ST_MAX_DIMS)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': shape missing, not an array or more than %d dims",
                              label, key, LCMD_ST_MAX_DIMS);
    if (!json_is_array(jo) || json_array_size(jo) != 2)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': data_offsets must be [begin, end]", label, key);
    t->ndim = (int32_t)json_array_size(js);
    uint64_t numel = 1;
    for (int32_t d = 0; d < t->ndim; d++) {
        json_t *e = json_array_get(js, (size_t)d);
        if (!json_is_integer(e) || json_integer_value(e) < 0)
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': shape[%d] is not a non-negative integer", label, key, d);
        t->shape[d] = json_integer_value(e);
        if (t->shape[d] && numel > UINT64_MAX / (uint64_t)t->shape[d])
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': shape overflows", label, key);
        numel *= (uint64_t)t->shape[d];
    }
    json_t *jb = json_array_get(jo, 0), *je = json_array_get(jo, 1);
    if (!json_is_integer(jb) || !json_is_integer(je) || json_integer_value(jb) < 0 || json_integer_value(je) < 0)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': data_offsets are not non-negative integers", label, key);
    t->begin = (uint64_t)json_integer_value(jb);
    t->end = (uint64_t)json_integer_value(je);
    if (t->begin > t->end || t->end > data_len)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': data_offsets [%llu, %llu] outside the data block of %llu bytes",
                              label, key, (unsigned long long)t->begin, (unsigned long long)t->end,
                              (unsigned long long)data_len);
    size_t es = lcmd_st_dtype_size(t->dtype);
    if (numel > UINT64_MAX / es || numel * es != t->end - t->begin)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s': %llu bytes for %s x %llu elements",
                              label, key, (unsigned long long)(t->end - t->begin), lcmd_st_dtype_name(t->dtype),
                              (unsigned long long)numel);
    t->numel = (int64_t)numel;
    t->name = strdup(key);
    if (!t->name)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    return LCMD_OK;
}

static lcmd_status parse_header(lcmd_safetensors *st, const unsigned char *buf, size_t len)
{
    const char *label = st->label;
    if (len < 8)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: %zu bytes, shorter than the 8-byte header length", label, len);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | buf[i];
    if (hlen > LCMD_ST_MAX_HEADER)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: header of %llu bytes exceeds the %u-byte limit",
                              label, (unsigned long long)hlen, LCMD_ST_MAX_HEADER);
    if (hlen > len - 8)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: header of %llu bytes runs past the end of the file (%zu bytes)",
                              label, (unsigned long long)hlen, len);
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: header JSON: %s (line %d, column %d)", label, jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: header JSON is not an object", label);
    }
    st->data = buf + 8 + hlen;
    st->data_len = len - 8 - hlen;
    size_t n = json_object_size(root);
    st->tensors = calloc(n ? n : 1, sizeof *st->tensors);
    if (!st->tensors) {
        json_decref(root);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    }
    lcmd_status s = LCMD_OK;
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) { s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: __metadata__ is not an object", label); break; }
            json_object_foreach(v, mk, mv)
                if (!json_is_string(mv)) { s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: __metadata__['%s'] is not a string", label, mk); break; }
            if (s) break;
            st->metadata = json_incref(v);
            continue;
        }
        lcmd_st_tensor *t = &st->tensors[st->count];
        s = parse_entry(label, key, v, st->data_len, t);
        if (s) break;
        t->data = st->data + t->begin;
        st->count++;
    }
    json_decref(root);
    if (s)
        return s;
    /* byte ranges must not overlap (zero-size tensors may share an offset) */
    lcmd_st_tensor **order = malloc((st->count ? st->count : 1) * sizeof *order);
    if (!order)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", label);
    for (size_t i = 0; i < st->count; i++) order[i] = &st->tensors[i];
    qsort(order, st->count, sizeof *order, cmp_begin);
    uint64_t reach = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < st->count; i++) {
        if (order[i]->begin == order[i]->end) continue;
        if (order[i]->begin < reach) {
            s = lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", label, prev, order[i]->name);
            break;
        }
        reach = order[i]->end;
        prev = order[i]->name;
    }
    free(order);
    if (s == LCMD_OK)
        qsort(st->tensors, st->count, sizeof *st->tensors, cmp_name);
    return s;
}

lcmd_status lcmd_safetensors_open_memory(const void *buf, size_t len, const char *label, lcmd_safetensors **out)
{
    LCMD_CHECK_ARG(out, "lcmd_safetensors_open_memory", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(buf || len == 0, "lcmd_safetensors_open_memory", "buf is NULL");
    lcmd_safetensors *st = calloc(1, sizeof *st);
    if (!st || !(st->label = strdup(label ? label : "<memory>"))) {
        free(st);
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    }
    lcmd_status s = parse_header(st, buf, len);
    if (s) {
        lcmd_safetensors_close(st);
        return s;
    }
    *out = st;
    return LCMD_OK;
}

lcmd_status lcmd_safetensors_open(const char *path, lcmd_safetensors **out)
{
    LCMD_CHECK_ARG(out, "lcmd_safetensors_open", "out is NULL");
    *out = NULL;
    LCMD_CHECK_ARG(path, "lcmd_safetensors_open", "path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lcmd_set_error(LCMD_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return lcmd_set_error(LCMD_ERR_IO, "%s: not a regular file", path);
    }
    size_t len = (size_t)sb.st_size;
    void *map = NULL;
    if (len > 0) {
        map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return lcmd_set_error(LCMD_ERR_IO, "%s: mmap failed: %s", path, strerror(e));
        }
    }
    close(fd);
    lcmd_status s = lcmd_safetensors_open_memory(map ? map : "", len, path, out);
    if (s) {
        if (map) munmap(map, len);
        return s;
    }
    (*out)->map = map;
    (*out)->map_len = len;
    return LCMD_OK;
}

void lcmd_safetensors_close(lcmd_safetensors *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->count; i++)
        free(st->tensors[i].name);
    free(st->tensors);
    if (st->metadata)
        json_decref(st->metadata);
    if (st->map)
        munmap(st->map, st->map_len);
    free(st->label);
    free(st);
}

void lcmd_safetensors_release_pages(const lcmd_safetensors *st, const lcmd_st_tensor *t)
{
    if (!st || !t || !st->map)
        return;
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t begin = ((uintptr_t)t->data + page - 1) & ~(page - 1);             /* whole pages only: */
    uintptr_t end = ((uintptr_t)t->data + (uintptr_t)(t->end - t->begin)) & ~(page - 1); /* neighbours keep theirs */
    if (end > begin)
        madvise((void *)begin, end - begin, MADV_DONTNEED);
}

size_t lcmd_safetensors_count(const lcmd_safetensors *st) { return st ? st->count : 0; }

const lcmd_st_tensor *lcmd_safetensors_at(const lcmd_safetensors *st, size_t i)
{
    return st && i < st->count ? &st->tensors[i] : NULL;
}

const lcmd_st_tensor *lcmd_safetensors_find(const lcmd_safetensors *st, const char *name)
{
    if (!st || !name)
        return NULL;
    lcmd_st_tensor key;
    key.name = (char *)name;
    return bsearch(&key, st->tensors, st->count, sizeof *st->tensors, cmp_name);
}

const char *lcmd_safetensors_label(const lcmd_safetensors *st) { return st ? st->label : ""; }

const char *lcmd_safetensors_metadata(const lcmd_safetensors *st, const char *key)
{
    if (!st || !st->metadata || !key)
        return NULL;
    json_t *v = json_object_get(st->metadata, key);
    return v ? json_string_value(v) : NULL;
}

static lcmd_status find_sized(const lcmd_safetensors *st, const char *name, size_t n, const lcmd_st_tensor **out)
{
    LCMD_CHECK_ARG(st && name, "safetensors read", "handle or name is NULL");
    const lcmd_st_tensor *t = lcmd_safetensors_find(st, name);
    if (!t)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: no tensor '%s'", st->label, name);
    if ((size_t)t->numel != n)
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s' has %lld elements, expected %zu",
                              st->label, name, (long long)t->numel, n);
    *out = t;
    return LCMD_OK;
}

/* element i of t as double; unaligned-safe */
static int element_f64(const lcmd_st_tensor *t, size_t i, double *v)
{
    const unsigned char *p = (const unsigned char *)t->data + i * lcmd_st_dtype_size(t->dtype);
    switch (t->dtype) {
    case LCMD_ST_F64: { double x; memcpy(&x, p, 8); *v = x; return 1; }
    case LCMD_ST_F32: { float x; memcpy(&x, p, 4); *v = x; return 1; }
    case LCMD_ST_F16: { uint16_t x; memcpy(&x, p, 2); *v = lcmd_f16_to_f32(x); return 1; }
    case LCMD_ST_BF16: { uint16_t x; memcpy(&x, p, 2); *v = lcmd_bf16_to_f32(x); return 1; }
    case LCMD_ST_I64: { int64_t x; memcpy(&x, p, 8); *v = (double)x; return 1; }
    case LCMD_ST_I32: { int32_t x; memcpy(&x, p, 4); *v = x; return 1; }
    default: return 0;
    }
}

lcmd_status lcmd_safetensors_read_f64(const lcmd_safetensors *st, const char *name, double *dst, size_t n)
{
    const lcmd_st_tensor *t;
    LCMD_TRY(find_sized(st, name, n, &t));
    for (size_t i = 0; i < n; i++)
        if (!element_f64(t, i, &dst[i]))
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s' has dtype %s, not a number type",
                                  st->label, name, lcmd_st_dtype_name(t->dtype));
    return LCMD_OK;
}

lcmd_status lcmd_safetensors_read_f32(const lcmd_safetensors *st, const char *name, float *dst, size_t n)
{
    const lcmd_st_tensor *t;
    LCMD_TRY(find_sized(st, name, n, &t));
    if (t->dtype == LCMD_ST_F32) {
        memcpy(dst, t->data, n * 4);
        return LCMD_OK;
    }
    for (size_t i = 0; i < n; i++) {
        double v;
        if (!element_f64(t, i, &v))
            return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s' has dtype %s, not a number type",
                                  st->label, name, lcmd_st_dtype_name(t->dtype));
        dst[i] = (float)v;
    }
    return LCMD_OK;
}

lcmd_status lcmd_safetensors_read_i64(const lcmd_safetensors *st, const char *name, int64_t *dst, size_t n)
{
    const lcmd_st_tensor *t;
    LCMD_TRY(find_sized(st, name, n, &t));
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)t->data + i * lcmd_st_dtype_size(t->dtype);
        if (t->dtype == LCMD_ST_I64) { memcpy(&dst[i], p, 8); }
        else if (t->dtype == LCMD_ST_I32) { int32_t x; memcpy(&x, p, 4); dst[i] = x; }
        else return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s' has dtype %s, expected I64 or I32",
                                   st->label, name, lcmd_st_dtype_name(t->dtype));
    }
    return LCMD_OK;
}
