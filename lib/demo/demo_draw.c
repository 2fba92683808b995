/* The demo pictures: one shape (or stripes) of one colour on a plain background of
 * another, every choice drawn from Philox, and the caption that says what is drawn. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <lcmd/rng.h>

#include "core/error.h"
#include "demo/demo_internal.h"

#define DRAWS 8   /* uniforms per sample */

static size_t pick(float u, size_t n)
{
    size_t i = (size_t)(u * (float)n);
    return i < n ? i : n - 1;
}

lcmd_status demo_sample_draw(const lcmd_demo_data_options *o, uint64_t index, demo_sample *s)
{
    float u[DRAWS];
    int32_t resolution = o->resolution;
    LCMD_TRY(lcmd_rng_uniform(o->seed, index, 0, u, DRAWS));
    memset(s, 0, sizeof *s);
    s->shape = (demo_shape)pick(u[0], DEMO_SHAPE_COUNT);
    s->fg = pick(u[1], demo_color_count);
    /* any other colour for the background */
    s->bg = (s->fg + 1 + pick(u[2], demo_color_count - 1)) % demo_color_count;
    if (o->paired_colors) s->bg = (s->fg + 7) % demo_color_count;
    s->large = u[3] >= 0.5f;
    double R = resolution;
    /* small: radius R/8..R/5; large: R/4..R/3 */
    s->radius = s->large ? R / 4 + (R / 3 - R / 4) * u[4] : R / 8 + (R / 5 - R / 8) * u[4];
    /* the centre keeps the whole shape inside the picture */
    s->cx = s->radius + (R - 2 * s->radius) * u[5];
    s->cy = s->radius + (R - 2 * s->radius) * u[6];
    s->stripe_period = 2 + (int32_t)pick(u[7], (size_t)(resolution / 4 > 1 ? resolution / 4 : 1));
    s->stripe_vertical = u[4] < 0.5f;   /* stripes have no radius: reuse its draw */
    if (o->fixed_layout) {   /* what the caption says and nothing else */
        s->radius = s->large ? R / 3 : R / 6;
        s->cx = s->cy = R / 2;
        s->stripe_period = resolution / 8 > 2 ? resolution / 8 : 2;
        s->stripe_vertical = 1;
    }
    return LCMD_OK;
}

static int inside(const demo_sample *s, double x, double y)
{
    double dx = x - s->cx, dy = y - s->cy, r = s->radius;
    switch (s->shape) {
    case DEMO_CIRCLE:
        return dx * dx + dy * dy <= r * r;
    case DEMO_SQUARE:
        return fabs(dx) <= r && fabs(dy) <= r;
    case DEMO_TRIANGLE:
        /* apex up: the half width grows from 0 at the top to r at the bottom */
        return dy >= -r && dy <= r && fabs(dx) <= (dy + r) / 2;
    case DEMO_STRIPES:
    default: {
        int32_t t = (int32_t)(s->stripe_vertical ? x : y);
        return (t / s->stripe_period) % 2 == 0;
    }
    }
}

void demo_sample_render(const demo_sample *s, int32_t resolution, uint8_t *rgb)
{
    const uint8_t *fg = demo_colors[s->fg].rgb, *bg = demo_colors[s->bg].rgb;
    for (int32_t y = 0; y < resolution; y++)
        for (int32_t x = 0; x < resolution; x++) {
            /* pixel centres */
            const uint8_t *c = inside(s, x + 0.5, y + 0.5) ? fg : bg;
            memcpy(rgb + ((size_t)y * (size_t)resolution + (size_t)x) * 3, c, 3);
        }
}

void demo_sample_caption(const demo_sample *s, char *buf, size_t cap)
{
    const char *fg = demo_colors[s->fg].name, *bg = demo_colors[s->bg].name;
    const char *article = strchr("aeiou", bg[0]) ? "an" : "a";   /* "an orange background" */
    if (s->shape == DEMO_STRIPES)
        snprintf(buf, cap, "%s stripes on %s %s background", fg, article, bg);
    else
        snprintf(buf, cap, "a %s %s %s on %s %s background", s->large ? "large" : "small", fg,
                 demo_shape_names[s->shape], article, bg);
}
