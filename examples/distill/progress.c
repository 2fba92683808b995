/* The progress bar, plain progress lines and metrics.jsonl. */
#include "progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tb_writer.h"

double progress_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double wall_time(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int progress_begin(progress *p, int64_t total, int64_t start_step, int64_t samples, const char *logs_dir,
                   int jsonl, int tensorboard, int quiet, const char **failed)
{
    p->out = stderr;
    p->tty = !quiet && isatty(fileno(stderr));
    p->total = total;
    p->start_step = start_step;
    p->samples_at_start = samples;
    p->t0 = progress_now();
    p->last_print = 0;
    p->metrics = NULL;
    p->tb = NULL;
    *failed = NULL;
    if (jsonl) {
        size_t n = strlen(logs_dir) + 32;
        char *path = malloc(n);
        if (path) {
            snprintf(path, n, "%s/metrics.jsonl", logs_dir);
            p->metrics = fopen(path, "a");
            free(path);
        }
        if (!p->metrics) {
            *failed = "metrics.jsonl";
            return -1;
        }
    }
    if (tensorboard && !(p->tb = tb_open(logs_dir))) {
        *failed = "the TensorBoard event file";
        return -1;
    }
    return 0;
}

static void fmt_eta(double s, char *buf, size_t n)
{
    if (!isfinite(s) || s < 0) {
        snprintf(buf, n, "?");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
}

void progress_step(progress *p, int64_t step, int64_t micro, int64_t samples, double loss, double grad_norm,
                   double lr, int optimizer_stepped, int skipped)
{
    double now = progress_now(), el = now - p->t0;
    double rate = el > 0 ? (double)(samples - p->samples_at_start) / el : 0;
    double per_step = step > p->start_step ? el / (double)(step - p->start_step) : NAN;
    char eta[32];
    fmt_eta(per_step * (double)(p->total - step), eta, sizeof eta);
    if (p->metrics) {
        fprintf(p->metrics,
                "{\"event\": \"train\", \"step\": %lld, \"micro_step\": %lld, \"samples\": %lld, \"loss\": %.9g, "
                "\"lr\": %.9g, \"grad_norm\": %.9g, \"optimizer_step\": %d, \"skipped\": %d, \"time\": %.3f}\n",
                (long long)step, (long long)micro, (long long)samples, loss, lr, optimizer_stepped ? grad_norm : 0.0,
                optimizer_stepped, skipped, wall_time());
        fflush(p->metrics);
    }
    if (p->tb && optimizer_stepped) {
        tb_scalar(p->tb, "train/loss", step, loss);
        tb_scalar(p->tb, "train/lr", step, lr);
        tb_scalar(p->tb, "train/grad_norm", step, grad_norm);
        tb_scalar(p->tb, "train/samples_per_second", step, rate);
    }
    if (p->tty) {
        int width = 30, done = p->total > 0 ? (int)((double)width * (double)step / (double)p->total) : 0;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < done ? '#' : '.';
        bar[width] = '\0';
        fprintf(p->out, "\r[%s] %lld/%lld loss %.4g lr %.3g %.1f samples/s ETA %s\033[K", bar, (long long)step,
                (long long)p->total, loss, lr, rate, eta);
        fflush(p->out);
    } else if (now - p->last_print >= 5.0 || (optimizer_stepped && step == p->total)) {
        fprintf(p->out, "step %lld/%lld micro %lld loss %.6g lr %.4g grad_norm %.4g %.1f samples/s ETA %s%s\n",
                (long long)step, (long long)p->total, (long long)micro, loss, lr, grad_norm, rate, eta,
                skipped ? " (skipped: non-finite)" : "");
        p->last_print = now;
    }
}

void progress_note(progress *p, const char *fmt, ...)
{
    if (p->tty) fprintf(p->out, "\r\033[K");
    va_list ap;
    va_start(ap, fmt);
    vfprintf(p->out, fmt, ap);
    va_end(ap);
    fputc('\n', p->out);
}

void progress_metric(progress *p, const char *event, int64_t step, int n, const char *const *keys, const double *values)
{
    for (int i = 0; p->tb && i < n; i++) {
        char tag[256];
        snprintf(tag, sizeof tag, "%s/%s", event, keys[i]);
        tb_scalar(p->tb, tag, step, values[i]);
    }
    if (!p->metrics) return;
    fprintf(p->metrics, "{\"event\": \"%s\", \"step\": %lld", event, (long long)step);
    for (int i = 0; i < n; i++) fprintf(p->metrics, ", \"%s\": %.9g", keys[i], values[i]);
    fprintf(p->metrics, ", \"time\": %.3f}\n", wall_time());
    fflush(p->metrics);
}

void progress_image(progress *p, const char *tag, int64_t step, const char *png_path, int height, int width)
{
    if (!p->tb) return;
    FILE *f = fopen(png_path, "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) tb_image(p->tb, tag, step, buf, (size_t)n, height, width);
    free(buf);
    fclose(f);
}

void progress_end(progress *p)
{
    if (p->tty) fputc('\n', p->out);
    if (p->metrics) fclose(p->metrics);
    p->metrics = NULL;
    tb_close(p->tb);
    p->tb = NULL;
}
