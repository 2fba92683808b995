/* TensorBoard event files: scalars and PNG images as Event records (protobuf-c) in
 * TFRecord framing, in `events.out.tfevents.TIME.HOST` under a folder, so that
 * `tensorboard --logdir` and its readers show the run. */
#ifndef LCMD_DISTILL_TB_WRITER_H
#define LCMD_DISTILL_TB_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct tb_writer tb_writer;

/* Creates the event file in `dir` (which must exist) and writes its version record.
 * Returns NULL with errno set on failure. */
tb_writer *tb_open(const char *dir);

/* One scalar at `step`. Returns 0, or -1 on a write error. */
int tb_scalar(tb_writer *w, const char *tag, int64_t step, double value);

/* One image (PNG bytes of a height x width RGB picture) at `step`. */
int tb_image(tb_writer *w, const char *tag, int64_t step, const void *png, size_t len, int height, int width);

/* Flushes and closes; NULL is a no-op. Returns 0, or -1 when the final flush failed. */
int tb_close(tb_writer *w);

/* CRC-32C (Castagnoli) of n bytes, as TFRecord frames use it (before masking). */
uint32_t tb_crc32c(const void *data, size_t n);

#endif
