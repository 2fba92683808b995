/* Training progress on the terminal: a redrawn bar on a TTY (step, loss, samples/s,
 * ETA), plain lines otherwise; and the metrics as JSON lines. */
#ifndef LCMD_DISTILL_PROGRESS_H
#define LCMD_DISTILL_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

typedef struct progress {
    FILE *out;
    int tty;
    int64_t total;          /* optimizer steps to reach */
    int64_t start_step;     /* where this run started (resume) */
    double t0;              /* seconds, monotonic */
    double last_print;
    int64_t samples_at_start;
    FILE *metrics;          /* metrics.jsonl, or NULL */
    struct tb_writer *tb;   /* TensorBoard events, or NULL */
} progress;

double progress_now(void);

/* Starts a bar to `total` steps from `start_step`. Metrics go to logs_dir/metrics.jsonl
 * when `jsonl` and to a TensorBoard event file in logs_dir when `tensorboard`.
 * Returns 0, or -1 when a file cannot be opened (errno set; *failed names it). */
int progress_begin(progress *p, int64_t total, int64_t start_step, int64_t samples, const char *logs_dir,
                   int jsonl, int tensorboard, int quiet, const char **failed);

/* One micro-step's report: redraws the bar (TTY) or prints a line every few seconds
 * and on optimizer steps that are multiples of `every`; writes a metrics line. */
void progress_step(progress *p, int64_t step, int64_t micro, int64_t samples, double loss, double grad_norm,
                   double lr, int optimizer_stepped, int skipped);

/* A message above the bar (checkpoint saved, validation results). */
void progress_note(progress *p, const char *fmt, ...);

/* A metrics line of other values: {"event": event, "step": step, key: value...}; keys
 * and values as n pairs. */
void progress_metric(progress *p, const char *event, int64_t step, int n, const char *const *keys, const double *values);

/* A PNG file (height x width) as an image of the metrics at `step` (TensorBoard only). */
void progress_image(progress *p, const char *tag, int64_t step, const char *png_path, int height, int width);

void progress_end(progress *p);

#endif
