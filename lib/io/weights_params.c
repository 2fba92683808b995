/* Param set <-> weights files: validate names, dtypes and shapes of everything
 * first, then convert; saving goes through the atomic safetensors writer. */
#include "io/weights.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/path.h"
#include "io/safetensors_write.h"

#define NAMES_IN_MESSAGE 4

static int cmp_param_ptr(const void *a, const void *b)
{
    return strcmp((*(const lcmd_param *const *)a)->name, (*(const lcmd_param *const *)b)->name);
}

static int cmp_param_key(const void *key, const void *p)
{
    return strcmp((const char *)key, (*(const lcmd_param *const *)p)->name);
}

static void format_shape(char *buf, size_t cap, int32_t ndim, const int64_t *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int32_t d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
}

static int is_float_dtype(lcmd_st_dtype dt)
{
    return dt == LCMD_ST_F32 || dt == LCMD_ST_F16 || dt == LCMD_ST_BF16 || dt == LCMD_ST_F64;
}

static lcmd_status check_tensor(const lcmd_param *p, const lcmd_st_tensor *t, const lcmd_safetensors *file)
{
    const char *label = lcmd_safetensors_label(file);
    if (!is_float_dtype(t->dtype))
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s' has dtype %s; a parameter needs F32, F16, BF16 or F64",
                              label, t->name, lcmd_st_dtype_name(t->dtype));
    int same = t->ndim == p->ndim;
    for (int32_t d = 0; same && d < p->ndim; d++)
        same = t->shape[d] == p->shape[d];
    if (!same) {
        char fs[160], ms[160];
        format_shape(fs, sizeof fs, t->ndim, t->shape);
        format_shape(ms, sizeof ms, p->ndim, p->shape);
        return lcmd_set_error(LCMD_ERR_FORMAT, "%s: tensor '%s' has shape %s, the model expects %s",
                              label, t->name, fs, ms);
    }
    return LCMD_OK;
}

static int name_allowed(const char *const *list, const char *name)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], name) == 0)
            return 1;
    return 0;
}

static lcmd_status push_name(char ***list, size_t *count, const char *name)
{
    char **grown = realloc(*list, (*count + 1) * sizeof **list);
    if (!grown)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "weights: out of memory");
    *list = grown;
    if (!(grown[*count] = strdup(name)))
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "weights: out of memory");
    (*count)++;
    return LCMD_OK;
}

/* "a, b, c and 7 more" from the first names of a list */
static void format_names(char *buf, size_t cap, char *const *names, size_t count)
{
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < count && i < NAMES_IN_MESSAGE && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s'%s'", i ? ", " : "", names[i]);
    if (count > NAMES_IN_MESSAGE && n < cap)
        snprintf(buf + n, cap - n, " and %zu more", count - NAMES_IN_MESSAGE);
}

/* Pass 1: names and shapes; fills the report's lists, fails on the first bad tensor. */
static lcmd_status compare(const lcmd_weights *w, const lcmd_param_set *ps, lcmd_weights_report *r,
                           size_t *scratch_numel)
{
    *scratch_numel = 0;
    for (size_t i = 0; i < ps->count; i++) {
        const lcmd_param *p = &ps->items[i];
        const lcmd_safetensors *file = NULL;
        const lcmd_st_tensor *t = lcmd_weights_find(w, p->name, &file);
        if (!t) {
            LCMD_TRY(push_name(&r->missing, &r->missing_count, p->name));
            continue;
        }
        LCMD_TRY(check_tensor(p, t, file));
        if (p->layout != LCMD_PARAM_PLAIN && (size_t)p->numel > *scratch_numel)
            *scratch_numel = (size_t)p->numel;
    }
    const lcmd_param **sorted = malloc((ps->count ? ps->count : 1) * sizeof *sorted);
    if (!sorted)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "weights: out of memory");
    for (size_t i = 0; i < ps->count; i++)
        sorted[i] = &ps->items[i];
    qsort(sorted, ps->count, sizeof *sorted, cmp_param_ptr);
    lcmd_status s = LCMD_OK;
    for (size_t i = 0; !s && i < lcmd_weights_count(w); i++) {
        const lcmd_st_tensor *t = lcmd_weights_at(w, i, NULL);
        if (!bsearch(t->name, sorted, ps->count, sizeof *sorted, cmp_param_key))
            s = push_name(&r->unexpected, &r->unexpected_count, t->name);
    }
    free(sorted);
    return s;
}

static lcmd_status judge(const lcmd_weights *w, const lcmd_weights_report *r)
{
    char **bad = malloc((r->missing_count ? r->missing_count : 1) * sizeof *bad);
    if (!bad)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "weights: out of memory");
    size_t bad_missing = 0;
    if (!(r->flags & LCMD_WEIGHTS_ALLOW_MISSING))
        for (size_t i = 0; i < r->missing_count; i++)
            if (!name_allowed(r->allow_missing, r->missing[i]))
                bad[bad_missing++] = r->missing[i];
    size_t bad_unexpected = r->flags & LCMD_WEIGHTS_ALLOW_UNEXPECTED ? 0 : r->unexpected_count;
    char missing[400] = "", unexpected[400] = "";
    if (bad_missing) {
        size_t n = (size_t)snprintf(missing, sizeof missing, " %zu missing parameter(s): ", bad_missing);
        if (n < sizeof missing)
            format_names(missing + n, sizeof missing - n, bad, bad_missing);
    }
    free(bad);
    if (bad_unexpected) {
        size_t n = (size_t)snprintf(unexpected, sizeof unexpected, "%s %zu unexpected tensor(s): ",
                                    bad_missing ? ";" : "", bad_unexpected);
        if (n < sizeof unexpected)
            format_names(unexpected + n, sizeof unexpected - n, r->unexpected, bad_unexpected);
    }
    if (!bad_missing && !bad_unexpected)
        return LCMD_OK;
    return lcmd_set_error(LCMD_ERR_FORMAT, "%s:%s%s", lcmd_weights_source(w), missing, unexpected);
}

/* Pass 2: convert every present tensor into the buffer. */
static lcmd_status fill(const lcmd_weights *w, const lcmd_param_set *ps, float *host_buffer, float *scratch,
                        size_t *loaded)
{
    for (size_t i = 0; i < ps->count; i++) {
        const lcmd_param *p = &ps->items[i];
        const lcmd_safetensors *file = NULL;
        const lcmd_st_tensor *t = lcmd_weights_find(w, p->name, &file);
        if (!t)
            continue;
        float *dst = host_buffer + p->offset;
        if (p->layout == LCMD_PARAM_PLAIN) {
            LCMD_TRY(lcmd_safetensors_read_f32(file, p->name, dst, (size_t)p->numel));
        } else {
            LCMD_TRY(lcmd_safetensors_read_f32(file, p->name, scratch, (size_t)p->numel));
            lcmd_param_to_stored(p, scratch, dst);
        }
        lcmd_safetensors_release_pages(file, t);
        (*loaded)++;
    }
    return LCMD_OK;
}

lcmd_status lcmd_weights_load_params(const lcmd_weights *w, const lcmd_param_set *ps, float *host_buffer,
                                     lcmd_weights_report *report)
{
    LCMD_CHECK_ARG(w && ps && (host_buffer || ps->total == 0), "lcmd_weights_load_params", "NULL argument");
    lcmd_weights_report strict = {0};
    lcmd_weights_report *r = report ? report : &strict;
    lcmd_weights_report_free(r);
    size_t scratch_numel = 0;
    lcmd_status s = compare(w, ps, r, &scratch_numel);
    if (!s)
        s = judge(w, r);
    float *scratch = NULL;
    if (!s && scratch_numel && !(scratch = malloc(scratch_numel * sizeof *scratch)))
        s = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", lcmd_weights_source(w));
    if (!s)
        s = fill(w, ps, host_buffer, scratch, &r->loaded);
    free(scratch);
    lcmd_weights_report_free(&strict);
    return s;
}

void lcmd_weights_report_free(lcmd_weights_report *report)
{
    if (!report)
        return;
    for (size_t i = 0; i < report->missing_count; i++)
        free(report->missing[i]);
    for (size_t i = 0; i < report->unexpected_count; i++)
        free(report->unexpected[i]);
    free(report->missing);
    free(report->unexpected);
    report->missing = report->unexpected = NULL;
    report->missing_count = report->unexpected_count = report->loaded = 0;
}

/* ------------------------------------------------------------------- saving */

typedef struct conv_source {
    const lcmd_param *param;
    const float *stored;
} conv_source;

static lcmd_status conv_to_file(void *ctx, float *dst, size_t numel)
{
    const conv_source *c = ctx;
    (void)numel;
    lcmd_param_to_file(c->param, c->stored, dst);
    return LCMD_OK;
}

lcmd_status lcmd_weights_save_params(const char *folder, const lcmd_param_set *ps, const float *host_buffer,
                                     lcmd_st_dtype dtype, const char *base)
{
    LCMD_CHECK_ARG(folder && ps && (host_buffer || ps->total == 0), "lcmd_weights_save_params", "NULL argument");
    if (!base)
        base = LCMD_WEIGHTS_BASE_DIFFUSERS;
    LCMD_CHECK_ARG(lcmd_path_is_plain_name(base), "lcmd_weights_save_params", "%s: base '%s' is not a plain file name",
                   folder, base);
    LCMD_CHECK_ARG(is_float_dtype(dtype), "lcmd_weights_save_params", "%s: dtype %s is not F32, F16, BF16 or F64",
                   folder, lcmd_st_dtype_name(dtype));
    if (mkdir(folder, 0755) != 0 && errno != EEXIST)
        return lcmd_set_error(LCMD_ERR_IO, "%s: cannot create the folder: %s", folder, strerror(errno));
    char name[512];
    if ((size_t)snprintf(name, sizeof name, "%s.safetensors", base) >= sizeof name)
        return lcmd_set_error(LCMD_ERR_INVALID_ARGUMENT, "lcmd_weights_save_params: base '%s' is too long", base);
    char *path = NULL;
    LCMD_TRY(lcmd_path_join(folder, name, &path));
    size_t n = ps->count;
    lcmd_st_write_tensor *tensors = calloc(n ? n : 1, sizeof *tensors);
    conv_source *convs = calloc(n ? n : 1, sizeof *convs);
    lcmd_status s = tensors && convs ? LCMD_OK : lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "%s: out of memory", path);
    for (size_t i = 0; !s && i < n; i++) {
        const lcmd_param *p = &ps->items[i];
        lcmd_st_write_tensor *t = &tensors[i];
        t->name = p->name;
        t->dtype = dtype;
        t->ndim = p->ndim;
        memcpy(t->shape, p->shape, (size_t)p->ndim * sizeof *p->shape);
        if (p->layout == LCMD_PARAM_PLAIN) {
            t->f32 = host_buffer + p->offset;
        } else {
            convs[i].param = p;
            convs[i].stored = host_buffer + p->offset;
            t->source = conv_to_file;
            t->source_ctx = &convs[i];
        }
    }
    static const lcmd_st_metadata_entry metadata[] = {{"format", "pt"}};
    if (!s)
        s = lcmd_safetensors_write(path, tensors, n, metadata, 1);
    free(convs);
    free(tensors);
    free(path);
    return s;
}
