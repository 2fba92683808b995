/* lcmd-mkshards: packs a folder of captioned images into WebDataset shards that
 * lcmd_dataset (and the reference's webdataset pipeline) read.
 *
 *   lcmd-mkshards INPUT_DIR OUTPUT_PATTERN [--maxcount N] [--maxsize BYTES]
 *                 [--compress none|gz|zst]
 *
 * INPUT_DIR holds `NAME.jpg|jpeg|png|webp` images (extensions in any case), each with
 * its caption `NAME.txt` (UTF-8) and optionally `NAME.json` (metadata, copied as-is).
 * The folder is not searched recursively; hidden files and other extensions are
 * ignored. Every sample becomes the members `NAME.EXT` (the image bytes as they are,
 * never re-encoded), `NAME.txt` and `NAME.json` of a tar shard; a sample without a json
 * gets one with the image's `width`, `height` (and the same as `original_width`,
 * `original_height`), read from the image header. Samples are written in byte-wise
 * order of NAME, so the same folder always gives the same shards (member times are 0,
 * owners empty, gzip without a timestamp).
 *
 * Reported on stderr and skipped: images without a caption, captions without an image,
 * captions that are not valid UTF-8 (or hold a NUL byte; the reader would skip them),
 * empty or unreadable images, names with a dot in the stem (a reader takes the key up
 * to the first dot, so `a.b.jpg` would not group with `a.b.txt`). When a NAME has
 * several images, the first of jpg, png, jpeg, webp is kept (the reader's order).
 *
 * OUTPUT_PATTERN names shard i, as printf would with one integer: `out/%05d.tar` or
 * `out/shard-%06d.tar.gz` (`%%` is a literal `%`); missing folders are created. A
 * shard closes after --maxcount samples (default 100000) or before the sample that
 * would take its tar over --maxsize bytes (default 3000000000; a larger sample gets a
 * shard of its own). --compress gz or zst compresses each shard (the name is used as
 * given: end it in .tar.gz / .tar.zst for lcmd_dataset's directory listing). Each
 * shard is written to a temporary file beside it and renamed into place once complete.
 *
 * Exit status: 0 when at least one sample was written (skips are not errors), 1 on an
 * I/O error or when no sample could be written, 2 on a usage error. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb_image.h>
#include <webp/decode.h>

#define PROG "lcmd-mkshards"

/* File kinds, images first in the reader's alias order. */
enum kind { K_JPG, K_PNG, K_JPEG, K_WEBP, K_TXT, K_JSON, K_COUNT };
enum { N_IMAGE_KINDS = 4 };
enum compress { C_NONE, C_GZ, C_ZST };

static const char *const kind_ext[K_COUNT] = { "jpg", "png", "jpeg", "webp", "txt", "json" };

/** One input file: its name in INPUT_DIR, the stem (name up to the last dot) and kind. */
typedef struct entry {
    char *name;
    char *stem;
    int kind;
} entry;

/** OUTPUT_PATTERN split around its one integer conversion. */
typedef struct name_pattern {
    char *prefix, *suffix;
    int width;  /**< minimum digits */
    int zero;   /**< pad with zeros (else spaces) */
} name_pattern;

/** Command-line options. */
typedef struct options {
    const char *in_dir;
    const char *pattern;
    long long maxcount;
    long long maxsize;
    int compress;
} options;

/** The shard being written. */
typedef struct shard_out {
    struct archive *a;
    int fd;
    char *final_name;
    char *tmp_name;
    long long count;  /**< samples in this shard */
    long long bytes;  /**< tar bytes so far (headers and padded data, no trailer) */
} shard_out;

/** Counters for the final report. */
typedef struct report {
    long long written, shards, no_caption, no_image, bad_caption, bad_image, unreadable, dotted, duplicates, ignored;
} report;

static void usage(FILE *f)
{
    fprintf(f, "usage: " PROG " INPUT_DIR OUTPUT_PATTERN [--maxcount N] [--maxsize BYTES] "
               "[--compress none|gz|zst]\n"
               "  INPUT_DIR       NAME.jpg|jpeg|png|webp images, each with NAME.txt (caption) and\n"
               "                  optionally NAME.json (metadata)\n"
               "  OUTPUT_PATTERN  shard names with one integer conversion, e.g. out/shard-%%05d.tar\n"
               "  --maxcount N    samples per shard (default 100000)\n"
               "  --maxsize BYTES tar bytes per shard (default 3000000000)\n"
               "  --compress      none (default), gz or zst\n");
}

/** Parses a whole decimal number >= 1 into *v; 0 on anything else. */
static int parse_count(const char *s, long long *v)
{
    if (!s || !*s)
        return 0;
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno || *end || x < 1)
        return 0;
    *v = x;
    return 1;
}

/** Splits `pat` around its single %[0][width]d conversion; 0 (message printed) when it
 *  has none, several, or another conversion. */
static int parse_pattern(const char *pat, name_pattern *np)
{
    size_t n = strlen(pat);
    char *pre = malloc(n + 1), *suf = malloc(n + 1);
    if (!pre || !suf) {
        free(pre);
        free(suf);
        fprintf(stderr, PROG ": out of memory\n");
        return 0;
    }
    size_t lp = 0, ls = 0;
    int seen = 0;
    np->width = 0;
    np->zero = 0;
    for (size_t i = 0; i < n; i++) {
        char *dst = seen ? suf : pre;
        size_t *l = seen ? &ls : &lp;
        if (pat[i] != '%') {
            dst[(*l)++] = pat[i];
            continue;
        }
        i++;
        if (i < n && pat[i] == '%') {
            dst[(*l)++] = '%';
            continue;
        }
        if (seen) {
            fprintf(stderr, PROG ": OUTPUT_PATTERN '%s' has more than one %% conversion\n", pat);
            goto bad;
        }
        if (i < n && pat[i] == '0') {
            np->zero = 1;
            i++;
        }
        int w = 0;
        while (i < n && pat[i] >= '0' && pat[i] <= '9' && w < 100)
            w = w * 10 + (pat[i++] - '0');
        if (i >= n || pat[i] != 'd' || w >= 100) {
            fprintf(stderr, PROG ": OUTPUT_PATTERN '%s': only %%d, %%Nd or %%0Nd conversions are accepted\n", pat);
            goto bad;
        }
        np->width = w;
        seen = 1;
    }
    if (!seen) {
        fprintf(stderr, PROG ": OUTPUT_PATTERN '%s' needs a %%d (e.g. out/shard-%%05d.tar)\n", pat);
        goto bad;
    }
    pre[lp] = '\0';
    suf[ls] = '\0';
    np->prefix = pre;
    np->suffix = suf;
    return 1;
bad:
    free(pre);
    free(suf);
    return 0;
}

/** The name of shard `i` (malloc'd), NULL when out of memory. */
static char *shard_name(const name_pattern *np, long long i)
{
    char num[128];
    if (np->zero)
        snprintf(num, sizeof num, "%0*lld", np->width, i);
    else
        snprintf(num, sizeof num, "%*lld", np->width, i);
    size_t n = strlen(np->prefix) + strlen(num) + strlen(np->suffix) + 1;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", np->prefix, num, np->suffix);
    return s;
}

/** Creates the folders leading to `path` (like mkdir -p of its dirname); 0 on success. */
static int make_parents(const char *path)
{
    char *p = strdup(path);
    if (!p)
        return -1;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, PROG ": cannot create folder '%s': %s\n", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    free(p);
    return 0;
}

/** 1 when s[0..n) is well-formed UTF-8 without NUL bytes (Python's strict decoder). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
            min = 0x10000;
        } else {
            return 0;
        }
        if (n - i < (size_t)len)
            return 0;
        for (int k = 1; k < len; k++) {
            if ((s[i + (size_t)k] & 0xC0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + (size_t)k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

/** Reads a whole file (malloc'd, *len set); NULL with a message on failure. Files of
 *  2 GiB or more are refused (image headers are read through int-sized APIs). */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, PROG ": cannot open '%s': %s\n", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 || sb.st_size >= INT_MAX) {
        fprintf(stderr, PROG ": '%s': cannot size the file or it is 2 GiB or more\n", path);
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf) {
        fprintf(stderr, PROG ": out of memory reading '%s'\n", path);
        fclose(f);
        return NULL;
    }
    size_t got = fread(buf, 1, n, f);
    int err = ferror(f);
    fclose(f);
    if (got != n || err) {
        fprintf(stderr, PROG ": read error on '%s' (file changed while reading?)\n", path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

/** Image size from the header bytes; 0 with *why set when it cannot be read. */
static int image_size(const unsigned char *data, size_t n, int kind, int *w, int *h, const char **why)
{
    if (n == 0) {
        *why = "empty file";
        return 0;
    }
    int comp;
    if (stbi_info_from_memory(data, (int)n, w, h, &comp) && *w > 0 && *h > 0)
        return 1;
    /* stb_image does not read WebP; the reader decodes it with libwebp */
    if (WebPGetInfo(data, n, w, h) && *w > 0 && *h > 0)
        return 1;
    const char *r = stbi_failure_reason();
    *why = kind == K_WEBP ? "not a readable WebP" : (r ? r : "unknown image format");
    return 0;
}

/** Joins folder and file name (malloc'd). */
static char *join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s/%s", dir, name);
    return s;
}

static int cmp_entry(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    int c = strcmp(a->stem, b->stem);
    if (c)
        return c;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return strcmp(a->name, b->name);
}

static void free_entries(entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].name);
        free(e[i].stem);
    }
    free(e);
}

/** Lists the regular files of `dir` with a known extension, sorted by (stem, kind,
 *  name). Returns 0 on success (*out, *n set), -1 on an error (printed). */
static int list_inputs(const char *dir, entry **out, size_t *n, report *rep)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, PROG ": cannot open folder '%s': %s\n", dir, strerror(errno));
        return -1;
    }
    entry *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *nm = de->d_name;
        if (nm[0] == '.')
            continue;
        const char *dot = strrchr(nm, '.');
        if (!dot || dot == nm || !dot[1])
            continue;
        char ext[8];
        size_t el = strlen(dot + 1);
        int kind = -1;
        if (el < sizeof ext) {
            for (size_t i = 0; i <= el; i++) {
                char c = dot[1 + i];
                ext[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
            }
            for (int k = 0; k < K_COUNT; k++)
                if (strcmp(ext, kind_ext[k]) == 0)
                    kind = k;
        }
        if (kind < 0) {
            rep->ignored++;
            continue;
        }
        char *full = join(dir, nm);
        struct stat sb;
        int regular = full && stat(full, &sb) == 0 && S_ISREG(sb.st_mode);
        free(full);
        if (!regular) {
            rep->ignored++;
            continue;
        }
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 256;
            entry *nv = realloc(v, nc * sizeof *nv);
            if (!nv) {
                rc = -1;
                break;
            }
            v = nv;
            cap = nc;
        }
        entry *e = &v[cnt];
        e->name = strdup(nm);
        e->stem = strndup(nm, (size_t)(dot - nm));
        e->kind = kind;
        if (!e->name || !e->stem) {
            free(e->name);
            free(e->stem);
            rc = -1;
            break;
        }
        cnt++;
    }
    closedir(d);
    if (rc != 0) {
        fprintf(stderr, PROG ": out of memory listing '%s'\n", dir);
        free_entries(v, cnt);
        return -1;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_entry);
    *out = v;
    *n = cnt;
    return 0;
}

/** Adds one member; 0 on success. */
static int add_member(shard_out *so, const char *name, const void *data, size_t len)
{
    struct archive_entry *e = archive_entry_new();
    if (!e) {
        fprintf(stderr, PROG ": out of memory\n");
        return -1;
    }
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, 0, 0);
    int r = archive_write_header(so->a, e);
    archive_entry_free(e);
    if (r == ARCHIVE_WARN) {
        fprintf(stderr, PROG ": %s: member '%s': %s\n", so->final_name, name, archive_error_string(so->a));
    } else if (r != ARCHIVE_OK) {
        fprintf(stderr, PROG ": %s: cannot write member '%s': %s\n", so->final_name, name,
                archive_error_string(so->a));
        return -1;
    }
    if (len > 0 && archive_write_data(so->a, data, len) != (la_ssize_t)len) {
        fprintf(stderr, PROG ": %s: cannot write member '%s': %s\n", so->final_name, name,
                archive_error_string(so->a));
        return -1;
    }
    so->bytes += 512 + (long long)((len + 511) / 512 * 512);
    return 0;
}

/** Drops an unfinished shard: the temporary file is removed. */
static void shard_abort(shard_out *so)
{
    if (so->a) {
        archive_write_free(so->a);  /* also closes; output goes to the doomed temp file */
        so->a = NULL;
    }
    if (so->fd >= 0) {
        close(so->fd);
        so->fd = -1;
    }
    if (so->tmp_name) {
        unlink(so->tmp_name);
        free(so->tmp_name);
        so->tmp_name = NULL;
    }
    free(so->final_name);
    so->final_name = NULL;
}

/** Starts shard `index` in a temporary file beside its final name; 0 on success. */
static int shard_begin(shard_out *so, const name_pattern *np, long long index, int compress)
{
    memset(so, 0, sizeof *so);
    so->fd = -1;
    so->final_name = shard_name(np, index);
    if (!so->final_name || make_parents(so->final_name) != 0)
        goto fail;
    size_t tl = strlen(so->final_name) + 16;
    so->tmp_name = malloc(tl);
    if (!so->tmp_name)
        goto fail;
    snprintf(so->tmp_name, tl, "%s.tmp-XXXXXX", so->final_name);
    so->fd = mkstemp(so->tmp_name);
    if (so->fd < 0) {
        fprintf(stderr, PROG ": cannot create '%s': %s\n", so->tmp_name, strerror(errno));
        free(so->tmp_name);
        so->tmp_name = NULL;
        goto fail;
    }
    /* mkstemp makes the file 0600; give it the mode a plain create would */
    mode_t um = umask(0);
    umask(um);
    if (fchmod(so->fd, 0666 & ~um) != 0)
        fprintf(stderr, PROG ": warning: cannot set the mode of '%s': %s\n", so->tmp_name, strerror(errno));
    so->a = archive_write_new();
    if (!so->a)
        goto fail;
    int r = archive_write_set_format_pax_restricted(so->a);
    if (r == ARCHIVE_OK && compress == C_GZ) {
        r = archive_write_add_filter_gzip(so->a);
        if (r == ARCHIVE_OK)
            r = archive_write_set_filter_option(so->a, "gzip", "timestamp", NULL);
    } else if (r == ARCHIVE_OK && compress == C_ZST) {
        r = archive_write_add_filter_zstd(so->a);
    }
    if (r == ARCHIVE_OK)
        r = archive_write_open_fd(so->a, so->fd);
    if (r != ARCHIVE_OK) {
        fprintf(stderr, PROG ": cannot start shard '%s': %s\n", so->final_name, archive_error_string(so->a));
        goto fail;
    }
    return 0;
fail:
    if (!so->final_name)
        fprintf(stderr, PROG ": out of memory\n");
    shard_abort(so);
    return -1;
}

/** Finishes the shard and renames it into place; 0 on success (else removed). */
static int shard_finish(shard_out *so)
{
    if (archive_write_close(so->a) != ARCHIVE_OK) {
        fprintf(stderr, PROG ": cannot finish shard '%s': %s\n", so->final_name, archive_error_string(so->a));
        shard_abort(so);
        return -1;
    }
    archive_write_free(so->a);
    so->a = NULL;
    if (fsync(so->fd) != 0 || close(so->fd) != 0) {
        fprintf(stderr, PROG ": cannot write '%s': %s\n", so->tmp_name, strerror(errno));
        so->fd = -1;
        shard_abort(so);
        return -1;
    }
    so->fd = -1;
    if (rename(so->tmp_name, so->final_name) != 0) {
        fprintf(stderr, PROG ": cannot rename '%s' to '%s': %s\n", so->tmp_name, so->final_name, strerror(errno));
        shard_abort(so);
        return -1;
    }
    free(so->tmp_name);
    so->tmp_name = NULL;
    free(so->final_name);
    so->final_name = NULL;
    return 0;
}

/** A sample ready to write: the chosen files' bytes and the member names. */
typedef struct sample {
    const char *key;
    unsigned char *image, *caption, *json;
    size_t image_len, caption_len, json_len;
    const char *image_ext;
    char gen_json[160];
} sample;

static void sample_free(sample *s)
{
    free(s->image);
    free(s->caption);
    free(s->json);
    memset(s, 0, sizeof *s);
}

/** Tar bytes the sample takes (headers and padded data). */
static long long sample_bytes(const sample *s)
{
    size_t j = s->json ? s->json_len : strlen(s->gen_json);
    return 3 * 512 + (long long)((s->image_len + 511) / 512 * 512) + (long long)((s->caption_len + 511) / 512 * 512) +
           (long long)((j + 511) / 512 * 512);
}

/** Loads the group e[0..n) (one stem) into *s. Returns 1 ready, 0 skipped (reported),
 *  -1 out of memory. */
static int load_sample(const char *dir, const entry *e, size_t n, sample *s, report *rep)
{
    memset(s, 0, sizeof *s);
    const entry *by_kind[K_COUNT] = { NULL };
    for (size_t i = 0; i < n; i++) {
        if (by_kind[e[i].kind]) {
            fprintf(stderr, PROG ": '%s' ignored: '%s' has the same name and kind\n", e[i].name,
                    by_kind[e[i].kind]->name);
            rep->duplicates++;
            continue;
        }
        by_kind[e[i].kind] = &e[i];
    }
    const entry *img = NULL;
    for (int k = 0; k < N_IMAGE_KINDS; k++) {
        if (!by_kind[k])
            continue;
        if (!img) {
            img = by_kind[k];
        } else {
            fprintf(stderr, PROG ": '%s' ignored: '%s' is the sample's image (jpg, png, jpeg, webp order)\n",
                    by_kind[k]->name, img->name);
            rep->duplicates++;
        }
    }
    const entry *txt = by_kind[K_TXT], *js = by_kind[K_JSON];
    const char *stem = e[0].stem;
    if (strchr(stem, '.')) {
        fprintf(stderr, PROG ": '%s' skipped: the name has a dot before the extension (readers take the key up "
                        "to the first dot); rename it\n", stem);
        rep->dotted++;
        return 0;
    }
    if (!img) {
        if (txt) {
            fprintf(stderr, PROG ": '%s' skipped: caption without an image\n", txt->name);
            rep->no_image++;
        } else {
            rep->ignored++;  /* a lone json */
        }
        return 0;
    }
    if (!txt) {
        fprintf(stderr, PROG ": '%s' skipped: no caption (%s.txt)\n", img->name, stem);
        rep->no_caption++;
        return 0;
    }
    s->key = stem;
    s->image_ext = kind_ext[img->kind];
    int rc = 0;
    char *p = join(dir, img->name);
    if (!p)
        return -1;
    s->image = read_file(p, &s->image_len);
    free(p);
    int w = 0, h = 0;
    const char *why = NULL;
    if (!s->image) {
        rep->unreadable++;
        goto skip;
    }
    if (!image_size(s->image, s->image_len, img->kind, &w, &h, &why)) {
        fprintf(stderr, PROG ": '%s' skipped: %s\n", img->name, why);
        rep->bad_image++;
        goto skip;
    }
    p = join(dir, txt->name);
    if (!p) {
        rc = -1;
        goto skip;
    }
    s->caption = read_file(p, &s->caption_len);
    free(p);
    if (!s->caption) {
        rep->unreadable++;
        goto skip;
    }
    if (!utf8_ok(s->caption, s->caption_len)) {
        fprintf(stderr, PROG ": '%s' skipped: caption is not valid UTF-8 or holds a NUL byte\n", txt->name);
        rep->bad_caption++;
        goto skip;
    }
    if (js) {
        p = join(dir, js->name);
        if (!p) {
            rc = -1;
            goto skip;
        }
        s->json = read_file(p, &s->json_len);
        free(p);
        if (!s->json) {
            rep->unreadable++;
            goto skip;
        }
    } else {
        snprintf(s->gen_json, sizeof s->gen_json,
                 "{\"width\": %d, \"height\": %d, \"original_width\": %d, \"original_height\": %d}", w, h, w, h);
    }
    return 1;
skip:
    sample_free(s);
    return rc;
}

/** Writes the sample's members into the shard; 0 on success. */
static int write_sample(shard_out *so, const sample *s)
{
    size_t kl = strlen(s->key);
    char *name = malloc(kl + 8);
    if (!name) {
        fprintf(stderr, PROG ": out of memory\n");
        return -1;
    }
    int r;
    snprintf(name, kl + 8, "%s.%s", s->key, s->image_ext);
    r = add_member(so, name, s->image, s->image_len);
    snprintf(name, kl + 8, "%s.txt", s->key);
    if (r == 0)
        r = add_member(so, name, s->caption, s->caption_len);
    snprintf(name, kl + 8, "%s.json", s->key);
    if (r == 0)
        r = s->json ? add_member(so, name, s->json, s->json_len) : add_member(so, name, s->gen_json, strlen(s->gen_json));
    free(name);
    if (r == 0)
        so->count++;
    return r;
}

/** Parses argv into *o; 0 on success, 2 on a usage error (printed), 1 for --help. */
static int parse_args(int argc, char **argv, options *o)
{
    o->in_dir = o->pattern = NULL;
    o->maxcount = 100000;
    o->maxsize = 3000000000LL;
    o->compress = C_NONE;
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 1;
        }
        if (strncmp(a, "--", 2) == 0) {
            const char *eq = strchr(a, '=');
            size_t nl = eq ? (size_t)(eq - a) : strlen(a);
            const char *val = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
            if (nl == 10 && strncmp(a, "--maxcount", nl) == 0) {
                if (!parse_count(val, &o->maxcount)) {
                    fprintf(stderr, PROG ": --maxcount needs a whole number >= 1\n");
                    return 2;
                }
            } else if (nl == 9 && strncmp(a, "--maxsize", nl) == 0) {
                if (!parse_count(val, &o->maxsize)) {
                    fprintf(stderr, PROG ": --maxsize needs a whole number of bytes >= 1\n");
                    return 2;
                }
            } else if (nl == 10 && strncmp(a, "--compress", nl) == 0) {
                if (val && strcmp(val, "none") == 0)
                    o->compress = C_NONE;
                else if (val && strcmp(val, "gz") == 0)
                    o->compress = C_GZ;
                else if (val && strcmp(val, "zst") == 0)
                    o->compress = C_ZST;
                else {
                    fprintf(stderr, PROG ": --compress takes none, gz or zst\n");
                    return 2;
                }
            } else {
                fprintf(stderr, PROG ": unknown option '%s'\n", a);
                usage(stderr);
                return 2;
            }
            continue;
        }
        if (npos == 0)
            o->in_dir = a;
        else if (npos == 1)
            o->pattern = a;
        else {
            fprintf(stderr, PROG ": unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
        npos++;
    }
    if (npos != 2) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/** Closes the open shard, prints its line and counts it; 0 on success. */
static int close_shard(shard_out *so, report *rep)
{
    long long cnt = so->count, bytes = so->bytes;
    char *nm = strdup(so->final_name);
    int r = shard_finish(so);
    if (r == 0) {
        printf("%s: %lld samples, %lld tar bytes\n", nm ? nm : "shard", cnt, bytes);
        rep->shards++;
    }
    free(nm);
    return r;
}

/** Writes every sample of the sorted entries; returns the exit status. */
static int run(const options *o, const name_pattern *np, const entry *e, size_t n, report *rep)
{
    shard_out so;
    memset(&so, 0, sizeof so);
    so.fd = -1;
    int open_shard = 0, status = 0;
    for (size_t i = 0; i < n && status == 0;) {
        size_t j = i + 1;
        while (j < n && strcmp(e[j].stem, e[i].stem) == 0)
            j++;
        sample s;
        int r = load_sample(o->in_dir, e + i, j - i, &s, rep);
        i = j;
        if (r < 0) {
            fprintf(stderr, PROG ": out of memory\n");
            status = 1;
            break;
        }
        if (r == 0)
            continue;
        if (open_shard && (so.count >= o->maxcount || so.bytes + sample_bytes(&s) > o->maxsize)) {
            open_shard = 0;
            if (close_shard(&so, rep) != 0)
                status = 1;
        }
        if (status == 0 && !open_shard) {
            if (shard_begin(&so, np, rep->shards, o->compress) != 0)
                status = 1;
            else
                open_shard = 1;
        }
        if (status == 0) {
            if (write_sample(&so, &s) != 0)
                status = 1;
            else
                rep->written++;
        }
        sample_free(&s);
    }
    if (open_shard) {
        if (status != 0)
            shard_abort(&so);
        else if (close_shard(&so, rep) != 0)
            status = 1;
    }
    return status;
}

int main(int argc, char **argv)
{
    options o;
    int pr = parse_args(argc, argv, &o);
    if (pr != 0)
        return pr == 1 ? 0 : 2;
    name_pattern np;
    if (!parse_pattern(o.pattern, &np))
        return 2;
    /* member names are written in the locale's encoding (pax headers hold UTF-8) */
    setlocale(LC_CTYPE, "");
    report rep;
    memset(&rep, 0, sizeof rep);
    entry *e = NULL;
    size_t n = 0;
    if (list_inputs(o.in_dir, &e, &n, &rep) != 0) {
        free(np.prefix);
        free(np.suffix);
        return 1;
    }
    int status = run(&o, &np, e, n, &rep);
    free_entries(e, n);
    if (status == 0 && rep.written == 0) {
        fprintf(stderr, PROG ": no sample written: '%s' holds no image with a caption\n", o.in_dir);
        status = 1;
    }
    if (status == 0) {
        /* a longer earlier run into the same pattern leaves shards that readers would mix in */
        char *next = shard_name(&np, rep.shards);
        struct stat sb;
        if (next && stat(next, &sb) == 0)
            fprintf(stderr, PROG ": note: '%s' (and maybe more) is left from an earlier run; not removed\n", next);
        free(next);
    }
    printf("%lld samples in %lld shards; skipped: %lld without caption, %lld captions without image, %lld "
           "captions not UTF-8, %lld images without a readable header, %lld unreadable files, %lld dotted names; "
           "ignored: %lld duplicates, %lld other files\n",
           rep.written, rep.shards, rep.no_caption, rep.no_image, rep.bad_caption, rep.bad_image, rep.unreadable,
           rep.dotted, rep.duplicates, rep.ignored);
    free(np.prefix);
    free(np.suffix);
    return status;
}
