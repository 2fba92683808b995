/* The command line of lcmd-generate. */
#ifndef LCMD_GENERATE_ARGS_H
#define LCMD_GENERATE_ARGS_H

#include <stdint.h>
#include <stdio.h>

typedef struct gen_args {
    const char *pipeline, *unet, *prompt, *negative_prompt, *output, *device;
    int teacher;
    int32_t num_inference_steps;
    int32_t original_inference_steps;   /* 0: the scheduler config's value */
    double guidance_scale;
    uint64_t seed;
    int32_t height, width, num_images, threads;
} gen_args;

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_BAD = 2 };

/* Parses argv into `a` (defaults for what is absent) and checks every value that needs
 * no model. On ARGS_BAD a one-line message naming the flag is on stderr. */
int parse_args(int argc, char **argv, gen_args *a);

/* The --help text. */
void print_usage(FILE *f);

#endif
