/* tb_writer: CRC-32C known answers, and the framing of a written event file (TAP). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tb_writer.h"

static int failures, count;

static void expect(int ok, const char *what)
{
    printf("%s %d - %s\n", ok ? "ok" : "not ok", ++count, what);
    if (!ok) failures++;
}

int main(void)
{
    /* the check value of CRC-32C, and RFC 3720's 32 zero bytes */
    expect(tb_crc32c("123456789", 9) == 0xe3069283u, "crc32c(\"123456789\") = e3069283");
    unsigned char zeros[32] = {0};
    expect(tb_crc32c(zeros, 32) == 0x8a9136aau, "crc32c(32 zero bytes) = 8a9136aa");
    char dir[] = "/tmp/lcmd-tb-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    tb_writer *w = tb_open(dir);
    expect(w != NULL, "open");
    expect(w && tb_scalar(w, "train/loss", 3, 0.25) == 0, "scalar");
    expect(tb_close(w) == 0, "close");
    /* walk the records: each length is framed by its CRC, each payload by its CRC */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ls %s/events.out.tfevents.* > %s/name", dir, dir);
    int records = 0, framed = 1;
    if (system(cmd) == 0) {
        char listing[200], name[512];
        snprintf(listing, sizeof listing, "%s/name", dir);
        FILE *l = fopen(listing, "r");
        if (l && fgets(name, sizeof name, l)) {
            name[strcspn(name, "\n")] = '\0';
            FILE *f = fopen(name, "rb");
            unsigned char head[12];
            while (f && fread(head, 1, 12, f) == 12) {
                unsigned long long n = 0;
                for (int i = 7; i >= 0; i--) n = n << 8 | head[i];
                unsigned char *buf = malloc(n + 4);
                if (!buf || fread(buf, 1, n + 4, f) != n + 4) framed = 0;
                free(buf);
                records++;
            }
            if (f) fclose(f);
            remove(name);
        }
        if (l) fclose(l);
        remove(listing);
    }
    rmdir(dir);
    expect(framed && records == 2, "two framed records (version, scalar)");
    printf("1..%d\n", count);
    return failures ? 1 : 0;
}
