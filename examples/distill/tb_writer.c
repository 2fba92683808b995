/* TensorBoard event files (tb_writer.h). Records are TFRecord frames:
 * length (u64 LE), masked CRC-32C of the length, the serialized Event, masked CRC-32C
 * of the data. Debian ships no CRC-32C library, so its table lives here. */
#include "tb_writer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tb_event.pb-c.h"

struct tb_writer {
    FILE *f;
};

static uint32_t crc_table[256];

static void crc_init(void)
{
    if (crc_table[1]) return;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;   /* reflected Castagnoli */
        crc_table[i] = c;
    }
}

uint32_t tb_crc32c(const void *data, size_t n)
{
    crc_init();
    const uint8_t *p = data;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

/* TFRecord's mask keeps CRCs of CRC-bearing data from looking like CRCs */
static uint32_t masked(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

static void le64(uint8_t *b, uint64_t v)
{
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static void le32(uint8_t *b, uint32_t v)
{
    for (int i = 0; i < 4; i++) b[i] = (uint8_t)(v >> (8 * i));
}

static double wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_event(tb_writer *w, const LcmdTb__Event *ev)
{
    size_t n = lcmd_tb__event__get_packed_size(ev);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf) return -1;
    lcmd_tb__event__pack(ev, buf);
    uint8_t head[12], tail[4];
    le64(head, (uint64_t)n);
    le32(head + 8, masked(tb_crc32c(head, 8)));
    le32(tail, masked(tb_crc32c(buf, n)));
    int bad = fwrite(head, 1, 12, w->f) != 12 || fwrite(buf, 1, n, w->f) != n || fwrite(tail, 1, 4, w->f) != 4 ||
              fflush(w->f) != 0;
    free(buf);
    return bad ? -1 : 0;
}

tb_writer *tb_open(const char *dir)
{
    char host[256] = "localhost";
    gethostname(host, sizeof host - 1);
    size_t n = strlen(dir) + strlen(host) + 64;
    char *path = malloc(n);
    tb_writer *w = calloc(1, sizeof *w);
    if (!path || !w) {
        free(path);
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    snprintf(path, n, "%s/events.out.tfevents.%lld.%s", dir, (long long)time(NULL), host);
    w->f = fopen(path, "ab");
    free(path);
    if (!w->f) {
        free(w);
        return NULL;
    }
    LcmdTb__Event ev = LCMD_TB__EVENT__INIT;
    ev.wall_time = wall_time();
    ev.what_case = LCMD_TB__EVENT__WHAT_FILE_VERSION;
    ev.file_version = "brain.Event:2";
    if (write_event(w, &ev)) {
        fclose(w->f);
        free(w);
        return NULL;
    }
    return w;
}

static int write_value(tb_writer *w, int64_t step, LcmdTb__SummaryValue *v)
{
    LcmdTb__SummaryValue *values[1] = {v};
    LcmdTb__Summary sum = LCMD_TB__SUMMARY__INIT;
    sum.n_value = 1;
    sum.value = values;
    LcmdTb__Event ev = LCMD_TB__EVENT__INIT;
    ev.wall_time = wall_time();
    ev.step = step;
    ev.what_case = LCMD_TB__EVENT__WHAT_SUMMARY;
    ev.summary = &sum;
    return write_event(w, &ev);
}

int tb_scalar(tb_writer *w, const char *tag, int64_t step, double value)
{
    LcmdTb__SummaryValue v = LCMD_TB__SUMMARY_VALUE__INIT;
    v.tag = (char *)tag;
    v.value_case = LCMD_TB__SUMMARY_VALUE__VALUE_SIMPLE_VALUE;
    v.simple_value = (float)value;
    return write_value(w, step, &v);
}

int tb_image(tb_writer *w, const char *tag, int64_t step, const void *png, size_t len, int height, int width)
{
    LcmdTb__SummaryImage img = LCMD_TB__SUMMARY_IMAGE__INIT;
    img.height = height;
    img.width = width;
    img.colorspace = 3;
    img.encoded_image_string.data = (uint8_t *)png;
    img.encoded_image_string.len = len;
    LcmdTb__SummaryValue v = LCMD_TB__SUMMARY_VALUE__INIT;
    v.tag = (char *)tag;
    v.value_case = LCMD_TB__SUMMARY_VALUE__VALUE_IMAGE;
    v.image = &img;
    return write_value(w, step, &v);
}

int tb_close(tb_writer *w)
{
    if (!w) return 0;
    int r = fclose(w->f) == 0 ? 0 : -1;
    free(w);
    return r;
}
