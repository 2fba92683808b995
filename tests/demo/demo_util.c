#define _XOPEN_SOURCE 700
#include "demo_util.h"

#include <check.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

lcmd_context *demo_ctx(void)
{
    lcmd_context_options o;
    lcmd_context_options_init(&o);
    o.num_threads = 2;
    o.log_level = LCMD_LOG_WARN;
    lcmd_context *ctx = NULL;
    ck_assert_msg(lcmd_context_create(&o, &ctx) == LCMD_OK, "%s", lcmd_last_error());
    return ctx;
}

char *temp_folder(void)
{
    const char *tmp = getenv("TMPDIR");
    char buf[512];
    snprintf(buf, sizeof buf, "%s/lcmd-demo-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    ck_assert_ptr_nonnull(mkdtemp(buf));
    return strdup(buf);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void rm_tree(const char *path)
{
    nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *p = malloc((size_t)len + 1);
    *n = p ? fread(p, 1, (size_t)len, f) : 0;
    fclose(f);
    return p;
}

/* nftw has no user pointer: the tree compared against */
static const char *g_root_a, *g_root_b;
static int g_same;

static int cmp_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (flag != FTW_F) return 0;
    char other[1024];
    snprintf(other, sizeof other, "%s%s", g_root_b, path + strlen(g_root_a));
    size_t na = 0, nb = 0;
    char *a = slurp(path, &na), *b = slurp(other, &nb);
    if (!a || !b || na != nb || memcmp(a, b, na) != 0) {
        g_same = 0;
    }
    free(a);
    free(b);
    return 0;
}

static int count_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path;
    (void)sb;
    (void)ftw;
    if (flag == FTW_F) g_same++;
    return 0;
}

int same_tree(const char *a, const char *b)
{
    g_same = 0;
    nftw(a, count_one, 16, FTW_PHYS);
    int na = g_same;
    g_same = 0;
    nftw(b, count_one, 16, FTW_PHYS);
    if (na != g_same || na == 0) return 0;
    g_root_a = a;
    g_root_b = b;
    g_same = 1;
    nftw(a, cmp_one, 16, FTW_PHYS);
    return g_same;
}

int all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i])) return 0;
    return 1;
}
