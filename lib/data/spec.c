#include "data/spec.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"

#define MAX_EXPANSION ((size_t)1 << 22)  /* names one spec may expand to */

lcmd_status lcmd_strlist_push(lcmd_strlist *l, const char *s, size_t len)
{
    if (l->n >= MAX_EXPANSION)
        return lcmd_set_error(LCMD_ERR_FORMAT, "shard spec expands to more than %zu names", MAX_EXPANSION);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->items, cap * sizeof *p);
        if (!p)
            return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "shard list");
        l->items = p;
        l->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "shard list");
    memcpy(c, s, len);
    c[len] = '\0';
    l->items[l->n++] = c;
    return LCMD_OK;
}

void lcmd_strlist_free(lcmd_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->items[i]);
    free(l->items);
    l->items = NULL;
    l->n = l->cap = 0;
}

/* Parses a decimal integer filling [s, e) exactly, optional leading '-'. */
static int parse_int(const char *s, const char *e, int64_t *v, int *width, int *zero_pad)
{
    const char *p = s;
    int neg = 0;
    if (p < e && *p == '-') {
        neg = 1;
        p++;
    }
    if (p == e || e - p > 15)
        return 0;
    int64_t x = 0;
    for (const char *q = p; q < e; q++) {
        if (*q < '0' || *q > '9')
            return 0;
        x = x * 10 + (*q - '0');
    }
    *v = neg ? -x : x;
    *width = (int)(e - s);
    *zero_pad = (e - p > 1 && *p == '0');
    return 1;
}

/* Expands prefix + alternatives of the first brace of `rest` + the rest, recursively. */
static lcmd_status expand_rec(const char *prefix, size_t plen, const char *rest, size_t rlen,
                              lcmd_strlist *out, const char *whole)
{
    const char *open = memchr(rest, '{', rlen);
    if (!open) {
        char *buf = malloc(plen + rlen + 1);
        if (!buf)
            return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "shard spec");
        memcpy(buf, prefix, plen);
        memcpy(buf + plen, rest, rlen);
        lcmd_status s = lcmd_strlist_push(out, buf, plen + rlen);
        free(buf);
        return s;
    }
    const char *end = rest + rlen;
    const char *close = memchr(open, '}', (size_t)(end - open));
    if (!close)
        return lcmd_set_error(LCMD_ERR_FORMAT, "shard spec '%s': '{' without '}'", whole);
    const char *inner = open + 1;
    if (memchr(inner, '{', (size_t)(close - inner)))
        return lcmd_set_error(LCMD_ERR_FORMAT, "shard spec '%s': nested braces are not supported", whole);
    size_t head = (size_t)(open - rest);
    size_t tail_len = (size_t)(end - close - 1);
    /* new prefix = prefix + head + alternative */
    size_t cap = plen + head + (size_t)(close - inner) + 32;
    char *np = malloc(cap);
    if (!np)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "shard spec");
    memcpy(np, prefix, plen);
    memcpy(np + plen, rest, head);
    size_t base = plen + head;
    lcmd_status st = LCMD_OK;
    const char *dots = NULL;
    for (const char *q = inner; q + 1 < close; q++)
        if (q[0] == '.' && q[1] == '.') {
            dots = q;
            break;
        }
    if (dots) {
        int64_t a, b;
        int wa, wb, za, zb;
        if (!parse_int(inner, dots, &a, &wa, &za) || !parse_int(dots + 2, close, &b, &wb, &zb)) {
            free(np);
            return lcmd_set_error(LCMD_ERR_FORMAT, "shard spec '%s': bad range '{%.*s}'", whole,
                                  (int)(close - inner), inner);
        }
        int width = (za || zb) ? (wa > wb ? wa : wb) : 0;
        int64_t step = a <= b ? 1 : -1;
        for (int64_t v = a;; v += step) {
            int n = snprintf(np + base, cap - base, "%0*" PRId64, width, v);
            st = expand_rec(np, base + (size_t)n, close + 1, tail_len, out, whole);
            if (st != LCMD_OK || v == b)
                break;
        }
    } else {
        const char *p = inner;
        for (;;) {
            const char *comma = memchr(p, ',', (size_t)(close - p));
            const char *e = comma ? comma : close;
            memcpy(np + base, p, (size_t)(e - p));
            st = expand_rec(np, base + (size_t)(e - p), close + 1, tail_len, out, whole);
            if (st != LCMD_OK || !comma)
                break;
            p = comma + 1;
        }
    }
    free(np);
    return st;
}

lcmd_status lcmd_brace_expand(const char *s, size_t len, lcmd_strlist *out)
{
    char *whole = malloc(len + 1);
    if (!whole)
        return lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "shard spec");
    memcpy(whole, s, len);
    whole[len] = '\0';
    lcmd_status st = expand_rec("", 0, s, len, out, whole);
    free(whole);
    return st;
}

static int has_shard_suffix(const char *name)
{
    static const char *const suffixes[] = { ".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd" };
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++) {
        size_t k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0)
            return 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static lcmd_status list_directory(const char *dir, lcmd_strlist *out)
{
    DIR *d = opendir(dir);
    if (!d)
        return lcmd_set_error(LCMD_ERR_IO, "shard directory '%s': %s", dir, strerror(errno));
    lcmd_strlist names = { 0 };
    lcmd_status st = LCMD_OK;
    struct dirent *e;
    while (st == LCMD_OK && (e = readdir(d)) != NULL)
        if (e->d_name[0] != '.' && has_shard_suffix(e->d_name))
            st = lcmd_strlist_push(&names, e->d_name, strlen(e->d_name));
    closedir(d);
    if (st == LCMD_OK && names.n == 0)
        st = lcmd_set_error(LCMD_ERR_IO, "shard directory '%s' holds no .tar, .tar.gz, .tgz or .tar.zst file", dir);
    if (st == LCMD_OK) {
        qsort(names.items, names.n, sizeof *names.items, cmp_str);
        size_t dl = strlen(dir);
        int slash = dl > 0 && dir[dl - 1] == '/';
        for (size_t i = 0; st == LCMD_OK && i < names.n; i++) {
            size_t nl = strlen(names.items[i]);
            char *p = malloc(dl + nl + 2);
            if (!p) {
                st = lcmd_set_error(LCMD_ERR_OUT_OF_MEMORY, "shard list");
                break;
            }
            memcpy(p, dir, dl);
            if (!slash)
                p[dl] = '/';
            memcpy(p + dl + !slash, names.items[i], nl + 1);
            st = lcmd_strlist_push(out, p, strlen(p));
            free(p);
        }
    }
    lcmd_strlist_free(&names);
    return st;
}

lcmd_status lcmd_shards_expand(const char *spec, lcmd_strlist *out)
{
    const char *p = spec;
    for (;;) {
        const char *sep = strstr(p, "::");
        size_t len = sep ? (size_t)(sep - p) : strlen(p);
        while (len > 0 && (*p == ' ' || *p == '\t' || *p == '\n')) {
            p++;
            len--;
        }
        while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t' || p[len - 1] == '\n'))
            len--;
        if (len == 0)
            return lcmd_set_error(LCMD_ERR_FORMAT, "shard spec '%s': empty element", spec);
        lcmd_strlist names = { 0 };
        lcmd_status st = lcmd_brace_expand(p, len, &names);
        for (size_t i = 0; st == LCMD_OK && i < names.n; i++) {
            const char *nm = names.items[i];
            struct stat sb;
            if (strncmp(nm, "pipe:", 5) != 0 && stat(nm, &sb) == 0 && S_ISDIR(sb.st_mode))
                st = list_directory(nm, out);
            else
                st = lcmd_strlist_push(out, nm, strlen(nm));
        }
        lcmd_strlist_free(&names);
        if (st != LCMD_OK)
            return st;
        if (!sep)
            return LCMD_OK;
        p = sep + 2;
    }
}
