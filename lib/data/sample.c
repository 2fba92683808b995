#include "data/sample.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void lcmd_raw_sample_free(lcmd_raw_sample *s)
{
    if (!s)
        return;
    for (int i = 0; i < LCMD_SLOTS; i++)
        free(s->slot[i].data);
    free(s->key);
    free(s);
}

int lcmd_member_split(const char *path, size_t *key_len, char *ext, size_t extcap)
{
    /* webdataset's metadata rule: a first path component `__*__` (the member itself, or
     * a folder holding it) is skipped; `dir/__x.y__` is an ordinary member */
    const char *slash = strchr(path, '/');
    size_t fl = slash ? (size_t)(slash - path) : strlen(path);
    if (fl >= 4 && path[0] == '_' && path[1] == '_' && path[fl - 1] == '_' && path[fl - 2] == '_')
        return 0;
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strchr(base, '.');
    if (!dot || dot == path)
        return 0;
    *key_len = (size_t)(dot - path);
    const char *e = dot + 1;
    size_t i = 0;
    for (; e[i] && i + 1 < extcap; i++) {
        char c = e[i];
        ext[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    ext[i] = '\0';
    return 1;
}

int lcmd_ext_slot(const char *ext)
{
    static const char *const names[LCMD_SLOTS] = { "jpg", "png", "jpeg", "webp", "text", "txt", "caption", "json" };
    for (int i = 0; i < LCMD_SLOTS; i++)
        if (strcmp(ext, names[i]) == 0)
            return i;
    return -1;
}

static void clear_exts(lcmd_grouper *g)
{
    for (size_t i = 0; i < g->n_exts; i++)
        free(g->exts[i]);
    g->n_exts = 0;
}

lcmd_status lcmd_grouper_begin(lcmd_grouper *g, const char *key, size_t key_len, const char *ext,
                               lcmd_raw_sample **done)
{
    *done = NULL;
    int fresh = g->cur == NULL;
    if (!fresh) {
        if (strlen(g->cur->key) != key_len || memcmp(g->cur->key, key, key_len) != 0)
            fresh = 1;
        for (size_t i = 0; !fresh && i < g->n_exts; i++)
            if (strcmp(g->exts[i], ext) == 0)
                fresh = 1;
    }
    if (fresh) {
        *done = g->cur;
        g->cur = NULL;
        clear_exts(g);
        lcmd_raw_sample *s = calloc(1, sizeof *s);
        char *k = malloc(key_len + 1);
        if (!s || !k) {
            free(s);
            free(k);
            return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "dataset sample");
        }
        memcpy(k, key, key_len);
        k[key_len] = '\0';
        s->key = k;
        g->cur = s;
    }
    if (g->n_exts == g->cap_exts) {
        size_t cap = g->cap_exts ? g->cap_exts * 2 : 8;
        char **p = realloc(g->exts, cap * sizeof *p);
        if (!p)
            return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "dataset sample");
        g->exts = p;
        g->cap_exts = cap;
    }
    char *e = strdup(ext);
    if (!e)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "dataset sample");
    g->exts[g->n_exts++] = e;
    return LCMD_OK;
}

lcmd_raw_sample *lcmd_grouper_current(lcmd_grouper *g)
{
    return g->cur;
}

void lcmd_grouper_flush(lcmd_grouper *g, lcmd_raw_sample **done)
{
    *done = g->cur;
    g->cur = NULL;
    clear_exts(g);
}

void lcmd_grouper_free(lcmd_grouper *g)
{
    lcmd_raw_sample_free(g->cur);
    g->cur = NULL;
    clear_exts(g);
    free(g->exts);
    g->exts = NULL;
    g->cap_exts = 0;
}
