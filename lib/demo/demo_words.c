/* The demo captions' vocabulary: colours with the RGB they are drawn in, shapes, and
 * the word list the demo tokenizer turns into whole-word tokens. */
#include "demo/demo_internal.h"

const demo_color demo_colors[] = {
    {"red", {220, 30, 30}},     {"green", {30, 170, 60}},   {"blue", {30, 60, 220}},
    {"yellow", {240, 220, 40}}, {"purple", {130, 40, 170}}, {"orange", {245, 140, 20}},
    {"white", {250, 250, 250}}, {"black", {10, 10, 10}},    {"cyan", {40, 210, 220}},
    {"pink", {245, 150, 190}},  {"gray", {128, 128, 128}},  {"brown", {120, 70, 30}},
};
const size_t demo_color_count = sizeof demo_colors / sizeof demo_colors[0];

const char *const demo_shape_names[DEMO_SHAPE_COUNT] = {"circle", "square", "triangle", "stripes"};

/* the captions' own words first, then common prompt words so that a host's own
 * prompts in this style also tokenize to whole words */
const char *const demo_words[] = {
    "on", "background", "small", "large",
    "red", "green", "blue", "yellow", "purple", "orange", "white", "black", "cyan", "pink", "gray", "brown",
    "circle", "square", "triangle", "stripes",
    "the", "an", "of", "and", "with", "in", "photo", "picture", "image", "drawing", "simple", "shape",
    "big", "tiny", "left", "right", "top", "bottom", "center", "plain", "colorful", "bright", "dark",
};
const size_t demo_word_count = sizeof demo_words / sizeof demo_words[0];
