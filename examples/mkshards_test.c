/* Test of lcmd-mkshards as a user runs it: a folder of generated images (PNG and JPEG
 * written with stb_image_write) and captions, including the awkward cases (no caption,
 * caption without image, two images for one name, an empty image, a caption that is not
 * UTF-8, a dotted name, upper-case extensions, a json given), is packed with
 * --maxcount 2 as plain, gzip and zstd shards; each result is streamed with
 * lcmd_dataset and every captioned sample must arrive exactly once with its caption and
 * its json size. Also: the same folder gives byte-identical shards, and usage errors.
 *
 *   mkshards_test PATH/TO/lcmd-mkshards
 * Prints TAP. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stb_image_write.h>

#include <lcmd/lcmd.h>

/** Expected samples: key, caption, and the width / height their json must give. */
typedef struct expected {
    const char *key, *caption;
    int w, h;
} expected;

static const expected k_expected[] = {
    { "a", "a red square", 16, 12 },
    { "b", "caption with emoji \xF0\x9F\x99\x82 and &amp; entity", 999, 777 },
    { "c", "upper-case extension", 20, 30 },
    { "h", "two images: the jpg wins", 24, 18 },
    { "k", "k", 40, 10 },
    { "l", "", 10, 40 },
    { "m", "multi\nline\n", 9, 9 },
};
enum { N_EXPECTED = sizeof k_expected / sizeof k_expected[0] };

typedef struct tap {
    int n, failed;
} tap;

static void ok(tap *t, int cond, const char *what)
{
    t->n++;
    if (!cond)
        t->failed++;
    printf("%sok %d - %s\n", cond ? "" : "not ", t->n, what);
    fflush(stdout);
}

static int write_bytes(const char *dir, const char *name, const void *data, size_t n)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (!f)
        return -1;
    size_t w = n ? fwrite(data, 1, n, f) : 0;
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

static int write_text(const char *dir, const char *name, const char *text)
{
    return write_bytes(dir, name, text, strlen(text));
}

/** A w x h gradient image as PNG (jpg = 0) or JPEG (jpg = 1) file. */
static int write_image(const char *dir, const char *name, int w, int h, int jpg)
{
    unsigned char *px = malloc((size_t)w * (size_t)h * 3);
    if (!px)
        return -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *p = px + 3 * ((size_t)y * (size_t)w + (size_t)x);
            p[0] = (unsigned char)(255 * x / (w > 1 ? w - 1 : 1));
            p[1] = (unsigned char)(255 * y / (h > 1 ? h - 1 : 1));
            p[2] = (unsigned char)((x ^ y) * 16);
        }
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    int r = jpg ? stbi_write_jpg(p, w, h, 3, px, 90) : stbi_write_png(p, w, h, 3, px, w * 3);
    free(px);
    return r ? 0 : -1;
}

static int make_input(const char *dir)
{
    int r = 0;
    r |= write_image(dir, "a.png", 16, 12, 0) | write_text(dir, "a.txt", k_expected[0].caption);
    r |= write_image(dir, "b.jpg", 20, 30, 1) | write_text(dir, "b.txt", k_expected[1].caption);
    r |= write_text(dir, "b.json", "{\"width\": 999, \"height\": 777, \"pwatermark\": 0.1}");
    r |= write_image(dir, "c.JPEG", 20, 30, 1) | write_text(dir, "c.TXT", k_expected[2].caption);
    r |= write_image(dir, "d.png", 8, 8, 0);                                /* no caption */
    r |= write_text(dir, "e.txt", "caption without image");                 /* no image */
    r |= write_image(dir, "f.g.jpg", 8, 8, 1) | write_text(dir, "f.g.txt", "dotted");
    r |= write_image(dir, "h.jpg", 24, 18, 1) | write_image(dir, "h.png", 5, 5, 0);
    r |= write_text(dir, "h.txt", k_expected[3].caption);
    r |= write_bytes(dir, "i.jpg", "", 0) | write_text(dir, "i.txt", "empty image");
    r |= write_image(dir, "j.png", 8, 8, 0) | write_text(dir, "j.txt", "bad \xC3\x28 utf-8");
    r |= write_image(dir, "k.png", 40, 10, 0) | write_text(dir, "k.txt", k_expected[4].caption);
    r |= write_image(dir, "l.jpg", 10, 40, 1) | write_text(dir, "l.txt", k_expected[5].caption);
    r |= write_image(dir, "m.png", 9, 9, 0) | write_text(dir, "m.txt", k_expected[6].caption);
    r |= write_text(dir, "notes.md", "ignored");
    r |= write_text(dir, ".hidden.jpg", "ignored");
    return r;
}

/** Runs argv with stdout and stderr passed through; returns the exit status (-1 if it
 *  could not run or was killed). */
static int run_cmd(char *const argv[])
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        /* keep TAP clean: the tool's report goes to stderr */
        dup2(2, 1);
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static int count_files(const char *dir, const char *suffix)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    int n = 0;
    struct dirent *de;
    size_t sl = strlen(suffix);
    while ((de = readdir(d)) != NULL) {
        size_t l = strlen(de->d_name);
        if (l >= sl && strcmp(de->d_name + l - sl, suffix) == 0)
            n++;
        if (strstr(de->d_name, ".tmp-"))
            n += 1000;  /* a temporary file left behind */
    }
    closedir(d);
    return n;
}

static void quiet(void *user, lcmd_log_level level, const char *msg)
{
    (void)user;
    (void)level;
    if (getenv("LCMD_TEST_LOG"))
        fprintf(stderr, "%s\n", msg);
}

/** Streams the shards in `dir`; checks every expected sample arrives once with its
 *  caption and size, and nothing else. */
static int stream_check(lcmd_context *ctx, const char *dir, int workers)
{
    lcmd_dataset_options o;
    lcmd_dataset_options_init(&o);
    o.shards = dir;
    o.resolution = 8;
    o.batch_size = 1;
    o.shuffle_buffer = 0;
    o.num_workers = workers;
    lcmd_dataset *ds;
    if (lcmd_dataset_create(ctx, &o, &ds) != LCMD_OK) {
        fprintf(stderr, "# dataset_create: %s\n", lcmd_last_error());
        return 0;
    }
    int seen[N_EXPECTED] = { 0 }, good = 1;
    lcmd_batch *b;
    lcmd_status s;
    while ((s = lcmd_dataset_next(ds, &b)) == LCMD_OK) {
        const char *key = lcmd_batch_key(b, 0), *cap = lcmd_batch_caption(b, 0);
        int32_t w = 0, h = 0;
        lcmd_batch_original_size(b, 0, &w, &h);
        int found = 0;
        for (int i = 0; i < N_EXPECTED; i++) {
            if (strcmp(key, k_expected[i].key) != 0)
                continue;
            found = 1;
            seen[i]++;
            if (strcmp(cap, k_expected[i].caption) != 0 || w != k_expected[i].w || h != k_expected[i].h) {
                fprintf(stderr, "# sample %s: caption '%s' size %dx%d\n", key, cap, w, h);
                good = 0;
            }
        }
        if (!found) {
            fprintf(stderr, "# unexpected sample '%s'\n", key);
            good = 0;
        }
        lcmd_batch_destroy(b);
    }
    if (s != LCMD_END_OF_STREAM)
        good = 0;
    lcmd_dataset_stats st;
    st.struct_size = sizeof st;
    lcmd_dataset_get_stats(ds, &st);
    if (st.samples_read != N_EXPECTED || st.truncated_shards || st.shards_failed)
        good = 0;
    lcmd_dataset_destroy(ds);
    for (int i = 0; i < N_EXPECTED; i++)
        if (seen[i] != 1) {
            fprintf(stderr, "# sample %s seen %d times\n", k_expected[i].key, seen[i]);
            good = 0;
        }
    return good;
}

static int same_file(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        int ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb)
            same = 0;
        if (ca == EOF || cb == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return same;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: mkshards_test PATH/TO/lcmd-mkshards\n");
        return 2;
    }
    char *tool = argv[1];
    char root[256];
    snprintf(root, sizeof root, "%s/lcmd-mkshards-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(root)) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    char in[320], empty[320], pat[512], dir[400];
    snprintf(in, sizeof in, "%s/in", root);
    snprintf(empty, sizeof empty, "%s/empty", root);
    printf("1..15\n");
    tap t = { 0, 0 };
    ok(&t, mkdir(in, 0777) == 0 && mkdir(empty, 0777) == 0 && make_input(in) == 0, "input folder written");

    lcmd_context_options co;
    lcmd_context_options_init(&co);
    co.log_fn = quiet;
    lcmd_context *ctx = NULL;
    lcmd_context_create(&co, &ctx);

    static const char *const comp[3] = { "none", "gz", "zst" };
    static const char *const suffix[3] = { ".tar", ".tar.gz", ".tar.zst" };
    for (int c = 0; c < 3; c++) {
        snprintf(dir, sizeof dir, "%s/out-%s", root, comp[c]);
        snprintf(pat, sizeof pat, "%s/sub/shard-%%05d%s", dir, suffix[c]);
        char *args[] = { tool, in, pat, "--maxcount", "2", "--compress", (char *)comp[c], NULL };
        char what[128];
        snprintf(what, sizeof what, "mkshards --compress %s exits 0", comp[c]);
        ok(&t, run_cmd(args) == 0, what);
        snprintf(dir, sizeof dir, "%s/out-%s/sub", root, comp[c]);
        snprintf(what, sizeof what, "%s: 4 shards of at most 2 samples, no temporary file left", comp[c]);
        ok(&t, count_files(dir, suffix[c]) == (N_EXPECTED + 1) / 2, what);
        snprintf(what, sizeof what, "%s: every captioned sample streamed once, with caption and size", comp[c]);
        ok(&t, ctx && stream_check(ctx, dir, c == 2 ? 2 : 0), what);
    }

    /* the same folder again gives the same bytes */
    snprintf(pat, sizeof pat, "%s/again/shard-%%05d.tar", root);
    char *again[] = { tool, in, pat, "--maxcount=2", NULL };
    char a0[600], b0[600];
    snprintf(a0, sizeof a0, "%s/again/shard-00001.tar", root);
    snprintf(b0, sizeof b0, "%s/out-none/sub/shard-00001.tar", root);
    ok(&t, run_cmd(again) == 0 && same_file(a0, b0), "deterministic: identical shard bytes on a second run");

    /* --maxsize: a tiny budget puts every sample in a shard of its own */
    snprintf(pat, sizeof pat, "%s/one/%%d.tar", root);
    char *one[] = { tool, in, pat, "--maxsize", "1", NULL };
    snprintf(dir, sizeof dir, "%s/one", root);
    ok(&t, run_cmd(one) == 0 && count_files(dir, ".tar") == N_EXPECTED, "--maxsize 1: one sample per shard");

    snprintf(pat, sizeof pat, "%s/x/shard.tar", root);
    char *nopat[] = { tool, in, pat, NULL };
    ok(&t, run_cmd(nopat) == 2, "a pattern without %d is a usage error");
    char *badopt[] = { tool, in, "x/%d.tar", "--compress", "lz4", NULL };
    ok(&t, run_cmd(badopt) == 2, "an unknown compression is a usage error");
    snprintf(pat, sizeof pat, "%s/e/%%d.tar", root);
    char *none[] = { tool, empty, pat, NULL };
    ok(&t, run_cmd(none) == 1, "a folder without captioned images exits 1");

    lcmd_context_destroy(ctx);
    if (t.failed == 0) {
        char cmd[400];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
        if (system(cmd) != 0)
            fprintf(stderr, "# could not remove %s\n", root);
    } else {
        fprintf(stderr, "# files kept in %s\n", root);
    }
    return t.failed ? 1 : 0;
}
